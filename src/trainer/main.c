/* rnnjam-train: MIDI files in, a checkpoint out (the tutorial's training).
 *
 * Reads every file's notes, splits the files into training and validation,
 * and runs rnj_train_fit, drawing its progress: a live bar per epoch on a
 * terminal, one line per epoch otherwise, and optionally a JSONL log.
 * Ctrl-C or SIGTERM: the current batch finishes, the state is saved and
 * the command to resume is printed (a second Ctrl-C kills at once; the
 * last saved files stay intact: every write is atomic).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "rnnjam/rnnjam.h"

#define PROG "rnnjam-train"
#define MAX_THREADS_DEFAULT 8

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fatal(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, PROG ": ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void usage(FILE *f) {
  fprintf(f,
    "usage: " PROG " DATA... --out CKPT [options]\n"
    "\n"
    "Train a model on MIDI files (DATA: .mid/.midi files or folders,\n"
    "searched recursively) and write the best checkpoint by validation\n"
    "loss to CKPT, beside it CKPT.last.safetensors (the latest epoch) and\n"
    "CKPT.state (what --resume needs); \".safetensors\" is dropped from\n"
    "CKPT before adding those suffixes.\n"
    "\n"
    "  -a, --arch A         the model: v2 (default) or tutorial\n"
    "                       v2: pitch, beat phase and velocity one-hot in,\n"
    "                       log1p of step and duration in beats; pitch and\n"
    "                       step, duration, velocity bins out\n"
    "                       tutorial: the TensorFlow tutorial's model\n"
    "                       (pitch/128 and seconds in, MSE on time)\n"
    "  -o, --out CKPT       the best checkpoint (required)\n"
    "  -e, --epochs N       epochs (50)\n"
    "  -b, --batch N        windows per batch (64)\n"
    "      --lr X           Adam's learning rate (v2: %g, tutorial: 0.005)\n"
    "      --lr-decay F     multiply the learning rate by F after each\n"
    "                       --lr-patience epochs without a better\n"
    "                       validation loss (v2: 0.5; tutorial: 0, off)\n"
    "      --lr-patience N  epochs (2)\n"
    "      --clip-norm X    scale each batch's gradient down to this global\n"
    "                       norm when longer (v2: 1; tutorial: 0, off)\n"
    "      --hidden N       v2: LSTM units, a multiple of 16 in 16..512\n"
    "                       (128; the tutorial has 128)\n"
    "      --transpose LO:HI  v2: move each training window by k semitones,\n"
    "                       k uniform in LO..HI, narrowed to keep every\n"
    "                       pitch in 21..108 (-6:5; 0:0 off)\n"
    "      --seq-length N   notes in, the next one predicted (25)\n"
    "      --val-split X    fraction of the files held out (0.1)\n"
    "      --patience N     stop after N epochs without a better\n"
    "                       validation loss, keeping the best (5; 0: never)\n"
    "  -s, --seed S         weights, split, shuffles, transpositions (42)\n"
    "  -j, --threads N      threads (the CPUs available, at most %d); the\n"
    "                       same seed and thread count give the same bytes\n"
    "      --resume         continue from CKPT's state file, exactly\n"
    "      --log FILE       append one JSON object per epoch (losses of\n"
    "                       each head, mean gradient norm)\n"
    "      --instrument N   take one instrument's notes (default: every\n"
    "                       non-drum instrument, merged)\n"
    "  -h, --help           this text\n"
    "  -V, --version        the version\n"
    "\n"
    "v2's learning rate (%g): on the piano and folk corpus, clipped at 1,\n"
    "it lowered the validation loss steadily over 15 epochs and had the\n"
    "lowest pitch loss from epoch 5 on (2.48 nats; 0.005: 2.50, with a\n"
    "total within 0.01); over 6 epochs 0.01 trailed both and 0.001 was the\n"
    "slowest.  The tutorial's 0.005, unclipped, diverged at epoch 10.\n"    "\n"
    "For the reference scripts (tests/reference_train.py, tutorial;\n"
    "tests/reference_train_v2.py, v2):\n"
    "      --dump-data CSV  write every note as the model sees it (with its\n"
    "                       file and split) and exit without training\n"
    "      --dump-init CKPT write the initial weights and exit\n"
    "For measurements:\n"
    "      --kernel K       auto, avx512 (own kernels for the products),\n"
    "                       avx2 or portable (OpenBLAS for every product)\n",
    RNJ_TRAIN_V2_LR, MAX_THREADS_DEFAULT, RNJ_TRAIN_V2_LR);
}

/* The CPUs this process may run on. */
static int cpus_available(void) {
  cpu_set_t set;
  int n;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    n = CPU_COUNT(&set);
  } else {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (int)c : 1;
  }
  if (n < 1)
    n = 1;
  return n > MAX_THREADS_DEFAULT ? MAX_THREADS_DEFAULT : n;
}

/* OpenBLAS 0.3.21 (Debian 12) does not recognise AMD Zen 4/5 and falls
 * back to its AVX2 "Haswell" kernels, which run this trainer's SGEMMs at
 * ~85 GFLOP/s where its AVX-512 "SkylakeX" kernels reach ~145.  It reads
 * OPENBLAS_CORETYPE only while loading, before main, so the one way to
 * choose is to set it and run ourselves again, once.  A user's own
 * OPENBLAS_CORETYPE is left alone; a failed exec just goes on. */
static void pick_blas_kernels(char **argv) {
  const char *core = rnj_train_blas();
  if (getenv("OPENBLAS_CORETYPE") || !core)
    return;
  if (strcmp(core, "Haswell") != 0 && strcmp(core, "Zen") != 0)
    return;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") ||
      !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512dq") ||
      !__builtin_cpu_supports("avx512vl") ||
      !__builtin_cpu_supports("avx512cd"))
    return;
  if (setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) == 0)
    execv("/proc/self/exe", argv);
#else
  (void)argv;
#endif
}

static long parse_long(const char *opt, const char *s, long lo, long hi) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    fatal("%s: '%s' is not a whole number in %ld..%ld", opt, s, lo, hi);
  return v;
}

/* LO:HI, two whole numbers. */
static void parse_range(const char *opt, const char *s, int *lo, int *hi) {
  char *end;
  long a;
  long b;
  errno = 0;
  a = strtol(s, &end, 10);
  if (errno || end == s || *end != ':')
    goto bad;
  b = strtol(end + 1, &end, 10);
  if (errno || *end || end[-1] == ':' || a > b ||
      a < -RNJ_TRAIN_MAX_TRANSPOSE ||
      b > RNJ_TRAIN_MAX_TRANSPOSE)
    goto bad;
  *lo = (int)a;
  *hi = (int)b;
  return;
bad:
  fatal("%s: '%s' (expected LO:HI, whole numbers with -%d <= LO <= HI <= "
        "%d, e.g. -6:5)", opt, s, RNJ_TRAIN_MAX_TRANSPOSE,
        RNJ_TRAIN_MAX_TRANSPOSE);
}

static double parse_double(const char *opt, const char *s) {
  char *end;
  double v;
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v))
    fatal("%s: '%s' is not a number", opt, s);
  return v;
}

/* ------------------------------------------------------------ progress */

typedef struct {
  int tty;          /* draw a bar on stderr */
  double last_draw; /* when the bar was drawn, seconds */
  FILE *log;
  int bar_shown;
  int epochs_seen;
  int v2;   /* the arch has a velocity head */
  int clip; /* gradient norms are taken */
  int decay; /* the learning rate may change: show it */
} ui_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_duration(char *buf, size_t n, double s) {
  long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
  if (t >= 3600)
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void clear_bar(ui_t *ui) {
  if (ui->bar_shown) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    ui->bar_shown = 0;
  }
}

static void draw_bar(ui_t *ui, const rnj_train_progress_t *p) {
  char bar[41];
  char eta[32];
  double frac = p->batches ? (double)p->batch / (double)p->batches : 0;
  int w = (int)(frac * 30 + 0.5);
  double rate = p->seconds > 0 ? (double)p->batch / p->seconds : 0;
  int i;
  for (i = 0; i < 30; i++)
    bar[i] = i < w ? '#' : '-';
  bar[30] = 0;
  fmt_duration(eta, sizeof eta,
               rate > 0 ? (double)(p->batches - p->batch) / rate : 0);
  fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %3.0f%%  %.0f win/s  loss %.4f"
          "  ETA %s", p->epoch + 1, p->epochs, bar, 100 * frac,
          p->windows_per_s, p->train.total, eta);
  fflush(stderr);
  ui->bar_shown = 1;
}

/* The heads' losses: the tutorial's three, v2's four. */
static void log_losses(FILE *f, const char *pre, const rnj_loss_t *l,
                       int v2) {
  if (!l) {
    fprintf(f, "\"%s_loss\": null, \"%s_pitch\": null, \"%s_step\": null, "
               "\"%s_duration\": null, ", pre, pre, pre, pre);
    if (v2)
      fprintf(f, "\"%s_velocity\": null, ", pre);
    return;
  }
  fprintf(f,
          "\"%s_loss\": %.9g, \"%s_pitch\": %.9g, \"%s_step\": %.9g, "
          "\"%s_duration\": %.9g, ", pre, l->total, pre, l->pitch, pre,
          l->step, pre, l->duration);
  if (v2)
    fprintf(f, "\"%s_velocity\": %.9g, ", pre, l->velocity);
}

static void log_epoch(FILE *f, const rnj_train_progress_t *p, int v2,
                      int clip) {
  fprintf(f, "{\"epoch\": %d, ", p->epoch + 1);
  log_losses(f, "train", &p->train, v2);
  log_losses(f, "val", p->has_val ? &p->val : NULL, v2);
  if (clip)
    fprintf(f, "\"grad_norm\": %.6g, ", p->grad_norm);
  fprintf(f,
          "\"windows_per_s\": %.1f, \"seconds\": %.3f, \"lr\": %g, "
          "\"best\": %s}\n",
          p->windows_per_s, p->seconds, p->lr,
          p->improved ? "true" : "false");
  fflush(f);
}

static void print_losses(const char *what, const rnj_loss_t *l, int v2) {
  printf("  %s %.4f (pitch %.4f step %.4f dur %.4f", what, l->total,
         l->pitch, l->step, l->duration);
  if (v2)
    printf(" vel %.4f", l->velocity);
  putchar(')');
}

static void on_progress(const rnj_train_progress_t *p, void *arg) {
  ui_t *ui = arg;
  if (p->event == RNJ_TRAIN_EVENT_BATCH) {
    double t = now_s();
    if (ui->tty && (t - ui->last_draw > 0.2 || p->batch == p->batches)) {
      draw_bar(ui, p);
      ui->last_draw = t;
    }
    return;
  }
  clear_bar(ui);
  ui->epochs_seen++;
  printf("epoch %d/%d", p->epoch + 1, p->epochs);
  print_losses("train", &p->train, ui->v2);
  if (p->has_val)
    print_losses("val", &p->val, ui->v2);
  if (ui->clip)
    printf("  |g| %.3g", p->grad_norm);
  if (ui->decay)
    printf("  lr %.3g", p->lr);
  printf("  %.0f win/s  %.1f s%s\n", p->windows_per_s, p->seconds,
         p->improved ? "  *" : "");
  fflush(stdout);
  if (ui->log)
    log_epoch(ui->log, p, ui->v2, ui->clip);
}

/* --------------------------------------------------------------- data */

typedef struct {
  size_t files;
  size_t used;
  size_t bad;
  size_t short_;
  size_t notes;
} load_stats_t;

static void load_data(rnj_train_data_t *data, char **args, int nargs,
                      int instrument, int seq, load_stats_t *st) {
  rnj_files_t files;
  rnj_notes_t notes;
  char err[RNJ_ERR_LEN];
  size_t i;
  int rc;

  memset(st, 0, sizeof *st);
  rnj_files_init(&files);
  rc = rnj_files_collect(&files, args, nargs, err);
  if (rc)
    fatal("%s", err);
  st->files = files.n;
  if (files.n == 0)
    fatal("no MIDI files (*.mid, *.midi) in the data given");
  for (i = 0; i < files.n; i++) {
    rnj_notes_init(&notes);
    rc = rnj_notes_from_file(&notes, files.paths[i], instrument, err);
    if (rc) {
      fprintf(stderr, PROG ": skipping %s\n", err);
      st->bad++;
    } else if (notes.n < (size_t)seq + 1) {
      st->short_++;
    } else {
      rc = rnj_train_data_add(data, &notes, files.paths[i]);
      if (rc)
        fatal("%s: %s", files.paths[i], rnj_strerror(rc));
      st->used++;
      st->notes += notes.n;
    }
    rnj_notes_free(&notes);
  }
  rnj_files_free(&files);
  if (st->used == 0)
    fatal("no usable data: none of the %zu files has %d notes or more "
          "(%zu unreadable, %zu too short)",
          st->files, seq + 1, st->bad, st->short_);
}

static void dump_data(const char *path, const rnj_train_data_t *d,
                      const rnj_train_split_t *s, int v2) {
  FILE *f = fopen(path, "w");
  size_t fi;
  size_t i;
  if (!f)
    fatal("%s: cannot write: %s", path, strerror(errno));
  if (v2)
    fprintf(f, "file,split,pitch,phase,velocity_bin,step_bin,duration_bin,"
               "step_in,duration_in\n");
  else
    fprintf(f, "file,split,pitch,step,duration\n");
  for (fi = 0; fi < d->n_files; fi++)
    for (i = d->first[fi]; i < d->first[fi + 1]; i++) {
      const char *sp = s->is_val[fi] ? "val" : "train";
      if (v2) {
        const uint8_t *c = d->code + i * 4;
        fprintf(f, "%zu,%s,%d,%d,%d,%d,%d,%.9g,%.9g\n", fi, sp, d->pitch[i],
                c[0], c[1], c[2], c[3], d->tin[i * 2], d->tin[i * 2 + 1]);
      } else {
        fprintf(f, "%zu,%s,%d,%.9g,%.9g\n", fi, sp, d->pitch[i],
                d->x[i * 3 + 1], d->x[i * 3 + 2]);
      }
    }
  if (fclose(f) != 0)
    fatal("%s: cannot write: %s", path, strerror(errno));
}

/* Fail now, not after loading the data, if `out` cannot be written: its
 * folder must exist and be writable (the fit's first write proves it). */
static void check_writable(const char *out) {
  char *dir = strdup(out);
  char *slash;
  struct stat st;
  if (!dir)
    fatal("out of memory");
  slash = strrchr(dir, '/');
  if (!slash)
    strcpy(dir, ".");
  else if (slash == dir)
    dir[1] = 0;
  else
    *slash = 0;
  if (stat(dir, &st) != 0)
    fatal("%s: cannot write: folder %s: %s", out, dir, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    fatal("%s: cannot write: %s is not a folder", out, dir);
  if (access(dir, W_OK) != 0)
    fatal("%s: cannot write in %s: %s", out, dir, strerror(errno));
  if (stat(out, &st) == 0 && !S_ISREG(st.st_mode))
    fatal("%s: exists and is not a file", out);
  free(dir);
}

/* The command line again, quoted for a POSIX shell, with --resume. */
static void print_resume(int argc, char **argv) {
  int i;
  int has = 0;
  printf("resume with:");
  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--resume") == 0)
      has = 1;
    if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789-_./=:,+@%") == strlen(a)) {
      printf(" %s", a);
    } else {
      putchar(' ');
      putchar('\'');
      for (; *a; a++) {
        if (*a == '\'')
          fputs("'\\''", stdout);
        else
          putchar(*a);
      }
      putchar('\'');
    }
  }
  printf("%s\n", has ? "" : " --resume");
}

/* --------------------------------------------------------------- main */

enum {
  OPT_LR = 256,
  OPT_CLIP,
  OPT_HIDDEN,
  OPT_TRANSPOSE,
  OPT_SEQ,
  OPT_VAL,
  OPT_PATIENCE,
  OPT_LR_DECAY,
  OPT_LR_PATIENCE,
  OPT_RESUME,
  OPT_LOG,
  OPT_INSTRUMENT,
  OPT_DUMP_DATA,
  OPT_DUMP_INIT,
  OPT_KERNEL
};

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"arch", required_argument, NULL, 'a'},
      {"out", required_argument, NULL, 'o'},
      {"clip-norm", required_argument, NULL, OPT_CLIP},
      {"hidden", required_argument, NULL, OPT_HIDDEN},
      {"transpose", required_argument, NULL, OPT_TRANSPOSE},
      {"epochs", required_argument, NULL, 'e'},
      {"batch", required_argument, NULL, 'b'},
      {"lr", required_argument, NULL, OPT_LR},
      {"seq-length", required_argument, NULL, OPT_SEQ},
      {"val-split", required_argument, NULL, OPT_VAL},
      {"patience", required_argument, NULL, OPT_PATIENCE},
      {"lr-decay", required_argument, NULL, OPT_LR_DECAY},
      {"lr-patience", required_argument, NULL, OPT_LR_PATIENCE},
      {"seed", required_argument, NULL, 's'},
      {"threads", required_argument, NULL, 'j'},
      {"resume", no_argument, NULL, OPT_RESUME},
      {"log", required_argument, NULL, OPT_LOG},
      {"instrument", required_argument, NULL, OPT_INSTRUMENT},
      {"dump-data", required_argument, NULL, OPT_DUMP_DATA},
      {"dump-init", required_argument, NULL, OPT_DUMP_INIT},
      {"kernel", required_argument, NULL, OPT_KERNEL},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  rnj_train_config_t cfg;
  rnj_train_data_t data;
  rnj_train_split_t split;
  rnj_train_t tr;
  rnj_train_fit_t fit;
  rnj_train_result_t res;
  load_stats_t ls;
  struct sigaction sa;
  ui_t ui;
  char err[RNJ_ERR_LEN];
  char last[RNJ_TRAIN_PATH_LEN];
  char state[RNJ_TRAIN_PATH_LEN];
  char buf[64];
  const char *out = NULL;
  const char *log_path = NULL;
  const char *dump_data_path = NULL;
  const char *dump_init_path = NULL;
  int instrument = RNJ_NOTES_ALL_INSTRUMENTS;
  char **orig;
  int resume = 0;
  int arch = RNJ_MODEL_V2;
  /* Options whose default depends on the arch, and whether given. */
  double lr = 0;
  double clip = 0;
  double lr_decay = 0;
  int lr_patience = 0;
  int hidden = 0;
  int tlo = 0;
  int thi = 0;
  int has_lr = 0;
  int has_clip = 0;
  int has_lr_decay = 0;
  int has_transpose = 0;
  int c;
  int rc;

  pick_blas_kernels(argv);
  /* getopt permutes argv; the resume hint repeats the command as typed. */
  orig = malloc(((size_t)argc + 1) * sizeof *orig);
  if (!orig)
    fatal("out of memory");
  memcpy(orig, argv, ((size_t)argc + 1) * sizeof *orig);
  rnj_train_config_default(&cfg);
  cfg.threads = cpus_available();
  while ((c = getopt_long(argc, argv, "a:o:e:b:s:j:hV", opts, NULL)) !=
         -1) {
    switch (c) {
    case 'a':
      if (strcmp(optarg, "v2") == 0)
        arch = RNJ_MODEL_V2;
      else if (strcmp(optarg, "tutorial") == 0)
        arch = RNJ_MODEL_TUTORIAL;
      else
        fatal("--arch: '%s' (expected v2 or tutorial)", optarg);
      break;
    case OPT_CLIP:
      clip = parse_double("--clip-norm", optarg);
      if (clip < 0)
        fatal("--clip-norm: '%s' (expected a norm >= 0; 0: no clipping)",
              optarg);
      has_clip = 1;
      break;
    case OPT_HIDDEN:
      hidden = (int)parse_long("--hidden", optarg, 1, 100000);
      break;
    case OPT_TRANSPOSE:
      parse_range("--transpose", optarg, &tlo, &thi);
      has_transpose = 1;
      break;
    case 'o':
      out = optarg;
      break;
    case 'e':
      cfg.epochs = (int)parse_long("--epochs", optarg, 1, 1000000);
      break;
    case 'b':
      cfg.batch = (int)parse_long("--batch", optarg, 1, RNJ_TRAIN_MAX_BATCH);
      break;
    case OPT_LR:
      lr = parse_double("--lr", optarg);
      has_lr = 1;
      break;
    case OPT_SEQ:
      cfg.seq_length =
          (int)parse_long("--seq-length", optarg, 1, RNJ_TRAIN_MAX_SEQ_LENGTH);
      break;
    case OPT_VAL:
      cfg.val_split = parse_double("--val-split", optarg);
      break;
    case OPT_PATIENCE:
      cfg.patience = (int)parse_long("--patience", optarg, 0, 1000000);
      break;
    case OPT_LR_DECAY:
      lr_decay = parse_double("--lr-decay", optarg);
      if (!(lr_decay >= 0 && lr_decay < 1))
        fatal("--lr-decay: '%s' (expected 0 for off, or a factor in "
              "(0, 1))", optarg);
      has_lr_decay = 1;
      break;
    case OPT_LR_PATIENCE:
      lr_patience = (int)parse_long("--lr-patience", optarg, 1, 1000000);
      break;
    case 's':
      cfg.seed = (uint64_t)parse_long("--seed", optarg, 0, 0x7fffffffL);
      break;
    case 'j':
      cfg.threads =
          (int)parse_long("--threads", optarg, 1, RNJ_TRAIN_MAX_THREADS);
      break;
    case OPT_RESUME:
      resume = 1;
      break;
    case OPT_LOG:
      log_path = optarg;
      break;
    case OPT_INSTRUMENT:
      instrument = (int)parse_long("--instrument", optarg, 0, 65535);
      break;
    case OPT_DUMP_DATA:
      dump_data_path = optarg;
      break;
    case OPT_DUMP_INIT:
      dump_init_path = optarg;
      break;
    case OPT_KERNEL:
      if (rnj_kernel_parse(optarg, &cfg.kernel))
        fatal("--kernel: '%s' (expected auto, portable, avx2 or avx512)",
              optarg);
      break;
    /* Each return frees the copy of argv: a leak at exit fails the
     * sanitizer build's run of the program. */
    case 'h':
      usage(stdout);
      free(orig);
      return 0;
    case 'V':
      printf(PROG " %s\n", PACKAGE_VERSION);
      free(orig);
      return 0;
    default:
      usage(stderr);
      free(orig);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, PROG ": no DATA given\n");
    usage(stderr);
    free(orig);
    return 2;
  }
  if (!out && !dump_data_path && !dump_init_path) {
    fprintf(stderr, PROG ": --out CKPT is required\n");
    usage(stderr);
    free(orig);
    return 2;
  }
  /* The arch's defaults under what was given. */
  cfg.arch = arch;
  if (arch == RNJ_MODEL_V2) {
    rnj_train_config_t v2;
    rnj_train_config_v2(&v2);
    cfg.hidden = v2.hidden;
    cfg.lr = v2.lr;
    cfg.clip_norm = v2.clip_norm;
    cfg.lr_decay = v2.lr_decay;
    cfg.transpose_lo = v2.transpose_lo;
    cfg.transpose_hi = v2.transpose_hi;
  } else if (has_transpose && (tlo || thi)) {
    fatal("--transpose: the tutorial arch has no transposition (its pitch "
          "input is pitch/128); use --arch v2");
  } else if (hidden && hidden != RNJ_MODEL_HIDDEN) {
    fatal("--hidden: the tutorial arch has %d units; use --arch v2",
          RNJ_MODEL_HIDDEN);
  }
  if (hidden)
    cfg.hidden = hidden;
  if (has_lr)
    cfg.lr = lr;
  if (has_clip)
    cfg.clip_norm = clip;
  if (has_lr_decay)
    cfg.lr_decay = lr_decay;
  if (lr_patience)
    cfg.lr_patience = lr_patience;
  if (has_transpose) {
    cfg.transpose_lo = tlo;
    cfg.transpose_hi = thi;
  }
  if (rnj_train_config_check(&cfg, err))
    fatal("%s", err);
  if (out && rnj_train_paths(out, last, state))
    fatal("%s: path too long", out);
  if (out)
    check_writable(out);

  rnj_train_data_init(&data);
  load_data(&data, argv + optind, argc - optind, instrument, cfg.seq_length,
            &ls);
  rc = rnj_train_split_init(&split, &data, cfg.seq_length, cfg.val_split,
                            cfg.seed, err);
  if (rc)
    fatal("%s", err);
  printf("data: %zu files, %zu used (%zu notes), %zu unreadable, %zu with "
         "fewer than %d notes\n",
         ls.files, ls.used, ls.notes, ls.bad, ls.short_, cfg.seq_length + 1);
  printf("split: %zu training files (%zu windows), %zu validation files "
         "(%zu windows)\n",
         split.n_train_files, split.n_train, split.n_val_files, split.n_val);
  if (dump_data_path)
    dump_data(dump_data_path, &data, &split, arch == RNJ_MODEL_V2);

  rc = rnj_train_init(&tr, &cfg, err);
  if (rc)
    fatal("%s", err);
  if (dump_init_path) {
    rc = rnj_ckpt_save(&tr.model, dump_init_path, err);
    if (rc)
      fatal("%s", err);
  }
  if (dump_data_path || dump_init_path) {
    rnj_train_free(&tr);
    rnj_train_split_free(&split);
    rnj_train_data_free(&data);
    free(orig);
    return 0;
  }

  rnj_model_set_meta(&tr.model, "trainer", PROG " " PACKAGE_VERSION);
  /* With the seed and threads, what fixes the bits on a given CPU. */
  rnj_model_set_meta(&tr.model, "kernels", rnj_train_kernels(&tr));
  rnj_model_set_meta(&tr.model, "notes_mode",
                     instrument == RNJ_NOTES_ALL_INSTRUMENTS
                         ? "all non-drum instruments merged"
                         : "one instrument");
  if (instrument != RNJ_NOTES_ALL_INSTRUMENTS) {
    snprintf(buf, sizeof buf, "%d", instrument);
    rnj_model_set_meta(&tr.model, "instrument", buf);
  }
  snprintf(buf, sizeof buf, "%zu", ls.used);
  rnj_model_set_meta(&tr.model, "data_files", buf);
  snprintf(buf, sizeof buf, "%zu", split.n_val_files);
  rnj_model_set_meta(&tr.model, "val_files", buf);
  snprintf(buf, sizeof buf, "%zu", split.n_train);
  rnj_model_set_meta(&tr.model, "windows", buf);
  snprintf(buf, sizeof buf, "%zu", split.n_val);
  rnj_model_set_meta(&tr.model, "val_windows", buf);
  snprintf(buf, sizeof buf, "%g", cfg.val_split);
  rnj_model_set_meta(&tr.model, "val_split", buf);

  memset(&ui, 0, sizeof ui);
  ui.tty = isatty(STDERR_FILENO);
  ui.v2 = arch == RNJ_MODEL_V2;
  ui.clip = cfg.clip_norm > 0;
  ui.decay = cfg.lr_decay > 0;
  if (log_path) {
    ui.log = fopen(log_path, resume ? "a" : "w");
    if (!ui.log)
      fatal("%s: cannot open for writing: %s", log_path, strerror(errno));
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  /* A second Ctrl-C kills at once: the saved files are always whole. */
  sa.sa_flags = (int)SA_RESETHAND;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  if (arch == RNJ_MODEL_V2)
    printf("model: v2, hidden %d, %zu parameters; transposition %d:%d\n",
           cfg.hidden, tr.model.nparams, cfg.transpose_lo,
           cfg.transpose_hi);
  else
    printf("model: tutorial, %zu parameters\n", tr.model.nparams);
  printf("training: %d epochs, batch %d, lr %g", cfg.epochs, cfg.batch,
         cfg.lr);
  if (cfg.lr_decay > 0)
    printf(" (x%g after %d epochs without progress)", cfg.lr_decay,
           cfg.lr_patience);
  printf(", clip-norm %g, seed %llu, %d thread%s (kernels %s, BLAS %s)%s\n",
         cfg.clip_norm,
         (unsigned long long)cfg.seed, cfg.threads,
         cfg.threads == 1 ? "" : "s", rnj_train_kernels(&tr),
         rnj_train_blas(), resume ? ", resuming" : "");
  fflush(stdout);
  memset(&fit, 0, sizeof fit);
  fit.out = out;
  fit.resume = resume;
  fit.progress = on_progress;
  fit.arg = &ui;
  fit.stop = &stop_flag;
  rc = rnj_train_fit(&tr, &data, &split, &fit, &res, err);
  clear_bar(&ui);
  if (ui.log && fclose(ui.log) != 0)
    fprintf(stderr, PROG ": %s: %s\n", log_path, strerror(errno));
  if (rc)
    fatal("%s", err);
  if (resume && ui.epochs_seen == 0 && res.status != RNJ_TRAIN_INTERRUPTED)
    printf("nothing to do: the run in %s had already finished (%d "
           "epochs; --epochs more continues it)\n", state, res.epochs_done);
  switch (res.status) {
  case RNJ_TRAIN_INTERRUPTED:
    if (res.batch > 0)
      printf("interrupted in epoch %d after batch %zu of %zu; state saved "
             "in %s\n", res.epochs_done + 1, res.batch, res.batches, state);
    else
      printf("interrupted after epoch %d; state saved in %s\n",
             res.epochs_done, state);
    print_resume(argc, orig);
    break;
  case RNJ_TRAIN_EARLY_STOP:
    printf("stopped early: no better validation loss for %d epochs\n",
           cfg.patience);
    /* fall through */
  case RNJ_TRAIN_DONE:
    if (res.best_epoch >= 0)
      printf("best: epoch %d, %s loss %.4f -> %s (latest: %s)\n",
             res.best_epoch + 1, split.n_val ? "validation" : "training",
             res.best_loss, out, last);
    break;
  }
  rnj_train_free(&tr);
  rnj_train_split_free(&split);
  rnj_train_data_free(&data);
  free(orig);
  return 0;
}
