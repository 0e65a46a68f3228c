/* The portable kernel set, and the choice of a set by CPU.
 *
 * "portable" is kern_body.h built for the compiler's baseline target (on
 * x86-64, SSE2 without FMA): every product goes to OpenBLAS.  The choice
 * is made once per trainer; asking for a set the CPU lacks is refused
 * rather than run into an illegal instruction.  rnj__train_pack_panels
 * lays the recurrent kernel out for the AVX-512 set's products.
 */
#include "kern.h"

#pragma GCC push_options
#pragma GCC optimize("O3", "no-trapping-math") /* see kern_body.h */
#include "kern_body.h"

static void adam_portable(size_t n, float *p, float *m, float *v,
                          const float *g, float lr_t, float b1, float b2,
                          float eps) {
  adam_body(n, p, m, v, g, lr_t, b1, b2, eps);
}

DEFINE_KERNELS(portable, , NULL, NULL, RNJ_KERNEL_PORTABLE)

#pragma GCC pop_options

static int cpu_has(rnj_kernel_t k) {
#ifdef RNJ__TRAIN_X86_KERNELS
  __builtin_cpu_init();
  if (k == RNJ_KERNEL_AVX512)
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq");
  if (k == RNJ_KERNEL_AVX2)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return k == RNJ_KERNEL_PORTABLE;
}

const rnj__train_kern_t *rnj__train_kern_pick(rnj_kernel_t want) {
  if (want == RNJ_KERNEL_AUTO)
    want = cpu_has(RNJ_KERNEL_AVX512) ? RNJ_KERNEL_AVX512
           : cpu_has(RNJ_KERNEL_AVX2) ? RNJ_KERNEL_AVX2
                                      : RNJ_KERNEL_PORTABLE;
  if (!cpu_has(want))
    return NULL;
#ifdef RNJ__TRAIN_X86_KERNELS
  if (want == RNJ_KERNEL_AVX512)
    return &rnj__train_kern_avx512;
  if (want == RNJ_KERNEL_AVX2)
    return &rnj__train_kern_avx2;
#endif
  return &rnj__train_kern_portable;
}

void rnj__train_pack_panels(int K, int N, const float *B, size_t ldb,
                            size_t cs, float *Bp) {
  int p;
  int k;
  int c;
  for (p = 0; p < N / 32; p++)
    for (k = 0; k < K; k++)
      for (c = 0; c < 32; c++)
        *Bp++ = B[(size_t)k * ldb + (size_t)(p * 32 + c) * cs];
}
