/* The AVX2 kernel set (x86-64-v3: AVX2 and FMA): kern_body.h built for
 * it, and Adam's loop spelt in 256-bit intrinsics.  Every product goes to
 * OpenBLAS, as in the portable set; what differs is the element-wise
 * work, eight lanes at a time and with FMA (which changes rounding).
 */
#include "kern.h"

#ifdef RNJ__TRAIN_X86_KERNELS
#pragma GCC push_options
#pragma GCC optimize("O3", "no-trapping-math") /* see kern_body.h */
#include "kern_body.h"

__attribute__((target("arch=x86-64-v3"))) static void
adam_avx2(size_t n, float *p, float *m, float *v, const float *g, float lr_t,
          float b1, float b2, float eps) {
  ADAM_VEC(256, __m256, 8);
}

DEFINE_KERNELS(avx2, __attribute__((target("arch=x86-64-v3"))), NULL, NULL,
               RNJ_KERNEL_AVX2)

#pragma GCC pop_options
#endif
