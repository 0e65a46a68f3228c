/* The trainer's kernels: one table of functions per instruction set,
 * chosen once at init (rnj__train_kern_pick), so the layers call through
 * it and never test the CPU themselves.
 *
 * Three sets are built from the same source: "portable" (the baseline
 * x86-64 or whatever the compiler targets, no FMA), "avx2" (x86-64-v3:
 * AVX2 and FMA) and "avx512" (x86-64-v4, which also brings its own
 * products against packed panels).  The element-wise bodies are written
 * once in kern_body.h and instantiated per set (kern.c, kern_avx2.c,
 * kern_avx512.c).  A set fixes every bit of a result given the inputs,
 * whatever CPU runs it; two sets differ in rounding (FMA, and the order of
 * the products' sums).
 */
#ifndef RNNJAM_TRAIN_KERN_H
#define RNNJAM_TRAIN_KERN_H

#include <stddef.h>

#include "rnnjam/lstm.h"

/* The x86 sets need GCC's target attributes and optimize pragma. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RNJ__TRAIN_X86_KERNELS 1
#endif

typedef struct rnj__train_kern_s {
  const char *name;
  /* One time step of the LSTM cell for `rows` rows, fused with the input
   * projection x W + b (see kern_body.h). */
  void (*cell_forward)(size_t, float *, const float *, const float *,
                       const float *, const float *, float *, float *,
                       float *);
  void (*cell_backward)(size_t, float *, const float *, const float *,
                        const float *, const float *, float *, float *,
                        float *);
  /* A row of n logits: exp(row - max) in place, returns the sum. */
  float (*softmax_exp)(int n, float *row, float *max);
  /* row *= s over n. */
  void (*scale)(int n, float *row, float s);
  void (*adam)(size_t, float *, float *, float *, const float *, float,
               float, float, float);
  void (*add)(size_t, float *, const float *);
  /* C (M, N) = A (M, K) B with B packed by rnj__train_pack_panels; NULL:
   * SGEMM. */
  void (*gemm)(size_t M, int N, int K, const float *A, size_t lda,
               const float *Bp, float *C, size_t ldc);
  /* C (M, N) = A^T B, A (K, M), B (K, N); NULL: SGEMM. */
  void (*gemm_tn)(int M, int N, size_t K, const float *A, size_t lda,
                  const float *B, size_t ldb, float *C, size_t ldc);
  rnj_kernel_t id;
} rnj__train_kern_t;

extern const rnj__train_kern_t rnj__train_kern_portable;
#ifdef RNJ__TRAIN_X86_KERNELS
extern const rnj__train_kern_t rnj__train_kern_avx2;
extern const rnj__train_kern_t rnj__train_kern_avx512;
#endif

/* The kernels for `want` (RNJ_KERNEL_AUTO: the best the CPU has), or NULL
 * when the CPU (or this build) lacks them. */
const rnj__train_kern_t *rnj__train_kern_pick(rnj_kernel_t want);

/* Bp[p][k][c] = B[k][32 p + c] for B (K, N) with row stride ldb and column
 * stride cs (cs = 1: B itself; ldb = 1, cs = K: the transpose of a
 * (N, K) matrix); the layout the `gemm` kernel reads. */
void rnj__train_pack_panels(int K, int N, const float *B, size_t ldb,
                            size_t cs, float *Bp);

#endif
