/* Keras' Adam over the parameter block (the formula is rnj_train_step's,
 * train.h), and the sum of the workers' gradients that precedes it.
 *
 * In a batch job each worker owns one range of the parameters (16-float
 * aligned, a function of the worker count alone): it sums that range of
 * every worker's gradient into tr->grad in worker order, then updates the
 * range with the kernel set's Adam.  So the update needs no lock and its
 * bits depend on the thread count, not on timing.  Anything that needs
 * the whole gradient first (a global norm for clipping) needs one more
 * meeting of the workers between the sum and the update.
 */
#include <math.h>

#include "internal.h"

float rnj__train_adam_lr(const rnj_train_t *tr) {
  double t = (double)(tr->step + 1);
  double b1t = 1.0 - pow(tr->cfg.beta1, t);
  double b2t = 1.0 - pow(tr->cfg.beta2, t);
  return (float)(tr->cfg.lr * sqrt(b2t) / b1t);
}

void rnj_train_step(rnj_train_t *tr) {
  rnj_train_impl_t *im = tr->impl;
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
  if (im->job != RNJ__TRAIN_JOB_GRAD)
    return;
  param_range(w->id, im->nworkers, im->nparams, &lo, &hi);
  if (lo >= hi)
    return;
  for (k = 1; k < im->nworkers; k++)
    im->k->add(hi - lo, tr->grad + lo, im->w[k].grad + lo);
  if (im->update)
    im->k->adam(hi - lo, tr->model.params + lo, tr->m + lo, tr->v + lo,
                tr->grad + lo, im->lr_t, (float)tr->cfg.beta1,
                (float)tr->cfg.beta2, (float)tr->cfg.epsilon);
}
