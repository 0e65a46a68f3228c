/* Music metrics: how a continuation sits against the notes it continues.
 *
 * Pure functions over note lists, in seconds (each note's start, end,
 * pitch and velocity; a caller with beats turns them into seconds through
 * the file's tempo map first).  They answer the questions of
 * `rnnjam eval --music`: is the continuation in the seed's key, on the
 * seed's beat grid, at the seed's tempo, with chords, pitch classes,
 * dynamics and melodic steps like music?
 *
 * Definitions (each pinned by tests/test-music.c):
 *   - key: the Krumhansl-Kessler major or minor profile (24 candidates)
 *     with the highest Pearson correlation with the notes' pitch-class
 *     histogram, each note weighted by its duration in seconds (by one
 *     where every duration is 0).  Ties (correlations within 1e-12) go
 *     to the first candidate in the order C major, C# major, ..., B major,
 *     C minor, ..., B minor.
 *   - scale: major {0,2,4,5,7,9,11} above the tonic; minor is natural
 *     minor {0,2,3,5,7,8,10}.
 *   - in-key share: the share of notes (counted, not weighted) whose pitch
 *     class is in the key's scale.
 *   - steps: onset minus the previous onset; a continuation's first step
 *     is from the last onset of the notes it continues.  A step is zero
 *     when it is exactly 0 or below `zero` seconds: for notes read from a
 *     file pass 0 (one tick apart is not a chord), for generated seconds
 *     1e-3 (RNJ_MUSIC_ZERO_S).
 *   - grid share: the share of onsets within +-tol seconds (inclusive) of
 *     a grid anchored at `anchor` and spaced by `period` (an 8th at the
 *     seed's tempo is 30 / bpm seconds, a 16th 15 / bpm), extended both
 *     ways without end.  The seed's grid is anchored on the beat: at the
 *     seed's last onset less its offset past the beat it falls in (from
 *     the file's ticks), so a seed that ends a 16th after a beat does not
 *     shift the 8th grid off the beat.
 *   - tempo ratio: the median non-zero step of the continuation over the
 *     seed's (the median of an even count is the mean of the middle two).
 *   - chord share: the share of zero steps.
 *   - pitch classes: how many of the 12 occur.
 *   - velocity spread: population standard deviation and range
 *     (max - min) of the velocities; velocity 0 means "not given" (the
 *     tutorial's model has none) and such notes are left out.
 *   - small intervals: the share of successive notes (in list order, the
 *     first against the seed's last pitch) at most a fifth (7 semitones)
 *     apart, chord notes included.
 * A share or ratio with nothing to count is NaN.
 */
#ifndef RNNJAM_MUSIC_H
#define RNNJAM_MUSIC_H

#include <stddef.h>

#include "common.h"
#include "err.h"
#include "notes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The zero step of generated seconds; 25 ms the onset tolerance. */
#define RNJ_MUSIC_ZERO_S 1e-3
#define RNJ_MUSIC_GRID_TOL_S 0.025

typedef struct rnj_key_s {
  int tonic; /* pitch class of the tonic, 0 (C) .. 11 (B) */
  int minor; /* 0 major, 1 minor */
  double r;  /* the correlation that chose it, -1..1 */
} rnj_key_t;

/* The best of the 24 keys for a pitch-class histogram `pc` (weights >= 0,
 * index 0 = C).  Returns 0, or RNJ_EINVAL (`key` untouched) when the
 * histogram is flat (every weight equal, nothing to correlate: no
 * notes, or all 12 classes alike) or holds a negative or non-finite
 * weight. */
RNJ_EXTERN int rnj_music_key_of(const double pc[12], rnj_key_t *key);

/* The key of `n` notes (their durations weight the histogram).  Returns
 * as rnj_music_key_of. */
RNJ_EXTERN int rnj_music_key(const rnj_note_t *v, size_t n, rnj_key_t *key);

/* 1 if `pitch` (any MIDI pitch) is in the scale of `key`, else 0. */
RNJ_EXTERN int rnj_music_in_scale(const rnj_key_t *key, int pitch);

/* The name of a key, e.g. "C major", "F# minor" (static storage). */
RNJ_EXTERN const char *rnj_music_key_name(const rnj_key_t *key);

/* Shares, as defined above; NaN when n is 0. */
RNJ_EXTERN double rnj_music_in_key_share(const rnj_note_t *v, size_t n,
                                         const rnj_key_t *key);
RNJ_EXTERN double rnj_music_grid_share(const rnj_note_t *v, size_t n,
                                       double anchor, double period,
                                       double tol);
/* `prev_start` is the onset before v[0], or NaN if none (then v[0] has no
 * step and n - 1 steps count). */
RNJ_EXTERN double rnj_music_chord_share(const rnj_note_t *v, size_t n,
                                        double prev_start, double zero);
/* `prev_pitch` is the pitch before v[0], or -1 if none. */
RNJ_EXTERN double rnj_music_small_interval_share(const rnj_note_t *v,
                                                 size_t n, int prev_pitch,
                                                 int max_interval);

/* The median non-zero step into *out (NaN if there is none).  Returns 0
 * or RNJ_ENOMEM (it sorts a copy of the steps). */
RNJ_EXTERN int rnj_music_median_step(const rnj_note_t *v, size_t n,
                                     double prev_start, double zero,
                                     double *out);

/* How many pitch classes occur (0..12). */
RNJ_EXTERN int rnj_music_pitch_classes(const rnj_note_t *v, size_t n);

/* Standard deviation and range of the given velocities (NaN, NaN when no
 * note has one). */
RNJ_EXTERN void rnj_music_velocity_spread(const rnj_note_t *v, size_t n,
                                          double *sd, double *range);

/* ------------------------------------------------- seed and continuation */

/* What a seed gives a continuation to be measured against. */
typedef struct rnj_music_seed_s {
  rnj_key_t key;
  double last_start;  /* seconds: the first step's base */
  double grid_anchor; /* seconds: the beat at or before last_start (by its
                         start_beat), at `bpm`: the grids' anchor */
  int last_pitch;
  double bpm;         /* the tempo in force at last_start */
  double median_step; /* seconds, over the seed's non-zero steps */
} rnj_music_seed_t;

/* Fill `seed` from its `n` notes (n >= 1; the last one's start_beat
 * places the beat), the tempo `bpm` at its last onset (> 0) and the zero
 * step of its notes (0 for a file).  Returns 0,
 * RNJ_EINVAL (no notes, bad bpm, or no key: see rnj_music_key_of) or
 * RNJ_ENOMEM. */
RNJ_EXTERN int rnj_music_seed_init(rnj_music_seed_t *seed,
                                   const rnj_note_t *v, size_t n, double bpm,
                                   double zero);

typedef struct rnj_music_stats_s {
  size_t n;           /* notes measured */
  double in_key;      /* in the seed's key */
  double grid8;       /* onsets on the seed's 8th grid */
  double grid16;      /* onsets on the seed's 16th grid */
  double tempo_ratio; /* median non-zero step / the seed's */
  double chords;      /* zero steps */
  double pitch_classes;
  double velocity_sd;
  double velocity_range;
  double small_intervals; /* successive notes <= a fifth apart */
} rnj_music_stats_t;

/* Measure `n` notes that continue `seed`: steps whose size is below
 * `zero` seconds count as zero, onsets within `tol` seconds of a grid
 * line are on it.  Returns 0 or RNJ_ENOMEM. */
RNJ_EXTERN int rnj_music_measure(rnj_music_stats_t *out,
                                 const rnj_music_seed_t *seed,
                                 const rnj_note_t *v, size_t n, double zero,
                                 double tol);

#ifdef __cplusplus
}
#endif
#endif
