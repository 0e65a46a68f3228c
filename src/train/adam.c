/* Keras' Adam over the parameter block (the formula is rnj_train_step's,
 * train.h), the sum of the workers' gradients that precedes it, and the
 * global-norm clipping between the two.
 *
 * In a batch job each worker owns one range of the parameters (16-float
 * aligned, a function of the worker count alone): it sums that range of
 * every worker's gradient into tr->grad in worker order, then updates the
 * range with the kernel set's Adam.  So the update needs no lock and its
 * bits depend on the thread count, not on timing.  The global norm needs
 * the whole summed gradient first: each worker takes the sum of squares
 * of its range (in double), the workers meet once more, and each adds the
 * partial sums up in worker order -- the same total in every worker --
 * and scales its own range by clip / norm when the norm is larger
 * (Keras' global_clipnorm; no epsilon).
 */
#include <math.h>

#include "internal.h"

float rnj__train_adam_lr(const rnj_train_t *tr) {
  double t = (double)(tr->step + 1);
  double b1t = 1.0 - pow(tr->cfg.beta1, t);
  double b2t = 1.0 - pow(tr->cfg.beta2, t);
  return (float)(tr->lr_now * sqrt(b2t) / b1t);
}

/* The factor that clips a gradient of norm `norm`: 1 when clipping is off
 * or the norm is within bounds. */
static float clip_factor(const rnj_train_t *tr, double norm) {
  double c = tr->cfg.clip_norm;
  return c > 0 && norm > c ? (float)(c / norm) : 1.0f;
}

void rnj_train_step(rnj_train_t *tr) {
  rnj_train_impl_t *im = tr->impl;
  if (tr->cfg.clip_norm > 0) {
    float f;
    tr->grad_norm = sqrt(im->k->sumsq(im->nparams, tr->grad));
    f = clip_factor(tr, tr->grad_norm);
    if (f != 1.0f)
      im->k->scale((int)im->nparams, tr->grad, f);
  }
  im->k->adam(im->nparams, tr->model.params, tr->m, tr->v, tr->grad,
              rnj__train_adam_lr(tr), (float)tr->cfg.beta1,
              (float)tr->cfg.beta2, (float)tr->cfg.epsilon);
  tr->step++;
}

/* Worker `id` of `n`'s part of `np` parameters, aligned to 16 floats. */
static void param_range(int id, int n, size_t np, size_t *lo, size_t *hi) {
  size_t per = ((np + (size_t)n - 1) / (size_t)n + 15) & ~(size_t)15;
  *lo = per * (size_t)id;
  *hi = per * (size_t)(id + 1);
  if (*lo > np)
    *lo = np;
  if (*hi > np)
    *hi = np;
}

void rnj__train_reduce(rnj__train_worker_t *w) {
  rnj_train_t *tr = w->tr;
  rnj_train_impl_t *im = tr->impl;
  size_t lo;
  size_t hi;
  int k;
  w->sq = 0;
  if (im->job != RNJ__TRAIN_JOB_GRAD)
    return;
  param_range(w->id, im->nworkers, im->nparams, &lo, &hi);
  if (lo >= hi)
    return;
  for (k = 1; k < im->nworkers; k++)
    im->k->add(hi - lo, tr->grad + lo, im->w[k].grad + lo);
  if (im->norm)
    w->sq = im->k->sumsq(hi - lo, tr->grad + lo);
}

void rnj__train_update(rnj__train_worker_t *w) {
  rnj_train_t *tr = w->tr;
  rnj_train_impl_t *im = tr->impl;
  size_t lo;
  size_t hi;
  float f = 1.0f;
  if (im->job != RNJ__TRAIN_JOB_GRAD)
    return;
  if (im->norm) {
    double sq = 0;
    int k;
    for (k = 0; k < im->nworkers; k++)
      sq += im->w[k].sq;
    /* Every worker computes the same value; worker 0 publishes it. */
    if (w->id == 0)
      tr->grad_norm = sqrt(sq);
    if (im->update)
      f = clip_factor(tr, sqrt(sq));
  }
  param_range(w->id, im->nworkers, im->nparams, &lo, &hi);
  if (lo >= hi)
    return;
  if (f != 1.0f)
    im->k->scale((int)(hi - lo), tr->grad + lo, f);
  if (im->update)
    im->k->adam(hi - lo, tr->model.params + lo, tr->m + lo, tr->v + lo,
                tr->grad + lo, im->lr_t, (float)tr->cfg.beta1,
                (float)tr->cfg.beta2, (float)tr->cfg.epsilon);
}
