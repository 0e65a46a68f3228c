/* Private to lstm.c and its SIMD kernels: the packed weight layout and the
 * kernel table.  Never installed.
 *
 * The LSTM's 512 gate outputs are cut into 8 panels of 16 hidden units.  A
 * panel's 64 columns are the i, f, c, o gates of its 16 units (16 each), so
 * one panel yields everything needed to update those units' c and h while
 * its sums are still in registers.  A panel's rows follow the inputs of the
 * step, v = (h0 .. h127, 1, x0, x1, x2): the 128 recurrent rows, the bias
 * as the row multiplied by 1, then the 3 input rows.  Each row of 64 floats
 * is contiguous, so the product is 132 broadcast-multiply-adds of a row
 * into 64 accumulators (4 zmm / 8 ymm), streaming the weights once in
 * order.  The many small recurrent terms come first and the few large ones
 * (bias, inputs) last, so the running sums stay small for most of the way
 * and round less.  The pitch head is the same shape: 2 panels of 64 logits
 * over (h0 .. h127, 1).  Step and duration are two dot products of 128.
 */
#ifndef RNNJAM_LSTM_KERN_H
#define RNNJAM_LSTM_KERN_H

#include "rnnjam/lstm.h"

#define RNJ__PANEL_UNITS 16
#define RNJ__PANEL_W (4 * RNJ__PANEL_UNITS)                   /* 64 */
#define RNJ__GATE_PANELS (RNJ_MODEL_HIDDEN / RNJ__PANEL_UNITS) /* 8 */
#define RNJ__GATE_ROWS (RNJ_MODEL_HIDDEN + 1 + RNJ_MODEL_INPUT)  /* 132 */
#define RNJ__LOGIT_PANELS (RNJ_MODEL_PITCHES / RNJ__PANEL_W)     /* 2 */
#define RNJ__LOGIT_ROWS (RNJ_MODEL_HIDDEN + 1)                   /* 129 */

typedef struct rnj__lstm_pack_s {
  const float *gates;  /* (8, 132, 64), 64-byte aligned */
  const float *logits; /* (2, 129, 64), 64-byte aligned */
  const float *sd;     /* (2, 128): step kernel, then duration kernel */
  float step_bias;
  float duration_bias;
} rnj__lstm_pack_t;

/* Which function rnj__lstm_math evaluates (tests check the vector
 * approximations against double-precision libm). */
enum { RNJ__MATH_EXP = 0, RNJ__MATH_SIGMOID = 1, RNJ__MATH_TANH = 2 };

typedef struct rnj__lstm_kern_s {
  rnj_kernel_t id;
  /* One LSTM step: v (132) = (h_old, 1, x); c (128) is updated in place
   * and the new h written to h (128, must not overlap v). */
  void (*cell)(const rnj__lstm_pack_t *p, const float *v, float *c,
               float *h);
  /* The three heads on h (128). */
  void (*heads)(const rnj__lstm_pack_t *p, const float *h,
                rnj_lstm_out_t *out);
  /* out[i] = fn(in[i]) for i < n, n a multiple of 16; for tests. */
  void (*math)(int fn, const float *in, float *out, int n);
} rnj__lstm_kern_t;

extern const rnj__lstm_kern_t rnj__lstm_kern_portable;
#if defined(__x86_64__) && defined(__GNUC__)
#define RNJ__HAVE_X86_KERNELS 1
extern const rnj__lstm_kern_t rnj__lstm_kern_avx2;
extern const rnj__lstm_kern_t rnj__lstm_kern_avx512;
#endif

/* For net.c, which keeps h and c in its own state: one step of `lstm` on
 * x = (pitch / 128, step, duration) with h (128) and c (128) updated in
 * place, and the heads on h.  What rnj_lstm_step and rnj_lstm_heads do. */
void rnj__lstm_step_hc(const struct rnj_lstm_s *lstm, float *h, float *c,
                       const float x[RNJ_MODEL_INPUT]);
void rnj__lstm_heads_h(const struct rnj_lstm_s *lstm, const float *h,
                       rnj_lstm_out_t *out);

/* What the CPU has of what the kernels need (RNJ__CPU_* bits; 0 where
 * the x86 kernels are not compiled in). */
enum { RNJ__CPU_AVX2_FMA = 1, RNJ__CPU_AVX512F = 2, RNJ__CPU_F16C = 4 };
unsigned rnj__cpu_features(void);

/* rnj_kernel_supported on a CPU with `features`: the choice of kernels
 * made testable for CPUs other than the one the tests run on. */
int rnj__kernel_supported_on(rnj_kernel_t kernel, unsigned features);

/* The kernel table entry for `kernel`, or NULL when it was not compiled in,
 * the CPU lacks it or the tutorial's model has none such
 * (RNJ_KERNEL_AVX512_F16); RNJ_KERNEL_AUTO picks the best.  Tests use it
 * to reach rnj__lstm_kern_t.math. */
const rnj__lstm_kern_t *rnj__lstm_kern_find(rnj_kernel_t kernel);

#endif
