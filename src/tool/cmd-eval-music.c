/* rnnjam eval --music: does a model play like music, in the seed's key
 * and on its beat?
 *
 * For each file the model continues its first seq_length notes with N
 * notes (gen.c, as rnnjam generate does), in every transposition of the
 * seed from -6 to +5 semitones; the file's real continuation (its next N
 * notes, transposed alike) is measured beside it with the same measures
 * (music.h): in-key share for the seed's key, onsets on the seed's 8th and
 * 16th grid at the tempo in force at its last onset, tempo ratio, chord
 * share, pitch classes, velocity spread, melodic intervals within a fifth.
 * A transposition is left out when the seed or the real continuation
 * would leave MIDI's 0..127.  Per file: mean, min and max over the
 * transpositions; in total: the mean of the files' means, and the min and
 * max over every file and transposition.
 *
 * Each transposition draws from its own generator, seeded from --seed and
 * the shift alone, so a file's figures do not depend on which other files
 * are measured with it.
 */
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define SHIFT_LO (-6)
#define SHIFT_HI 5
#define NSHIFT (SHIFT_HI - SHIFT_LO + 1)
#define MAX_NOTES 100000

enum { MODEL = 0, REAL = 1 };

static const struct {
  const char *name;
  size_t off;
} metrics[] = {
    {"in_key", offsetof(rnj_music_stats_t, in_key)},
    {"grid8", offsetof(rnj_music_stats_t, grid8)},
    {"grid16", offsetof(rnj_music_stats_t, grid16)},
    {"tempo_ratio", offsetof(rnj_music_stats_t, tempo_ratio)},
    {"chords", offsetof(rnj_music_stats_t, chords)},
    {"pitch_classes", offsetof(rnj_music_stats_t, pitch_classes)},
    {"velocity_sd", offsetof(rnj_music_stats_t, velocity_sd)},
    {"velocity_range", offsetof(rnj_music_stats_t, velocity_range)},
    {"fifths", offsetof(rnj_music_stats_t, small_intervals)},
};
#define NMETRICS (sizeof metrics / sizeof metrics[0])

static double metric(const rnj_music_stats_t *s, size_t m) {
  return *(const double *)((const char *)s + metrics[m].off);
}

/* Mean, min and max of the values that are not NaN. */
typedef struct {
  double sum, min, max;
  size_t n;
} acc_t;

static void acc_init(acc_t *a) {
  a->sum = 0;
  a->min = INFINITY;
  a->max = -INFINITY;
  a->n = 0;
}

static void acc_add(acc_t *a, double v) {
  if (isnan(v))
    return;
  a->sum += v;
  a->min = v < a->min ? v : a->min;
  a->max = v > a->max ? v : a->max;
  a->n++;
}

static double acc_mean(const acc_t *a) {
  return a->n ? a->sum / (double)a->n : NAN;
}

typedef struct {
  int ok; /* measured */
  rnj_music_stats_t s[2];
} run_t;

typedef struct {
  int status; /* 0 measured, 1 skipped (err says why) */
  char err[RNJ_ERR_LEN];
  rnj_key_t key;
  double bpm;
  size_t real_n; /* notes of the real continuation */
  run_t run[NSHIFT];
  acc_t acc[2][NMETRICS]; /* over the transpositions */
} file_t;

typedef struct {
  const rnj_net_t *net;
  int seq;
  int instrument;
  long n;
  int stream;
  uint64_t seed;
  double pitch_temperature;
  double time_temperature;
  long top_k;
  double top_p;
} job_t;

/* The notes of `src` moved by `shift` semitones into `dst` (n of them);
 * 0 if one would leave 0..127. */
static int transpose(rnj_note_t *dst, const rnj_note_t *src, size_t n,
                     int shift) {
  size_t i;
  for (i = 0; i < n; i++) {
    int p = src[i].pitch + shift;
    if (p < 0 || p > 127)
      return 0;
    dst[i] = src[i];
    dst[i].pitch = (uint8_t)p;
  }
  return 1;
}

static void measure_file(const job_t *job, const char *path, file_t *r) {
  rnj_smf_t smf;
  rnj_notes_t notes;
  rnj_notes_t gen;
  rnj_note_t *buf = NULL;
  size_t seq = (size_t)job->seq;
  const rnj_note_t *last;
  int have_key = 0;
  int k;
  int m;
  int rc;

  memset(&smf, 0, sizeof smf);
  rnj_notes_init(&notes);
  rnj_notes_init(&gen);
  for (k = 0; k < 2; k++)
    for (m = 0; m < (int)NMETRICS; m++)
      acc_init(&r->acc[k][m]);
  r->status = 1;
  if (rnj_smf_read_file(&smf, path, r->err) < 0 ||
      rnj_notes_from_smf(&notes, &smf, job->instrument, r->err) < 0)
    goto done;
  if (notes.n < seq + 1) {
    snprintf(r->err, sizeof r->err,
             "%s: %zu notes, fewer than the %zu of a seed and one more",
             path, notes.n, seq + 1);
    goto done;
  }
  r->real_n = notes.n - seq < (size_t)job->n ? notes.n - seq
                                              : (size_t)job->n;
  last = &notes.v[seq - 1];
  /* The tempo in force at the seed's last onset: its beats give its tick
   * exactly (SMPTE files: 120 bpm). */
  r->bpm = rnj_smf_bpm(&smf, rnj_smf_beat_ticks(&smf, last->start_beat));
  buf = malloc((seq + r->real_n) * sizeof *buf);
  if (!buf) {
    snprintf(r->err, sizeof r->err, "%s: out of memory", path);
    goto done;
  }
  for (k = 0; k < NSHIFT; k++) {
    int shift = SHIFT_LO + k;
    run_t *run = &r->run[k];
    rnj_music_seed_t seed;
    rnj_sampler_t sampler;
    gen_opts_t go;

    if (!transpose(buf, notes.v, seq + r->real_n, shift))
      continue;
    rc = rnj_music_seed_init(&seed, buf, seq, r->bpm, 0);
    if (rc == RNJ_EINVAL) {
      snprintf(r->err, sizeof r->err,
               "%s: the seed has no key (its pitch classes are all alike)",
               path);
      goto done;
    }
    if (rc < 0)
      goto nomem;
    /* The key reported is the untransposed seed's (or the first
     * measured one's, when shift 0 is left out). */
    if (shift == 0 || !have_key)
      r->key = seed.key;
    have_key = 1;
    /* The real continuation: notes of a file, chords at 0 ticks. */
    if (rnj_music_measure(&run->s[REAL], &seed, buf + seq, r->real_n, 0,
                          RNJ_MUSIC_GRID_TOL_S) < 0)
      goto nomem;

    rnj_sampler_init(&sampler, job->seed * 1000003u + (uint64_t)k);
    sampler.pitch_temperature = (float)job->pitch_temperature;
    sampler.time_temperature = (float)job->time_temperature;
    sampler.top_k = (int)job->top_k;
    sampler.top_p = (float)job->top_p;
    go.n = job->n;
    go.stream = job->stream;
    go.origin = seed.last_start;
    go.tempo_map = &smf;
    if (gen_continue(job->net, &sampler, buf, job->seq, &go, &gen) < 0)
      goto nomem;
    if (rnj_music_measure(&run->s[MODEL], &seed, gen.v, gen.n,
                          RNJ_MUSIC_ZERO_S, RNJ_MUSIC_GRID_TOL_S) < 0)
      goto nomem;
    run->ok = 1;
    for (m = 0; m < (int)NMETRICS; m++) {
      acc_add(&r->acc[MODEL][m], metric(&run->s[MODEL], (size_t)m));
      acc_add(&r->acc[REAL][m], metric(&run->s[REAL], (size_t)m));
    }
  }
  for (k = 0; k < NSHIFT && !r->run[k].ok; k++)
    ;
  if (k == NSHIFT) {
    snprintf(r->err, sizeof r->err,
             "%s: no transposition keeps the notes in 0..127", path);
    goto done;
  }
  r->status = 0;
  goto done;

nomem:
  snprintf(r->err, sizeof r->err, "%s: out of memory", path);
done:
  free(buf);
  rnj_notes_free(&gen);
  rnj_notes_free(&notes);
  rnj_smf_free(&smf);
}

/* ------------------------------------------------------------- output */

static void json_num(double v) {
  if (isnan(v) || isinf(v))
    printf("null");
  else
    printf("%.6g", v);
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void json_stats(const rnj_music_stats_t *s) {
  size_t m;
  printf("{\"notes\": %zu", s->n);
  for (m = 0; m < NMETRICS; m++) {
    printf(", \"%s\": ", metrics[m].name);
    json_num(metric(s, m));
  }
  putchar('}');
}

static void json_acc(const acc_t *a) {
  size_t m;
  putchar('{');
  for (m = 0; m < NMETRICS; m++) {
    printf("%s\"%s\": {\"mean\": ", m ? ", " : "", metrics[m].name);
    json_num(acc_mean(&a[m]));
    printf(", \"min\": ");
    json_num(a[m].n ? a[m].min : NAN);
    printf(", \"max\": ");
    json_num(a[m].n ? a[m].max : NAN);
    putchar('}');
  }
  putchar('}');
}

static void text_value(double v) {
  if (isnan(v) || isinf(v))
    printf("  %6s", "-");
  else
    printf("  %6.3f", v);
}

static void text_table(const acc_t *model, const acc_t *real) {
  size_t m;
  printf("  %-15s %-24s %s\n", "", "model", "real");
  printf("  %-15s  %6s  %6s  %6s   %6s  %6s  %6s\n", "", "mean", "min",
         "max", "mean", "min", "max");
  for (m = 0; m < NMETRICS; m++) {
    printf("  %-15s", metrics[m].name);
    text_value(acc_mean(&model[m]));
    text_value(model[m].n ? model[m].min : NAN);
    text_value(model[m].n ? model[m].max : NAN);
    putchar(' ');
    text_value(acc_mean(&real[m]));
    text_value(real[m].n ? real[m].min : NAN);
    text_value(real[m].n ? real[m].max : NAN);
    putchar('\n');
  }
}

static void help(FILE *f) {
  fprintf(f,
      "usage: rnnjam eval --music [CKPT] FILE_OR_DIR... [options]\n\n"
      "Judge a model as music: it continues the first seq_length notes of\n"
      "each file in all 12 transpositions (-6..+5 semitones; one is left\n"
      "out where the seed or the file's next notes would leave MIDI's\n"
      "0..127), and each generation and the file's real continuation\n"
      "(its next notes, transposed alike) are measured:\n"
      "  in_key          notes in the seed's key (Krumhansl-Kessler,\n"
      "                  natural minor)\n"
      "  grid8, grid16   onsets within 25 ms of the seed's 8th/16th grid\n"
      "                  (on the beat of its last onset, at the file's\n"
      "                  tempo there)\n"
      "  tempo_ratio     median non-zero step / the seed's\n"
      "  chords          zero steps (< 1 ms generated, 0 ticks in files)\n"
      "  pitch_classes   pitch classes used\n"
      "  velocity_sd, velocity_range   of the given velocities\n"
      "  fifths          successive notes at most 7 semitones apart\n"
      "Per file: mean, min and max over the transpositions; in total: the\n"
      "mean of the files' means, min and max over all, and each\n"
      "transposition's mean over the files (a good model is flat across\n"
      "keys).\n\n"
      "  --notes N           notes to generate and compare (default 64)\n"
      "  --pitch-temperature T  (or --temperature) for the pitch; default\n"
      "                      the model's: 2.0 for the tutorial's, 0.5 for\n"
      "                      a model in beats\n"
      "  --time-temperature T   for step, duration and velocity of a model\n"
      "                      in beats (default 0.5)\n"
      "  --top-k K           sample among the K likeliest pitches only\n"
      "  --top-p P           ... and among the likeliest whose\n"
      "                      probabilities reach P (0 < P <= 1; default\n"
      "                      1 for the tutorial's, 0.9 for a model in\n"
      "                      beats)\n"
      "  --seed S            random seed (default 1)\n"
      "  --mode window|stream  (default window, as rnnjam generate)\n"
      "  --instrument N      take notes from instrument N only\n"
      "  --per-transposition print every transposition, not only the\n"
      "                      summary\n"
      "  --json              print one JSON object with every figure\n");
}

int eval_music(int argc, char **argv) {
  enum { O_MUSIC = 256, O_NOTES, O_TEMP, O_TTEMP, O_TOPK, O_TOPP, O_SEED,
         O_MODE, O_INSTR, O_PER, O_JSON };
  static const struct option opts[] = {
      {"music", no_argument, 0, O_MUSIC},
      {"notes", required_argument, 0, O_NOTES},
      {"temperature", required_argument, 0, O_TEMP},
      {"pitch-temperature", required_argument, 0, O_TEMP},
      {"time-temperature", required_argument, 0, O_TTEMP},
      {"top-k", required_argument, 0, O_TOPK},
      {"top-p", required_argument, 0, O_TOPP},
      {"seed", required_argument, 0, O_SEED},
      {"mode", required_argument, 0, O_MODE},
      {"instrument", required_argument, 0, O_INSTR},
      {"per-transposition", no_argument, 0, O_PER},
      {"json", no_argument, 0, O_JSON},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  job_t job;
  const char *ckpt = NULL;
  long instrument = RNJ_NOTES_ALL_INSTRUMENTS;
  int json = 0;
  int per = 0;
  char err[RNJ_ERR_LEN];
  rnj_files_t files;
  rnj_net_t *net = NULL;
  double pitch_t = NAN;
  double time_temp = NAN;
  file_t *res = NULL;
  acc_t tot[2][NMETRICS];
  acc_t by_shift[NSHIFT][2][NMETRICS]; /* each shift over the files */
  int sh;
  size_t measured = 0;
  size_t runs = 0;
  size_t f;
  size_t m;
  int rc = 1;
  int c;

  memset(&job, 0, sizeof job);
  job.n = 64;
  job.seed = 1;
  job.top_p = NAN; /* the model's default */
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_MUSIC: break;
    case O_NOTES:
      if (parse_int("--notes", optarg, 1, MAX_NOTES, &job.n) < 0)
        return EXIT_USAGE;
      break;
    case O_TEMP:
      if (parse_double("--pitch-temperature", optarg, 1e-6, 1e6,
                       &pitch_t) < 0)
        return EXIT_USAGE;
      break;
    case O_TTEMP:
      if (parse_double("--time-temperature", optarg, 1e-6, 1e6,
                       &time_temp) < 0)
        return EXIT_USAGE;
      break;
    case O_TOPK:
      if (parse_int("--top-k", optarg, 0, 128, &job.top_k) < 0)
        return EXIT_USAGE;
      break;
    case O_TOPP:
      if (parse_double("--top-p", optarg, 1e-6, 1, &job.top_p) < 0)
        return EXIT_USAGE;
      break;
    case O_SEED:
      if (parse_u64("--seed", optarg, &job.seed) < 0)
        return EXIT_USAGE;
      break;
    case O_MODE:
      if (!strcmp(optarg, "stream"))
        job.stream = 1;
      else if (!strcmp(optarg, "window"))
        job.stream = 0;
      else {
        tool_error("--mode: expected window or stream, got '%s'", optarg);
        return EXIT_USAGE;
      }
      break;
    case O_INSTR:
      if (parse_int("--instrument", optarg, 0, 1000000, &instrument) < 0)
        return EXIT_USAGE;
      break;
    case O_PER: per = 1; break;
    case O_JSON: json = 1; break;
    case 'h': help(stdout); return 0;
    default: help(stderr); return EXIT_USAGE;
    }
  }
  job.instrument = (int)instrument;
  if (optind < argc && strlen(argv[optind]) > 12 &&
      !strcmp(argv[optind] + strlen(argv[optind]) - 12, ".safetensors"))
    ckpt = argv[optind++];
  if (optind >= argc) {
    tool_error("eval --music: expected MIDI files or folders (try "
               "'rnnjam eval --music --help')");
    return EXIT_USAGE;
  }
  if (!ckpt)
    ckpt = default_model_path();

  rnj_files_init(&files);
  if (rnj_files_collect(&files, argv + optind, argc - optind, err) < 0) {
    tool_error("%s", err);
    rnj_files_free(&files);
    return 1;
  }
  if (files.n == 0) {
    tool_error("eval --music: no .mid or .midi files found");
    rnj_files_free(&files);
    return 1;
  }
  if (load_net(ckpt, &net, RNJ_KERNEL_AUTO) < 0) {
    rnj_files_free(&files);
    return 1;
  }
  job.net = net;
  job.seq = rnj_net_seq_length(net);
  {
    double top_p;
    gen_sampling_defaults(net, &job.pitch_temperature, &job.time_temperature,
                          &top_p);
    if (isnan(job.top_p))
      job.top_p = top_p;
  }
  if (!isnan(pitch_t))
    job.pitch_temperature = pitch_t;
  if (!isnan(time_temp))
    job.time_temperature = time_temp;
  res = calloc(files.n, sizeof *res);
  if (!res) {
    tool_error("out of memory");
    goto done;
  }
  for (f = 0; f < files.n; f++)
    measure_file(&job, files.paths[f], &res[f]);

  for (m = 0; m < NMETRICS; m++) {
    acc_init(&tot[MODEL][m]);
    acc_init(&tot[REAL][m]);
    for (sh = 0; sh < NSHIFT; sh++) {
      acc_init(&by_shift[sh][MODEL][m]);
      acc_init(&by_shift[sh][REAL][m]);
    }
  }
  /* Totals: each file's mean counts once; min and max over every run. */
  for (f = 0; f < files.n; f++) {
    file_t *r = &res[f];
    int k;
    if (r->status) {
      fprintf(stderr, "rnnjam: skipped: %s\n", r->err);
      continue;
    }
    measured++;
    for (k = 0; k < NSHIFT; k++) {
      if (!r->run[k].ok)
        continue;
      runs++;
      for (c = 0; c < 2; c++)
        for (m = 0; m < NMETRICS; m++)
          acc_add(&by_shift[k][c][m], metric(&r->run[k].s[c], m));
    }
    for (c = 0; c < 2; c++)
      for (m = 0; m < NMETRICS; m++) {
        acc_t *t = &tot[c][m];
        double mean = acc_mean(&r->acc[c][m]);
        if (isnan(mean))
          continue;
        t->sum += mean;
        t->n++;
        t->min = r->acc[c][m].min < t->min ? r->acc[c][m].min : t->min;
        t->max = r->acc[c][m].max > t->max ? r->acc[c][m].max : t->max;
      }
  }
  if (!measured) {
    tool_error("eval --music: no file could be measured");
    goto done;
  }

  if (json) {
    int first = 1;
    printf("{\"model\": ");
    json_str(ckpt);
    printf(", \"seq_length\": %d, \"notes\": %ld, \"mode\": \"%s\", "
           "\"seed\": %llu, \"pitch_temperature\": ",
           job.seq, job.n, job.stream ? "stream" : "window",
           (unsigned long long)job.seed);
    json_num(job.pitch_temperature);
    printf(", \"time_temperature\": ");
    json_num(job.time_temperature);
    printf(", \"top_k\": %ld, \"top_p\": ", job.top_k);
    json_num(job.top_p);
    printf(", \"files\": [");
    for (f = 0; f < files.n; f++) {
      file_t *r = &res[f];
      int k;
      int fk = 1;
      if (r->status)
        continue;
      printf("%s\n  {\"file\": ", first ? "" : ",");
      first = 0;
      json_str(files.paths[f]);
      printf(", \"key\": \"%s\", \"key_r\": ", rnj_music_key_name(&r->key));
      json_num(r->key.r);
      printf(", \"bpm\": ");
      json_num(r->bpm);
      printf(", \"real_notes\": %zu, \"transpositions\": [", r->real_n);
      for (k = 0; k < NSHIFT; k++) {
        if (!r->run[k].ok)
          continue;
        printf("%s\n    {\"shift\": %d, \"model\": ", fk ? "" : ",",
               SHIFT_LO + k);
        fk = 0;
        json_stats(&r->run[k].s[MODEL]);
        printf(", \"real\": ");
        json_stats(&r->run[k].s[REAL]);
        putchar('}');
      }
      printf("],\n   \"summary\": {\"model\": ");
      json_acc(r->acc[MODEL]);
      printf(", \"real\": ");
      json_acc(r->acc[REAL]);
      printf("}}");
    }
    printf("],\n \"total\": {\"files\": %zu, \"runs\": %zu, \"model\": ",
           measured, runs);
    json_acc(tot[MODEL]);
    printf(", \"real\": ");
    json_acc(tot[REAL]);
    printf(",\n  \"by_transposition\": [");
    for (sh = 0; sh < NSHIFT; sh++) {
      printf("%s\n   {\"shift\": %d, \"files\": %zu, \"model\": ",
             sh ? "," : "", SHIFT_LO + sh, by_shift[sh][MODEL][0].n);
      json_acc(by_shift[sh][MODEL]);
      printf(", \"real\": ");
      json_acc(by_shift[sh][REAL]);
      putchar('}');
    }
    printf("]}}\n");
  } else {
    printf("model: %s (%s; seed notes %d, %ld notes generated, %s mode, "
           "pitch temperature %g, time temperature %g, top-k %ld, top-p "
           "%g, seed %llu)\n\n",
           ckpt, rnj_net_format(net), job.seq, job.n,
           job.stream ? "stream" : "window", job.pitch_temperature,
           job.time_temperature, job.top_k, job.top_p,
           (unsigned long long)job.seed);
    for (f = 0; f < files.n; f++) {
      file_t *r = &res[f];
      int k;
      int nk = 0;
      if (r->status)
        continue;
      for (k = 0; k < NSHIFT; k++)
        nk += r->run[k].ok;
      printf("%s: seed in %s (r %.2f) at %.1f bpm; %d of %d "
             "transpositions; real continuation %zu notes\n",
             files.paths[f], rnj_music_key_name(&r->key), r->key.r, r->bpm,
             nk, NSHIFT, r->real_n);
      text_table(r->acc[MODEL], r->acc[REAL]);
      if (per)
        for (k = 0; k < NSHIFT; k++) {
          if (!r->run[k].ok)
            continue;
          printf("  shift %+d:", SHIFT_LO + k);
          for (m = 0; m < NMETRICS; m++) {
            printf(" %s", metrics[m].name);
            text_value(metric(&r->run[k].s[MODEL], m));
            printf(" /");
            text_value(metric(&r->run[k].s[REAL], m));
          }
          putchar('\n');
        }
      putchar('\n');
    }
    printf("total: %zu file(s), %zu run(s); mean of the files' means, min "
           "and max of all runs\n",
           measured, runs);
    text_table(tot[MODEL], tot[REAL]);
    printf("\nby transposition, the mean over the files (model / real):\n");
    printf("  %-6s %5s", "shift", "files");
    for (m = 0; m < NMETRICS && m < 3; m++)
      printf("  %15s", metrics[m].name);
    putchar('\n');
    for (sh = 0; sh < NSHIFT; sh++) {
      printf("  %+-6d %5zu", SHIFT_LO + sh, by_shift[sh][MODEL][0].n);
      for (m = 0; m < NMETRICS && m < 3; m++) {
        text_value(acc_mean(&by_shift[sh][MODEL][m]));
        printf(" /");
        text_value(acc_mean(&by_shift[sh][REAL][m]));
      }
      putchar('\n');
    }
  }
  if (fflush(stdout) != 0 || ferror(stdout)) {
    tool_error("eval --music: writing to stdout failed");
    goto done;
  }
  rc = 0;

done:
  free(res);
  rnj_net_delete(net);
  rnj_files_free(&files);
  return rc;
}
