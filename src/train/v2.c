/* The v2 model in the trainer (rnnjam-lstm-v2, model.h and encoding.h):
 * its eleven tensors, and one slice of a batch through its layers.
 *
 *   one-hot rows + time inputs (T, r) --lstm2--> h_T (r, H)
 *     --dense--> pitch (r, 128), step (r, 98), duration (r, 102),
 *                velocity (r, 32) logits
 *   loss = CE(pitch) + 0.5 (CE(step) + CE(duration) + CE(velocity))
 *
 * The layers are the tutorial's where they can be (the dense and
 * cross-entropy pairs, once per head) and lstm_layer.c's v2 pair, whose
 * input projection is a lookup of kernel rows and whose input gradient
 * touches only the rows used.  Each window's pitches are shifted by its
 * transposition (im->shifts, from the fit loop) as they are gathered.
 */
#include <string.h>

#include "internal.h"
#include "rnnjam/encoding.h"

#define NHEADS 4

/* The heads in the order of the tensor table and of the loss sums. */
static const int head_n[NHEADS] = {
    RNJ_ENCODING_PITCHES, RNJ_ENCODING_STEP_BINS,
    RNJ_ENCODING_DURATION_BINS, RNJ_ENCODING_VELOCITY_BINS};
static const float head_weight[NHEADS] = {1.0f, 0.5f, 0.5f, 0.5f};

/* Pointers to the tensors inside a block laid out as `m`'s table. */
typedef struct {
  float *kernel; /* (186, 4H) */
  float *rec;    /* (H, 4H) */
  float *bias;   /* (4H) */
  float *hk[NHEADS]; /* (H, n) */
  float *hb[NHEADS]; /* (n) */
} view_t;

static view_t view(const rnj_model_t *m, float *base) {
  view_t v;
  int q;
  v.kernel = base + m->tensors[0].offset;
  v.rec = base + m->tensors[1].offset;
  v.bias = base + m->tensors[2].offset;
  for (q = 0; q < NHEADS; q++) {
    v.hk[q] = base + m->tensors[3 + 2 * q].offset;
    v.hb[q] = base + m->tensors[4 + 2 * q].offset;
  }
  return v;
}

void rnj__train_v2_prepare(rnj_train_t *tr) {
  rnj_train_impl_t *im = tr->impl;
  rnj__train_lstm2_pack(im->k, view(&tr->model, tr->model.params).rec,
                        im->upf, im->upb, tr->model.hidden);
}

void rnj__train_v2_slice(rnj__train_worker_t *w) {
  rnj_train_t *tr = w->tr;
  rnj_train_impl_t *im = tr->impl;
  const rnj__train_kern_t *k = im->k;
  int T = tr->cfg.seq_length;
  int hid = tr->model.hidden;
  size_t r = w->rows;
  view_t p = view(&tr->model, tr->model.params);
  view_t g = view(&tr->model, w->grad);
  const float *hT = w->h + (size_t)T * r * (size_t)hid;
  float *logit[NHEADS];
  float scale;
  int q;
  memset(w->sums, 0, sizeof w->sums);
  if (r == 0) {
    if (im->job == RNJ__TRAIN_JOB_GRAD)
      memset(w->grad, 0, im->nparams * sizeof(float));
    return;
  }
  logit[0] = w->logit;
  for (q = 1; q < NHEADS; q++)
    logit[q] = logit[q - 1] + r * (size_t)head_n[q - 1];
  rnj__train_gather2(w->idx, w->tin, w->y, im->data, im->windows + w->row0,
                     im->shifts ? im->shifts + w->row0 : NULL, r, T);
  rnj__train_lstm2_forward(k, w->z, w->h, w->c, w->tc, w->idx, w->tin,
                           p.kernel, p.bias, p.rec, im->upf, r, T, hid);
  for (q = 0; q < NHEADS; q++) {
    rnj__train_dense_forward(logit[q], hT, p.hk[q], p.hb[q], r, head_n[q],
                             hid);
    rnj__train_ce_forward(k, &w->sums[q], logit[q], w->esum + q * r,
                          w->y + q * r, r, head_n[q]);
  }
  if (im->job != RNJ__TRAIN_JOB_GRAD)
    return;
  /* The gradient of the mean loss over the whole batch. */
  scale = 1.0f / (float)im->n;
  for (q = 0; q < NHEADS; q++) {
    rnj__train_ce_backward(k, logit[q], w->esum + q * r, w->y + q * r,
                           head_weight[q] * scale, r, head_n[q]);
    rnj__train_dense_backward(w->dh, g.hk[q], g.hb[q], logit[q], hT,
                              p.hk[q], r, head_n[q], hid, q > 0);
  }
  rnj__train_lstm2_backward(k, g.kernel, g.bias, g.rec, w->dh, w->dc, w->z,
                            w->h, w->c, w->tc, w->idx, w->tin, p.rec,
                            im->upb, r, T, hid);
}
