/* rnnjam: the offline tool.  Parses the sub-command and hands over; each
 * sub-command lives in its own cmd-*.c file. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tool.h"

static const struct {
  const char *name;
  cmd_fn fn;
  const char *summary;
} commands[] = {
    {"notes", cmd_notes, "print a MIDI file's notes as CSV"},
    {"generate", cmd_generate, "continue a MIDI file with the model"},
    {"eval", cmd_eval, "the model's loss over MIDI files"},
    {"inspect", cmd_inspect, "show a checkpoint's tensors and metadata"},
    {"bench", cmd_bench, "measure inference speed"},
    {"plot", cmd_plot, "draw a piano roll, note histograms or loss curves"},
    {"render", cmd_render, "play a MIDI file through fluidsynth into a WAV"},
};

static void usage(FILE *f) {
  size_t i;
  fprintf(f, "usage: rnnjam COMMAND [ARGS...]\n\ncommands:\n");
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'rnnjam COMMAND --help' describes each one.\n"
             "  --version  print the version\n");
}

int main(int argc, char **argv) {
  size_t i;
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
    printf("rnnjam %s\n", PACKAGE_VERSION);
    return 0;
  }
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].fn(argc - 1, argv + 1);
  tool_error("unknown command '%s' (try 'rnnjam --help')", argv[1]);
  return EXIT_USAGE;
}
