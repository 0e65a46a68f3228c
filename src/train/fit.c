/* The fit loop (rnj_train_fit, train.h): epochs of shuffled full
 * batches, validation after each, the best and the latest checkpoints
 * and the state file, early stopping, and a stop request honoured
 * between batches with everything saved for --resume.
 *
 * The order of work is a function of (seed, epoch) alone and every write
 * is atomic, so an interrupted run that resumes ends in the same bytes as
 * one that never stopped.  Nothing here prints; progress goes to the
 * caller's callback.  Limits: one fit at a time per trainer; the
 * checkpoints' metadata says nothing of time or machine, so the same run
 * gives the same bytes.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"
#include "rnnjam/ckpt.h"

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

/* `v` with `prec` decimals as metadata `key`.  Returns 0 or RNJ_ELIMIT
 * (the table is full). */
static int meta_num(rnj_model_t *m, const char *key, int prec, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", prec, v);
  return rnj_model_set_meta(m, key, buf);
}

static int meta_loss(rnj_model_t *m, const char *prefix,
                     const rnj_loss_t *l) {
  char key[RNJ_MODEL_META_KEY_LEN];
  int rc = 0;
  snprintf(key, sizeof key, "%s_loss", prefix);
  rc |= meta_num(m, key, 6, l->total);
  snprintf(key, sizeof key, "%s_loss_pitch", prefix);
  rc |= meta_num(m, key, 6, l->pitch);
  snprintf(key, sizeof key, "%s_loss_step", prefix);
  rc |= meta_num(m, key, 6, l->step);
  snprintf(key, sizeof key, "%s_loss_duration", prefix);
  rc |= meta_num(m, key, 6, l->duration);
  if (m->kind == RNJ_MODEL_V2) {
    snprintf(key, sizeof key, "%s_loss_velocity", prefix);
    rc |= meta_num(m, key, 6, l->velocity);
  }
  return rc;
}

/* What a checkpoint says about how it was made.  Nothing time- or
 * machine-dependent: the same run must give the same bytes.  Returns 0,
 * or RNJ_ELIMIT when the metadata table is full (keys were lost). */
static int set_fit_meta(rnj_model_t *m, const rnj_train_config_t *c,
                        int epochs, const rnj_loss_t *train,
                        const rnj_loss_t *val, int has_val) {
  char buf[64];
  int rc = 0;
  rc |= meta_num(m, "epochs", 0, epochs);
  rc |= meta_loss(m, "train", train);
  if (has_val)
    rc |= meta_loss(m, "val", val);
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)c->seed);
  rc |= rnj_model_set_meta(m, "seed", buf);
  rc |= meta_num(m, "batch", 0, c->batch);
  snprintf(buf, sizeof buf, "%g", c->lr);
  rc |= rnj_model_set_meta(m, "lr", buf);
  rc |= meta_num(m, "threads", 0, c->threads);
  /* Only a run with a schedule has these: a tutorial run keeps its bytes. */
  if (c->lr_decay > 0) {
    snprintf(buf, sizeof buf, "%g", c->lr_decay);
    rc |= rnj_model_set_meta(m, "lr_decay", buf);
    rc |= meta_num(m, "lr_patience", 0, c->lr_patience);
  }
  /* What only a clipped or a v2 run has: a tutorial run without clipping
   * keeps its bytes. */
  if (c->clip_norm > 0) {
    snprintf(buf, sizeof buf, "%g", c->clip_norm);
    rc |= rnj_model_set_meta(m, "clip_norm", buf);
  }
  if (c->arch == RNJ_MODEL_V2) {
    rc |= rnj_model_set_meta(m, "arch", "v2");
    snprintf(buf, sizeof buf, "%d:%d", c->transpose_lo, c->transpose_hi);
    rc |= rnj_model_set_meta(m, "transpose", buf);
  }
  return rc ? RNJ_ELIMIT : 0;
}

static void loss_add(double s[5], const rnj_loss_t *l) {
  s[0] += l->total;
  s[1] += l->pitch;
  s[2] += l->step;
  s[3] += l->duration;
  s[4] += l->velocity;
}

static void loss_mean(const double s[5], size_t n, rnj_loss_t *l) {
  double d = n ? (double)n : 1.0;
  l->total = s[0] / d;
  l->pitch = s[1] / d;
  l->step = s[2] / d;
  l->duration = s[3] / d;
  l->velocity = s[4] / d;
}

typedef struct {
  rnj_train_t *tr;
  const rnj_train_data_t *data;
  const rnj_train_split_t *split;
  const rnj_train_fit_t *fit;
  char last[RNJ_TRAIN_PATH_LEN];
  char state[RNJ_TRAIN_PATH_LEN];
  float *best;    /* (nparams) best weights so far */
  uint32_t *perm; /* (n_train) this epoch's order */
  int8_t *shifts; /* (batch) v2: a batch's transpositions, or NULL */
  uint64_t data_fp;
  rnj__train_fit_state_t st;
} fit_t;

static int save_state(fit_t *f, char *err) {
  return rnj__train_state_save(f->state, f->tr, f->best, f->data_fp,
                               f->split, &f->st, err);
}

/* Put the best weights (and what they scored) into tr->model. */
static void restore_best(fit_t *f) {
  rnj_train_t *tr = f->tr;
  if (f->st.best_epoch < 0)
    return;
  memcpy(tr->model.params, f->best, tr->impl->nparams * sizeof(float));
  /* The same keys as every epoch's: they fit. */
  (void)set_fit_meta(&tr->model, &tr->cfg, f->st.best_epoch + 1,
                     &f->st.best_train, &f->st.best_val,
                     f->st.best_has_val);
}

/* Everything after an epoch's last batch; `done` of its `nb` batches ran
 * in this process, in `batch_s` seconds.  Sets *stop_now when training
 * ends (early stop or last epoch). */
static int end_epoch(fit_t *f, double t0, double batch_s, size_t nb,
                     size_t done, int *stop_now, char *err) {
  rnj_train_t *tr = f->tr;
  const rnj_train_config_t *c = &tr->cfg;
  rnj_train_progress_t pr;
  double vs[RNJ__TRAIN_NSUMS];
  double monitor;
  int rc;

  memset(&pr, 0, sizeof pr);
  pr.event = RNJ_TRAIN_EVENT_EPOCH;
  pr.lr = tr->lr_now; /* this epoch's, before a decay below */
  pr.epoch = f->st.epoch;
  pr.epochs = c->epochs;
  pr.batch = pr.batches = nb;
  loss_mean(f->st.sums, nb, &pr.train);
  pr.grad_norm = f->st.norm_sum / (double)nb;
  pr.has_val = f->split->n_val > 0;
  if (pr.has_val) {
    rc = rnj__train_eval_sums(tr, f->data, f->split->val, f->split->n_val, vs);
    if (rc)
      return rnj_errorf(err, rc, "validation: bad windows");
    rnj__train_loss_from_sums(tr, vs, (double)f->split->n_val, &pr.val);
  }
  monitor = pr.has_val ? pr.val.total : pr.train.total;
  if (!isfinite(monitor))
    return rnj_errorf(err, RNJ_EINVAL,
                      "epoch %d: the loss is not finite: training diverged "
                      "(try a lower --lr)", f->st.epoch + 1);
  if (set_fit_meta(&tr->model, c, f->st.epoch + 1, &pr.train, &pr.val,
                   pr.has_val))
    return rnj_errorf(err, RNJ_ELIMIT,
                      "checkpoint metadata: more than %d entries (the "
                      "caller's and the trainer's)", RNJ_MODEL_META_MAX);
  if (monitor < f->st.best_loss) {
    f->st.best_loss = monitor;
    f->st.best_epoch = f->st.epoch;
    f->st.bad = 0;
    f->st.best_train = pr.train;
    f->st.best_val = pr.val;
    f->st.best_has_val = pr.has_val;
    memcpy(f->best, tr->model.params, tr->impl->nparams * sizeof(float));
    rc = rnj_ckpt_save(&tr->model, f->fit->out, err);
    if (rc)
      return rc;
    pr.improved = 1;
  } else {
    f->st.bad++;
    if (c->lr_decay > 0 && f->st.bad % c->lr_patience == 0)
      tr->lr_now *= c->lr_decay;
  }
  rc = rnj_ckpt_save(&tr->model, f->last, err);
  if (rc)
    return rc;
  f->st.epoch++;
  f->st.batch = 0;
  memset(f->st.sums, 0, sizeof f->st.sums);
  f->st.norm_sum = 0;
  *stop_now = 0;
  if (c->patience > 0 && f->st.bad >= c->patience) {
    f->st.finished = RNJ__TRAIN_FIN_EARLY;
    *stop_now = 1;
  } else if (f->st.epoch >= c->epochs) {
    f->st.finished = RNJ__TRAIN_FIN_DONE;
    *stop_now = 1;
  }
  rc = save_state(f, err);
  if (rc)
    return rc;
  pr.bad_epochs = f->st.bad;
  pr.seconds = now_s() - t0;
  pr.windows_per_s =
      batch_s > 0 ? (double)(done * (size_t)c->batch) / batch_s : 0;
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
    pr.lr = tr->lr_now;
    while (f->st.batch < nb) {
      rnj_loss_t l;
      double tb = now_s();
      const uint32_t *win = f->perm + f->st.batch * B;
      if (f->shifts) {
        size_t i;
        for (i = 0; i < B; i++)
          f->shifts[i] =
              (int8_t)rnj_train_shift(tr, f->data, win[i], f->st.epoch);
      }
      rnj__train_run(tr, RNJ__TRAIN_JOB_GRAD, 1, f->data, win, f->shifts, B);
      {
        double s[RNJ__TRAIN_NSUMS];
        rnj__train_job_sums(tr->impl, s);
        rnj__train_loss_from_sums(tr, s, (double)B, &l);
      }
      batch_s += now_s() - tb;
      done_here++;
      if (!isfinite(l.total))
        return rnj_errorf(err, RNJ_EINVAL,
                          "epoch %d, batch %zu: the loss is not finite: "
                          "training diverged (try a lower --lr)",
                          f->st.epoch + 1, f->st.batch + 1);
      loss_add(f->st.sums, &l);
      if (tr->impl->norm)
        f->st.norm_sum += tr->grad_norm;
      f->st.batch++;
      if (f->fit->progress) {
        pr.batch = f->st.batch;
        loss_mean(f->st.sums, f->st.batch, &pr.train);
        pr.grad_norm = f->st.norm_sum / (double)f->st.batch;
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
  res->status = f->st.finished == RNJ__TRAIN_FIN_EARLY ? RNJ_TRAIN_EARLY_STOP
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
  f->best = rnj__malloc(tr->impl->nparams * sizeof(float));
  f->perm = rnj__malloc(split->n_train * sizeof *f->perm);
  if (tr->cfg.arch == RNJ_MODEL_V2 &&
      (tr->cfg.transpose_lo || tr->cfg.transpose_hi)) {
    f->shifts = rnj__malloc((size_t)tr->cfg.batch);
    if (!f->shifts) {
      rc = rnj_errorf(err, RNJ_ENOMEM, "fit: out of memory");
      goto done;
    }
  }
  if (!f->best || !f->perm) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "fit: out of memory");
    goto done;
  }
  if (rnj_train_paths(fit->out, f->last, f->state)) {
    rc = rnj_errorf(err, RNJ_ELIMIT, "%s: path too long", fit->out);
    goto done;
  }
  f->data_fp = rnj__train_fingerprint(tr, data, split);
  f->st.best_loss = INFINITY;
  f->st.best_epoch = -1;
  if (fit->resume) {
    rc = rnj__train_state_load(f->state, tr, f->best, f->data_fp, split,
                               &f->st, err);
    if (rc)
      goto done;
    /* A finished run continues only if more epochs were asked for. */
    if (f->st.finished == RNJ__TRAIN_FIN_DONE && f->st.epoch < tr->cfg.epochs)
      f->st.finished = RNJ__TRAIN_FIN_RUNNING;
    result->resumed_epoch = f->st.epoch;
    result->resumed_batch = f->st.batch;
  } else {
    memcpy(f->best, tr->model.params, tr->impl->nparams * sizeof(float));
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
  if (f->st.finished == RNJ__TRAIN_FIN_EARLY)
    result->status = RNJ_TRAIN_EARLY_STOP;
done:
  rnj__free(f->best);
  rnj__free(f->perm);
  rnj__free(f->shifts);
  rnj__free(f);
  return rc;
}
