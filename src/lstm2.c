/* lstm2: the v2 model's step and heads, portable, and its packing.
 *
 * The packed layout is lstm2_kern.h's.  The portable kernel uses the same
 * product and nonlinearities as the tutorial's (lstm_portable.h): GNU C's
 * generic vectors, libm's expf.  It is the baseline the SIMD kernels are
 * tested against.  Nothing here allocates (the caller gives the memory),
 * so it may run on a real-time thread.
 *
 * Limits: float32 throughout; sums in a different order than PyTorch's,
 * so the outputs agree with it to rounding (about 1e-6 relative).
 */
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
    RNJ_KERNEL_PORTABLE, cell_portable, heads_portable, rnj__sample_draw};

/* ------------------------------------------------------------- dispatch */

const rnj__lstm2_kern_t *rnj__lstm2_kern_find(rnj_kernel_t kernel) {
  /* The CPU question is the tutorial's kernels' (the same instruction
   * sets, the same files); AUTO becomes the best the CPU has. */
  const rnj__lstm_kern_t *k = rnj__lstm_kern_find(kernel);
  if (!k)
    return NULL;
  switch (k->id) {
#ifdef RNJ__HAVE_X86_KERNELS
  case RNJ_KERNEL_AVX2:
    return &rnj__lstm2_kern_avx2;
  case RNJ_KERNEL_AVX512:
    return &rnj__lstm2_kern_avx512;
#endif
  default:
    return &rnj__lstm2_kern_portable;
  }
}

/* -------------------------------------------------------------- packing */

size_t rnj__lstm2_pack_floats(int hidden) {
  size_t panels = (size_t)hidden / U;
  return panels * (size_t)(hidden + RNJ__V2_DENSE) * W +
         panels * RNJ__V2_LOOKUP * W +
         (size_t)RNJ__V2_HEAD_PANELS * (size_t)(hidden + 1) * W;
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

void rnj__lstm2_pack(rnj__lstm2_pack_t *p, float *dst,
                     const rnj_model_t *m) {
  const int hidden = m->hidden;
  const int panels = hidden / U;
  const int nrows = hidden + RNJ__V2_DENSE;
  const size_t g = 4 * (size_t)hidden;
  float *gates = dst;
  float *lookup = gates + (size_t)panels * nrows * W;
  float *heads = lookup + (size_t)panels * RNJ__V2_LOOKUP * W;
  int b;
  int r;
  int j;
  for (b = 0; b < panels; b++)
    for (j = 0; j < W; j++) {
      size_t col = (size_t)gate_col(hidden, b, j);
      for (r = 0; r < nrows; r++) {
        float w;
        if (r < hidden)
          w = m->recurrent_kernel[(size_t)r * g + col];
        else if (r == hidden)
          w = m->bias[col];
        else if (r == hidden + 1)
          w = m->kernel[RNJ_ENCODING_ROW_STEP * g + col];
        else
          w = m->kernel[RNJ_ENCODING_ROW_DURATION * g + col];
        gates[((size_t)b * nrows + r) * W + j] = w;
      }
      for (r = 0; r < RNJ__V2_LOOKUP; r++)
        lookup[((size_t)b * RNJ__V2_LOOKUP + r) * W + j] =
            m->kernel[(size_t)kernel_row(r) * g + col];
    }
  for (b = 0; b < RNJ__V2_HEAD_PANELS; b++)
    for (r = 0; r <= hidden; r++)
      for (j = 0; j < W; j++)
        heads[((size_t)b * (hidden + 1) + r) * W + j] =
            head_weight(m, r, b * W + j);
  p->hidden = hidden;
  p->panels = panels;
  p->gates = gates;
  p->lookup = lookup;
  p->heads = heads;
}
