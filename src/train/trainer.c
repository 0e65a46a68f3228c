/* The trainer object: its config, its buffers and workers, and the calls
 * that run one job -- a batch's gradient, with or without Adam's update,
 * or the loss of any number of windows (train.h).
 *
 * rnj_train_init sizes everything for its config once (a worker's
 * buffers for its share of a full batch, carved from one block): grad,
 * step, batch and eval allocate nothing.  Limits: the tutorial model of
 * model.h; a batch of at most RNJ_TRAIN_MAX_BATCH windows, whose whole
 * history is kept for backpropagation (about 90 KB a window at 25 steps,
 * 5.8 MB for 64).
 */
#include <cblas.h>
#include <string.h>

#include "internal.h"

/* The floats in the model's parameter block, from its tensor table. */
static size_t model_nparams(void) {
  const rnj_tensor_info_t *t = rnj_model_tensors();
  return t[RNJ_MODEL_NTENSORS - 1].offset + t[RNJ_MODEL_NTENSORS - 1].count;
}

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

/* ---------------------------------------------------------------- buffers */

/* Carve one worker's buffers out of one block, each 64-byte aligned. */
static int worker_alloc(rnj__train_worker_t *w, size_t cap, int T,
                        size_t nparams, int own_grad) {
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
    SLOT(w->grad, nparams);
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

void rnj__train_loss_from_sums(const double s[3], double n, rnj_loss_t *l) {
  l->pitch = s[0] / n;
  l->step = s[1] / n;
  l->duration = s[2] / n;
  l->total = RNJ_LOSS_PITCH_WEIGHT * l->pitch +
             RNJ_LOSS_STEP_WEIGHT * l->step +
             RNJ_LOSS_DURATION_WEIGHT * l->duration;
}

/* ---------------------------------------------------------------- trainer */

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
  size_t np;
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
  np = model_nparams();
  tr->grad = rnj__calloc(np, sizeof(float));
  tr->m = rnj__calloc(np, sizeof(float));
  tr->v = rnj__calloc(np, sizeof(float));
  im = tr->impl = rnj__calloc(1, sizeof *im);
  if (!tr->grad || !tr->m || !tr->v || !im)
    goto fail_nomem;
  im->nparams = np;
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
    if (worker_alloc(w, cap, cfg->seq_length, np, k > 0))
      goto fail_nomem;
    if (k == 0)
      w->grad = tr->grad;
  }
  rc = rnj__train_keras_init(&tr->model, cfg->seed);
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
    rnj__train_loss_from_sums(s, (double)n, loss);
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
    rnj__train_loss_from_sums(s, (double)n, loss);
  return 0;
}

int rnj__train_eval_sums(rnj_train_t *tr, const rnj_train_data_t *data,
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
  rc = rnj__train_eval_sums(tr, data, windows, n, s);
  if (rc)
    return rc;
  rnj__train_loss_from_sums(s, (double)n, loss);
  return 0;
}
