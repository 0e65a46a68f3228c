/* Sampling the next note from the model's outputs.
 *
 * Pitch is drawn from softmax(logits / temperature), optionally restricted
 * to the top-k logits and to a pitch range; step and duration are clamped
 * at 0, as in the tutorial.  The generator is per-sampler state (no
 * globals), seedable: the same seed gives the same notes.
 */
#ifndef RNNJAM_SAMPLE_H
#define RNNJAM_SAMPLE_H

#include <stdint.h>

#include "common.h"
#include "lstm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A small, fast, seedable generator (xoshiro256** seeded by splitmix64). */
typedef struct rnj_rng_s {
  uint64_t s[4];
} rnj_rng_t;

/* Fill the state from `seed` (any value, 0 included).  RT-safe. */
RNJ_EXTERN void rnj_rng_seed(rnj_rng_t *rng, uint64_t seed);
/* Uniform 64-bit value.  RT-safe. */
RNJ_EXTERN uint64_t rnj_rng_next(rnj_rng_t *rng);
/* Uniform double in [0, 1).  RT-safe. */
RNJ_EXTERN double rnj_rng_uniform(rnj_rng_t *rng);

typedef struct rnj_sampler_s {
  float temperature; /* > 0; the tutorial generates with 2.0 */
  int top_k;         /* 0 = all 128 pitches */
  int pitch_min;     /* inclusive, 0..127 */
  int pitch_max;     /* inclusive, pitch_min..127 */
  rnj_rng_t rng;
} rnj_sampler_t;

/* Defaults: temperature 1, no top-k, pitches 0..127, seeded with `seed`.
 * RT-safe. */
RNJ_EXTERN void rnj_sampler_init(rnj_sampler_t *sampler, uint64_t seed);

/* Check the settings; RNJ_EINVAL with `err` naming the bad field. */
RNJ_EXTERN int rnj_sampler_check(const rnj_sampler_t *sampler, char *err);

/* Draw a pitch from `logits` (RNJ_MODEL_PITCHES of them): the candidates
 * are the pitches in [pitch_min, pitch_max]; with top_k > 0 only the top_k
 * largest logits among them (equal logits: the lower pitch first); then
 * softmax(logits / temperature) over those.  -inf and NaN logits are never
 * drawn; with no finite logit, or temperature <= 0, the result is the best
 * candidate (the lowest one if there is none).  Settings that
 * rnj_sampler_check would reject are clamped into range.  Uses exactly one
 * number of `sampler`'s generator per call.  Returns a pitch 0..127.
 * RT-safe: no allocation, bounded time. */
RNJ_EXTERN int rnj_sample_pitch(rnj_sampler_t *sampler, const float *logits);

/* The next note from one step's outputs: pitch sampled, step and duration
 * clamped at 0.  RT-safe. */
RNJ_EXTERN void rnj_sample_note(rnj_sampler_t *sampler,
                                const rnj_lstm_out_t *out, int *pitch,
                                float *step, float *duration);

#ifdef __cplusplus
}
#endif
#endif
