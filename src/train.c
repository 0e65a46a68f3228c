/* The trainer (for now): its object, Keras' initialisers, the state file
 * and the fit loop (see train.h).  The layers are in lstm_layer.c and
 * heads.c, the tutorial model's slice of a batch through them in
 * tutorial.c.
 *
 * Limits: one LSTM layer of RNJ_MODEL_HIDDEN cells (the model of model.h);
 * the whole history of a batch is kept for backpropagation (about 90 KB a
 * window row at 25 steps, 5.8 MB for a batch of 64).
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "train/internal.h"
#include "train/kern.h"
#include "rnnjam/ckpt.h"
#include "rnnjam/sample.h"
#include "rnnjam/train.h"

#define NPARAMS RNJ_MODEL_NPARAMS

/* ---------------------------------------------------------------- config */

void rnj_train_config_default(rnj_train_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->epochs = 50;
  cfg->batch = 64;
  cfg->seq_length = RNJ_MODEL_SEQ_LENGTH;
  cfg->lr = 0.005;
  cfg->beta1 = 0.9;
  cfg->beta2 = 0.999;
  cfg->epsilon = 1e-7;
  cfg->val_split = 0.1;
  cfg->patience = 5;
  cfg->seed = 42; /* the tutorial's tf.random.set_seed(42) */
  cfg->threads = 1;
}

int rnj_train_config_check(const rnj_train_config_t *cfg, char *err) {
  if (cfg->epochs < 1)
    return rnj_errorf(err, RNJ_EINVAL, "epochs: %d (expected >= 1)",
                      cfg->epochs);
  if (cfg->batch < 1 || cfg->batch > RNJ_TRAIN_MAX_BATCH)
    return rnj_errorf(err, RNJ_EINVAL, "batch: %d (expected 1..%d)",
                      cfg->batch, RNJ_TRAIN_MAX_BATCH);
  if (cfg->seq_length < 1 || cfg->seq_length > RNJ_TRAIN_MAX_SEQ_LENGTH)
    return rnj_errorf(err, RNJ_EINVAL, "seq_length: %d (expected 1..%d)",
                      cfg->seq_length, RNJ_TRAIN_MAX_SEQ_LENGTH);
  if (!(cfg->lr > 0 && cfg->lr < 1e3))
    return rnj_errorf(err, RNJ_EINVAL, "lr: %g (expected > 0)", cfg->lr);
  if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) ||
      !(cfg->beta2 >= 0 && cfg->beta2 < 1))
    return rnj_errorf(err, RNJ_EINVAL,
                      "betas: %g, %g (expected each in [0, 1))", cfg->beta1,
                      cfg->beta2);
  if (!(cfg->epsilon > 0 && cfg->epsilon < 1))
    return rnj_errorf(err, RNJ_EINVAL, "epsilon: %g (expected in (0, 1))",
                      cfg->epsilon);
  if (!(cfg->val_split >= 0 && cfg->val_split < 1))
    return rnj_errorf(err, RNJ_EINVAL, "val_split: %g (expected in [0, 1))",
                      cfg->val_split);
  if (cfg->patience < 0)
    return rnj_errorf(err, RNJ_EINVAL, "patience: %d (expected >= 0)",
                      cfg->patience);
  if (cfg->threads < 1 || cfg->threads > RNJ_TRAIN_MAX_THREADS)
    return rnj_errorf(err, RNJ_EINVAL, "threads: %d (expected 1..%d)",
                      cfg->threads, RNJ_TRAIN_MAX_THREADS);
  return 0;
}

/* ------------------------------------------------------------- buffers */

static void loss_from_sums(const double s[3], double n, rnj_loss_t *l) {
  l->pitch = s[0] / n;
  l->step = s[1] / n;
  l->duration = s[2] / n;
  l->total = RNJ_LOSS_PITCH_WEIGHT * l->pitch +
             RNJ_LOSS_STEP_WEIGHT * l->step +
             RNJ_LOSS_DURATION_WEIGHT * l->duration;
}

/* Carve one worker's buffers out of one block, each 64-byte aligned. */
static int worker_alloc(rnj__train_worker_t *w, size_t cap, int T,
                        int own_grad) {
  size_t sizes[15];
  float **slots[15];
  size_t total = 0;
  size_t i;
  uint8_t *base;
  int n = 0;
#define SLOT(ptr, count)                                                     \
  do {                                                                       \
    slots[n] = (float **)(void *)&(ptr);                                     \
    sizes[n++] = ((count) * sizeof(float) + 63) & ~(size_t)63;               \
  } while (0)
  SLOT(w->x, (size_t)T * cap * 3);
  SLOT(w->z, (size_t)T * cap * G);
  SLOT(w->h, (size_t)(T + 1) * cap * H);
  SLOT(w->c, (size_t)(T + 1) * cap * H);
  SLOT(w->tc, (size_t)T * cap * H);
  SLOT(w->logit, cap * P);
  SLOT(w->esum, cap);
  SLOT(w->pred, cap * 2);
  SLOT(w->dpred, cap * 2);
  SLOT(w->ys, cap * 2);
  SLOT(w->yp, cap); /* int and float have the same size here */
  SLOT(w->dh, cap * H);
  SLOT(w->dc, cap * H);
  if (own_grad)
    SLOT(w->grad, (size_t)NPARAMS);
#undef SLOT
  _Static_assert(sizeof(int) == sizeof(float), "yp shares float slots");
  for (i = 0; i < (size_t)n; i++)
    total += sizes[i];
  w->block = rnj__malloc(total + 64);
  if (!w->block)
    return RNJ_ENOMEM;
  base = (uint8_t *)(((uintptr_t)w->block + 63) & ~(uintptr_t)63);
  for (i = 0; i < (size_t)n; i++) {
    *slots[i] = (float *)(void *)base;
    base += sizes[i];
  }
  w->cap = cap;
  return 0;
}

/* ------------------------------------------------------ initialisation */

static void glorot_uniform(rnj_rng_t *r, float *w, int fan_in, int fan_out) {
  double limit = sqrt(6.0 / (double)(fan_in + fan_out));
  size_t i;
  for (i = 0; i < (size_t)fan_in * (size_t)fan_out; i++)
    w[i] = (float)((2.0 * rnj_rng_uniform(r) - 1.0) * limit);
}

/* Keras' Orthogonal for a (rows, cols) kernel with rows < cols: QR of a
 * (cols, rows) standard-normal matrix, Q's signs fixed so R's diagonal is
 * positive, transposed.  Gram-Schmidt gives that Q directly (its R has a
 * positive diagonal by construction); it is run twice over each column
 * ("twice is enough") in double, so the rows come out orthonormal to
 * rounding.  Row i of the result is the i-th Q column. */
static int orthogonal(rnj_rng_t *r, float *w, int rows, int cols) {
  double *q = rnj__malloc((size_t)rows * (size_t)cols * sizeof *q);
  size_t n = (size_t)rows * (size_t)cols;
  size_t i;
  int a;
  int b;
  int pass;
  if (!q)
    return RNJ_ENOMEM;
  for (i = 0; i < n; i += 2) {
    /* Box-Muller, both values; 1 - u keeps log's argument > 0. */
    double u1 = 1.0 - rnj_rng_uniform(r);
    double u2 = rnj_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    q[i] = rad * cos(2.0 * M_PI * u2);
    if (i + 1 < n)
      q[i + 1] = rad * sin(2.0 * M_PI * u2);
  }
  /* q holds the (cols, rows) matrix column by column: column a is the
   * `cols` values q[a * cols ...]. */
  for (a = 0; a < rows; a++) {
    double *va = q + (size_t)a * (size_t)cols;
    double norm = 0;
    for (pass = 0; pass < 2; pass++)
      for (b = 0; b < a; b++) {
        const double *vb = q + (size_t)b * (size_t)cols;
        double dot = 0;
        int k;
        for (k = 0; k < cols; k++)
          dot += va[k] * vb[k];
        for (k = 0; k < cols; k++)
          va[k] -= dot * vb[k];
      }
    for (b = 0; b < cols; b++)
      norm += va[b] * va[b];
    norm = sqrt(norm);
    for (b = 0; b < cols; b++) {
      va[b] /= norm; /* later columns project on the unit vector */
      w[(size_t)a * (size_t)cols + (size_t)b] = (float)va[b];
    }
  }
  rnj__free(q);
  return 0;
}

static int keras_init(rnj_model_t *m, uint64_t seed) {
  rnj_rng_t r;
  int j;
  int rc;
  rnj__train_rng_seed(&r, seed, RNJ__TRAIN_STREAM_INIT);
  memset(m->params, 0, NPARAMS * sizeof(float));
  glorot_uniform(&r, m->kernel, RNJ_MODEL_INPUT, G);
  rc = orthogonal(&r, m->recurrent_kernel, H, G);
  if (rc)
    return rc;
  for (j = 0; j < H; j++)
    m->bias[H + j] = 1.0f; /* unit_forget_bias */
  glorot_uniform(&r, m->pitch_kernel, H, P);
  glorot_uniform(&r, m->step_kernel, H, 1);
  glorot_uniform(&r, m->duration_kernel, H, 1);
  return 0;
}

/* -------------------------------------------------------------- trainer */

void rnj_train_free(rnj_train_t *tr) {
  rnj_train_impl_t *im = tr->impl;
  if (im) {
    int k;
    rnj__train_workers_stop(im);
    if (im->w)
      for (k = 0; k < im->nworkers; k++)
        rnj__free(im->w[k].block);
    rnj__free(im->w);
    rnj__free(im->packed);
    rnj__free(im);
  }
  rnj__free(tr->grad);
  rnj__free(tr->m);
  rnj__free(tr->v);
  rnj_model_free(&tr->model);
  memset(tr, 0, sizeof *tr);
}

int rnj_train_init(rnj_train_t *tr, const rnj_train_config_t *cfg,
                   char *err) {
  rnj_train_impl_t *im;
  size_t cap;
  int rc;
  int k;

  memset(tr, 0, sizeof *tr);
  rc = rnj_train_config_check(cfg, err);
  if (rc)
    return rc;
  tr->cfg = *cfg;
  rc = rnj_model_init(&tr->model);
  if (rc)
    goto fail_nomem;
  tr->model.seq_length = cfg->seq_length;
  tr->grad = rnj__calloc(NPARAMS, sizeof(float));
  tr->m = rnj__calloc(NPARAMS, sizeof(float));
  tr->v = rnj__calloc(NPARAMS, sizeof(float));
  im = tr->impl = rnj__calloc(1, sizeof *im);
  if (!tr->grad || !tr->m || !tr->v || !im)
    goto fail_nomem;
  im->nparams = NPARAMS;
  im->k = rnj__train_kern_pick(cfg->kernel);
  if (!im->k) {
    rc = rnj_errorf(err, RNJ_ENOSYS,
                    "trainer: this CPU (or build) lacks the kernels asked "
                    "for (%d)", (int)cfg->kernel);
    goto fail;
  }
  if (im->k->gemm) {
    im->packed = rnj__malloc(2 * (size_t)H * G * sizeof(float) + 64);
    if (!im->packed)
      goto fail_nomem;
    im->upf = (float *)(((uintptr_t)im->packed + 63) & ~(uintptr_t)63);
    im->upb = im->upf + (size_t)H * G;
  }
  im->nworkers = cfg->threads < cfg->batch ? cfg->threads : cfg->batch;
  im->w = rnj__calloc((size_t)im->nworkers, sizeof *im->w);
  if (!im->w)
    goto fail_nomem;
  cap = ((size_t)cfg->batch + (size_t)im->nworkers - 1) /
        (size_t)im->nworkers;
  for (k = 0; k < im->nworkers; k++) {
    rnj__train_worker_t *w = &im->w[k];
    w->tr = tr;
    w->id = k;
    if (worker_alloc(w, cap, cfg->seq_length, k > 0))
      goto fail_nomem;
    if (k == 0)
      w->grad = tr->grad;
  }
  rc = keras_init(&tr->model, cfg->seed);
  if (rc)
    goto fail_nomem;
  /* Each worker calls SGEMM on its own small slice; OpenBLAS' own
   * threads would only contend with ours. */
  openblas_set_num_threads(1);
  rc = rnj__train_workers_start(im, err);
  if (rc)
    goto fail;
  return 0;

fail_nomem:
  rc = rnj_errorf(err, RNJ_ENOMEM, "trainer: out of memory");
fail:
  rnj_train_free(tr);
  return rc;
}

const char *rnj_train_blas(void) { return openblas_get_corename(); }

const char *rnj_train_kernels(const rnj_train_t *tr) {
  return tr->impl && tr->impl->k ? tr->impl->k->name : "none";
}

static int check_windows(const rnj_train_t *tr, const rnj_train_data_t *data,
                         const uint32_t *windows, size_t n, size_t max) {
  size_t i;
  if (n == 0 || n > max || !windows)
    return RNJ_EINVAL;
  for (i = 0; i < n; i++)
    if ((size_t)windows[i] + (size_t)tr->cfg.seq_length >= data->n_notes)
      return RNJ_EINVAL;
  return 0;
}

int rnj_train_grad(rnj_train_t *tr, const rnj_train_data_t *data,
                   const uint32_t *windows, size_t n, rnj_loss_t *loss) {
  double s[3];
  if (check_windows(tr, data, windows, n, (size_t)tr->cfg.batch))
    return RNJ_EINVAL;
  rnj__train_run(tr, RNJ__TRAIN_JOB_GRAD, 0, data, windows, n);
  rnj__train_job_sums(tr->impl, s);
  if (loss)
    loss_from_sums(s, (double)n, loss);
  return 0;
}

int rnj_train_batch(rnj_train_t *tr, const rnj_train_data_t *data,
                    const uint32_t *windows, size_t n, rnj_loss_t *loss) {
  double s[3];
  if (check_windows(tr, data, windows, n, (size_t)tr->cfg.batch))
    return RNJ_EINVAL;
  rnj__train_run(tr, RNJ__TRAIN_JOB_GRAD, 1, data, windows, n);
  rnj__train_job_sums(tr->impl, s);
  if (loss)
    loss_from_sums(s, (double)n, loss);
  return 0;
}

/* Sums of the three losses over `n` windows, in chunks of a batch. */
static int eval_sums(rnj_train_t *tr, const rnj_train_data_t *data,
                     const uint32_t *windows, size_t n, double sums[3]) {
  size_t B = (size_t)tr->cfg.batch;
  size_t i;
  sums[0] = sums[1] = sums[2] = 0;
  for (i = 0; i < n; i += B) {
    size_t m = n - i < B ? n - i : B;
    double s[3];
    if (check_windows(tr, data, windows + i, m, B))
      return RNJ_EINVAL;
    rnj__train_run(tr, RNJ__TRAIN_JOB_EVAL, 0, data, windows + i, m);
    rnj__train_job_sums(tr->impl, s);
    sums[0] += s[0];
    sums[1] += s[1];
    sums[2] += s[2];
  }
  return 0;
}

int rnj_train_eval(rnj_train_t *tr, const rnj_train_data_t *data,
                   const uint32_t *windows, size_t n, rnj_loss_t *loss) {
  double s[3];
  int rc;
  if (n == 0)
    return RNJ_EINVAL;
  rc = eval_sums(tr, data, windows, n, s);
  if (rc)
    return rc;
  loss_from_sums(s, (double)n, loss);
  return 0;
}

/* ----------------------------------------------------------- state file */

/* The state file: a header of STATE_SLOTS little-endian 64-bit slots,
 * then the weights, Adam's m and v and the best weights (NPARAMS floats
 * each), then an FNV-1a checksum of everything before it.  Floats are
 * stored in host order, which the check below pins to little-endian. */
#define STATE_MAGIC 0x31746174736a6e72ull /* "rnjstat1" */
#define STATE_VERSION 1
#define STATE_SLOTS 48
#define STATE_BYTES                                                          \
  (STATE_SLOTS * 8 + 4 * (size_t)NPARAMS * sizeof(float) + 8)

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the state and checkpoint files are little-endian; port the I/O"
#endif

enum {
  S_MAGIC, S_VERSION, S_NPARAMS, S_BATCH, S_SEQ, S_LR, S_BETA1, S_BETA2,
  S_EPS, S_VAL_SPLIT, S_SEED, S_EPOCHS, S_PATIENCE, S_THREADS, S_DATA,
  S_NTRAIN, S_NVAL, S_EPOCH, S_BATCH_AT, S_STEP, S_SUMS, /* 4 slots */
  S_BEST_LOSS = S_SUMS + 4, S_BEST_EPOCH, S_BAD, S_FINISHED,
  S_BEST_TRAIN, /* 4 */
  S_BEST_VAL = S_BEST_TRAIN + 4, /* 4 */
  S_BEST_HAS_VAL = S_BEST_VAL + 4,
  S_END
};
_Static_assert(S_END <= STATE_SLOTS, "state header too small");

enum { FIN_RUNNING = 0, FIN_DONE = 1, FIN_EARLY = 2 };

typedef struct {
  int epoch;       /* the epoch to run (or running) */
  size_t batch;    /* its next batch */
  double sums[4];  /* sums of the batch losses of this epoch so far */
  double best_loss;
  int best_epoch;
  int bad;         /* epochs since the best */
  int finished;
  rnj_loss_t best_train;
  rnj_loss_t best_val;
  int best_has_val;
} fit_state_t;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t data_fingerprint(const rnj_train_data_t *d,
                                 const rnj_train_split_t *s) {
  uint64_t h = FNV_INIT;
  size_t f;
  h = fnv1a(h, d->x, d->n_notes * 3 * sizeof(float));
  h = fnv1a(h, d->pitch, d->n_notes);
  for (f = 0; f <= d->n_files; f++) {
    uint64_t v = d->first[f];
    h = fnv1a(h, &v, sizeof v);
  }
  return fnv1a(h, s->is_val, d->n_files);
}

static uint64_t d2u(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double u2d(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static void loss_put(uint64_t *h, int at, const rnj_loss_t *l) {
  h[at] = d2u(l->total);
  h[at + 1] = d2u(l->pitch);
  h[at + 2] = d2u(l->step);
  h[at + 3] = d2u(l->duration);
}

static void loss_get(const uint64_t *h, int at, rnj_loss_t *l) {
  l->total = u2d(h[at]);
  l->pitch = u2d(h[at + 1]);
  l->step = u2d(h[at + 2]);
  l->duration = u2d(h[at + 3]);
}

static int state_save(const char *path, const rnj_train_t *tr,
                      const float *best, uint64_t data_fp,
                      const rnj_train_split_t *split, const fit_state_t *st,
                      char *err) {
  uint64_t h[STATE_SLOTS];
  uint64_t sum;
  struct iovec iov[6];
  const rnj_train_config_t *c = &tr->cfg;
  int i;

  memset(h, 0, sizeof h);
  h[S_MAGIC] = STATE_MAGIC;
  h[S_VERSION] = STATE_VERSION;
  h[S_NPARAMS] = NPARAMS;
  h[S_BATCH] = (uint64_t)c->batch;
  h[S_SEQ] = (uint64_t)c->seq_length;
  h[S_LR] = d2u(c->lr);
  h[S_BETA1] = d2u(c->beta1);
  h[S_BETA2] = d2u(c->beta2);
  h[S_EPS] = d2u(c->epsilon);
  h[S_VAL_SPLIT] = d2u(c->val_split);
  h[S_SEED] = c->seed;
  h[S_EPOCHS] = (uint64_t)c->epochs;
  h[S_PATIENCE] = (uint64_t)c->patience;
  h[S_THREADS] = (uint64_t)c->threads;
  h[S_DATA] = data_fp;
  h[S_NTRAIN] = split->n_train;
  h[S_NVAL] = split->n_val;
  h[S_EPOCH] = (uint64_t)st->epoch;
  h[S_BATCH_AT] = st->batch;
  h[S_STEP] = (uint64_t)tr->step;
  for (i = 0; i < 4; i++)
    h[S_SUMS + i] = d2u(st->sums[i]);
  h[S_BEST_LOSS] = d2u(st->best_loss);
  h[S_BEST_EPOCH] = (uint64_t)(int64_t)st->best_epoch;
  h[S_BAD] = (uint64_t)st->bad;
  h[S_FINISHED] = (uint64_t)st->finished;
  loss_put(h, S_BEST_TRAIN, &st->best_train);
  loss_put(h, S_BEST_VAL, &st->best_val);
  h[S_BEST_HAS_VAL] = (uint64_t)st->best_has_val;

  iov[0].iov_base = h;
  iov[0].iov_len = sizeof h;
  iov[1].iov_base = tr->model.params;
  iov[2].iov_base = tr->m;
  iov[3].iov_base = tr->v;
  iov[4].iov_base = (void *)best;
  sum = FNV_INIT;
  for (i = 0; i < 5; i++) {
    if (i > 0)
      iov[i].iov_len = NPARAMS * sizeof(float);
    sum = fnv1a(sum, iov[i].iov_base, iov[i].iov_len);
  }
  iov[5].iov_base = &sum;
  iov[5].iov_len = sizeof sum;
  return rnj__write_atomic(path, iov, 6, err);
}

/* Load the state at `path` into tr (weights, moments, step) and `best`,
 * after checking it belongs to this run. */
static int state_load(const char *path, rnj_train_t *tr, float *best,
                      uint64_t data_fp, const rnj_train_split_t *split,
                      fit_state_t *st, char *err) {
  const rnj_train_config_t *c = &tr->cfg;
  uint8_t *buf = NULL;
  size_t len = 0;
  uint64_t h[STATE_SLOTS];
  uint64_t sum;
  const char *what = NULL;
  size_t off;
  int rc;
  int i;

  rc = rnj__read_file(path, STATE_BYTES, &buf, &len, err);
  if (rc == -ENOENT)
    return rnj_errorf(err, rc,
                      "%s: no state file to resume from (run without "
                      "--resume to start afresh)", path);
  if (rc)
    return rc;
  if (len != STATE_BYTES) {
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "%s: %zu bytes, expected %zu: not a state file of this "
                    "trainer", path, len, (size_t)STATE_BYTES);
    goto done;
  }
  memcpy(h, buf, sizeof h);
  memcpy(&sum, buf + len - 8, sizeof sum);
  if (h[S_MAGIC] != STATE_MAGIC || h[S_VERSION] != STATE_VERSION ||
      h[S_NPARAMS] != NPARAMS) {
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "%s: bad magic or version (expected an rnnjam-train "
                    "state file, version %d)", path, STATE_VERSION);
    goto done;
  }
  if (fnv1a(FNV_INIT, buf, len - 8) != sum) {
    rc = rnj_errorf(err, RNJ_EFORMAT, "%s: checksum mismatch (damaged file)",
                    path);
    goto done;
  }
  if (h[S_BATCH] != (uint64_t)c->batch)
    what = "batch";
  else if (h[S_SEQ] != (uint64_t)c->seq_length)
    what = "seq-length";
  else if (u2d(h[S_LR]) != c->lr)
    what = "lr";
  else if (u2d(h[S_BETA1]) != c->beta1 || u2d(h[S_BETA2]) != c->beta2)
    what = "beta";
  else if (u2d(h[S_EPS]) != c->epsilon)
    what = "epsilon";
  else if (u2d(h[S_VAL_SPLIT]) != c->val_split)
    what = "val-split";
  else if (h[S_SEED] != c->seed)
    what = "seed";
  if (what) {
    rc = rnj_errorf(err, RNJ_EINVAL,
                    "%s: saved with a different %s; resume with the options "
                    "of the interrupted run", path, what);
    goto done;
  }
  if (h[S_DATA] != data_fp || h[S_NTRAIN] != split->n_train ||
      h[S_NVAL] != split->n_val) {
    rc = rnj_errorf(err, RNJ_EINVAL,
                    "%s: saved for other data (%llu training, %llu "
                    "validation windows; now %zu, %zu): resume with the "
                    "same files and notes options", path,
                    (unsigned long long)h[S_NTRAIN],
                    (unsigned long long)h[S_NVAL], split->n_train,
                    split->n_val);
    goto done;
  }
  st->epoch = (int)h[S_EPOCH];
  st->batch = (size_t)h[S_BATCH_AT];
  tr->step = (long)h[S_STEP];
  for (i = 0; i < 4; i++)
    st->sums[i] = u2d(h[S_SUMS + i]);
  st->best_loss = u2d(h[S_BEST_LOSS]);
  st->best_epoch = (int)(int64_t)h[S_BEST_EPOCH];
  st->bad = (int)h[S_BAD];
  st->finished = (int)h[S_FINISHED];
  loss_get(h, S_BEST_TRAIN, &st->best_train);
  loss_get(h, S_BEST_VAL, &st->best_val);
  st->best_has_val = (int)h[S_BEST_HAS_VAL];
  off = sizeof h;
  memcpy(tr->model.params, buf + off, NPARAMS * sizeof(float));
  off += NPARAMS * sizeof(float);
  memcpy(tr->m, buf + off, NPARAMS * sizeof(float));
  off += NPARAMS * sizeof(float);
  memcpy(tr->v, buf + off, NPARAMS * sizeof(float));
  off += NPARAMS * sizeof(float);
  memcpy(best, buf + off, NPARAMS * sizeof(float));
  rc = 0;
done:
  rnj__free(buf);
  return rc;
}

/* ------------------------------------------------------------------ fit */

int rnj_train_paths(const char *out, char *last, char *state) {
  static const char ext[] = ".safetensors";
  size_t n = strlen(out);
  size_t e = sizeof ext - 1;
  int base;
  if (n > e && strcmp(out + n - e, ext) == 0)
    n -= e;
  if (n > INT32_MAX)
    return RNJ_ELIMIT;
  base = (int)n;
  if (snprintf(last, RNJ_TRAIN_PATH_LEN, "%.*s.last.safetensors", base,
               out) >= RNJ_TRAIN_PATH_LEN ||
      snprintf(state, RNJ_TRAIN_PATH_LEN, "%.*s.state", base, out) >=
          RNJ_TRAIN_PATH_LEN)
    return RNJ_ELIMIT;
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* `v` with `prec` decimals as metadata `key`. */
static void meta_num(rnj_model_t *m, const char *key, int prec, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", prec, v);
  rnj_model_set_meta(m, key, buf);
}

static void meta_loss(rnj_model_t *m, const char *prefix,
                      const rnj_loss_t *l) {
  char key[RNJ_MODEL_META_KEY_LEN];
  snprintf(key, sizeof key, "%s_loss", prefix);
  meta_num(m, key, 6, l->total);
  snprintf(key, sizeof key, "%s_loss_pitch", prefix);
  meta_num(m, key, 6, l->pitch);
  snprintf(key, sizeof key, "%s_loss_step", prefix);
  meta_num(m, key, 6, l->step);
  snprintf(key, sizeof key, "%s_loss_duration", prefix);
  meta_num(m, key, 6, l->duration);
}

/* What a checkpoint says about how it was made.  Nothing time- or
 * machine-dependent: the same run must give the same bytes. */
static void set_fit_meta(rnj_model_t *m, const rnj_train_config_t *c,
                         int epochs, const rnj_loss_t *train,
                         const rnj_loss_t *val, int has_val) {
  char buf[64];
  meta_num(m, "epochs", 0, epochs);
  meta_loss(m, "train", train);
  if (has_val)
    meta_loss(m, "val", val);
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)c->seed);
  rnj_model_set_meta(m, "seed", buf);
  meta_num(m, "batch", 0, c->batch);
  snprintf(buf, sizeof buf, "%g", c->lr);
  rnj_model_set_meta(m, "lr", buf);
  meta_num(m, "threads", 0, c->threads);
}

static void loss_add(double s[4], const rnj_loss_t *l) {
  s[0] += l->total;
  s[1] += l->pitch;
  s[2] += l->step;
  s[3] += l->duration;
}

static void loss_mean(const double s[4], size_t n, rnj_loss_t *l) {
  double d = n ? (double)n : 1.0;
  l->total = s[0] / d;
  l->pitch = s[1] / d;
  l->step = s[2] / d;
  l->duration = s[3] / d;
}

typedef struct {
  rnj_train_t *tr;
  const rnj_train_data_t *data;
  const rnj_train_split_t *split;
  const rnj_train_fit_t *fit;
  char last[RNJ_TRAIN_PATH_LEN];
  char state[RNJ_TRAIN_PATH_LEN];
  float *best;    /* (NPARAMS) best weights so far */
  uint32_t *perm; /* (n_train) this epoch's order */
  uint64_t data_fp;
  fit_state_t st;
} fit_t;

static int save_state(fit_t *f, char *err) {
  return state_save(f->state, f->tr, f->best, f->data_fp, f->split, &f->st,
                    err);
}

/* Put the best weights (and what they scored) into tr->model. */
static void restore_best(fit_t *f) {
  rnj_train_t *tr = f->tr;
  if (f->st.best_epoch < 0)
    return;
  memcpy(tr->model.params, f->best, NPARAMS * sizeof(float));
  set_fit_meta(&tr->model, &tr->cfg, f->st.best_epoch + 1,
               &f->st.best_train, &f->st.best_val, f->st.best_has_val);
}

/* Everything after an epoch's last batch; `done` of its `nb` batches ran
 * in this process, in `batch_s` seconds.  Sets *stop_now when training
 * ends (early stop or last epoch). */
static int end_epoch(fit_t *f, double t0, double batch_s, size_t nb,
                     size_t done, int *stop_now, char *err) {
  rnj_train_t *tr = f->tr;
  const rnj_train_config_t *c = &tr->cfg;
  rnj_train_progress_t pr;
  double vs[3];
  double monitor;
  int rc;

  memset(&pr, 0, sizeof pr);
  pr.event = RNJ_TRAIN_EVENT_EPOCH;
  pr.epoch = f->st.epoch;
  pr.epochs = c->epochs;
  pr.batch = pr.batches = nb;
  loss_mean(f->st.sums, nb, &pr.train);
  pr.has_val = f->split->n_val > 0;
  if (pr.has_val) {
    rc = eval_sums(tr, f->data, f->split->val, f->split->n_val, vs);
    if (rc)
      return rnj_errorf(err, rc, "validation: bad windows");
    loss_from_sums(vs, (double)f->split->n_val, &pr.val);
  }
  monitor = pr.has_val ? pr.val.total : pr.train.total;
  if (!isfinite(monitor))
    return rnj_errorf(err, RNJ_EINVAL,
                      "epoch %d: the loss is not finite: training diverged "
                      "(try a lower --lr)", f->st.epoch + 1);
  set_fit_meta(&tr->model, c, f->st.epoch + 1, &pr.train, &pr.val,
               pr.has_val);
  if (monitor < f->st.best_loss) {
    f->st.best_loss = monitor;
    f->st.best_epoch = f->st.epoch;
    f->st.bad = 0;
    f->st.best_train = pr.train;
    f->st.best_val = pr.val;
    f->st.best_has_val = pr.has_val;
    memcpy(f->best, tr->model.params, NPARAMS * sizeof(float));
    rc = rnj_ckpt_save(&tr->model, f->fit->out, err);
    if (rc)
      return rc;
    pr.improved = 1;
  } else {
    f->st.bad++;
  }
  rc = rnj_ckpt_save(&tr->model, f->last, err);
  if (rc)
    return rc;
  f->st.epoch++;
  f->st.batch = 0;
  memset(f->st.sums, 0, sizeof f->st.sums);
  *stop_now = 0;
  if (c->patience > 0 && f->st.bad >= c->patience) {
    f->st.finished = FIN_EARLY;
    *stop_now = 1;
  } else if (f->st.epoch >= c->epochs) {
    f->st.finished = FIN_DONE;
    *stop_now = 1;
  }
  rc = save_state(f, err);
  if (rc)
    return rc;
  pr.bad_epochs = f->st.bad;
  pr.seconds = now_s() - t0;
  pr.windows_per_s =
      batch_s > 0 ? (double)(done * (size_t)c->batch) / batch_s : 0;
  pr.lr = c->lr;
  if (f->fit->progress)
    f->fit->progress(&pr, f->fit->arg);
  return 0;
}

static int fit_run(fit_t *f, rnj_train_result_t *res, char *err) {
  rnj_train_t *tr = f->tr;
  const rnj_train_config_t *c = &tr->cfg;
  size_t B = (size_t)c->batch;
  size_t nb = f->split->n_train / B;
  volatile sig_atomic_t *stop = f->fit->stop;
  int rc;

  while (!f->st.finished && f->st.epoch < c->epochs) {
    rnj_train_progress_t pr;
    double t0 = now_s();
    double batch_s = 0;
    size_t done_here = 0;
    int stop_now = 0;

    rnj_train_split_shuffle(f->split, c->seed, f->st.epoch, f->perm);
    memset(&pr, 0, sizeof pr);
    pr.event = RNJ_TRAIN_EVENT_BATCH;
    pr.epoch = f->st.epoch;
    pr.epochs = c->epochs;
    pr.batches = nb;
    pr.lr = c->lr;
    while (f->st.batch < nb) {
      rnj_loss_t l;
      double tb = now_s();
      rnj__train_run(tr, RNJ__TRAIN_JOB_GRAD, 1, f->data,
                     f->perm + f->st.batch * B, B);
      {
        double s[3];
        rnj__train_job_sums(tr->impl, s);
        loss_from_sums(s, (double)B, &l);
      }
      batch_s += now_s() - tb;
      done_here++;
      if (!isfinite(l.total))
        return rnj_errorf(err, RNJ_EINVAL,
                          "epoch %d, batch %zu: the loss is not finite: "
                          "training diverged (try a lower --lr)",
                          f->st.epoch + 1, f->st.batch + 1);
      loss_add(f->st.sums, &l);
      f->st.batch++;
      if (f->fit->progress) {
        pr.batch = f->st.batch;
        loss_mean(f->st.sums, f->st.batch, &pr.train);
        pr.seconds = now_s() - t0;
        pr.windows_per_s = (double)(done_here * B) / batch_s;
        f->fit->progress(&pr, f->fit->arg);
      }
      if (stop && *stop && f->st.batch < nb) {
        /* Mid-epoch weights go to the state file only: the .last
         * checkpoint stays the end of an epoch, as its name promises. */
        rc = save_state(f, err);
        if (rc)
          return rc;
        res->status = RNJ_TRAIN_INTERRUPTED;
        return 0;
      }
    }
    rc = end_epoch(f, t0, batch_s, nb, done_here, &stop_now, err);
    if (rc)
      return rc;
    if (stop_now)
      break;
    if (stop && *stop) {
      res->status = RNJ_TRAIN_INTERRUPTED;
      return 0;
    }
  }
  res->status = f->st.finished == FIN_EARLY ? RNJ_TRAIN_EARLY_STOP
                                            : RNJ_TRAIN_DONE;
  restore_best(f);
  return 0;
}

int rnj_train_fit(rnj_train_t *tr, const rnj_train_data_t *data,
                  const rnj_train_split_t *split, const rnj_train_fit_t *fit,
                  rnj_train_result_t *result, char *err) {
  fit_t *f;
  struct stat sb;
  size_t nb;
  int rc;

  memset(result, 0, sizeof *result);
  result->best_epoch = -1;
  result->resumed_epoch = -1;
  if (!fit || !fit->out || !*fit->out)
    return rnj_errorf(err, RNJ_EINVAL, "fit: no output path");
  nb = split->n_train / (size_t)tr->cfg.batch;
  if (nb == 0)
    return rnj_errorf(err, RNJ_ENODATA,
                      "%zu training windows: fewer than one batch of %d "
                      "(add data or lower --batch)", split->n_train,
                      tr->cfg.batch);
  if (stat(fit->out, &sb) == 0 && !S_ISREG(sb.st_mode))
    return rnj_errorf(err, RNJ_EINVAL, "%s: exists and is not a file",
                      fit->out);
  f = rnj__calloc(1, sizeof *f);
  if (!f)
    return rnj_errorf(err, RNJ_ENOMEM, "fit: out of memory");
  f->tr = tr;
  f->data = data;
  f->split = split;
  f->fit = fit;
  f->best = rnj__malloc(NPARAMS * sizeof(float));
  f->perm = rnj__malloc(split->n_train * sizeof *f->perm);
  if (!f->best || !f->perm) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "fit: out of memory");
    goto done;
  }
  if (rnj_train_paths(fit->out, f->last, f->state)) {
    rc = rnj_errorf(err, RNJ_ELIMIT, "%s: path too long", fit->out);
    goto done;
  }
  f->data_fp = data_fingerprint(data, split);
  f->st.best_loss = INFINITY;
  f->st.best_epoch = -1;
  if (fit->resume) {
    rc = state_load(f->state, tr, f->best, f->data_fp, split, &f->st, err);
    if (rc)
      goto done;
    /* A finished run continues only if more epochs were asked for. */
    if (f->st.finished == FIN_DONE && f->st.epoch < tr->cfg.epochs)
      f->st.finished = FIN_RUNNING;
    result->resumed_epoch = f->st.epoch;
    result->resumed_batch = f->st.batch;
  } else {
    memcpy(f->best, tr->model.params, NPARAMS * sizeof(float));
    /* Proves the output directory writable before any training. */
    rc = save_state(f, err);
    if (rc)
      goto done;
  }
  rc = fit_run(f, result, err);
  result->epochs_done = f->st.epoch;
  result->batch = f->st.batch;
  result->batches = nb;
  result->best_epoch = f->st.best_epoch;
  result->best_loss = f->st.best_loss;
  if (f->st.finished == FIN_EARLY)
    result->status = RNJ_TRAIN_EARLY_STOP;
done:
  rnj__free(f->best);
  rnj__free(f->perm);
  rnj__free(f);
  return rc;
}
