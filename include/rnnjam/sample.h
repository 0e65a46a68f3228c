/* Sampling the next note from the model's outputs.
 *
 * Pitch is drawn from softmax(logits / pitch_temperature), optionally
 * restricted to a pitch range, to the top-k logits and to the nucleus (the
 * smallest set of likeliest pitches whose probability reaches top_p).  A
 * categorical time or velocity head is drawn from softmax(logits /
 * time_temperature).  The tutorial's step and duration are clamped at 0.
 * The generator is per-sampler state (no globals), seedable: the same seed
 * gives the same notes.  net.h's rnj_net_sample uses all of this.
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
  /* > 0, for the pitch head; the tutorial generates with 2.0.  The older
   * name `temperature` is the same field. */
  union {
    float pitch_temperature;
    float temperature;
  };
  int top_k;              /* 0 = all 128 pitches */
  int pitch_min;          /* inclusive, 0..127 */
  int pitch_max;          /* inclusive, pitch_min..127 */
  rnj_rng_t rng;
  float time_temperature; /* > 0, for step, duration and velocity heads
                             (the tutorial's regressed times ignore it) */
  float top_p;            /* (0, 1]; 1 = no nucleus cut */
} rnj_sampler_t;

/* The sampling a model in beats (rnnjam-lstm-v2) plays best with: the
 * shipped model's settings that measured best on held-out piano and folk
 * files (models/README.md has the figures).  rnnjamd's configuration,
 * rnnjam generate and eval --music and the LV2 plugin start from them. */
#define RNJ_SAMPLE_BEATS_TEMPERATURE 0.5      /* the pitch */
#define RNJ_SAMPLE_BEATS_TIME_TEMPERATURE 0.5 /* step, duration, velocity */
#define RNJ_SAMPLE_BEATS_TOP_P 0.9            /* the pitch's nucleus */

/* Defaults: both temperatures 1 (the model's own distributions), no top-k,
 * no top-p, pitches 0..127, seeded with `seed`.  RT-safe. */
RNJ_EXTERN void rnj_sampler_init(rnj_sampler_t *sampler, uint64_t seed);

/* Check the settings; RNJ_EINVAL with `err` naming the bad field. */
RNJ_EXTERN int rnj_sampler_check(const rnj_sampler_t *sampler, char *err);

/* Draw a pitch from `logits` (RNJ_MODEL_PITCHES of them): the candidates
 * are the pitches in [pitch_min, pitch_max]; with top_k > 0 only the top_k
 * largest logits among them (equal logits: the lower pitch first); then
 * softmax(logits / temperature) over those; with top_p < 1 only the
 * likeliest of those whose probabilities add up to top_p or just past it
 * (equal ones: the lower pitch first), renormalised.  -inf and NaN logits are never
 * drawn; with no finite logit, or temperature <= 0, the result is the best
 * candidate (the lowest one if there is none).  Settings that
 * rnj_sampler_check would reject are clamped into range.  Uses exactly one
 * number of `sampler`'s generator per call.  Returns a pitch 0..127.
 * RT-safe: no allocation, bounded time. */
RNJ_EXTERN int rnj_sample_pitch(rnj_sampler_t *sampler, const float *logits);

/* Draw a bin from `n` logits (1..128) at `temperature`:
 * softmax(logits / temperature), -inf and NaN never drawn; with no finite
 * logit or temperature <= 0 (or NaN), the lowest bin of the largest logit
 * (0 if none).  Uses exactly one number of `rng` per call.  Returns
 * 0..n-1.  RT-safe: no allocation, bounded time. */
RNJ_EXTERN int rnj_sample_categorical(rnj_rng_t *rng, const float *logits,
                                      int n, float temperature);

/* The next note from one step's outputs: pitch sampled, step and duration
 * clamped at 0.  RT-safe. */
RNJ_EXTERN void rnj_sample_note(rnj_sampler_t *sampler,
                                const rnj_lstm_out_t *out, int *pitch,
                                float *step, float *duration);

#ifdef __cplusplus
}
#endif
#endif
