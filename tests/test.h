/* Tiny assertion helpers for the tests (libuv's task.h, in spirit).
 *
 * They stay active under NDEBUG, print file, line and both values, and exit
 * with automake's codes: 0 pass, 77 skip, 99 hard error, 1 failure.
 */
#ifndef RNNJAM_TEST_H
#define RNNJAM_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP 77
#define TEST_HARD_ERROR 99

#define FAIL(...)                                                             \
  do {                                                                        \
    fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                     \
    fprintf(stderr, __VA_ARGS__);                                             \
    fputc('\n', stderr);                                                      \
    exit(1);                                                                  \
  } while (0)

#define SKIP(...)                                                             \
  do {                                                                        \
    printf("SKIP: ");                                                         \
    printf(__VA_ARGS__);                                                      \
    putchar('\n');                                                            \
    exit(TEST_SKIP);                                                          \
  } while (0)

#define ASSERT(expr)                                                          \
  do {                                                                        \
    if (!(expr))                                                              \
      FAIL("assertion failed: %s", #expr);                                    \
  } while (0)

#define ASSERT_EQ(a, b)                                                       \
  do {                                                                        \
    long long a_ = (long long)(a);                                            \
    long long b_ = (long long)(b);                                            \
    if (a_ != b_)                                                             \
      FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);                         \
  } while (0)

#define ASSERT_NE(a, b)                                                       \
  do {                                                                        \
    long long a_ = (long long)(a);                                            \
    long long b_ = (long long)(b);                                            \
    if (a_ == b_)                                                             \
      FAIL("%s != %s: both %lld", #a, #b, a_);                                \
  } while (0)

/* A call returning 0 or a negative code; `err` is printed when set. */
#define ASSERT_OK(expr)                                                       \
  do {                                                                        \
    int rc_ = (expr);                                                         \
    if (rc_ != 0)                                                             \
      FAIL("%s returned %d", #expr, rc_);                                     \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                   \
  do {                                                                        \
    const char *a_ = (a);                                                     \
    const char *b_ = (b);                                                     \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                    \
      FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",          \
           b_ ? b_ : "(null)");                                               \
  } while (0)

/* `hay` contains `needle`. */
#define ASSERT_CONTAINS(hay, needle)                                          \
  do {                                                                        \
    const char *h_ = (hay);                                                   \
    const char *n_ = (needle);                                                \
    if (!h_ || !strstr(h_, n_))                                               \
      FAIL("%s contains \"%s\": got \"%s\"", #hay, n_, h_ ? h_ : "(null)");   \
  } while (0)

/* |a - b| <= tol */
#define ASSERT_NEAR(a, b, tol)                                                \
  do {                                                                        \
    double a_ = (double)(a);                                                  \
    double b_ = (double)(b);                                                  \
    if (!(fabs(a_ - b_) <= (double)(tol)))                                    \
      FAIL("%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_,                 \
           (double)(tol));                                                    \
  } while (0)

/* relative error |a - b| / max(|b|, floor) <= tol */
#define ASSERT_REL(a, b, tol, floor)                                          \
  do {                                                                        \
    double a_ = (double)(a);                                                  \
    double b_ = (double)(b);                                                  \
    double d_ = fabs(b_) > (floor) ? fabs(b_) : (floor);                      \
    if (!(fabs(a_ - b_) / d_ <= (double)(tol)))                               \
      FAIL("%s ~= %s: %.9g vs %.9g (rel %.3g > %g)", #a, #b, a_, b_,          \
           fabs(a_ - b_) / d_, (double)(tol));                                \
  } while (0)

/* Where the test fixtures are: $RNJ_TEST_DATA (set by make check) or
 * tests/data relative to the current directory. */
static inline const char *test_data_dir(void) {
  const char *d = getenv("RNJ_TEST_DATA");
  return d && *d ? d : "tests/data";
}

/* The shared real-MIDI corpus, or NULL when it is absent (then tests that
 * need it SKIP).  $RNJ_MIDI_CORPUS is set by make check. */
static inline const char *test_corpus_dir(void) {
  const char *d = getenv("RNJ_MIDI_CORPUS");
  FILE *f;
  char probe[4096];
  if (!d || !*d)
    return NULL;
  snprintf(probe, sizeof probe, "%s/SOURCES.md", d);
  f = fopen(probe, "r");
  if (!f)
    return NULL;
  fclose(f);
  return d;
}

/* A scratch directory for files a test writes: $TMPDIR or /tmp. */
static inline const char *test_tmp_dir(void) {
  const char *d = getenv("TMPDIR");
  return d && *d ? d : "/tmp";
}

#endif
