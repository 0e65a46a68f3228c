/* The tutorial model in the trainer: its nine tensors, and one slice of a
 * batch through its layers.
 *
 *   inputs (T, r, 3) --lstm--> h_T (r, H) --dense--> pitch logits (r, P)
 *                                         --regress--> step, duration
 *   loss = CE(pitch) + mse_pp(step) + mse_pp(duration), weighted (loss.h)
 *
 * Parameters, a gradient and Adam's moments are blocks laid out as the
 * model's tensor table (model.h); the layers get pointers into them from
 * that table.  This file is the only one that knows the tutorial's
 * architecture; another model adds its own beside it.
 */
#include <string.h>

#include "internal.h"

/* Pointers to the nine tensors inside a block laid out as model.h. */
typedef struct {
  float *kernel; /* (3, 4H) */
  float *rec;    /* (H, 4H) */
  float *bias;   /* (4H) */
  float *pk;     /* (H, P) */
  float *pb;     /* (P) */
  float *sk;     /* (H) */
  float *sb;     /* (1) */
  float *dk;     /* (H) */
  float *db;     /* (1) */
} view_t;

static view_t view(float *base) {
  const rnj_tensor_info_t *t = rnj_model_tensors();
  view_t v;
  v.kernel = base + t[0].offset;
  v.rec = base + t[1].offset;
  v.bias = base + t[2].offset;
  v.pk = base + t[3].offset;
  v.pb = base + t[4].offset;
  v.sk = base + t[5].offset;
  v.sb = base + t[6].offset;
  v.dk = base + t[7].offset;
  v.db = base + t[8].offset;
  return v;
}

void rnj__train_prepare(rnj_train_t *tr) {
  rnj_train_impl_t *im = tr->impl;
  rnj__train_lstm_pack(im->k, view(tr->model.params).rec, im->upf, im->upb);
}

void rnj__train_slice(rnj__train_worker_t *w) {
  rnj_train_t *tr = w->tr;
  rnj_train_impl_t *im = tr->impl;
  const rnj__train_kern_t *k = im->k;
  int T = tr->cfg.seq_length;
  size_t r = w->rows;
  view_t p = view(tr->model.params);
  view_t g = view(w->grad);
  const float *hT = w->h + (size_t)T * r * H;
  float scale;
  w->sums[0] = w->sums[1] = w->sums[2] = 0;
  if (r == 0) {
    if (im->job == RNJ__TRAIN_JOB_GRAD)
      memset(w->grad, 0, im->nparams * sizeof(float));
    return;
  }
  rnj__train_gather(w->x, w->yp, w->ys, im->data, im->windows + w->row0, r,
                    T);
  rnj__train_lstm_forward(k, w->z, w->h, w->c, w->tc, w->x, p.kernel,
                          p.bias, p.rec, im->upf, r, T);
  rnj__train_dense_forward(w->logit, hT, p.pk, p.pb, r, P);
  rnj__train_regress_forward(w->pred, hT, p.sk, p.sb, p.dk, p.db, r);
  rnj__train_ce_forward(k, &w->sums[0], w->logit, w->esum, w->yp, r, P);
  rnj__train_mse_forward(&w->sums[1], w->pred, w->ys, r);
  if (im->job != RNJ__TRAIN_JOB_GRAD)
    return;
  /* The gradient of the mean loss over the whole batch (step and
   * duration weigh 1, loss.h). */
  scale = 1.0f / (float)im->n;
  rnj__train_ce_backward(k, w->logit, w->esum, w->yp,
                         (float)RNJ_LOSS_PITCH_WEIGHT * scale, r, P);
  rnj__train_mse_backward(w->dpred, w->pred, w->ys, scale, r);
  rnj__train_dense_backward(w->dh, g.pk, g.pb, w->logit, hT, p.pk, r, P);
  rnj__train_regress_backward(w->dh, g.sk, g.sb, g.dk, g.db, w->dpred, hT,
                              p.sk, p.dk, r);
  rnj__train_lstm_backward(k, g.kernel, g.bias, g.rec, w->dh, w->dc, w->z,
                           w->h, w->c, w->tc, w->x, p.rec, im->upb, r, T);
}
