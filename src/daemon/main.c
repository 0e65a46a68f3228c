/* rnnjamd: answers a MIDI player live with notes from the LSTM.
 *
 * This file parses options, builds the configuration and loads the model
 * (settings.c), seeds the engine from the seed phrase, opens the ALSA
 * side (alsa.c, unless midi = jack), prepares the JACK side (audio.c) and
 * hands over to the loop (loop.c).  Exit codes:
 * 0 after SIGTERM/SIGINT or a good --check-config, 1 on a configuration,
 * model or sequencer error, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "rnnjam/notes.h"
#include "rnnjam/sample.h"

static void usage(FILE *f) {
  size_t n;
  size_t i;
  const rnj_conf_option_t *o = rnj_conf_options(&n);
  const char *sec = "";
  fprintf(f,
      "usage: rnnjamd [--config FILE] [--demo] [--check-config]\n"
      "               [--OPTION=VALUE...]\n\n"
      "Plays along with a MIDI keyboard on the ALSA sequencer (or JACK MIDI,\n"
      "with --midi=jack): connect a keyboard to rnnjam:in (automatic for\n"
      "hardware ports) and a synth to rnnjam:out, or listen on JACK, where\n"
      "fluidsynth plays the answers (audio = jack).  SIGHUP reloads the\n"
      "configuration and the model.\n\n"
      "  -c, --config FILE   read FILE instead of %s/rnnjam/rnnjamd.conf\n"
      "                      and ~/.config/rnnjam/rnnjamd.conf\n"
      "  --demo              seed from the bundled phrase and play nonstop\n"
      "  --check-config      check the configuration and the model, then exit\n"
      "  -v, --verbose       log_level = debug\n"
      "  -h, --help          this text\n"
      "  -V, --version       the version\n\n"
      "Every configuration key is also a flag (phrase_gap -> --phrase-gap):\n",
      RNJ_SYSCONFDIR);
  for (i = 0; i < n; i++) {
    char flag[64];
    size_t k;
    if (strcmp(sec, o[i].section) != 0) {
      sec = o[i].section;
      fprintf(f, " [%s]\n", sec);
    }
    snprintf(flag, sizeof flag, "--%s", o[i].key);
    for (k = 2; flag[k]; k++)
      if (flag[k] == '_')
        flag[k] = '-';
    fprintf(f, "  %s=%s\n      %s\n", flag, o[i].arg, o[i].help);
  }
}

/* The seed phrase's first seq_length notes into the engine's context. */
static int seed_engine(rnj_engine_t *e, const char *path, int seq_length,
                       size_t *count, char *err) {
  rnj_notes_t notes;
  size_t i;
  int rc;
  rnj_notes_init(&notes);
  rc = rnj_notes_from_file(&notes, path, RNJ_NOTES_ALL_INSTRUMENTS, err);
  if (rc < 0)
    goto done;
  if (notes.n == 0) {
    rc = rnj_errorf(err, RNJ_ENODATA, "%s: no notes (expected a phrase)",
                    path);
    goto done;
  }
  for (i = 0; i < notes.n && i < (size_t)seq_length; i++)
    rnj_engine_seed(e, notes.v[i].pitch, notes.v[i].step,
                    notes.v[i].duration, notes.v[i].velocity);
  *count = i;
done:
  rnj_notes_free(&notes);
  return rc;
}

/* -------------------------------------------------------------- engine glue */

static void sampler_from_conf(rnj_sampler_t *s, const rnj_conf_t *c,
                              uint64_t seed) {
  rnj_sampler_init(s, seed);
  s->temperature = (float)c->temperature;
  s->time_temperature = (float)c->time_temperature;
  s->top_p = (float)c->top_p;
  s->top_k = c->top_k;
  s->pitch_min = c->pitch_min;
  s->pitch_max = c->pitch_max;
}

/* ------------------------------------------------------------------- main */

static int parse_args(int argc, char **argv, options_t *opt) {
  enum { O_DEMO = 256, O_CHECK, O_FIRST_KEY };
  static struct option longopts[64 + 8];
  static char names[64][64];
  size_t n;
  size_t i;
  int k = 0;
  const rnj_conf_option_t *o = rnj_conf_options(&n);
  int c;

  if (n > 64)
    n = 64;
  longopts[k++] = (struct option){"config", required_argument, 0, 'c'};
  longopts[k++] = (struct option){"demo", no_argument, 0, O_DEMO};
  longopts[k++] = (struct option){"check-config", no_argument, 0, O_CHECK};
  longopts[k++] = (struct option){"verbose", no_argument, 0, 'v'};
  longopts[k++] = (struct option){"help", no_argument, 0, 'h'};
  longopts[k++] = (struct option){"version", no_argument, 0, 'V'};
  for (i = 0; i < n; i++) {
    size_t j;
    snprintf(names[i], sizeof names[i], "%s", o[i].key);
    for (j = 0; names[i][j]; j++)
      if (names[i][j] == '_')
        names[i][j] = '-';
    longopts[k++] = (struct option){names[i], required_argument, 0,
                                    O_FIRST_KEY + (int)i};
  }
  longopts[k] = (struct option){0, 0, 0, 0};

  memset(opt, 0, sizeof *opt);
  while ((c = getopt_long(argc, argv, "c:vhV", longopts, NULL)) != -1) {
    switch (c) {
    case 'c':
      opt->config = optarg;
      break;
    case O_DEMO:
      opt->demo = 1;
      break;
    case O_CHECK:
      opt->check_config = 1;
      break;
    case 'v':
      if (opt->nflags < MAX_FLAGS) {
        opt->flag_key[opt->nflags] = "log_level";
        opt->flag_value[opt->nflags++] = "debug";
      }
      break;
    case 'h':
      usage(stdout);
      exit(0);
    case 'V':
      printf("rnnjamd %s\n", PACKAGE_VERSION);
      exit(0);
    default:
      if (c >= O_FIRST_KEY && c < O_FIRST_KEY + (int)n) {
        if (opt->nflags == MAX_FLAGS) {
          fprintf(stderr, "rnnjamd: more than %d options\n", MAX_FLAGS);
          return -1;
        }
        opt->flag_key[opt->nflags] = o[c - O_FIRST_KEY].key;
        opt->flag_value[opt->nflags++] = optarg;
        break;
      }
      fprintf(stderr, "Try 'rnnjamd --help'.\n");
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr,
            "rnnjamd: unexpected argument '%s'\nTry 'rnnjamd --help'.\n",
            argv[optind]);
    return -1;
  }
  return 0;
}

static daemon_t d; /* large (engine, timing rings): static, not on the stack */

/* --check-config: what start-up would refuse, without opening a port. */
static int check_config(const char *used) {
  char err[RNJ_ERR_LEN];
  char soundfont[RNJ_CONF_PATH_LEN];
  /* The seed phrase is read into a throw-away engine-less list. */
  if (d.conf.seed_midi[0]) {
    rnj_notes_t notes;
    int rc;
    rnj_notes_init(&notes);
    rc = rnj_notes_from_file(&notes, d.conf.seed_midi,
                             RNJ_NOTES_ALL_INSTRUMENTS, err);
    rnj_notes_free(&notes);
    if (rc < 0) {
      logm(RNJ_LOG_ERR, "%s", err);
      return 1;
    }
  }
  /* The soundfont is checked too: it is a start-up error. */
  if (d.conf.audio == RNJ_AUDIO_JACK &&
      rnj_synth_find_soundfont(d.conf.soundfont, NULL, 0, soundfont,
                               sizeof soundfont, err) < 0) {
    logm(RNJ_LOG_ERR, "%s", err);
    return 1;
  }
  printf("rnnjamd: configuration OK (files: %s; model %s, window %d; "
         "mode %s; midi %s, audio %s%s%s)\n",
         used[0] ? used : "none, defaults", d.conf.checkpoint,
         d.seq_length, rnj_mode_name(d.conf.mode),
         rnj_transport_name(d.conf.transport), rnj_audio_name(d.conf.audio),
         d.conf.audio == RNJ_AUDIO_JACK ? " with " : "",
         d.conf.audio == RNJ_AUDIO_JACK ? soundfont : "");
  return 0;
}

int main(int argc, char **argv) {
  options_t opt;
  char err[RNJ_ERR_LEN];
  char used[2048];
  rnj_sampler_t sampler;
  rnj_engine_params_t params;
  rnj_engine_out_t out;
  uint64_t seed;
  int rc;
  int code;

  log_init();
  if (parse_args(argc, argv, &opt) < 0)
    return 2;
  memset(&d, 0, sizeof d);
  d.opt = &opt;

  rc = build_conf(&d.conf, &opt, used, sizeof used, err);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "%s", err);
    return 1;
  }
  log_level_max = d.conf.log_level;

  rc = load_model(d.conf.checkpoint, &d.net, &d.seq_length, err);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "%s", err);
    return 1;
  }
  seed = d.conf.random_seed ? d.conf.random_seed
                            : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  sampler_from_conf(&sampler, &d.conf, seed);
  rc = rnj_sampler_check(&sampler, err);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "%s", err);
    code = 1;
    goto out_model;
  }

  if (opt.check_config) {
    code = check_config(used);
    goto out_model;
  }

  /* The JACK side first: a missing soundfont stops the start before any
   * port appears. */
  rc = audio_setup(&d.audio, &d.conf, &d.alsa, err);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "%s", err);
    code = 1;
    goto out_audio;
  }
  rc = alsa_open(&d.alsa, &d.conf, err);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "%s", err);
    code = 1;
    goto out_audio;
  }

  rnj_engine_params_from_conf(&params, &d.conf);
  daemon_engine_out(&d, &out);
  rc = rnj_engine_init(&d.engine, &params, d.net, &sampler, &out);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "engine: %s", rnj_strerror(rc));
    code = 1;
    goto out_seq;
  }
  /* Musical time: the engine plays by the daemon's beat clock. */
  rc = beat_init(&d.beat, &d.conf, alsa_now(&d.alsa), err);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "%s", err);
    code = 1;
    goto out_seq;
  }
  rnj_engine_set_clock(&d.engine, &d.beat.clock);
  if (d.conf.seed_midi[0]) {
    size_t count = 0;
    rc = seed_engine(&d.engine, d.conf.seed_midi, d.seq_length, &count, err);
    if (rc < 0) {
      logm(RNJ_LOG_ERR, "%s", err);
      code = 1;
      goto out_seq;
    }
    logm(RNJ_LOG_INFO, "seeded the context with %zu notes of %s", count,
         d.conf.seed_midi);
  }
  alsa_connect(&d.alsa, &d.conf);

  logm(RNJ_LOG_INFO,
       "ready: model %s (%s, window %d, kernel %s); mode %s, context %s; "
       "midi %s, audio %s%s%s (render %s); config %s",
       d.conf.checkpoint, rnj_net_format(d.net), d.seq_length,
       rnj_kernel_name(rnj_net_kernel(d.net)), rnj_mode_name(d.conf.mode),
       rnj_context_name(d.conf.context), rnj_transport_name(d.conf.transport),
       rnj_audio_name(d.conf.audio),
       d.conf.audio == RNJ_AUDIO_JACK ? " with " : "",
       d.conf.audio == RNJ_AUDIO_JACK ? audio_soundfont(&d.audio) : "",
       rnj_render_name(d.conf.render), used[0] ? used : "defaults");

  code = daemon_run(&d);

out_seq:
  alsa_close(&d.alsa);
out_audio:
  audio_free(&d.audio);
out_model:
  rnj_net_delete(d.net);
  return code;
}
