/* The trainer object: its config, its buffers and workers, and the calls
 * that run one job -- a batch's gradient, with or without Adam's update,
 * or the loss of any number of windows (train.h).
 *
 * rnj_train_init sizes everything for its config once (a worker's
 * buffers for its share of a full batch, carved from one block): grad,
 * step, batch and eval allocate nothing.  The config's arch picks the
 * model (tutorial.c or v2.c) and its buffers.  Limits: a batch of at most
 * RNJ_TRAIN_MAX_BATCH windows, whose whole history is kept for
 * backpropagation (about 90 KB a window at 25 steps and H = 128, 5.8 MB
 * for 64).
 */
#include <cblas.h>
#include <string.h>

#include "internal.h"
#include "rnnjam/encoding.h"

/* ---------------------------------------------------------------- config */

void rnj_train_config_default(rnj_train_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->arch = RNJ_MODEL_TUTORIAL;
  cfg->hidden = RNJ_MODEL_HIDDEN;
  cfg->epochs = 50;
  cfg->batch = 64;
  cfg->seq_length = RNJ_MODEL_SEQ_LENGTH;
  cfg->lr = 0.005;
  cfg->beta1 = 0.9;
  cfg->beta2 = 0.999;
  cfg->epsilon = 1e-7;
  cfg->val_split = 0.1;
  cfg->patience = 5;
  cfg->lr_patience = 2; /* used only once lr_decay is on */
  cfg->seed = 42; /* the tutorial's tf.random.set_seed(42) */
  cfg->threads = 1;
}

void rnj_train_config_v2(rnj_train_config_t *cfg) {
  rnj_train_config_default(cfg);
  cfg->arch = RNJ_MODEL_V2;
  cfg->hidden = RNJ_MODEL_V2_HIDDEN;
  cfg->lr = RNJ_TRAIN_V2_LR;
  cfg->clip_norm = 1.0;
  cfg->lr_decay = 0.5;
  cfg->transpose_lo = -6;
  cfg->transpose_hi = 5;
}

int rnj_train_config_check(const rnj_train_config_t *cfg, char *err) {
  if (cfg->arch == RNJ_MODEL_TUTORIAL) {
    if (cfg->hidden != RNJ_MODEL_HIDDEN)
      return rnj_errorf(err, RNJ_EINVAL,
                        "hidden: %d (the tutorial arch has %d)", cfg->hidden,
                        RNJ_MODEL_HIDDEN);
    if (cfg->transpose_lo || cfg->transpose_hi)
      return rnj_errorf(err, RNJ_EINVAL,
                        "transpose: %d:%d (the tutorial arch has none: 0:0)",
                        cfg->transpose_lo, cfg->transpose_hi);
  } else if (cfg->arch == RNJ_MODEL_V2) {
    if (cfg->hidden < RNJ_MODEL_V2_HIDDEN_MIN ||
        cfg->hidden > RNJ_MODEL_V2_HIDDEN_MAX || cfg->hidden % 16)
      return rnj_errorf(err, RNJ_EINVAL,
                        "hidden: %d (expected a multiple of 16 in %d..%d)",
                        cfg->hidden, RNJ_MODEL_V2_HIDDEN_MIN,
                        RNJ_MODEL_V2_HIDDEN_MAX);
    if (cfg->transpose_lo > cfg->transpose_hi ||
        cfg->transpose_lo < -RNJ_TRAIN_MAX_TRANSPOSE ||
        cfg->transpose_hi > RNJ_TRAIN_MAX_TRANSPOSE)
      return rnj_errorf(err, RNJ_EINVAL,
                        "transpose: %d:%d (expected LO:HI with -%d <= LO <= "
                        "HI <= %d)", cfg->transpose_lo, cfg->transpose_hi,
                        RNJ_TRAIN_MAX_TRANSPOSE, RNJ_TRAIN_MAX_TRANSPOSE);
  } else {
    return rnj_errorf(err, RNJ_EINVAL,
                      "arch: %d (expected RNJ_MODEL_TUTORIAL or "
                      "RNJ_MODEL_V2)", cfg->arch);
  }
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
  if (!(cfg->clip_norm >= 0 && cfg->clip_norm < 1e30))
    return rnj_errorf(err, RNJ_EINVAL,
                      "clip_norm: %g (expected >= 0; 0: no clipping)",
                      cfg->clip_norm);
  if (!(cfg->val_split >= 0 && cfg->val_split < 1))
    return rnj_errorf(err, RNJ_EINVAL, "val_split: %g (expected in [0, 1))",
                      cfg->val_split);
  if (cfg->patience < 0)
    return rnj_errorf(err, RNJ_EINVAL, "patience: %d (expected >= 0)",
                      cfg->patience);
  if (!(cfg->lr_decay >= 0 && cfg->lr_decay < 1))
    return rnj_errorf(err, RNJ_EINVAL,
                      "lr-decay: %g (expected 0 for off, or a factor in "
                      "(0, 1))", cfg->lr_decay);
  if (cfg->lr_decay > 0 && cfg->lr_patience < 1)
    return rnj_errorf(err, RNJ_EINVAL,
                      "lr-patience: %d (expected >= 1 epochs)",
                      cfg->lr_patience);
  if (cfg->threads < 1 || cfg->threads > RNJ_TRAIN_MAX_THREADS)
    return rnj_errorf(err, RNJ_EINVAL, "threads: %d (expected 1..%d)",
                      cfg->threads, RNJ_TRAIN_MAX_THREADS);
  return 0;
}

/* ---------------------------------------------------------------- buffers */

/* Carve one worker's buffers out of one block, each 64-byte aligned:
 * what the arch's slice uses, for up to `cap` rows. */
static int worker_alloc(rnj__train_worker_t *w, const rnj_train_config_t *c,
                        size_t cap, size_t nparams, int own_grad) {
  size_t sizes[16];
  void **slots[16];
  size_t total = 0;
  size_t i;
  uint8_t *base;
  size_t T = (size_t)c->seq_length;
  size_t hid = (size_t)c->hidden;
  int n = 0;
#define SLOT(ptr, count)                                                     \
  do {                                                                       \
    slots[n] = (void **)(void *)&(ptr);                                      \
    sizes[n++] = ((count) * sizeof(float) + 63) & ~(size_t)63;               \
  } while (0)
  _Static_assert(sizeof(int) == sizeof(float) &&
                     sizeof(int32_t) == sizeof(float),
                 "int slots are sized as floats");
  if (c->arch == RNJ_MODEL_V2) {
    SLOT(w->idx, T * cap * 3);
    SLOT(w->tin, T * cap * 2);
    SLOT(w->y, cap * 4);
    SLOT(w->logit, cap * (RNJ_ENCODING_PITCHES + RNJ_ENCODING_STEP_BINS +
                          RNJ_ENCODING_DURATION_BINS +
                          RNJ_ENCODING_VELOCITY_BINS));
    SLOT(w->esum, cap * 4);
  } else {
    SLOT(w->x, T * cap * 3);
    SLOT(w->logit, cap * P);
    SLOT(w->esum, cap);
    SLOT(w->pred, cap * 2);
    SLOT(w->dpred, cap * 2);
    SLOT(w->ys, cap * 2);
    SLOT(w->yp, cap);
  }
  SLOT(w->z, T * cap * 4 * hid);
  SLOT(w->h, (T + 1) * cap * hid);
  SLOT(w->c, (T + 1) * cap * hid);
  SLOT(w->tc, T * cap * hid);
  SLOT(w->dh, cap * hid);
  SLOT(w->dc, cap * hid);
  if (own_grad)
    SLOT(w->grad, nparams);
#undef SLOT
  for (i = 0; i < (size_t)n; i++)
    total += sizes[i];
  w->block = rnj__malloc(total + 64);
  if (!w->block)
    return RNJ_ENOMEM;
  base = (uint8_t *)(((uintptr_t)w->block + 63) & ~(uintptr_t)63);
  for (i = 0; i < (size_t)n; i++) {
    *slots[i] = base;
    base += sizes[i];
  }
  w->cap = cap;
  return 0;
}

void rnj__train_loss_from_sums(const rnj_train_t *tr,
                               const double s[RNJ__TRAIN_NSUMS], double n,
                               rnj_loss_t *l) {
  l->pitch = s[0] / n;
  l->step = s[1] / n;
  l->duration = s[2] / n;
  l->velocity = s[3] / n;
  if (tr->cfg.arch == RNJ_MODEL_V2)
    l->total = l->pitch + RNJ_TRAIN_V2_HEAD_WEIGHT *
                              (l->step + l->duration + l->velocity);
  else
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
  size_t hid;
  size_t cap;
  int rc;
  int k;

  memset(tr, 0, sizeof *tr);
  rc = rnj_train_config_check(cfg, err);
  if (rc)
    return rc;
  tr->cfg = *cfg;
  tr->lr_now = cfg->lr;
  rc = cfg->arch == RNJ_MODEL_V2
           ? rnj_model_init_kind(&tr->model, RNJ_MODEL_V2, cfg->hidden)
           : rnj_model_init(&tr->model);
  if (rc)
    goto fail_nomem;
  tr->model.seq_length = cfg->seq_length;
  np = tr->model.nparams;
  hid = (size_t)cfg->hidden;
  tr->grad = rnj__calloc(np, sizeof(float));
  tr->m = rnj__calloc(np, sizeof(float));
  tr->v = rnj__calloc(np, sizeof(float));
  im = tr->impl = rnj__calloc(1, sizeof *im);
  if (!tr->grad || !tr->m || !tr->v || !im)
    goto fail_nomem;
  im->nparams = np;
  if (cfg->arch == RNJ_MODEL_V2) {
    im->prepare = rnj__train_v2_prepare;
    im->slice = rnj__train_v2_slice;
  } else {
    im->prepare = rnj__train_tutorial_prepare;
    im->slice = rnj__train_tutorial_slice;
  }
  im->k = rnj__train_kern_pick(cfg->kernel);
  if (!im->k) {
    rc = rnj_errorf(err, RNJ_ENOSYS,
                    "trainer: this CPU (or build) lacks the kernels asked "
                    "for (%d)", (int)cfg->kernel);
    goto fail;
  }
  if (im->k->gemm) {
    im->packed = rnj__malloc(2 * hid * 4 * hid * sizeof(float) + 64);
    if (!im->packed)
      goto fail_nomem;
    im->upf = (float *)(((uintptr_t)im->packed + 63) & ~(uintptr_t)63);
    im->upb = im->upf + hid * 4 * hid;
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
    if (worker_alloc(w, cfg, cap, np, k > 0))
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

/* The windows exist, with a target note in their file's range of the
 * data; shifted pitches (v2 only) stay MIDI pitches. */
static int check_windows(const rnj_train_t *tr, const rnj_train_data_t *data,
                         const uint32_t *windows, const int8_t *shifts,
                         size_t n, size_t max) {
  size_t T = (size_t)tr->cfg.seq_length;
  size_t i;
  size_t t;
  if (n == 0 || n > max || !windows)
    return RNJ_EINVAL;
  if (shifts && tr->cfg.arch != RNJ_MODEL_V2)
    return RNJ_EINVAL;
  for (i = 0; i < n; i++) {
    if ((size_t)windows[i] + T >= data->n_notes)
      return RNJ_EINVAL;
    if (shifts && shifts[i])
      for (t = 0; t <= T; t++) {
        int p = data->pitch[windows[i] + t] + shifts[i];
        if (p < 0 || p >= RNJ_ENCODING_PITCHES)
          return RNJ_EINVAL;
      }
  }
  return 0;
}

/* A gradient job (with Adam's update when `update`) and its mean loss. */
static int grad_job(rnj_train_t *tr, const rnj_train_data_t *data,
                    const uint32_t *windows, const int8_t *shifts, size_t n,
                    int update, rnj_loss_t *loss) {
  double s[RNJ__TRAIN_NSUMS];
  if (check_windows(tr, data, windows, shifts, n, (size_t)tr->cfg.batch))
    return RNJ_EINVAL;
  rnj__train_run(tr, RNJ__TRAIN_JOB_GRAD, update, data, windows, shifts, n);
  rnj__train_job_sums(tr->impl, s);
  if (loss)
    rnj__train_loss_from_sums(tr, s, (double)n, loss);
  return 0;
}

int rnj_train_grad(rnj_train_t *tr, const rnj_train_data_t *data,
                   const uint32_t *windows, size_t n, rnj_loss_t *loss) {
  return grad_job(tr, data, windows, NULL, n, 0, loss);
}

int rnj_train_grad_shifted(rnj_train_t *tr, const rnj_train_data_t *data,
                           const uint32_t *windows, const int8_t *shifts,
                           size_t n, rnj_loss_t *loss) {
  return grad_job(tr, data, windows, shifts, n, 0, loss);
}

int rnj_train_batch(rnj_train_t *tr, const rnj_train_data_t *data,
                    const uint32_t *windows, size_t n, rnj_loss_t *loss) {
  return grad_job(tr, data, windows, NULL, n, 1, loss);
}

int rnj_train_batch_shifted(rnj_train_t *tr, const rnj_train_data_t *data,
                            const uint32_t *windows, const int8_t *shifts,
                            size_t n, rnj_loss_t *loss) {
  return grad_job(tr, data, windows, shifts, n, 1, loss);
}

int rnj__train_eval_sums(rnj_train_t *tr, const rnj_train_data_t *data,
                         const uint32_t *windows, size_t n,
                         double sums[RNJ__TRAIN_NSUMS]) {
  size_t B = (size_t)tr->cfg.batch;
  size_t i;
  int q;
  for (q = 0; q < RNJ__TRAIN_NSUMS; q++)
    sums[q] = 0;
  for (i = 0; i < n; i += B) {
    size_t m = n - i < B ? n - i : B;
    double s[RNJ__TRAIN_NSUMS];
    if (check_windows(tr, data, windows + i, NULL, m, B))
      return RNJ_EINVAL;
    rnj__train_run(tr, RNJ__TRAIN_JOB_EVAL, 0, data, windows + i, NULL, m);
    rnj__train_job_sums(tr->impl, s);
    for (q = 0; q < RNJ__TRAIN_NSUMS; q++)
      sums[q] += s[q];
  }
  return 0;
}

int rnj_train_eval(rnj_train_t *tr, const rnj_train_data_t *data,
                   const uint32_t *windows, size_t n, rnj_loss_t *loss) {
  double s[RNJ__TRAIN_NSUMS];
  int rc;
  if (n == 0)
    return RNJ_EINVAL;
  rc = rnj__train_eval_sums(tr, data, windows, n, s);
  if (rc)
    return rc;
  rnj__train_loss_from_sums(tr, s, (double)n, loss);
  return 0;
}
