/* net: "the next note", whatever the model.
 *
 * One interface over every kind of model (model.h): the tutorial's LSTM
 * (time in seconds, pitch logits and two regressed times) and the v2 model
 * (time in beats, four categorical heads).  The engine, the tools, the
 * trainer's evaluation and a plugin use only this; nothing outside the
 * model's own modules asks which kind it has.
 *
 *   rnj_net_t        the model built for inference (weights repacked for
 *                    the kernel); immutable once built, so any number of
 *                    threads may share one.
 *   rnj_net_state_t  one stream's state (h, c, the last onset fed);
 *                    caller-allocated, fixed size for any model.
 *   rnj_net_dist_t   the next note's distributions: the heads' outputs on
 *                    a state; caller-allocated.
 *   rnj_net_note_t   a note in the model's time unit.
 *
 * A stream: rnj_net_reset, then rnj_net_feed for each note as it is known,
 * rnj_net_predict for the distributions, rnj_net_sample for a note drawn
 * from them (which the caller feeds back when it is played).  A window:
 * rnj_net_window (reset + n feeds + predict), what the models were trained
 * on.  Everything from reset to sample is RT-safe: no allocation, no lock,
 * no I/O, a fixed amount of work for a given model.
 */
#ifndef RNNJAM_NET_H
#define RNNJAM_NET_H

#include <stddef.h>

#include "common.h"
#include "encoding.h"
#include "lstm.h"
#include "model.h"
#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest hidden size of any kind (the state's arrays). */
#define RNJ_NET_HIDDEN_MAX 512

/* The logits of every categorical head, one after the other, in
 * rnj_net_dist_t.logits (a head a model does not have is left as it
 * was). */
#define RNJ_NET_PITCH_AT 0
#define RNJ_NET_STEP_AT RNJ_ENCODING_PITCHES                     /* 128 */
#define RNJ_NET_DURATION_AT (RNJ_NET_STEP_AT + RNJ_ENCODING_STEP_BINS) /* 226 */
#define RNJ_NET_VELOCITY_AT \
  (RNJ_NET_DURATION_AT + RNJ_ENCODING_DURATION_BINS)             /* 328 */
#define RNJ_NET_LOGITS_USED \
  (RNJ_NET_VELOCITY_AT + RNJ_ENCODING_VELOCITY_BINS)             /* 360 */
/* Room for whole panels of 64 (the kernels write 64 at a time). */
#define RNJ_NET_LOGITS 384

typedef enum {
  RNJ_NET_SECONDS = 0, /* the tutorial's model */
  RNJ_NET_BEATS = 1    /* quarter notes (v2) */
} rnj_net_unit_t;

typedef enum {
  RNJ_NET_HEAD_PITCH = 0,
  RNJ_NET_HEAD_STEP = 1,
  RNJ_NET_HEAD_DURATION = 2,
  RNJ_NET_HEAD_VELOCITY = 3,
  RNJ_NET_HEADS = 4
} rnj_net_head_t;

/* A note, times in the model's unit (rnj_net_unit). */
typedef struct rnj_net_note_s {
  double onset;    /* absolute, from any origin the caller keeps (v2 takes
                      the beat phase from it) */
  double step;     /* onset - the previous note's onset, >= 0: given by the
                      caller, who may clamp or rebase it */
  double duration; /* >= 0 */
  int pitch;       /* 0..127 */
  int velocity;    /* 1..127; 0 where none is known or predicted */
} rnj_net_note_t;

/* One stream's state.  Fields are the library's; read them only to
 * inspect (tests compare h and c with a reference). */
typedef struct rnj_net_state_s {
  float h[RNJ_NET_HIDDEN_MAX]; /* (hidden) */
  float c[RNJ_NET_HIDDEN_MAX]; /* (hidden) */
  double onset; /* onset of the last note fed (0 after a reset) */
  long fed;     /* notes fed since the reset */
} rnj_net_state_t;

/* The heads' outputs for the next note. */
typedef struct rnj_net_dist_s {
  /* (RNJ_NET_LOGITS) logits of the categorical heads at RNJ_NET_*_AT:
   * pitch (both kinds), step, duration and velocity (v2) */
  float logits[RNJ_NET_LOGITS];
  float step;     /* the tutorial's regressed step, s (unclamped) */
  float duration; /* the tutorial's regressed duration, s (unclamped) */
  double onset;   /* onset of the last note fed: a sampled note's onset is
                     this + its step */
} rnj_net_dist_t;

/* Per-head losses of one true next note under a dist (rnj_net_loss). */
typedef struct rnj_net_loss_s {
  double total;    /* the loss the kind was trained on */
  double pitch;    /* cross-entropy, nats */
  double step;     /* v2: cross-entropy of the step bin; tutorial: the
                      tutorial's mse with positive pressure, s^2 */
  double duration; /* likewise */
  double velocity; /* v2: cross-entropy; tutorial: 0 (no such head) */
} rnj_net_loss_t;

typedef struct rnj_net_s rnj_net_t; /* opaque; see rnj_net_new */

/* Build the inference form of `model` (copied; it may be freed after),
 * with the SIMD `kernel` (RNJ_KERNEL_AUTO normally).  Returns 0, RNJ_EINVAL
 * (NULL or unknown model, unknown kernel), RNJ_ENOSYS (a kernel the CPU
 * lacks, or RNJ_KERNEL_AVX512_F16 for the tutorial's model), RNJ_ELIMIT
 * (RNJ_KERNEL_AVX512_F16 and a weight it would keep as a half is 65520 or
 * more in magnitude) or RNJ_ENOMEM.  Not RT-safe.  *out is released with
 * rnj_net_delete.
 *
 * Exactness: the float kernels compute the model to float rounding.
 * RNJ_KERNEL_AVX512_F16, which AUTO picks for a v2 model where the CPU
 * has AVX-512F and F16C (AUTO falls back to RNJ_KERNEL_AVX512 for a model
 * it cannot hold), keeps the weights of the even rows of h (recurrent
 * kernel and heads) as IEEE halves: each such weight w moves by at most
 * 2^-11 |w|, and a gate sum or logit by at most 2^-11 sum |w h| over
 * those rows; sums, state and nonlinearities stay float. */
RNJ_EXTERN int rnj_net_new(rnj_net_t **out, const rnj_model_t *model,
                           rnj_kernel_t kernel);

/* Load the checkpoint at `path` and build it (rnj_ckpt_load +
 * rnj_net_new); `err` says what went wrong, naming `path`.  Not RT-safe. */
RNJ_EXTERN int rnj_net_load(rnj_net_t **out, const char *path,
                            rnj_kernel_t kernel, char *err);

/* Release what rnj_net_new made.  NULL is fine. */
RNJ_EXTERN void rnj_net_delete(rnj_net_t *net);

/* What the model is.  All thread-safe; strings static. */
RNJ_EXTERN rnj_net_unit_t rnj_net_unit(const rnj_net_t *net);
RNJ_EXTERN int rnj_net_seq_length(const rnj_net_t *net);
RNJ_EXTERN int rnj_net_hidden(const rnj_net_t *net);
RNJ_EXTERN const char *rnj_net_format(const rnj_net_t *net);
RNJ_EXTERN rnj_kernel_t rnj_net_kernel(const rnj_net_t *net);
/* Bins of a categorical head (0 for a head the model does not have, or
 * has as a regression: the tutorial's step and duration). */
RNJ_EXTERN int rnj_net_head_size(const rnj_net_t *net, rnj_net_head_t head);
/* 1 if the model predicts velocity. */
RNJ_EXTERN int rnj_net_has_velocity(const rnj_net_t *net);

/* Zero the state.  RT-safe. */
RNJ_EXTERN void rnj_net_reset(const rnj_net_t *net, rnj_net_state_t *state);

/* One step on `note`: the recurrent state takes it in.  RT-safe. */
RNJ_EXTERN void rnj_net_feed(const rnj_net_t *net, rnj_net_state_t *state,
                             const rnj_net_note_t *note);

/* The heads on the state into `dist`.  RT-safe. */
RNJ_EXTERN void rnj_net_predict(const rnj_net_t *net,
                                const rnj_net_state_t *state,
                                rnj_net_dist_t *dist);

/* Window mode: reset `state` (scratch the caller owns), feed the n notes,
 * predict.  RT-safe; n bounds the work. */
RNJ_EXTERN void rnj_net_window(const rnj_net_t *net, rnj_net_state_t *state,
                               const rnj_net_note_t *notes, int n,
                               rnj_net_dist_t *dist);

/* Draw the next note from `dist` with `sampler`'s settings and generator:
 * for v2 the step, duration and velocity bins at the time temperature
 * (their centres), then the pitch; for the tutorial the pitch, with step
 * and duration clamped at 0 and velocity 0.  out->onset = dist->onset +
 * out->step.  RT-safe. */
RNJ_EXTERN void rnj_net_sample(const rnj_net_t *net,
                               const rnj_net_dist_t *dist,
                               rnj_sampler_t *sampler,
                               rnj_net_note_t *out);

/* The loss of the true next note `note` under `dist`, per head and as the
 * kind was trained (v2: CE(pitch) + 0.5 (CE(step) + CE(duration) +
 * CE(velocity)) of the note's bins; tutorial: 0.05 CE(pitch) + mse_pp of
 * step and duration).  In double: thread-safe and RT-safe. */
RNJ_EXTERN void rnj_net_loss(const rnj_net_t *net, const rnj_net_dist_t *dist,
                             const rnj_net_note_t *note,
                             rnj_net_loss_t *loss);

/* log p of each bin of categorical `head` at `temperature` (> 0; 1 is the
 * model's own) into out[0 .. rnj_net_head_size - 1]; returns that size
 * (0: no such head, nothing written).  For plots and the trainer's
 * evaluation.  RT-safe. */
RNJ_EXTERN int rnj_net_log_probs(const rnj_net_t *net,
                                 const rnj_net_dist_t *dist,
                                 rnj_net_head_t head, double temperature,
                                 double *out);

#ifdef __cplusplus
}
#endif
#endif
