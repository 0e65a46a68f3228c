/* lstm: the inference step of the tutorial's LSTM(128) and its heads.
 *
 * rnj_lstm_new repacks the Keras-layout weights of an rnj_model_t into one
 * 64-byte-aligned block laid out for the step (lstm_kern.h explains the
 * panels) and picks a kernel: AVX-512, AVX2/FMA or portable C, by what the
 * CPU reports at run time.  The step itself (rnj_lstm_step) allocates
 * nothing, takes no lock and does a fixed amount of work, so it may run on a
 * real-time thread.  The portable kernel is C (GNU C's generic vectors for
 * the products, libm's expf for the nonlinearities); it is the baseline the
 * SIMD kernels are tested against, and the only kernel on CPUs other than
 * x86-64.
 *
 * Limits: float32 throughout (the checkpoint's precision); the kernels sum
 * in different orders, so their outputs agree to rounding (about 1e-6
 * relative), not bit for bit.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "lstm_kern.h"
#include "lstm_portable.h"
#include "rnnjam/lstm.h"

#ifdef RNJ__HAVE_X86_KERNELS
#include <cpuid.h>
#endif

#define H RNJ_MODEL_HIDDEN
#define G RNJ_MODEL_GATES
#define P RNJ_MODEL_PITCHES
#define W RNJ__PANEL_W
#define U RNJ__PANEL_UNITS

#define GATE_FLOATS (RNJ__GATE_PANELS * RNJ__GATE_ROWS * W)
#define LOGIT_FLOATS (RNJ__LOGIT_PANELS * RNJ__LOGIT_ROWS * W)
#define SD_FLOATS (2 * H)
#define ALIGN 64

struct rnj_lstm_s {
  rnj__lstm_pack_t pack;
  const rnj__lstm_kern_t *kern;
  void *mem; /* the one allocation: this struct and the weights */
};

/* ------------------------------------------------------ portable kernel */

/* Dot product of 128 in 4 x 2 running sums. */
static float dot128_portable(const float *a, const float *b) {
  v4sf s0 = {0};
  v4sf s1 = {0};
  int k;
  for (k = 0; k < H; k += 8) {
    v4sf a0;
    v4sf a1;
    v4sf b0;
    v4sf b1;
    memcpy(&a0, a + k, sizeof a0);
    memcpy(&a1, a + k + 4, sizeof a1);
    memcpy(&b0, b + k, sizeof b0);
    memcpy(&b1, b + k + 4, sizeof b1);
    s0 += a0 * b0;
    s1 += a1 * b1;
  }
  s0 += s1;
  return (s0[0] + s0[2]) + (s0[1] + s0[3]);
}

static void cell_portable(const rnj__lstm_pack_t *p, const float *v,
                          float *c, float *h) {
  float z[W];
  int b;
  int u;
  for (b = 0; b < RNJ__GATE_PANELS; b++) {
    panel_portable(p->gates + (size_t)b * RNJ__GATE_ROWS * W, v,
                   RNJ__GATE_ROWS, z);
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

static void heads_portable(const rnj__lstm_pack_t *p, const float *h,
                           rnj_lstm_out_t *out) {
  float v[RNJ__LOGIT_ROWS];
  int b;
  memcpy(v, h, H * sizeof(float));
  v[H] = 1.0f;
  for (b = 0; b < RNJ__LOGIT_PANELS; b++)
    panel_portable(p->logits + (size_t)b * RNJ__LOGIT_ROWS * W, v,
                   RNJ__LOGIT_ROWS, out->logits + b * W);
  out->step = dot128_portable(p->sd, h) + p->step_bias;
  out->duration = dot128_portable(p->sd + H, h) + p->duration_bias;
}

static void math_portable(int fn, const float *in, float *out, int n) {
  int i;
  for (i = 0; i < n; i++)
    out[i] = fn == RNJ__MATH_EXP       ? expf(in[i])
             : fn == RNJ__MATH_SIGMOID ? sigmoid(in[i])
                                       : tanh_portable(in[i]);
}

const rnj__lstm_kern_t rnj__lstm_kern_portable = {
    RNJ_KERNEL_PORTABLE, cell_portable, heads_portable, math_portable};

/* ------------------------------------------------------------- dispatch */

unsigned rnj__cpu_features(void) {
  unsigned f = 0;
#ifdef RNJ__HAVE_X86_KERNELS
  /* __builtin_cpu_supports also checks that the OS saves the wide
   * registers (XCR0), not only the CPUID bits. */
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    f |= RNJ__CPU_AVX2_FMA;
  if (__builtin_cpu_supports("avx512f"))
    f |= RNJ__CPU_AVX512F;
  /* clang's __builtin_cpu_supports has no "f16c": CPUID leaf 1 says it.
   * Its registers' OS support is AVX's, which avx512f above implies, and
   * the f16 kernel needs both. */
  {
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C))
      f |= RNJ__CPU_F16C;
  }
#endif
  return f;
}

int rnj__kernel_supported_on(rnj_kernel_t kernel, unsigned f) {
  switch (kernel) {
  case RNJ_KERNEL_AUTO:
  case RNJ_KERNEL_PORTABLE:
    return 1;
  case RNJ_KERNEL_AVX2:
    return (f & RNJ__CPU_AVX2_FMA) != 0;
  case RNJ_KERNEL_AVX512:
    return (f & RNJ__CPU_AVX512F) != 0;
  case RNJ_KERNEL_AVX512_F16:
    return (f & (RNJ__CPU_AVX512F | RNJ__CPU_F16C)) ==
           (RNJ__CPU_AVX512F | RNJ__CPU_F16C);
  }
  return 0;
}

/* The tutorial's kernels.  AUTO is the widest the CPU has; there is no
 * half-precision one (its step is the exact reference, and it is fast
 * enough). */
const rnj__lstm_kern_t *rnj__lstm_kern_find(rnj_kernel_t kernel) {
  unsigned f = rnj__cpu_features();
  if (kernel == RNJ_KERNEL_AUTO)
    kernel = rnj__kernel_supported_on(RNJ_KERNEL_AVX512, f) ? RNJ_KERNEL_AVX512
             : rnj__kernel_supported_on(RNJ_KERNEL_AVX2, f)
                 ? RNJ_KERNEL_AVX2
                 : RNJ_KERNEL_PORTABLE;
  if (!rnj__kernel_supported_on(kernel, f))
    return NULL;
  switch (kernel) {
#ifdef RNJ__HAVE_X86_KERNELS
  case RNJ_KERNEL_AVX2:
    return &rnj__lstm_kern_avx2;
  case RNJ_KERNEL_AVX512:
    return &rnj__lstm_kern_avx512;
#endif
  case RNJ_KERNEL_PORTABLE:
    return &rnj__lstm_kern_portable;
  default:
    return NULL;
  }
}

int rnj_kernel_supported(rnj_kernel_t kernel) {
  return rnj__kernel_supported_on(kernel, rnj__cpu_features());
}

const char *rnj_kernel_name(rnj_kernel_t kernel) {
  switch (kernel) {
  case RNJ_KERNEL_AUTO:
    return "auto";
  case RNJ_KERNEL_PORTABLE:
    return "portable";
  case RNJ_KERNEL_AVX2:
    return "avx2";
  case RNJ_KERNEL_AVX512:
    return "avx512";
  case RNJ_KERNEL_AVX512_F16:
    return "avx512-f16";
  }
  return "unknown";
}

int rnj_kernel_parse(const char *name, rnj_kernel_t *kernel) {
  static const rnj_kernel_t all[] = {RNJ_KERNEL_AUTO, RNJ_KERNEL_PORTABLE,
                                     RNJ_KERNEL_AVX2, RNJ_KERNEL_AVX512,
                                     RNJ_KERNEL_AVX512_F16};
  size_t i;
  for (i = 0; name && i < sizeof all / sizeof all[0]; i++)
    if (strcmp(name, rnj_kernel_name(all[i])) == 0) {
      *kernel = all[i];
      return 0;
    }
  return RNJ_EINVAL;
}

/* -------------------------------------------------------------- packing */

/* Gate panel b, column j -> the Keras column (gate * 128 + unit). */
static int gate_col(int b, int j) { return (j / U) * H + b * U + j % U; }

static void pack_gates(float *dst, const rnj_model_t *m) {
  int b;
  int r;
  int j;
  for (b = 0; b < RNJ__GATE_PANELS; b++)
    for (r = 0; r < RNJ__GATE_ROWS; r++)
      for (j = 0; j < W; j++) {
        int col = gate_col(b, j);
        float w;
        if (r < H)
          w = m->recurrent_kernel[(size_t)r * G + col];
        else if (r == H)
          w = m->bias[col];
        else
          w = m->kernel[(size_t)(r - H - 1) * G + col];
        dst[((size_t)b * RNJ__GATE_ROWS + r) * W + j] = w;
      }
}

static void pack_logits(float *dst, const rnj_model_t *m) {
  int b;
  int r;
  int j;
  for (b = 0; b < RNJ__LOGIT_PANELS; b++)
    for (r = 0; r < RNJ__LOGIT_ROWS; r++)
      for (j = 0; j < W; j++) {
        int col = b * W + j;
        dst[((size_t)b * RNJ__LOGIT_ROWS + r) * W + j] =
            r < H ? m->pitch_kernel[(size_t)r * P + col] : m->pitch_bias[col];
      }
}

int rnj_lstm_new(rnj_lstm_t **out, const rnj_model_t *model,
                 rnj_kernel_t kernel) {
  const rnj__lstm_kern_t *kern;
  size_t floats = GATE_FLOATS + LOGIT_FLOATS + SD_FLOATS;
  size_t size;
  uint8_t *mem;
  float *w;
  rnj_lstm_t *lstm;

  *out = NULL;
  if (!model || !model->params || model->kind != RNJ_MODEL_TUTORIAL ||
      (unsigned)kernel > (unsigned)RNJ_KERNEL_AVX512_F16)
    return RNJ_EINVAL;
  kern = rnj__lstm_kern_find(kernel);
  if (!kern)
    return RNJ_ENOSYS;
  /* One block: alignment slack, the weights, then the struct. */
  size = ALIGN + floats * sizeof(float) + sizeof(rnj_lstm_t);
  mem = rnj__malloc(size);
  if (!mem)
    return RNJ_ENOMEM;
  w = (float *)(mem + (ALIGN - (uintptr_t)mem % ALIGN) % ALIGN);
  lstm = (rnj_lstm_t *)(w + floats);

  pack_gates(w, model);
  pack_logits(w + GATE_FLOATS, model);
  memcpy(w + GATE_FLOATS + LOGIT_FLOATS, model->step_kernel,
         H * sizeof(float));
  memcpy(w + GATE_FLOATS + LOGIT_FLOATS + H, model->duration_kernel,
         H * sizeof(float));
  lstm->pack.gates = w;
  lstm->pack.logits = w + GATE_FLOATS;
  lstm->pack.sd = w + GATE_FLOATS + LOGIT_FLOATS;
  lstm->pack.step_bias = model->step_bias[0];
  lstm->pack.duration_bias = model->duration_bias[0];
  lstm->kern = kern;
  lstm->mem = mem;
  *out = lstm;
  return 0;
}

void rnj_lstm_delete(rnj_lstm_t *lstm) {
  if (lstm)
    rnj__free(lstm->mem);
}

rnj_kernel_t rnj_lstm_kernel(const rnj_lstm_t *lstm) {
  return lstm->kern->id;
}

/* ----------------------------------------------------------------- step */

void rnj_lstm_reset(rnj_lstm_state_t *state) {
  memset(state, 0, sizeof *state);
}

void rnj_lstm_input(float x[RNJ_MODEL_INPUT], int pitch, double step,
                    double duration) {
  x[0] = (float)pitch / RNJ_MODEL_PITCH_SCALE;
  x[1] = (float)step;
  x[2] = (float)duration;
}

void rnj__lstm_step_hc(const rnj_lstm_t *lstm, float *h, float *c,
                       const float x[RNJ_MODEL_INPUT]) {
  /* The step's input vector (h, 1, x); h is copied because the kernel
   * writes the new h over the old while later panels still read it. */
  _Alignas(ALIGN) float v[RNJ__GATE_ROWS];
  memcpy(v, h, H * sizeof(float));
  v[H] = 1.0f;
  v[H + 1] = x[0];
  v[H + 2] = x[1];
  v[H + 3] = x[2];
  lstm->kern->cell(&lstm->pack, v, c, h);
}

void rnj__lstm_heads_h(const rnj_lstm_t *lstm, const float *h,
                       rnj_lstm_out_t *out) {
  lstm->kern->heads(&lstm->pack, h, out);
}

void rnj_lstm_step(const rnj_lstm_t *lstm, rnj_lstm_state_t *state,
                   const float x[RNJ_MODEL_INPUT], rnj_lstm_out_t *out) {
  rnj__lstm_step_hc(lstm, state->h, state->c, x);
  if (out)
    lstm->kern->heads(&lstm->pack, state->h, out);
}

void rnj_lstm_heads(const rnj_lstm_t *lstm, const rnj_lstm_state_t *state,
                    rnj_lstm_out_t *out) {
  lstm->kern->heads(&lstm->pack, state->h, out);
}

void rnj_lstm_window(const rnj_lstm_t *lstm, const float *x, int n,
                     rnj_lstm_out_t *out) {
  rnj_lstm_state_t state;
  int t;
  rnj_lstm_reset(&state);
  for (t = 0; t < n; t++)
    rnj_lstm_step(lstm, &state, x + (size_t)t * RNJ_MODEL_INPUT, NULL);
  rnj_lstm_heads(lstm, &state, out);
}
