/* The trainer's threads: the workers, the barrier they meet at, and the
 * job they run together.
 *
 * A job (a batch's gradient, with or without Adam's update, or an
 * evaluation) is written by the caller's thread, which is worker 0; the
 * other workers wait at `start`, run phase 1 (their slice of the batch's
 * rows, forward and backward: rnj__train_slice), meet at `mid`, run phase
 * 2 (their range of the parameters: rnj__train_reduce) and meet at `end`.
 * Which rows and which parameters a worker gets depends only on the
 * worker count, and every sum over workers runs in worker order, so a
 * seed and a thread count fix every bit.  OpenBLAS' own threads were
 * slower: its per-step products are too small to split well (119 GFLOP/s
 * on two threads against 147 on one, for 64 x 128 x 512).
 *
 * Limits: RNJ_TRAIN_MAX_THREADS workers; no job runs while another does
 * (one trainer is driven by one thread).
 */
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------- barrier */

/* A barrier that spins briefly before it sleeps.  Three meet a batch and
 * the workers arrive within microseconds of each other; a futex sleep and
 * wake-up per meeting (pthread_barrier_t) cost ~3% of a 3 ms batch at two
 * threads.  Spinning is bounded so a descheduled partner on a busy machine
 * costs a sleep, not a burnt core. */
#define BARRIER_SPIN 20000

static int barrier_init(rnj__train_barrier_t *b, unsigned n) {
  atomic_init(&b->count, 0);
  atomic_init(&b->gen, 0);
  b->n = n;
  if (pthread_mutex_init(&b->mu, NULL))
    return -1;
  if (pthread_cond_init(&b->cv, NULL)) {
    pthread_mutex_destroy(&b->mu);
    return -1;
  }
  return 0;
}

static void barrier_destroy(rnj__train_barrier_t *b) {
  pthread_cond_destroy(&b->cv);
  pthread_mutex_destroy(&b->mu);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Count one arrival; the last one releases the others.  Returns 1 when
 * this arrival released them. */
static int barrier_arrive(rnj__train_barrier_t *b, unsigned g) {
  if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) !=
      b->n - 1)
    return 0;
  atomic_store_explicit(&b->count, 0, memory_order_relaxed);
  /* Under the lock, so a sleeper cannot miss it (it tests gen there). */
  pthread_mutex_lock(&b->mu);
  atomic_store_explicit(&b->gen, g + 1, memory_order_release);
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
  return 1;
}

static void barrier_wait(rnj__train_barrier_t *b) {
  unsigned g = atomic_load_explicit(&b->gen, memory_order_acquire);
  int i;
  if (barrier_arrive(b, g))
    return;
  for (i = 0; i < BARRIER_SPIN; i++) {
    if (atomic_load_explicit(&b->gen, memory_order_acquire) != g)
      return;
    cpu_relax();
  }
  pthread_mutex_lock(&b->mu);
  while (atomic_load_explicit(&b->gen, memory_order_acquire) == g)
    pthread_cond_wait(&b->cv, &b->mu);
  pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------------------- workers */

static void *worker_main(void *arg) {
  rnj__train_worker_t *w = arg;
  rnj_train_impl_t *im = w->tr->impl;
  for (;;) {
    barrier_wait(&im->start);
    if (im->job == RNJ__TRAIN_JOB_QUIT)
      return NULL;
    rnj__train_slice(w);
    barrier_wait(&im->mid);
    rnj__train_reduce(w);
    barrier_wait(&im->end);
  }
}

/* The started workers leave (they meet the caller at `start` and read
 * JOB_QUIT); `unstarted` of them never came, so the caller arrives for
 * them. */
static void quit_workers(rnj_train_impl_t *im, int unstarted) {
  int k;
  im->job = RNJ__TRAIN_JOB_QUIT;
  for (k = 0; k < unstarted; k++)
    barrier_arrive(&im->start, atomic_load(&im->start.gen));
  barrier_wait(&im->start);
  for (k = 1; k < im->nworkers; k++)
    if (im->w[k].started)
      pthread_join(im->w[k].thread, NULL);
  for (k = 1; k < im->nworkers; k++)
    im->w[k].started = 0;
}

int rnj__train_workers_start(rnj_train_impl_t *im, char *err) {
  unsigned n = (unsigned)im->nworkers;
  int rc;
  int k;
  if (im->nworkers < 2)
    return 0;
  if (barrier_init(&im->start, n))
    goto fail_barriers;
  if (barrier_init(&im->mid, n)) {
    barrier_destroy(&im->start);
    goto fail_barriers;
  }
  if (barrier_init(&im->end, n)) {
    barrier_destroy(&im->start);
    barrier_destroy(&im->mid);
    goto fail_barriers;
  }
  im->barriers = 1;
  for (k = 1; k < im->nworkers; k++) {
    rc = pthread_create(&im->w[k].thread, NULL, worker_main, &im->w[k]);
    if (rc) {
      rc = rnj_errorf(err, -rc, "trainer: cannot start thread %d: %s", k,
                      strerror(rc));
      /* The barriers count every worker, started or not. */
      quit_workers(im, im->nworkers - k);
      return rc;
    }
    im->w[k].started = 1;
  }
  return 0;

fail_barriers:
  return rnj_errorf(err, RNJ_ENOMEM, "trainer: cannot create barriers");
}

void rnj__train_workers_stop(rnj_train_impl_t *im) {
  int k;
  int any = 0;
  if (im->w) {
    for (k = 1; k < im->nworkers; k++)
      any |= im->w[k].started;
    if (any)
      quit_workers(im, 0);
  }
  if (im->barriers) {
    barrier_destroy(&im->start);
    barrier_destroy(&im->mid);
    barrier_destroy(&im->end);
    im->barriers = 0;
  }
}

/* ----------------------------------------------------------------- jobs */

void rnj__train_run(rnj_train_t *tr, int job, int update,
                    const rnj_train_data_t *data, const uint32_t *windows,
                    size_t n) {
  rnj_train_impl_t *im = tr->impl;
  int k;
  im->job = job;
  im->update = update;
  im->data = data;
  im->windows = windows;
  im->n = n;
  if (update) {
    im->lr_t = rnj__train_adam_lr(tr);
    tr->step++;
  }
  /* The weights may have changed since the last job (an update, a
   * resume). */
  rnj__train_prepare(tr);
  for (k = 0; k < im->nworkers; k++) {
    im->w[k].row0 = n * (size_t)k / (size_t)im->nworkers;
    im->w[k].rows = n * (size_t)(k + 1) / (size_t)im->nworkers -
                    im->w[k].row0;
  }
  if (im->nworkers == 1) {
    rnj__train_slice(&im->w[0]);
    rnj__train_reduce(&im->w[0]);
    return;
  }
  barrier_wait(&im->start);
  rnj__train_slice(&im->w[0]);
  barrier_wait(&im->mid);
  rnj__train_reduce(&im->w[0]);
  barrier_wait(&im->end);
}

void rnj__train_job_sums(const rnj_train_impl_t *im, double s[3]) {
  int k;
  s[0] = s[1] = s[2] = 0;
  for (k = 0; k < im->nworkers; k++) {
    s[0] += im->w[k].sums[0];
    s[1] += im->w[k].sums[1];
    s[2] += im->w[k].sums[2];
  }
}
