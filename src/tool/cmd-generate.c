/* rnnjam generate: a model's continuation of a MIDI file, into MIDI.
 *
 * The model is seeded with the first seq_length notes of a MIDI file and
 * continues them (gen.c, the loop rnnjam eval --music shares).
 *
 * Time.  The tutorial's model counts seconds: its notes are written as
 * before, at 120 bpm, the first generated step from 0 (or from the seed's
 * last onset with --include-seed).  A model in beats, or any model with
 * --quantize or --tempo, is written in "beats mode": the notes' beats on
 * the seed file's timeline (the tutorial's seconds read through the
 * seed's tempo map, or at --tempo), in the seed's division, onsets exact
 * to the tick, with the seed's tempo map copied (or one tempo, --tempo).
 * Without --include-seed the continuation is moved back by an even number
 * of beats (so it starts within two beats of the file's start, and a swung
 * or triplet grid keeps its phase), and the map with it.
 *
 * --quantize puts every onset on the grid of the seed's tempo, to the
 * tick (grid.h: the nearest point; the end a whole number of grid units
 * later, at least one).
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

#define MAX_NOTES 1000000

static void help(FILE *f) {
  fprintf(f,
      "usage: rnnjam generate [CKPT] [--seed-midi FILE.mid] [-o OUT.mid]\n"
      "                       [--wav OUT.wav] [options]\n\n"
      "Continue the first notes of a MIDI file with the model and write the\n"
      "generated notes as MIDI.  CKPT defaults to the installed model (or\n"
      "$RNNJAM_MODEL); FILE.mid defaults to the bundled seed phrase.  A\n"
      "model in beats writes in the seed's tempo (its tempo map copied),\n"
      "onsets exact to the tick.\n\n"
      "  --seed-midi FILE    the file whose first notes seed the model\n"
      "  --instrument N      take the seed from instrument N only\n"
      "  -o, --output OUT    the MIDI file to write\n"
      "  --csv               print the generated notes as CSV on stdout:\n"
      "                      pitch,start,end,step,duration,velocity\n"
      "                      (seconds as the file plays them)\n"
      "  --wav OUT.wav       render the notes through fluidsynth to a WAV;\n"
      "                      with --soundfont F, --rate HZ, --gain G and\n"
      "                      --tail S as for 'rnnjam render'\n"
      "  --notes N           how many notes to generate (default 120)\n"
      "  --pitch-temperature T  (or --temperature) sampling temperature of\n"
      "                      the pitch (default: the tutorial's model 2.0,\n"
      "                      a model in beats 0.5)\n"
      "  --time-temperature T   of step, duration and velocity (a model in\n"
      "                      beats; default 0.5)\n"
      "  --top-k K           sample among the K most likely pitches only\n"
      "  --top-p P           ... and among the likeliest whose\n"
      "                      probabilities add up to P (0 < P <= 1;\n"
      "                      default: the tutorial's model 1, a model in\n"
      "                      beats 0.9)\n"
      "  --pitch-min P, --pitch-max P   limit the pitch range\n"
      "  --seed S            random seed (default: from the clock; printed)\n"
      "  --mode window|stream  (default window, as the tutorial)\n"
      "  --include-seed      write the seed notes before the generation\n"
      "  --quantize Q        put every onset on the grid of the seed's\n"
      "                      tempo: 1/4, 1/8, 1/16, 1/8t or 1/16t (or off)\n"
      "  --swing P           with --quantize: delay every second grid point\n"
      "                      by P %% of a grid unit (0..75; 33 is a triplet\n"
      "                      feel at 1/8)\n"
      "  --tempo BPM         write at BPM quarter notes a minute instead of\n"
      "                      the seed's tempo map\n"
      "  --program P         General MIDI program of the output (default 0)\n"
      "  --velocity V        velocity of notes without one (the tutorial's\n"
      "                      model has none; default 100)\n"
      "  --kernel K          auto|portable|avx2|avx512|avx512-f16 (v2\n"
      "                      only; default auto)\n");
}

static const char *default_seed_path(void) {
  const char *env = getenv("RNNJAM_SEED_MIDI");
  if (env && *env)
    return env;
  return RNJ_PKGDATADIR "/models/seed.mid";
}

typedef struct {
  const char *ckpt;
  const char *seed_midi;
  const char *out_path;
  const char *wav_path;
  rnj_render_opts_t ropts;
  long instrument;
  long n_gen;
  long top_k;
  long pmin;
  long pmax;
  long program;
  long velocity;
  double pitch_temp; /* NAN: the model's default */
  double time_temp;
  double top_p;
  double bpm; /* 0: the seed's tempo map */
  uint64_t seed;
  int have_seed;
  int stream;
  int csv;
  int include_seed;
  rnj_grid_t grid;
  int swing_given;
  rnj_kernel_t kernel;
} args_t;

/* Options; returns -1 to go on, else the exit code. */
static int parse_args(args_t *a, int argc, char **argv) {
  enum { O_SEED_MIDI = 256, O_INSTR, O_CSV, O_NOTES, O_TEMP, O_TTEMP, O_TOPK,
         O_TOPP, O_PMIN, O_PMAX, O_SEED, O_MODE, O_INCL, O_PROG, O_VEL,
         O_KERNEL, O_WAV, O_QUANT, O_SWING, O_TEMPO };
  static const struct option opts[] = {
      {"seed-midi", required_argument, 0, O_SEED_MIDI},
      {"instrument", required_argument, 0, O_INSTR},
      {"output", required_argument, 0, 'o'},
      {"csv", no_argument, 0, O_CSV},
      {"notes", required_argument, 0, O_NOTES},
      {"temperature", required_argument, 0, O_TEMP},
      {"pitch-temperature", required_argument, 0, O_TEMP},
      {"time-temperature", required_argument, 0, O_TTEMP},
      {"top-k", required_argument, 0, O_TOPK},
      {"top-p", required_argument, 0, O_TOPP},
      {"pitch-min", required_argument, 0, O_PMIN},
      {"pitch-max", required_argument, 0, O_PMAX},
      {"seed", required_argument, 0, O_SEED},
      {"mode", required_argument, 0, O_MODE},
      {"include-seed", no_argument, 0, O_INCL},
      {"quantize", required_argument, 0, O_QUANT},
      {"swing", required_argument, 0, O_SWING},
      {"tempo", required_argument, 0, O_TEMPO},
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
  char err[RNJ_ERR_LEN];
  int unit = RNJ_GRID_OFF;
  int swing = 0;
  int c;

  memset(a, 0, sizeof *a);
  rnj_render_opts_init(&a->ropts);
  a->instrument = RNJ_NOTES_ALL_INSTRUMENTS;
  a->n_gen = 120;
  a->pmax = 127;
  a->velocity = 100;
  a->pitch_temp = NAN;
  a->time_temp = NAN;
  a->top_p = NAN; /* the model's default */
  a->kernel = RNJ_KERNEL_AUTO;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    int r = render_option(c, optarg, &a->ropts);
    if (r < 0)
      return EXIT_USAGE;
    if (r > 0)
      continue;
    switch (c) {
    case O_SEED_MIDI: a->seed_midi = optarg; break;
    case O_INSTR:
      if (parse_int("--instrument", optarg, 0, 1000000, &a->instrument) < 0)
        return EXIT_USAGE;
      break;
    case 'o': a->out_path = optarg; break;
    case O_WAV: a->wav_path = optarg; break;
    case O_CSV: a->csv = 1; break;
    case O_NOTES:
      if (parse_int("--notes", optarg, 1, MAX_NOTES, &a->n_gen) < 0)
        return EXIT_USAGE;
      break;
    case O_TEMP:
      if (parse_double("--temperature", optarg, 1e-6, 1e6, &a->pitch_temp) <
          0)
        return EXIT_USAGE;
      break;
    case O_TTEMP:
      if (parse_double("--time-temperature", optarg, 1e-6, 1e6,
                       &a->time_temp) < 0)
        return EXIT_USAGE;
      break;
    case O_TOPK:
      if (parse_int("--top-k", optarg, 0, 128, &a->top_k) < 0)
        return EXIT_USAGE;
      break;
    case O_TOPP:
      if (parse_double("--top-p", optarg, 1e-6, 1, &a->top_p) < 0)
        return EXIT_USAGE;
      break;
    case O_PMIN:
      if (parse_int("--pitch-min", optarg, 0, 127, &a->pmin) < 0)
        return EXIT_USAGE;
      break;
    case O_PMAX:
      if (parse_int("--pitch-max", optarg, 0, 127, &a->pmax) < 0)
        return EXIT_USAGE;
      break;
    case O_SEED:
      if (parse_u64("--seed", optarg, &a->seed) < 0)
        return EXIT_USAGE;
      a->have_seed = 1;
      break;
    case O_MODE:
      if (!strcmp(optarg, "stream"))
        a->stream = 1;
      else if (!strcmp(optarg, "window"))
        a->stream = 0;
      else {
        tool_error("--mode: expected window or stream, got '%s'", optarg);
        return EXIT_USAGE;
      }
      break;
    case O_INCL: a->include_seed = 1; break;
    case O_QUANT:
      if (rnj_grid_parse(optarg, &unit, err) < 0) {
        tool_error("--%s", err);
        return EXIT_USAGE;
      }
      break;
    case O_SWING:
      if (rnj_grid_parse_swing(optarg, &swing, err) < 0) {
        tool_error("--%s", err);
        return EXIT_USAGE;
      }
      a->swing_given = 1;
      break;
    case O_TEMPO:
      if (parse_double("--tempo", optarg, RNJ_SMF_WRITE_MIN_BPM,
                       RNJ_SMF_WRITE_MAX_BPM, &a->bpm) < 0)
        return EXIT_USAGE;
      break;
    case O_PROG:
      if (parse_int("--program", optarg, 0, 127, &a->program) < 0)
        return EXIT_USAGE;
      break;
    case O_VEL:
      if (parse_int("--velocity", optarg, 1, 127, &a->velocity) < 0)
        return EXIT_USAGE;
      break;
    case O_KERNEL:
      if (parse_kernel(optarg, &a->kernel) < 0)
        return EXIT_USAGE;
      break;
    case 'h': help(stdout); return 0;
    default: help(stderr); return EXIT_USAGE;
    }
  }
  if (optind < argc)
    a->ckpt = argv[optind++];
  if (optind < argc) {
    tool_error("generate: unexpected argument '%s'", argv[optind]);
    return EXIT_USAGE;
  }
  if (!a->out_path && !a->csv && !a->wav_path) {
    tool_error("generate: say where the notes go: -o OUT.mid, --wav OUT.wav "
               "and/or --csv");
    return EXIT_USAGE;
  }
  if (a->pmin > a->pmax) {
    tool_error("--pitch-min %ld is above --pitch-max %ld", a->pmin, a->pmax);
    return EXIT_USAGE;
  }
  if (a->swing_given && unit == RNJ_GRID_OFF) {
    tool_error("--swing: only with --quantize");
    return EXIT_USAGE;
  }
  rnj_grid_init(&a->grid, unit, swing);
  return -1;
}

/* The notes' beats on the seed's timeline into the file to write:
 * quantized to the tick when asked, moved back by `shift` beats, and
 * their seconds as the written file plays them. */
static void place(rnj_notes_t *out, const rnj_smf_t *smf, const args_t *a,
                  int division, double shift) {
  double s0 = a->bpm > 0 ? 0 : rnj_smf_beat_seconds(smf, shift);
  size_t i;
  for (i = 0; i < out->n; i++) {
    rnj_note_t *x = &out->v[i];
    double b0 = x->start_beat - shift;
    double b1 = x->end_beat - shift;
    if (a->grid.unit != RNJ_GRID_OFF) {
      int64_t q0;
      int64_t q1;
      rnj_grid_note_ticks(&a->grid, llround(b0 * division),
                          llround(b1 * division), division, &q0, &q1);
      b0 = (double)q0 / division;
      b1 = (double)q1 / division;
    }
    x->start_beat = b0;
    x->end_beat = b1;
    if (a->bpm > 0) {
      x->start = b0 * 60.0 / a->bpm;
      x->end = b1 * 60.0 / a->bpm;
    } else {
      x->start = rnj_smf_beat_seconds(smf, b0 + shift) - s0;
      x->end = rnj_smf_beat_seconds(smf, b1 + shift) - s0;
    }
  }
  rnj_notes_finish(out);
}

int cmd_generate(int argc, char **argv) {
  args_t a;
  char err[RNJ_ERR_LEN];
  rnj_net_t *net = NULL;
  rnj_smf_t smf;
  rnj_notes_t seed_notes;
  rnj_notes_t gen;
  rnj_notes_t out;
  rnj_sampler_t sampler;
  rnj_smf_write_opts_t wopts;
  rnj_render_info_t rinfo;
  gen_opts_t go;
  const rnj_note_t *last;
  double pitch_temp;
  double top_p;
  double time_temp;
  double shift = 0;
  int division;
  int beats_mode;
  int seq;
  int rc;
  size_t i;

  if ((rc = parse_args(&a, argc, argv)) >= 0)
    return rc;
  rc = 1;
  if (!a.ckpt)
    a.ckpt = default_model_path();
  if (!a.seed_midi)
    a.seed_midi = default_seed_path();
  if (!a.have_seed) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    a.seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
    a.seed %= 1000000000u; /* short enough to retype */
    fprintf(stderr, "rnnjam: seed %llu (repeat with --seed %llu)\n",
            (unsigned long long)a.seed, (unsigned long long)a.seed);
  }

  memset(&smf, 0, sizeof smf);
  rnj_notes_init(&seed_notes);
  rnj_notes_init(&gen);
  rnj_notes_init(&out);
  if (load_net(a.ckpt, &net, a.kernel) < 0)
    return 1;
  seq = rnj_net_seq_length(net);
  if (rnj_smf_read_file(&smf, a.seed_midi, err) < 0 ||
      rnj_notes_from_smf(&seed_notes, &smf, (int)a.instrument, err) < 0) {
    tool_error("%s", err);
    goto done;
  }
  if (seed_notes.n < (size_t)seq) {
    tool_error("%s: %zu notes, the model needs at least %d to start from",
               a.seed_midi, seed_notes.n, seq);
    goto done;
  }
  last = &seed_notes.v[seq - 1];
  beats_mode = rnj_net_unit(net) == RNJ_NET_BEATS ||
               a.grid.unit != RNJ_GRID_OFF || a.bpm > 0;
  division = smf.ticks_per_quarter ? smf.ticks_per_quarter
                                   : RNJ_SMF_WRITE_TICKS_PER_QUARTER;

  gen_sampling_defaults(net, &pitch_temp, &time_temp, &top_p);
  rnj_sampler_init(&sampler, a.seed);
  sampler.pitch_temperature =
      (float)(isnan(a.pitch_temp) ? pitch_temp : a.pitch_temp);
  sampler.time_temperature =
      (float)(isnan(a.time_temp) ? time_temp : a.time_temp);
  sampler.top_k = (int)a.top_k;
  sampler.top_p = (float)(isnan(a.top_p) ? top_p : a.top_p);
  sampler.pitch_min = (int)a.pmin;
  sampler.pitch_max = (int)a.pmax;
  if (rnj_sampler_check(&sampler, err) < 0) {
    tool_error("%s", err);
    goto done;
  }

  memset(&go, 0, sizeof go);
  go.n = a.n_gen;
  go.stream = a.stream;
  /* The tutorial's sum, as it always was: from 0, or from the seed's last
   * onset when the seed is written too or the notes need their beats. */
  go.origin = a.include_seed || beats_mode ? last->start : 0;
  go.tempo_map = beats_mode ? &smf : NULL;
  if (gen_continue(net, &sampler, seed_notes.v, seq, &go, &gen) < 0) {
    tool_error("out of memory");
    goto done;
  }
  if (beats_mode && rnj_net_unit(net) == RNJ_NET_SECONDS && a.bpm > 0)
    /* The tutorial's seconds after the seed at the tempo asked for. */
    for (i = 0; i < gen.n; i++) {
      gen.v[i].start_beat =
          last->start_beat + (gen.v[i].start - last->start) * a.bpm / 60;
      gen.v[i].end_beat =
          last->start_beat + (gen.v[i].end - last->start) * a.bpm / 60;
    }

  for (i = 0; a.include_seed && i < (size_t)seq; i++)
    if (rnj_notes_push(&out, &seed_notes.v[i]) < 0)
      goto nomem;
  for (i = 0; i < gen.n; i++)
    if (rnj_notes_push(&out, &gen.v[i]) < 0)
      goto nomem;
  if (beats_mode) {
    /* An even number of beats keeps a swung or triplet grid's phase. */
    if (!a.include_seed)
      shift = 2 * floor(last->start_beat / 2);
    place(&out, &smf, &a, division, shift);
  } else {
    rnj_notes_finish(&out);
  }

  if (a.csv) {
    printf("pitch,start,end,step,duration,velocity\n");
    for (i = 0; i < out.n; i++)
      printf("%d,%.6f,%.6f,%.6f,%.6f,%d\n", out.v[i].pitch, out.v[i].start,
             out.v[i].end, out.v[i].step, out.v[i].duration,
             out.v[i].velocity ? out.v[i].velocity : (int)a.velocity);
    if (fflush(stdout) != 0 || ferror(stdout)) {
      tool_error("generate: writing to stdout failed");
      goto done;
    }
  }
  if (a.out_path) {
    double end = 0;
    rnj_smf_write_opts_init(&wopts);
    wopts.program = (int)a.program;
    wopts.velocity = (int)a.velocity;
    if (beats_mode) {
      wopts.tempo_map = &smf;
      wopts.bpm = a.bpm;
      if (smf.ticks_per_quarter)
        wopts.tempo_offset = llround(shift * division);
    }
    if (rnj_smf_write_notes(a.out_path, out.v, out.n, &wopts, err) < 0) {
      tool_error("%s", err);
      goto done;
    }
    for (i = 0; i < out.n; i++)
      end = out.v[i].end > end ? out.v[i].end : end;
    fprintf(stderr, "rnnjam: wrote %zu notes (%.1f s) to %s\n", out.n, end,
            a.out_path);
  }
  if (a.wav_path) {
    a.ropts.program = (int)a.program;
    if (rnj_synth_render_notes(out.v, out.n, (int)a.velocity, a.wav_path,
                               &a.ropts, &rinfo, err) < 0) {
      tool_error("%s", err);
      goto done;
    }
    fprintf(stderr, "rnnjam: wrote %s: %.2f s at %d Hz with %s\n",
            a.wav_path, rinfo.seconds, a.ropts.sample_rate, rinfo.soundfont);
  }
  rc = 0;
  goto done;

nomem:
  tool_error("out of memory");
done:
  rnj_notes_free(&seed_notes);
  rnj_notes_free(&gen);
  rnj_notes_free(&out);
  rnj_smf_free(&smf);
  rnj_net_delete(net);
  return rc;
}
