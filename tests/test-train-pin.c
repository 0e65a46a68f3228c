/* The trainer's bytes, pinned: the tutorial model trained on a fixed data
 * set must come out the same, bit for bit, as it did when the expected
 * values below were recorded.
 *
 * The expected hashes are not derived from anything here: they are what
 * the trainer produced when src/train.c was still one file, before it was
 * split into src/train/ (recorded from that code, in the commit that added
 * this test).  They are legitimate only as that record: a change that
 * alters them changes what the trainer computes, and must say why and
 * record new values in its own commit.
 *
 * What is hashed (FNV-1a 64), per kernel set and thread count: after
 * rnj_train_fit (two epochs, validation, checkpoints), the weights, Adam's
 * moments and the bytes of the checkpoint, the .last checkpoint and the
 * state file; the same after a run interrupted mid-epoch and resumed; and
 * the grad/step/batch/eval calls on their own.
 *
 * Bits depend on the machine only through OpenBLAS, whose DYNAMIC_ARCH
 * build picks its SGEMM kernels (and their order of sums) by CPU.  So the
 * test pins OpenBLAS to one generic x86-64 core, Prescott (SSE3), which any
 * x86-64 CPU runs: OpenBLAS reads OPENBLAS_CORETYPE once, when the library
 * is loaded, so the test re-executes itself with it set, then checks that
 * the core really is Prescott.  Prescott's blocking depends on the L2
 * size only along M (rows), which changes no sum.  The trainer's own
 * kernels are pure IEEE arithmetic in a fixed order (the "portable" set
 * has no FMA), so they give the same bits on any CPU that runs them; the
 * AVX2 and AVX-512 sets are pinned too and skipped, with a message, where
 * the CPU lacks them.  libm's log, pow, sin and cos pick an FMA variant on
 * CPUs that have FMA (every CPU with AVX2): the values assume one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rnnjam/ckpt.h"
#include "rnnjam/lstm.h"
#include "rnnjam/model.h"
#include "rnnjam/train.h"
#include "test.h"

#define NP RNJ_MODEL_NPARAMS
#define PIN_CORE "Prescott"
char *openblas_get_config(void);

/* ---------------------------------------------------------- expected */

enum { H_PARAMS, H_M, H_V, H_CKPT, H_LAST, H_STATE, H_API, N_HASH };
static const char *const hash_names[N_HASH] = {
    "params", "m", "v", "ckpt", "last", "state", "api"};

typedef struct {
  rnj_kernel_t kernel;
  int threads;
  uint64_t h[N_HASH];
} pin_t;

/* Recorded from the unsplit src/train.c (see the top of this file). */
static const pin_t expected[] = {
    {RNJ_KERNEL_PORTABLE, 1, {0xc17f79bfb2a51939ull,
         0xc5041ec58137129dull,
         0xa485fed85b456e3full,
         0x1a4d60eac2c76d55ull,
         0x1a4d60eac2c76d55ull,
         0xdabb4cffc06bee4aull,
         0x9f20ab2b99a2642bull}},
    {RNJ_KERNEL_PORTABLE, 2, {0xb44dacc27cb60a17ull,
         0x103ae12cc04e09abull,
         0x63eb03c3b99ed115ull,
         0x0656e3a46e590e80ull,
         0x0656e3a46e590e80ull,
         0x006c99f5957e7f30ull,
         0xdc6d5aa7e98a6a46ull}},
    {RNJ_KERNEL_AVX2, 1, {0x9be97be35016aff9ull,
         0x8162f3244ddd08fdull,
         0x54ae5cdb1ba27a19ull,
         0xe4b746d51766b6cdull,
         0xe4b746d51766b6cdull,
         0x5ee4f21c6881d7c0ull,
         0x176b90de90a8bf2bull}},
    {RNJ_KERNEL_AVX2, 2, {0x14f2ae6acd4a8190ull,
         0x3fe61468341a1375ull,
         0x61d2c05dac49e319ull,
         0xe18c30037ddd1ae7ull,
         0xe18c30037ddd1ae7ull,
         0xc7b6a2a939dbd874ull,
         0x5749805126f43de3ull}},
    {RNJ_KERNEL_AVX512, 1, {0x6920b4211f2b40a4ull,
         0x8849b34e06445590ull,
         0x04803dc5ca1cd12eull,
         0x9d9ad49a0250831full,
         0x9d9ad49a0250831full,
         0x7975857b1fbbbc16ull,
         0xbd4228c9f089cd94ull}},
    {RNJ_KERNEL_AVX512, 2, {0x2b5d3810f4a8afb3ull,
         0x5b889b5049b065ffull,
         0xbee72ea93d7970e6ull,
         0x0d48a877191e5c20ull,
         0x0d48a877191e5c20ull,
         0xd9920639e1731004ull,
         0x3abd20cb11fe10a3ull}},
};
#define N_PINS (sizeof expected / sizeof expected[0])

/* ----------------------------------------------------------- helpers */

#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static uint64_t hash_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t buf[65536];
  uint64_t h = FNV_INIT;
  size_t n;
  if (!f)
    FAIL("cannot open %s: %s", path, strerror(errno));
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    h = fnv1a(h, buf, n);
  ASSERT(!ferror(f));
  fclose(f);
  return h;
}

/* Six files of a melody on a scale, made with integer arithmetic only
 * (no libm, no float rounding that could differ): steps and durations
 * are multiples of 1/16 s, exact in binary. */
static void make_data(rnj_train_data_t *d) {
  static const int scale[7] = {0, 2, 4, 5, 7, 9, 11};
  uint64_t s = 12345;
  uint8_t p[200];
  float st[200];
  float du[200];
  char name[32];
  int f;
  rnj_train_data_init(d);
  for (f = 0; f < 6; f++) {
    int deg = 7;
    size_t n = 90 + (size_t)f * 11;
    size_t i;
    for (i = 0; i < n; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      deg += (s >> 63) ? 1 : -1;
      if (deg < 0)
        deg = 1;
      if (deg > 20)
        deg = 19;
      p[i] = (uint8_t)(48 + 12 * (deg / 7) + scale[deg % 7]);
      st[i] = (float)((s >> 40) & 7) / 16.0f;
      du[i] = (float)(1 + ((s >> 44) & 15)) / 16.0f;
    }
    snprintf(name, sizeof name, "pin-%d", f);
    ASSERT_OK(rnj_train_data_add_raw(d, p, st, du, n, name));
  }
}

static void config(rnj_train_config_t *c, rnj_kernel_t kernel, int threads) {
  rnj_train_config_default(c);
  c->epochs = 2;
  c->batch = 16;
  c->val_split = 0.25;
  c->threads = threads;
  c->kernel = kernel;
}

typedef struct {
  int stop_epoch;
  size_t stop_batch;
  volatile sig_atomic_t flag;
} stopper_t;

static void on_progress(const rnj_train_progress_t *p, void *arg) {
  stopper_t *s = arg;
  if (p->event == RNJ_TRAIN_EVENT_BATCH && p->epoch == s->stop_epoch &&
      p->batch == s->stop_batch)
    s->flag = 1;
}

/* One fit into `out` (interrupted after batch `stop_batch` of epoch
 * `stop_epoch` and resumed, when stop_epoch >= 0); hashes into h.
 * Returns 0, or RNJ_ENOSYS when the CPU lacks the kernels. */
static int run_fit(const rnj_train_config_t *cfg, const rnj_train_data_t *d,
                   const rnj_train_split_t *s, const char *out,
                   int stop_epoch, size_t stop_batch, uint64_t h[N_HASH]) {
  rnj_train_t tr;
  rnj_train_fit_t fit;
  rnj_train_result_t res;
  stopper_t stop;
  char last[RNJ_TRAIN_PATH_LEN];
  char state[RNJ_TRAIN_PATH_LEN];
  char err[RNJ_ERR_LEN];
  int rc;

  memset(&stop, 0, sizeof stop);
  stop.stop_epoch = stop_epoch;
  stop.stop_batch = stop_batch;
  memset(&fit, 0, sizeof fit);
  fit.out = out;
  fit.progress = on_progress;
  fit.arg = &stop;
  fit.stop = &stop.flag;
  rc = rnj_train_init(&tr, cfg, err);
  if (rc == RNJ_ENOSYS)
    return rc;
  if (rc)
    FAIL("rnj_train_init: %s", err);
  if (rnj_train_fit(&tr, d, s, &fit, &res, err))
    FAIL("rnj_train_fit: %s", err);
  if (stop_epoch >= 0) {
    ASSERT_EQ(res.status, RNJ_TRAIN_INTERRUPTED);
    rnj_train_free(&tr);
    ASSERT_OK(rnj_train_init(&tr, cfg, err));
    stop.stop_epoch = -1;
    stop.flag = 0;
    fit.resume = 1;
    if (rnj_train_fit(&tr, d, s, &fit, &res, err))
      FAIL("rnj_train_fit (resume): %s", err);
    ASSERT_EQ(res.resumed_epoch, stop_epoch);
    ASSERT_EQ(res.resumed_batch, stop_batch);
  }
  ASSERT_EQ(res.status, RNJ_TRAIN_DONE);
  ASSERT_EQ(res.epochs_done, cfg->epochs);
  ASSERT_OK(rnj_train_paths(out, last, state));
  h[H_PARAMS] = fnv1a(FNV_INIT, tr.model.params, NP * sizeof(float));
  h[H_M] = fnv1a(FNV_INIT, tr.m, NP * sizeof(float));
  h[H_V] = fnv1a(FNV_INIT, tr.v, NP * sizeof(float));
  h[H_CKPT] = hash_file(out);
  h[H_LAST] = hash_file(last);
  h[H_STATE] = hash_file(state);
  unlink(out);
  unlink(last);
  unlink(state);
  rnj_train_free(&tr);
  return 0;
}

/* The calls without the fit loop: grad, step, batch, eval. */
static uint64_t run_api(const rnj_train_config_t *cfg,
                        const rnj_train_data_t *d,
                        const rnj_train_split_t *s) {
  rnj_train_t tr;
  rnj_loss_t l[3];
  char err[RNJ_ERR_LEN];
  uint64_t h = FNV_INIT;
  ASSERT(s->n_train >= 32 && s->n_val > 0);
  if (rnj_train_init(&tr, cfg, err))
    FAIL("rnj_train_init: %s", err);
  ASSERT_OK(rnj_train_grad(&tr, d, s->train, 16, &l[0]));
  h = fnv1a(h, tr.grad, NP * sizeof(float));
  rnj_train_step(&tr);
  ASSERT_OK(rnj_train_batch(&tr, d, s->train + 16, 16, &l[1]));
  ASSERT_OK(rnj_train_eval(&tr, d, s->val, s->n_val, &l[2]));
  h = fnv1a(h, l, sizeof l);
  h = fnv1a(h, tr.model.params, NP * sizeof(float));
  h = fnv1a(h, tr.m, NP * sizeof(float));
  h = fnv1a(h, tr.v, NP * sizeof(float));
  h = fnv1a(h, &tr.step, sizeof tr.step);
  rnj_train_free(&tr);
  return h;
}

static const char *kernel_enum(rnj_kernel_t k) {
  return k == RNJ_KERNEL_PORTABLE ? "RNJ_KERNEL_PORTABLE"
         : k == RNJ_KERNEL_AVX2   ? "RNJ_KERNEL_AVX2"
                                  : "RNJ_KERNEL_AVX512";
}

/* As a line of `expected`, for recording. */
static void print_hashes(const pin_t *e, const uint64_t h[N_HASH]) {
  int i;
  printf("    {%s, %d, {", kernel_enum(e->kernel), e->threads);
  for (i = 0; i < N_HASH; i++)
    printf("%s0x%016llxull", i ? ",\n         " : "",
           (unsigned long long)h[i]);
  printf("}},\n");
}

/* ---------------------------------------------------------------- main */

/* OpenBLAS chose its core when it was loaded, before main: come back with
 * the core fixed in the environment. */
static void reexec_pinned(char **argv) {
  const char *ct = getenv("OPENBLAS_CORETYPE");
  if (ct && strcmp(ct, PIN_CORE) == 0)
    return;
  if (setenv("OPENBLAS_CORETYPE", PIN_CORE, 1))
    FAIL("setenv: %s", strerror(errno));
  execv("/proc/self/exe", argv);
  FAIL("cannot re-execute /proc/self/exe with OPENBLAS_CORETYPE=%s: %s",
       PIN_CORE, strerror(errno));
}

int main(int argc, char **argv) {
  rnj_train_data_t d;
  rnj_train_split_t s;
  char out[512];
  char err[RNJ_ERR_LEN];
  size_t i;
  int bad = 0;
  int ran = 0;

  (void)argc;
#if !defined(__x86_64__)
  SKIP("the recorded bytes are x86-64's (OpenBLAS core %s)", PIN_CORE);
#endif
  reexec_pinned(argv);
  printf("OpenBLAS: %s; core %s\n", openblas_get_config(), rnj_train_blas());
  if (!strstr(openblas_get_config(), "DYNAMIC_ARCH"))
    SKIP("this OpenBLAS is built for one CPU (no DYNAMIC_ARCH): its core "
         "cannot be pinned to %s", PIN_CORE);
  if (strcmp(rnj_train_blas(), PIN_CORE) != 0)
    FAIL("OPENBLAS_CORETYPE=%s gave core %s", PIN_CORE, rnj_train_blas());

  make_data(&d);
  if (rnj_train_split_init(&s, &d, RNJ_MODEL_SEQ_LENGTH, 0.25, 42, err))
    FAIL("split: %s", err);
  printf("data: %zu notes, %zu files; %zu training, %zu validation "
         "windows\n", d.n_notes, d.n_files, s.n_train, s.n_val);
  snprintf(out, sizeof out, "%s/test-train-pin-%ld.safetensors",
           test_tmp_dir(), (long)getpid());

  for (i = 0; i < N_PINS; i++) {
    const pin_t *e = &expected[i];
    rnj_train_config_t cfg;
    uint64_t h[N_HASH];
    uint64_t hr[N_HASH];
    int k;
    config(&cfg, e->kernel, e->threads);
    if (run_fit(&cfg, &d, &s, out, -1, 0, h) == RNJ_ENOSYS) {
      printf("%s kernels, %d thread(s): not pinned here: this CPU (or "
             "build) lacks them\n", rnj_kernel_name(e->kernel), e->threads);
      continue;
    }
    h[H_API] = run_api(&cfg, &d, &s);
    ran++;
    print_hashes(e, h);
    for (k = 0; k < N_HASH; k++)
      if (h[k] != e->h[k]) {
        fprintf(stderr, "FAIL: %s kernels, %d thread(s): %s hash "
                "%016llx, recorded %016llx\n", rnj_kernel_name(e->kernel),
                e->threads, hash_names[k], (unsigned long long)h[k],
                (unsigned long long)e->h[k]);
        bad++;
      }
    /* Interrupted in epoch 1 and resumed: the same bytes. */
    ASSERT_EQ(run_fit(&cfg, &d, &s, out, 0, 5, hr), 0);
    hr[H_API] = h[H_API];
    for (k = 0; k < N_HASH; k++)
      if (hr[k] != h[k]) {
        fprintf(stderr, "FAIL: %s kernels, %d thread(s): resumed run's %s "
                "hash %016llx, uninterrupted %016llx\n",
                rnj_kernel_name(e->kernel), e->threads, hash_names[k],
                (unsigned long long)hr[k], (unsigned long long)h[k]);
        bad++;
      }
  }
  rnj_train_split_free(&s);
  rnj_train_data_free(&d);
  ASSERT(ran >= 2); /* the portable set always runs */
  if (bad)
    FAIL("%d hash(es) differ from the recorded trainer's", bad);
  printf("%d kernel/thread configurations match the recorded bytes\n", ran);
  return 0;
}
