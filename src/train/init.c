/* Keras' initialisers: glorot-uniform kernels, an orthogonal recurrent
 * kernel, zero biases but the LSTM's forget gate at 1 (unit_forget_bias),
 * all drawn from the RNG stream of the initial weights, so the seed alone
 * fixes them.  The draws are in double and the orthogonalisation too;
 * only the results are rounded to float.
 *
 * Keras draws from TensorFlow's generators, which this does not mimic:
 * the distributions are Keras', the values are our own.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)), for a
 * (fan_in, fan_out) kernel. */
void rnj__train_glorot_uniform(rnj_rng_t *r, float *w, int fan_in,
                               int fan_out) {
  double limit = sqrt(6.0 / (double)(fan_in + fan_out));
  size_t i;
  for (i = 0; i < (size_t)fan_in * (size_t)fan_out; i++)
    w[i] = (float)((2.0 * rnj_rng_uniform(r) - 1.0) * limit);
}

/* Keras' Orthogonal for a (rows, cols) kernel with rows < cols: QR of a
 * (cols, rows) standard-normal matrix, Q's signs fixed so R's diagonal is
 * positive, transposed.  Gram-Schmidt gives that Q directly (its R has a
 * positive diagonal by construction); it is run twice over each column
 * ("twice is enough") in double, so the rows come out orthonormal to
 * rounding.  Row i of the result is the i-th Q column. */
int rnj__train_orthogonal(rnj_rng_t *r, float *w, int rows, int cols) {
  double *q = rnj__malloc((size_t)rows * (size_t)cols * sizeof *q);
  size_t n = (size_t)rows * (size_t)cols;
  size_t i;
  int a;
  int b;
  int pass;
  if (!q)
    return RNJ_ENOMEM;
  for (i = 0; i < n; i += 2) {
    /* Box-Muller, both values; 1 - u keeps log's argument > 0. */
    double u1 = 1.0 - rnj_rng_uniform(r);
    double u2 = rnj_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    q[i] = rad * cos(2.0 * M_PI * u2);
    if (i + 1 < n)
      q[i + 1] = rad * sin(2.0 * M_PI * u2);
  }
  /* q holds the (cols, rows) matrix column by column: column a is the
   * `cols` values q[a * cols ...]. */
  for (a = 0; a < rows; a++) {
    double *va = q + (size_t)a * (size_t)cols;
    double norm = 0;
    for (pass = 0; pass < 2; pass++)
      for (b = 0; b < a; b++) {
        const double *vb = q + (size_t)b * (size_t)cols;
        double dot = 0;
        int k;
        for (k = 0; k < cols; k++)
          dot += va[k] * vb[k];
        for (k = 0; k < cols; k++)
          va[k] -= dot * vb[k];
      }
    for (b = 0; b < cols; b++)
      norm += va[b] * va[b];
    norm = sqrt(norm);
    for (b = 0; b < cols; b++) {
      va[b] /= norm; /* later columns project on the unit vector */
      w[(size_t)a * (size_t)cols + (size_t)b] = (float)va[b];
    }
  }
  rnj__free(q);
  return 0;
}

int rnj__train_keras_init(rnj_model_t *m, uint64_t seed) {
  rnj_rng_t r;
  int j;
  int rc;
  rnj__train_rng_seed(&r, seed, RNJ__TRAIN_STREAM_INIT);
  memset(m->params, 0, RNJ_MODEL_NPARAMS * sizeof(float));
  rnj__train_glorot_uniform(&r, m->kernel, RNJ_MODEL_INPUT, G);
  rc = rnj__train_orthogonal(&r, m->recurrent_kernel, H, G);
  if (rc)
    return rc;
  for (j = 0; j < H; j++)
    m->bias[H + j] = 1.0f; /* unit_forget_bias */
  rnj__train_glorot_uniform(&r, m->pitch_kernel, H, P);
  rnj__train_glorot_uniform(&r, m->step_kernel, H, 1);
  rnj__train_glorot_uniform(&r, m->duration_kernel, H, 1);
  return 0;
}

