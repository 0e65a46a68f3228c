/* Notes as the tutorial gets them from pretty_midi.
 *
 * A note is (pitch, start, end, step, duration) in seconds, with
 * step = start - previous start (0 for the first) and duration = end - start.
 * Notes read from a file also carry their onset and end in beats (quarter
 * notes): ticks / ticks-per-quarter, exact and tempo-free, for models that
 * count time in beats.  Files with SMPTE time division have no quarter
 * note; their beats are seconds * 2, as if at 120 bpm.
 * The rules (pretty_midi's, so that a model trained here and one trained by
 * the tutorial see the same data) are spelled out in src/notes.c and pinned
 * by tests/test-notes.c.
 */
#ifndef RNNJAM_NOTES_H
#define RNNJAM_NOTES_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rnj_smf_s;

typedef struct rnj_note_s {
  double start;    /* seconds */
  double end;      /* seconds */
  double step;     /* start - previous start; 0 for the first */
  double duration; /* end - start */
  uint8_t pitch;   /* 0..127 */
  uint8_t velocity;
  uint8_t channel;
  uint8_t program;
  /* Beats (quarter notes) from the start of the file; 0 when unknown.
   * Last, so that brace initializers of the fields above still work. */
  double start_beat; /* start tick / ticks per quarter */
  double end_beat;   /* end tick / ticks per quarter */
} rnj_note_t;

typedef struct rnj_notes_s {
  rnj_note_t *v; /* owned */
  size_t n;
  size_t cap;
} rnj_notes_t;

/* Which notes to take. */
#define RNJ_NOTES_ALL_INSTRUMENTS (-1)

/* A list holds at most this many notes (RNJ_ELIMIT past it), 235 MB;
 * the whole corpus has about 770,000.  It bounds what one bad file can
 * make a reader allocate. */
#define RNJ_NOTES_MAX ((size_t)4 << 20)

/* Zero a list (no allocation). */
RNJ_EXTERN void rnj_notes_init(rnj_notes_t *notes);

/* Release the notes and zero the list; safe twice and on a zeroed list. */
RNJ_EXTERN void rnj_notes_free(rnj_notes_t *notes);

/* Append one note (start/end set; step/duration are recomputed by
 * rnj_notes_finish).  The array grows geometrically.
 * Returns 0, RNJ_ENOMEM or RNJ_ELIMIT (RNJ_NOTES_MAX reached). */
RNJ_EXTERN int rnj_notes_push(rnj_notes_t *notes, const rnj_note_t *note);

/* Recompute step and duration of every note from start/end, in order
 * (beats have no step or duration fields: they are differences of
 * start_beat and end_beat, which this leaves alone). */
RNJ_EXTERN void rnj_notes_finish(rnj_notes_t *notes);

/* Extract notes from a parsed file.  `instrument` is
 * RNJ_NOTES_ALL_INSTRUMENTS (every non-drum instrument, merged and sorted by
 * (start, pitch, end)) or the index of one instrument in pretty_midi's order
 * (stable-sorted by start).  An instrument is (program, channel, track);
 * instruments are counted in the order their first note ends, drums
 * (channel 9, MIDI channel 10) included.  Each note carries its
 * instrument's channel and program, and its beats (rnj_smf_beats of its
 * ticks); step and duration are filled in.
 * `notes` must be initialized; its contents are replaced (its buffer is
 * reused) and on failure it is left empty.  Not RT-safe.
 * Returns 0, RNJ_EINVAL (instrument < -1), RNJ_ENOTFOUND (no such
 * instrument, `err` says how many there are), RNJ_ELIMIT (more than
 * RNJ_NOTES_MAX notes) or RNJ_ENOMEM. */
RNJ_EXTERN int rnj_notes_from_smf(rnj_notes_t *notes,
                                  const struct rnj_smf_s *smf, int instrument,
                                  char *err);

/* Read `path` and extract its notes (rnj_smf_read_file + the above);
 * returns the errors of both, with `err` naming `path`. */
RNJ_EXTERN int rnj_notes_from_file(rnj_notes_t *notes, const char *path,
                                   int instrument, char *err);

#ifdef __cplusplus
}
#endif
#endif
