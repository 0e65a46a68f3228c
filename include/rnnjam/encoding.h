/* How the v2 model ("rnnjam-lstm-v2") sees a note, and what its heads mean.
 *
 * One place for the contract that the trainer, the tools and inference
 * share (docs: the model card's "encoding"):
 *
 *   time is in beats (quarter notes); per note
 *     step     = onset - previous onset (0 for a file's first note)
 *     duration = end - onset
 *     phase    = llround(onset * 24) mod 24, in 0..23
 *   input rows of lstm.kernel [186, 4H], one per input:
 *     0..127    pitch one-hot
 *     128       log1p(min(max(step, 0), 64))
 *     129       log1p(min(max(duration, 0), 64))
 *     130..153  phase one-hot
 *     154..185  velocity one-hot (32 bins of 4)
 *   heads on h:
 *     pitch     128  MIDI pitch
 *     step       98  bin k = k/24 beat (k = 0..96); bin 97 "over 4 beats",
 *                    centre 6 beats
 *     duration  102  bin k = (k+1)/24 beat (k = 0..95); bins 96..101 =
 *                    5, 6, 8, 10, 12, 16 beats
 *     velocity   32  bin b = velocities 4b..4b+3, centre 4b+2
 *
 * Everything here is pure arithmetic: RT-safe, thread-safe, no allocation.
 */
#ifndef RNNJAM_ENCODING_H
#define RNNJAM_ENCODING_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RNJ_ENCODING_PITCHES 128
#define RNJ_ENCODING_PHASES 24        /* positions per beat */
#define RNJ_ENCODING_STEP_BINS 98
#define RNJ_ENCODING_DURATION_BINS 102
#define RNJ_ENCODING_VELOCITY_BINS 32
#define RNJ_ENCODING_TIME_MAX 64.0    /* beats: the time inputs' clamp */

/* Rows of lstm.kernel, in order. */
#define RNJ_ENCODING_ROW_PITCH 0      /* + pitch */
#define RNJ_ENCODING_ROW_STEP 128
#define RNJ_ENCODING_ROW_DURATION 129
#define RNJ_ENCODING_ROW_PHASE 130    /* + phase */
#define RNJ_ENCODING_ROW_VELOCITY 154 /* + velocity bin */
#define RNJ_ENCODING_INPUT 186        /* rows in all */

/* The step bin of a step of `beats`: k = llround(max(beats, 0) * 24),
 * k <= 96 -> k, else 97.  NaN counts as 0, +Inf as "over 4 beats". */
RNJ_EXTERN int rnj_encoding_step_bin(double beats);

/* The duration bin of a duration of `beats`: k = llround(max(beats, 0) *
 * 24), at least 1; k <= 96 -> k - 1; else the coarse bin nearest in log
 * scale (boundaries at the geometric means of neighbouring centres:
 * sqrt(5*6), sqrt(6*8), ...).  NaN counts as 0. */
RNJ_EXTERN int rnj_encoding_duration_bin(double beats);

/* min(max(velocity, 0), 127) / 4: 0..31. */
RNJ_EXTERN int rnj_encoding_velocity_bin(int velocity);

/* llround(onset * 24) mod 24, non-negative, for an onset in beats from any
 * origin.  An onset that is not finite, or so large that 24 * onset is no
 * longer exact in a double (|onset| >= 2^48 beats), has phase 0. */
RNJ_EXTERN int rnj_encoding_phase(double onset_beats);

/* log1p(min(max(beats, 0), 64)): the step and duration inputs.  NaN gives
 * 0. */
RNJ_EXTERN float rnj_encoding_time_input(double beats);

/* A bin's centre: what sampling that bin plays (beats; a velocity for the
 * velocity head).  A bin out of range is clamped into range. */
RNJ_EXTERN double rnj_encoding_step_centre(int bin);
RNJ_EXTERN double rnj_encoding_duration_centre(int bin);
RNJ_EXTERN int rnj_encoding_velocity_centre(int bin); /* 4b+2, in 1..127 */

/* The checkpoint metadata's spelling of the step or duration centres:
 * comma-separated, "%.9g" each (e.g. "0,0.0416666667,..." ).  Writes at
 * most `len` bytes (NUL included) to `buf`; returns the length the whole
 * string needs (without the NUL), like snprintf. */
RNJ_EXTERN int rnj_encoding_step_bins_str(char *buf, int len);
RNJ_EXTERN int rnj_encoding_duration_bins_str(char *buf, int len);

#ifdef __cplusplus
}
#endif
#endif
