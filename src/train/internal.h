/* The trainer's internals: what the files of src/train/ share, and nothing
 * outside them sees (never installed, never exported).  Names that cross
 * files are rnj__train_*; each file keeps the rest static.
 *
 * The files, by job (each opens with its own paragraph):
 *   data.c         the data set, the split by file, each epoch's shuffle,
 *                  windows gathered into a slice's inputs and targets;
 *   kern*.c        the kernels per instruction set (kern.h);
 *   lstm_layer.c   the LSTM layer: forward and backward through time;
 *   heads.c        the heads (dense, regression) and the losses (softmax
 *                  cross-entropy, mse_pp), each a forward/backward pair;
 *   tutorial.c     the tutorial model: its tensors, and one slice of a
 *                  batch through its layers, forward and backward;
 *   init.c         Keras' initialisers;
 *   adam.c         the sum of the workers' gradients and Adam's update;
 *   threads.c      the workers, their barrier, the jobs;
 *   trainer.c      the trainer object: config, init/free, grad, batch,
 *                  eval;
 *   state.c        the state file a resume reads, the data fingerprint;
 *   fit.c          the epochs: validation, checkpoints, early stopping,
 *                  interruption and resume.
 *
 * Layers are _forward/_backward pairs with the same argument order:
 * outputs first, then inputs, then parameters, then sizes; a backward
 * takes the gradients it writes first, then the ones it reads, then what
 * its forward saved.  Every array carries its shape, in floats, with
 * r = the slice's rows (windows), T = seq_length, and the sizes below.
 * A second model adds its own layers, its own slice beside tutorial.c
 * (and a choice between the two where threads.c calls it) and its own
 * data encoding beside data.c's; the workers, Adam and the state file
 * address parameters only as a block of `nparams` floats.
 */
#ifndef RNNJAM_TRAIN_INTERNAL_H
#define RNNJAM_TRAIN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../internal.h"
#include "kern.h"
#include "rnnjam/sample.h"
#include "rnnjam/train.h"

/* The tutorial model's sizes, short, as every shape comment uses them. */
#define H RNJ_MODEL_HIDDEN
#define G RNJ_MODEL_GATES
#define P RNJ_MODEL_PITCHES

/* ------------------------------------------------------------------ RNG */

/* xoshiro256** seeded through splitmix64.  Every stream is derived from
 * (seed, stream id) alone, so nothing but the seed needs saving to replay
 * one; tests/reference_train.py reimplements this to shuffle identically.
 * Streams: the initial weights, the split of the files, and one per
 * epoch's shuffle (STREAM_EPOCH + epoch). */
#define RNJ__TRAIN_STREAM_INIT 1
#define RNJ__TRAIN_STREAM_SPLIT 2
#define RNJ__TRAIN_STREAM_EPOCH 1000

static inline void rnj__train_rng_seed(rnj_rng_t *r, uint64_t seed,
                                       uint64_t stream) {
  rnj_rng_seed(r, seed ^ (stream * 0xd1342543de82ef95ull));
}

/* --------------------------------------------------------------- workers */

typedef struct rnj__train_barrier_s {
  atomic_uint count;
  atomic_uint gen;
  unsigned n;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} rnj__train_barrier_t;

typedef struct rnj__train_worker_s {
  rnj_train_t *tr;
  int id;
  size_t row0; /* this job's rows of the batch */
  size_t rows;
  /* Buffers for up to `cap` rows; a job with r rows uses r as the row
   * stride, so each time step's rows are contiguous and all steps form
   * one matrix (T * r, .) for the weight-gradient GEMM. */
  size_t cap;
  float *x;     /* (T, r, 3) inputs, time-major */
  float *z;     /* (T, r, 4H) gate activations; dz after backward */
  float *h;     /* (T + 1, r, H) h[0] = 0 */
  float *c;     /* (T + 1, r, H) c[0] = 0 */
  float *tc;    /* (T, r, H) tanh(c_t) */
  float *logit; /* (r, P) logits; then exp(logit - max), then dlogits */
  float *esum;  /* (r) the sums of those exps */
  float *pred;  /* (r, 2) step, duration */
  float *dpred; /* (r, 2) their gradients */
  float *ys;    /* (r, 2) step, duration targets */
  int *yp;      /* (r) pitch targets */
  float *dh;    /* (r, H) */
  float *dc;    /* (r, H) */
  float *grad;  /* (nparams) this slice's gradient (worker 0: tr->grad) */
  double sums[3]; /* this job's sums of CE, mse_pp(step), mse_pp(dur) */
  void *block;
  pthread_t thread;
  int started;
} rnj__train_worker_t;

enum {
  RNJ__TRAIN_JOB_GRAD = 1,
  RNJ__TRAIN_JOB_EVAL = 2,
  RNJ__TRAIN_JOB_QUIT = 3
};

struct rnj_train_impl_s {
  const rnj__train_kern_t *k;
  size_t nparams; /* floats in the weights, a gradient, each moment */
  float *upf;     /* (G/32, H, 32) U packed for h U, when k->gemm */
  float *upb;     /* (H/32, G, 32) U^T packed for dz U^T */
  void *packed;   /* their block */
  int nworkers;
  rnj__train_worker_t *w;
  int barriers;
  rnj__train_barrier_t start;
  rnj__train_barrier_t mid;
  rnj__train_barrier_t end;
  /* The job, written by the caller's thread before `start`. */
  int job;
  int update; /* JOB_GRAD: apply Adam after summing */
  float lr_t;
  const rnj_train_data_t *data;
  const uint32_t *windows;
  size_t n;
};

/* threads.c: start im->nworkers - 1 threads (none for one worker), or
 * return a negative code with `err` and none left running. */
int rnj__train_workers_start(rnj_train_impl_t *im, char *err);

/* Stop the threads and release the barriers; safe on a half-built impl
 * and twice. */
void rnj__train_workers_stop(rnj_train_impl_t *im);

/* Run a job (JOB_GRAD, with Adam's update when `update`, or JOB_EVAL) on
 * the `n` windows (n <= cfg.batch, already checked) with every worker,
 * the caller's thread being worker 0. */
void rnj__train_run(rnj_train_t *tr, int job, int update,
                    const rnj_train_data_t *data, const uint32_t *windows,
                    size_t n);

/* The last job's sums of the three losses over the workers, in worker
 * order. */
void rnj__train_job_sums(const rnj_train_impl_t *im, double s[3]);

/* tutorial.c: what a job needs once before its workers start (the
 * recurrent kernel packed for the kernel set's products). */
void rnj__train_prepare(rnj_train_t *tr);

/* tutorial.c: phase 1 of a job: worker w's rows of the batch, forward and
 * (JOB_GRAD) backward into w->grad; the losses into w->sums. */
void rnj__train_slice(rnj__train_worker_t *w);

/* adam.c: phase 2 of JOB_GRAD: worker w's range of the parameters summed
 * over the workers (into tr->grad) and, when im->update, Adam on it. */
void rnj__train_reduce(rnj__train_worker_t *w);

/* adam.c: the step size of Adam's next update, lr_t for t = step + 1. */
float rnj__train_adam_lr(const rnj_train_t *tr);

/* trainer.c: the mean losses from the sums over `n` windows. */
void rnj__train_loss_from_sums(const double s[3], double n, rnj_loss_t *l);

/* trainer.c: the sums of the three losses over `n` windows (any n), in
 * chunks of a batch.  Returns 0 or RNJ_EINVAL (a window out of range). */
int rnj__train_eval_sums(rnj_train_t *tr, const rnj_train_data_t *data,
                         const uint32_t *windows, size_t n, double sums[3]);

/* ------------------------------------------------------------------ data */

/* data.c: windows `win` (r) of `d` as a slice's time-major inputs and
 * its targets.  x (T, r, 3) out; yp (r) out: pitch; ys (r, 2) out: step,
 * duration. */
void rnj__train_gather(float *x, int *yp, float *ys,
                       const rnj_train_data_t *d, const uint32_t *win,
                       size_t r, int T);

/* ---------------------------------------------------------------- layers */

/* lstm_layer.c: U (H, 4H) packed for k->gemm: upf (G/32, H, 32) for h U,
 * upb (H/32, G, 32) for dz U^T.  Nothing to do for a set without. */
void rnj__train_lstm_pack(const rnj__train_kern_t *k, const float *u,
                          float *upf, float *upb);

/* lstm_layer.c: forward through T steps from h_0 = c_0 = 0.
 * z (T, r, 4H) out: the gates' activations i, f, g, o
 * h, c (T + 1, r, H) out: h_t, c_t
 * tc (T, r, H) out: tanh(c_t)
 * x (T, r, 3) the inputs; w (3, 4H), b (4H) the input kernel and bias;
 * u (H, 4H) the recurrent kernel and upf its packing (or NULL). */
void rnj__train_lstm_forward(const rnj__train_kern_t *k, float *z, float *h,
                             float *c, float *tc, const float *x,
                             const float *w, const float *b, const float *u,
                             const float *upf, size_t r, int T);

/* lstm_layer.c: backpropagation through time from dh = dL/dh_T.
 * dw (3, 4H), db (4H), du (H, 4H) out: the gradients (overwritten)
 * dh (r, H) in: dL/dh_T; then scratch.  dc (r, H) scratch
 * z (T, r, 4H) in: the activations; out: dz of every step
 * h, c, tc, x as forward; u (H, 4H) and upb its packing (or NULL). */
void rnj__train_lstm_backward(const rnj__train_kern_t *k, float *dw,
                              float *db, float *du, float *dh, float *dc,
                              float *z, const float *h, const float *c,
                              const float *tc, const float *x,
                              const float *u, const float *upb, size_t r,
                              int T);

/* heads.c: a dense head.  out (r, n) = in (r, H) w (H, n) + b (n). */
void rnj__train_dense_forward(float *out, const float *in, const float *w,
                              const float *b, size_t r, int n);

/* heads.c: din (r, H) = dout w^T (overwritten); dw (H, n) = in^T dout and
 * db (n) = dout's column sums (overwritten).  dout (r, n). */
void rnj__train_dense_backward(float *din, float *dw, float *db,
                               const float *dout, const float *in,
                               const float *w, size_t r, int n);

/* heads.c: the tutorial's two regressions on h, step and duration.
 * pred (r, 2) = (in sk + sb, in dk + db); in (r, H), sk, dk (H),
 * sb, db (1). */
void rnj__train_regress_forward(float *pred, const float *in,
                                const float *sk, const float *sb,
                                const float *dk, const float *db, size_t r);

/* heads.c: din (r, H) += dpred's contributions; dsk, dsb, ddk, ddb
 * overwritten.  dpred (r, 2). */
void rnj__train_regress_backward(float *din, float *dsk, float *dsb,
                                 float *ddk, float *ddb, const float *dpred,
                                 const float *in, const float *sk,
                                 const float *dk, size_t r);

/* heads.c: softmax cross-entropy of each row against y, summed into
 * *sum.  logit (r, n) in: logits; out: exp(logit - max).  esum (r) out:
 * the rows' sums of those exps.  y (r). */
void rnj__train_ce_forward(const rnj__train_kern_t *k, double *sum,
                           float *logit, float *esum, const int *y,
                           size_t r, int n);

/* heads.c: logit (r, n) in: exps from ce_forward; out: the gradient of
 * scale * CE, scale (softmax - onehot(y)). */
void rnj__train_ce_backward(const rnj__train_kern_t *k, float *logit,
                            const float *esum, const int *y, float scale,
                            size_t r, int n);

/* heads.c: the tutorial's mse_pp on step and duration (loss.h), summed
 * into sums[0..1].  pred, y (r, 2). */
void rnj__train_mse_forward(double sums[2], const float *pred,
                            const float *y, size_t r);

/* heads.c: dpred (r, 2) = the gradient of scale * mse_pp. */
void rnj__train_mse_backward(float *dpred, const float *pred,
                             const float *y, float scale, size_t r);

/* ---------------------------------------------------------------- others */

/* init.c: Keras' glorot-uniform draw of a (fan_in, fan_out) kernel w. */
void rnj__train_glorot_uniform(rnj_rng_t *r, float *w, int fan_in,
                               int fan_out);

/* init.c: Keras' orthogonal (rows, cols) kernel w, rows <= cols.
 * Returns 0 or RNJ_ENOMEM. */
int rnj__train_orthogonal(rnj_rng_t *r, float *w, int rows, int cols);

/* init.c: Keras' initial weights for the tutorial model from `seed`.
 * Returns 0 or RNJ_ENOMEM. */
int rnj__train_keras_init(rnj_model_t *m, uint64_t seed);

/* state.c: what resume needs beyond the trainer's weights and moments. */
enum {
  RNJ__TRAIN_FIN_RUNNING = 0,
  RNJ__TRAIN_FIN_DONE = 1,
  RNJ__TRAIN_FIN_EARLY = 2
};

typedef struct rnj__train_fit_state_s {
  int epoch;       /* the epoch to run (or running) */
  size_t batch;    /* its next batch */
  double sums[4];  /* sums of the batch losses of this epoch so far */
  double best_loss;
  int best_epoch;
  int bad;         /* epochs since the best */
  int finished;    /* RNJ__TRAIN_FIN_* */
  rnj_loss_t best_train;
  rnj_loss_t best_val;
  int best_has_val;
} rnj__train_fit_state_t;

/* state.c: a fingerprint of the data and the split (FNV-1a). */
uint64_t rnj__train_fingerprint(const rnj_train_data_t *d,
                                const rnj_train_split_t *s);

/* state.c: write the state file atomically: tr's config, weights,
 * moments and step, `best` (nparams), `st`, data_fp and the split's
 * sizes.  Returns 0 or a negative code with `err`. */
int rnj__train_state_save(const char *path, const rnj_train_t *tr,
                          const float *best, uint64_t data_fp,
                          const rnj_train_split_t *split,
                          const rnj__train_fit_state_t *st, char *err);

/* state.c: load the state at `path` into tr (weights, moments, step),
 * `best` and `st`, after checking it belongs to this run (config, data).
 * Returns 0 or a negative code with `err` naming the mismatch. */
int rnj__train_state_load(const char *path, rnj_train_t *tr, float *best,
                          uint64_t data_fp, const rnj_train_split_t *split,
                          rnj__train_fit_state_t *st, char *err);

#endif
