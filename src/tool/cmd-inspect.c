/* rnnjam inspect: what a checkpoint holds. */
#include <getopt.h>
#include <math.h>
#include <string.h>

#include "tool.h"

static void help(FILE *f) {
  fprintf(f, "usage: rnnjam inspect [CKPT]\n\n"
             "Show a checkpoint's kind, size, tensors (shape, count,\n"
             "min/max/mean/std), parameter count and metadata.  CKPT\n"
             "defaults to the installed model (or $RNNJAM_MODEL).\n");
}

/* What the kind means, in a few lines. */
static void describe(const rnj_model_t *m) {
  printf("kind: %s%s, hidden %d, window %d notes\n",
         rnj_model_format(m->kind),
         m->kind == RNJ_MODEL_TUTORIAL ? " (the tutorial's)" : "",
         m->hidden, m->seq_length);
  if (m->kind == RNJ_MODEL_V2) {
    printf("time: beats, %d phases per beat\n", RNJ_ENCODING_PHASES);
    printf("heads: pitch %d, step %d bins (%g..%g beats, then over 4: "
           "%g), duration %d bins (%g..%g, then %g..%g), velocity %d "
           "bins\n",
           RNJ_ENCODING_PITCHES, RNJ_ENCODING_STEP_BINS,
           rnj_encoding_step_centre(0), rnj_encoding_step_centre(96),
           rnj_encoding_step_centre(97), RNJ_ENCODING_DURATION_BINS,
           rnj_encoding_duration_centre(0), rnj_encoding_duration_centre(95),
           rnj_encoding_duration_centre(96),
           rnj_encoding_duration_centre(101), RNJ_ENCODING_VELOCITY_BINS);
  } else {
    printf("time: seconds\nheads: pitch %d, step and duration as seconds "
           "(regression)\n", RNJ_MODEL_PITCHES);
  }
}

/* A metadata value, shortened when it is a long list (the bins). */
static void print_meta(const rnj_model_meta_t *m) {
  size_t n = strlen(m->value);
  if (n <= 72) {
    printf("  %s: %s\n", m->key, m->value);
    return;
  }
  printf("  %s: %.60s... (%zu bytes)\n", m->key, m->value, n);
}

int cmd_inspect(int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const rnj_tensor_info_t *t;
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
  if (load_model(path, &model) < 0)
    return 1;

  t = model.tensors;
  printf("checkpoint: %s\n", path);
  describe(&model);
  printf("\n");
  printf("%-24s %-10s %8s %11s %11s %11s %11s\n", "tensor", "shape", "count",
         "min", "max", "mean", "std");
  for (i = 0; i < model.ntensors; i++) {
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
    print_meta(&model.meta[i]);
  rnj_model_free(&model);
  return 0;
}
