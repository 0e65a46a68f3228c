/* Private to the portable kernels (lstm.c, lstm2.c): their product and
 * nonlinearities, so that both models' portable steps share one
 * arithmetic.  Never installed.
 */
#ifndef RNNJAM_LSTM_PORTABLE_H
#define RNNJAM_LSTM_PORTABLE_H

#include <math.h>
#include <string.h>

#include "lstm_kern.h"

#define W RNJ__PANEL_W

static inline float sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }

/* tanh through libm's expf: glibc's tanhf goes through expm1f and took 40%
 * of the portable step.  (1 - e) / (1 + e) with e = exp(-2|x|) is within
 * 2e-7 relative for |x| >= 0.25; below, where it cancels, the odd Taylor
 * series to x^11 (truncation < 3e-10 relative). */
static inline float tanh_portable(float x) {
  float ax = fabsf(x);
  float t;
  if (ax < 0.25f) {
    float x2 = ax * ax;
    float s = -1382.0f / 155925;
    s = s * x2 + 62.0f / 2835;
    s = s * x2 + -17.0f / 315;
    s = s * x2 + 2.0f / 15;
    s = s * x2 + -1.0f / 3;
    t = ax + ax * (s * x2);
  } else {
    float e = expf(-2.0f * ax);
    t = (1.0f - e) / (1.0f + e);
  }
  return copysignf(t, x);
}

/* GNU C's generic vectors of 4 floats: SSE on x86-64, NEON on arm64,
 * scalar code elsewhere.  They make the portable kernel's SIMD explicit, so
 * it does not depend on the optimisation level or on the compiler's
 * auto-vectoriser (which, without -ffast-math, never vectorises a
 * reduction), while staying free of any one ISA's intrinsics. */
typedef float v4sf __attribute__((vector_size(16)));

/* out (64) = sum_k v[k] * w[k] over n rows of 64 (where the time goes).
 * Half a row (32 columns, 8 vectors) at a time, so that the sums stay in
 * the 16 registers SSE and the like have. */
static inline void panel_portable(const float *restrict w, const float *restrict v,
                           int n, float *restrict out) {
  int half;
  int k;
  for (half = 0; half < 2; half++) {
    v4sf a0 = {0};
    v4sf a1 = {0};
    v4sf a2 = {0};
    v4sf a3 = {0};
    v4sf a4 = {0};
    v4sf a5 = {0};
    v4sf a6 = {0};
    v4sf a7 = {0};
    float *o = out + half * 32;
    for (k = 0; k < n; k++) {
      const v4sf *r = (const v4sf *)(w + (size_t)k * W + half * 32);
      const float s = v[k];
      a0 += s * r[0];
      a1 += s * r[1];
      a2 += s * r[2];
      a3 += s * r[3];
      a4 += s * r[4];
      a5 += s * r[5];
      a6 += s * r[6];
      a7 += s * r[7];
    }
    memcpy(o, &a0, sizeof a0);
    memcpy(o + 4, &a1, sizeof a1);
    memcpy(o + 8, &a2, sizeof a2);
    memcpy(o + 12, &a3, sizeof a3);
    memcpy(o + 16, &a4, sizeof a4);
    memcpy(o + 20, &a5, sizeof a5);
    memcpy(o + 24, &a6, sizeof a6);
    memcpy(o + 28, &a7, sizeof a7);
  }
}

#undef W

#endif
