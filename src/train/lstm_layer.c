/* The LSTM layer: forward and backward through time over a slice of
 * windows, Keras' LSTM with gates i, f, g, o along 4H.
 *
 * Where the time goes: three matrix products per time step and window
 * row, each 2 * 128 * 512 flops -- the gates' recurrent product forward
 * (h_{t-1} U), the gradient back into h (dz U^T) and the weight gradient
 * (h^T dz) -- about 10 MFLOP a window of 25.  The first two are one
 * product per step over the whole slice, (r, 128) x (128, 512); the third
 * is one product over all steps at once, K = (T - 1) r.  With the AVX-512
 * kernel set they run in our own kernels against U packed once per job
 * (OpenBLAS repacked it on every one of the 48 calls a batch and, on this
 * project's machines, is pinned to its AVX2 kernels); otherwise OpenBLAS
 * SGEMM.
 *
 * The input projection x W + b (K = 3) is fused into the element-wise
 * cell kernel instead of a GEMM of its own: that GEMM ran at a third of
 * peak and cost a pass over memory; the same goes for the input-weight
 * and bias gradients.  A model whose inputs are looked up rather than
 * multiplied (one-hot rows) brings its own input layer and a cell kernel
 * that adds its (r, 4H) input terms instead.
 *
 * Limits: the whole history of the slice is kept for backpropagation
 * (about 90 KB a window at 25 steps).
 */
#include <cblas.h>
#include <string.h>

#include "internal.h"

void rnj__train_lstm_pack(const rnj__train_kern_t *k, const float *u,
                          float *upf, float *upb) {
  if (!k->gemm)
    return;
  /* 2 x 256 KB, against ~600 MFLOP a batch. */
  rnj__train_pack_panels(H, G, u, G, 1, upf);
  rnj__train_pack_panels(G, H, u, 1, G, upb);
}

void rnj__train_lstm_forward(const rnj__train_kern_t *k, float *z, float *h,
                             float *c, float *tc, const float *x,
                             const float *w, const float *b, const float *u,
                             const float *upf, size_t r, int T) {
  int t;
  memset(h, 0, r * H * sizeof(float));
  memset(c, 0, r * H * sizeof(float));
  for (t = 0; t < T; t++) {
    float *zt = z + (size_t)t * r * G;
    if (t == 0)
      memset(zt, 0, r * G * sizeof(float)); /* h_0 = 0: no product */
    else if (k->gemm)
      k->gemm(r, G, H, h + (size_t)t * r * H, H, upf, zt, G);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, G, H,
                  1.0f, h + (size_t)t * r * H, H, u, G, 0.0f, zt, G);
    k->cell_forward(r, zt, x + (size_t)t * r * 3, w, b,
                    c + (size_t)t * r * H, c + (size_t)(t + 1) * r * H,
                    tc + (size_t)t * r * H, h + (size_t)(t + 1) * r * H);
  }
}

/* Step t's dz overwrites its activations, so afterwards z holds dz for
 * every step and one GEMM makes the recurrent kernel's gradient
 * sum_t h_{t-1}^T dz_t (h_0 = 0, so t = 0 drops out). */
void rnj__train_lstm_backward(const rnj__train_kern_t *k, float *dw,
                              float *db, float *du, float *dh, float *dc,
                              float *z, const float *h, const float *c,
                              const float *tc, const float *x,
                              const float *u, const float *upb, size_t r,
                              int T) {
  int t;
  memset(dc, 0, r * H * sizeof(float));
  memset(dw, 0, 3 * G * sizeof(float));
  memset(db, 0, G * sizeof(float));
  for (t = T - 1; t >= 0; t--) {
    float *zt = z + (size_t)t * r * G;
    k->cell_backward(r, zt, x + (size_t)t * r * 3, c + (size_t)t * r * H,
                     tc + (size_t)t * r * H, dh, dc, dw, db);
    if (t > 0 && k->gemm)
      k->gemm(r, H, G, zt, G, upb, dh, H);
    else if (t > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, H, G,
                  1.0f, zt, G, u, G, 0.0f, dh, H);
  }
  if (T > 1 && k->gemm_tn)
    k->gemm_tn(H, G, (size_t)(T - 1) * r, h + r * H, H, z + r * G, G, du,
               G);
  else if (T > 1)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, G,
                (int)((size_t)(T - 1) * r), 1.0f, h + r * H, H, z + r * G,
                G, 0.0f, du, G);
  else
    memset(du, 0, (size_t)H * G * sizeof(float));
}
