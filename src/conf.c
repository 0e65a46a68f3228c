/* conf: rnnjamd's options, read from INI files (libinih) and flags.
 *
 * One table names every option with its section, its parser and where it
 * lives in rnj_conf_t; files and flags both go through rnj_conf_set(), so
 * they accept the same text and give the same messages.  libinih reports
 * only the line of the first error, and calls our handler without a line
 * number, so the text is fed through a reader that counts lines: the
 * handler then knows which line it is judging, and a line inih rejects on
 * its own (no '=' or no ']') is told apart from one we rejected.
 *
 * Limits: values are single-line; inih's multi-line continuation is
 * treated as a repeated key, as inih passes it.
 */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "rnnjam/clock.h"
#include "rnnjam/conf.h"
#include "rnnjam/sample.h"
#include "rnnjam/grid.h"

typedef enum {
  T_PATH,   /* string, any text (may be empty) */
  T_NAME,   /* string, non-empty, no ':' or ',' (a client name) */
  T_PORTS,  /* "auto" / "none" / comma-separated list */
  T_INT,    /* integer in [lo, hi] */
  T_DOUBLE, /* real in [dlo, dhi] */
  T_SEED,   /* unsigned 64-bit */
  T_MODE,
  T_CONTEXT,
  T_LEVEL,
  T_CC,      /* 0..127 or "off" */
  T_CHANNEL, /* 1..16; with `lo` 0: also "all"/"any" = 0 */
  T_VELOCITY, /* "model" = -1, "follow" = 0, 1..127 */
  T_LENGTH,   /* "call" = 0, 1..hi */
  T_TRANSPORT, /* alsa|jack|both */
  T_AUDIO,     /* none|jack */
  T_RENDER,    /* generated|all */
  T_CLOCK,     /* auto|midi|jack|player|fixed */
  T_QUANTIZE,  /* off|1/4|1/8|1/16|1/8t|1/16t */
  T_SWING,     /* 0..75, '%' allowed */
  T_ANSWER_START, /* gap|beat|bar */
  T_ONOFF      /* on|off (yes|no, true|false, 1|0) */
} type_t;

typedef struct {
  rnj_conf_option_t opt;
  type_t type;
  size_t offset;
  size_t size; /* strings: buffer size */
  long lo;
  long hi;
  double dlo;
  double dhi;
  const char *expect; /* what a value must look like, for messages */
} entry_t;

#define OFF(field) offsetof(rnj_conf_t, field)
#define SZ(field) sizeof(((rnj_conf_t *)0)->field)

/* The ms-valued keys say so in their unit hint rather than their name:
 * the file is read by people, who write "phrase_gap = 500". */
static const entry_t table[] = {
    {{"model", "checkpoint", "PATH", "the model (.safetensors) to play"},
     T_PATH, OFF(checkpoint), SZ(checkpoint), 0, 0, 0, 0, "a file path"},
    {{"model", "seed_midi", "PATH",
      "a .mid whose first notes seed the context (empty: none)"},
     T_PATH, OFF(seed_midi), SZ(seed_midi), 0, 0, 0, 0, "a file path"},
    {{"model", "context", "stream|window",
      "one step per note (stream) or the last window re-run (window)"},
     T_CONTEXT, OFF(context), 0, 0, 0, 0, 0, "'stream' or 'window'"},
    {{"model", "temperature", "T", "sampling temperature of the pitch (> 0)"},
     T_DOUBLE, OFF(temperature), 0, 0, 0, 0.01, 100.0,
     "a number 0.01..100"},
    {{"model", "time_temperature", "T",
      "sampling temperature of step, duration and velocity (> 0; models "
      "that predict them as classes)"},
     T_DOUBLE, OFF(time_temperature), 0, 0, 0, 0.01, 100.0,
     "a number 0.01..100"},
    {{"model", "top_p", "P",
      "sample among the likeliest pitches that make up P of the "
      "probability (1: all)"},
     T_DOUBLE, OFF(top_p), 0, 0, 0, 0.01, 1.0, "a number 0.01..1"},
    {{"model", "top_k", "K", "sample among the K likeliest pitches (0: all)"},
     T_INT, OFF(top_k), 0, 0, 128, 0, 0, "a whole number 0..128"},
    {{"model", "pitch_min", "P", "lowest pitch played"},
     T_INT, OFF(pitch_min), 0, 0, 127, 0, 0, "a MIDI pitch 0..127"},
    {{"model", "pitch_max", "P", "highest pitch played"},
     T_INT, OFF(pitch_max), 0, 0, 127, 0, 0, "a MIDI pitch 0..127"},
    {{"model", "random_seed", "N", "sampling seed (0: from the clock)"},
     T_SEED, OFF(random_seed), 0, 0, 0, 0, 0,
     "a whole number 0..18446744073709551615"},
    {{"midi", "client_name", "NAME", "ALSA sequencer client name"},
     T_NAME, OFF(client_name), SZ(client_name), 0, 0, 0, 0,
     "a name without ':' or ','"},
    {{"midi", "connect_in", "auto|none|PORTS",
      "what to listen to: every hardware input, nothing, or a list"},
     T_PORTS, OFF(connect_in), SZ(connect_in), 0, 0, 0, 0,
     "'auto', 'none' or ports like '20:0, Keystation'"},
    {{"midi", "connect_out", "none|PORTS", "where to send the notes"},
     T_PORTS, OFF(connect_out), SZ(connect_out), 0, 0, 0, 0,
     "'none' or ports like '128:0, FLUID Synth'"},
    {{"midi", "channel", "1..16", "output MIDI channel"},
     T_CHANNEL, OFF(channel), 0, 1, 16, 0, 0, "a MIDI channel 1..16"},
    {{"midi", "velocity", "model|follow|1..127",
      "the model's velocities (follow for a model without them), the "
      "player's recent ones, or a fixed one"},
     T_VELOCITY, OFF(velocity), 0, 1, 127, 0, 0,
     "'model', 'follow' or a velocity 1..127"},
    {{"midi", "midi", "alsa|jack|both",
      "MIDI ports on the ALSA sequencer, on JACK, or both"},
     T_TRANSPORT, OFF(transport), 0, 0, 0, 0, 0,
     "'alsa', 'jack' or 'both'"},
    {{"midi", "jack_connect_in", "auto|none|PORTS",
      "what feeds the JACK MIDI input: physical MIDI ports, nothing, or a "
      "list"},
     T_PORTS, OFF(jack_connect_in), SZ(jack_connect_in), 0, 0, 0, 0,
     "'auto', 'none' or JACK ports like 'a2j:Keystation [20] (capture)'"},
    {{"midi", "jack_connect_out", "none|PORTS",
      "where the JACK MIDI output goes"},
     T_PORTS, OFF(jack_connect_out), SZ(jack_connect_out), 0, 0, 0, 0,
     "'none' or JACK ports like 'ardour:MIDI in'"},
    {{"audio", "audio", "jack|none",
      "render the notes with fluidsynth into JACK, or MIDI only"},
     T_AUDIO, OFF(audio), 0, 0, 0, 0, 0, "'jack' or 'none'"},
    {{"audio", "soundfont", "PATH",
      "the SoundFont (empty: the first of Debian's GM soundfonts)"},
     T_PATH, OFF(soundfont), SZ(soundfont), 0, 0, 0, 0, "a file path"},
    {{"audio", "program", "0..127", "General MIDI program (instrument)"},
     T_INT, OFF(program), 0, 0, 127, 0, 0, "a program number 0..127"},
    {{"audio", "gain", "G", "fluidsynth's output gain"},
     T_DOUBLE, OFF(gain), 0, 0, 0, 0.0, 10.0, "a number 0..10"},
    {{"audio", "render", "generated|all",
      "what is heard: rnnjamd's notes, or the player's too"},
     T_RENDER, OFF(render), 0, 0, 0, 0, 0, "'generated' or 'all'"},
    {{"audio", "autoconnect", "auto|none|PORTS",
      "where the audio goes: the first two physical playback ports, "
      "nowhere, or a list"},
     T_PORTS, OFF(autoconnect), SZ(autoconnect), 0, 0, 0, 0,
     "'auto', 'none' or JACK ports like 'system:playback_1, "
     "system:playback_2'"},
    {{"play", "mode", "respond|continuous", "call and response, or nonstop"},
     T_MODE, OFF(mode), 0, 0, 0, 0, 0, "'respond' or 'continuous'"},
    /* 0 is allowed: the answer then starts as the last key is released
     * (an echo), which is also how its latency is measured. */
    {{"play", "phrase_gap", "MS", "silence (ms) that ends the player's call"},
     T_INT, OFF(phrase_gap_ms), 0, 0, 60000, 0, 0,
     "a whole number of milliseconds 0..60000"},
    {{"play", "answer_length", "call|N",
      "notes in an answer, or as many as the call had"},
     T_LENGTH, OFF(answer_length), 0, 1, 1000, 0, 0,
     "'call' or a number of notes 1..1000"},
    {{"play", "lookahead", "MS", "how far ahead (ms) notes are queued"},
     T_INT, OFF(lookahead_ms), 0, 5, 2000, 0, 0,
     "a whole number of milliseconds 5..2000"},
    {{"play", "max_step", "MS", "longest gap (ms) between generated notes"},
     T_INT, OFF(max_step_ms), 0, 10, 10000, 0, 0,
     "a whole number of milliseconds 10..10000"},
    {{"play", "min_duration", "MS", "shortest generated note (ms)"},
     T_INT, OFF(min_duration_ms), 0, 1, 10000, 0, 0,
     "a whole number of milliseconds 1..10000"},
    {{"play", "max_duration", "MS", "longest generated note (ms)"},
     T_INT, OFF(max_duration_ms), 0, 1, 30000, 0, 0,
     "a whole number of milliseconds 1..30000"},
    {{"play", "max_chord", "N",
      "notes that may start together before a step is forced"},
     T_INT, OFF(max_chord), 0, 1, 16, 0, 0, "a whole number 1..16"},
    {{"control", "cc_channel", "all|1..16", "channel the CCs are read on"},
     T_CHANNEL, OFF(cc_channel), 0, 0, 16, 0, 0,
     "'all' or a MIDI channel 1..16"},
    {{"control", "cc_temperature", "off|0..127",
      "CC that sets the temperature"},
     T_CC, OFF(cc_temperature), 0, 0, 127, 0, 0,
     "'off' or a controller number 0..127"},
    {{"control", "cc_mode", "off|0..127",
      "CC that switches mode (<64 respond, >=64 continuous)"},
     T_CC, OFF(cc_mode), 0, 0, 127, 0, 0,
     "'off' or a controller number 0..127"},
    {{"control", "cc_length", "off|0..127",
      "CC that sets the answer length (0: as the call)"},
     T_CC, OFF(cc_length), 0, 0, 127, 0, 0,
     "'off' or a controller number 0..127"},
    {{"control", "cc_panic", "off|0..127",
      "CC that silences the output at once"},
     T_CC, OFF(cc_panic), 0, 0, 127, 0, 0,
     "'off' or a controller number 0..127"},
    {{"control", "temperature_min", "T", "temperature at CC value 0"},
     T_DOUBLE, OFF(temperature_min), 0, 0, 0, 0.01, 100.0,
     "a number 0.01..100"},
    {{"control", "temperature_max", "T", "temperature at CC value 127"},
     T_DOUBLE, OFF(temperature_max), 0, 0, 0, 0.01, 100.0,
     "a number 0.01..100"},
    {{"time", "clock", "auto|midi|jack|player|fixed",
      "where the tempo comes from (auto: MIDI Clock, else JACK transport, "
      "else the player)"},
     T_CLOCK, OFF(clock), 0, 0, 0, 0, 0,
     "'auto', 'midi', 'jack', 'player' or 'fixed'"},
    {{"time", "tempo", "BPM",
      "the fixed tempo, and the tempo until a source gives one"},
     T_DOUBLE, OFF(tempo), 0, 0, 0, RNJ_CLOCK_MIN_BPM, RNJ_CLOCK_MAX_BPM,
     "a tempo in beats per minute 20..480"},
    {{"time", "beats_per_bar", "N", "beats in a bar (a JACK timebase "
      "master's own count wins)"},
     T_INT, OFF(beats_per_bar), 0, 1, 32, 0, 0, "a whole number 1..32"},
    {{"time", "quantize", "off|1/4|1/8|1/16|1/8t|1/16t",
      "the grid the answers' onsets and lengths are put on"},
     T_QUANTIZE, OFF(quantize), 0, 0, 0, 0, 0,
     "'off', '1/4', '1/8', '1/16', '1/8t' or '1/16t'"},
    {{"time", "swing", "0..75", "delay of every second grid step, percent "
      "of a step"},
     T_SWING, OFF(swing), 0, 0, RNJ_GRID_MAX_SWING, 0, 0,
     "a percentage 0..75"},
    {{"time", "answer_start", "gap|beat|bar",
      "an answer starts after the gap, or on the next beat or bar after it"},
     T_ANSWER_START, OFF(answer_start), 0, 0, 0, 0, 0,
     "'gap', 'beat' or 'bar'"},
    {{"time", "clock_out", "on|off",
      "send MIDI Clock and Start/Stop when rnnjamd keeps the time (player "
      "or fixed)"},
     T_ONOFF, OFF(clock_out), 0, 0, 0, 0, 0, "'on' or 'off'"},
    {{"service", "log_level", "err|warning|notice|info|debug",
      "least important message logged"},
     T_LEVEL, OFF(log_level), 0, 0, 0, 0, 0,
     "'err', 'warning', 'notice', 'info' or 'debug'"},
    {{"service", "stats_interval", "S",
      "log a status line every S seconds (0: only at exit)"},
     T_INT, OFF(stats_interval_s), 0, 0, 86400, 0, 0,
     "a whole number of seconds 0..86400"},
};

#define NTABLE (sizeof table / sizeof table[0])

static rnj_conf_option_t options[NTABLE];
static int options_ready;

const rnj_conf_option_t *rnj_conf_options(size_t *n) {
  size_t i;
  /* Built from the table on first use; the copy is idempotent, so a race
   * between two first callers writes the same bytes. */
  if (!options_ready) {
    for (i = 0; i < NTABLE; i++)
      options[i] = table[i].opt;
    options_ready = 1;
  }
  if (n)
    *n = NTABLE;
  return options;
}

static const char *const mode_names[] = {"respond", "continuous"};
static const char *const context_names[] = {"stream", "window"};
/* Indexed by rnj_midi_transport_t - 1, rnj_audio_t, rnj_render_t. */
static const char *const transport_names[] = {"alsa", "jack", "both"};
static const char *const audio_names[] = {"none", "jack"};
static const char *const render_names[] = {"generated", "all"};

const char *rnj_mode_name(int mode) {
  return mode == RNJ_MODE_CONTINUOUS ? mode_names[1] : mode_names[0];
}

const char *rnj_context_name(int context) {
  return context == RNJ_CONTEXT_WINDOW ? context_names[1] : context_names[0];
}

const char *rnj_transport_name(int transport) {
  return transport >= RNJ_MIDI_ALSA && transport <= RNJ_MIDI_BOTH
             ? transport_names[transport - 1]
             : "?";
}

const char *rnj_audio_name(int audio) {
  return audio == RNJ_AUDIO_JACK ? audio_names[1] : audio_names[0];
}

const char *rnj_render_name(int render) {
  return render == RNJ_RENDER_ALL ? render_names[1] : render_names[0];
}

void rnj_conf_defaults(rnj_conf_t *conf, const char *default_checkpoint) {
  memset(conf, 0, sizeof *conf);
  if (default_checkpoint)
    snprintf(conf->checkpoint, sizeof conf->checkpoint, "%s",
             default_checkpoint);
  conf->context = RNJ_CONTEXT_STREAM;
  /* The shipped model's (sample.h): pitch drawn cooler than the model's
   * own distribution and from its nucleus stays in the player's key on
   * unseen music; timing drawn at 0.5 stays on the grid where 1.0
   * wanders.  The tutorial's model plays them too. */
  conf->temperature = RNJ_SAMPLE_BEATS_TEMPERATURE;
  conf->time_temperature = RNJ_SAMPLE_BEATS_TIME_TEMPERATURE;
  conf->top_p = RNJ_SAMPLE_BEATS_TOP_P;
  conf->top_k = 0;
  /* The piano's range: the tutorial's model, trained on piano music, puts
   * little mass outside it, and what it does put there is mostly noise. */
  conf->pitch_min = 21;
  conf->pitch_max = 108;
  conf->random_seed = 0;
  snprintf(conf->client_name, sizeof conf->client_name, "rnnjam");
  snprintf(conf->connect_in, sizeof conf->connect_in, "auto");
  snprintf(conf->connect_out, sizeof conf->connect_out, "none");
  conf->channel = 1;
  conf->velocity = RNJ_VELOCITY_MODEL;
  conf->transport = RNJ_MIDI_ALSA;
  snprintf(conf->jack_connect_in, sizeof conf->jack_connect_in, "auto");
  snprintf(conf->jack_connect_out, sizeof conf->jack_connect_out, "none");
  /* Heard by default: the point of a jam.  Without a JACK server the
   * daemon still plays on its MIDI ports and connects when one starts. */
  conf->audio = RNJ_AUDIO_JACK;
  conf->soundfont[0] = '\0';
  conf->program = 0;
  conf->gain = 0.2;
  conf->render = RNJ_RENDER_GENERATED;
  snprintf(conf->autoconnect, sizeof conf->autoconnect, "auto");
  conf->mode = RNJ_MODE_RESPOND;
  conf->phrase_gap_ms = 500;
  conf->answer_length = 0;
  /* 50 ms: long enough that a late loop wake-up never makes a note late
   * (the queue plays it on time), short enough that the player's notes
   * join the context soon after the model's. */
  conf->lookahead_ms = 50;
  conf->max_step_ms = 2000;
  conf->min_duration_ms = 30;
  conf->max_duration_ms = 4000;
  conf->max_chord = 6;
  conf->cc_channel = 0;
  /* 70-79 are the "sound controllers" most keyboards put on knobs and
   * no synth gives a fixed meaning to; they pass through harmlessly. */
  conf->cc_temperature = 71;
  conf->cc_mode = 72;
  conf->cc_length = 73;
  conf->cc_panic = 74;
  conf->temperature_min = 0.1;
  conf->temperature_max = 3.0;
  /* Musical time: the reasons for each default are in rnnjamd.conf. */
  conf->clock = RNJ_CLOCK_AUTO;
  conf->tempo = 120.0;
  conf->beats_per_bar = 4;
  conf->quantize = RNJ_GRID_16;
  conf->swing = 0;
  conf->answer_start = RNJ_ANSWER_BEAT;
  conf->clock_out = 0;
  conf->log_level = RNJ_LOG_INFO;
  conf->stats_interval_s = 0;
}

/* ---------------------------------------------------------------- values */

static const entry_t *find_key(const char *key) {
  size_t i;
  for (i = 0; i < NTABLE; i++)
    if (strcmp(table[i].opt.key, key) == 0)
      return &table[i];
  return NULL;
}

static int parse_long(const char *s, long *out) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end)
    return -1;
  *out = v;
  return 0;
}

static int word_in(const char *s, const char *const *words, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (strcasecmp(s, words[i]) == 0)
      return i;
  return -1;
}

/* Parse `value` for entry `e` into `conf`.  Returns 0 or -1. */
static int parse_value(const entry_t *e, rnj_conf_t *conf,
                       const char *value) {
  char *base = (char *)conf + e->offset;
  int *ip = (int *)base;
  long v;
  static const char *const levels[] = {"err", "warning", "notice", "info",
                                       "debug"};
  int k;

  switch (e->type) {
  case T_PATH:
    if (strlen(value) >= e->size)
      return -1;
    memcpy(base, value, strlen(value) + 1);
    return 0;
  case T_NAME:
    if (!*value || strlen(value) >= e->size || strpbrk(value, ":,"))
      return -1;
    memcpy(base, value, strlen(value) + 1);
    return 0;
  case T_PORTS:
    if (!*value || strlen(value) >= e->size)
      return -1;
    memcpy(base, value, strlen(value) + 1);
    return 0;
  case T_INT:
    if (parse_long(value, &v) || v < e->lo || v > e->hi)
      return -1;
    *ip = (int)v;
    return 0;
  case T_DOUBLE: {
    char *end;
    double d;
    errno = 0;
    d = strtod(value, &end);
    if (errno || end == value || *end || !isfinite(d) || d < e->dlo ||
        d > e->dhi)
      return -1;
    *(double *)base = d;
    return 0;
  }
  case T_SEED: {
    char *end;
    unsigned long long u;
    if (!*value || *value == '-')
      return -1;
    errno = 0;
    u = strtoull(value, &end, 10);
    if (errno || *end)
      return -1;
    *(uint64_t *)base = (uint64_t)u;
    return 0;
  }
  case T_MODE:
    k = word_in(value, mode_names, 2);
    if (k < 0)
      return -1;
    *ip = k;
    return 0;
  case T_CONTEXT:
    k = word_in(value, context_names, 2);
    if (k < 0)
      return -1;
    *ip = k;
    return 0;
  case T_LEVEL:
    k = word_in(value, levels, 5);
    if (k < 0)
      return -1;
    *ip = RNJ_LOG_ERR + k;
    return 0;
  case T_CC:
    if (strcasecmp(value, "off") == 0 || strcasecmp(value, "none") == 0) {
      *ip = RNJ_CC_OFF;
      return 0;
    }
    if (parse_long(value, &v) || v < e->lo || v > e->hi)
      return -1;
    *ip = (int)v;
    return 0;
  case T_CHANNEL:
    if (e->lo == 0 &&
        (strcasecmp(value, "all") == 0 || strcasecmp(value, "any") == 0)) {
      *ip = 0;
      return 0;
    }
    if (parse_long(value, &v) || v < 1 || v > e->hi)
      return -1;
    *ip = (int)v;
    return 0;
  case T_VELOCITY:
    if (strcasecmp(value, "model") == 0) {
      *ip = RNJ_VELOCITY_MODEL;
      return 0;
    }
    if (strcasecmp(value, "follow") == 0) {
      *ip = RNJ_VELOCITY_FOLLOW;
      return 0;
    }
    if (parse_long(value, &v) || v < e->lo || v > e->hi)
      return -1;
    *ip = (int)v;
    return 0;
  case T_LENGTH:
    if (strcasecmp(value, "call") == 0) {
      *ip = 0;
      return 0;
    }
    if (parse_long(value, &v) || v < e->lo || v > e->hi)
      return -1;
    *ip = (int)v;
    return 0;
  case T_TRANSPORT:
    k = word_in(value, transport_names, 3);
    if (k < 0)
      return -1;
    *ip = RNJ_MIDI_ALSA + k;
    return 0;
  case T_AUDIO:
    k = word_in(value, audio_names, 2);
    if (k < 0)
      return -1;
    *ip = k;
    return 0;
  case T_RENDER:
    k = word_in(value, render_names, 2);
    if (k < 0)
      return -1;
    *ip = k;
    return 0;
  /* The words of musical time are the clock's and the grid's own, so the
   * file, the flags and the library spell them one way. */
  case T_CLOCK:
    return rnj_clock_parse_source(value, ip, NULL) == 0 ? 0 : -1;
  case T_QUANTIZE:
    return rnj_grid_parse(value, ip, NULL) == 0 ? 0 : -1;
  case T_SWING:
    return rnj_grid_parse_swing(value, ip, NULL) == 0 ? 0 : -1;
  case T_ANSWER_START:
    return rnj_grid_parse_answer_start(value, ip, NULL) == 0 ? 0 : -1;
  case T_ONOFF: {
    static const char *const on[] = {"on", "yes", "true", "1"};
    static const char *const off[] = {"off", "no", "false", "0"};
    if (word_in(value, on, 4) >= 0)
      *ip = 1;
    else if (word_in(value, off, 4) >= 0)
      *ip = 0;
    else
      return -1;
    return 0;
  }
  }
  return -1;
}

int rnj_conf_set(rnj_conf_t *conf, const char *section, const char *key,
                 const char *value, char *err) {
  const entry_t *e = find_key(key);
  rnj_conf_t tmp;

  if (!e)
    return rnj_errorf(err, RNJ_ENOTFOUND,
                      "unknown key '%s' (expected one of the keys listed by "
                      "rnnjamd --help)", key);
  if (section && strcmp(section, e->opt.section) != 0)
    return rnj_errorf(err, RNJ_ENOTFOUND,
                      "key '%s' in section [%s] (expected it in [%s])", key,
                      section, e->opt.section);
  /* Parse into a copy so a bad value leaves `conf` as it was. */
  tmp = *conf;
  if (parse_value(e, &tmp, value) != 0)
    return rnj_errorf(err, RNJ_EINVAL, "%s: expected %s, got '%s'", key,
                      e->expect, value);
  *conf = tmp;
  return 0;
}

int rnj_conf_check(const rnj_conf_t *conf, char *err) {
  if (conf->pitch_min > conf->pitch_max)
    return rnj_errorf(err, RNJ_EINVAL,
                      "pitch_min %d > pitch_max %d (expected min <= max)",
                      conf->pitch_min, conf->pitch_max);
  if (conf->temperature_min > conf->temperature_max)
    return rnj_errorf(err, RNJ_EINVAL,
                      "temperature_min %g > temperature_max %g (expected "
                      "min <= max)", conf->temperature_min,
                      conf->temperature_max);
  if (conf->min_duration_ms > conf->max_duration_ms)
    return rnj_errorf(err, RNJ_EINVAL,
                      "min_duration %d > max_duration %d (expected min <= "
                      "max)", conf->min_duration_ms, conf->max_duration_ms);
  if (!conf->checkpoint[0])
    return rnj_errorf(err, RNJ_EINVAL,
                      "checkpoint: expected a model file, none given");
  return 0;
}

/* ---------------------------------------------------------------- files */

typedef struct {
  const char *p;   /* next unread byte */
  const char *end;
  int line;        /* number of the line last handed to inih */
  int err_line;    /* first line our handler rejected, 0 = none */
  char msg[RNJ_ERR_LEN];
  rnj_conf_t *conf;
} reader_t;

/* inih's reader: fgets() over the text, one line per call, counting lines
 * so the handler knows where it is.  A line longer than inih's buffer is
 * consumed whole and reported here: split in pieces, inih would judge the
 * pieces as lines of their own and the numbers would drift. */
static char *read_line(char *buf, int size, void *stream) {
  reader_t *r = stream;
  int n = 0;
  if (r->p >= r->end || size < 2)
    return NULL;
  r->line++;
  while (r->p < r->end) {
    char c = *r->p++;
    if (n < size - 1)
      buf[n++] = c;
    else if (c != '\n' && !r->err_line) {
      r->err_line = r->line;
      snprintf(r->msg, sizeof r->msg,
               "line too long (expected at most %d characters)", size - 2);
    }
    if (c == '\n')
      break;
  }
  if (r->err_line == r->line)
    n = 0; /* hand inih a blank line: the error is already recorded */
  buf[n] = '\0';
  return buf;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value) {
  reader_t *r = user;
  char e[RNJ_ERR_LEN];
  int rc;
  if (!section[0]) {
    rc = rnj_errorf(e, RNJ_EINVAL,
                    "'%s' outside a section (expected a [section] line "
                    "first, e.g. [%s])", name,
                    find_key(name) ? find_key(name)->opt.section : "play");
  } else {
    rc = rnj_conf_set(r->conf, section, name, value, e);
  }
  if (rc != 0 && !r->err_line) {
    r->err_line = r->line;
    snprintf(r->msg, sizeof r->msg, "%s", e);
  }
  return rc == 0;
}

int rnj_conf_load_mem(rnj_conf_t *conf, const char *text, size_t len,
                      const char *name, char *err) {
  reader_t r;
  int rc;
  memset(&r, 0, sizeof r);
  r.p = text;
  r.end = text + len;
  r.conf = conf;
  if (!name)
    name = "(config)";
  if (memchr(text, '\0', len))
    return rnj_errorf(err, RNJ_EINVAL,
                      "%s: a NUL byte (expected a text file)", name);
  rc = ini_parse_stream(read_line, &r, handler, &r);
  if (rc == 0 && !r.err_line)
    return 0;
  if (rc < 0)
    return rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", name);
  /* inih gives the first line it or we rejected; ours carry a message. */
  if (r.err_line && (rc == 0 || r.err_line <= rc))
    return rnj_errorf(err, RNJ_EINVAL, "%s:%d: %s", name, r.err_line, r.msg);
  return rnj_errorf(err, RNJ_EINVAL,
                    "%s:%d: expected '[section]', 'key = value' or a "
                    "comment", name, rc);
}

int rnj_conf_load(rnj_conf_t *conf, const char *path, char *err) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = rnj__read_file(path, RNJ_CONF_FILE_MAX, &buf, &len, err);
  if (rc != 0)
    return rc;
  rc = rnj_conf_load_mem(conf, (const char *)buf, len, path, err);
  rnj__free(buf);
  return rc;
}
