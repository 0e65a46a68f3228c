/* The trainer's internals: what the files of src/train/ share, and nothing
 * outside them sees (never installed, never exported).  Names that cross
 * files are rnj__train_*; each file keeps the rest static.
 *
 * The files, by job (each opens with its own paragraph):
 *   data.c         the data set, the split by file, each epoch's shuffle;
 *   kern*.c        the kernels per instruction set (kern.h);
 *   adam.c         the sum of the workers' gradients and Adam's update;
 *   threads.c      the workers, their barrier, the jobs;
 *   train.c        (for now) everything else.
 *
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
  float *logit; /* (r, P) logits; then softmax, then dlogits */
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

/* train.c: what a job needs once before its workers start (the
 * recurrent kernel packed for the kernel set's products). */
void rnj__train_prepare(rnj_train_t *tr);

/* train.c: phase 1 of a job: worker w's rows of the batch, forward and
 * (JOB_GRAD) backward into w->grad; the losses into w->sums. */
void rnj__train_slice(rnj__train_worker_t *w);

/* adam.c: phase 2 of JOB_GRAD: worker w's range of the parameters summed
 * over the workers (into tr->grad) and, when im->update, Adam on it. */
void rnj__train_reduce(rnj__train_worker_t *w);

/* adam.c: the step size of Adam's next update, lr_t for t = step + 1. */
float rnj__train_adam_lr(const rnj_train_t *tr);

#endif
