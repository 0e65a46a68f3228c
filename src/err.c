/* Error codes to text, from the one table in err.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rnnjam/err.h"

const char *rnj_strerror(int code) {
  switch (code) {
#define XX(name, value, msg)                                                  \
  case RNJ_##name:                                                            \
    return msg;
    RNJ_ERRNO_MAP(XX)
#undef XX
  }
  if (code == 0)
    return "success";
  if (code < 0 && code > -1000)
    return strerror(-code);
  return "unknown error";
}

const char *rnj_err_name(int code) {
  switch (code) {
#define XX(name, value, msg)                                                  \
  case RNJ_##name:                                                            \
    return "RNJ_" #name;
    RNJ_ERRNO_MAP(XX)
#undef XX
  }
  if (code == 0)
    return "OK";
  if (code < 0 && code > -1000) {
    const char *n = strerrorname_np(-code);
    return n ? n : "EUNKNOWN";
  }
  return "EUNKNOWN";
}

int rnj_errorf(char *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, RNJ_ERR_LEN, fmt, ap);
    va_end(ap);
  }
  return code;
}
