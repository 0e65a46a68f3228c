/* rnnjam generate: the tutorial's generation, into a MIDI file.
 *
 * The model is seeded with the first seq_length notes of a MIDI file; each
 * generated note (drawn by rnj_net_sample: for the tutorial's model the
 * pitch at the given temperature, step and duration clamped at 0) joins
 * the context like the seed's notes (with the tutorial's model the pitch
 * is scaled by 1/128, which the tutorial's code forgets; we do not).
 * start = previous start + step, end = start + duration.
 *
 * A model that counts in beats hears the seed's seconds at 120 bpm
 * (model_time below), the rule for files without a tempo-free division,
 * until the notes carry their own beats.
 *
 * Two ways to run the model: "window" re-runs the last seq_length notes from
 * a zero state for every prediction (what the model was trained on);
 * "stream" carries (h, c) and costs one LSTM step per note (what rnnjamd
 * does live).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

#define MAX_NOTES 1000000

/* Seconds in the model's unit, and back (120 bpm for a beats model). */
static double model_time(const rnj_net_t *net, double seconds) {
  return rnj_net_unit(net) == RNJ_NET_BEATS ? seconds * 2.0 : seconds;
}

static double seconds_of(const rnj_net_t *net, double t) {
  return rnj_net_unit(net) == RNJ_NET_BEATS ? t / 2.0 : t;
}

/* A note read from a file, as the model hears it. */
static void net_note(const rnj_net_t *net, const rnj_note_t *n,
                     rnj_net_note_t *m) {
  m->onset = model_time(net, n->start);
  m->step = model_time(net, n->step);
  m->duration = model_time(net, n->duration);
  m->pitch = n->pitch;
  m->velocity = n->velocity;
}

static void help(FILE *f) {
  fprintf(f,
      "usage: rnnjam generate [CKPT] [--seed-midi FILE.mid] [-o OUT.mid]\n"
      "                       [--wav OUT.wav] [options]\n\n"
      "Continue the first notes of a MIDI file with the model and write the\n"
      "generated notes as MIDI.  CKPT defaults to the installed model (or\n"
      "$RNNJAM_MODEL); FILE.mid defaults to the bundled seed phrase.\n\n"
      "  --seed-midi FILE    the file whose first notes seed the model\n"
      "  --instrument N      take the seed from instrument N only\n"
      "  -o, --output OUT    the MIDI file to write\n"
      "  --csv               print the generated notes as CSV on stdout\n"
      "  --wav OUT.wav       render the notes through fluidsynth to a WAV;\n"
      "                      with --soundfont F, --rate HZ, --gain G and\n"
      "                      --tail S as for 'rnnjam render'\n"
      "  --notes N           how many notes to generate (default 120)\n"
      "  --temperature T     sampling temperature (default 2.0)\n"
      "  --top-k K           sample among the K most likely pitches only\n"
      "  --pitch-min P, --pitch-max P   limit the pitch range\n"
      "  --seed S            random seed (default: from the clock; printed)\n"
      "  --mode window|stream  (default window, as the tutorial)\n"
      "  --include-seed      write the seed notes before the generation\n"
      "  --program P         General MIDI program of the output (default 0)\n"
      "  --velocity V        velocity of the output notes (default 100)\n"
      "  --kernel K          auto|portable|avx2|avx512 (default auto)\n");
}

static const char *default_seed_path(void) {
  const char *env = getenv("RNNJAM_SEED_MIDI");
  if (env && *env)
    return env;
  return RNJ_PKGDATADIR "/models/seed.mid";
}

int cmd_generate(int argc, char **argv) {
  enum { O_SEED_MIDI = 256, O_INSTR, O_CSV, O_NOTES, O_TEMP, O_TOPK, O_PMIN,
         O_PMAX, O_SEED, O_MODE, O_INCL, O_PROG, O_VEL, O_KERNEL, O_WAV };
  static const struct option opts[] = {
      {"seed-midi", required_argument, 0, O_SEED_MIDI},
      {"instrument", required_argument, 0, O_INSTR},
      {"output", required_argument, 0, 'o'},
      {"csv", no_argument, 0, O_CSV},
      {"notes", required_argument, 0, O_NOTES},
      {"temperature", required_argument, 0, O_TEMP},
      {"top-k", required_argument, 0, O_TOPK},
      {"pitch-min", required_argument, 0, O_PMIN},
      {"pitch-max", required_argument, 0, O_PMAX},
      {"seed", required_argument, 0, O_SEED},
      {"mode", required_argument, 0, O_MODE},
      {"include-seed", no_argument, 0, O_INCL},
      {"program", required_argument, 0, O_PROG},
      {"velocity", required_argument, 0, O_VEL},
      {"kernel", required_argument, 0, O_KERNEL},
      {"wav", required_argument, 0, O_WAV},
      {"soundfont", required_argument, 0, RENDER_O_SOUNDFONT},
      {"rate", required_argument, 0, RENDER_O_RATE},
      {"gain", required_argument, 0, RENDER_O_GAIN},
      {"tail", required_argument, 0, RENDER_O_TAIL},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *ckpt = NULL;
  const char *seed_midi = NULL;
  const char *out_path = NULL;
  const char *wav_path = NULL;
  rnj_render_opts_t ropts;
  rnj_render_info_t rinfo;
  long instrument = RNJ_NOTES_ALL_INSTRUMENTS;
  long n_gen = 120;
  long top_k = 0;
  long pmin = 0;
  long pmax = 127;
  long program = 0;
  long velocity = 100;
  double temperature = 2.0;
  uint64_t seed = 0;
  int have_seed = 0;
  int stream = 0;
  int csv = 0;
  int include_seed = 0;
  rnj_kernel_t kernel = RNJ_KERNEL_AUTO;
  char err[RNJ_ERR_LEN];
  rnj_net_t *net = NULL;
  rnj_notes_t seed_notes;
  rnj_notes_t out;
  rnj_sampler_t sampler;
  rnj_net_state_t state;
  rnj_net_dist_t y;
  rnj_smf_write_opts_t wopts;
  rnj_net_note_t *win = NULL;
  double prev_start = 0;
  int seq;
  int rc = 1;
  int c;
  long i;

  rnj_render_opts_init(&ropts);
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    int r = render_option(c, optarg, &ropts);
    if (r < 0)
      return EXIT_USAGE;
    if (r > 0)
      continue;
    switch (c) {
    case O_SEED_MIDI: seed_midi = optarg; break;
    case O_INSTR:
      if (parse_int("--instrument", optarg, 0, 1000000, &instrument) < 0)
        return EXIT_USAGE;
      break;
    case 'o': out_path = optarg; break;
    case O_WAV: wav_path = optarg; break;
    case O_CSV: csv = 1; break;
    case O_NOTES:
      if (parse_int("--notes", optarg, 1, MAX_NOTES, &n_gen) < 0)
        return EXIT_USAGE;
      break;
    case O_TEMP:
      if (parse_double("--temperature", optarg, 1e-6, 1e6, &temperature) < 0)
        return EXIT_USAGE;
      break;
    case O_TOPK:
      if (parse_int("--top-k", optarg, 0, 128, &top_k) < 0)
        return EXIT_USAGE;
      break;
    case O_PMIN:
      if (parse_int("--pitch-min", optarg, 0, 127, &pmin) < 0)
        return EXIT_USAGE;
      break;
    case O_PMAX:
      if (parse_int("--pitch-max", optarg, 0, 127, &pmax) < 0)
        return EXIT_USAGE;
      break;
    case O_SEED:
      if (parse_u64("--seed", optarg, &seed) < 0)
        return EXIT_USAGE;
      have_seed = 1;
      break;
    case O_MODE:
      if (!strcmp(optarg, "stream"))
        stream = 1;
      else if (!strcmp(optarg, "window"))
        stream = 0;
      else {
        tool_error("--mode: expected window or stream, got '%s'", optarg);
        return EXIT_USAGE;
      }
      break;
    case O_INCL: include_seed = 1; break;
    case O_PROG:
      if (parse_int("--program", optarg, 0, 127, &program) < 0)
        return EXIT_USAGE;
      break;
    case O_VEL:
      if (parse_int("--velocity", optarg, 1, 127, &velocity) < 0)
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
  if (optind < argc)
    ckpt = argv[optind++];
  if (optind < argc) {
    tool_error("generate: unexpected argument '%s'", argv[optind]);
    return EXIT_USAGE;
  }
  if (!out_path && !csv && !wav_path) {
    tool_error("generate: say where the notes go: -o OUT.mid, --wav OUT.wav "
               "and/or --csv");
    return EXIT_USAGE;
  }
  if (pmin > pmax) {
    tool_error("--pitch-min %ld is above --pitch-max %ld", pmin, pmax);
    return EXIT_USAGE;
  }
  if (!ckpt)
    ckpt = default_model_path();
  if (!seed_midi)
    seed_midi = default_seed_path();
  if (!have_seed) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
    seed %= 1000000000u; /* short enough to retype */
    fprintf(stderr, "rnnjam: seed %llu (repeat with --seed %llu)\n",
            (unsigned long long)seed, (unsigned long long)seed);
  }

  rnj_notes_init(&seed_notes);
  rnj_notes_init(&out);
  if (load_net(ckpt, &net, kernel) < 0)
    return 1;
  seq = rnj_net_seq_length(net);
  if (rnj_notes_from_file(&seed_notes, seed_midi, (int)instrument, err) < 0) {
    tool_error("%s", err);
    goto done;
  }
  if (seed_notes.n < (size_t)seq) {
    tool_error("%s: %zu notes, the model needs at least %d to start from",
               seed_midi, seed_notes.n, seq);
    goto done;
  }

  rnj_sampler_init(&sampler, seed);
  sampler.temperature = (float)temperature;
  sampler.top_k = (int)top_k;
  sampler.pitch_min = (int)pmin;
  sampler.pitch_max = (int)pmax;
  if (rnj_sampler_check(&sampler, err) < 0) {
    tool_error("%s", err);
    goto done;
  }

  win = malloc((size_t)seq * sizeof *win);
  if (!win) {
    tool_error("out of memory");
    goto done;
  }
  rnj_net_reset(net, &state);
  for (i = 0; i < seq; i++) {
    const rnj_note_t *n = &seed_notes.v[i];
    net_note(net, n, &win[i]);
    if (stream)
      rnj_net_feed(net, &state, &win[i]);
    if (include_seed && rnj_notes_push(&out, n) < 0) {
      tool_error("out of memory");
      goto done;
    }
  }
  if (include_seed)
    prev_start = seed_notes.v[seq - 1].start;
  if (stream)
    rnj_net_predict(net, &state, &y);

  for (i = 0; i < n_gen; i++) {
    rnj_note_t note;
    rnj_net_note_t g;
    if (!stream)
      rnj_net_window(net, &state, win, seq, &y);
    rnj_net_sample(net, &y, &sampler, &g);
    memset(&note, 0, sizeof note);
    note.pitch = (uint8_t)g.pitch;
    note.velocity = (uint8_t)g.velocity;
    note.start = prev_start + seconds_of(net, g.step);
    note.end = note.start + seconds_of(net, g.duration);
    prev_start = note.start;
    if (rnj_notes_push(&out, &note) < 0) {
      tool_error("out of memory");
      goto done;
    }
    if (stream) {
      rnj_net_feed(net, &state, &g);
      rnj_net_predict(net, &state, &y);
    } else {
      memmove(win, win + 1, (size_t)(seq - 1) * sizeof *win);
      win[seq - 1] = g;
    }
  }
  rnj_notes_finish(&out);

  if (csv) {
    printf("pitch,start,end,step,duration\n");
    for (i = 0; i < (long)out.n; i++)
      printf("%d,%.6f,%.6f,%.6f,%.6f\n", out.v[i].pitch, out.v[i].start,
             out.v[i].end, out.v[i].step, out.v[i].duration);
    if (fflush(stdout) != 0 || ferror(stdout)) {
      tool_error("generate: writing to stdout failed");
      goto done;
    }
  }
  if (out_path) {
    rnj_smf_write_opts_init(&wopts);
    wopts.program = (int)program;
    wopts.velocity = (int)velocity;
    if (rnj_smf_write_notes(out_path, out.v, out.n, &wopts, err) < 0) {
      tool_error("%s", err);
      goto done;
    }
    double last = 0;
    for (i = 0; i < (long)out.n; i++)
      last = out.v[i].end > last ? out.v[i].end : last;
    fprintf(stderr, "rnnjam: wrote %zu notes (%.1f s) to %s\n", out.n, last,
            out_path);
  }
  if (wav_path) {
    ropts.program = (int)program;
    if (rnj_synth_render_notes(out.v, out.n, (int)velocity, wav_path, &ropts,
                               &rinfo, err) < 0) {
      tool_error("%s", err);
      goto done;
    }
    fprintf(stderr, "rnnjam: wrote %s: %.2f s at %d Hz with %s\n", wav_path,
            rinfo.seconds, ropts.sample_rate, rinfo.soundfont);
  }
  rc = 0;

done:
  free(win);
  rnj_notes_free(&seed_notes);
  rnj_notes_free(&out);
  rnj_net_delete(net);
  return rc;
}
