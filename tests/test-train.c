/* The trainer: gradients, initialisation, split, loss falling, bit-exact
 * determinism, resume and early stopping.
 *
 * The gradient check compares every tensor's analytic gradient (the float
 * backward pass) with central differences of an independent double
 * precision forward pass written here, so a wrong derivative anywhere in
 * BPTT, the heads or the loss shows up as a mismatch in that tensor.
 * Data is made here (seeded), except the loss-falls test, which prefers a
 * real file of the corpus.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rnnjam/ckpt.h"
#include "rnnjam/files.h"
#include "rnnjam/lstm.h"
#include "rnnjam/loss.h"
#include "rnnjam/model.h"
#include "rnnjam/notes.h"
#include "rnnjam/train.h"
#include "test.h"

#define NP RNJ_MODEL_NPARAMS

/* ------------------------------------------------------------ helpers */

static uint64_t lcg_state;

static double urand(void) {
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(lcg_state >> 11) * 0x1p-53;
}

/* One file of `n` notes: a wandering melody (learnable) or, with
 * `noise`, uniformly random notes (not learnable). */
static void add_file(rnj_train_data_t *d, size_t n, int noise,
                     const char *name) {
  uint8_t *p = malloc(n);
  float *st = malloc(n * sizeof *st);
  float *du = malloc(n * sizeof *du);
  static const int scale[7] = {0, 2, 4, 5, 7, 9, 11};
  size_t i;
  int deg = 7;
  ASSERT(p && st && du);
  for (i = 0; i < n; i++) {
    if (noise) {
      p[i] = (uint8_t)(21 + (int)(urand() * 88));
      st[i] = (float)(urand() * 1.0);
      du[i] = (float)(urand() * 1.5);
    } else {
      deg += urand() < 0.5 ? 1 : -1;
      if (deg < 0)
        deg = 1;
      if (deg > 20)
        deg = 19;
      p[i] = (uint8_t)(48 + 12 * (deg / 7) + scale[deg % 7]);
      st[i] = (i % 4 == 0) ? 0.5f : 0.25f;
      du[i] = (float)(0.2 + 0.05 * urand());
    }
  }
  ASSERT_OK(rnj_train_data_add_raw(d, p, st, du, n, name));
  free(p);
  free(st);
  free(du);
}

static void make_data(rnj_train_data_t *d, int files, size_t notes,
                      uint64_t seed) {
  char name[32];
  int f;
  lcg_state = seed;
  rnj_train_data_init(d);
  for (f = 0; f < files; f++) {
    snprintf(name, sizeof name, "synthetic-%d", f);
    add_file(d, notes + (size_t)f * 7, 0, name);
  }
}

static void config(rnj_train_config_t *c, int batch, int seq, int threads) {
  rnj_train_config_default(c);
  c->batch = batch;
  c->seq_length = seq;
  c->threads = threads;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *b;
  long n;
  if (!f)
    FAIL("cannot open %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b = malloc((size_t)n + 1);
  ASSERT(b);
  ASSERT_EQ(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void assert_same_file(const char *a, const char *b) {
  size_t la;
  size_t lb;
  uint8_t *x = slurp(a, &la);
  uint8_t *y = slurp(b, &lb);
  if (la != lb || memcmp(x, y, la) != 0)
    FAIL("%s and %s differ (%zu and %zu bytes)", a, b, la, lb);
  free(x);
  free(y);
}

static void tmp_path(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/test-train-%ld-%s", test_tmp_dir(), (long)getpid(),
           name);
}

static void remove_run(const char *out) {
  char last[RNJ_TRAIN_PATH_LEN];
  char state[RNJ_TRAIN_PATH_LEN];
  ASSERT_OK(rnj_train_paths(out, last, state));
  unlink(out);
  unlink(last);
  unlink(state);
}

/* ---------------------------------------------- double-precision forward */

static double sig(double x) { return 1.0 / (1.0 + exp(-x)); }

/* The tutorial's mean loss over `n` windows, straight from the equations
 * (Keras' LSTM: z = x K + h U + b split as i, f, c, o), in double. */
static double ref_loss(const double *p, const rnj_train_data_t *d,
                       const uint32_t *win, size_t n, int T,
                       double *min_abs_pred) {
  const rnj_tensor_info_t *ti = rnj_model_tensors();
  const double *K = p + ti[0].offset;
  const double *U = p + ti[1].offset;
  const double *bias = p + ti[2].offset;
  const double *pk = p + ti[3].offset;
  const double *pb = p + ti[4].offset;
  const double *sk = p + ti[5].offset;
  const double *sb = p + ti[6].offset;
  const double *dk = p + ti[7].offset;
  const double *db = p + ti[8].offset;
  double total = 0;
  size_t w;
  int H = RNJ_MODEL_HIDDEN;
  int G = RNJ_MODEL_GATES;
  for (w = 0; w < n; w++) {
    double h[RNJ_MODEL_HIDDEN] = {0};
    double c[RNJ_MODEL_HIDDEN] = {0};
    double z[RNJ_MODEL_GATES];
    double l[RNJ_MODEL_PITCHES];
    double mx;
    double se = 0;
    double ps;
    double pd;
    size_t s = win[w];
    int y = d->pitch[s + (size_t)T];
    double ys = d->x[(s + (size_t)T) * 3 + 1];
    double yd = d->x[(s + (size_t)T) * 3 + 2];
    int t;
    int j;
    int k;
    for (t = 0; t < T; t++) {
      const float *x = d->x + (s + (size_t)t) * 3;
      for (j = 0; j < G; j++) {
        double a = bias[j] + x[0] * K[j] + x[1] * K[G + j] +
                   x[2] * K[2 * G + j];
        for (k = 0; k < H; k++)
          a += h[k] * U[k * G + j];
        z[j] = a;
      }
      for (j = 0; j < H; j++) {
        double ig = sig(z[j]);
        double fg = sig(z[H + j]);
        double gg = tanh(z[2 * H + j]);
        double og = sig(z[3 * H + j]);
        c[j] = fg * c[j] + ig * gg;
        h[j] = og * tanh(c[j]);
      }
    }
    for (k = 0; k < RNJ_MODEL_PITCHES; k++) {
      l[k] = pb[k];
      for (j = 0; j < H; j++)
        l[k] += h[j] * pk[j * RNJ_MODEL_PITCHES + k];
    }
    mx = l[0];
    for (k = 1; k < RNJ_MODEL_PITCHES; k++)
      mx = l[k] > mx ? l[k] : mx;
    for (k = 0; k < RNJ_MODEL_PITCHES; k++)
      se += exp(l[k] - mx);
    ps = sb[0];
    pd = db[0];
    for (j = 0; j < H; j++) {
      ps += h[j] * sk[j];
      pd += h[j] * dk[j];
    }
    if (min_abs_pred) {
      if (fabs(ps) < *min_abs_pred)
        *min_abs_pred = fabs(ps);
      if (fabs(pd) < *min_abs_pred)
        *min_abs_pred = fabs(pd);
    }
    total += 0.05 * (log(se) + mx - l[y]) + (ys - ps) * (ys - ps) +
             10.0 * (ps < 0 ? -ps : 0) + (yd - pd) * (yd - pd) +
             10.0 * (pd < 0 ? -pd : 0);
  }
  return total / (double)n;
}

/* ---------------------------------------------------------------- tests */

/* Every tensor's gradient against central differences (step 1e-5 on the
 * double forward: truncation ~1e-10, rounding ~1e-11).  Per sampled
 * element: |g - fd| <= 2e-3 |fd| + 1e-4 max|fd| over the tensor (the
 * float backward's rounding); per tensor, along a random +-1 direction
 * over all its elements: relative error <= 1e-3. */
static void test_gradcheck(int threads, rnj_kernel_t kernel) {
  const rnj_tensor_info_t *ti = rnj_model_tensors();
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_t tr;
  rnj_loss_t loss;
  uint32_t win[3];
  double *p = malloc(NP * sizeof *p);
  double *dir = malloc(NP * sizeof *dir);
  double minp = 1e9;
  double L;
  const double eps = 1e-5;
  const int T = 5;
  char err[RNJ_ERR_LEN];
  int t;
  size_t i;

  ASSERT(p && dir);
  make_data(&d, 2, 40, 7);
  config(&cfg, 3, T, threads);
  cfg.kernel = kernel;
  if (rnj_train_init(&tr, &cfg, err) == RNJ_ENOSYS) {
    printf("gradcheck: kernel %d not on this CPU, not checked\n", kernel);
    rnj_train_data_free(&d);
    free(p);
    free(dir);
    return;
  }
  /* Off the special values of Keras' init (zero biases), and the two
   * regression outputs on either side of mse_pp's kink at 0. */
  lcg_state = 99;
  for (i = 0; i < NP; i++)
    tr.model.params[i] += (float)(0.05 * (urand() - 0.5));
  tr.model.step_bias[0] = 0.4f;
  tr.model.duration_bias[0] = -0.4f;
  win[0] = 0;
  win[1] = 17;
  win[2] = (uint32_t)(d.first[1] + 3);
  ASSERT_OK(rnj_train_grad(&tr, &d, win, 3, &loss));
  for (i = 0; i < NP; i++)
    p[i] = tr.model.params[i];
  L = ref_loss(p, &d, win, 3, T, &minp);
  ASSERT(minp > 1e-2); /* no prediction near the kink */
  ASSERT_REL(loss.total, L, 1e-5, 1e-9);

  for (t = 0; t < RNJ_MODEL_NTENSORS; t++) {
    size_t off = ti[t].offset;
    size_t cnt = ti[t].count;
    size_t nsamp = cnt < 24 ? cnt : 24;
    double fd[24];
    size_t idx[24];
    double fdmax = 0;
    double dot = 0;
    double lp;
    double lm;
    double dfd;
    size_t s;
    for (s = 0; s < nsamp; s++) {
      double keep;
      idx[s] = cnt <= 24 ? s : (size_t)(urand() * (double)cnt);
      keep = p[off + idx[s]];
      p[off + idx[s]] = keep + eps;
      lp = ref_loss(p, &d, win, 3, T, NULL);
      p[off + idx[s]] = keep - eps;
      lm = ref_loss(p, &d, win, 3, T, NULL);
      p[off + idx[s]] = keep;
      fd[s] = (lp - lm) / (2 * eps);
      if (fabs(fd[s]) > fdmax)
        fdmax = fabs(fd[s]);
    }
    for (s = 0; s < nsamp; s++) {
      double g = tr.grad[off + idx[s]];
      if (!(fabs(g - fd[s]) <= 2e-3 * fabs(fd[s]) + 1e-4 * fdmax))
        FAIL("%s[%zu]: gradient %.9g, finite difference %.9g "
             "(threads %d, kernels %s)", ti[t].name, idx[s], g, fd[s],
             threads, rnj_train_kernels(&tr));
    }
    /* All elements at once, along a random direction. */
    for (i = 0; i < cnt; i++) {
      dir[i] = urand() < 0.5 ? -1.0 : 1.0;
      dot += dir[i] * tr.grad[off + i];
    }
    for (i = 0; i < cnt; i++)
      p[off + i] += eps * dir[i];
    lp = ref_loss(p, &d, win, 3, T, NULL);
    for (i = 0; i < cnt; i++)
      p[off + i] -= 2 * eps * dir[i];
    lm = ref_loss(p, &d, win, 3, T, NULL);
    for (i = 0; i < cnt; i++)
      p[off + i] = tr.model.params[off + i];
    dfd = (lp - lm) / (2 * eps);
    if (!(fabs(dot - dfd) <= 1e-3 * fabs(dfd) + 1e-7))
      FAIL("%s: directional derivative %.9g, finite difference %.9g "
           "(kernels %s)", ti[t].name, dot, dfd, rnj_train_kernels(&tr));
    printf("gradcheck %s x%d %-22s ok (max |fd| %.3g, directional %.6g vs "
           "%.6g)\n", rnj_train_kernels(&tr), threads, ti[t].name, fdmax, dot,
           dfd);
  }
  rnj_train_free(&tr);
  rnj_train_data_free(&d);
  free(p);
  free(dir);
}

/* The forward pass alone (eval) gives the loss of the grad pass, and a
 * chunked evaluation equals the mean over all windows. */
static void test_eval(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_t tr;
  rnj_loss_t a;
  rnj_loss_t b;
  uint32_t win[10];
  double *p = malloc(NP * sizeof *p);
  size_t i;
  ASSERT(p);
  make_data(&d, 1, 60, 3);
  config(&cfg, 4, 25, 2);
  ASSERT_OK(rnj_train_init(&tr, &cfg, NULL));
  for (i = 0; i < 10; i++)
    win[i] = (uint32_t)(i * 3);
  ASSERT_OK(rnj_train_eval(&tr, &d, win, 10, &a));
  for (i = 0; i < NP; i++)
    p[i] = tr.model.params[i];
  ASSERT_REL(a.total, ref_loss(p, &d, win, 10, 25, NULL), 1e-5, 1e-9);
  ASSERT_OK(rnj_train_grad(&tr, &d, win, 4, &b));
  ASSERT_OK(rnj_train_eval(&tr, &d, win, 4, &a));
  ASSERT_EQ(a.total == b.total, 1);
  ASSERT_REL(a.total, 0.05 * a.pitch + a.step + a.duration, 1e-12, 1e-9);
  /* An untrained model's pitch CE is near log(128). */
  ASSERT_NEAR(a.pitch, log(128.0), 0.3);
  ASSERT(rnj_train_eval(&tr, &d, win, 0, &a) != 0);
  win[0] = (uint32_t)(d.n_notes - 25); /* no target note after it */
  ASSERT(rnj_train_eval(&tr, &d, win, 1, &a) != 0);
  rnj_train_free(&tr);
  rnj_train_data_free(&d);
  free(p);
}

static double norm_of(const float *g, size_t n) {
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++)
    s += (double)g[i] * g[i];
  return sqrt(s);
}

/* Global grad-norm clipping (opt-in for the tutorial arch): a gradient
 * reports its norm; an update with clip_norm below it scales the gradient
 * to exactly clip_norm, in one thread or two, and moves the weights as
 * Adam on the scaled gradient does; above it, nothing changes. */
static void test_clip(int threads) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_t a;
  rnj_train_t b;
  uint32_t win[8];
  float *g = malloc(NP * sizeof *g);
  double norm;
  double f;
  size_t i;
  ASSERT(g);
  make_data(&d, 1, 80, 5);
  for (i = 0; i < 8; i++)
    win[i] = (uint32_t)(i * 5);
  config(&cfg, 8, 25, threads);
  ASSERT_OK(rnj_train_init(&a, &cfg, NULL));
  ASSERT_OK(rnj_train_grad(&a, &d, win, 8, NULL));
  norm = norm_of(a.grad, NP);
  ASSERT(norm > 0);
  ASSERT_REL(a.grad_norm, norm, 1e-9, 0);
  memcpy(g, a.grad, NP * sizeof *g);
  /* b: the same start, clipping at a quarter of the norm. */
  cfg.clip_norm = norm / 4;
  ASSERT_OK(rnj_train_init(&b, &cfg, NULL));
  ASSERT_OK(rnj_train_batch(&b, &d, win, 8, NULL));
  ASSERT_REL(b.grad_norm, norm, 1e-9, 0);
  ASSERT_REL(norm_of(b.grad, NP), cfg.clip_norm, 1e-6, 0);
  f = cfg.clip_norm / norm;
  for (i = 0; i < NP; i++)
    ASSERT_NEAR(b.grad[i], g[i] * f, 1e-6 * fabs(g[i]) + 1e-12);
  /* a, by hand: the gradient scaled, Adam without clipping. */
  for (i = 0; i < NP; i++)
    a.grad[i] = (float)(g[i] * f);
  rnj_train_step(&a);
  for (i = 0; i < NP; i++)
    ASSERT_NEAR(a.model.params[i], b.model.params[i],
                1e-6 * fabs(a.model.params[i]) + 1e-7);
  rnj_train_free(&b);
  /* A bound above the norm leaves the gradient alone. */
  cfg.clip_norm = norm * 2;
  ASSERT_OK(rnj_train_init(&b, &cfg, NULL));
  ASSERT_OK(rnj_train_batch(&b, &d, win, 8, NULL));
  ASSERT_EQ(memcmp(b.grad, g, NP * sizeof *g), 0);
  rnj_train_free(&b);
  /* rnj_train_step clips too. */
  cfg.clip_norm = norm / 2;
  ASSERT_OK(rnj_train_init(&b, &cfg, NULL));
  ASSERT_OK(rnj_train_grad(&b, &d, win, 8, NULL));
  rnj_train_step(&b);
  ASSERT_REL(norm_of(b.grad, NP), cfg.clip_norm, 1e-6, 0);
  cfg.clip_norm = -1;
  ASSERT(rnj_train_config_check(&cfg, NULL) == RNJ_EINVAL);
  rnj_train_free(&b);
  rnj_train_free(&a);
  rnj_train_data_free(&d);
  free(g);
}

/* The trainer's forward pass is the model the rest of rnnjam runs: after a
 * few updates, its loss over some windows equals what the inference code
 * (rnj_lstm_window, rnj_loss_note) computes from the same weights. */
static void test_matches_inference(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_t tr;
  rnj_lstm_t *lstm;
  rnj_loss_t a;
  uint32_t win[16];
  double sum = 0;
  size_t i;
  int k;
  make_data(&d, 1, 200, 17);
  config(&cfg, 16, 25, 2);
  ASSERT_OK(rnj_train_init(&tr, &cfg, NULL));
  for (k = 0; k < 5; k++) {
    for (i = 0; i < 16; i++)
      win[i] = (uint32_t)((i * 11 + (size_t)k * 3) % (d.n_notes - 25));
    ASSERT_OK(rnj_train_batch(&tr, &d, win, 16, NULL));
  }
  ASSERT_OK(rnj_train_eval(&tr, &d, win, 16, &a));
  ASSERT_OK(rnj_lstm_new(&lstm, &tr.model, RNJ_KERNEL_AUTO));
  for (i = 0; i < 16; i++) {
    float x[25 * RNJ_MODEL_INPUT];
    rnj_lstm_out_t out;
    rnj_loss_t l;
    size_t s = win[i];
    int t;
    for (t = 0; t < 25; t++)
      memcpy(x + t * 3, d.x + (s + (size_t)t) * 3, 3 * sizeof(float));
    rnj_lstm_window(lstm, x, 25, &out);
    rnj_loss_note(&out, d.pitch[s + 25], d.x[(s + 25) * 3 + 1],
                  d.x[(s + 25) * 3 + 2], &l);
    sum += l.total;
  }
  ASSERT_REL(a.total, sum / 16, 1e-5, 1e-9);
  rnj_lstm_delete(lstm);
  rnj_train_free(&tr);
  rnj_train_data_free(&d);
}

/* Keras' initialisers: glorot-uniform bounds, orthonormal rows of the
 * recurrent kernel, forget-gate bias 1, other biases 0; seeded. */
static void test_init(void) {
  rnj_train_config_t cfg;
  rnj_train_t a;
  rnj_train_t b;
  rnj_model_t *m = &a.model;
  double lim3 = sqrt(6.0 / (3 + 512));
  double lim128 = sqrt(6.0 / (128 + 128));
  double maxk = 0;
  double worst = 0;
  int i;
  int j;
  int k;
  config(&cfg, 8, 25, 1);
  ASSERT_OK(rnj_train_init(&a, &cfg, NULL));
  for (i = 0; i < 3 * 512; i++) {
    ASSERT(fabs(m->kernel[i]) <= lim3);
    if (fabs(m->kernel[i]) > maxk)
      maxk = fabs(m->kernel[i]);
  }
  ASSERT(maxk > 0.9 * lim3); /* uniform over the whole range */
  for (i = 0; i < 128 * 128; i++)
    ASSERT(fabs(m->pitch_kernel[i]) <= lim128);
  for (i = 0; i < 512; i++)
    ASSERT_EQ(m->bias[i] == (i >= 128 && i < 256 ? 1.0f : 0.0f), 1);
  for (i = 0; i < 128; i++)
    ASSERT_EQ(m->pitch_bias[i] == 0.0f, 1);
  ASSERT_EQ(m->step_bias[0] == 0.0f && m->duration_bias[0] == 0.0f, 1);
  for (i = 0; i < 128; i++)
    for (j = i; j < 128; j++) {
      double dot = 0;
      for (k = 0; k < 512; k++)
        dot += (double)m->recurrent_kernel[i * 512 + k] *
               m->recurrent_kernel[j * 512 + k];
      dot -= i == j ? 1.0 : 0.0;
      if (fabs(dot) > worst)
        worst = fabs(dot);
    }
  ASSERT(worst < 1e-5);
  ASSERT_OK(rnj_train_init(&b, &cfg, NULL));
  ASSERT_EQ(memcmp(a.model.params, b.model.params, NP * sizeof(float)), 0);
  rnj_train_free(&b);
  cfg.seed = 43;
  ASSERT_OK(rnj_train_init(&b, &cfg, NULL));
  ASSERT(memcmp(a.model.params, b.model.params, NP * sizeof(float)) != 0);
  rnj_train_free(&b);
  rnj_train_free(&a);
  rnj_train_free(&a); /* twice is fine */
}

/* Whole files go to validation, chosen by the seed; short files none. */
static void test_split(void) {
  rnj_train_data_t d;
  rnj_train_split_t s;
  rnj_train_split_t s2;
  uint32_t *perm;
  uint32_t *perm2;
  size_t i;
  size_t f;
  size_t nf;
  char err[RNJ_ERR_LEN];
  make_data(&d, 20, 30, 1);
  add_file(&d, 10, 0, "short"); /* under a window */
  ASSERT_OK(rnj_train_split_init(&s, &d, 25, 0.1, 42, err));
  ASSERT_EQ(s.n_val_files, 2);
  ASSERT_EQ(s.n_train_files, 18);
  ASSERT_EQ(s.is_val[20], 0);
  for (i = 0; i < s.n_val; i++) {
    for (f = 0; d.first[f + 1] <= s.val[i]; f++)
      ;
    ASSERT_EQ(s.is_val[f], 1);
    ASSERT(s.val[i] + 25 < d.first[f + 1]);
  }
  for (i = 0; i < s.n_train; i++) {
    for (f = 0; d.first[f + 1] <= s.train[i]; f++)
      ;
    ASSERT_EQ(s.is_val[f], 0);
    ASSERT(s.train[i] + 25 < d.first[f + 1]);
  }
  nf = 0;
  for (f = 0; f < 20; f++)
    nf += (d.first[f + 1] - d.first[f]) - 25;
  ASSERT_EQ(s.n_train + s.n_val, nf);
  /* The shuffle: a permutation, seeded, different per epoch. */
  perm = malloc(s.n_train * sizeof *perm);
  perm2 = malloc(s.n_train * sizeof *perm2);
  ASSERT(perm && perm2);
  rnj_train_split_shuffle(&s, 42, 0, perm);
  rnj_train_split_shuffle(&s, 42, 0, perm2);
  ASSERT_EQ(memcmp(perm, perm2, s.n_train * sizeof *perm), 0);
  rnj_train_split_shuffle(&s, 42, 1, perm2);
  ASSERT(memcmp(perm, perm2, s.n_train * sizeof *perm) != 0);
  {
    uint64_t sa = 0;
    uint64_t sb = 0;
    for (i = 0; i < s.n_train; i++) {
      sa += perm[i];
      sb += s.train[i];
    }
    ASSERT_EQ(sa, sb);
  }
  ASSERT_OK(rnj_train_split_init(&s2, &d, 25, 0.1, 7, err));
  ASSERT(memcmp(s.is_val, s2.is_val, d.n_files) != 0);
  rnj_train_split_free(&s2);
  /* Two files: one for validation; no val_split: none. */
  ASSERT_OK(rnj_train_split_init(&s2, &d, 3, 0.0, 7, err));
  ASSERT_EQ(s2.n_val, 0);
  ASSERT_EQ(s2.n_train_files, 21);
  rnj_train_split_free(&s2);
  rnj_train_split_free(&s);
  rnj_train_data_free(&d);
  rnj_train_data_init(&d);
  lcg_state = 5;
  add_file(&d, 30, 0, "a");
  add_file(&d, 30, 0, "b");
  ASSERT_OK(rnj_train_split_init(&s, &d, 25, 0.01, 1, err));
  ASSERT_EQ(s.n_val_files, 1);
  ASSERT_EQ(s.n_train_files, 1);
  rnj_train_split_free(&s);
  rnj_train_split_free(&s);
  ASSERT_EQ(rnj_train_split_init(&s, &d, 40, 0.1, 1, err), RNJ_ENODATA);
  ASSERT_CONTAINS(err, "40 notes");
  rnj_train_data_free(&d);
  free(perm);
  free(perm2);
}

/* Per-epoch record of a fit, for comparing runs. */
typedef struct {
  rnj_train_progress_t ep[64];
  int n;
  size_t batches_seen;
  int stop_epoch; /* set *stop after batch stop_batch of this epoch */
  size_t stop_batch;
  volatile sig_atomic_t flag;
} rec_t;

static void record(const rnj_train_progress_t *p, void *arg) {
  rec_t *r = arg;
  if (p->event == RNJ_TRAIN_EVENT_EPOCH) {
    ASSERT(r->n < 64);
    r->ep[r->n++] = *p;
    return;
  }
  r->batches_seen++;
  if (p->epoch == r->stop_epoch && p->batch == r->stop_batch)
    r->flag = 1;
}

static int fit(const rnj_train_config_t *cfg, const rnj_train_data_t *d,
               const char *out, int resume, rec_t *rec,
               rnj_train_result_t *res, rnj_model_t *final, char *err) {
  rnj_train_t tr;
  rnj_train_split_t s;
  rnj_train_fit_t f;
  int rc;
  ASSERT_OK(rnj_train_split_init(&s, d, cfg->seq_length, cfg->val_split,
                                 cfg->seed, err));
  ASSERT_OK(rnj_train_init(&tr, cfg, err));
  memset(&f, 0, sizeof f);
  f.out = out;
  f.resume = resume;
  f.progress = record;
  f.arg = rec;
  f.stop = &rec->flag;
  rc = rnj_train_fit(&tr, d, &s, &f, res, err);
  if (final)
    memcpy(final->params, tr.model.params, NP * sizeof(float));
  rnj_train_free(&tr);
  rnj_train_split_free(&s);
  return rc;
}

static void rec_init(rec_t *r) {
  memset(r, 0, sizeof *r);
  r->stop_epoch = -1;
}

/* The training loss falls: on a real piano file when the corpus is here,
 * else on the made-up melody. */
static void test_loss_falls(void) {
  const char *corpus = test_corpus_dir();
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_result_t res;
  rec_t rec;
  char out[512];
  char err[RNJ_ERR_LEN];
  const char *what = "a made-up melody (no corpus)";
  char path[4096];

  rnj_train_data_init(&d);
  if (corpus) {
    rnj_notes_t notes;
    snprintf(path, sizeof path, "%s/piano-midi-de/Bach/bach_846.mid",
             corpus);
    rnj_notes_init(&notes);
    if (rnj_notes_from_file(&notes, path, RNJ_NOTES_ALL_INSTRUMENTS, err))
      FAIL("%s: %s", path, err);
    ASSERT(notes.n > 300);
    ASSERT_OK(rnj_train_data_add(&d, &notes, path));
    rnj_notes_free(&notes);
    what = path;
  } else {
    lcg_state = 11;
    add_file(&d, 700, 0, "melody");
  }
  config(&cfg, 32, 25, 2);
  cfg.epochs = 4;
  cfg.val_split = 0;
  tmp_path(out, sizeof out, "falls.safetensors");
  rec_init(&rec);
  ASSERT_OK(fit(&cfg, &d, out, 0, &rec, &res, NULL, err));
  ASSERT_EQ(rec.n, 4);
  printf("loss falls on %s: %.4f -> %.4f (pitch %.3f -> %.3f)\n", what,
         rec.ep[0].train.total, rec.ep[3].train.total, rec.ep[0].train.pitch,
         rec.ep[3].train.pitch);
  ASSERT(rec.ep[3].train.total < 0.9 * rec.ep[0].train.total);
  ASSERT(rec.ep[3].train.pitch < rec.ep[0].train.pitch);
  remove_run(out);
  rnj_train_data_free(&d);
}

/* Same seed and threads: the same bytes; resume after an interrupt (mid
 * epoch and at an epoch's end) continues to the same losses and bytes. */
static void test_determinism_and_resume(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_result_t res;
  rec_t a;
  rec_t b;
  rec_t c;
  char out_a[512];
  char out_b[512];
  char la[RNJ_TRAIN_PATH_LEN];
  char sa[RNJ_TRAIN_PATH_LEN];
  char lb[RNJ_TRAIN_PATH_LEN];
  char sb[RNJ_TRAIN_PATH_LEN];
  char err[RNJ_ERR_LEN];
  rnj_model_t m;
  int e;

  make_data(&d, 8, 160, 21);
  config(&cfg, 64, 25, 2);
  cfg.epochs = 3;
  cfg.val_split = 0.25;
  tmp_path(out_a, sizeof out_a, "a.safetensors");
  tmp_path(out_b, sizeof out_b, "b.safetensors");
  ASSERT_OK(rnj_train_paths(out_a, la, sa));
  ASSERT_OK(rnj_train_paths(out_b, lb, sb));
  ASSERT_CONTAINS(la, "a.last.safetensors");
  ASSERT_CONTAINS(sa, "a.state");

  rec_init(&a);
  ASSERT_OK(fit(&cfg, &d, out_a, 0, &a, &res, NULL, err));
  ASSERT_EQ(res.status, RNJ_TRAIN_DONE);
  ASSERT_EQ(a.n, 3);
  ASSERT(a.ep[0].has_val);

  /* Again, uninterrupted: bit for bit. */
  rec_init(&b);
  ASSERT_OK(fit(&cfg, &d, out_b, 0, &b, &res, NULL, err));
  assert_same_file(out_a, out_b);
  assert_same_file(la, lb);
  assert_same_file(sa, sb);
  remove_run(out_b);

  /* Interrupted in the middle of epoch 2, then resumed. */
  rec_init(&b);
  b.stop_epoch = 1;
  b.stop_batch = 3;
  ASSERT_OK(fit(&cfg, &d, out_b, 0, &b, &res, NULL, err));
  ASSERT_EQ(res.status, RNJ_TRAIN_INTERRUPTED);
  ASSERT_EQ(b.n, 1);
  rec_init(&c);
  ASSERT_OK(fit(&cfg, &d, out_b, 1, &c, &res, NULL, err));
  ASSERT_EQ(res.status, RNJ_TRAIN_DONE);
  ASSERT_EQ(res.resumed_epoch, 1);
  ASSERT_EQ(res.resumed_batch, 3);
  ASSERT_EQ(c.n, 2);
  for (e = 0; e < 2; e++) {
    ASSERT_EQ(c.ep[e].epoch, e + 1);
    ASSERT_EQ(c.ep[e].train.total == a.ep[e + 1].train.total, 1);
    ASSERT_EQ(c.ep[e].val.total == a.ep[e + 1].val.total, 1);
  }
  assert_same_file(out_a, out_b);
  assert_same_file(la, lb);
  assert_same_file(sa, sb);
  remove_run(out_b);

  /* Interrupted on an epoch's last batch: the epoch completes first. */
  rec_init(&b);
  b.stop_epoch = 0;
  b.stop_batch = a.ep[0].batches;
  ASSERT_OK(fit(&cfg, &d, out_b, 0, &b, &res, NULL, err));
  ASSERT_EQ(res.status, RNJ_TRAIN_INTERRUPTED);
  ASSERT_EQ(b.n, 1);
  rec_init(&c);
  ASSERT_OK(fit(&cfg, &d, out_b, 1, &c, &res, NULL, err));
  ASSERT_EQ(c.n, 2);
  assert_same_file(out_a, out_b);
  assert_same_file(sa, sb);

  /* A finished run resumes to nothing; more epochs continue it. */
  rec_init(&c);
  ASSERT_OK(fit(&cfg, &d, out_b, 1, &c, &res, NULL, err));
  ASSERT_EQ(c.n, 0);
  ASSERT_EQ(res.status, RNJ_TRAIN_DONE);

  /* Resume refuses other hyper-parameters or other data. */
  cfg.lr = 0.001;
  ASSERT(fit(&cfg, &d, out_b, 1, &c, &res, NULL, err) != 0);
  ASSERT_CONTAINS(err, "different lr");
  cfg.lr = 0.005;
  d.x[5] += 0.5f;
  ASSERT(fit(&cfg, &d, out_b, 1, &c, &res, NULL, err) != 0);
  ASSERT_CONTAINS(err, "other data");
  d.x[5] -= 0.5f;
  remove_run(out_b);
  ASSERT(fit(&cfg, &d, out_b, 1, &c, &res, NULL, err) != 0);
  ASSERT_CONTAINS(err, "no state file");

  /* The checkpoint loads and says what it is. */
  ASSERT_OK(rnj_model_init(&m));
  ASSERT_OK(rnj_ckpt_load(&m, out_a, err));
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "seed"), "42");
  ASSERT(rnj_model_get_meta(&m, "val_loss") != NULL);
  rnj_model_free(&m);

  /* Another thread count: same maths, other rounding. */
  cfg.threads = 1;
  rec_init(&b);
  ASSERT_OK(fit(&cfg, &d, out_b, 0, &b, &res, NULL, err));
  ASSERT_REL(b.ep[2].train.total, a.ep[2].train.total, 1e-3, 1e-9);
  remove_run(out_b);
  remove_run(out_a);
  rnj_train_data_free(&d);
}

/* Ten files of which the split's validation files are noise and the rest
 * one melody: training improves, validation soon gets worse. */
static void make_noise_val(rnj_train_data_t *d) {
  char err[RNJ_ERR_LEN];
  rnj_train_split_t s;
  int f;
  rnj_train_data_t d1;
  rnj_train_data_init(&d1);
  lcg_state = 3;
  /* The split's shuffle picks the validation files; make every file but
   * the chosen ones a melody by building the data twice. */
  for (f = 0; f < 10; f++)
    add_file(&d1, 150, 0, "melody");
  ASSERT_OK(rnj_train_split_init(&s, &d1, 25, 0.2, 42, err));
  rnj_train_data_init(d);
  lcg_state = 3;
  for (f = 0; f < 10; f++)
    add_file(d, 150, s.is_val[f], s.is_val[f] ? "noise" : "melody");
  rnj_train_split_free(&s);
  rnj_train_data_free(&d1);
}

/* Validation on noise while training on a melody: the validation loss
 * soon rises, patience runs out and the best weights come back. */
static void test_early_stop(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_result_t res;
  rnj_model_t best;
  rnj_model_t fin;
  rec_t r;
  char out[512];
  char err[RNJ_ERR_LEN];
  int i;

  make_noise_val(&d);
  config(&cfg, 32, 25, 1);
  cfg.epochs = 30;
  cfg.patience = 2;
  cfg.val_split = 0.2;
  cfg.lr = 0.02;
  tmp_path(out, sizeof out, "early.safetensors");
  ASSERT_OK(rnj_model_init(&best));
  ASSERT_OK(rnj_model_init(&fin));
  rec_init(&r);
  ASSERT_OK(fit(&cfg, &d, out, 0, &r, &res, &fin, err));
  ASSERT_EQ(res.status, RNJ_TRAIN_EARLY_STOP);
  ASSERT(r.n < 30);
  ASSERT_EQ(r.n, res.best_epoch + 1 + cfg.patience);
  ASSERT_EQ(r.ep[r.n - 1].bad_epochs, cfg.patience);
  for (i = 0; i < r.n; i++)
    ASSERT(r.ep[i].val.total >= r.ep[res.best_epoch].val.total);
  ASSERT_OK(rnj_ckpt_load(&best, out, err));
  ASSERT_EQ(memcmp(best.params, fin.params, NP * sizeof(float)), 0);
  printf("early stop after %d epochs, best %d (val %.4f)\n", r.n,
         res.best_epoch + 1, r.ep[res.best_epoch].val.total);
  rnj_model_free(&best);
  rnj_model_free(&fin);
  remove_run(out);
  rnj_train_data_free(&d);
}

/* The learning-rate schedule: each epoch ran at the rate the rule gives
 * from the epochs before it (halved after every lr_patience epochs in a
 * row without progress), at least one decay happened, and a run
 * interrupted after a decay resumes at the lowered rate to the same
 * bytes. */
static void test_lr_decay(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_result_t res;
  rec_t a;
  rec_t b;
  char out_a[512];
  char out_b[512];
  char la[RNJ_TRAIN_PATH_LEN];
  char sa[RNJ_TRAIN_PATH_LEN];
  char lb[RNJ_TRAIN_PATH_LEN];
  char sb[RNJ_TRAIN_PATH_LEN];
  char err[RNJ_ERR_LEN];
  rnj_model_t m;
  double lr;
  int first_decay = -1;
  int i;

  make_noise_val(&d);
  config(&cfg, 32, 25, 1);
  cfg.epochs = 8;
  cfg.patience = 0;
  cfg.val_split = 0.2;
  cfg.lr = 0.02;
  cfg.lr_decay = 0.5;
  cfg.lr_patience = 2;
  tmp_path(out_a, sizeof out_a, "decay-a.safetensors");
  tmp_path(out_b, sizeof out_b, "decay-b.safetensors");
  ASSERT_OK(rnj_train_paths(out_a, la, sa));
  ASSERT_OK(rnj_train_paths(out_b, lb, sb));
  rec_init(&a);
  ASSERT_OK(fit(&cfg, &d, out_a, 0, &a, &res, NULL, err));
  ASSERT_EQ(a.n, 8);
  lr = cfg.lr;
  for (i = 0; i < a.n; i++) {
    ASSERT_REL(a.ep[i].lr, lr, 1e-12, 0);
    if (!a.ep[i].improved && a.ep[i].bad_epochs % cfg.lr_patience == 0) {
      lr *= cfg.lr_decay;
      if (first_decay < 0)
        first_decay = i;
    }
  }
  ASSERT(first_decay >= 0 && first_decay < a.n - 1);
  printf("lr decay: first after epoch %d, last epoch at %g\n",
         first_decay + 1, a.ep[a.n - 1].lr);

  /* Interrupted in the epoch after the first decay, then resumed. */
  rec_init(&b);
  b.stop_epoch = first_decay + 1;
  b.stop_batch = 2;
  ASSERT_OK(fit(&cfg, &d, out_b, 0, &b, &res, NULL, err));
  ASSERT_EQ(res.status, RNJ_TRAIN_INTERRUPTED);
  rec_init(&b);
  ASSERT_OK(fit(&cfg, &d, out_b, 1, &b, &res, NULL, err));
  ASSERT_EQ(res.status, RNJ_TRAIN_DONE);
  ASSERT_REL(b.ep[0].lr, a.ep[first_decay + 1].lr, 1e-12, 0);
  assert_same_file(out_a, out_b);
  assert_same_file(la, lb);
  assert_same_file(sa, sb);

  /* The checkpoint says how it was trained. */
  ASSERT_OK(rnj_model_init(&m));
  ASSERT_OK(rnj_ckpt_load(&m, out_a, err));
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "lr_decay"), "0.5");
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "lr_patience"), "2");
  rnj_model_free(&m);

  /* A decay factor out of range is refused, naming the field. */
  cfg.lr_decay = 1.5;
  ASSERT(rnj_train_config_check(&cfg, err) != 0);
  ASSERT_CONTAINS(err, "lr-decay");
  cfg.lr_decay = 0.5;
  cfg.lr_patience = 0;
  ASSERT(rnj_train_config_check(&cfg, err) != 0);
  ASSERT_CONTAINS(err, "lr-patience");
  remove_run(out_a);
  remove_run(out_b);
  rnj_train_data_free(&d);
}

/* An output that cannot be written fails before the first batch. */
static void test_bad_output(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_result_t res;
  rec_t r;
  char err[RNJ_ERR_LEN];
  make_data(&d, 2, 100, 1);
  config(&cfg, 16, 25, 1);
  rec_init(&r);
  ASSERT(fit(&cfg, &d, "/nonexistent-dir/x.safetensors", 0, &r, &res, NULL,
             err) != 0);
  ASSERT_CONTAINS(err, "nonexistent-dir");
  ASSERT_EQ(r.batches_seen, 0);
  ASSERT(fit(&cfg, &d, test_tmp_dir(), 0, &r, &res, NULL, err) != 0);
  ASSERT_CONTAINS(err, "not a file");
  cfg.batch = 1000; /* more than the windows */
  ASSERT_EQ(fit(&cfg, &d, "x.safetensors", 0, &r, &res, NULL, err),
            RNJ_ENODATA);
  ASSERT_CONTAINS(err, "fewer than one batch");
  ASSERT_EQ(r.batches_seen, 0);
  cfg.batch = 0;
  ASSERT_EQ(rnj_train_config_check(&cfg, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "batch");
  rnj_train_data_free(&d);
}

int main(void) {
  printf("BLAS %s\n", rnj_train_blas());
  test_init();
  test_split();
  test_gradcheck(1, RNJ_KERNEL_PORTABLE);
  test_gradcheck(1, RNJ_KERNEL_AVX2);
  test_gradcheck(1, RNJ_KERNEL_AVX512);
  test_gradcheck(2, RNJ_KERNEL_AUTO);
  test_eval();
  test_clip(1);
  test_clip(2);
  test_matches_inference();
  test_bad_output();
  test_determinism_and_resume();
  test_early_stop();
  test_lr_decay();
  test_loss_falls();
  return 0;
}
