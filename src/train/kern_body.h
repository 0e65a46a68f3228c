/* The element-wise kernels' bodies, written once and instantiated per
 * instruction set by kern.c, kern_avx2.c and kern_avx512.c, each of which
 * includes this file between
 *   #pragma GCC push_options
 *   #pragma GCC optimize("O3", "no-trapping-math")
 * and a pop_options after its instantiation (DEFINE_KERNELS).
 *
 * The kernels are built at -O3 whatever CFLAGS say (a default -O2 would
 * leave loops with a remainder scalar), and floating-point compares may be
 * if-converted (they trap on nothing we care about: no FP exception is
 * ever unmasked here), without which GCC refuses to vectorise the clamps
 * below for AVX2 and SSE2.  Neither changes a result: no reassociation, no
 * contraction beyond the default (FMA where the set has it).
 *
 * exp is our own branch-free polynomial, so loops over it vectorise; the
 * activations and the softmax use it, never libm's.
 */
#ifndef RNNJAM_TRAIN_KERN_BODY_H
#define RNNJAM_TRAIN_KERN_BODY_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "kern.h"

/* exp(x) = 2^n exp(r), |r| <= ln2 / 2, with Cephes' minimax polynomial
 * for exp(r) (about 1 ulp) and no branch, so loops over it vectorise.
 * x is clamped to [-87, 88], where 2^n stays a normal float. */
static inline float vexp(float x) {
  float fn;
  float r;
  float p;
  float s;
  int32_t bits;
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  /* Adding and removing 1.5 * 2^23 rounds to the nearest integer. */
  fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  r = x - fn * 0.693359375f;
  r = r + fn * 2.12194440e-4f;
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  bits = ((int32_t)fn + 127) << 23;
  memcpy(&s, &bits, sizeof s);
  return p * s;
}

static inline float vsigmoid(float x) { return 1.0f / (1.0f + vexp(-x)); }

/* Absolute error ~1e-7 near 0 (where a relative bound would need a
 * second formula); tanh's use here only ever needs the absolute one. */
static inline float vtanh(float x) {
  return 1.0f - 2.0f / (vexp(2.0f * x) + 1.0f);
}

/* The kernels' bodies are written once as always-inline functions and
 * instantiated per instruction set below. */
#define INLINE static inline __attribute__((always_inline))

/* One row of one time step of the LSTM cell.  GCC trusts `restrict` on
 * parameters (not on locals), which is what lets these loops vectorise.
 * z:  (4H) in: h_{t-1} U (or zeros); out: the i, f, g, o activations
 * w:  (3, 4H) kernel;  bias: (4H);  x0..x2: this row's inputs
 * cp: (H) c_{t-1};  cn, tn, hn: (H) out: c_t, tanh(c_t), h_t */
INLINE void cell_forward_row(float *restrict z, const float *restrict w,
                             const float *restrict bias,
                             const float *restrict cp, float *restrict cn,
                             float *restrict tn, float *restrict hn,
                             float x0, float x1, float x2) {
  int j;
  for (j = 0; j < H; j++) {
    float ai = z[j] + bias[j] + x0 * w[j] + x1 * w[G + j] + x2 * w[2 * G + j];
    float af = z[H + j] + bias[H + j] + x0 * w[H + j] + x1 * w[G + H + j] +
               x2 * w[2 * G + H + j];
    float ag = z[2 * H + j] + bias[2 * H + j] + x0 * w[2 * H + j] +
               x1 * w[G + 2 * H + j] + x2 * w[2 * G + 2 * H + j];
    float ao = z[3 * H + j] + bias[3 * H + j] + x0 * w[3 * H + j] +
               x1 * w[G + 3 * H + j] + x2 * w[2 * G + 3 * H + j];
    float ig = vsigmoid(ai);
    float fg = vsigmoid(af);
    float gg = vtanh(ag);
    float og = vsigmoid(ao);
    float cc = fg * cp[j] + ig * gg;
    float tt = vtanh(cc);
    z[j] = ig;
    z[H + j] = fg;
    z[2 * H + j] = gg;
    z[3 * H + j] = og;
    cn[j] = cc;
    tn[j] = tt;
    hn[j] = og * tt;
  }
}

/* The same row backwards.  z: in i, f, g, o; out the gradient of the
 * pre-activations dz.  dh: (H) gradient into h_t; dc: (H) in the gradient
 * into c_t from step t + 1, out into c_{t-1}.  dw (3, 4H) and db (4H)
 * accumulate x^T dz and dz. */
INLINE void cell_backward_row(float *restrict z, const float *restrict cp,
                              const float *restrict tn,
                              const float *restrict dh, float *restrict dc,
                              float *restrict dw, float *restrict db,
                              float x0, float x1, float x2) {
  int j;
  for (j = 0; j < H; j++) {
    float ig = z[j];
    float fg = z[H + j];
    float gg = z[2 * H + j];
    float og = z[3 * H + j];
    float tt = tn[j];
    float d = dh[j];
    float dcc = dc[j] + d * og * (1.0f - tt * tt);
    float di = dcc * gg * ig * (1.0f - ig);
    float df = dcc * cp[j] * fg * (1.0f - fg);
    float dg = dcc * ig * (1.0f - gg * gg);
    float dox = d * tt * og * (1.0f - og);
    dc[j] = dcc * fg;
    z[j] = di;
    z[H + j] = df;
    z[2 * H + j] = dg;
    z[3 * H + j] = dox;
    db[j] += di;
    db[H + j] += df;
    db[2 * H + j] += dg;
    db[3 * H + j] += dox;
    dw[j] += x0 * di;
    dw[H + j] += x0 * df;
    dw[2 * H + j] += x0 * dg;
    dw[3 * H + j] += x0 * dox;
    dw[G + j] += x1 * di;
    dw[G + H + j] += x1 * df;
    dw[G + 2 * H + j] += x1 * dg;
    dw[G + 3 * H + j] += x1 * dox;
    dw[2 * G + j] += x2 * di;
    dw[2 * G + H + j] += x2 * df;
    dw[2 * G + 2 * H + j] += x2 * dg;
    dw[2 * G + 3 * H + j] += x2 * dox;
  }
}

/* A time step for `rows` rows: z (rows, 4H), x (rows, 3), cprev, c, tc,
 * h (rows, H). */
INLINE void cell_forward_body(size_t rows, float *z, const float *x,
                              const float *w, const float *bias,
                              const float *cprev, float *c, float *tc,
                              float *h) {
  size_t b;
  for (b = 0; b < rows; b++)
    cell_forward_row(z + b * G, w, bias, cprev + b * H, c + b * H,
                     tc + b * H, h + b * H, x[b * 3], x[b * 3 + 1],
                     x[b * 3 + 2]);
}

INLINE void cell_backward_body(size_t rows, float *z, const float *x,
                               const float *cprev, const float *tc,
                               const float *dh, float *dc, float *dw,
                               float *db) {
  size_t b;
  for (b = 0; b < rows; b++)
    cell_backward_row(z + b * G, cprev + b * H, tc + b * H, dh + b * H,
                      dc + b * H, dw, db, x[b * 3], x[b * 3 + 1],
                      x[b * 3 + 2]);
}

/* The first half of a softmax over one row of n logits, in place:
 * exp(row - max); returns the sum of the exps and sets *max.  The caller
 * takes log(sum) + max - logit[y] as the cross-entropy, and scales the
 * row by (weight / batch) / sum for its gradient (scale_body). */
INLINE float softmax_exp_body(int n, float *restrict row, float *max) {
  float m = row[0];
  float sum = 0;
  int k;
  for (k = 1; k < n; k++)
    m = row[k] > m ? row[k] : m;
  for (k = 0; k < n; k++) {
    row[k] = vexp(row[k] - m);
    sum += row[k];
  }
  *max = m;
  return sum;
}

/* row *= s over [0, n). */
INLINE void scale_body(int n, float *restrict row, float s) {
  int k;
  for (k = 0; k < n; k++)
    row[k] *= s;
}

/* Adam over [0, n) (see rnj_train_step for the formula).  The x86
 * versions below spell the vector loop out: GCC keeps sqrtf's errno
 * semantics unless -fno-math-errno is on the command line (the optimize
 * pragma does not reach builtins), and the loop would stay scalar. */
INLINE void adam_body(size_t n, float *restrict p, float *restrict m,
                      float *restrict v, const float *restrict g, float lr_t,
                      float b1, float b2, float eps) {
  size_t k;
  for (k = 0; k < n; k++) {
    float gk = g[k];
    float mk = m[k] + (gk - m[k]) * (1.0f - b1);
    float vk = v[k] + (gk * gk - v[k]) * (1.0f - b2);
    m[k] = mk;
    v[k] = vk;
    p[k] -= lr_t * mk / (sqrtf(vk) + eps);
  }
}

/* dst += src over [0, n). */
INLINE void add_body(size_t n, float *restrict dst, const float *restrict src) {
  size_t k;
  for (k = 0; k < n; k++)
    dst[k] += src[k];
}
/* The kernels of set `sfx`: each function built with target attributes
 * `attr`, and the table rnj__train_kern_<sfx> of kern.h.  adam_<sfx> is
 * the file's own (vector loops GCC leaves scalar; see adam_body). */
#define DEFINE_KERNELS(sfx, attr, gemm, gemm_tn, id)                         \
  attr static void cell_forward_##sfx(                                       \
      size_t rows, float *z, const float *x, const float *w,                \
      const float *bias, const float *cprev, float *c, float *tc, float *h) \
  {                                                                          \
    cell_forward_body(rows, z, x, w, bias, cprev, c, tc, h);                 \
  }                                                                          \
  attr static void cell_backward_##sfx(                                      \
      size_t rows, float *z, const float *x, const float *cprev,            \
      const float *tc, const float *dh, float *dc, float *dw, float *db)    \
  {                                                                          \
    cell_backward_body(rows, z, x, cprev, tc, dh, dc, dw, db);               \
  }                                                                          \
  attr static float softmax_exp_##sfx(int n, float *row, float *max) {      \
    return softmax_exp_body(n, row, max);                                    \
  }                                                                          \
  attr static void scale_##sfx(int n, float *row, float s) {                 \
    scale_body(n, row, s);                                                   \
  }                                                                          \
  attr static void add_##sfx(size_t n, float *dst, const float *src) {       \
    add_body(n, dst, src);                                                   \
  }                                                                          \
  const rnj__train_kern_t rnj__train_kern_##sfx = {                          \
      #sfx,           cell_forward_##sfx, cell_backward_##sfx,               \
      softmax_exp_##sfx, scale_##sfx,     adam_##sfx,                        \
      add_##sfx,      gemm,               gemm_tn,                           \
      id};

#ifdef RNJ__TRAIN_X86_KERNELS
#include <immintrin.h>

/* One Adam vector step on 8 or 16 lanes; the tail runs adam_body. */
#define ADAM_VEC(W, T, S)                                                    \
  size_t k = 0;                                                              \
  T c1 = _mm##W##_set1_ps(1.0f - b1);                                        \
  T c2 = _mm##W##_set1_ps(1.0f - b2);                                        \
  T lr = _mm##W##_set1_ps(lr_t);                                             \
  T ep = _mm##W##_set1_ps(eps);                                              \
  for (; k + S <= n; k += S) {                                               \
    T gk = _mm##W##_loadu_ps(g + k);                                         \
    T mk = _mm##W##_loadu_ps(m + k);                                         \
    T vk = _mm##W##_loadu_ps(v + k);                                         \
    T pk = _mm##W##_loadu_ps(p + k);                                         \
    mk = _mm##W##_add_ps(mk, _mm##W##_mul_ps(_mm##W##_sub_ps(gk, mk), c1));  \
    vk = _mm##W##_add_ps(                                                    \
        vk, _mm##W##_mul_ps(_mm##W##_sub_ps(_mm##W##_mul_ps(gk, gk), vk),    \
                            c2));                                            \
    _mm##W##_storeu_ps(m + k, mk);                                           \
    _mm##W##_storeu_ps(v + k, vk);                                           \
    pk = _mm##W##_sub_ps(                                                    \
        pk, _mm##W##_div_ps(_mm##W##_mul_ps(lr, mk),                         \
                            _mm##W##_add_ps(_mm##W##_sqrt_ps(vk), ep)));     \
    _mm##W##_storeu_ps(p + k, pk);                                           \
  }                                                                          \
  adam_body(n - k, p + k, m + k, v + k, g + k, lr_t, b1, b2, eps)
#endif

#endif
