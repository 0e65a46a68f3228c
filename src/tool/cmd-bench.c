/* rnnjam bench: how fast the model runs here.
 *
 * Stream step: one LSTM step on the previous note, the heads and the
 * sampler (for a v2 model all four heads and four draws, timing at the
 * daemon's default time temperature), i.e. all the daemon does to answer
 * one note; each of >= 100,000
 * steps is timed on its own after a warm-up, on one thread pinned to the
 * CPU it started on, so p99 shows the tail a musician would hear.
 * Window: seq_length steps from a zero state plus the heads (the tutorial's
 * generation).  Figures are medians and percentiles, never asserted: this
 * machine is shared and noisy.
 */
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  double p50, p90, p99, p999, max, mean;
} stats_t;

static stats_t summarize(double *v, size_t n) {
  stats_t s;
  double sum = 0;
  size_t i;
  qsort(v, n, sizeof *v, cmp_double);
  for (i = 0; i < n; i++)
    sum += v[i];
  s.p50 = v[n / 2];
  s.p90 = v[(size_t)((double)n * 0.90)];
  s.p99 = v[(size_t)((double)n * 0.99)];
  s.p999 = v[(size_t)((double)n * 0.999)];
  s.max = v[n - 1];
  s.mean = sum / (double)n;
  return s;
}

/* A model of `kind` with weights the size of a trained one's: uniform,
 * the recurrent ones scaled by 1/sqrt(H) as Keras initialises them.  The
 * same weights every run. */
static int random_net(int kind, int hidden, rnj_kernel_t kernel,
                      rnj_net_t **net) {
  rnj_model_t m;
  rnj_rng_t rng;
  int rc;
  int t;
  if (kind == RNJ_MODEL_TUTORIAL)
    hidden = RNJ_MODEL_HIDDEN;
  if (rnj_model_init_kind(&m, kind, hidden) < 0) {
    tool_error("--hidden %d: expected a multiple of 16 in %d..%d", hidden,
               RNJ_MODEL_V2_HIDDEN_MIN, RNJ_MODEL_V2_HIDDEN_MAX);
    return -1;
  }
  rnj_rng_seed(&rng, 12345);
  for (t = 0; t < m.ntensors; t++) {
    const rnj_tensor_info_t *e = &m.tensors[t];
    double scale = t == 1 ? 1.4 / sqrt((double)hidden) : 0.4;
    size_t i;
    for (i = 0; i < e->count; i++)
      m.params[e->offset + i] =
          (float)((2 * rnj_rng_uniform(&rng) - 1) * scale);
  }
  rc = rnj_net_new(net, &m, kernel);
  rnj_model_free(&m);
  if (rc < 0) {
    tool_error("bench: cannot build the model: %s", rnj_strerror(rc));
    return -1;
  }
  return 0;
}

static void help(FILE *f) {
  fprintf(f,
          "usage: rnnjam bench [CKPT | --arch tutorial|v2 [--hidden N]]\n"
          "                    [--steps N] [--windows N] [--kernel K] "
          "[--json]\n\n"
          "Measure one stream step (LSTM step + heads + sampling) and one\n"
          "window of seq_length notes, on one thread.  CKPT defaults to the\n"
          "installed model.\n\n"
          "  --arch A      no checkpoint: a model of kind A (tutorial or v2)\n"
          "                with random weights of a trained model's size\n"
          "  --hidden N    its hidden size (v2: 16..512, a multiple of 16;\n"
          "                default 128)\n"
          "  --steps N     timed stream steps (default 200000, at least "
          "100000)\n"
          "  --windows N   timed windows (default 5000)\n"
          "  --kernel K    auto|portable|avx2|avx512|avx512-f16 (v2 only)\n"
          "  --json        one JSON object for machines\n\n"
          "       rnnjam bench --train DATA... [--threads 1,2] "
          "[--batches N]\n\n"
          "Measure the trainer: forward, backward and Adam over full\n"
          "batches of 64 windows from DATA (MIDI files or folders), in\n"
          "windows per second, at each thread count listed (default 1,2).\n");
}

int cmd_bench(int argc, char **argv) {
  enum { O_STEPS = 256, O_WINDOWS, O_KERNEL, O_JSON, O_TRAIN, O_THREADS,
         O_BATCHES, O_ARCH, O_HIDDEN };
  static const struct option opts[] = {
      {"steps", required_argument, 0, O_STEPS},
      {"windows", required_argument, 0, O_WINDOWS},
      {"kernel", required_argument, 0, O_KERNEL},
      {"json", no_argument, 0, O_JSON},
      {"train", no_argument, 0, O_TRAIN},
      {"threads", required_argument, 0, O_THREADS},
      {"batches", required_argument, 0, O_BATCHES},
      {"arch", required_argument, 0, O_ARCH},
      {"hidden", required_argument, 0, O_HIDDEN},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  long steps = 200000;
  long nwin = 5000;
  rnj_kernel_t kernel = RNJ_KERNEL_AUTO;
  int json = 0;
  int train = 0;
  int threads[16] = {1, 2};
  int nthreads = 2;
  long batches = 300;
  const char *ckpt;
  char label[32];
  int arch = 0;
  long hidden = RNJ_MODEL_V2_HIDDEN;
  rnj_net_t *net = NULL;
  rnj_net_state_t state;
  rnj_net_dist_t y;
  rnj_net_note_t note;
  rnj_sampler_t sampler;
  double *t = NULL;
  rnj_net_note_t *win = NULL;
  stats_t st;
  stats_t sw;
  double t0;
  double notes_per_s_stream;
  double notes_per_s_window;
  double tmax;
  int seq;
  int cpu;
  int rc = 1;
  int c;
  long i;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_STEPS:
      if (parse_int("--steps", optarg, 100000, 100000000, &steps) < 0)
        return EXIT_USAGE;
      break;
    case O_WINDOWS:
      if (parse_int("--windows", optarg, 100, 10000000, &nwin) < 0)
        return EXIT_USAGE;
      break;
    case O_KERNEL:
      if (parse_kernel(optarg, &kernel) < 0)
        return EXIT_USAGE;
      break;
    case O_JSON: json = 1; break;
    case O_TRAIN: train = 1; break;
    case O_THREADS: {
      char *tok = strtok(optarg, ",");
      nthreads = 0;
      while (tok) {
        long v;
        if (nthreads == 16 || parse_int("--threads", tok, 1, 64, &v) < 0)
          return EXIT_USAGE;
        threads[nthreads++] = (int)v;
        tok = strtok(NULL, ",");
      }
      if (nthreads == 0) {
        tool_error("--threads: expected a list like 1,2");
        return EXIT_USAGE;
      }
      break;
    }
    case O_ARCH:
      if (!strcmp(optarg, "tutorial")) {
        arch = RNJ_MODEL_TUTORIAL;
      } else if (!strcmp(optarg, "v2")) {
        arch = RNJ_MODEL_V2;
      } else {
        tool_error("--arch: expected tutorial or v2, got '%s'", optarg);
        return EXIT_USAGE;
      }
      break;
    case O_HIDDEN:
      if (parse_int("--hidden", optarg, RNJ_MODEL_V2_HIDDEN_MIN,
                    RNJ_MODEL_V2_HIDDEN_MAX, &hidden) < 0)
        return EXIT_USAGE;
      break;
    case O_BATCHES:
      if (parse_int("--batches", optarg, 10, 10000000, &batches) < 0)
        return EXIT_USAGE;
      break;
    case 'h': help(stdout); return 0;
    default: help(stderr); return EXIT_USAGE;
    }
  }
  if (train) {
    if (optind >= argc) {
      tool_error("bench --train: expected MIDI files or folders");
      return EXIT_USAGE;
    }
    return bench_train(argv + optind, argc - optind, threads, nthreads,
                       batches, kernel, json);
  }
  if (optind < argc - 1) {
    tool_error("bench: expected at most one checkpoint");
    return EXIT_USAGE;
  }
  if (arch && optind < argc) {
    tool_error("bench: --arch makes its own model; no checkpoint with it");
    return EXIT_USAGE;
  }
  if (arch) {
    if (random_net(arch, (int)hidden, kernel, &net) < 0)
      return 1;
    snprintf(label, sizeof label, "random weights");
    ckpt = label;
  } else {
    ckpt = optind < argc ? argv[optind] : default_model_path();
    if (load_net(ckpt, &net, kernel) < 0)
      return 1;
  }
  seq = rnj_net_seq_length(net);
  /* 4 s or 8 beats: where the times are kept, whatever the weights do */
  tmax = rnj_net_unit(net) == RNJ_NET_BEATS ? 8.0 : 4.0;

  /* One thread on one CPU: migrations would show up as false tail. */
  cpu = sched_getcpu();
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);
  }

  t = malloc((size_t)(steps > nwin ? steps : nwin) * sizeof *t);
  win = calloc((size_t)seq, sizeof *win);
  if (!t || !win) {
    tool_error("out of memory");
    goto done;
  }
  rnj_sampler_init(&sampler, 1);
  /* v2's timing at the temperature rnnjamd uses by default */
  sampler.time_temperature = 0.5f;
  rnj_net_reset(net, &state);
  memset(&note, 0, sizeof note);
  note.pitch = 60;
  note.velocity = 80;
  note.step = 0.25;
  note.duration = 0.5;

  /* Stream: each step feeds back the note it sampled, as generation does:
   * feed, the heads, the draw. */
  for (i = -20000; i < steps; i++) {
    double a = now_ns();
    rnj_net_feed(net, &state, &note);
    rnj_net_predict(net, &state, &y);
    rnj_net_sample(net, &y, &sampler, &note);
    if (i >= 0)
      t[i] = (now_ns() - a) / 1e3;
    /* keep the state in a musical range whatever the weights do */
    note.step = note.step > tmax ? tmax : note.step;
    note.duration = note.duration > tmax ? tmax : note.duration;
  }
  st = summarize(t, (size_t)steps);

  t0 = now_ns();
  for (i = 0; i < 20000; i++) {
    rnj_net_feed(net, &state, &note);
    rnj_net_predict(net, &state, &y);
    rnj_net_sample(net, &y, &sampler, &note);
    note.step = note.step > tmax ? tmax : note.step;
    note.duration = note.duration > tmax ? tmax : note.duration;
  }
  notes_per_s_stream = 20000 / ((now_ns() - t0) / 1e9);

  for (i = 0; i < seq; i++) {
    win[i].pitch = 60 + (int)(i % 12);
    win[i].velocity = 80;
    win[i].step = 0.25;
    win[i].duration = 0.5;
    win[i].onset = 0.25 * (double)i;
  }
  for (i = -500; i < nwin; i++) {
    double a = now_ns();
    rnj_net_window(net, &state, win, seq, &y);
    rnj_net_sample(net, &y, &sampler, &note);
    if (i >= 0)
      t[i] = (now_ns() - a) / 1e3;
    memmove(win, win + 1, (size_t)(seq - 1) * sizeof *win);
    note.step = note.step > tmax ? tmax : note.step;
    note.duration = note.duration > tmax ? tmax : note.duration;
    win[seq - 1] = note;
  }
  sw = summarize(t, (size_t)nwin);
  notes_per_s_window = 1e6 / sw.mean;

  if (json) {
    printf("{\"checkpoint\": \"%s\", \"kernel\": \"%s\", \"threads\": 1, "
           "\"stream_steps\": %ld, \"stream_p50_us\": %.3f, "
           "\"stream_p90_us\": %.3f, \"stream_p99_us\": %.3f, "
           "\"stream_p999_us\": %.3f, \"stream_max_us\": %.3f, "
           "\"stream_mean_us\": %.3f, \"window_length\": %d, "
           "\"windows\": %ld, \"window_p50_us\": %.3f, "
           "\"window_p99_us\": %.3f, \"stream_notes_per_s\": %.0f, "
           "\"window_notes_per_s\": %.0f}\n",
           ckpt, rnj_kernel_name(rnj_net_kernel(net)), steps, st.p50,
           st.p90, st.p99, st.p999, st.max, st.mean, seq, nwin, sw.p50,
           sw.p99, notes_per_s_stream, notes_per_s_window);
  } else {
    printf("checkpoint: %s (%s, hidden %d)\nkernel: %s, 1 thread\n\n",
           ckpt, rnj_net_format(net), rnj_net_hidden(net),
           rnj_kernel_name(rnj_net_kernel(net)));
    printf("stream step + heads + sampling (%ld steps):\n"
           "  p50 %.2f us   p90 %.2f us   p99 %.2f us   p99.9 %.2f us   "
           "max %.1f us\n",
           steps, st.p50, st.p90, st.p99, st.p999, st.max);
    printf("window of %d notes + heads + sampling (%ld windows):\n"
           "  p50 %.2f us   p99 %.2f us\n",
           seq, nwin, sw.p50, sw.p99);
    printf("generated notes per second: %.0f (stream), %.0f (window)\n",
           notes_per_s_stream, notes_per_s_window);
  }
  rc = 0;

done:
  free(t);
  free(win);
  rnj_net_delete(net);
  return rc;
}
