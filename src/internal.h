/* Internals shared by the library's files; never installed, never exported.
 */
#ifndef RNNJAM_INTERNAL_H
#define RNNJAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "rnnjam/err.h"

/* All library allocation goes through these (see alloc.h). */
void *rnj__malloc(size_t size);
void *rnj__calloc(size_t count, size_t size);
void *rnj__realloc(void *ptr, size_t size);
void rnj__free(void *ptr);

/* Read the whole of `path` into a new buffer (free with rnj__free).
 * Files larger than `max_bytes` are refused with RNJ_ELIMIT before any
 * allocation.  A NUL byte is appended (not counted in *len) so text
 * parsers can use the buffer directly. */
int rnj__read_file(const char *path, size_t max_bytes, uint8_t **buf,
                   size_t *len, char *err);

/* Write the `iovcnt` pieces to `path` atomically: a temporary file beside
 * it, written in full, fsynced, renamed over `path`, then the directory
 * fsynced.  On any failure the temporary file is removed and `path` is
 * left as it was. */
int rnj__write_atomic(const char *path, const struct iovec *iov, int iovcnt,
                      char *err);

#endif
