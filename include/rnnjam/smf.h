/* Standard MIDI Files: reader and writer.
 *
 * The reader parses formats 0, 1 and 2 into a flat list of timed channel
 * and tempo events per track; it never trusts a length from the file
 * beyond what the file holds (see RNJ_SMF_* limits) and reports malformed
 * input as "FILE: offset N: expected ...".
 * The writer turns notes into a format-1 file (tempo track + one note
 * track), 120 bpm, 480 ticks per quarter, written atomically.
 */
#ifndef RNNJAM_SMF_H
#define RNNJAM_SMF_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"
#include "notes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* (the event and file structures are defined by the smf module) */

typedef struct rnj_smf_write_opts_s {
  int program;  /* 0..127, General MIDI program (default 0: piano) */
  int velocity; /* 1..127, used for notes whose velocity is 0 (default 100) */
  int channel;  /* 0..15 (default 0) */
} rnj_smf_write_opts_t;

/* Defaults: program 0, velocity 100, channel 0. */
RNJ_EXTERN void rnj_smf_write_opts_init(rnj_smf_write_opts_t *opts);

/* Write `notes` (their start/end seconds, pitch and velocity) to `path` as a
 * format-1 SMF at 120 bpm and 480 ticks per quarter.  Atomic: a temporary
 * file in the same directory is fsynced and renamed over `path`.
 * `opts` may be NULL for the defaults. */
RNJ_EXTERN int rnj_smf_write_notes(const char *path, const rnj_note_t *notes,
                                   size_t n,
                                   const rnj_smf_write_opts_t *opts,
                                   char *err);

#ifdef __cplusplus
}
#endif
#endif
