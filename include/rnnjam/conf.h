/* rnnjamd's configuration: one INI file format, the same options as flags.
 *
 * Every option has a section, a key and a parser; rnj_conf_set() is the one
 * place a value is checked, so a line in a file and a command-line flag give
 * the same message for the same mistake.  Files are read with libinih; a bad
 * line is reported as "FILE:LINE: what was expected".
 *
 * Layering (done by the caller, rnnjamd): defaults, then the system file,
 * then the user's file, then flags.  Each later layer overrides single keys.
 */
#ifndef RNNJAM_CONF_H
#define RNNJAM_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RNJ_CONF_PATH_LEN 1024
#define RNJ_CONF_NAME_LEN 64
/* Largest configuration file read (bytes); a real one is about 3 KiB. */
#define RNJ_CONF_FILE_MAX (256u << 10)

typedef enum {
  RNJ_MODE_RESPOND = 0,   /* call and response */
  RNJ_MODE_CONTINUOUS = 1 /* keeps playing; the player joins in */
} rnj_mode_t;

typedef enum {
  RNJ_CONTEXT_STREAM = 0, /* one LSTM step per note, carried (h, c) */
  RNJ_CONTEXT_WINDOW = 1  /* last seq_length notes from a zero state */
} rnj_context_t;

/* Where MIDI goes in and out: bit flags. */
typedef enum {
  RNJ_MIDI_ALSA = 1, /* the ALSA sequencer's ports */
  RNJ_MIDI_JACK = 2, /* JACK MIDI ports */
  RNJ_MIDI_BOTH = 3
} rnj_midi_transport_t;

typedef enum {
  RNJ_AUDIO_NONE = 0, /* MIDI only */
  RNJ_AUDIO_JACK = 1  /* fluidsynth into JACK */
} rnj_audio_t;

typedef enum {
  RNJ_RENDER_GENERATED = 0, /* only rnnjamd's notes are heard */
  RNJ_RENDER_ALL = 1        /* the player's too */
} rnj_render_t;

typedef enum {
  RNJ_LOG_ERR = 3,
  RNJ_LOG_WARNING = 4,
  RNJ_LOG_NOTICE = 5,
  RNJ_LOG_INFO = 6,
  RNJ_LOG_DEBUG = 7
} rnj_log_level_t;

/* CC numbers use this for "not mapped". */
#define RNJ_CC_OFF (-1)

/* [midi] velocity, besides a fixed 1..127. */
#define RNJ_VELOCITY_FOLLOW 0 /* the player's recent velocities */
#define RNJ_VELOCITY_MODEL (-1) /* the model's (follow if it has none) */

typedef struct rnj_conf_s {
  /* [model] */
  char checkpoint[RNJ_CONF_PATH_LEN]; /* the .safetensors to play */
  char seed_midi[RNJ_CONF_PATH_LEN];  /* "" = start from an empty context */
  int context;                        /* rnj_context_t */
  double temperature;                 /* > 0: the pitch's */
  double time_temperature;            /* > 0: step, duration, velocity */
  double top_p;                       /* (0, 1]; 1 = off */
  int top_k;                          /* 0 = all pitches */
  int pitch_min;                      /* 0..127 */
  int pitch_max;                      /* pitch_min..127 */
  uint64_t random_seed;               /* 0 = from the clock */
  /* [midi] */
  char client_name[RNJ_CONF_NAME_LEN];
  char connect_in[RNJ_CONF_PATH_LEN];  /* "auto", "none" or "A, B, ..." */
  char connect_out[RNJ_CONF_PATH_LEN]; /* "none" or "A, B, ..." */
  int channel;                         /* output channel, 1..16 */
  int velocity; /* RNJ_VELOCITY_MODEL, RNJ_VELOCITY_FOLLOW, or 1..127 */
  int transport;                       /* rnj_midi_transport_t */
  char jack_connect_in[RNJ_CONF_PATH_LEN];  /* "auto", "none", ports */
  char jack_connect_out[RNJ_CONF_PATH_LEN]; /* "none" or ports */
  /* [audio] */
  int audio;                           /* rnj_audio_t */
  char soundfont[RNJ_CONF_PATH_LEN];   /* "" = Debian's GM soundfonts */
  int program;                         /* General MIDI program 0..127 */
  double gain;                         /* fluidsynth's gain, 0..10 */
  int render;                          /* rnj_render_t */
  char autoconnect[RNJ_CONF_PATH_LEN]; /* "auto", "none", ports */
  /* [play] */
  int mode;           /* rnj_mode_t */
  int phrase_gap_ms;  /* silence that ends a call */
  int answer_length;  /* notes; 0 = as many as the call had */
  int lookahead_ms;   /* how far ahead notes are put on the queue */
  int max_step_ms;    /* clamp of a generated step */
  int min_duration_ms;
  int max_duration_ms;
  int max_chord; /* notes starting together before a step is forced */
  /* [control] */
  int cc_channel; /* 0 = any channel, else 1..16 */
  int cc_temperature;
  int cc_mode;
  int cc_length;
  int cc_panic; /* each 0..127 or RNJ_CC_OFF */
  double temperature_min;
  double temperature_max;
  /* [time] */
  int clock;         /* rnj_clock_source_t: auto|midi|jack|player|fixed */
  double tempo;      /* bpm: the fixed tempo, and the start until another
                        source gives one (a model that counts in beats
                        hears the player's seconds at the clock's) */
  int beats_per_bar;
  int quantize;      /* rnj_grid_unit_t */
  int swing;         /* percent of a grid unit, 0..75 */
  int answer_start;  /* rnj_answer_start_t: gap|beat|bar */
  int clock_out;     /* send MIDI Clock when rnnjamd keeps the time */
  /* [service] */
  int log_level;         /* rnj_log_level_t */
  int stats_interval_s;  /* a status log line every N s; 0 = only at exit */
} rnj_conf_t;

/* One option, for help texts and flag tables.  Static strings. */
typedef struct rnj_conf_option_s {
  const char *section;
  const char *key;
  const char *arg;  /* e.g. "MS", "respond|continuous" */
  const char *help; /* one line */
} rnj_conf_option_t;

/* The option table (*n entries), in file order.  Static; thread-safe. */
RNJ_EXTERN const rnj_conf_option_t *rnj_conf_options(size_t *n);

/* Fill `conf` with the defaults.  `default_checkpoint` (copied; may be NULL
 * for "") is the model path used when no file or flag names one. */
RNJ_EXTERN void rnj_conf_defaults(rnj_conf_t *conf,
                                  const char *default_checkpoint);

/* Set one option from text.  `section` may be NULL (a flag: the key alone
 * decides); otherwise the key must belong to that section.  On a bad key or
 * value, `err` says what was expected, e.g. "phrase_gap: expected a whole
 * number of milliseconds 0..60000, got 'soon'", and RNJ_EINVAL (unknown
 * key: RNJ_ENOTFOUND) is returned with `conf` unchanged. */
RNJ_EXTERN int rnj_conf_set(rnj_conf_t *conf, const char *section,
                            const char *key, const char *value, char *err);

/* Read the INI file at `path` over the values already in `conf`.  Keys not
 * in the file keep their values.  A missing file returns -ENOENT (the
 * caller decides whether that matters); a bad line returns RNJ_EINVAL with
 * `err` "PATH:LINE: ..." for the first bad line, and then `conf` may hold
 * the values of the lines before it.  Not RT-safe (reads a file). */
RNJ_EXTERN int rnj_conf_load(rnj_conf_t *conf, const char *path, char *err);

/* The same from `len` bytes of text (borrowed); `name` stands for the file
 * in messages. */
RNJ_EXTERN int rnj_conf_load_mem(rnj_conf_t *conf, const char *text,
                                 size_t len, const char *name, char *err);

/* Checks between options (pitch_min <= pitch_max, the temperature range,
 * min_duration <= max_duration).  Returns 0 or RNJ_EINVAL with `err`. */
RNJ_EXTERN int rnj_conf_check(const rnj_conf_t *conf, char *err);

/* The names of the enums as the file spells them ("respond", "stream",
 * "info"...).  Static strings. */
RNJ_EXTERN const char *rnj_mode_name(int mode);
RNJ_EXTERN const char *rnj_context_name(int context);
RNJ_EXTERN const char *rnj_transport_name(int transport);
RNJ_EXTERN const char *rnj_audio_name(int audio);
RNJ_EXTERN const char *rnj_render_name(int render);

#ifdef __cplusplus
}
#endif
#endif
