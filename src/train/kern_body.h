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
#include "rnnjam/encoding.h"

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

/* The v2 model's cell: the same step for a hidden size hid known only at
 * run time (G = 4H), its input projection a sum of kernel rows instead of
 * a product (encoding.h): for one row of the slice,
 *   gates = z + bias + w[pitch] + w[phase row] + w[velocity row]
 *           + s w[step row] + d w[duration row]
 * wp, wph, wv: (4H) the three one-hot rows of the kernel; ws, wd: (4H)
 * its step and duration rows; s, d: this row's time inputs.  Never a
 * multiplication by a zero of a one-hot input.  The other arguments are
 * cell_forward_row's. */
INLINE void cell2_forward_row(int hid, float *restrict z,
                              const float *restrict bias,
                              const float *restrict wp,
                              const float *restrict wph,
                              const float *restrict wv,
                              const float *restrict ws,
                              const float *restrict wd, float s, float d,
                              const float *restrict cp, float *restrict cn,
                              float *restrict tn, float *restrict hn) {
  int j;
  for (j = 0; j < 4 * hid; j++)
    z[j] += bias[j] + wp[j] + wph[j] + wv[j] + s * ws[j] + d * wd[j];
  for (j = 0; j < hid; j++) {
    float ig = vsigmoid(z[j]);
    float fg = vsigmoid(z[hid + j]);
    float gg = vtanh(z[2 * hid + j]);
    float og = vsigmoid(z[3 * hid + j]);
    float cc = fg * cp[j] + ig * gg;
    float tt = vtanh(cc);
    z[j] = ig;
    z[hid + j] = fg;
    z[2 * hid + j] = gg;
    z[3 * hid + j] = og;
    cn[j] = cc;
    tn[j] = tt;
    hn[j] = og * tt;
  }
}

/* Its backward: dz as cell_backward_row, db += dz, and the kernel's
 * gradient only in the five rows this row used (gp, gph, gv: the one-hot
 * rows, each += dz; gs += s dz, gd += d dz).  The five rows are distinct
 * (encoding.h's row ranges do not overlap). */
INLINE void cell2_backward_row(int hid, float *restrict z,
                               const float *restrict cp,
                               const float *restrict tn,
                               const float *restrict dh,
                               float *restrict dc, float *restrict db,
                               float *restrict gp, float *restrict gph,
                               float *restrict gv, float *restrict gs,
                               float *restrict gd, float s, float d) {
  int j;
  for (j = 0; j < hid; j++) {
    float ig = z[j];
    float fg = z[hid + j];
    float gg = z[2 * hid + j];
    float og = z[3 * hid + j];
    float tt = tn[j];
    float dhj = dh[j];
    float dcc = dc[j] + dhj * og * (1.0f - tt * tt);
    dc[j] = dcc * fg;
    z[j] = dcc * gg * ig * (1.0f - ig);
    z[hid + j] = dcc * cp[j] * fg * (1.0f - fg);
    z[2 * hid + j] = dcc * ig * (1.0f - gg * gg);
    z[3 * hid + j] = dhj * tt * og * (1.0f - og);
  }
  for (j = 0; j < 4 * hid; j++) {
    float dz = z[j];
    db[j] += dz;
    gp[j] += dz;
    gph[j] += dz;
    gv[j] += dz;
    gs[j] += s * dz;
    gd[j] += d * dz;
  }
}

/* A time step of the v2 cell for `rows` rows.  idx (rows, 3): the
 * one-hot rows of the kernel (pitch, phase, velocity) each row uses;
 * tin (rows, 2): its step and duration inputs; w (186, 4H); the rest as
 * cell_forward_body. */
INLINE void cell2_forward_body(size_t rows, int hid, float *z,
                               const int32_t *idx, const float *tin,
                               const float *w, const float *bias,
                               const float *cprev, float *c, float *tc,
                               float *h) {
  size_t G4 = 4 * (size_t)hid;
  const float *ws = w + (size_t)RNJ_ENCODING_ROW_STEP * G4;
  const float *wd = w + (size_t)RNJ_ENCODING_ROW_DURATION * G4;
  size_t b;
  for (b = 0; b < rows; b++)
    cell2_forward_row(hid, z + b * G4, bias, w + (size_t)idx[b * 3] * G4,
                      w + (size_t)idx[b * 3 + 1] * G4,
                      w + (size_t)idx[b * 3 + 2] * G4, ws, wd, tin[b * 2],
                      tin[b * 2 + 1], cprev + b * (size_t)hid,
                      c + b * (size_t)hid, tc + b * (size_t)hid,
                      h + b * (size_t)hid);
}

/* dw (186, 4H) and db (4H) accumulate; the rest as cell_backward_body. */
INLINE void cell2_backward_body(size_t rows, int hid, float *z,
                                const int32_t *idx, const float *tin,
                                const float *cprev, const float *tc,
                                const float *dh, float *dc, float *dw,
                                float *db) {
  size_t G4 = 4 * (size_t)hid;
  float *gs = dw + (size_t)RNJ_ENCODING_ROW_STEP * G4;
  float *gd = dw + (size_t)RNJ_ENCODING_ROW_DURATION * G4;
  size_t b;
  for (b = 0; b < rows; b++)
    cell2_backward_row(hid, z + b * G4, cprev + b * (size_t)hid,
                       tc + b * (size_t)hid, dh + b * (size_t)hid,
                       dc + b * (size_t)hid, db, dw + (size_t)idx[b * 3] * G4,
                       dw + (size_t)idx[b * 3 + 1] * G4,
                       dw + (size_t)idx[b * 3 + 2] * G4, gs, gd,
                       tin[b * 2], tin[b * 2 + 1]);
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

/* The sum of x^2 over [0, n), in double: eight partial sums (one per
 * lane of a 512-bit vector of doubles) in a fixed order, added up in
 * order at the end, so a kernel set gives the same bits every time
 * without the reassociation a plain loop would need to vectorise. */
INLINE double sumsq_body(size_t n, const float *restrict x) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double s = 0;
  size_t k = 0;
  int j;
  for (; k + 8 <= n; k += 8)
    for (j = 0; j < 8; j++)
      acc[j] += (double)x[k + (size_t)j] * (double)x[k + (size_t)j];
  for (; k < n; k++)
    acc[k & 7] += (double)x[k] * (double)x[k];
  for (j = 0; j < 8; j++)
    s += acc[j];
  return s;
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
  attr static void cell2_forward_##sfx(                                      \
      size_t rows, int hid, float *z, const int32_t *idx, const float *tin,  \
      const float *w, const float *bias, const float *cprev, float *c,       \
      float *tc, float *h) {                                                 \
    cell2_forward_body(rows, hid, z, idx, tin, w, bias, cprev, c, tc, h);    \
  }                                                                          \
  attr static void cell2_backward_##sfx(                                     \
      size_t rows, int hid, float *z, const int32_t *idx, const float *tin,  \
      const float *cprev, const float *tc, const float *dh, float *dc,       \
      float *dw, float *db) {                                                \
    cell2_backward_body(rows, hid, z, idx, tin, cprev, tc, dh, dc, dw, db);  \
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
  attr static double sumsq_##sfx(size_t n, const float *x) {                 \
    return sumsq_body(n, x);                                                 \
  }                                                                          \
  const rnj__train_kern_t rnj__train_kern_##sfx = {                          \
      #sfx,           cell_forward_##sfx, cell_backward_##sfx,               \
      cell2_forward_##sfx, cell2_backward_##sfx,                             \
      softmax_exp_##sfx, scale_##sfx,     adam_##sfx,                        \
      add_##sfx,      sumsq_##sfx,        gemm,                              \
      gemm_tn,                                                               \
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
