/* lstm_avx512: the LSTM step and heads with AVX-512F intrinsics, for the
 * tutorial's model and (at the end) the v2 model.
 *
 * Same layout and arithmetic as the portable kernel (lstm_kern.h), with
 * each panel's 64 sums held in 4 zmm registers, two rows in flight (8
 * independent FMA chains, enough to cover the FMA latency), and vector
 * exp, sigmoid and tanh.  Only compiled for x86-64; the functions carry
 * target attributes, so the rest of the library keeps the baseline ISA and
 * lstm.c calls them only after checking the CPU.
 *
 * Accuracy of the vector functions (measured by test-lstm against double
 * libm, exp over its whole range, the others over [-20, 20]): exp within
 * 1.5e-7 relative, sigmoid 2e-7, tanh 2.5e-7 (measured: 7.4e-8, 1.5e-7,
 * 1.9e-7), near libm's expf and tanhf (about 6e-8).  The step's outputs
 * differ from the portable kernel's by about 1e-6 relative, as much as a
 * different summation order alone gives.
 */
#include "lstm2_kern.h"
#include "lstm_kern.h"

#ifdef RNJ__HAVE_X86_KERNELS
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f")))
#define H RNJ_MODEL_HIDDEN
#define W RNJ__PANEL_W
#define U RNJ__PANEL_UNITS

/* exp(x): x = n*ln2 + r with |r| <= ln2/2 (ln2 split in a part exact in a
 * few bits and a correction, so n*ln2_hi is exact), exp(r) by its Taylor
 * series to r^7 (truncation < 1e-8 relative), then scaled by 2^n.
 * Clamping to [-87, 88] keeps 2^n and the result normal floats; exp(-87)
 * is 1.6e-38, below anything the LSTM can tell from 0.  n is rounded by
 * adding 1.5 * 2^23 (round to nearest even, as vrndscaleps would), which
 * also leaves n + 127 in the low bits for 2^n's exponent field: on AMD's
 * Zen 4 vrndscaleps and vscalefps cost several times an FMA, and this
 * gives the same bits in cheap operations. */
TARGET static inline __m512 vexp(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps(0.693359375f);
  const __m512 ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
  const __m512 magic = _mm512_set1_ps(12582912.0f); /* 1.5 * 2^23 */
  __m512 t;
  __m512 n;
  __m512 r;
  __m512 p;
  __m512i e;
  /* Constant first: min/max return their second operand when either is
   * NaN, and a NaN input must stay NaN. */
  x = _mm512_min_ps(_mm512_set1_ps(88.0f),
                    _mm512_max_ps(_mm512_set1_ps(-87.0f), x));
  /* the product rounded on its own, as before vrndscaleps: a plain
   * multiply could be contracted into an FMA with the add */
  t = _mm512_add_ps(_mm512_mul_round_ps(x, log2e, _MM_FROUND_CUR_DIRECTION),
                    magic);
  n = _mm512_sub_ps(t, magic);
  r = _mm512_fnmadd_ps(n, ln2_hi, x);
  r = _mm512_fnmadd_ps(n, ln2_lo, r);
  p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  /* t's bits are those of 1.5 * 2^23 + n: the low ones hold n */
  e = _mm512_slli_epi32(
      _mm512_add_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

TARGET static inline __m512 vsigmoid(__m512 z) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 e = vexp(_mm512_sub_ps(_mm512_setzero_ps(), z));
  return _mm512_div_ps(one, _mm512_add_ps(one, e));
}

/* tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|); below 0.25 that
 * cancels, so there the odd Taylor series to x^11 takes over (truncation
 * < 3e-10 relative).  The sign is put back at the end. */
TARGET static inline __m512 vtanh(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 ax = _mm512_abs_ps(x);
  __m512 e = vexp(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
  __m512 big = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  __m512 x2 = _mm512_mul_ps(ax, ax);
  __m512 s = _mm512_set1_ps(-1382.0f / 155925);
  __mmask16 m = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.25f), _CMP_LT_OQ);
  __m512i sign;
  __m512 t;
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(62.0f / 2835));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(-17.0f / 315));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(2.0f / 15));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(-1.0f / 3));
  s = _mm512_fmadd_ps(_mm512_mul_ps(s, x2), ax, ax);
  t = _mm512_mask_blend_ps(m, big, s);
  sign = _mm512_and_si512(_mm512_castps_si512(x),
                          _mm512_set1_epi32((int)0x80000000u));
  return _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(t), sign));
}

/* out (64) = sum_k v[k] * w[k], n rows of 64 (where the time goes). */
TARGET static inline void panel(const float *restrict w,
                                const float *restrict v, int n,
                                float *restrict out) {
  __m512 a0 = _mm512_setzero_ps();
  __m512 a1 = _mm512_setzero_ps();
  __m512 a2 = _mm512_setzero_ps();
  __m512 a3 = _mm512_setzero_ps();
  __m512 b0 = _mm512_setzero_ps();
  __m512 b1 = _mm512_setzero_ps();
  __m512 b2 = _mm512_setzero_ps();
  __m512 b3 = _mm512_setzero_ps();
  int k;
  for (k = 0; k + 1 < n; k += 2) {
    const float *r = w + (size_t)k * W;
    __m512 s = _mm512_set1_ps(v[k]);
    __m512 t = _mm512_set1_ps(v[k + 1]);
    a0 = _mm512_fmadd_ps(s, _mm512_load_ps(r), a0);
    a1 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 16), a1);
    a2 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 32), a2);
    a3 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 48), a3);
    b0 = _mm512_fmadd_ps(t, _mm512_load_ps(r + 64), b0);
    b1 = _mm512_fmadd_ps(t, _mm512_load_ps(r + 80), b1);
    b2 = _mm512_fmadd_ps(t, _mm512_load_ps(r + 96), b2);
    b3 = _mm512_fmadd_ps(t, _mm512_load_ps(r + 112), b3);
  }
  if (k < n) {
    const float *r = w + (size_t)k * W;
    __m512 s = _mm512_set1_ps(v[k]);
    a0 = _mm512_fmadd_ps(s, _mm512_load_ps(r), a0);
    a1 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 16), a1);
    a2 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 32), a2);
    a3 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 48), a3);
  }
  _mm512_storeu_ps(out, _mm512_add_ps(a0, b0));
  _mm512_storeu_ps(out + 16, _mm512_add_ps(a1, b1));
  _mm512_storeu_ps(out + 32, _mm512_add_ps(a2, b2));
  _mm512_storeu_ps(out + 48, _mm512_add_ps(a3, b3));
}

TARGET static void cell(const rnj__lstm_pack_t *p, const float *v, float *c,
                        float *h) {
  _Alignas(64) float z[W];
  int b;
  for (b = 0; b < RNJ__GATE_PANELS; b++) {
    __m512 i;
    __m512 f;
    __m512 g;
    __m512 o;
    __m512 cn;
    panel(p->gates + (size_t)b * RNJ__GATE_ROWS * W, v, RNJ__GATE_ROWS, z);
    i = vsigmoid(_mm512_load_ps(z));
    f = vsigmoid(_mm512_load_ps(z + U));
    g = vtanh(_mm512_load_ps(z + 2 * U));
    o = vsigmoid(_mm512_load_ps(z + 3 * U));
    cn = _mm512_fmadd_ps(f, _mm512_loadu_ps(c + b * U), _mm512_mul_ps(i, g));
    _mm512_storeu_ps(c + b * U, cn);
    _mm512_storeu_ps(h + b * U, _mm512_mul_ps(o, vtanh(cn)));
  }
}

TARGET static float dot128(const float *a, const float *b) {
  __m512 s0 = _mm512_setzero_ps();
  __m512 s1 = _mm512_setzero_ps();
  int k;
  for (k = 0; k < H; k += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16),
                         _mm512_loadu_ps(b + k + 16), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
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
  for (i = 0; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(in + i);
    __m512 y = fn == RNJ__MATH_EXP       ? vexp(x)
               : fn == RNJ__MATH_SIGMOID ? vsigmoid(x)
                                         : vtanh(x);
    _mm512_storeu_ps(out + i, y);
  }
}

const rnj__lstm_kern_t rnj__lstm_kern_avx512 = {RNJ_KERNEL_AVX512, cell,
                                                heads, math};

/* ------------------------------------------------------------------ v2 */

/* The v2 step (lstm2_kern.h): the tutorial's panel product over (h, 1, s,
 * d), then the three looked-up rows added to the sums while the cell's
 * gates are formed. */
TARGET static void cell_v2(const rnj__lstm2_pack_t *p, const float *v,
                           const int *rows, float *c, float *h) {
  const int nrows = p->hidden + RNJ__V2_DENSE;
  _Alignas(64) float z[W];
  __m512 g4[4];
  int b;
  int q;
  for (b = 0; b < p->panels; b++) {
    const float *look = p->lookup + (size_t)b * RNJ__V2_LOOKUP * W;
    const float *r0 = look + (size_t)rows[0] * W;
    const float *r1 = look + (size_t)rows[1] * W;
    const float *r2 = look + (size_t)rows[2] * W;
    __m512 cn;
    panel(p->gates + (size_t)b * nrows * W, v, nrows, z);
    for (q = 0; q < 4; q++)
      g4[q] = _mm512_add_ps(
          _mm512_load_ps(z + 16 * q),
          _mm512_add_ps(_mm512_add_ps(_mm512_load_ps(r0 + 16 * q),
                                      _mm512_load_ps(r1 + 16 * q)),
                        _mm512_load_ps(r2 + 16 * q)));
    cn = _mm512_fmadd_ps(vsigmoid(g4[1]), _mm512_loadu_ps(c + b * U),
                         _mm512_mul_ps(vsigmoid(g4[0]), vtanh(g4[2])));
    _mm512_storeu_ps(c + b * U, cn);
    _mm512_storeu_ps(h + b * U, _mm512_mul_ps(vsigmoid(g4[3]), vtanh(cn)));
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

/* The running sum of w's lanes (lane i: w0 + ... + wi), in four shifted
 * adds. */
TARGET static inline __m512 prefix16(__m512 w) {
  const __m512i zero = _mm512_setzero_si512();
#define SHIFT_UP(x, k)                                                   \
  _mm512_castsi512_ps(                                                   \
      _mm512_alignr_epi32(_mm512_castps_si512(x), zero, 16 - (k)))
  w = _mm512_add_ps(w, SHIFT_UP(w, 1));
  w = _mm512_add_ps(w, SHIFT_UP(w, 2));
  w = _mm512_add_ps(w, SHIFT_UP(w, 4));
  w = _mm512_add_ps(w, SHIFT_UP(w, 8));
#undef SHIFT_UP
  return w;
}

/* rnj__sample_draw in 16 lanes (lstm2_kern.h): the weights exp((l - max)
 * / T), 0 below exp(-87) and for -inf and NaN, the bin where u * total
 * falls in their running sum.  The running sum is a vector prefix sum and
 * the bin the first lane past u * total, found from the comparison masks
 * without a branch per block (the scalar walk it replaces was a tenth of
 * the v2 step).  The float sums stay within 1e-6 of the exact ones, so
 * only a u that close to a bin's edge can fall on the other side of it
 * than in rnj__sample_draw; a lane must also have weight, because the
 * shifted sums are not exactly monotonic where a weight is 0. */
TARGET static int draw_v2(const float *logits, int n, float t, double u) {
  __m512 x[8];
  __m512 m = _mm512_set1_ps(-INFINITY);
  float max;
  int nv;
  int b;
  int i;
  n = n < 1 ? 1 : n > 128 ? 128 : n;
  nv = (n + 15) / 16;
  for (b = 0; b < nv; b++) {
    int left = n - 16 * b;
    __mmask16 k = left >= 16 ? (__mmask16)0xffff
                             : (__mmask16)((1u << left) - 1);
    x[b] = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k,
                                logits + 16 * b);
    /* NaN is never drawn: it becomes -inf */
    x[b] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x[b], x[b], _CMP_ORD_Q),
                                _mm512_set1_ps(-INFINITY), x[b]);
    m = _mm512_max_ps(m, x[b]);
  }
  max = _mm512_reduce_max_ps(m);
  if (t > 0 && max > -INFINITY) {
    const __m512 mx = _mm512_set1_ps(max);
    const __m512 inv = _mm512_set1_ps(1.0f / t);
    const __m512i last = _mm512_set1_epi32(15);
    __m512 carry = _mm512_setzero_ps();
    uint64_t past[2] = {0, 0};  /* lanes past the target, with weight */
    uint64_t heavy[2] = {0, 0}; /* lanes with weight */
    __mmask16 pk[8];
    __mmask16 hk[8];
    __m512 c[8];
    float total;
    for (b = 0; b < nv; b++) {
      __m512 a = _mm512_mul_ps(_mm512_sub_ps(x[b], mx), inv);
      __mmask16 in = _mm512_cmp_ps_mask(a, _mm512_set1_ps(-87.0f),
                                        _CMP_GE_OQ);
      __m512 w = _mm512_maskz_mov_ps(in, vexp(a));
      hk[b] = _mm512_cmp_ps_mask(w, _mm512_setzero_ps(), _CMP_GT_OQ);
      c[b] = _mm512_add_ps(prefix16(w), carry);
      carry = _mm512_permutexvar_ps(last, c[b]);
    }
    total = _mm_cvtss_f32(_mm512_castps512_ps128(carry));
    /* a finite max has weight 1 */
    if (total >= 1.0f && total < INFINITY) {
      const __m512 target = _mm512_set1_ps((float)(u * total));
      for (b = 0; b < nv; b++)
        pk[b] = _mm512_mask_cmp_ps_mask(hk[b], c[b], target, _CMP_GT_OQ);
      for (b = 0; b < nv; b++) {
        past[b / 4] |= (uint64_t)pk[b] << (16 * (b % 4));
        heavy[b / 4] |= (uint64_t)hk[b] << (16 * (b % 4));
      }
      if (past[0])
        return __builtin_ctzll(past[0]);
      if (past[1])
        return 64 + __builtin_ctzll(past[1]);
      /* rounding left the draw past the end: the last bin with weight */
      return heavy[1] ? 127 - __builtin_clzll(heavy[1])
                      : 63 - __builtin_clzll(heavy[0]);
    }
  }
  for (i = 0; i < n && !(logits[i] == max); i++)
    ;
  return i < n ? i : 0;
}

const rnj__lstm2_kern_t rnj__lstm2_kern_avx512 = {
    RNJ_KERNEL_AVX512, cell_v2, heads_v2, draw_v2, RNJ__V2_FP32};

/* ------------------------------------------- v2, half-precision weights */

/* out (16 nv) = sum over the rows of one half-precision panel of 16 nv
 * columns (lstm2_kern.h): each pair of rows of h, the even one converted
 * from half precision (vcvtph2ps) into one set of sums and the odd one
 * read as floats into another, so the conversions and the loads from L2
 * run side by side; then the `tail` float rows.  Always inlined with a
 * constant nv (3 or 4), so the sums stay in registers (an array of them
 * and a loop over nv left them in memory). */
TARGET static inline __attribute__((always_inline)) void
panel16(const unsigned char *panel, const float *restrict v, int hidden,
        int tail, int nv, float *restrict out) {
  const size_t w = 16 * (size_t)nv;
  const float *full = (const float *)panel;
  const float *tailrow = full + (size_t)(hidden / 2) * w;
  const uint16_t *half = (const uint16_t *)(tailrow + (size_t)tail * w);
  __m512 a0 = _mm512_setzero_ps();
  __m512 a1 = _mm512_setzero_ps();
  __m512 a2 = _mm512_setzero_ps();
  __m512 a3 = _mm512_setzero_ps();
  __m512 b0 = _mm512_setzero_ps();
  __m512 b1 = _mm512_setzero_ps();
  __m512 b2 = _mm512_setzero_ps();
  __m512 b3 = _mm512_setzero_ps();
  int q;
#define CVT16(r) _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(r)))
  for (q = 0; q < hidden / 2; q++) {
    const uint16_t *rh = half + (size_t)q * w;
    const float *rf = full + (size_t)q * w;
    __m512 s = _mm512_set1_ps(v[2 * q]);
    __m512 t = _mm512_set1_ps(v[2 * q + 1]);
    a0 = _mm512_fmadd_ps(s, CVT16(rh), a0);
    b0 = _mm512_fmadd_ps(t, _mm512_load_ps(rf), b0);
    a1 = _mm512_fmadd_ps(s, CVT16(rh + 16), a1);
    b1 = _mm512_fmadd_ps(t, _mm512_load_ps(rf + 16), b1);
    a2 = _mm512_fmadd_ps(s, CVT16(rh + 32), a2);
    b2 = _mm512_fmadd_ps(t, _mm512_load_ps(rf + 32), b2);
    if (nv == 4) {
      a3 = _mm512_fmadd_ps(s, CVT16(rh + 48), a3);
      b3 = _mm512_fmadd_ps(t, _mm512_load_ps(rf + 48), b3);
    }
  }
#undef CVT16
  for (q = 0; q < tail; q++) {
    const float *r = tailrow + (size_t)q * w;
    __m512 s = _mm512_set1_ps(v[hidden + q]);
    a0 = _mm512_fmadd_ps(s, _mm512_load_ps(r), a0);
    a1 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 16), a1);
    a2 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 32), a2);
    if (nv == 4)
      a3 = _mm512_fmadd_ps(s, _mm512_load_ps(r + 48), a3);
  }
  _mm512_storeu_ps(out, _mm512_add_ps(a0, b0));
  _mm512_storeu_ps(out + 16, _mm512_add_ps(a1, b1));
  _mm512_storeu_ps(out + 32, _mm512_add_ps(a2, b2));
  if (nv == 4)
    _mm512_storeu_ps(out + 48, _mm512_add_ps(a3, b3));
}

/* cell_v2 over the half-precision gate panels. */
TARGET static void cell_f16(const rnj__lstm2_pack_t *p, const float *v,
                            const int *rows, float *c, float *h) {
  const size_t stride =
      rnj__v2_f16_panel_bytes(p->hidden, W, RNJ__V2_DENSE);
  _Alignas(64) float z[W];
  __m512 g4[4];
  int b;
  int q;
  for (b = 0; b < p->panels; b++) {
    const float *look = p->lookup + (size_t)b * RNJ__V2_LOOKUP * W;
    const float *r0 = look + (size_t)rows[0] * W;
    const float *r1 = look + (size_t)rows[1] * W;
    const float *r2 = look + (size_t)rows[2] * W;
    __m512 cn;
    panel16(p->gates16 + b * stride, v, p->hidden, RNJ__V2_DENSE, 4, z);
    for (q = 0; q < 4; q++)
      g4[q] = _mm512_add_ps(
          _mm512_load_ps(z + 16 * q),
          _mm512_add_ps(_mm512_add_ps(_mm512_load_ps(r0 + 16 * q),
                                      _mm512_load_ps(r1 + 16 * q)),
                        _mm512_load_ps(r2 + 16 * q)));
    cn = _mm512_fmadd_ps(vsigmoid(g4[1]), _mm512_loadu_ps(c + b * U),
                         _mm512_mul_ps(vsigmoid(g4[0]), vtanh(g4[2])));
    _mm512_storeu_ps(c + b * U, cn);
    _mm512_storeu_ps(h + b * U, _mm512_mul_ps(vsigmoid(g4[3]), vtanh(cn)));
  }
}

/* The four heads over the half-precision head panels: five of 64
 * columns, the last of 48 (its last 8 columns zero), and the 16 logits
 * past those written as 0, as the float kernels' zero columns give. */
TARGET static void heads_f16(const rnj__lstm2_pack_t *p, const float *h,
                             float *out) {
  const size_t stride = rnj__v2_f16_panel_bytes(p->hidden, W, 1);
  const int last = RNJ__V2_HEAD_PANELS - 1;
  _Alignas(64) float v[RNJ_NET_HIDDEN_MAX + 1];
  int b;
  memcpy(v, h, (size_t)p->hidden * sizeof(float));
  v[p->hidden] = 1.0f;
  for (b = 0; b < last; b++)
    panel16(p->heads16 + b * stride, v, p->hidden, 1, 4, out + b * W);
  panel16(p->heads16 + last * stride, v, p->hidden, 1, 3, out + last * W);
  _mm512_storeu_ps(out + last * W + RNJ__V2_F16_LAST_W,
                   _mm512_setzero_ps());
}

const rnj__lstm2_kern_t rnj__lstm2_kern_avx512_f16 = {
    RNJ_KERNEL_AVX512_F16, cell_f16, heads_f16, draw_v2, RNJ__V2_F16};

#endif
