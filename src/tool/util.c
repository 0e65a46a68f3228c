/* Helpers shared by the sub-commands: messages, option values, models. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

void tool_error(const char *fmt, ...) {
  va_list ap;
  fputs("rnnjam: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int parse_int(const char *opt, const char *s, long min, long max, long *out) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) {
    tool_error("%s: expected an integer from %ld to %ld, got '%s'", opt, min,
               max, s);
    return -1;
  }
  *out = v;
  return 0;
}

int parse_u64(const char *opt, const char *s, uint64_t *out) {
  char *end;
  unsigned long long v;
  errno = 0;
  v = strtoull(s, &end, 0);
  if (errno || end == s || *end || *s == '-') {
    tool_error("%s: expected a non-negative integer, got '%s'", opt, s);
    return -1;
  }
  *out = v;
  return 0;
}

int parse_double(const char *opt, const char *s, double min, double max,
                 double *out) {
  char *end;
  double v;
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= min && v <= max)) {
    tool_error("%s: expected a number from %g to %g, got '%s'", opt, min, max,
               s);
    return -1;
  }
  *out = v;
  return 0;
}

const char *default_model_path(void) {
  const char *env = getenv("RNNJAM_MODEL");
  if (env && *env)
    return env;
  return RNJ_PKGDATADIR "/models/default.safetensors";
}

int load_model(const char *path, rnj_model_t *model) {
  char err[RNJ_ERR_LEN];
  if (rnj_model_init(model) < 0) {
    tool_error("out of memory");
    return -1;
  }
  if (rnj_ckpt_load(model, path, err) < 0) {
    tool_error("%s", err);
    rnj_model_free(model);
    return -1;
  }
  return 0;
}

int load_net(const char *path, rnj_net_t **net, rnj_kernel_t kernel) {
  char err[RNJ_ERR_LEN];
  if (rnj_net_load(net, path, kernel, err) < 0) {
    tool_error("%s", err);
    return -1;
  }
  return 0;
}

int parse_kernel(const char *s, rnj_kernel_t *k) {
  if (rnj_kernel_parse(s, k) == 0)
    return 0;
  tool_error("--kernel: expected auto, portable, avx2, avx512 or "
             "avx512-f16, got '%s'",
             s);
  return -1;
}
