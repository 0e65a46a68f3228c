/* rnnjam eval: a model's loss over MIDI files.
 *
 * Every window of 26 notes of every file (starts 0 .. n-26, never crossing
 * files): the model reads the first 25 from a zero state and is scored on
 * the 26th, with the loss its kind was trained on (rnj_net_loss).  The
 * mean total loss and its parts are printed.  A model that counts in beats
 * hears the notes' beats (ticks / ticks per quarter).
 *
 * "rnnjam eval --music" is another command behind this name
 * (cmd-eval-music.c).
 *
 * Files are shared among threads; each file's sums are kept apart and added
 * in file order at the end, so the result does not depend on the thread
 * count or on scheduling.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

typedef struct {
  double total, pitch, step, duration, velocity;
  size_t windows;
  int status; /* 0 ok, 1 unreadable, 2 too short */
  char err[RNJ_ERR_LEN];
} file_result_t;

typedef struct {
  const rnj_net_t *net;
  const rnj_files_t *files;
  file_result_t *results;
  int instrument;
  int seq;
  atomic_size_t next;
} eval_job_t;

static void eval_file(eval_job_t *job, size_t f) {
  file_result_t *r = &job->results[f];
  rnj_notes_t notes;
  rnj_net_note_t *x;
  rnj_net_state_t st;
  size_t i;
  int seq = job->seq;

  rnj_notes_init(&notes);
  if (rnj_notes_from_file(&notes, job->files->paths[f], job->instrument,
                          r->err) < 0) {
    r->status = 1;
    return;
  }
  if (notes.n < (size_t)seq + 1) {
    r->status = 2;
    rnj_notes_free(&notes);
    return;
  }
  x = malloc(notes.n * sizeof *x);
  if (!x) {
    snprintf(r->err, sizeof r->err, "%s: out of memory",
             job->files->paths[f]);
    r->status = 1;
    rnj_notes_free(&notes);
    return;
  }
  for (i = 0; i < notes.n; i++)
    gen_net_note(job->net, &notes.v[i], i ? &notes.v[i - 1] : NULL, &x[i]);
  for (i = 0; i + (size_t)seq < notes.n; i++) {
    rnj_net_dist_t y;
    rnj_net_loss_t l;
    rnj_net_window(job->net, &st, x + i, seq, &y);
    rnj_net_loss(job->net, &y, &x[i + (size_t)seq], &l);
    r->total += l.total;
    r->pitch += l.pitch;
    r->step += l.step;
    r->duration += l.duration;
    r->velocity += l.velocity;
    r->windows++;
  }
  free(x);
  rnj_notes_free(&notes);
}

static void *worker(void *arg) {
  eval_job_t *job = arg;
  size_t f;
  while ((f = atomic_fetch_add(&job->next, 1)) < job->files->n)
    eval_file(job, f);
  return NULL;
}

static void help(FILE *f) {
  fprintf(f,
          "usage: rnnjam eval [CKPT] FILE_OR_DIR... [--instrument N] "
          "[--json]\n\n"
          "The model's loss over every window of 26 notes of every file\n"
          "(folders are searched for .mid/.midi): mean total loss, its\n"
          "pitch, step and duration parts (and velocity for a model that\n"
          "has it: the cross-entropy of each head of a model in beats),\n"
          "and the number of windows.\n"
          "CKPT (a .safetensors file) defaults to the installed model.\n"
          "'rnnjam eval --music' judges a model as music instead (see\n"
          "'rnnjam eval --music --help').\n\n"
          "  --instrument N  take notes from instrument N only\n"
          "  --threads N     worker threads (default: the CPU count)\n"
          "  --kernel K      auto|portable|avx2|avx512|avx512-f16 (v2\n"
          "                  only; default auto): compare what a kernel\n"
          "                  does to the loss\n"
          "  --json          print one JSON object\n");
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s);
  size_t b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

int cmd_eval(int argc, char **argv) {
  enum { O_INSTR = 256, O_JSON, O_THREADS, O_KERNEL };
  static const struct option opts[] = {
      {"instrument", required_argument, 0, O_INSTR},
      {"json", no_argument, 0, O_JSON},
      {"threads", required_argument, 0, O_THREADS},
      {"kernel", required_argument, 0, O_KERNEL},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  long instrument = RNJ_NOTES_ALL_INSTRUMENTS;
  long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
  const char *ckpt = NULL;
  int json = 0;
  rnj_kernel_t kernel = RNJ_KERNEL_AUTO;
  char err[RNJ_ERR_LEN];
  rnj_files_t files;
  rnj_net_t *net = NULL;
  eval_job_t job;
  pthread_t th[64];
  double total = 0, pitch = 0, step = 0, duration = 0, velocity = 0;
  size_t windows = 0, unreadable = 0, short_files = 0;
  size_t f;
  long t;
  int rc = 1;
  int c;

  for (c = 1; c < argc; c++)
    if (!strcmp(argv[c], "--music"))
      return eval_music(argc, argv);
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_INSTR:
      if (parse_int("--instrument", optarg, 0, 1000000, &instrument) < 0)
        return EXIT_USAGE;
      break;
    case O_JSON: json = 1; break;
    case O_THREADS:
      if (parse_int("--threads", optarg, 1, 64, &nthreads) < 0)
        return EXIT_USAGE;
      break;
    case O_KERNEL:
      if (parse_kernel(optarg, &kernel) < 0)
        return EXIT_USAGE;
      break;
    case 'h': help(stdout); return 0;
    default: help(stderr); return EXIT_USAGE;
    }
  }
  if (nthreads < 1)
    nthreads = 1;
  if (nthreads > 64)
    nthreads = 64;
  if (optind < argc && ends_with(argv[optind], ".safetensors"))
    ckpt = argv[optind++];
  if (optind >= argc) {
    tool_error("eval: expected MIDI files or folders (try --help)");
    return EXIT_USAGE;
  }
  if (!ckpt)
    ckpt = default_model_path();

  rnj_files_init(&files);
  if (rnj_files_collect(&files, argv + optind, argc - optind, err) < 0) {
    tool_error("%s", err);
    return 1;
  }
  if (files.n == 0) {
    tool_error("eval: no .mid or .midi files found");
    rnj_files_free(&files);
    return 1;
  }
  if (load_net(ckpt, &net, kernel) < 0) {
    rnj_files_free(&files);
    return 1;
  }
  memset(&job, 0, sizeof job);
  job.net = net;
  job.files = &files;
  job.instrument = (int)instrument;
  job.seq = rnj_net_seq_length(net);
  atomic_init(&job.next, 0);
  job.results = calloc(files.n, sizeof *job.results);
  if (!job.results) {
    tool_error("out of memory");
    goto done;
  }
  if ((size_t)nthreads > files.n)
    nthreads = (long)files.n;
  for (t = 1; t < nthreads; t++)
    if (pthread_create(&th[t], NULL, worker, &job) != 0) {
      nthreads = t; /* run with what we have */
      break;
    }
  worker(&job);
  for (t = 1; t < nthreads; t++)
    pthread_join(th[t], NULL);

  for (f = 0; f < files.n; f++) {
    file_result_t *r = &job.results[f];
    if (r->status == 1) {
      fprintf(stderr, "rnnjam: skipped: %s\n", r->err);
      unreadable++;
    } else if (r->status == 2) {
      short_files++;
    }
    total += r->total;
    pitch += r->pitch;
    step += r->step;
    duration += r->duration;
    velocity += r->velocity;
    windows += r->windows;
  }
  if (short_files)
    fprintf(stderr, "rnnjam: skipped %zu file(s) with fewer than %d notes\n",
            short_files, job.seq + 1);
  if (windows == 0) {
    tool_error("eval: no file had %d notes or more: nothing to evaluate",
               job.seq + 1);
    goto done;
  }
  total /= (double)windows;
  pitch /= (double)windows;
  step /= (double)windows;
  duration /= (double)windows;
  velocity /= (double)windows;
  /* The velocity part only for a model that has the head: the tutorial's
   * output stays as it was. */
  if (json && rnj_net_has_velocity(net))
    printf("{\"windows\": %zu, \"loss\": %.9g, \"pitch\": %.9g, "
           "\"step\": %.9g, \"duration\": %.9g, \"velocity\": %.9g}\n",
           windows, total, pitch, step, duration, velocity);
  else if (json)
    printf("{\"windows\": %zu, \"loss\": %.9g, \"pitch\": %.9g, "
           "\"step\": %.9g, \"duration\": %.9g}\n",
           windows, total, pitch, step, duration);
  else if (rnj_net_has_velocity(net))
    printf("files: %zu (%zu unreadable, %zu too short)\n"
           "windows: %zu\n"
           "loss: %.6f (cross-entropy: pitch %.6f, step %.6f, duration "
           "%.6f, velocity %.6f)\n",
           files.n, unreadable, short_files, windows, total, pitch, step,
           duration, velocity);
  else
    printf("files: %zu (%zu unreadable, %zu too short)\n"
           "windows: %zu\n"
           "loss: %.6f (pitch %.6f, step %.6f, duration %.6f)\n",
           files.n, unreadable, short_files, windows, total, pitch, step,
           duration);
  rc = 0;

done:
  free(job.results);
  rnj_net_delete(net);
  rnj_files_free(&files);
  return rc;
}
