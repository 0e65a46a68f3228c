/* The state file: everything a resume needs to continue a run exactly
 * where it stopped, and the fingerprint that ties it to its data.
 *
 * Layout: a header of STATE_SLOTS little-endian 64-bit slots (the
 * config, the data's fingerprint and sizes, the epoch, batch and Adam
 * step, the partial sums, the best loss and patience count), then the
 * weights, Adam's m and v and the best weights (nparams floats each),
 * then an FNV-1a checksum of everything before it.  Floats are stored in
 * host order, which the check below pins to little-endian.  A file of the
 * wrong size, magic, version or checksum is refused as not ours or
 * damaged; one of another config or data is refused naming what differs.
 * Written atomically (rnj__write_atomic): a crash leaves the old file.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define STATE_MAGIC 0x31746174736a6e72ull /* "rnjstat1" */
#define STATE_VERSION 1
#define STATE_SLOTS 48

/* The most parameters a model has (v2 at its largest hidden size). */
#define STATE_MAX_PARAMS                                                     \
  ((size_t)RNJ_MODEL_V2_HIDDEN_MAX * 4 *                                     \
       (RNJ_MODEL_V2_INPUT + RNJ_MODEL_V2_HIDDEN_MAX + 1) +                  \
   (size_t)(RNJ_MODEL_V2_HIDDEN_MAX + 1) * 360)

/* The file's size for `np` parameters. */
static size_t state_bytes(size_t np) {
  return STATE_SLOTS * 8 + 4 * np * sizeof(float) + 8;
}

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
  /* Added with the v2 model and clipping: a tutorial run without
   * clipping leaves them all 0, so its file stays what it was. */
  S_ARCH, S_HIDDEN, S_CLIP, S_TRANSPOSE_LO, S_TRANSPOSE_HI, S_SUMS_VEL,
  S_NORM_SUM, S_BEST_TRAIN_VEL, S_BEST_VAL_VEL,
  /* The learning rate a schedule (lr_decay) has reached; 0 while it is
   * cfg.lr, so a run without one keeps its file. */
  S_LR_NOW,
  S_END
};
_Static_assert(S_END <= STATE_SLOTS, "state header too small");

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

uint64_t rnj__train_fingerprint(const rnj_train_t *tr,
                                const rnj_train_data_t *d,
                                const rnj_train_split_t *s) {
  uint64_t h = FNV_INIT;
  size_t f;
  /* What the arch reads of each note. */
  if (tr->cfg.arch == RNJ_MODEL_V2) {
    h = fnv1a(h, d->tin, d->n_notes * 2 * sizeof(float));
    h = fnv1a(h, d->code, d->n_notes * 4);
  } else {
    h = fnv1a(h, d->x, d->n_notes * 3 * sizeof(float));
  }
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

int rnj__train_state_save(const char *path, const rnj_train_t *tr,
                          const float *best, uint64_t data_fp,
                          const rnj_train_split_t *split,
                          const rnj__train_fit_state_t *st, char *err) {
  uint64_t h[STATE_SLOTS];
  uint64_t sum;
  struct iovec iov[6];
  const rnj_train_config_t *c = &tr->cfg;
  size_t np = tr->impl->nparams;
  int i;

  memset(h, 0, sizeof h);
  h[S_MAGIC] = STATE_MAGIC;
  h[S_VERSION] = STATE_VERSION;
  h[S_NPARAMS] = np;
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
  h[S_CLIP] = d2u(c->clip_norm);
  if (c->arch == RNJ_MODEL_V2) {
    h[S_ARCH] = (uint64_t)c->arch;
    h[S_HIDDEN] = (uint64_t)c->hidden;
    h[S_TRANSPOSE_LO] = (uint64_t)(int64_t)c->transpose_lo;
    h[S_TRANSPOSE_HI] = (uint64_t)(int64_t)c->transpose_hi;
  }
  h[S_SUMS_VEL] = d2u(st->sums[4]);
  h[S_NORM_SUM] = d2u(st->norm_sum);
  h[S_BEST_TRAIN_VEL] = d2u(st->best_train.velocity);
  h[S_BEST_VAL_VEL] = d2u(st->best_val.velocity);
  h[S_LR_NOW] = tr->lr_now == c->lr ? 0 : d2u(tr->lr_now);

  iov[0].iov_base = h;
  iov[0].iov_len = sizeof h;
  iov[1].iov_base = tr->model.params;
  iov[2].iov_base = tr->m;
  iov[3].iov_base = tr->v;
  iov[4].iov_base = (void *)best;
  sum = FNV_INIT;
  for (i = 0; i < 5; i++) {
    if (i > 0)
      iov[i].iov_len = np * sizeof(float);
    sum = fnv1a(sum, iov[i].iov_base, iov[i].iov_len);
  }
  iov[5].iov_base = &sum;
  iov[5].iov_len = sizeof sum;
  return rnj__write_atomic(path, iov, 6, err);
}

int rnj__train_state_load(const char *path, rnj_train_t *tr, float *best,
                          uint64_t data_fp, const rnj_train_split_t *split,
                          rnj__train_fit_state_t *st, char *err) {
  const rnj_train_config_t *c = &tr->cfg;
  size_t np = tr->impl->nparams;
  uint8_t *buf = NULL;
  size_t len = 0;
  uint64_t h[STATE_SLOTS];
  uint64_t sum;
  const char *what = NULL;
  size_t off;
  int rc;
  int i;

  /* Up to the largest model's size, so that a run of another size is
   * named as such below rather than as a stranger. */
  rc = rnj__read_file(path, state_bytes(STATE_MAX_PARAMS), &buf, &len, err);
  if (rc == -ENOENT)
    return rnj_errorf(err, rc,
                      "%s: no state file to resume from (run without "
                      "--resume to start afresh)", path);
  if (rc)
    return rc;
  if (len < state_bytes(0)) {
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "%s: %zu bytes: not a state file of this trainer", path,
                    len);
    goto done;
  }
  memcpy(h, buf, sizeof h);
  memcpy(&sum, buf + len - 8, sizeof sum);
  if (h[S_MAGIC] != STATE_MAGIC || h[S_VERSION] != STATE_VERSION) {
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "%s: bad magic or version (expected an rnnjam-train "
                    "state file, version %d)", path, STATE_VERSION);
    goto done;
  }
  if (h[S_NPARAMS] <= STATE_MAX_PARAMS &&
      len != state_bytes((size_t)h[S_NPARAMS])) {
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "%s: %zu bytes, expected %zu: truncated or damaged", path,
                    len, state_bytes((size_t)h[S_NPARAMS]));
    goto done;
  }
  if (fnv1a(FNV_INIT, buf, len - 8) != sum) {
    rc = rnj_errorf(err, RNJ_EFORMAT, "%s: checksum mismatch (damaged file)",
                    path);
    goto done;
  }
  if (h[S_ARCH] != (uint64_t)(c->arch == RNJ_MODEL_V2 ? c->arch : 0))
    what = "arch";
  else if (h[S_ARCH] && h[S_HIDDEN] != (uint64_t)c->hidden)
    what = "hidden";
  else if (h[S_NPARAMS] != np)
    what = "model size";
  else if (h[S_BATCH] != (uint64_t)c->batch)
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
  else if (u2d(h[S_CLIP]) != c->clip_norm)
    what = "clip-norm";
  else if (h[S_ARCH] &&
           ((int64_t)h[S_TRANSPOSE_LO] != c->transpose_lo ||
            (int64_t)h[S_TRANSPOSE_HI] != c->transpose_hi))
    what = "transpose";
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
  st->sums[4] = u2d(h[S_SUMS_VEL]);
  st->norm_sum = u2d(h[S_NORM_SUM]);
  st->best_train.velocity = u2d(h[S_BEST_TRAIN_VEL]);
  st->best_val.velocity = u2d(h[S_BEST_VAL_VEL]);
  /* The schedule itself (lr_decay, lr_patience) may change on resume, as
   * epochs and patience may: the rate reached so far is kept. */
  tr->lr_now = h[S_LR_NOW] ? u2d(h[S_LR_NOW]) : c->lr;
  off = sizeof h;
  memcpy(tr->model.params, buf + off, np * sizeof(float));
  off += np * sizeof(float);
  memcpy(tr->m, buf + off, np * sizeof(float));
  off += np * sizeof(float);
  memcpy(tr->v, buf + off, np * sizeof(float));
  off += np * sizeof(float);
  memcpy(best, buf + off, np * sizeof(float));
  rc = 0;
done:
  rnj__free(buf);
  return rc;
}
