/* rnnjam bench --train: the trainer's throughput in windows per second,
 * for each arch (v2, then the tutorial's) at each thread count asked for.
 *
 * The data's windows are shuffled once and cycled through in full batches
 * (forward, backward, clipping and Adam, exactly what rnnjam-train does
 * per batch, v2's transpositions included), first for a warm-up, then
 * timed.  No validation, checkpoints or files: only the arithmetic is
 * measured.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

/* Forward and backward of one window, counted from the products
 * (multiply-add = 2 FLOP): per step three of (H) x (H, 4H) -- h U, dz U^T
 * and U's gradient -- and three of the heads' (H) x (H, n) on the last;
 * the element-wise work and v2's row lookups are left out (the
 * tutorial's regressions too).  At T = 25, H = 128: 9.93 MFLOP for the
 * tutorial, 10.11 for v2. */
static double mflop_per_window(const rnj_train_config_t *c) {
  double h = c->hidden;
  double heads = c->arch == RNJ_MODEL_V2 ? 128 + 98 + 102 + 32 : 128;
  return (6.0 * c->seq_length * h * 4 * h + 6.0 * h * heads) / 1e6;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_data(rnj_train_data_t *data, char *const *args, int nargs) {
  char err[RNJ_ERR_LEN];
  rnj_files_t files;
  rnj_notes_t notes;
  size_t i;
  size_t skipped = 0;
  int rc = 0;

  rnj_files_init(&files);
  rnj_notes_init(&notes);
  if (rnj_files_collect(&files, args, nargs, err) < 0) {
    tool_error("%s", err);
    return -1;
  }
  for (i = 0; i < files.n && rc == 0; i++) {
    if (rnj_notes_from_file(&notes, files.paths[i], RNJ_NOTES_ALL_INSTRUMENTS,
                            err) < 0) {
      skipped++;
      continue;
    }
    if (rnj_train_data_add(data, &notes, files.paths[i]) < 0) {
      tool_error("out of memory");
      rc = -1;
    }
  }
  if (skipped)
    fprintf(stderr, "rnnjam: skipped %zu unreadable file(s)\n", skipped);
  rnj_notes_free(&notes);
  rnj_files_free(&files);
  return rc;
}

/* Windows per second of `cfg` on `data` at each thread count. */
static int bench_arch(rnj_train_config_t *cfg, const rnj_train_data_t *data,
                      const uint32_t *order, size_t n_order,
                      const int *threads, int nthreads, long batches,
                      rnj_kernel_t kernel, double *wps,
                      char kernels[][32]) {
  char err[RNJ_ERR_LEN];
  uint32_t *batch = malloc((size_t)cfg->batch * sizeof *batch);
  int8_t *shifts = malloc((size_t)cfg->batch);
  int t;
  if (!batch || !shifts) {
    tool_error("out of memory");
    free(batch);
    free(shifts);
    return -1;
  }
  for (t = 0; t < nthreads; t++) {
    rnj_train_t tr;
    size_t next = 0;
    double t0 = 0;
    long b;
    int rc;
    memset(&tr, 0, sizeof tr);
    cfg->threads = threads[t];
    cfg->kernel = kernel;
    if (rnj_train_init(&tr, cfg, err) < 0) {
      tool_error("bench --train: %s", err);
      rnj_train_free(&tr);
      free(batch);
      free(shifts);
      return -1;
    }
    for (b = -batches / 10 - 2; b < batches; b++) {
      int k;
      if (b == 0)
        t0 = now_s();
      /* cycle through the windows so small data still fills batches */
      for (k = 0; k < cfg->batch; k++) {
        batch[k] = order[next];
        next = (next + 1) % n_order;
      }
      if (cfg->arch == RNJ_MODEL_V2) {
        for (k = 0; k < cfg->batch; k++)
          shifts[k] = (int8_t)rnj_train_shift(&tr, data, batch[k], 0);
        rc = rnj_train_batch_shifted(&tr, data, batch, shifts,
                                     (size_t)cfg->batch, NULL);
      } else {
        rc = rnj_train_batch(&tr, data, batch, (size_t)cfg->batch, NULL);
      }
      if (rc < 0) {
        tool_error("bench --train: a batch failed");
        rnj_train_free(&tr);
        free(batch);
        free(shifts);
        return -1;
      }
    }
    wps[t] = (double)batches * cfg->batch / (now_s() - t0);
    snprintf(kernels[t], 32, "%s", rnj_train_kernels(&tr));
    rnj_train_free(&tr);
  }
  free(batch);
  free(shifts);
  return 0;
}

int bench_train(char *const *args, int nargs, const int *threads,
                int nthreads, long batches, rnj_kernel_t kernel, int json) {
  char err[RNJ_ERR_LEN];
  rnj_train_data_t data;
  rnj_train_split_t split;
  rnj_train_config_t cfg[2];
  static const char *const names[2] = {"v2", "tutorial"};
  uint32_t *order = NULL;
  double wps[2][16];
  char kernels[2][16][32];
  int rc = 1;
  int a;
  int t;

  rnj_train_data_init(&data);
  memset(&split, 0, sizeof split);
  if (load_data(&data, args, nargs) < 0)
    goto done;
  rnj_train_config_v2(&cfg[0]);
  rnj_train_config_default(&cfg[1]);
  if (rnj_train_split_init(&split, &data, cfg[0].seq_length, 0.0,
                           cfg[0].seed, err) < 0) {
    tool_error("bench --train: %s", err);
    goto done;
  }
  order = malloc(split.n_train * sizeof *order);
  if (!order) {
    tool_error("out of memory");
    goto done;
  }
  rnj_train_split_shuffle(&split, cfg[0].seed, 0, order);
  for (a = 0; a < 2; a++)
    if (bench_arch(&cfg[a], &data, order, split.n_train, threads, nthreads,
                   batches, kernel, wps[a], kernels[a]) < 0)
      goto done;

  if (json) {
    printf("{\"train_windows\": %zu, \"batch\": %d, \"batches\": %ld, "
           "\"blas\": \"%s\", \"results\": [",
           split.n_train, cfg[0].batch, batches, rnj_train_blas());
    for (a = 0; a < 2; a++)
      for (t = 0; t < nthreads; t++)
        printf("%s{\"arch\": \"%s\", \"hidden\": %d, \"threads\": %d, "
               "\"kernels\": \"%s\", \"windows_per_s\": %.0f, "
               "\"gflops\": %.1f}",
               a || t ? ", " : "", names[a], cfg[a].hidden, threads[t],
               kernels[a][t], wps[a][t],
               wps[a][t] * mflop_per_window(&cfg[a]) / 1e3);
    printf("]}\n");
  } else {
    printf("training: %zu windows, batch %d, %ld timed batches, BLAS %s\n",
           split.n_train, cfg[0].batch, batches, rnj_train_blas());
    for (a = 0; a < 2; a++) {
      printf("  %s (hidden %d, %.2f MFLOP a window):\n", names[a],
             cfg[a].hidden, mflop_per_window(&cfg[a]));
      for (t = 0; t < nthreads; t++)
        printf("    %d thread%s (%s): %.0f windows/s, %.1f GFLOP/s\n",
               threads[t], threads[t] == 1 ? " " : "s", kernels[a][t],
               wps[a][t], wps[a][t] * mflop_per_window(&cfg[a]) / 1e3);
      if (nthreads > 1)
        printf("    speed-up %d -> %d threads: %.2fx\n", threads[0],
               threads[nthreads - 1], wps[a][nthreads - 1] / wps[a][0]);
    }
  }
  rc = 0;

done:
  free(order);
  rnj_train_split_free(&split);
  rnj_train_data_free(&data);
  return rc;
}
