/* lstm: every kernel the CPU has against PyTorch's float64 reference
 * (tests/reference.py), in stream and window mode; the kernels against
 * each other on random weights and states; the vector exp/sigmoid/tanh
 * against double libm; and the real-time promise that a step allocates
 * nothing. */
#include <stdint.h>

#include "../src/lstm_kern.h"
#include "rnnjam/alloc.h"
#include "rnnjam/ckpt.h"
#include "rnnjam/err.h"
#include "rnnjam/loss.h"
#include "rnnjam/lstm.h"
#include "rnnjam/model.h"
#include "rnnjam/sample.h"
#include "test.h"

#define H RNJ_MODEL_HIDDEN
#define NOTES 40
#define SEQ RNJ_MODEL_SEQ_LENGTH
#define NWIN 3
#define NOUT (RNJ_MODEL_PITCHES + 2)
/* Relative error allowed against float64, and the magnitude below which it
 * becomes absolute (1e-5 * 0.1 = 1e-6).  PyTorch's own float32 run stays
 * within 4.3e-6 of it by this measure (tests/data/ref-lstm.txt). */
#define TOL 1e-5
#define FLOOR 0.1

static const int window_start[NWIN] = {0, 7, 14};
static const rnj_kernel_t kernels[] = {RNJ_KERNEL_PORTABLE, RNJ_KERNEL_AVX2,
                                       RNJ_KERNEL_AVX512};
#define NKERNELS ((int)(sizeof kernels / sizeof kernels[0]))

/* The reference arrays, in the order reference.py writes them. */
static struct {
  double x[NOTES][3];
  double h[NOTES][H];
  double c[NOTES][H];
  double out[NOTES][NOUT];
  double win_out[NWIN][NOUT];
  double win_loss[NWIN][4];
} ref;

static void path_of(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", test_data_dir(), name);
}

static uint8_t *slurp(const char *name, size_t *len) {
  char path[4096];
  FILE *f;
  uint8_t *buf;
  long n;
  path_of(path, sizeof path, name);
  f = fopen(path, "rb");
  if (!f)
    FAIL("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc(n > 0 ? (size_t)n : 1);
  ASSERT(buf);
  ASSERT_EQ(fread(buf, 1, (size_t)n, f), n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void load_ref(void) {
  size_t len;
  uint8_t *buf = slurp("ref-lstm.f64", &len);
  ASSERT_EQ(len, sizeof ref);
  memcpy(&ref, buf, sizeof ref); /* little-endian doubles, as x86 */
  free(buf);
}

/* The checkpoint without the loader: its data section is the parameters in
 * table order.  The header is checked just enough to know that the file
 * and the table agree. */
static void load_ref_model(rnj_model_t *m) {
  const rnj_tensor_info_t *t = rnj_model_tensors();
  size_t len;
  uint8_t *buf = slurp("ref-model.safetensors", &len);
  uint64_t hlen = 0;
  char *header;
  int i;
  ASSERT(len > 8);
  for (i = 7; i >= 0; i--)
    hlen = hlen << 8 | buf[i];
  ASSERT_EQ(len, 8 + hlen + RNJ_MODEL_NPARAMS * sizeof(float));
  header = calloc(1, hlen + 1);
  ASSERT(header);
  memcpy(header, buf + 8, hlen);
  for (i = 0; i < RNJ_MODEL_NTENSORS; i++) {
    char want[256];
    snprintf(want, sizeof want, "\"%s\":{\"dtype\":\"F32\",\"shape\":[%d%s",
             t[i].name, t[i].shape[0], t[i].ndim == 2 ? "," : "]");
    ASSERT_CONTAINS(header, want);
    snprintf(want, sizeof want, "\"data_offsets\":[%zu,%zu]}",
             t[i].offset * 4, (t[i].offset + t[i].count) * 4);
    ASSERT_CONTAINS(header, want);
  }
  ASSERT_CONTAINS(header, "\"format\":\"rnnjam-lstm-v1\"");
  free(header);
  ASSERT_OK(rnj_model_init(m));
  memcpy(m->params, buf + 8 + hlen, RNJ_MODEL_NPARAMS * sizeof(float));
  free(buf);
}

/* ------------------------------------------------------------- checks */

static double worst; /* largest scaled error seen by near() */
static double floor_ = FLOOR;

static void near(const char *what, int kern, int t, int j, double got,
                 double want) {
  double scale = fabs(want) > floor_ ? fabs(want) : floor_;
  double e = fabs(got - want) / scale;
  if (e > worst)
    worst = e;
  if (!(e <= TOL))
    FAIL("%s kernel %s, index %d, element %d: %.9g, reference %.9g "
         "(scaled error %.3g > %g)",
         what, rnj_kernel_name(kernels[kern]), t, j, got, want, e, TOL);
}

static void near_out(const char *what, int kern, int t,
                     const rnj_lstm_out_t *o, const double *want) {
  int j;
  for (j = 0; j < RNJ_MODEL_PITCHES; j++)
    near(what, kern, t, j, o->logits[j], want[j]);
  near(what, kern, t, 128, o->step, want[128]);
  near(what, kern, t, 129, o->duration, want[129]);
}

static void to_x(float x[3], const double *d) {
  x[0] = (float)d[0];
  x[1] = (float)d[1];
  x[2] = (float)d[2];
}

/* Stream mode: 40 steps with carried state, h, c and the heads after each;
 * rnj_lstm_heads on the state gives the same heads. */
static void check_stream(const rnj_lstm_t *lstm, int kern) {
  rnj_lstm_state_t st;
  rnj_lstm_out_t out;
  rnj_lstm_out_t again;
  int t;
  int j;
  rnj_lstm_reset(&st);
  for (t = 0; t < NOTES; t++) {
    float x[3];
    to_x(x, ref.x[t]);
    rnj_lstm_step(lstm, &st, x, &out);
    for (j = 0; j < H; j++) {
      near("stream h", kern, t, j, st.h[j], ref.h[t][j]);
      near("stream c", kern, t, j, st.c[j], ref.c[t][j]);
    }
    near_out("stream out", kern, t, &out, ref.out[t]);
    rnj_lstm_heads(lstm, &st, &again);
    ASSERT(memcmp(&out, &again, sizeof out) == 0);
  }
}

/* Window mode from a zero state, the loss of each window against the note
 * after it (checks loss.c on real outputs too), and window == reset + n
 * steps exactly (same arithmetic). */
static void check_windows(const rnj_lstm_t *lstm, int kern) {
  int w;
  for (w = 0; w < NWIN; w++) {
    int s = window_start[w];
    float x[SEQ * 3];
    rnj_lstm_out_t out;
    rnj_lstm_out_t stream;
    rnj_lstm_state_t st;
    rnj_loss_t loss;
    int t;
    int pitch;
    for (t = 0; t < SEQ; t++)
      to_x(x + 3 * t, ref.x[s + t]);
    rnj_lstm_window(lstm, x, SEQ, &out);
    near_out("window out", kern, s, &out, ref.win_out[w]);

    pitch = (int)lround(ref.x[s + SEQ][0] * 128.0);
    rnj_loss_note(&out, pitch, ref.x[s + SEQ][1], ref.x[s + SEQ][2], &loss);
    near("window loss total", kern, s, 0, loss.total, ref.win_loss[w][0]);
    near("window loss pitch", kern, s, 1, loss.pitch, ref.win_loss[w][1]);
    near("window loss step", kern, s, 2, loss.step, ref.win_loss[w][2]);
    near("window loss duration", kern, s, 3, loss.duration,
         ref.win_loss[w][3]);

    rnj_lstm_reset(&st);
    for (t = 0; t < SEQ; t++)
      rnj_lstm_step(lstm, &st, x + 3 * t, t == SEQ - 1 ? &stream : NULL);
    ASSERT(memcmp(&out, &stream, sizeof out) == 0);
  }
}

/* ------------------------------------------------- kernels vs portable */

static uint64_t rng_state = 0x1234567;

static double urand(void) {
  /* xorshift64*: the test's own numbers, independent of sample.c */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

static float uni(double a, double b) { return (float)(a + (b - a) * urand()); }

/* Random weights, larger than the reference's so that gates saturate and
 * every branch of the vector tanh is taken. */
static void random_model(rnj_model_t *m) {
  int i;
  ASSERT_OK(rnj_model_init(m));
  for (i = 0; i < RNJ_MODEL_NPARAMS; i++)
    m->params[i] = uni(-0.3, 0.3);
  for (i = 0; i < 3 * RNJ_MODEL_GATES; i++)
    m->kernel[i] = uni(-2, 2);
}

/* The step in double, straight from the Keras layout: the judge of every
 * kernel on random weights and states (and of the packing). */
static void step_double(const rnj_model_t *m, const rnj_lstm_state_t *st,
                        const float x[3], double h[H], double c[H],
                        double out[NOUT]) {
  const int G = RNJ_MODEL_GATES;
  double z[RNJ_MODEL_GATES];
  int j;
  int k;
  for (j = 0; j < G; j++) {
    double s = m->bias[j];
    for (k = 0; k < 3; k++)
      s += (double)x[k] * m->kernel[k * G + j];
    for (k = 0; k < H; k++)
      s += (double)st->h[k] * m->recurrent_kernel[k * G + j];
    z[j] = s;
  }
  for (j = 0; j < H; j++) {
    double i = 1 / (1 + exp(-z[j]));
    double f = 1 / (1 + exp(-z[H + j]));
    double g = tanh(z[2 * H + j]);
    double o = 1 / (1 + exp(-z[3 * H + j]));
    c[j] = f * st->c[j] + i * g;
    h[j] = o * tanh(c[j]);
  }
  for (j = 0; j < RNJ_MODEL_PITCHES; j++) {
    double s = m->pitch_bias[j];
    for (k = 0; k < H; k++)
      s += h[k] * m->pitch_kernel[k * RNJ_MODEL_PITCHES + j];
    out[j] = s;
  }
  out[128] = m->step_bias[0];
  out[129] = m->duration_bias[0];
  for (k = 0; k < H; k++) {
    out[128] += h[k] * m->step_kernel[k];
    out[129] += h[k] * m->duration_kernel[k];
  }
}

/* Every kernel against the double step, from random states; then the SIMD
 * kernels against the portable one over a long stream, where differences
 * could build up. */
static void check_random(void) {
  rnj_model_t m;
  rnj_lstm_t *lstm[NKERNELS] = {NULL};
  rnj_lstm_state_t st[NKERNELS];
  rnj_lstm_out_t o[NKERNELS];
  int k;
  int trial;
  int j;
  random_model(&m);
  for (k = 0; k < NKERNELS; k++)
    if (rnj_kernel_supported(kernels[k]))
      ASSERT_OK(rnj_lstm_new(&lstm[k], &m, kernels[k]));
  /* Random states (|h| up to 1, |c| up to 3) against these weights make
   * sums whose terms add up to about 10 in magnitude, and f*c + i*g
   * cancels at times: float32 is then off by 1e-6 absolute or so,
   * whatever the result.  Hence an absolute floor of 3e-6 here; a layout
   * or gate mix-up is off by 1e-2 or more. */
  floor_ = 0.3;
  for (k = 0; k < NKERNELS; k++) {
    if (!lstm[k])
      continue;
    worst = 0;
    rng_state = 0x1234567; /* the same trials for every kernel */
    for (trial = 0; trial < 2000; trial++) {
      rnj_lstm_state_t s0;
      double h[H];
      double c[H];
      double out[NOUT];
      float x[3];
      x[0] = uni(0, 1);
      x[1] = uni(-0.5, 2);
      x[2] = uni(-0.5, 4);
      for (j = 0; j < H; j++) {
        s0.h[j] = uni(-1, 1);
        s0.c[j] = uni(-3, 3);
      }
      step_double(&m, &s0, x, h, c, out);
      st[k] = s0;
      rnj_lstm_step(lstm[k], &st[k], x, &o[k]);
      for (j = 0; j < H; j++) {
        near("random h", k, trial, j, st[k].h[j], h[j]);
        near("random c", k, trial, j, st[k].c[j], c[j]);
      }
      near_out("random out", k, trial, &o[k], out);
    }
    printf("kernel %s vs double on random weights and states: worst scaled "
           "error %.3g (floor %g)\n",
           rnj_kernel_name(kernels[k]), worst, floor_);
  }

  for (k = 0; k < NKERNELS; k++)
    rnj_lstm_reset(&st[k]);
  for (trial = 0; trial < 1000; trial++) {
    float x[3];
    rnj_lstm_input(x, (int)(urand() * 128), urand() * 0.5, urand());
    for (k = 0; k < NKERNELS; k++)
      if (lstm[k])
        rnj_lstm_step(lstm[k], &st[k], x, &o[k]);
  }
  for (k = 1; k < NKERNELS; k++) {
    if (!lstm[k])
      continue;
    worst = 0;
    for (j = 0; j < H; j++) {
      near("long stream h", k, trial, j, st[k].h[j], st[0].h[j]);
      near("long stream c", k, trial, j, st[k].c[j], st[0].c[j]);
    }
    for (j = 0; j < RNJ_MODEL_PITCHES; j++)
      near("long stream out", k, trial, j, o[k].logits[j], o[0].logits[j]);
    near("long stream out", k, trial, 128, o[k].step, o[0].step);
    near("long stream out", k, trial, 129, o[k].duration, o[0].duration);
    printf("kernel %s vs portable after 1000 steps: worst scaled error "
           "%.3g (floor %g)\n",
           rnj_kernel_name(kernels[k]), worst, floor_);
  }
  floor_ = FLOOR;
  for (k = 0; k < NKERNELS; k++)
    rnj_lstm_delete(lstm[k]);
  rnj_model_free(&m);
}

/* ------------------------------------------------------ vector math */

static double exact(int fn, double x) {
  return fn == RNJ__MATH_EXP       ? exp(x)
         : fn == RNJ__MATH_SIGMOID ? 1.0 / (1.0 + exp(-x))
                                   : tanh(x);
}

/* Relative error over a dense sweep (plus the range edges), within the
 * bounds lstm_avx512.c states (the portable kernel's, from libm's expf, are
 * tighter); and the values that must be exact. */
static void check_math(const rnj__lstm_kern_t *kern, const char *name) {
  static const char *fname[] = {"exp", "sigmoid", "tanh"};
  static const double bound[] = {1.5e-7, 2e-7, 2.5e-7};
  enum { N = 1 << 16 };
  static float in[N];
  static float out[N];
  int fn;
  int i;
  for (fn = 0; fn < 3; fn++) {
    double lo = fn == RNJ__MATH_EXP ? -87.0 : -20.0;
    double hi = fn == RNJ__MATH_EXP ? 88.0 : 20.0;
    double maxe = 0;
    int pass;
    for (pass = 0; pass < 3; pass++) {
      for (i = 0; i < N; i++) {
        if (pass == 0)
          in[i] = (float)(lo + (hi - lo) * i / (N - 1));
        else if (pass == 1) /* around 0, where tanh switches method */
          in[i] = (float)(-0.6 + 1.2 * i / (N - 1));
        else
          in[i] = uni(lo, hi);
      }
      kern->math(fn, in, out, N);
      for (i = 0; i < N; i++) {
        double want = exact(fn, in[i]);
        double e = fabs(out[i] - want) / fabs(want);
        if (want == 0)
          e = fabs(out[i]);
        if (e > maxe)
          maxe = e;
        if (!(e <= bound[fn]))
          FAIL("%s %s(%.9g) = %.9g, want %.9g (rel %.3g > %g)", name,
               fname[fn], (double)in[i], (double)out[i], want, e, bound[fn]);
      }
    }
    printf("%s %s: max relative error %.3g\n", name, fname[fn], maxe);
  }
  /* Saturation, signs, NaN. */
  for (i = 0; i < 16; i++)
    in[i] = (float[]){0.0f,  -0.0f, 1e-30f, -1e-30f, 100.0f, -100.0f,
                      1e30f, -1e30f, INFINITY, -INFINITY, NAN, 0.25f,
                      -0.25f, 87.5f, -87.5f, 1e-8f}[i];
  kern->math(RNJ__MATH_TANH, in, out, 16);
  ASSERT(out[0] == 0 && !signbit(out[0]));
  ASSERT(out[1] == 0 && signbit(out[1]));
  ASSERT_NEAR(out[2], 1e-30, 1e-36);
  ASSERT_NEAR(out[3], -1e-30, 1e-36);
  ASSERT(out[4] == 1.0f && out[5] == -1.0f);
  ASSERT(out[6] == 1.0f && out[7] == -1.0f);
  ASSERT(out[8] == 1.0f && out[9] == -1.0f);
  ASSERT(isnan(out[10]));
  kern->math(RNJ__MATH_SIGMOID, in, out, 16);
  ASSERT(out[0] == 0.5f && out[1] == 0.5f);
  ASSERT(out[4] == 1.0f && out[5] >= 0 && out[5] < 1e-37f);
  ASSERT(out[8] == 1.0f && out[9] >= 0 && out[9] < 1e-37f);
  ASSERT(isnan(out[10]));
  kern->math(RNJ__MATH_EXP, in, out, 16);
  ASSERT(out[0] == 1.0f && out[1] == 1.0f);
  ASSERT(out[9] >= 0 && out[9] < 1e-37f);
  ASSERT(isnan(out[10]));
}

/* ------------------------------------------------------- allocation */

static long n_alloc;
static long n_free;

static void *count_malloc(size_t n) {
  n_alloc++;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n) {
  n_alloc++;
  return realloc(p, n);
}
static void *count_calloc(size_t c, size_t n) {
  n_alloc++;
  return calloc(c, n);
}
static void count_free(void *p) {
  if (p)
    n_free++;
  free(p);
}

/* One allocation to build, none at all for 10,000 steps with heads and
 * sampling (the real-time path), one free to delete. */
static void check_no_alloc(const rnj_model_t *m, rnj_kernel_t kernel) {
  rnj_lstm_t *lstm;
  rnj_lstm_state_t st;
  rnj_lstm_out_t out;
  rnj_sampler_t sampler;
  int t;
  n_alloc = n_free = 0;
  ASSERT_OK(rnj_lstm_new(&lstm, m, kernel));
  ASSERT_EQ(n_alloc, 1);
  n_alloc = 0;
  float x[3];
  rnj_sampler_init(&sampler, 7);
  sampler.temperature = 2.0f;
  rnj_lstm_reset(&st);
  rnj_lstm_input(x, 60, 0.0, 0.5);
  for (t = 0; t < 10000; t++) {
    int pitch;
    float step;
    float duration;
    rnj_lstm_step(lstm, &st, x, &out);
    rnj_sample_note(&sampler, &out, &pitch, &step, &duration);
    rnj_lstm_input(x, pitch, step, duration);
    if (t == 0)
      sampler.top_k = 10; /* the top-k path, too */
  }
  ASSERT_EQ(n_alloc, 0);
  rnj_lstm_delete(lstm);
  ASSERT_EQ(n_free, 1);
}

/* ------------------------------------------------------------ API */

static void check_api(const rnj_model_t *m) {
  rnj_lstm_t *lstm = (rnj_lstm_t *)&lstm;
  rnj_kernel_t k = RNJ_KERNEL_PORTABLE;
  rnj_model_t copy;
  rnj_lstm_state_t a;
  rnj_lstm_state_t b;
  rnj_lstm_out_t oa;
  rnj_lstm_out_t ob;
  float x[3];
  int i;

  ASSERT_EQ(rnj_lstm_new(&lstm, m, (rnj_kernel_t)42), RNJ_EINVAL);
  ASSERT(lstm == NULL);
  ASSERT_EQ(rnj_lstm_new(&lstm, NULL, RNJ_KERNEL_AUTO), RNJ_EINVAL);
  for (i = 0; i < NKERNELS; i++)
    if (!rnj_kernel_supported(kernels[i]))
      ASSERT_EQ(rnj_lstm_new(&lstm, m, kernels[i]), RNJ_ENOSYS);
  ASSERT(rnj_kernel_supported(RNJ_KERNEL_AUTO));
  ASSERT(rnj_kernel_supported(RNJ_KERNEL_PORTABLE));
  ASSERT(!rnj_kernel_supported((rnj_kernel_t)42));

  /* the tutorial's model has no half-precision kernel, on any CPU */
  ASSERT_EQ(rnj_lstm_new(&lstm, m, RNJ_KERNEL_AVX512_F16), RNJ_ENOSYS);
  ASSERT(lstm == NULL);
  ASSERT(rnj__lstm_kern_find(RNJ_KERNEL_AVX512_F16) == NULL);

  /* names round-trip */
  for (i = RNJ_KERNEL_AUTO; i <= RNJ_KERNEL_AVX512_F16; i++) {
    ASSERT_OK(rnj_kernel_parse(rnj_kernel_name((rnj_kernel_t)i), &k));
    ASSERT_EQ(k, i);
  }
  ASSERT_STR_EQ(rnj_kernel_name(RNJ_KERNEL_AVX2), "avx2");
  ASSERT_STR_EQ(rnj_kernel_name(RNJ_KERNEL_AVX512_F16), "avx512-f16");
  ASSERT_STR_EQ(rnj_kernel_name((rnj_kernel_t)42), "unknown");
  ASSERT_EQ(rnj_kernel_parse("avx512_f16", &k), RNJ_EINVAL);
  ASSERT_OK(rnj_kernel_parse("avx512-f16", &k));
  ASSERT_EQ(k, RNJ_KERNEL_AVX512_F16);
  k = RNJ_KERNEL_AVX2;
  ASSERT_EQ(rnj_kernel_parse("sse9", &k), RNJ_EINVAL);
  ASSERT_EQ(rnj_kernel_parse(NULL, &k), RNJ_EINVAL);
  ASSERT_EQ(k, RNJ_KERNEL_AVX2);

  /* AUTO picks the widest kernel the CPU has */
  ASSERT_OK(rnj_lstm_new(&lstm, m, RNJ_KERNEL_AUTO));
  k = rnj_kernel_supported(RNJ_KERNEL_AVX512) ? RNJ_KERNEL_AVX512
      : rnj_kernel_supported(RNJ_KERNEL_AVX2) ? RNJ_KERNEL_AVX2
                                              : RNJ_KERNEL_PORTABLE;
  ASSERT_EQ(rnj_lstm_kernel(lstm), k);
  printf("auto kernel: %s\n", rnj_kernel_name(rnj_lstm_kernel(lstm)));
  rnj_lstm_delete(lstm);
  rnj_lstm_delete(NULL);

  /* the weights are copied: the model may go away */
  ASSERT_OK(rnj_model_init(&copy));
  rnj_model_copy(&copy, m);
  ASSERT_OK(rnj_lstm_new(&lstm, &copy, RNJ_KERNEL_PORTABLE));
  rnj_model_free(&copy);
  rnj_lstm_input(x, 64, 0.25, 0.5);
  ASSERT(x[0] == 0.5f && x[1] == 0.25f && x[2] == 0.5f);
  to_x(x, ref.x[0]);
  rnj_lstm_reset(&a);
  for (i = 0; i < 2 * H; i++)
    ASSERT(a.h[i % H] == 0 && a.c[i % H] == 0);
  rnj_lstm_step(lstm, &a, x, &oa);
  near_out("model freed", 0, 0, &oa, ref.out[0]);

  /* out == NULL runs the LSTM alone, to the same state */
  rnj_lstm_reset(&b);
  rnj_lstm_step(lstm, &b, x, NULL);
  ASSERT(memcmp(&a, &b, sizeof a) == 0);

  /* a window of 0 notes is the heads on a zero state */
  rnj_lstm_reset(&b);
  rnj_lstm_heads(lstm, &b, &oa);
  rnj_lstm_window(lstm, x, 0, &ob);
  ASSERT(memcmp(&oa, &ob, sizeof oa) == 0);
  near("zero state", 0, 0, 0, oa.logits[5], m->pitch_bias[5]);
  near("zero state", 0, 0, 0, oa.step, m->step_bias[0]);
  rnj_lstm_delete(lstm);
}

int main(void) {
  rnj_model_t m;
  rnj_model_t loaded;
  char err[RNJ_ERR_LEN];
  char path[4096];
  int k;
  int ran = 0;

  load_ref();
  load_ref_model(&m);

  /* The checkpoint loader reads the same parameters. */
  path_of(path, sizeof path, "ref-model.safetensors");
  ASSERT_OK(rnj_model_init(&loaded));
  if (rnj_ckpt_load(&loaded, path, err) != 0)
    FAIL("rnj_ckpt_load(%s): %s", path, err);
  ASSERT(memcmp(loaded.params, m.params,
                RNJ_MODEL_NPARAMS * sizeof(float)) == 0);
  ASSERT_EQ(loaded.seq_length, SEQ);
  rnj_model_free(&loaded);

  for (k = 0; k < NKERNELS; k++) {
    rnj_lstm_t *lstm;
    const rnj__lstm_kern_t *kern;
    if (!rnj_kernel_supported(kernels[k])) {
      printf("kernel %s: skipped, this CPU lacks it\n",
             rnj_kernel_name(kernels[k]));
      continue;
    }
    ASSERT_OK(rnj_lstm_new(&lstm, &m, kernels[k]));
    ASSERT_EQ(rnj_lstm_kernel(lstm), kernels[k]);
    worst = 0;
    check_stream(lstm, k);
    check_windows(lstm, k);
    printf("kernel %s vs float64 reference: worst scaled error %.3g "
           "(tolerance %g)\n",
           rnj_kernel_name(kernels[k]), worst, TOL);
    kern = rnj__lstm_kern_find(kernels[k]);
    ASSERT(kern && kern->id == kernels[k]);
    check_math(kern, rnj_kernel_name(kernels[k]));
    rnj_lstm_delete(lstm);
    ran++;
  }
  ASSERT(ran >= 1);

  check_api(&m);
  check_random();

  ASSERT_OK(rnj_replace_allocator(count_malloc, count_realloc, count_calloc,
                                  count_free));
  for (k = 0; k < NKERNELS; k++)
    if (rnj_kernel_supported(kernels[k]))
      check_no_alloc(&m, kernels[k]);
  ASSERT_OK(rnj_replace_allocator(malloc, realloc, calloc, free));

  rnj_model_free(&m);
  return 0;
}
