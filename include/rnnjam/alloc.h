/* The library's allocator.
 *
 * All allocation in librnnjam goes through one set of function pointers, so
 * a test can swap in a counting allocator and prove that real-time paths
 * (rnj_lstm_step, the sampler, MIDI handlers) allocate nothing.
 */
#ifndef RNNJAM_ALLOC_H
#define RNNJAM_ALLOC_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*rnj_malloc_func)(size_t size);
typedef void *(*rnj_realloc_func)(void *ptr, size_t size);
typedef void *(*rnj_calloc_func)(size_t count, size_t size);
typedef void (*rnj_free_func)(void *ptr);

/* Replace the allocator.  Call before any other library call, or only when
 * no memory from the previous allocator is still held (as libuv requires of
 * uv_replace_allocator).  Returns 0, or RNJ_EINVAL if any pointer is NULL. */
RNJ_EXTERN int rnj_replace_allocator(rnj_malloc_func malloc_func,
                                     rnj_realloc_func realloc_func,
                                     rnj_calloc_func calloc_func,
                                     rnj_free_func free_func);

#ifdef __cplusplus
}
#endif
#endif
