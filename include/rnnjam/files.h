/* Collecting MIDI files from command-line arguments.
 *
 * Each argument is a file (taken as it is, whatever its name) or a folder,
 * searched recursively for *.mid / *.midi (any case).  Folder contents are
 * sorted by name so every run (and every training seed) sees the same order.
 */
#ifndef RNNJAM_FILES_H
#define RNNJAM_FILES_H

#include <stddef.h>

#include "common.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds: a folder tree deeper or larger than this is refused. */
#define RNJ_FILES_MAX 1000000
#define RNJ_FILES_MAX_DEPTH 64

typedef struct rnj_files_s {
  char **paths; /* owned, each owned */
  size_t n;
  size_t cap;
} rnj_files_t;

/* Zero a list (no allocation). */
RNJ_EXTERN void rnj_files_init(rnj_files_t *files);

/* Release the list and its strings.  Safe twice. */
RNJ_EXTERN void rnj_files_free(rnj_files_t *files);

/* Append the MIDI files named by `args` (files or folders).  A missing
 * path is an error naming it (-ENOENT); an unreadable folder likewise.
 * Returns 0 or a negative code with `err` set. */
RNJ_EXTERN int rnj_files_collect(rnj_files_t *files, char *const *args,
                                 int nargs, char *err);

#ifdef __cplusplus
}
#endif
#endif
