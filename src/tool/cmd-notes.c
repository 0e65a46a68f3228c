/* rnnjam notes: a MIDI file's notes as the tutorial's table, in CSV. */
#include <getopt.h>
#include <stdlib.h>

#include "tool.h"

static void help(FILE *f) {
  fprintf(f,
          "usage: rnnjam notes FILE.mid [--instrument N] [--beats] "
          "[--exact]\n\n"
          "Print the notes of FILE.mid as CSV on stdout, one per line:\n"
          "  pitch,start,end,step,duration   (seconds, 6 decimals)\n"
          "as the TensorFlow tutorial gets them from pretty_midi.\n\n"
          "  --instrument N  only the N-th instrument (pretty_midi's order;\n"
          "                  the tutorial used 0); default: every non-drum\n"
          "                  instrument merged, sorted by start\n"
          "  --beats         add start_beat,end_beat: onset and end in\n"
          "                  quarter notes (ticks / ticks per quarter,\n"
          "                  tempo-free; SMPTE files: seconds * 2)\n"
          "  --exact         print times with 17 significant digits (they\n"
          "                  read back to the same double) instead of 6\n"
          "                  decimals\n"
          "  -h, --help      this help\n");
}

/* One CSV field: 17 significant digits read back to the same double. */
static void put_time(double v, int exact) {
  if (exact)
    printf(",%.17g", v);
  else
    printf(",%.6f", v);
}

int cmd_notes(int argc, char **argv) {
  static const struct option opts[] = {
      {"instrument", required_argument, 0, 'i'},
      {"beats", no_argument, 0, 'b'},
      {"exact", no_argument, 0, 'x'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int beats = 0;
  int exact = 0;
  long instrument = RNJ_NOTES_ALL_INSTRUMENTS;
  char err[RNJ_ERR_LEN];
  rnj_notes_t notes;
  size_t i;
  int c;

  while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
    switch (c) {
    case 'i':
      if (parse_int("--instrument", optarg, 0, 1000000, &instrument) < 0)
        return EXIT_USAGE;
      break;
    case 'b':
      beats = 1;
      break;
    case 'x':
      exact = 1;
      break;
    case 'h':
      help(stdout);
      return 0;
    default:
      help(stderr);
      return EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    tool_error("notes: expected one MIDI file (try 'rnnjam notes --help')");
    return EXIT_USAGE;
  }
  rnj_notes_init(&notes);
  if (rnj_notes_from_file(&notes, argv[optind], (int)instrument, err) < 0) {
    tool_error("%s", err);
    return 1;
  }
  /* The default table stays the tutorial's, column for column. */
  printf("pitch,start,end,step,duration%s\n",
         beats ? ",start_beat,end_beat" : "");
  for (i = 0; i < notes.n; i++) {
    const rnj_note_t *n = &notes.v[i];
    printf("%d", n->pitch);
    put_time(n->start, exact);
    put_time(n->end, exact);
    put_time(n->step, exact);
    put_time(n->duration, exact);
    if (beats) {
      put_time(n->start_beat, exact);
      put_time(n->end_beat, exact);
    }
    putchar('\n');
  }
  rnj_notes_free(&notes);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    tool_error("notes: writing to stdout failed");
    return 1;
  }
  return 0;
}
