/* rnnjam bench --train: the trainer's throughput in windows per second.
 *
 * The data's windows are shuffled once and cycled through in full batches
 * (forward, backward and Adam, exactly what rnnjam-train does per batch),
 * first for a warm-up, then timed, at each thread count asked for.  No
 * validation, checkpoints or files: only the arithmetic is measured.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

/* Forward and backward of one window of 25 notes, counted from the
 * products (multiply-add = 2 FLOP); the element-wise work is left out. */
#define MFLOP_PER_WINDOW 9.83

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

int bench_train(char *const *args, int nargs, const int *threads,
                int nthreads, long batches, rnj_kernel_t kernel, int json) {
  char err[RNJ_ERR_LEN];
  rnj_train_data_t data;
  rnj_train_split_t split;
  rnj_train_config_t cfg;
  uint32_t *order = NULL;
  uint32_t *batch = NULL;
  double wps[16];
  char kernels[16][32];
  int rc = 1;
  int t;

  rnj_train_data_init(&data);
  memset(&split, 0, sizeof split);
  if (load_data(&data, args, nargs) < 0)
    goto done;
  rnj_train_config_default(&cfg);
  if (rnj_train_split_init(&split, &data, cfg.seq_length, 0.0, cfg.seed,
                           err) < 0) {
    tool_error("bench --train: %s", err);
    goto done;
  }
  order = malloc(split.n_train * sizeof *order);
  batch = malloc((size_t)cfg.batch * sizeof *batch);
  if (!order || !batch) {
    tool_error("out of memory");
    goto done;
  }
  rnj_train_split_shuffle(&split, cfg.seed, 0, order);

  for (t = 0; t < nthreads; t++) {
    rnj_train_t tr;
    size_t next = 0;
    double t0 = 0;
    long b;
    memset(&tr, 0, sizeof tr);
    cfg.threads = threads[t];
    cfg.kernel = kernel;
    if (rnj_train_init(&tr, &cfg, err) < 0) {
      tool_error("bench --train: %s", err);
      rnj_train_free(&tr);
      goto done;
    }
    for (b = -batches / 10 - 2; b < batches; b++) {
      int k;
      if (b == 0)
        t0 = now_s();
      /* cycle through the windows so small data still fills batches */
      for (k = 0; k < cfg.batch; k++) {
        batch[k] = order[next];
        next = (next + 1) % split.n_train;
      }
      if (rnj_train_batch(&tr, &data, batch, (size_t)cfg.batch, NULL) < 0) {
        tool_error("bench --train: a batch failed");
        rnj_train_free(&tr);
        goto done;
      }
    }
    wps[t] = (double)batches * cfg.batch / (now_s() - t0);
    snprintf(kernels[t], sizeof kernels[t], "%s", rnj_train_kernels(&tr));
    rnj_train_free(&tr);
  }

  if (json) {
    printf("{\"train_windows\": %zu, \"batch\": %d, \"batches\": %ld, "
           "\"blas\": \"%s\", \"results\": [",
           split.n_train, cfg.batch, batches, rnj_train_blas());
    for (t = 0; t < nthreads; t++)
      printf("%s{\"threads\": %d, \"kernels\": \"%s\", "
             "\"windows_per_s\": %.0f, \"gflops\": %.1f}",
             t ? ", " : "", threads[t], kernels[t], wps[t],
             wps[t] * MFLOP_PER_WINDOW / 1e3);
    printf("]}\n");
  } else {
    printf("training: %zu windows, batch %d, %ld timed batches, BLAS %s\n",
           split.n_train, cfg.batch, batches, rnj_train_blas());
    for (t = 0; t < nthreads; t++)
      printf("  %d thread%s (%s): %.0f windows/s, %.1f GFLOP/s%s\n",
             threads[t], threads[t] == 1 ? " " : "s", kernels[t], wps[t],
             wps[t] * MFLOP_PER_WINDOW / 1e3, "");
    if (nthreads > 1)
      printf("  speed-up %d -> %d threads: %.2fx\n", threads[0],
             threads[nthreads - 1], wps[nthreads - 1] / wps[0]);
  }
  rc = 0;

done:
  free(order);
  free(batch);
  rnj_train_split_free(&split);
  rnj_train_data_free(&data);
  return rc;
}
