/* lstm2: the v2 model's step and heads, portable, its packing, and the
 * choice of its kernel.
 *
 * The packed layouts are lstm2_kern.h's: float, or (for the avx512-f16
 * kernel) half the rows as IEEE half precision, rounded here by a
 * portable conversion that gives F16C's bits.  The portable kernel uses
 * the same product and nonlinearities as the tutorial's
 * (lstm_portable.h): GNU C's generic vectors, libm's expf.  It is the
 * baseline the SIMD kernels are tested against.  Nothing here allocates
 * (the caller gives the memory), so it may run on a real-time thread.
 *
 * Limits: float32 throughout (but for the avx512-f16 kernel's half
 * weights: rnj_net_new says by how much they move the outputs); sums in
 * a different order than PyTorch's, so the outputs agree with it to
 * rounding (about 1e-6 relative).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "lstm2_kern.h"
#include "lstm_portable.h"

#define W RNJ__V2_W
#define U RNJ__V2_UNITS

/* ------------------------------------------------------ portable kernel */

static void cell_portable(const rnj__lstm2_pack_t *p, const float *v,
                          const int *rows, float *c, float *h) {
  const int nrows = p->hidden + RNJ__V2_DENSE;
  float z[W];
  int b;
  int u;
  int j;
  for (b = 0; b < p->panels; b++) {
    const float *look = p->lookup + (size_t)b * RNJ__V2_LOOKUP * W;
    const float *r0 = look + (size_t)rows[0] * W;
    const float *r1 = look + (size_t)rows[1] * W;
    const float *r2 = look + (size_t)rows[2] * W;
    panel_portable(p->gates + (size_t)b * nrows * W, v, nrows, z);
    /* the one-hot inputs: added, never multiplied */
    for (j = 0; j < W; j++)
      z[j] += (r0[j] + r1[j]) + r2[j];
    for (u = 0; u < U; u++) {
      float i = sigmoid(z[u]);
      float f = sigmoid(z[U + u]);
      float g = tanh_portable(z[2 * U + u]);
      float o = sigmoid(z[3 * U + u]);
      float cn = f * c[b * U + u] + i * g;
      c[b * U + u] = cn;
      h[b * U + u] = o * tanh_portable(cn);
    }
  }
}

static void heads_portable(const rnj__lstm2_pack_t *p, const float *h,
                           float *out) {
  _Alignas(64) float v[RNJ_NET_HIDDEN_MAX + 1];
  const int nrows = p->hidden + 1;
  int b;
  memcpy(v, h, (size_t)p->hidden * sizeof(float));
  v[p->hidden] = 1.0f;
  for (b = 0; b < RNJ__V2_HEAD_PANELS; b++)
    panel_portable(p->heads + (size_t)b * nrows * W, v, nrows, out + b * W);
}

const rnj__lstm2_kern_t rnj__lstm2_kern_portable = {
    RNJ_KERNEL_PORTABLE, cell_portable, heads_portable, rnj__sample_draw,
    RNJ__V2_FP32};

/* ------------------------------------------------------------- dispatch */

/* Whether RNJ_KERNEL_AUTO picks the half-precision kernel for a v2 model
 * where the CPU has AVX-512F and F16C.  It does, because it is faster
 * and the model does not notice: on an AMD Zen 4 (1 MB L2 a core, the
 * float weights of H = 128, 466 KB, stream from L2 every step; the half
 * rows make them 0.75 of that), `rnnjam bench` on a trained H = 128 model
 * took p50 3.75-3.78 us against 4.76-4.97 us for avx512 (three alternated
 * runs each, a loaded machine); its held-out loss (`rnnjam eval
 * --kernel`) moved by 1e-5 of 4.5 (piano) and 2.4 (folk) nats. */
#define AUTO_F16 1

const rnj__lstm2_kern_t *rnj__lstm2_kern_pick(rnj_kernel_t kernel,
                                              unsigned f) {
  if (kernel == RNJ_KERNEL_AUTO)
    kernel = AUTO_F16 && rnj__kernel_supported_on(RNJ_KERNEL_AVX512_F16, f)
                 ? RNJ_KERNEL_AVX512_F16
             : rnj__kernel_supported_on(RNJ_KERNEL_AVX512, f)
                 ? RNJ_KERNEL_AVX512
             : rnj__kernel_supported_on(RNJ_KERNEL_AVX2, f)
                 ? RNJ_KERNEL_AVX2
                 : RNJ_KERNEL_PORTABLE;
  if (!rnj__kernel_supported_on(kernel, f))
    return NULL;
  switch (kernel) {
#ifdef RNJ__HAVE_X86_KERNELS
  case RNJ_KERNEL_AVX2:
    return &rnj__lstm2_kern_avx2;
  case RNJ_KERNEL_AVX512:
    return &rnj__lstm2_kern_avx512;
  case RNJ_KERNEL_AVX512_F16:
    return &rnj__lstm2_kern_avx512_f16;
#endif
  case RNJ_KERNEL_PORTABLE:
    return &rnj__lstm2_kern_portable;
  default:
    return NULL;
  }
}

const rnj__lstm2_kern_t *rnj__lstm2_kern_find(rnj_kernel_t kernel) {
  return rnj__lstm2_kern_pick(kernel, rnj__cpu_features());
}

/* ------------------------------------------------------- half precision */

uint16_t rnj__f16_from_float(float f) {
  uint32_t x;
  uint32_t sign;
  uint32_t ax;
  memcpy(&x, &f, sizeof x);
  sign = (x >> 16) & 0x8000u;
  ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) /* NaN: quiet, the payload's top bits kept */
    return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  if (ax >= 0x477ff000u) /* >= 65520: rounds past 65504, to infinity */
    return (uint16_t)(sign | 0x7c00u);
  if (ax >= 0x38800000u) { /* >= 2^-14: a normal half */
    uint32_t r = ax - 0x38000000u; /* exponent rebased by -112 */
    r += 0xfffu + ((r >> 13) & 1u); /* to nearest, ties to even */
    return (uint16_t)(sign | (r >> 13));
  }
  if (ax < 0x33000000u) /* <= 2^-25: rounds to zero (2^-25 is a tie) */
    return (uint16_t)sign;
  {
    /* a subnormal half: the value in units of 2^-24, to nearest even */
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int)(ax >> 23); /* 14 .. 24 */
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u)))
      q++;
    return (uint16_t)(sign | q);
  }
}

float rnj__f16_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu;
  uint32_t m = h & 0x3ffu;
  uint32_t x;
  float f;
  if (e == 0) { /* zero or subnormal: m * 2^-24, exact in float */
    f = (float)m * 0x1p-24f;
    return sign ? -f : f;
  }
  if (e == 31) /* infinity, or NaN made quiet as F16C does */
    x = sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0);
  else
    x = sign | ((e + 112) << 23) | (m << 13);
  memcpy(&f, &x, sizeof f);
  return f;
}

/* -------------------------------------------------------------- packing */

static size_t lookup_floats(int hidden) {
  return (size_t)(hidden / U) * RNJ__V2_LOOKUP * W;
}

static size_t gate16_bytes(int hidden) {
  return (size_t)(hidden / U) *
         rnj__v2_f16_panel_bytes(hidden, W, RNJ__V2_DENSE);
}

static size_t head16_bytes(int hidden) {
  return (RNJ__V2_HEAD_PANELS - 1) * rnj__v2_f16_panel_bytes(hidden, W, 1) +
         rnj__v2_f16_panel_bytes(hidden, RNJ__V2_F16_LAST_W, 1);
}

size_t rnj__lstm2_pack_bytes(int hidden, int format) {
  size_t panels = (size_t)hidden / U;
  if (format == RNJ__V2_F16)
    return gate16_bytes(hidden) + head16_bytes(hidden) +
           lookup_floats(hidden) * sizeof(float);
  return (panels * (size_t)(hidden + RNJ__V2_DENSE) * W +
          lookup_floats(hidden) +
          (size_t)RNJ__V2_HEAD_PANELS * (size_t)(hidden + 1) * W) *
         sizeof(float);
}

/* Panel b, column j -> the Keras gate column (gate * H + unit). */
static int gate_col(int hidden, int b, int j) {
  return (j / U) * hidden + b * U + j % U;
}

/* Lookup row r -> the row of lstm.kernel it copies. */
static int kernel_row(int r) {
  if (r < RNJ__V2_LOOKUP_PHASE)
    return RNJ_ENCODING_ROW_PITCH + r;
  if (r < RNJ__V2_LOOKUP_VELOCITY)
    return RNJ_ENCODING_ROW_PHASE + r - RNJ__V2_LOOKUP_PHASE;
  return RNJ_ENCODING_ROW_VELOCITY + r - RNJ__V2_LOOKUP_VELOCITY;
}

/* Head column j (0..383) -> its weight in row r of h (r == H: the bias). */
static float head_weight(const rnj_model_t *m, int r, int j) {
  const int hidden = m->hidden;
  const float *k;
  const float *bias;
  int n;
  if (j < RNJ_NET_STEP_AT) {
    k = m->pitch_kernel;
    bias = m->pitch_bias;
    n = RNJ_ENCODING_PITCHES;
  } else if (j < RNJ_NET_DURATION_AT) {
    k = m->step_kernel;
    bias = m->step_bias;
    n = RNJ_ENCODING_STEP_BINS;
    j -= RNJ_NET_STEP_AT;
  } else if (j < RNJ_NET_VELOCITY_AT) {
    k = m->duration_kernel;
    bias = m->duration_bias;
    n = RNJ_ENCODING_DURATION_BINS;
    j -= RNJ_NET_DURATION_AT;
  } else if (j < RNJ_NET_LOGITS_USED) {
    k = m->velocity_kernel;
    bias = m->velocity_bias;
    n = RNJ_ENCODING_VELOCITY_BINS;
    j -= RNJ_NET_VELOCITY_AT;
  } else {
    return 0.0f; /* padding to whole panels */
  }
  return r < hidden ? k[(size_t)r * n + j] : bias[j];
}

/* Gate panel b, row r of (h, 1, s, d), column j: its weight. */
static float gate_weight(const rnj_model_t *m, int b, int r, int j) {
  const int hidden = m->hidden;
  const size_t g = 4 * (size_t)hidden;
  size_t col = (size_t)gate_col(hidden, b, j);
  if (r < hidden)
    return m->recurrent_kernel[(size_t)r * g + col];
  if (r == hidden)
    return m->bias[col];
  if (r == hidden + 1)
    return m->kernel[RNJ_ENCODING_ROW_STEP * g + col];
  return m->kernel[RNJ_ENCODING_ROW_DURATION * g + col];
}

int rnj__lstm2_f16_fits(const rnj_model_t *m) {
  const int hidden = m->hidden;
  int b;
  int r;
  int j;
  for (b = 0; b < hidden / U; b++)
    for (r = 0; r < hidden; r += 2)
      for (j = 0; j < W; j++)
        if (!(fabsf(gate_weight(m, b, r, j)) < 65520.0f))
          return 0;
  for (r = 0; r < hidden; r += 2)
    for (j = 0; j < RNJ_NET_LOGITS_USED; j++)
      if (!(fabsf(head_weight(m, r, j)) < 65520.0f))
        return 0;
  return 1;
}

/* RNJ__V2_F16: one panel of w columns into dst (lstm2_kern.h's order),
 * its weights from get(m, b, row, column). */
static void pack16_panel(unsigned char *dst, const rnj_model_t *m, int b,
                         int w, int tail,
                         float (*get)(const rnj_model_t *, int, int, int)) {
  const int hidden = m->hidden;
  float *full = (float *)dst;
  uint16_t *half =
      (uint16_t *)(dst + ((size_t)hidden / 2 + (size_t)tail) * w * 4);
  int r;
  int j;
  for (r = 0; r < hidden + tail; r++)
    for (j = 0; j < w; j++) {
      float x = get(m, b, r, j);
      if (RNJ__V2_F16_ROW(r, hidden))
        half[(size_t)(r / 2) * w + j] = rnj__f16_from_float(x);
      else if (r < hidden)
        full[(size_t)(r / 2) * w + j] = x;
      else
        full[((size_t)hidden / 2 + (size_t)(r - hidden)) * w + j] = x;
    }
}

static float head_weight_b(const rnj_model_t *m, int b, int r, int j) {
  return head_weight(m, r, b * W + j);
}

void rnj__lstm2_pack(rnj__lstm2_pack_t *p, void *dst, const rnj_model_t *m,
                     int format) {
  const int hidden = m->hidden;
  const int panels = hidden / U;
  const int nrows = hidden + RNJ__V2_DENSE;
  const size_t g = 4 * (size_t)hidden;
  float *lookup;
  int b;
  int r;
  int j;
  memset(p, 0, sizeof *p);
  if (format == RNJ__V2_F16) {
    unsigned char *gates = dst;
    unsigned char *heads = gates + gate16_bytes(hidden);
    size_t gstride = rnj__v2_f16_panel_bytes(hidden, W, RNJ__V2_DENSE);
    size_t hstride = rnj__v2_f16_panel_bytes(hidden, W, 1);
    lookup = (float *)(heads + head16_bytes(hidden));
    for (b = 0; b < panels; b++)
      pack16_panel(gates + b * gstride, m, b, W, RNJ__V2_DENSE, gate_weight);
    for (b = 0; b < RNJ__V2_HEAD_PANELS; b++)
      pack16_panel(heads + b * hstride, m, b,
                   b + 1 < RNJ__V2_HEAD_PANELS ? W : RNJ__V2_F16_LAST_W, 1,
                   head_weight_b);
    p->gates16 = gates;
    p->heads16 = heads;
  } else {
    float *gates = dst;
    float *heads = gates + (size_t)panels * nrows * W;
    lookup = heads + (size_t)RNJ__V2_HEAD_PANELS * (hidden + 1) * W;
    for (b = 0; b < panels; b++)
      for (r = 0; r < nrows; r++)
        for (j = 0; j < W; j++)
          gates[((size_t)b * nrows + r) * W + j] = gate_weight(m, b, r, j);
    for (b = 0; b < RNJ__V2_HEAD_PANELS; b++)
      for (r = 0; r <= hidden; r++)
        for (j = 0; j < W; j++)
          heads[((size_t)b * (hidden + 1) + r) * W + j] =
              head_weight(m, r, b * W + j);
    p->gates = gates;
    p->heads = heads;
  }
  for (b = 0; b < panels; b++)
    for (j = 0; j < W; j++) {
      size_t col = (size_t)gate_col(hidden, b, j);
      for (r = 0; r < RNJ__V2_LOOKUP; r++)
        lookup[((size_t)b * RNJ__V2_LOOKUP + r) * W + j] =
            m->kernel[(size_t)kernel_row(r) * g + col];
    }
  p->hidden = hidden;
  p->panels = panels;
  p->lookup = lookup;
}
