/* The library's replaceable allocator (libuv's uv_replace_allocator). */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "rnnjam/alloc.h"

static struct {
  rnj_malloc_func malloc_f;
  rnj_realloc_func realloc_f;
  rnj_calloc_func calloc_f;
  rnj_free_func free_f;
} allocator = {malloc, realloc, calloc, free};

int rnj_replace_allocator(rnj_malloc_func malloc_func,
                          rnj_realloc_func realloc_func,
                          rnj_calloc_func calloc_func,
                          rnj_free_func free_func) {
  if (!malloc_func || !realloc_func || !calloc_func || !free_func)
    return RNJ_EINVAL;
  allocator.malloc_f = malloc_func;
  allocator.realloc_f = realloc_func;
  allocator.calloc_f = calloc_func;
  allocator.free_f = free_func;
  return 0;
}

void *rnj__malloc(size_t size) {
  return size ? allocator.malloc_f(size) : NULL;
}

void *rnj__calloc(size_t count, size_t size) {
  return (count && size) ? allocator.calloc_f(count, size) : NULL;
}

void *rnj__realloc(void *ptr, size_t size) {
  return allocator.realloc_f(ptr, size);
}

void rnj__free(void *ptr) {
  /* free() may clobber errno on some libcs; callers report errno after
   * cleaning up, so keep it (the reason uv__free gives). */
  int saved = errno;
  allocator.free_f(ptr);
  errno = saved;
}
