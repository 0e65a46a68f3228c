/* The heads on the LSTM's last h and the losses on their outputs, each a
 * _forward/_backward pair.
 *
 * The tutorial model has one dense head (pitch logits, softmax
 * cross-entropy) and two regressions (step and duration in seconds, the
 * tutorial's mse_pp, loss.h); a model with more categorical heads uses
 * the dense and cross-entropy pairs once per head.  The losses are sums
 * over the slice's rows, in row order (the trainer divides by the batch);
 * their backward passes take the scale (weight / batch) of the mean loss.
 * The heads' products go to OpenBLAS: about 1% of a batch's flops.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "internal.h"

/* ----------------------------------------------------------------- dense */

void rnj__train_dense_forward(float *out, const float *in, const float *w,
                              const float *b, size_t r, int n) {
  size_t i;
  int j;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, n, H, 1.0f,
              in, H, w, n, 0.0f, out, n);
  for (i = 0; i < r; i++) {
    float *row = out + i * (size_t)n;
    for (j = 0; j < n; j++)
      row[j] += b[j];
  }
}

void rnj__train_dense_backward(float *din, float *dw, float *db,
                               const float *dout, const float *in,
                               const float *w, size_t r, int n) {
  size_t i;
  int j;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, n, (int)r, 1.0f,
              in, H, dout, n, 0.0f, dw, n);
  memset(db, 0, (size_t)n * sizeof(float));
  for (i = 0; i < r; i++) {
    const float *row = dout + i * (size_t)n;
    for (j = 0; j < n; j++)
      db[j] += row[j];
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, H, n, 1.0f,
              dout, n, w, n, 0.0f, din, H);
}

/* ------------------------------------------------------------ regression */

void rnj__train_regress_forward(float *pred, const float *in,
                                const float *sk, const float *sb,
                                const float *dk, const float *db, size_t r) {
  size_t i;
  int j;
  for (i = 0; i < r; i++) {
    const float *hb = in + i * H;
    float s = 0;
    float du = 0;
    for (j = 0; j < H; j++) {
      s += hb[j] * sk[j];
      du += hb[j] * dk[j];
    }
    pred[i * 2] = s + sb[0];
    pred[i * 2 + 1] = du + db[0];
  }
}

void rnj__train_regress_backward(float *din, float *dsk, float *dsb,
                                 float *ddk, float *ddb, const float *dpred,
                                 const float *in, const float *sk,
                                 const float *dk, size_t r) {
  size_t i;
  int j;
  memset(dsk, 0, H * sizeof(float));
  memset(ddk, 0, H * sizeof(float));
  dsb[0] = ddb[0] = 0;
  for (i = 0; i < r; i++) {
    const float *hb = in + i * H;
    float ds = dpred[i * 2];
    float dd = dpred[i * 2 + 1];
    for (j = 0; j < H; j++) {
      dsk[j] += hb[j] * ds;
      ddk[j] += hb[j] * dd;
    }
    dsb[0] += ds;
    ddb[0] += dd;
  }
  for (i = 0; i < r; i++) {
    float *dhb = din + i * H;
    float ds = dpred[i * 2];
    float dd = dpred[i * 2 + 1];
    for (j = 0; j < H; j++)
      dhb[j] += ds * sk[j] + dd * dk[j];
  }
}

/* --------------------------------------------------------- cross-entropy */

/* CE = log(sum exp(logit - max)) + max - logit[y], in double. */
void rnj__train_ce_forward(const rnj__train_kern_t *k, double *sum,
                           float *logit, float *esum, const int *y,
                           size_t r, int n) {
  size_t i;
  for (i = 0; i < r; i++) {
    float *row = logit + i * (size_t)n;
    float ly = row[y[i]];
    float max;
    esum[i] = k->softmax_exp(n, row, &max);
    *sum += log((double)esum[i]) + (double)max - (double)ly;
  }
}

void rnj__train_ce_backward(const rnj__train_kern_t *k, float *logit,
                            const float *esum, const int *y, float scale,
                            size_t r, int n) {
  size_t i;
  for (i = 0; i < r; i++) {
    float *row = logit + i * (size_t)n;
    k->scale(n, row, scale / esum[i]);
    row[y[i]] -= scale;
  }
}

/* ---------------------------------------------------------------- mse_pp */

/* (p - y)^2 + 10 max(-p, 0) per column, in double. */
void rnj__train_mse_forward(double sums[2], const float *pred,
                            const float *y, size_t r) {
  size_t i;
  int q;
  for (i = 0; i < r; i++)
    for (q = 0; q < 2; q++) {
      float pr = pred[i * 2 + q];
      float d = pr - y[i * 2 + q];
      sums[q] += (double)d * d + RNJ_LOSS_NEG_PENALTY *
                                     (pr < 0 ? -(double)pr : 0.0);
    }
}

/* The penalty takes its gradient -10 at p <= 0, as TF's Maximum does at
 * the tie. */
void rnj__train_mse_backward(float *dpred, const float *pred,
                             const float *y, float scale, size_t r) {
  size_t i;
  int q;
  for (i = 0; i < r; i++)
    for (q = 0; q < 2; q++) {
      float pr = pred[i * 2 + q];
      float d = pr - y[i * 2 + q];
      dpred[i * 2 + q] =
          scale * (2.0f * d - (pr <= 0 ? (float)RNJ_LOSS_NEG_PENALTY : 0.0f));
    }
}
