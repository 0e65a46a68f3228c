/* rnnjamd: answers a MIDI player live with notes from the LSTM.
 *
 * This file parses options, builds the configuration (defaults, system
 * file, user file, --demo, flags), loads the model and the seed phrase,
 * opens the sequencer (unless midi = jack), prepares the JACK side
 * (audio.c) and hands over to the loop (loop.c).  Exit codes:
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
#include "rnnjam/ckpt.h"
#include "rnnjam/model.h"
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

/* ------------------------------------------------------------ configuration */

static const char *default_checkpoint(void) {
  const char *env = getenv("RNNJAM_MODEL");
  if (env && *env)
    return env;
  return RNJ_PKGDATADIR "/models/default.safetensors";
}

static void add_used(char *used, size_t len, const char *path) {
  size_t n;
  if (!used || !len)
    return;
  n = strlen(used);
  snprintf(used + n, len - n, "%s%s", n ? ", " : "", path);
}

/* A file that may be missing; any other failure is an error. */
static int load_optional(rnj_conf_t *conf, const char *path, char *used,
                         size_t used_len, char *err) {
  int rc = rnj_conf_load(conf, path, err);
  if (rc == -ENOENT)
    return 0;
  if (rc == 0)
    add_used(used, used_len, path);
  return rc;
}

int build_conf(rnj_conf_t *conf, const options_t *opt, char *used,
               size_t used_len, char *err) {
  char path[4096];
  const char *xdg = getenv("XDG_CONFIG_HOME");
  const char *home = getenv("HOME");
  int rc;
  int i;

  if (used && used_len)
    used[0] = '\0';
  rnj_conf_defaults(conf, default_checkpoint());
  if (opt->config) {
    rc = rnj_conf_load(conf, opt->config, err);
    if (rc == -ENOENT)
      return rnj_errorf(err, rc, "%s: no such file", opt->config);
    if (rc < 0)
      return rc;
    add_used(used, used_len, opt->config);
  } else {
    rc = load_optional(conf, RNJ_SYSCONFDIR "/rnnjam/rnnjamd.conf", used,
                       used_len, err);
    if (rc < 0)
      return rc;
    path[0] = '\0';
    if (xdg && *xdg)
      snprintf(path, sizeof path, "%s/rnnjam/rnnjamd.conf", xdg);
    else if (home && *home)
      snprintf(path, sizeof path, "%s/.config/rnnjam/rnnjamd.conf", home);
    if (path[0]) {
      rc = load_optional(conf, path, used, used_len, err);
      if (rc < 0)
        return rc;
    }
  }
  /* --demo: no keyboard needed, so play nonstop from the bundled phrase;
   * flags given with it still win. */
  if (opt->demo) {
    conf->mode = RNJ_MODE_CONTINUOUS;
    if (!conf->seed_midi[0])
      snprintf(conf->seed_midi, sizeof conf->seed_midi, "%s",
               RNJ_PKGDATADIR "/models/seed.mid");
  }
  for (i = 0; i < opt->nflags; i++) {
    char e[RNJ_ERR_LEN];
    rc = rnj_conf_set(conf, NULL, opt->flag_key[i], opt->flag_value[i], e);
    if (rc < 0)
      return rnj_errorf(err, rc, "--%s: %s", opt->flag_key[i], e);
  }
  return rnj_conf_check(conf, err);
}

int load_model(const char *path, rnj_net_t **out, int *seq_length,
               char *err) {
  int rc = rnj_net_load(out, path, RNJ_KERNEL_AUTO, err);
  if (rc == 0)
    *seq_length = rnj_net_seq_length(*out);
  return rc;
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

  rc = load_model(d.conf.checkpoint, &d.lstm, &d.seq_length, err);
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
    /* The seed phrase is read into a throw-away engine-less list. */
    if (d.conf.seed_midi[0]) {
      rnj_notes_t notes;
      rnj_notes_init(&notes);
      rc = rnj_notes_from_file(&notes, d.conf.seed_midi,
                               RNJ_NOTES_ALL_INSTRUMENTS, err);
      rnj_notes_free(&notes);
      if (rc < 0) {
        logm(RNJ_LOG_ERR, "%s", err);
        code = 1;
        goto out_model;
      }
    }
    /* The soundfont is checked too: it is a start-up error. */
    if (d.conf.audio == RNJ_AUDIO_JACK &&
        rnj_synth_find_soundfont(d.conf.soundfont, NULL, 0, d.soundfont,
                                 sizeof d.soundfont, err) < 0) {
      logm(RNJ_LOG_ERR, "%s", err);
      code = 1;
      goto out_model;
    }
    printf("rnnjamd: configuration OK (files: %s; model %s, window %d; "
           "mode %s; midi %s, audio %s%s%s)\n",
           used[0] ? used : "none, defaults", d.conf.checkpoint,
           d.seq_length, rnj_mode_name(d.conf.mode),
           rnj_transport_name(d.conf.transport),
           rnj_audio_name(d.conf.audio),
           d.conf.audio == RNJ_AUDIO_JACK ? " with " : "",
           d.conf.audio == RNJ_AUDIO_JACK ? d.soundfont : "");
    code = 0;
    goto out_model;
  }

  /* The JACK side first: a missing soundfont stops the start before any
   * port appears. */
  rc = audio_setup(&d, err);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "%s", err);
    code = 1;
    goto out_audio;
  }
  if (d.conf.transport & RNJ_MIDI_ALSA) {
    rc = rnj_seq_open(&d.seq, d.conf.client_name, d.conf.channel - 1, err);
    if (rc < 0) {
      logm(RNJ_LOG_ERR, "%s", err);
      code = 1;
      goto out_audio;
    }
    d.seq_open = 1;
  }

  rnj_engine_params_from_conf(&params, &d.conf);
  audio_engine_out(&d, &out);
  rc = rnj_engine_init(&d.engine, &params, d.lstm, &sampler,
                       &out);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "engine: %s", rnj_strerror(rc));
    code = 1;
    goto out_seq;
  }
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

  if (d.seq_open) {
    rc = rnj_seq_connect_in(&d.seq, d.conf.connect_in, err);
    if (rc < 0)
      logm(RNJ_LOG_WARNING, "connect_in: %s", err);
    else if (rc > 0)
      logm(RNJ_LOG_WARNING,
           "connect_in: %d port(s) not connected (last: %s)", rc, err);
    rc = rnj_seq_connect_out(&d.seq, d.conf.connect_out, err);
    if (rc < 0)
      logm(RNJ_LOG_WARNING, "connect_out: %s", err);
    else if (rc > 0)
      logm(RNJ_LOG_WARNING,
           "connect_out: %d port(s) not connected (last: %s)", rc, err);
    /* A predecessor killed without warning may have left notes on. */
    rnj_seq_all_off(&d.seq);
    rnj_seq_flush(&d.seq);
    logm(RNJ_LOG_INFO,
         "ALSA: client %d (%s:in %d:%d, %s:out %d:%d), queue %d on %s",
         d.seq.client, d.conf.client_name, d.seq.client, d.seq.port_in,
         d.conf.client_name, d.seq.client, d.seq.port_out, d.seq.queue,
         d.seq.timer_name);
  }

  logm(RNJ_LOG_INFO,
       "ready: model %s (window %d, kernel %s); mode %s, context %s; "
       "midi %s, audio %s%s%s (render %s); config %s",
       d.conf.checkpoint, d.seq_length,
       rnj_kernel_name(rnj_net_kernel(d.lstm)), rnj_mode_name(d.conf.mode),
       rnj_context_name(d.conf.context), rnj_transport_name(d.conf.transport),
       rnj_audio_name(d.conf.audio),
       d.conf.audio == RNJ_AUDIO_JACK ? " with " : "",
       d.conf.audio == RNJ_AUDIO_JACK ? d.soundfont : "",
       rnj_render_name(d.conf.render), used[0] ? used : "defaults");

  code = daemon_run(&d);

out_seq:
  rnj_seq_close(&d.seq);
out_audio:
  audio_free(&d);
out_model:
  rnj_net_delete(d.lstm);
  return code;
}
