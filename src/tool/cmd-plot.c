/* rnnjam plot: pictures of MIDI files and of a training run.
 *
 *   roll  a piano roll of one file, or of a seed above its generation;
 *   dist  histograms of pitch, step and duration over files or folders;
 *   loss  the trainer's per-epoch curves from its --log JSONL.
 *
 * The drawing is the library's (plot.h); this file reads the inputs,
 * names the panels and maps failures to exit codes.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tool.h"

static void help(FILE *f) {
  fprintf(
      f,
      "usage: rnnjam plot roll FILE.mid [--compare GENERATED.mid]\n"
      "                        [--seconds N] -o OUT.png|OUT.svg\n"
      "       rnnjam plot dist FILE_OR_DIR... [--compare FILE_OR_DIR]\n"
      "                        [--clip] -o OUT.png|OUT.svg\n"
      "       rnnjam plot loss TRAIN.jsonl -o OUT.png|OUT.svg\n\n"
      "Draw a picture as a PNG or an SVG (by the output's extension).\n\n"
      "  roll   a piano roll: time across, pitch up, one bar per note,\n"
      "         darker for louder; with --compare, a second file below\n"
      "         the first on the same scales (a seed and its generation)\n"
      "  dist   histograms of pitch, step and duration of every note in\n"
      "         the files and folders (searched for .mid/.midi); with\n"
      "         --compare, a second set overlaid, as percentages\n"
      "  loss   training and validation loss per epoch, total and parts,\n"
      "         from the JSONL that 'rnnjam-train --log' writes\n\n"
      "  -o, --output OUT       the picture (.png or .svg); required\n"
      "  --width W, --height H  its size in pixels (%d..%d; defaults:\n"
      "                         roll 1200x480 or 1200x800, dist 1200x420,\n"
      "                         loss 1100x720)\n"
      "  --title TEXT           a title (dist, loss)\n"
      "  --compare PATH         roll, dist: the second file or set\n"
      "  --seconds N            roll: only the first N seconds\n"
      "  --clip                 dist: leave out the longest 2.5%% of steps\n"
      "                         and durations, as the tutorial does\n"
      "  --clip-percentile P    dist: leave out those above the P-th\n"
      "                         percentile instead\n"
      "  --step-max S, --duration-max S\n"
      "                         dist: fixed axis limits in seconds\n"
      "  --bins N               dist: bars for step and duration (20)\n"
      "  --velocity             dist: a fourth panel, velocity (a model\n"
      "                         that plays dynamics; default width 1560)\n"
      "  --instrument N         roll, dist: only the N-th instrument\n"
      "                         (default: every non-drum instrument)\n"
      "  -h, --help             this help\n",
      RNJ_PLOT_MIN_SIZE, RNJ_PLOT_MAX_SIZE);
}

enum {
  OPT_WIDTH = 256,
  OPT_HEIGHT,
  OPT_TITLE,
  OPT_COMPARE,
  OPT_SECONDS,
  OPT_CLIP,
  OPT_CLIP_PCT,
  OPT_STEP_MAX,
  OPT_DURATION_MAX,
  OPT_BINS,
  OPT_INSTRUMENT,
  OPT_VELOCITY
};

typedef struct {
  const char *out;
  const char *title;
  const char *compare;
  long width;
  long height;
  double seconds;
  double clip;
  double step_max;
  double duration_max;
  long bins;
  long instrument;
  int velocity;
} args_t;

/* The file's name without its folders, for a panel's title. */
static void base_name(const char *path, char *out, size_t len) {
  size_t n = strlen(path);
  size_t b;
  while (n > 1 && path[n - 1] == '/')
    n--;
  b = n;
  while (b > 0 && path[b - 1] != '/')
    b--;
  snprintf(out, len, "%.*s", (int)(n - b), path + b);
}

/* The notes of every MIDI file named by `args` (files or folders), in
 * one list.  With one file, a failure to read it is an error; with many,
 * unreadable files are skipped with a warning each.  `label` names the
 * set: the file's name, or the folder's with its file count. */
static int load_set(char *const *args, int nargs, int instrument,
                    rnj_notes_t *all, char *label, size_t label_len) {
  char err[RNJ_ERR_LEN];
  rnj_files_t files;
  rnj_notes_t one;
  size_t skipped = 0;
  size_t i;
  size_t j;
  int rc = -1;

  rnj_files_init(&files);
  rnj_notes_init(&one);
  if (rnj_files_collect(&files, args, nargs, err) < 0) {
    tool_error("%s", err);
    goto out;
  }
  if (files.n == 0) {
    tool_error("plot: no .mid or .midi file in %s%s", args[0],
               nargs > 1 ? " and the rest" : "");
    goto out;
  }
  for (i = 0; i < files.n; i++) {
    if (rnj_notes_from_file(&one, files.paths[i], instrument, err) < 0) {
      if (files.n == 1) {
        tool_error("%s", err);
        goto out;
      }
      fprintf(stderr, "rnnjam: skipped: %s\n", err);
      skipped++;
      continue;
    }
    /* Steps stay each file's own: a file's first note has step 0, not
     * the gap since the previous file. */
    for (j = 0; j < one.n; j++) {
      int e = rnj_notes_push(all, &one.v[j]);
      if (e < 0) {
        tool_error("plot: %s: %s (at most %zu notes in all)",
                   files.paths[i], rnj_strerror(e), (size_t)RNJ_NOTES_MAX);
        goto out;
      }
    }
  }
  if (all->n == 0) {
    tool_error("plot: %s: no notes%s",
               files.n == 1 ? files.paths[0] : args[0],
               skipped ? " (every file was skipped)" : "");
    goto out;
  }
  if (files.n == 1 && nargs == 1) {
    base_name(files.paths[0], label, label_len);
  } else {
    char first[256];
    base_name(args[0], first, sizeof first);
    snprintf(label, label_len, "%s%s (%zu files)", first,
             nargs > 1 ? " and more" : "", files.n - skipped);
  }
  rc = 0;
out:
  rnj_notes_free(&one);
  rnj_files_free(&files);
  return rc;
}

static int plot_roll(const args_t *a, char *const *files, int nfiles) {
  rnj_plot_roll_opts_t o;
  rnj_notes_t notes[2];
  char label[2][300];
  char err[RNJ_ERR_LEN];
  char *cmp[1];
  int rc = 1;

  if (nfiles != 1) {
    tool_error("plot roll: expected one MIDI file (try 'rnnjam plot "
               "--help')");
    return EXIT_USAGE;
  }
  rnj_notes_init(&notes[0]);
  rnj_notes_init(&notes[1]);
  memset(&o, 0, sizeof o);
  if (load_set(files, 1, (int)a->instrument, &notes[0], label[0],
               sizeof label[0]) < 0)
    goto out;
  if (a->compare) {
    cmp[0] = (char *)a->compare;
    if (load_set(cmp, 1, (int)a->instrument, &notes[1], label[1],
                 sizeof label[1]) < 0)
      goto out;
    o.label[1] = label[1];
  }
  o.label[0] = label[0];
  o.width = (int)a->width;
  o.height = (int)a->height;
  o.seconds = a->seconds;
  if (rnj_plot_roll(a->out, &notes[0], a->compare ? &notes[1] : NULL, &o,
                    err) < 0) {
    tool_error("%s", err);
    goto out;
  }
  rc = 0;
out:
  rnj_notes_free(&notes[0]);
  rnj_notes_free(&notes[1]);
  return rc;
}

static int plot_dist(const args_t *a, char *const *files, int nfiles) {
  rnj_plot_dist_opts_t o;
  rnj_notes_t notes[2];
  char label[2][300];
  char err[RNJ_ERR_LEN];
  char *cmp[1];
  int rc = 1;

  if (nfiles < 1) {
    tool_error("plot dist: expected MIDI files or folders (try 'rnnjam "
               "plot --help')");
    return EXIT_USAGE;
  }
  rnj_notes_init(&notes[0]);
  rnj_notes_init(&notes[1]);
  memset(&o, 0, sizeof o);
  if (load_set(files, nfiles, (int)a->instrument, &notes[0], label[0],
               sizeof label[0]) < 0)
    goto out;
  if (a->compare) {
    cmp[0] = (char *)a->compare;
    if (load_set(cmp, 1, (int)a->instrument, &notes[1], label[1],
                 sizeof label[1]) < 0)
      goto out;
    o.label[1] = label[1];
  }
  o.label[0] = label[0];
  o.width = (int)a->width;
  o.height = (int)a->height;
  o.title = a->title;
  o.clip_percentile = a->clip;
  o.step_max = a->step_max;
  o.duration_max = a->duration_max;
  o.bins = (int)a->bins;
  o.velocity = a->velocity;
  if (rnj_plot_dist(a->out, &notes[0], a->compare ? &notes[1] : NULL, &o,
                    err) < 0) {
    tool_error("%s", err);
    goto out;
  }
  rc = 0;
out:
  rnj_notes_free(&notes[0]);
  rnj_notes_free(&notes[1]);
  return rc;
}

static int plot_loss(const args_t *a, char *const *files, int nfiles) {
  rnj_plot_loss_opts_t o;
  rnj_plot_losses_t losses;
  char err[RNJ_ERR_LEN];
  int rc = 1;

  if (nfiles != 1) {
    tool_error("plot loss: expected one JSONL log (try 'rnnjam plot "
               "--help')");
    return EXIT_USAGE;
  }
  memset(&o, 0, sizeof o);
  o.width = (int)a->width;
  o.height = (int)a->height;
  o.title = a->title;
  rnj_plot_losses_init(&losses);
  if (rnj_plot_losses_read(&losses, files[0], err) < 0 ||
      rnj_plot_loss(a->out, &losses, &o, err) < 0) {
    tool_error("%s", err);
    goto out;
  }
  rc = 0;
out:
  rnj_plot_losses_free(&losses);
  return rc;
}

int cmd_plot(int argc, char **argv) {
  static const struct option opts[] = {
      {"output", required_argument, 0, 'o'},
      {"width", required_argument, 0, OPT_WIDTH},
      {"height", required_argument, 0, OPT_HEIGHT},
      {"title", required_argument, 0, OPT_TITLE},
      {"compare", required_argument, 0, OPT_COMPARE},
      {"seconds", required_argument, 0, OPT_SECONDS},
      {"clip", no_argument, 0, OPT_CLIP},
      {"clip-percentile", required_argument, 0, OPT_CLIP_PCT},
      {"step-max", required_argument, 0, OPT_STEP_MAX},
      {"duration-max", required_argument, 0, OPT_DURATION_MAX},
      {"bins", required_argument, 0, OPT_BINS},
      {"instrument", required_argument, 0, OPT_INSTRUMENT},
      {"velocity", no_argument, 0, OPT_VELOCITY},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *kind;
  const char *ext;
  args_t a;
  int c;

  if (argc < 2 || argv[1][0] == '-') {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
      help(stdout);
      return 0;
    }
    tool_error("plot: expected roll, dist or loss (try 'rnnjam plot "
               "--help')");
    return EXIT_USAGE;
  }
  kind = argv[1];
  if (strcmp(kind, "roll") && strcmp(kind, "dist") && strcmp(kind, "loss")) {
    tool_error("plot: unknown kind '%s': expected roll, dist or loss", kind);
    return EXIT_USAGE;
  }
  memset(&a, 0, sizeof a);
  a.instrument = RNJ_NOTES_ALL_INSTRUMENTS;
  argc--;
  argv++;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o':
      a.out = optarg;
      break;
    case OPT_WIDTH:
      if (parse_int("--width", optarg, RNJ_PLOT_MIN_SIZE, RNJ_PLOT_MAX_SIZE,
                    &a.width) < 0)
        return EXIT_USAGE;
      break;
    case OPT_HEIGHT:
      if (parse_int("--height", optarg, RNJ_PLOT_MIN_SIZE, RNJ_PLOT_MAX_SIZE,
                    &a.height) < 0)
        return EXIT_USAGE;
      break;
    case OPT_TITLE:
      a.title = optarg;
      break;
    case OPT_COMPARE:
      a.compare = optarg;
      break;
    case OPT_SECONDS:
      if (parse_double("--seconds", optarg, 1e-3, 1e6, &a.seconds) < 0)
        return EXIT_USAGE;
      break;
    case OPT_CLIP:
      if (a.clip == 0)
        a.clip = 97.5;
      break;
    case OPT_CLIP_PCT:
      if (parse_double("--clip-percentile", optarg, 1, 99.99, &a.clip) < 0)
        return EXIT_USAGE;
      break;
    case OPT_STEP_MAX:
      if (parse_double("--step-max", optarg, 1e-3, 1e6, &a.step_max) < 0)
        return EXIT_USAGE;
      break;
    case OPT_DURATION_MAX:
      if (parse_double("--duration-max", optarg, 1e-3, 1e6,
                       &a.duration_max) < 0)
        return EXIT_USAGE;
      break;
    case OPT_BINS:
      if (parse_int("--bins", optarg, 1, 1000, &a.bins) < 0)
        return EXIT_USAGE;
      break;
    case OPT_INSTRUMENT:
      if (parse_int("--instrument", optarg, 0, 1000000, &a.instrument) < 0)
        return EXIT_USAGE;
      break;
    case OPT_VELOCITY:
      a.velocity = 1;
      break;
    case 'h':
      help(stdout);
      return 0;
    default:
      help(stderr);
      return EXIT_USAGE;
    }
  }
  ext = a.out ? strrchr(a.out, '.') : NULL;
  if (!ext || (strcasecmp(ext, ".png") && strcasecmp(ext, ".svg"))) {
    tool_error("plot %s: expected -o OUT.png or -o OUT.svg%s%s%s", kind,
               a.out ? ", got '" : "", a.out ? a.out : "", a.out ? "'" : "");
    return EXIT_USAGE;
  }
  if (!strcmp(kind, "roll"))
    return plot_roll(&a, argv + optind, argc - optind);
  if (!strcmp(kind, "dist"))
    return plot_dist(&a, argv + optind, argc - optind);
  return plot_loss(&a, argv + optind, argc - optind);
}
