/* rnnjam render: a MIDI file to a WAV file through fluidsynth. */
#include <getopt.h>
#include <stdlib.h>

#include "tool.h"

static void help(FILE *f) {
  fprintf(f,
      "usage: rnnjam render IN.mid OUT.wav [--soundfont F] [--rate HZ]\n"
      "                     [--program P] [--gain G] [--tail S]\n\n"
      "Play IN.mid through fluidsynth and write the sound to OUT.wav\n"
      "(16-bit stereo), as fast as the CPU allows.  OUT.wav appears only\n"
      "once complete.\n\n"
      "  --soundfont F   the SoundFont (default: the first found of\n"
      "                  /usr/share/sounds/sf2/FluidR3_GM.sf2, TimGM6mb.sf2,\n"
      "                  default-GM.sf2)\n"
      "  --rate HZ       sample rate (default 44100)\n"
      "  --program P     General MIDI program 0..127 for every melodic\n"
      "                  channel (default: the file's own)\n"
      "  --gain G        output gain 0..10 (default %.1f)\n"
      "  --tail S        seconds of release rendered after the music at\n"
      "                  most (default 5; less when the notes end sooner)\n"
      "  -h, --help      this help\n", RNJ_SYNTH_DEFAULT_GAIN);
}

/* Options shared with generate --wav: returns 1 if `c` was one of them,
 * -1 on a bad value, 0 otherwise. */
int render_option(int c, const char *arg, rnj_render_opts_t *o) {
  long v;
  double d;
  switch (c) {
  case RENDER_O_SOUNDFONT:
    o->soundfont = arg;
    return 1;
  case RENDER_O_RATE:
    if (parse_int("--rate", arg, 8000, 192000, &v) < 0)
      return -1;
    o->sample_rate = (int)v;
    return 1;
  case RENDER_O_GAIN:
    if (parse_double("--gain", arg, 0, 10, &d) < 0)
      return -1;
    o->gain = d;
    return 1;
  case RENDER_O_TAIL:
    if (parse_double("--tail", arg, 0, 600, &d) < 0)
      return -1;
    o->max_tail = d;
    return 1;
  default:
    return 0;
  }
}

int cmd_render(int argc, char **argv) {
  static const struct option opts[] = {
      {"soundfont", required_argument, 0, RENDER_O_SOUNDFONT},
      {"rate", required_argument, 0, RENDER_O_RATE},
      {"gain", required_argument, 0, RENDER_O_GAIN},
      {"tail", required_argument, 0, RENDER_O_TAIL},
      {"program", required_argument, 0, 'p'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  char err[RNJ_ERR_LEN];
  rnj_render_opts_t o;
  rnj_render_info_t info;
  long program;
  int c;
  int r;

  rnj_render_opts_init(&o);
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    r = render_option(c, optarg, &o);
    if (r < 0)
      return EXIT_USAGE;
    if (r > 0)
      continue;
    switch (c) {
    case 'p':
      if (parse_int("--program", optarg, 0, 127, &program) < 0)
        return EXIT_USAGE;
      o.program = (int)program;
      break;
    case 'h':
      help(stdout);
      return 0;
    default:
      help(stderr);
      return EXIT_USAGE;
    }
  }
  if (optind != argc - 2) {
    tool_error("render: expected IN.mid and OUT.wav (try 'rnnjam render "
               "--help')");
    return EXIT_USAGE;
  }
  if (rnj_synth_render_midi(argv[optind], argv[optind + 1], &o, &info,
                            err) < 0) {
    tool_error("%s", err);
    return 1;
  }
  fprintf(stderr,
          "rnnjam: wrote %s: %.2f s (music %.2f s) at %d Hz with %s\n",
          argv[optind + 1], info.seconds, info.music_seconds,
          o.sample_rate, info.soundfont);
  return 0;
}
