/* Tempo and beat phase from a player's onsets.
 *
 * A pure function: onset times in, a tempo (beats = quarter notes per
 * minute), a time on which a beat falls and a confidence out.  The beat
 * clock calls it at the end of each phrase when it follows the player; a
 * test or a tool can call it offline.
 *
 * The method (src/tempo.c has the details and the reasons for each
 * constant):
 *   1. onsets closer than RNJ_TEMPO_CHORD apart are one event (a chord, a
 *      rolled chord, a grace note);
 *   2. the inter-onset intervals between every pair of events, from
 *      RNJ_TEMPO_MIN_IOI to RNJ_TEMPO_MAX_IOI, are clustered as in Dixon
 *      (2001), each interval joining the cluster whose centre is nearest
 *      (by absolute distance: pretty_midi's estimate_tempi takes the most
 *      negative difference instead) within RNJ_TEMPO_CLUSTER_WIDTH;
 *   3. each cluster is scored by its own size plus the sizes of the
 *      clusters at integer ratios to it (Dixon's metrical support);
 *   4. the best clusters are folded by octaves (factors of 2) into
 *      RNJ_TEMPO_MIN_BPM..RNJ_TEMPO_MAX_BPM; of those whose 8th-note grid
 *      explains nearly as many intervals as the best, the slowest wins
 *      (near equals of it: the one nearest in log-tempo to the caller's
 *      prior, else RNJ_TEMPO_PREFERRED_BPM);
 *   5. an 8th-note grid (half that beat) is fitted to the events: the
 *      phase that puts most events near the grid, then a least-squares
 *      fit of period and phase to the events it matched; the beat is the
 *      half of the 8th grid that holds more events.
 * Octave errors (half or double the true tempo) cannot be told apart
 * from the onsets alone when both lie in the range: 8th notes at 80 bpm
 * are quarter notes at 160.  The slowest reading is taken, whose 8th
 * notes are the player's shortest common notes: the grid an answer
 * quantized to 1/8 should share with the player (at 160 it would fall on
 * the player's 16ths, between the notes it plays).  A phrase without 8th
 * notes is read at half its tempo (where that is in the range): its 8th
 * grid is then the player's quarters, still the player's grid.
 *
 * RT-safe: no allocation (its scratch is on the stack, under 12 KiB), no
 * lock, no I/O; bounded work (at most RNJ_TEMPO_MAX_ONSETS onsets, so at
 * most 2016 intervals).
 */
#ifndef RNNJAM_TEMPO_H
#define RNNJAM_TEMPO_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many onsets are used (the latest ones). */
#define RNJ_TEMPO_MAX_ONSETS 64
/* Fewer events than this (after merging chords) give RNJ_ENODATA: five
 * events make ten intervals, the least that shows a pulse. */
#define RNJ_TEMPO_MIN_EVENTS 5
/* The range the beat is folded into, bpm: where musicians tap a beat
 * (the range; a factor of 3, so one or two octaves of any pulse
 * fall inside). */
#define RNJ_TEMPO_MIN_BPM 60.0
#define RNJ_TEMPO_MAX_BPM 180.0
/* The tempo preferred between near equals (the same beat from different
 * clusters) when there is no prior: the default tempo of MIDI files,
 * sequencers and of rnnjam's fixed clock. */
#define RNJ_TEMPO_PREFERRED_BPM 120.0
/* Onsets closer than this are one event, s (a chord, a rolled chord). */
#define RNJ_TEMPO_CHORD 0.050
/* Intervals considered, s: Dixon's 70 ms .. 2.5 s. */
#define RNJ_TEMPO_MIN_IOI 0.070
#define RNJ_TEMPO_MAX_IOI 2.5
/* Intervals this close share a cluster, s (Dixon's and pretty_midi's
 * 25 ms). */
#define RNJ_TEMPO_CLUSTER_WIDTH 0.025

typedef struct rnj_tempo_s {
  double bpm;        /* beats (quarter notes) per minute, within
                        RNJ_TEMPO_MIN_BPM..RNJ_TEMPO_MAX_BPM */
  double beat_time;  /* s: a time on which a beat falls (near the last
                        onset) */
  double confidence; /* 0..1: the share of events on the fitted 8th-note
                        grid (within 12 % of an 8th) */
  int events;        /* events (merged onsets) used */
} rnj_tempo_t;

/* Estimate tempo and beat phase from `n` onset times (s, non-decreasing;
 * only the last RNJ_TEMPO_MAX_ONSETS are used).  `prior_bpm` > 0 is the
 * tempo the caller already believes: of candidates for the same beat, the
 * one nearest to it wins (not of octaves: see above); <= 0 prefers
 * RNJ_TEMPO_PREFERRED_BPM.
 * Returns 0 with `out` filled, RNJ_ENODATA (too few events or no pulse
 * found; `out` zeroed) or RNJ_EINVAL (NULL, NaN or decreasing onsets).
 * RT-safe. */
RNJ_EXTERN int rnj_tempo_estimate(const double *onsets, int n,
                                  double prior_bpm, rnj_tempo_t *out);

#ifdef __cplusplus
}
#endif
#endif
