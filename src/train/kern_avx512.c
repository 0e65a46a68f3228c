/* The AVX-512 kernel set (x86-64-v4): kern_body.h built for 512-bit
 * vectors, Adam's loop in intrinsics, and the trainer's own products
 * where OpenBLAS does badly: the LSTM's per-step products against the
 * recurrent kernel packed once per batch, and the recurrent kernel's
 * gradient over all steps at once.  The heads' products stay with
 * OpenBLAS.  Every product sums over k in order, so results are fixed.
 */
#include "kern.h"

#ifdef RNJ__TRAIN_X86_KERNELS
#pragma GCC push_options
#pragma GCC optimize("O3", "no-trapping-math") /* see kern_body.h */
#include "kern_body.h"

/* 512-bit vectors: GCC's tuning otherwise stays at 256 bits, which halves
 * the element-wise throughput on cores with full-width AVX-512. */
#define V4 __attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))

/* The per-step products, (rows, 128) x (128, 512) forward and
 * (rows, 512) x (512, 128) backward, against the recurrent kernel packed
 * once per batch into panels of 32 columns (rnj__train_pack_panels):
 * SGEMM repacks that 256 KB operand on every call, 48 times a batch, and
 * the share grows as threads shrink the rows per call.  One block of
 * MR <= 8 rows times a 32-column panel: 16 accumulators, per k two panel
 * loads and MR broadcasts.  The sum over k runs in order, so results are
 * fixed. */
V4 static inline __attribute__((always_inline)) void
panel_avx512(const int mr, int K, const float *A, size_t lda,
             const float *Bp, float *C, size_t ldc) {
  __m512 c0[8];
  __m512 c1[8];
  int r;
  int k;
  for (r = 0; r < mr; r++)
    c0[r] = c1[r] = _mm512_setzero_ps();
  for (k = 0; k < K; k++) {
    __m512 b0 = _mm512_load_ps(Bp + (size_t)k * 32);
    __m512 b1 = _mm512_load_ps(Bp + (size_t)k * 32 + 16);
    for (r = 0; r < mr; r++) {
      __m512 a = _mm512_set1_ps(A[(size_t)r * lda + (size_t)k]);
      c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
    }
  }
  for (r = 0; r < mr; r++) {
    _mm512_storeu_ps(C + (size_t)r * ldc, c0[r]);
    _mm512_storeu_ps(C + (size_t)r * ldc + 16, c1[r]);
  }
}

/* C (M, N) = A (M, K) B, B packed; N a multiple of 32.  Panel by panel,
 * so a panel (16 KB forward) stays in L1 across the row blocks. */
V4 static void gemm_packed_avx512(size_t M, int N, int K, const float *A,
                                  size_t lda, const float *Bp, float *C,
                                  size_t ldc) {
  int p;
  for (p = 0; p < N / 32; p++) {
    const float *bp = Bp + (size_t)p * (size_t)K * 32;
    float *cp = C + (size_t)p * 32;
    size_t m = 0;
    for (; m + 8 <= M; m += 8)
      panel_avx512(8, K, A + m * lda, lda, bp, cp + m * ldc, ldc);
    switch (M - m) {
#define TAIL(n)                                                              \
  case n:                                                                    \
    panel_avx512(n, K, A + m * lda, lda, bp, cp + m * ldc, ldc);             \
    break;
      TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7)
#undef TAIL
    default:
      break;
    }
  }
}

/* C (M, N) = A^T B for A (K, M) and B (K, N) row-major, M a multiple of 8
 * and N of 32: the recurrent kernel's gradient h^T dz over all steps at
 * once (K = (T - 1) rows).  Both operands are read row by row as they lie
 * (8 broadcasts from one row of A, two vectors of one row of B per k), so
 * nothing is packed.  K runs in chunks of KC rows, so that a chunk of B's
 * 32-column panel (16 KB) and of A's 8 columns stay in L1 while every row
 * block of C accumulates over them; C's tiles go through memory between
 * chunks.  The sum over k stays in order: results are fixed. */
#define KC 128
V4 static void gemm_tn_avx512(int M, int N, size_t K, const float *A,
                              size_t lda, const float *B, size_t ldb,
                              float *C, size_t ldc) {
  size_t k0;
  int i;
  int j;
  int r;
  for (k0 = 0; k0 < K; k0 += KC) {
    size_t k1 = K - k0 < KC ? K : k0 + KC;
    for (j = 0; j < N; j += 32)
      for (i = 0; i < M; i += 8) {
        __m512 c0[8];
        __m512 c1[8];
        size_t k;
        for (r = 0; r < 8; r++) {
          float *cr = C + (size_t)(i + r) * ldc + j;
          c0[r] = k0 ? _mm512_loadu_ps(cr) : _mm512_setzero_ps();
          c1[r] = k0 ? _mm512_loadu_ps(cr + 16) : _mm512_setzero_ps();
        }
        for (k = k0; k < k1; k++) {
          const float *a = A + k * lda + i;
          __m512 b0 = _mm512_loadu_ps(B + k * ldb + j);
          __m512 b1 = _mm512_loadu_ps(B + k * ldb + j + 16);
          for (r = 0; r < 8; r++) {
            __m512 ar = _mm512_set1_ps(a[r]);
            c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
          }
        }
        for (r = 0; r < 8; r++) {
          float *cr = C + (size_t)(i + r) * ldc + j;
          _mm512_storeu_ps(cr, c0[r]);
          _mm512_storeu_ps(cr + 16, c1[r]);
        }
      }
  }
}
#undef KC

V4 static void
adam_avx512(size_t n, float *p, float *m, float *v, const float *g,
            float lr_t, float b1, float b2, float eps) {
  ADAM_VEC(512, __m512, 16);
}

DEFINE_KERNELS(avx512, V4, gemm_packed_avx512, gemm_tn_avx512,
               RNJ_KERNEL_AVX512)

#pragma GCC pop_options
#endif
