/* rnnjam inspect: what a checkpoint holds. */
#include <getopt.h>
#include <math.h>

#include "tool.h"

static void help(FILE *f) {
  fprintf(f, "usage: rnnjam inspect [CKPT]\n\n"
             "Show a checkpoint's tensors (shape, count, min/max/mean/std),\n"
             "parameter count and metadata.  CKPT defaults to the installed\n"
             "model (or $RNNJAM_MODEL).\n");
}

int cmd_inspect(int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const rnj_tensor_info_t *t = rnj_model_tensors();
  const char *path;
  rnj_model_t model;
  size_t total = 0;
  int c;
  int i;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      help(stdout);
      return 0;
    }
    help(stderr);
    return EXIT_USAGE;
  }
  if (optind < argc - 1) {
    tool_error("inspect: expected one checkpoint");
    return EXIT_USAGE;
  }
  path = optind < argc ? argv[optind] : default_model_path();
  if (load_model(path, &model, NULL, RNJ_KERNEL_AUTO) < 0)
    return 1;

  printf("checkpoint: %s\n\n", path);
  printf("%-24s %-10s %8s %11s %11s %11s %11s\n", "tensor", "shape", "count",
         "min", "max", "mean", "std");
  for (i = 0; i < RNJ_MODEL_NTENSORS; i++) {
    const float *p = model.params + t[i].offset;
    double sum = 0;
    double sq = 0;
    double mn = p[0];
    double mx = p[0];
    double mean;
    char shape[32];
    size_t k;
    for (k = 0; k < t[i].count; k++) {
      sum += p[k];
      sq += (double)p[k] * p[k];
      mn = p[k] < mn ? p[k] : mn;
      mx = p[k] > mx ? p[k] : mx;
    }
    mean = sum / (double)t[i].count;
    if (t[i].ndim == 2)
      snprintf(shape, sizeof shape, "[%d,%d]", t[i].shape[0], t[i].shape[1]);
    else
      snprintf(shape, sizeof shape, "[%d]", t[i].shape[0]);
    printf("%-24s %-10s %8zu %11.5f %11.5f %11.5f %11.5f\n", t[i].name, shape,
           t[i].count, mn, mx, mean,
           sqrt(fmax(0.0, sq / (double)t[i].count - mean * mean)));
    total += t[i].count;
  }
  printf("\nparameters: %zu\n\nmetadata:\n", total);
  for (i = 0; i < model.n_meta; i++)
    printf("  %s: %s\n", model.meta[i].key, model.meta[i].value);
  rnj_model_free(&model);
  return 0;
}
