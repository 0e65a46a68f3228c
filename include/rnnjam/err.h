/* Error codes and messages.
 *
 * A function that can fail returns 0 on success or a negative code.  Codes
 * from the system or from ALSA (which already return -errno) pass through
 * unchanged; rnnjam's own codes live below -1000 so they never collide.
 * Functions that fail for a reason a person must read also take a last
 * argument `char *err` of RNJ_ERR_LEN bytes (may be NULL) and fill it as
 * "what failed: why", naming the file, field or byte offset.
 */
#ifndef RNNJAM_ERR_H
#define RNNJAM_ERR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RNJ_ERR_LEN 512

/* One table generates the enum, rnj_strerror() and rnj_err_name(). */
#define RNJ_ERRNO_MAP(XX)                                                     \
  XX(EINVAL, -1001, "invalid argument")                                       \
  XX(ENOMEM, -1002, "out of memory")                                          \
  XX(EIO, -1003, "input/output error")                                        \
  XX(EFORMAT, -1004, "malformed file")                                        \
  XX(ELIMIT, -1005, "size limit exceeded")                                    \
  XX(ESHAPE, -1006, "wrong tensor shape")                                     \
  XX(ENOTFOUND, -1007, "not found")                                           \
  XX(ENODATA, -1008, "not enough data")                                       \
  XX(ENOSYS, -1009, "not implemented")                                        \
  XX(EINTR, -1010, "interrupted")

typedef enum {
#define XX(name, code, msg) RNJ_##name = (code),
  RNJ_ERRNO_MAP(XX)
#undef XX
} rnj_errno_t;

/* A static string describing `code` (an RNJ_E* code or a negative errno).
 * Never NULL; thread-safe. */
RNJ_EXTERN const char *rnj_strerror(int code);

/* The symbolic name of `code`, e.g. "RNJ_EFORMAT" or "ENOENT". */
RNJ_EXTERN const char *rnj_err_name(int code);

/* printf-style helper for library code: writes into `err` (may be NULL,
 * then nothing happens), bounded by RNJ_ERR_LEN, and returns `code` so a
 * failure path reads `return rnj_errorf(err, RNJ_EFORMAT, "...", ...);`. */
RNJ_EXTERN int rnj_errorf(char *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
