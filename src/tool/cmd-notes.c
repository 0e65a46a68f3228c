/* rnnjam notes: a MIDI file's notes as the tutorial's table, in CSV. */
#include <getopt.h>
#include <stdlib.h>

#include "tool.h"

static void help(FILE *f) {
  fprintf(f,
          "usage: rnnjam notes FILE.mid [--instrument N]\n\n"
          "Print the notes of FILE.mid as CSV on stdout, one per line:\n"
          "  pitch,start,end,step,duration   (seconds, 6 decimals)\n"
          "as the TensorFlow tutorial gets them from pretty_midi.\n\n"
          "  --instrument N  only the N-th instrument (pretty_midi's order;\n"
          "                  the tutorial used 0); default: every non-drum\n"
          "                  instrument merged, sorted by start\n"
          "  -h, --help      this help\n");
}

int cmd_notes(int argc, char **argv) {
  static const struct option opts[] = {{"instrument", required_argument, 0, 'i'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
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
  printf("pitch,start,end,step,duration\n");
  for (i = 0; i < notes.n; i++) {
    const rnj_note_t *n = &notes.v[i];
    printf("%d,%.6f,%.6f,%.6f,%.6f\n", n->pitch, n->start, n->end, n->step,
           n->duration);
  }
  rnj_notes_free(&notes);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    tool_error("notes: writing to stdout failed");
    return 1;
  }
  return 0;
}
