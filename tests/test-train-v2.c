/* The trainer's v2 arch (train.h, encoding.h): its loss and gradient
 * against PyTorch's, a finite-difference check of every tensor, the
 * transposition, clipping, determinism and resume.
 *
 * The PyTorch side is committed: tests/reference_train_v2.py `case` wrote
 * tests/data/ref-train-v2.* (a hidden-16 model, two files of notes in
 * ticks, nine windows with their transpositions, each head's loss and the
 * gradient of every tensor, computed in float64), so this needs no
 * Python.  The finite differences run on a double-precision forward
 * written here from the equations, independently of the trainer.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rnnjam/ckpt.h"
#include "rnnjam/encoding.h"
#include "rnnjam/model.h"
#include "rnnjam/notes.h"
#include "rnnjam/train.h"
#include "test.h"

#define MAXWIN 16
#define MAXFILES 4
#define MAXNOTES 64

/* ------------------------------------------------------------ helpers */

static uint64_t lcg_state;

static double urand(void) {
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(lcg_state >> 11) * 0x1p-53;
}

/* Append a note in beats (seconds at 120 bpm, for the tutorial's view). */
static void push(rnj_notes_t *ns, int pitch, int vel, double sb, double eb) {
  rnj_note_t n;
  memset(&n, 0, sizeof n);
  n.pitch = (uint8_t)pitch;
  n.velocity = (uint8_t)vel;
  n.start_beat = sb;
  n.end_beat = eb;
  n.start = sb / 2;
  n.end = eb / 2;
  ASSERT_OK(rnj_notes_push(ns, &n));
}

/* `files` files of `notes` (+ 5 per file) notes: a melody on a scale in
 * eighths and quarters, some chords, velocities that follow the beat. */
static void make_data(rnj_train_data_t *d, int files, int notes,
                      uint64_t seed) {
  static const int scale[7] = {0, 2, 4, 5, 7, 9, 11};
  char name[32];
  int f;
  lcg_state = seed;
  rnj_train_data_init(d);
  for (f = 0; f < files; f++) {
    rnj_notes_t ns;
    double t = 0;
    int deg = 7;
    int i;
    rnj_notes_init(&ns);
    for (i = 0; i < notes + 5 * f; i++) {
      double len = urand() < 0.7 ? 0.5 : 1.0;
      int p;
      deg += urand() < 0.5 ? 1 : -1;
      deg = deg < 0 ? 1 : deg > 20 ? 19 : deg;
      p = 48 + 12 * (deg / 7) + scale[deg % 7];
      push(&ns, p, fmod(t, 1.0) == 0 ? 96 : 64, t, t + len * 0.9);
      if (urand() < 0.15)
        push(&ns, p - 12, 80, t, t + 2);
      t += len;
    }
    rnj_notes_finish(&ns);
    snprintf(name, sizeof name, "melody-%d", f);
    ASSERT_OK(rnj_train_data_add(d, &ns, name));
    rnj_notes_free(&ns);
  }
}

static void config(rnj_train_config_t *c, int hidden, int batch, int seq,
                   int threads) {
  rnj_train_config_v2(c);
  c->hidden = hidden;
  c->batch = batch;
  c->seq_length = seq;
  c->threads = threads;
}

static double sig(double x) { return 1.0 / (1.0 + exp(-x)); }

/* The v2 model's mean loss over `n` windows shifted by `shifts`, straight
 * from the equations in double: z = b + K[pitch] + K[130 + phase] +
 * K[154 + velocity bin] + s K[128] + d K[129] + h U (gates i, f, c, o),
 * then four softmax heads on h_T; CE(pitch) + 0.5 (CE(step) +
 * CE(duration) + CE(velocity)). */
static double ref_loss(const rnj_model_t *m, const double *p,
                       const rnj_train_data_t *d, const uint32_t *win,
                       const int8_t *shifts, size_t n, int T) {
  static const int hn[4] = {128, 98, 102, 32};
  const int H = m->hidden;
  const int G = 4 * H;
  const double *K = p + m->tensors[0].offset;
  const double *U = p + m->tensors[1].offset;
  const double *bias = p + m->tensors[2].offset;
  double *h = malloc((size_t)H * sizeof *h);
  double *c = malloc((size_t)H * sizeof *c);
  double *z = malloc((size_t)G * sizeof *z);
  double total = 0;
  size_t w;
  ASSERT(h && c && z);
  for (w = 0; w < n; w++) {
    size_t s = win[w];
    int k = shifts ? shifts[w] : 0;
    const uint8_t *ct = d->code + (s + (size_t)T) * 4;
    int y[4];
    int t;
    int j;
    int q;
    y[0] = d->pitch[s + (size_t)T] + k;
    y[1] = ct[2];
    y[2] = ct[3];
    y[3] = ct[1];
    memset(h, 0, (size_t)H * sizeof *h);
    memset(c, 0, (size_t)H * sizeof *c);
    for (t = 0; t < T; t++) {
      size_t nt = s + (size_t)t;
      const double *kp = K + (size_t)(d->pitch[nt] + k) * (size_t)G;
      const double *kph =
          K + (size_t)(RNJ_ENCODING_ROW_PHASE + d->code[nt * 4]) * (size_t)G;
      const double *kv =
          K + (size_t)(RNJ_ENCODING_ROW_VELOCITY + d->code[nt * 4 + 1]) *
                  (size_t)G;
      const double *ks = K + (size_t)RNJ_ENCODING_ROW_STEP * (size_t)G;
      const double *kd = K + (size_t)RNJ_ENCODING_ROW_DURATION * (size_t)G;
      double sv = d->tin[nt * 2];
      double dv = d->tin[nt * 2 + 1];
      for (j = 0; j < G; j++) {
        double a = bias[j] + kp[j] + kph[j] + kv[j] + sv * ks[j] + dv * kd[j];
        int i;
        for (i = 0; i < H; i++)
          a += h[i] * U[(size_t)i * (size_t)G + (size_t)j];
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
    for (q = 0; q < 4; q++) {
      const double *hk = p + m->tensors[3 + 2 * q].offset;
      const double *hb = p + m->tensors[4 + 2 * q].offset;
      double l[128] = {0};
      double mx;
      double se = 0;
      int o;
      for (o = 0; o < hn[q]; o++) {
        l[o] = hb[o];
        for (j = 0; j < H; j++)
          l[o] += h[j] * hk[(size_t)j * (size_t)hn[q] + (size_t)o];
      }
      mx = l[0];
      for (o = 1; o < hn[q]; o++)
        mx = l[o] > mx ? l[o] : mx;
      for (o = 0; o < hn[q]; o++)
        se += exp(l[o] - mx);
      total += (q ? 0.5 : 1.0) * (log(se) + mx - l[y[q]]);
    }
  }
  free(h);
  free(c);
  free(z);
  return total / (double)n;
}

/* ------------------------------------------------- the PyTorch vectors */

typedef struct {
  int hidden;
  int seq;
  int tpq;
  int nfiles;
  int nnotes[MAXFILES];
  int notes[MAXFILES][MAXNOTES][4]; /* pitch, velocity, start, end ticks */
  int nwin;
  int win[MAXWIN][3]; /* file, first note, shift */
  int target[MAXWIN][4];
  double loss[5]; /* total, pitch, step, duration, velocity */
  double grad_norm;
} refcase_t;

static void read_case(refcase_t *rc, const char *path) {
  FILE *f = fopen(path, "r");
  char line[512];
  int file = -1;
  int nt = 0;
  memset(rc, 0, sizeof *rc);
  if (!f)
    FAIL("%s: %s", path, strerror(errno));
  while (fgets(line, sizeof line, f)) {
    int a[4];
    double v;
    if (line[0] == '#')
      continue;
    if (sscanf(line, "hidden %d", &rc->hidden) == 1 ||
        sscanf(line, "seq_length %d", &rc->seq) == 1 ||
        sscanf(line, "ticks_per_quarter %d", &rc->tpq) == 1)
      continue;
    if (sscanf(line, "file %d %d", &a[0], &a[1]) == 2) {
      ASSERT(a[0] == rc->nfiles && a[0] < MAXFILES && a[1] <= MAXNOTES);
      file = rc->nfiles++;
      rc->nnotes[file] = 0;
    } else if (sscanf(line, "note %d %d %d %d", &a[0], &a[1], &a[2],
                      &a[3]) == 4) {
      ASSERT(file >= 0 && rc->nnotes[file] < MAXNOTES);
      memcpy(rc->notes[file][rc->nnotes[file]++], a, sizeof a);
    } else if (sscanf(line, "window %d %d %d", &a[0], &a[1], &a[2]) == 3) {
      ASSERT(rc->nwin < MAXWIN);
      memcpy(rc->win[rc->nwin++], a, 3 * sizeof(int));
    } else if (sscanf(line, "target %d %d %d %d", &a[0], &a[1], &a[2],
                      &a[3]) == 4) {
      ASSERT(nt < MAXWIN);
      memcpy(rc->target[nt++], a, sizeof a);
    } else if (sscanf(line, "loss_total %lf", &v) == 1) {
      rc->loss[0] = v;
    } else if (sscanf(line, "loss_pitch %lf", &v) == 1) {
      rc->loss[1] = v;
    } else if (sscanf(line, "loss_step %lf", &v) == 1) {
      rc->loss[2] = v;
    } else if (sscanf(line, "loss_duration %lf", &v) == 1) {
      rc->loss[3] = v;
    } else if (sscanf(line, "loss_velocity %lf", &v) == 1) {
      rc->loss[4] = v;
    } else if (sscanf(line, "grad_norm %lf", &v) == 1) {
      rc->grad_norm = v;
    }
  }
  fclose(f);
  ASSERT(rc->hidden > 0 && rc->seq > 0 && rc->tpq > 0 && rc->nfiles > 0);
  ASSERT(rc->nwin > 0 && nt == rc->nwin && rc->loss[0] > 0);
}

static void case_data(const refcase_t *rc, rnj_train_data_t *d) {
  int f;
  int i;
  rnj_train_data_init(d);
  for (f = 0; f < rc->nfiles; f++) {
    rnj_notes_t ns;
    rnj_notes_init(&ns);
    for (i = 0; i < rc->nnotes[f]; i++) {
      const int *n = rc->notes[f][i];
      push(&ns, n[0], n[1], (double)n[2] / rc->tpq, (double)n[3] / rc->tpq);
    }
    rnj_notes_finish(&ns);
    ASSERT_OK(rnj_train_data_add(d, &ns, "case"));
    rnj_notes_free(&ns);
  }
}

/* Relative error of a against b, as norms over n floats. */
static double rel_err(const float *a, const float *b, size_t n) {
  double num = 0;
  double den = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    den += (double)b[i] * b[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void test_parity(int threads, rnj_kernel_t kernel) {
  char path[4096];
  char err[RNJ_ERR_LEN];
  refcase_t rc;
  rnj_model_t m;
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_t tr;
  rnj_loss_t l;
  uint32_t win[MAXWIN];
  int8_t shifts[MAXWIN];
  float *ref;
  FILE *f;
  double worst = 0;
  const char *worst_name = "";
  int i;
  int t;

  snprintf(path, sizeof path, "%s/ref-train-v2.txt", test_data_dir());
  read_case(&rc, path);
  case_data(&rc, &d);
  snprintf(path, sizeof path, "%s/ref-train-v2.safetensors",
           test_data_dir());
  ASSERT_OK(rnj_model_init(&m));
  if (rnj_ckpt_load(&m, path, err))
    FAIL("%s", err);
  ASSERT_EQ(m.kind, RNJ_MODEL_V2);
  ASSERT_EQ(m.hidden, rc.hidden);
  ASSERT_EQ(m.seq_length, rc.seq);

  config(&cfg, rc.hidden, rc.nwin, rc.seq, threads);
  cfg.kernel = kernel;
  if (rnj_train_init(&tr, &cfg, err) == RNJ_ENOSYS) {
    printf("parity: kernel %d not on this CPU, not checked\n", kernel);
    rnj_model_free(&m);
    rnj_train_data_free(&d);
    return;
  }
  ASSERT_EQ(tr.model.nparams, m.nparams);
  memcpy(tr.model.params, m.params, m.nparams * sizeof(float));
  for (i = 0; i < rc.nwin; i++) {
    win[i] = (uint32_t)(d.first[rc.win[i][0]] + (size_t)rc.win[i][1]);
    shifts[i] = (int8_t)rc.win[i][2];
  }
  ASSERT_OK(rnj_train_grad_shifted(&tr, &d, win, shifts, (size_t)rc.nwin,
                                   &l));
  /* The encoding of the targets (beats -> bins) is the reference's. */
  for (i = 0; i < rc.nwin; i++) {
    const uint8_t *code = d.code + (win[i] + (size_t)rc.seq) * 4;
    ASSERT_EQ(d.pitch[win[i] + (size_t)rc.seq] + shifts[i],
              rc.target[i][0]);
    ASSERT_EQ(code[2], rc.target[i][1]);
    ASSERT_EQ(code[3], rc.target[i][2]);
    ASSERT_EQ(code[1], rc.target[i][3]);
  }
  ASSERT_REL(l.total, rc.loss[0], 1e-5, 0);
  ASSERT_REL(l.pitch, rc.loss[1], 1e-5, 0);
  ASSERT_REL(l.step, rc.loss[2], 1e-5, 0);
  ASSERT_REL(l.duration, rc.loss[3], 1e-5, 0);
  ASSERT_REL(l.velocity, rc.loss[4], 1e-5, 0);

  ref = malloc(m.nparams * sizeof *ref);
  ASSERT(ref);
  snprintf(path, sizeof path, "%s/ref-train-v2-grad.f32", test_data_dir());
  f = fopen(path, "rb");
  if (!f)
    FAIL("%s: %s", path, strerror(errno));
  ASSERT_EQ(fread(ref, sizeof *ref, m.nparams, f), m.nparams);
  ASSERT_EQ(fgetc(f), EOF);
  fclose(f);
  for (t = 0; t < m.ntensors; t++) {
    const rnj_tensor_info_t *ti = &m.tensors[t];
    double e = rel_err(tr.grad + ti->offset, ref + ti->offset, ti->count);
    if (e > worst) {
      worst = e;
      worst_name = ti->name;
    }
    if (!(e <= 1e-4))
      FAIL("%s: gradient %.3g from PyTorch's (relative, as norms; kernels "
           "%s, %d threads)", ti->name, e, rnj_train_kernels(&tr), threads);
  }
  /* The rows of the input kernel no window used get exactly nothing. */
  for (i = 0; i < RNJ_ENCODING_INPUT; i++) {
    size_t g4 = 4 * (size_t)rc.hidden;
    size_t j;
    int used = 0;
    for (j = 0; j < g4; j++)
      used |= ref[(size_t)i * g4 + j] != 0;
    if (!used)
      for (j = 0; j < g4; j++)
        ASSERT(tr.grad[(size_t)i * g4 + j] == 0);
  }
  /* The norm clipping uses: the gradient's, and PyTorch's. */
  {
    double sq = 0;
    size_t j;
    for (j = 0; j < m.nparams; j++)
      sq += (double)tr.grad[j] * tr.grad[j];
    ASSERT_REL(tr.grad_norm, sqrt(sq), 1e-9, 0);
    ASSERT_REL(tr.grad_norm, rc.grad_norm, 1e-4, 0);
  }
  printf("parity with PyTorch (%s, %d thread%s): losses within %.2g, "
         "gradients within %.2g (worst %s)\n", rnj_train_kernels(&tr),
         threads, threads > 1 ? "s" : "",
         fmax(fmax(fabs(l.pitch / rc.loss[1] - 1), fabs(l.step / rc.loss[2] -
                                                         1)),
              fmax(fabs(l.duration / rc.loss[3] - 1),
                   fabs(l.velocity / rc.loss[4] - 1))),
         worst, worst_name);
  free(ref);
  rnj_train_free(&tr);
  rnj_model_free(&m);
  rnj_train_data_free(&d);
}

/* ------------------------------------------------- finite differences */

/* Every tensor's gradient against central differences of ref_loss (step
 * 1e-5 in double), on windows with transpositions: per sampled element
 * |g - fd| <= 2e-3 |fd| + 1e-4 max|fd|, and along a random +-1 direction
 * over the whole tensor within 1e-3.  Samples of the input kernel are
 * drawn from the rows the windows use (the others are checked to be 0).
 * Hidden 16 runs dh = dz U^T through OpenBLAS, 32 through the AVX-512
 * set's packed product. */
static void test_gradcheck(int hidden, int threads, rnj_kernel_t kernel) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_t tr;
  rnj_loss_t loss;
  uint32_t win[3];
  int8_t shifts[3] = {0, 3, -2};
  double *p;
  double *dir;
  double L;
  const double eps = 1e-5;
  const int T = 5;
  char err[RNJ_ERR_LEN];
  size_t np;
  size_t g4 = 4 * (size_t)hidden;
  int t;
  size_t i;

  make_data(&d, 2, 40, 11);
  config(&cfg, hidden, 3, T, threads);
  cfg.kernel = kernel;
  if (rnj_train_init(&tr, &cfg, err) == RNJ_ENOSYS) {
    printf("gradcheck: kernel %d not on this CPU, not checked\n", kernel);
    rnj_train_data_free(&d);
    return;
  }
  np = tr.model.nparams;
  p = malloc(np * sizeof *p);
  dir = malloc(np * sizeof *dir);
  ASSERT(p && dir);
  /* Off Keras' special values (zero biases). */
  lcg_state = 99;
  for (i = 0; i < np; i++)
    tr.model.params[i] += (float)(0.1 * (urand() - 0.5));
  win[0] = 0;
  win[1] = 17;
  win[2] = (uint32_t)(d.first[1] + 3);
  ASSERT_OK(rnj_train_grad_shifted(&tr, &d, win, shifts, 3, &loss));
  for (i = 0; i < np; i++)
    p[i] = tr.model.params[i];
  L = ref_loss(&tr.model, p, &d, win, shifts, 3, T);
  ASSERT_REL(loss.total, L, 1e-5, 1e-9);

  for (t = 0; t < tr.model.ntensors; t++) {
    const rnj_tensor_info_t *ti = &tr.model.tensors[t];
    size_t off = ti->offset;
    size_t cnt = ti->count;
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
      if (t == 0) {
        /* A row some window uses: one of its first step's notes. */
        size_t w = win[s % 3];
        size_t row = s % 3 == 0 ? (size_t)(d.pitch[w] + shifts[s % 3])
                     : s % 3 == 1
                         ? (size_t)(RNJ_ENCODING_ROW_PHASE + d.code[w * 4])
                         : (size_t)(RNJ_ENCODING_ROW_STEP + s % 2);
        idx[s] = row * g4 + (size_t)(urand() * (double)g4);
      } else {
        idx[s] = cnt <= 24 ? s : (size_t)(urand() * (double)cnt);
      }
      keep = p[off + idx[s]];
      p[off + idx[s]] = keep + eps;
      lp = ref_loss(&tr.model, p, &d, win, shifts, 3, T);
      p[off + idx[s]] = keep - eps;
      lm = ref_loss(&tr.model, p, &d, win, shifts, 3, T);
      p[off + idx[s]] = keep;
      fd[s] = (lp - lm) / (2 * eps);
      if (fabs(fd[s]) > fdmax)
        fdmax = fabs(fd[s]);
    }
    ASSERT(fdmax > 0);
    for (s = 0; s < nsamp; s++) {
      double g = tr.grad[off + idx[s]];
      if (!(fabs(g - fd[s]) <= 2e-3 * fabs(fd[s]) + 1e-4 * fdmax))
        FAIL("%s[%zu]: gradient %.9g, finite difference %.9g "
             "(hidden %d, threads %d, kernels %s)", ti->name, idx[s], g,
             fd[s], hidden, threads, rnj_train_kernels(&tr));
    }
    /* All elements at once, along a random direction. */
    for (i = 0; i < cnt; i++) {
      dir[i] = urand() < 0.5 ? -1.0 : 1.0;
      dot += dir[i] * tr.grad[off + i];
    }
    for (i = 0; i < cnt; i++)
      p[off + i] += eps * dir[i];
    lp = ref_loss(&tr.model, p, &d, win, shifts, 3, T);
    for (i = 0; i < cnt; i++)
      p[off + i] -= 2 * eps * dir[i];
    lm = ref_loss(&tr.model, p, &d, win, shifts, 3, T);
    for (i = 0; i < cnt; i++)
      p[off + i] = tr.model.params[off + i];
    dfd = (lp - lm) / (2 * eps);
    if (!(fabs(dot - dfd) <= 1e-3 * fabs(dfd) + 1e-7))
      FAIL("%s: directional derivative %.9g, finite difference %.9g "
           "(hidden %d, kernels %s)", ti->name, dot, dfd, hidden,
           rnj_train_kernels(&tr));
    printf("gradcheck v2 h%d %s x%d %-22s ok (max |fd| %.3g, directional "
           "%.6g vs %.6g)\n", hidden, rnj_train_kernels(&tr), threads,
           ti->name, fdmax, dot, dfd);
  }
  rnj_train_free(&tr);
  rnj_train_data_free(&d);
  free(p);
  free(dir);
}

/* -------------------------------------------------------- transposition */

static void test_shift(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_t tr;
  rnj_notes_t ns;
  int seen[12];
  int epoch;
  int min_k0 = 99;
  int max_k1 = -99;
  size_t w;
  int i;

  /* Every window of file 0 has a 22 (k >= -1), of file 1 a 106
   * (k <= 2), of file 2 a 20 below the piano (k = 0); file 3 is
   * ordinary. */
  rnj_train_data_init(&d);
  for (i = 0; i < 4; i++) {
    static const int base[4] = {22, 104, 20, 60};
    int j;
    rnj_notes_init(&ns);
    for (j = 0; j < 12; j++)
      push(&ns, base[i] + (i == 3 ? (j * 5) % 7 : 2 * (j % 2)), 80, j * 0.5,
           j * 0.5 + 0.4);
    rnj_notes_finish(&ns);
    ASSERT_OK(rnj_train_data_add(&d, &ns, "shift"));
    rnj_notes_free(&ns);
  }
  config(&cfg, 16, 4, 5, 1);
  ASSERT_OK(rnj_train_init(&tr, &cfg, NULL));
  memset(seen, 0, sizeof seen);
  for (epoch = 0; epoch < 200; epoch++)
    for (w = 0; w < d.n_notes - 5; w++) {
      int k = rnj_train_shift(&tr, &d, (uint32_t)w, epoch);
      int lo = 127;
      int hi = 0;
      int t;
      ASSERT_EQ(k, rnj_train_shift(&tr, &d, (uint32_t)w, epoch));
      ASSERT(k >= cfg.transpose_lo && k <= cfg.transpose_hi);
      for (t = 0; t <= 5; t++) {
        int p = d.pitch[w + (size_t)t];
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
      }
      if (lo < 21 || hi > 108) {
        ASSERT_EQ(k, 0); /* the window's own range does not fit */
      } else {
        ASSERT(lo + k >= 21 && hi + k <= 108);
      }
      if (w >= d.first[3] && w + 5 < d.first[4])
        seen[k + 6]++;
      if (w + 5 < d.first[1])
        min_k0 = k < min_k0 ? k : min_k0;
      if (w >= d.first[1] && w + 5 < d.first[2])
        max_k1 = k > max_k1 ? k : max_k1;
    }
  /* An ordinary window reaches the whole range, evenly enough. */
  for (i = 0; i < 12; i++)
    if (!(seen[i] > 200 * 6 / 12 / 2))
      FAIL("shift %d drawn %d times of %d", i - 6, seen[i], 200 * 6);
  /* Narrowed at the edges: file 0 reaches 22 (k >= -1), file 1 106
   * (k <= 2), and both bounds are drawn. */
  ASSERT_EQ(min_k0, -1);
  ASSERT_EQ(max_k1, 2);
  /* A different seed draws differently; 0:0 and the tutorial draw none. */
  {
    rnj_train_t t2;
    int differ = 0;
    cfg.seed = 43;
    ASSERT_OK(rnj_train_init(&t2, &cfg, NULL));
    for (w = d.first[3]; w + 5 < d.first[4]; w++)
      differ |= rnj_train_shift(&tr, &d, (uint32_t)w, 0) !=
                rnj_train_shift(&t2, &d, (uint32_t)w, 0);
    ASSERT(differ);
    rnj_train_free(&t2);
    cfg.transpose_lo = cfg.transpose_hi = 0;
    ASSERT_OK(rnj_train_init(&t2, &cfg, NULL));
    for (w = 0; w + 5 < d.n_notes; w++)
      ASSERT_EQ(rnj_train_shift(&t2, &d, (uint32_t)w, 3), 0);
    rnj_train_free(&t2);
  }
  /* Shifts that leave 0..127, or on the tutorial arch, are refused. */
  {
    uint32_t win[1] = {(uint32_t)d.first[1]};
    int8_t sh[1] = {30};
    ASSERT(rnj_train_grad_shifted(&tr, &d, win, sh, 1, NULL) == RNJ_EINVAL);
    sh[0] = 2;
    ASSERT_OK(rnj_train_grad_shifted(&tr, &d, win, sh, 1, NULL));
  }
  rnj_train_free(&tr);
  rnj_train_data_free(&d);
}

/* ------------------------------------------------------------ config */

static void test_config(void) {
  rnj_train_config_t c;
  char err[RNJ_ERR_LEN];
  rnj_train_config_v2(&c);
  ASSERT_OK(rnj_train_config_check(&c, err));
  ASSERT_EQ(c.arch, RNJ_MODEL_V2);
  ASSERT_EQ(c.hidden, 128);
  ASSERT(c.clip_norm == 1.0);
  ASSERT(c.transpose_lo == -6 && c.transpose_hi == 5);
  c.hidden = 24;
  ASSERT_EQ(rnj_train_config_check(&c, err), RNJ_EINVAL);
  ASSERT(strstr(err, "hidden: 24") != NULL);
  c.hidden = 528;
  ASSERT_EQ(rnj_train_config_check(&c, err), RNJ_EINVAL);
  c.hidden = 512;
  ASSERT_OK(rnj_train_config_check(&c, err));
  c.transpose_lo = 3;
  c.transpose_hi = 2;
  ASSERT_EQ(rnj_train_config_check(&c, err), RNJ_EINVAL);
  ASSERT(strstr(err, "transpose: 3:2") != NULL);
  rnj_train_config_default(&c);
  c.transpose_hi = 1;
  ASSERT_EQ(rnj_train_config_check(&c, err), RNJ_EINVAL);
  ASSERT(strstr(err, "tutorial") != NULL);
  rnj_train_config_default(&c);
  c.hidden = 64;
  ASSERT_EQ(rnj_train_config_check(&c, err), RNJ_EINVAL);
  rnj_train_config_default(&c);
  c.arch = 7;
  ASSERT_EQ(rnj_train_config_check(&c, err), RNJ_EINVAL);
  ASSERT(strstr(err, "arch: 7") != NULL);
}

/* ---------------------------------------------------- clipping, fit */

static void test_clip(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_t tr;
  uint32_t win[4] = {0, 5, 10, 15};
  double sq = 0;
  size_t i;
  make_data(&d, 1, 40, 3);
  config(&cfg, 32, 4, 8, 2);
  cfg.clip_norm = 1e-3;
  ASSERT_OK(rnj_train_init(&tr, &cfg, NULL));
  ASSERT_OK(rnj_train_batch(&tr, &d, win, 4, NULL));
  ASSERT(tr.grad_norm > 1e-2);
  for (i = 0; i < tr.model.nparams; i++)
    sq += (double)tr.grad[i] * tr.grad[i];
  ASSERT_REL(sqrt(sq), 1e-3, 1e-5, 0);
  rnj_train_free(&tr);
  rnj_train_data_free(&d);
}

typedef struct {
  int stop_epoch;
  int stop_batch;
  volatile sig_atomic_t flag;
  double first;
  double last;
  double norm;
  int epochs;
} rec_t;

static void record(const rnj_train_progress_t *p, void *arg) {
  rec_t *r = arg;
  if (p->event == RNJ_TRAIN_EVENT_BATCH) {
    if (p->epoch == r->stop_epoch && (int)p->batch == r->stop_batch)
      r->flag = 1;
    return;
  }
  if (r->epochs++ == 0)
    r->first = p->train.total;
  r->last = p->train.total;
  r->norm = p->grad_norm;
  ASSERT(p->train.velocity > 0);
  ASSERT_REL(p->train.total,
             p->train.pitch + 0.5 * (p->train.step + p->train.duration +
                                     p->train.velocity), 1e-9, 0);
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

static void remove_run(const char *out) {
  char last[RNJ_TRAIN_PATH_LEN];
  char state[RNJ_TRAIN_PATH_LEN];
  ASSERT_OK(rnj_train_paths(out, last, state));
  unlink(out);
  unlink(last);
  unlink(state);
}

/* Run a fit into `out`; with stop_epoch >= 0 it is interrupted there and
 * resumed by a fresh trainer. */
static void fit(const rnj_train_config_t *cfg, const rnj_train_data_t *d,
                const rnj_train_split_t *s, const char *out, int stop_epoch,
                int stop_batch, rec_t *r) {
  rnj_train_t tr;
  rnj_train_fit_t fit;
  rnj_train_result_t res;
  char err[RNJ_ERR_LEN];
  memset(r, 0, sizeof *r);
  r->stop_epoch = stop_epoch;
  r->stop_batch = stop_batch;
  memset(&fit, 0, sizeof fit);
  fit.out = out;
  fit.progress = record;
  fit.arg = r;
  fit.stop = &r->flag;
  ASSERT_OK(rnj_train_init(&tr, cfg, err));
  if (rnj_train_fit(&tr, d, s, &fit, &res, err))
    FAIL("rnj_train_fit: %s", err);
  if (stop_epoch >= 0) {
    ASSERT_EQ(res.status, RNJ_TRAIN_INTERRUPTED);
    rnj_train_free(&tr);
    ASSERT_OK(rnj_train_init(&tr, cfg, err));
    r->stop_epoch = -1;
    r->flag = 0;
    fit.resume = 1;
    if (rnj_train_fit(&tr, d, s, &fit, &res, err))
      FAIL("rnj_train_fit (resume): %s", err);
    ASSERT_EQ(res.resumed_epoch, stop_epoch);
    ASSERT_EQ(res.resumed_batch, (size_t)stop_batch);
  }
  ASSERT_EQ(res.status, RNJ_TRAIN_DONE);
  rnj_train_free(&tr);
}

static void run_paths(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/test-train-v2-%ld-%s.safetensors", test_tmp_dir(),
           (long)getpid(), name);
}

/* Same seed and threads: the same bytes (checkpoints and state, the
 * transpositions included); interrupted mid-epoch and resumed: the same
 * bytes as uninterrupted; the checkpoint loads as a v2 model; a resume
 * with another transposition range or hidden size is refused. */
static void test_determinism_and_resume(int threads) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_split_t s;
  rnj_model_t m;
  rec_t r;
  char a[4096];
  char b[4096];
  char c[4096];
  char la[RNJ_TRAIN_PATH_LEN];
  char sa[RNJ_TRAIN_PATH_LEN];
  char lb[RNJ_TRAIN_PATH_LEN];
  char sb[RNJ_TRAIN_PATH_LEN];
  char err[RNJ_ERR_LEN];
  make_data(&d, 6, 60, 21);
  config(&cfg, 32, 8, 10, threads);
  cfg.epochs = 3;
  cfg.patience = 0;
  ASSERT_OK(rnj_train_split_init(&s, &d, cfg.seq_length, 0.2, cfg.seed,
                                 NULL));
  run_paths(a, sizeof a, "a");
  run_paths(b, sizeof b, "b");
  run_paths(c, sizeof c, "c");
  fit(&cfg, &d, &s, a, -1, 0, &r);
  ASSERT_EQ(r.epochs, 3);
  ASSERT(r.norm > 0);
  fit(&cfg, &d, &s, b, -1, 0, &r);
  ASSERT_OK(rnj_train_paths(a, la, sa));
  ASSERT_OK(rnj_train_paths(b, lb, sb));
  assert_same_file(a, b);
  assert_same_file(la, lb);
  assert_same_file(sa, sb);
  remove_run(b);
  fit(&cfg, &d, &s, b, 1, 2, &r);
  assert_same_file(a, b);
  assert_same_file(la, lb);
  assert_same_file(sa, sb);
  /* The checkpoint is a v2 model with the run's metadata. */
  ASSERT_OK(rnj_model_init(&m));
  if (rnj_ckpt_load(&m, a, err))
    FAIL("%s", err);
  ASSERT_EQ(m.kind, RNJ_MODEL_V2);
  ASSERT_EQ(m.hidden, 32);
  ASSERT(rnj_model_get_meta(&m, "transpose") &&
         strcmp(rnj_model_get_meta(&m, "transpose"), "-6:5") == 0);
  ASSERT(rnj_model_get_meta(&m, "train_loss_velocity") != NULL);
  ASSERT(rnj_model_get_meta(&m, "clip_norm") != NULL);
  rnj_model_free(&m);
  /* Another transposition changes the run; resuming it is refused. */
  cfg.transpose_lo = -3;
  {
    rnj_train_t tr;
    rnj_train_fit_t f;
    rnj_train_result_t res;
    memset(&f, 0, sizeof f);
    f.out = a;
    f.resume = 1;
    ASSERT_OK(rnj_train_init(&tr, &cfg, NULL));
    ASSERT(rnj_train_fit(&tr, &d, &s, &f, &res, err) != 0);
    ASSERT(strstr(err, "transpose") != NULL);
    rnj_train_free(&tr);
    cfg.transpose_lo = -6;
    cfg.hidden = 16;
    ASSERT_OK(rnj_train_init(&tr, &cfg, NULL));
    ASSERT(rnj_train_fit(&tr, &d, &s, &f, &res, err) != 0);
    ASSERT(strstr(err, "hidden") != NULL);
    rnj_train_free(&tr);
  }
  printf("v2 determinism and resume (%d thread%s): same bytes\n", threads,
         threads > 1 ? "s" : "");
  remove_run(a);
  remove_run(b);
  remove_run(c);
  rnj_train_split_free(&s);
  rnj_train_data_free(&d);
}

/* The loss falls on a learnable melody (no corpus needed). */
static void test_loss_falls(void) {
  rnj_train_config_t cfg;
  rnj_train_data_t d;
  rnj_train_split_t s;
  rec_t r;
  char a[4096];
  make_data(&d, 4, 300, 5);
  config(&cfg, 64, 32, 16, 2);
  cfg.epochs = 4;
  cfg.patience = 0;
  ASSERT_OK(rnj_train_split_init(&s, &d, cfg.seq_length, 0.25, cfg.seed,
                                 NULL));
  run_paths(a, sizeof a, "falls");
  fit(&cfg, &d, &s, a, -1, 0, &r);
  printf("v2 loss falls on a made-up melody: %.4f -> %.4f\n", r.first,
         r.last);
  ASSERT(r.last < 0.8 * r.first);
  remove_run(a);
  rnj_train_split_free(&s);
  rnj_train_data_free(&d);
}

int main(void) {
  test_config();
  test_parity(1, RNJ_KERNEL_PORTABLE);
  test_parity(1, RNJ_KERNEL_AVX2);
  test_parity(1, RNJ_KERNEL_AVX512);
  test_parity(2, RNJ_KERNEL_AUTO);
  test_gradcheck(16, 1, RNJ_KERNEL_PORTABLE);
  test_gradcheck(16, 2, RNJ_KERNEL_AVX2);
  test_gradcheck(32, 1, RNJ_KERNEL_AVX512);
  test_gradcheck(48, 2, RNJ_KERNEL_AUTO);
  test_shift();
  test_clip();
  test_determinism_and_resume(1);
  test_determinism_and_resume(2);
  test_loss_falls();
  return 0;
}
