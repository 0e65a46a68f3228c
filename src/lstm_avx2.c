/* lstm_avx2: the LSTM step and heads with AVX2/FMA intrinsics, for the
 * tutorial's model and (at the end) the v2 model.
 *
 * Same layout and arithmetic as the portable kernel (lstm_kern.h): each
 * panel's 64 sums live in 8 ymm registers (8 independent FMA chains, which
 * covers two FMA ports at 4 cycles latency; a second row in flight would
 * need 16 more registers than AVX2 has), with vector exp, sigmoid and
 * tanh.  Only compiled for x86-64; the functions carry target attributes,
 * so the rest of the library keeps the baseline ISA and lstm.c calls them
 * only after checking the CPU.
 *
 * Accuracy of the vector functions: as lstm_avx512.c (same polynomials),
 * exp within 1.5e-7 relative, sigmoid 2e-7, tanh 2.5e-7 (test-lstm
 * measures them against double libm).
 */
#include "lstm2_kern.h"
#include "lstm_kern.h"

#ifdef RNJ__HAVE_X86_KERNELS
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TARGET __attribute__((target("avx2,fma")))
#define H RNJ_MODEL_HIDDEN
#define W RNJ__PANEL_W
#define U RNJ__PANEL_UNITS

/* exp(x) as in lstm_avx512.c; 2^n goes straight into the exponent bits,
 * which the clamp to [-87, 88] keeps in range (the result stays a normal
 * float). */
TARGET static inline __m256 vexp(__m256 x) {
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693359375f);
  const __m256 ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
  __m256 n;
  __m256 r;
  __m256 p;
  __m256i e;
  /* Constant first: min/max return their second operand when either is
   * NaN, and a NaN input must stay NaN. */
  x = _mm256_min_ps(_mm256_set1_ps(88.0f),
                    _mm256_max_ps(_mm256_set1_ps(-87.0f), x));
  n = _mm256_round_ps(_mm256_mul_ps(x, log2e),
                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_fnmadd_ps(n, ln2_hi, x);
  r = _mm256_fnmadd_ps(n, ln2_lo, r);
  p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
  return _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_castps_si256(p), e));
}

TARGET static inline __m256 vsigmoid(__m256 z) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 e = vexp(_mm256_sub_ps(_mm256_setzero_ps(), z));
  return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

/* tanh as in lstm_avx512.c: (1 - e) / (1 + e), e = exp(-2|x|), and the
 * odd Taylor series to x^11 below 0.25 where that cancels. */
TARGET static inline __m256 vtanh(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 signbit = _mm256_set1_ps(-0.0f);
  __m256 ax = _mm256_andnot_ps(signbit, x);
  __m256 e = vexp(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
  __m256 big = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  __m256 x2 = _mm256_mul_ps(ax, ax);
  __m256 s = _mm256_set1_ps(-1382.0f / 155925);
  __m256 m = _mm256_cmp_ps(ax, _mm256_set1_ps(0.25f), _CMP_LT_OQ);
  __m256 t;
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(62.0f / 2835));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(-17.0f / 315));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(2.0f / 15));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(-1.0f / 3));
  s = _mm256_fmadd_ps(_mm256_mul_ps(s, x2), ax, ax);
  t = _mm256_blendv_ps(big, s, m);
  return _mm256_or_ps(t, _mm256_and_ps(signbit, x));
}

/* out (64) = sum_k v[k] * w[k], n rows of 64 (where the time goes). */
TARGET static inline void panel(const float *restrict w,
                                const float *restrict v, int n,
                                float *restrict out) {
  __m256 a0 = _mm256_setzero_ps();
  __m256 a1 = _mm256_setzero_ps();
  __m256 a2 = _mm256_setzero_ps();
  __m256 a3 = _mm256_setzero_ps();
  __m256 a4 = _mm256_setzero_ps();
  __m256 a5 = _mm256_setzero_ps();
  __m256 a6 = _mm256_setzero_ps();
  __m256 a7 = _mm256_setzero_ps();
  int k;
  for (k = 0; k < n; k++) {
    const float *r = w + (size_t)k * W;
    __m256 s = _mm256_broadcast_ss(v + k);
    a0 = _mm256_fmadd_ps(s, _mm256_load_ps(r), a0);
    a1 = _mm256_fmadd_ps(s, _mm256_load_ps(r + 8), a1);
    a2 = _mm256_fmadd_ps(s, _mm256_load_ps(r + 16), a2);
    a3 = _mm256_fmadd_ps(s, _mm256_load_ps(r + 24), a3);
    a4 = _mm256_fmadd_ps(s, _mm256_load_ps(r + 32), a4);
    a5 = _mm256_fmadd_ps(s, _mm256_load_ps(r + 40), a5);
    a6 = _mm256_fmadd_ps(s, _mm256_load_ps(r + 48), a6);
    a7 = _mm256_fmadd_ps(s, _mm256_load_ps(r + 56), a7);
  }
  _mm256_storeu_ps(out, a0);
  _mm256_storeu_ps(out + 8, a1);
  _mm256_storeu_ps(out + 16, a2);
  _mm256_storeu_ps(out + 24, a3);
  _mm256_storeu_ps(out + 32, a4);
  _mm256_storeu_ps(out + 40, a5);
  _mm256_storeu_ps(out + 48, a6);
  _mm256_storeu_ps(out + 56, a7);
}

TARGET static void cell(const rnj__lstm_pack_t *p, const float *v, float *c,
                        float *h) {
  _Alignas(64) float z[W];
  int b;
  int q;
  for (b = 0; b < RNJ__GATE_PANELS; b++) {
    panel(p->gates + (size_t)b * RNJ__GATE_ROWS * W, v, RNJ__GATE_ROWS, z);
    for (q = 0; q < U; q += 8) {
      __m256 i = vsigmoid(_mm256_load_ps(z + q));
      __m256 f = vsigmoid(_mm256_load_ps(z + U + q));
      __m256 g = vtanh(_mm256_load_ps(z + 2 * U + q));
      __m256 o = vsigmoid(_mm256_load_ps(z + 3 * U + q));
      float *cp = c + b * U + q;
      __m256 cn = _mm256_fmadd_ps(f, _mm256_loadu_ps(cp), _mm256_mul_ps(i, g));
      _mm256_storeu_ps(cp, cn);
      _mm256_storeu_ps(h + b * U + q, _mm256_mul_ps(o, vtanh(cn)));
    }
  }
}

TARGET static float dot128(const float *a, const float *b) {
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  __m128 q;
  int k;
  for (k = 0; k < H; k += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8),
                         _mm256_loadu_ps(b + k + 8), s1);
  }
  s0 = _mm256_add_ps(s0, s1);
  q = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

TARGET static void heads(const rnj__lstm_pack_t *p, const float *h,
                         rnj_lstm_out_t *out) {
  _Alignas(64) float v[RNJ__LOGIT_ROWS];
  int b;
  memcpy(v, h, H * sizeof(float));
  v[H] = 1.0f;
  for (b = 0; b < RNJ__LOGIT_PANELS; b++)
    panel(p->logits + (size_t)b * RNJ__LOGIT_ROWS * W, v, RNJ__LOGIT_ROWS,
          out->logits + b * W);
  out->step = dot128(p->sd, h) + p->step_bias;
  out->duration = dot128(p->sd + H, h) + p->duration_bias;
}

TARGET static void math(int fn, const float *in, float *out, int n) {
  int i;
  for (i = 0; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(in + i);
    __m256 y = fn == RNJ__MATH_EXP       ? vexp(x)
               : fn == RNJ__MATH_SIGMOID ? vsigmoid(x)
                                         : vtanh(x);
    _mm256_storeu_ps(out + i, y);
  }
}

const rnj__lstm_kern_t rnj__lstm_kern_avx2 = {RNJ_KERNEL_AVX2, cell, heads,
                                              math};

/* ------------------------------------------------------------------ v2 */

/* The v2 step (lstm2_kern.h): the tutorial's panel product over (h, 1, s,
 * d), then the three looked-up rows added to the sums while the cell's
 * gates are formed, 8 units at a time. */
TARGET static void cell_v2(const rnj__lstm2_pack_t *p, const float *v,
                           const int *rows, float *c, float *h) {
  const int nrows = p->hidden + RNJ__V2_DENSE;
  _Alignas(64) float z[W];
  int b;
  int q;
  for (b = 0; b < p->panels; b++) {
    const float *look = p->lookup + (size_t)b * RNJ__V2_LOOKUP * W;
    const float *r0 = look + (size_t)rows[0] * W;
    const float *r1 = look + (size_t)rows[1] * W;
    const float *r2 = look + (size_t)rows[2] * W;
    panel(p->gates + (size_t)b * nrows * W, v, nrows, z);
    for (q = 0; q < U; q += 8) {
      __m256 g4[4];
      __m256 cn;
      float *cp = c + b * U + q;
      int k;
      for (k = 0; k < 4; k++) {
        int at = k * U + q;
        g4[k] = _mm256_add_ps(
            _mm256_load_ps(z + at),
            _mm256_add_ps(_mm256_add_ps(_mm256_load_ps(r0 + at),
                                        _mm256_load_ps(r1 + at)),
                          _mm256_load_ps(r2 + at)));
      }
      cn = _mm256_fmadd_ps(vsigmoid(g4[1]), _mm256_loadu_ps(cp),
                           _mm256_mul_ps(vsigmoid(g4[0]), vtanh(g4[2])));
      _mm256_storeu_ps(cp, cn);
      _mm256_storeu_ps(h + b * U + q,
                       _mm256_mul_ps(vsigmoid(g4[3]), vtanh(cn)));
    }
  }
}

/* The four heads: six panels of 64 logits over (h, 1). */
TARGET static void heads_v2(const rnj__lstm2_pack_t *p, const float *h,
                            float *out) {
  _Alignas(64) float v[RNJ_NET_HIDDEN_MAX + 1];
  const int nrows = p->hidden + 1;
  int b;
  memcpy(v, h, (size_t)p->hidden * sizeof(float));
  v[p->hidden] = 1.0f;
  for (b = 0; b < RNJ__V2_HEAD_PANELS; b++)
    panel(p->heads + (size_t)b * nrows * W, v, nrows, out + b * W);
}

/* The sum of 8 lanes. */
TARGET static float hsum8(__m256 v) {
  __m128 q =
      _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

/* rnj__sample_draw in 8 lanes (lstm2_kern.h): the weights exp((l - max)
 * / T), 0 below exp(-87) and for -inf and NaN, the bin where u * total
 * falls in their running sum. */
TARGET static int draw_v2(const float *logits, int n, float t, double u) {
  _Alignas(32) float buf[128];
  _Alignas(32) float wl[128];
  __m256 m = _mm256_set1_ps(-INFINITY);
  double total = 0;
  double target;
  float max;
  int nv;
  int b;
  int i;
  n = n < 1 ? 1 : n > 128 ? 128 : n;
  nv = (n + 7) / 8;
  for (i = 0; i < 8 * nv; i++) /* NaN and the padding: -inf */
    buf[i] = i < n && logits[i] == logits[i] ? logits[i] : -INFINITY;
  for (b = 0; b < nv; b++)
    m = _mm256_max_ps(m, _mm256_load_ps(buf + 8 * b));
  {
    __m128 q = _mm_max_ps(_mm256_castps256_ps128(m),
                          _mm256_extractf128_ps(m, 1));
    q = _mm_max_ps(q, _mm_movehl_ps(q, q));
    q = _mm_max_ss(q, _mm_movehdup_ps(q));
    max = _mm_cvtss_f32(q);
  }
  if (t > 0 && max > -INFINITY) {
    __m256 mx = _mm256_set1_ps(max);
    __m256 inv = _mm256_set1_ps(1.0f / t);
    for (b = 0; b < nv; b++) {
      __m256 a =
          _mm256_mul_ps(_mm256_sub_ps(_mm256_load_ps(buf + 8 * b), mx), inv);
      __m256 in = _mm256_cmp_ps(a, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
      __m256 w = _mm256_and_ps(in, vexp(a));
      _mm256_store_ps(wl + 8 * b, w);
      total += hsum8(w);
    }
    if (total >= 1.0 && total < INFINITY) {
      target = u * total;
      for (b = 0; b < nv - 1; b++) {
        double bsum = hsum8(_mm256_load_ps(wl + 8 * b));
        if (target < bsum)
          break;
        target -= bsum;
      }
      for (i = 8 * b; i < 8 * b + 8; i++) {
        target -= wl[i];
        if (target < 0)
          return i;
      }
      for (i = 8 * b + 7; i > 0 && wl[i] == 0; i--)
        ;
      return i;
    }
  }
  for (i = 0; i < n && !(logits[i] == max); i++)
    ;
  return i < n ? i : 0;
}

const rnj__lstm2_kern_t rnj__lstm2_kern_avx2 = {
    RNJ_KERNEL_AVX2, cell_v2, heads_v2, draw_v2, RNJ__V2_FP32};

#endif
