/* Inference: the LSTM step and the window.
 *
 * rnj_lstm_t holds the weights repacked for speed from an rnj_model_t
 * (each output row one contiguous dot product, the four gates fused); it is
 * built once, off the real-time path, and never changes afterwards.  The
 * mutable per-stream state (h, c) is rnj_lstm_state_t, so one rnj_lstm_t can
 * serve any number of streams.
 *
 * Two ways to run the model:
 *   - window: seq_length notes from a zero state -> outputs (what the model
 *     was trained on; rnj_lstm_window);
 *   - stream: one step on one new note with carried (h, c) -> outputs
 *     (rnj_lstm_step; O(1) per note, for the daemon).
 *
 * A SIMD kernel (AVX2/FMA, AVX-512 where present) is chosen at run time;
 * the portable kernel stays and can be forced for testing.
 */
#ifndef RNNJAM_LSTM_H
#define RNNJAM_LSTM_H

#include "common.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RNJ_KERNEL_AUTO = 0,    /* best the CPU supports */
  RNJ_KERNEL_PORTABLE = 1,
  RNJ_KERNEL_AVX2 = 2,
  RNJ_KERNEL_AVX512 = 3,
  /* v2 models only: AVX-512 with half the weight rows stored as IEEE
   * half precision (F16C), fewer bytes to stream per step; sums, state
   * and nonlinearities in float.  Not exact: see rnj_net_new. */
  RNJ_KERNEL_AVX512_F16 = 4
} rnj_kernel_t;

/* What the three heads produce for one step. */
typedef struct rnj_lstm_out_s {
  float logits[RNJ_MODEL_PITCHES]; /* pitch logits (before softmax) */
  float step;                      /* seconds, unclamped */
  float duration;                  /* seconds, unclamped */
} rnj_lstm_out_t;

/* Per-stream recurrent state. */
typedef struct rnj_lstm_state_s {
  float h[RNJ_MODEL_HIDDEN];
  float c[RNJ_MODEL_HIDDEN];
} rnj_lstm_state_t;

typedef struct rnj_lstm_s rnj_lstm_t; /* opaque; see rnj_lstm_new */

/* Build the packed weights from `model` (copied; `model` may be freed
 * afterwards).  `kernel` selects the SIMD path (RNJ_KERNEL_AUTO normally);
 * asking for one the CPU lacks, or RNJ_KERNEL_AVX512_F16 (which the
 * tutorial's model has not), gives RNJ_ENOSYS, an unknown one, a NULL
 * model or one that is not the tutorial's RNJ_EINVAL.  Allocates (one block of about 340 KB); not RT-safe.
 * On success *out owns the result: release with rnj_lstm_delete.  The
 * result never changes, so any number of threads may run it at once, each
 * on its own rnj_lstm_state_t. */
RNJ_EXTERN int rnj_lstm_new(rnj_lstm_t **out, const rnj_model_t *model,
                            rnj_kernel_t kernel);

/* Release what rnj_lstm_new made.  NULL is fine. */
RNJ_EXTERN void rnj_lstm_delete(rnj_lstm_t *lstm);

/* The kernel in use, and its name ("portable", "avx2", "avx512",
 * "avx512-f16"; "auto" for RNJ_KERNEL_AUTO).  The name is static. */
RNJ_EXTERN rnj_kernel_t rnj_lstm_kernel(const rnj_lstm_t *lstm);
RNJ_EXTERN const char *rnj_kernel_name(rnj_kernel_t kernel);

/* 1 if this CPU (and build) can run `kernel` (RNJ_KERNEL_AUTO and
 * RNJ_KERNEL_PORTABLE always; RNJ_KERNEL_AVX512_F16 needs AVX-512F and
 * F16C), else 0.  Whether a model has that kernel is another matter:
 * the tutorial's has no RNJ_KERNEL_AVX512_F16.  Thread-safe. */
RNJ_EXTERN int rnj_kernel_supported(rnj_kernel_t kernel);

/* The kernel named `name` (as rnj_kernel_name spells it, e.g. from a
 * --kernel option) into *kernel.  Returns 0, or RNJ_EINVAL for an unknown
 * name (then *kernel is untouched).  Says nothing about CPU support. */
RNJ_EXTERN int rnj_kernel_parse(const char *name, rnj_kernel_t *kernel);

/* Zero h and c.  RT-safe. */
RNJ_EXTERN void rnj_lstm_reset(rnj_lstm_state_t *state);

/* One LSTM step on the note inputs x = (pitch/128, step, duration), updating
 * `state`, then the heads on the new h into `out` (`out` may be NULL to run
 * the LSTM only, e.g. while feeding context).  RT-safe: allocates nothing,
 * takes no lock, does no I/O; constant time. */
RNJ_EXTERN void rnj_lstm_step(const rnj_lstm_t *lstm, rnj_lstm_state_t *state,
                              const float x[RNJ_MODEL_INPUT],
                              rnj_lstm_out_t *out);

/* The heads alone on a given state's h.  RT-safe. */
RNJ_EXTERN void rnj_lstm_heads(const rnj_lstm_t *lstm,
                               const rnj_lstm_state_t *state,
                               rnj_lstm_out_t *out);

/* Window mode: n steps over `x` (n rows of 3 inputs) from a zero state,
 * heads on the last h.  Equivalent to reset + n steps.  RT-safe. */
RNJ_EXTERN void rnj_lstm_window(const rnj_lstm_t *lstm, const float *x,
                                int n, rnj_lstm_out_t *out);

/* Fill x[3] from a note: (pitch / 128, step, duration).  RT-safe. */
RNJ_EXTERN void rnj_lstm_input(float x[RNJ_MODEL_INPUT], int pitch,
                               double step, double duration);

#ifdef __cplusplus
}
#endif
#endif
