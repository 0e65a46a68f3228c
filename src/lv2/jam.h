/* jam: rnnjam's engine played from a host's timeline, in frames.
 *
 * This is the plugin's one link to the library's musical code (the engine
 * with its beat clock, the model, the sampler); nothing here knows LV2.
 * Time is the plugin's frame counter since instantiation: the player's
 * events come in at their frames, the host's transport at the frame it was
 * reported (to the clock's host source: rnnjamd's musical logic, fed from
 * the host's timeline), and the engine's notes come out as MIDI messages
 * at their frames, each note-on paired with exactly one note-off on the
 * wire.
 *
 * The caller walks each block forward: jam_advance(frame) before each
 * input event at that frame (the engine's due work runs and the notes due
 * before it move to the outbox), the event, and jam_advance(block end) last;
 * then it writes the outbox, in order, and consumes what it wrote.
 *
 * Threading: jam_init and jam_model_load/_free run off the audio thread;
 * every other function is RT-safe (no allocation, lock or I/O; bounded
 * work per call).
 */
#ifndef RNNJAM_LV2_JAM_H
#define RNNJAM_LV2_JAM_H

#include <stdint.h>

#include "rnnjam/engine.h"
#include "rnnjam/net.h"

/* Longest model path kept (bytes, with the NUL). */
#define JAM_PATH_MAX 1024
/* Generated events waiting for their frame: two per note the engine may
 * remember (RNJ_ENGINE_SCHED), and room for cut notes. */
#define JAM_QUEUE (2 * RNJ_ENGINE_SCHED + 64)
/* Events of one block on their way out; note-offs always find room
 * (JAM_OFF_RESERVE), other events are held back or dropped first. */
#define JAM_OUTBOX 1024
#define JAM_OFF_RESERVE 160
/* Engine ticks per jam_advance call at most: bounds a block's work. */
#define JAM_TICK_BUDGET 64
/* The clock's tempo until the host reports one (bpm), and its bar. */
#define JAM_TEMPO 120.0
#define JAM_BEATS_PER_BAR 4

/* A loaded model, built off the audio thread and never changed after. */
typedef struct jam_model_s {
  rnj_net_t *net;
  char path[JAM_PATH_MAX];
  struct jam_model_s *next; /* the owner's list of the models it holds */
} jam_model_t;

/* What the player turns (the plugin's control ports). */
typedef struct jam_controls_s {
  float temperature;  /* > 0 */
  int mode;           /* rnj_mode_t */
  int answer_length;  /* notes, 0 = as the call */
  int phrase_gap_ms;  /* silence that ends a call */
  int quantize;       /* rnj_grid_unit_t: off, 1/4, 1/8, 1/16, 1/8t,
                         1/16t (the port's 0..5) */
  int channel;        /* output channel 0..15 */
} jam_controls_t;

/* One MIDI message at a frame of the plugin's clock. */
typedef struct jam_event_s {
  uint64_t frame;
  uint32_t id;  /* the generated note it belongs to (0: none) */
  uint8_t msg[3];
  uint8_t size;
} jam_event_t;

typedef struct jam_stats_s {
  uint64_t swaps;       /* models installed */
  uint64_t late;        /* events held back for want of outbox room */
  uint64_t thru_dropped; /* player events not passed through: no room */
  uint64_t queue_full;  /* notes refused: the queue was full */
} jam_stats_t;

typedef struct jam_s {
  double rate;
  uint64_t now;        /* the frame the engine is at */
  uint64_t next_tick;  /* when the engine wants its next tick */
  rnj_engine_t engine; /* from jam_init on, with or without a model */
  rnj_clock_t clock;   /* the engine's: the host's transport */
  rnj_engine_params_t params;
  rnj_sampler_t sampler; /* the sampling settings (the engine has the RNG) */
  const jam_model_t *model;
  jam_controls_t ctl;
  uint64_t seed;

  /* generated notes waiting for their frame, ordered by frame */
  jam_event_t queue[JAM_QUEUE];
  int queue_n;
  uint32_t next_id;
  uint32_t sounding[128]; /* id of the generated note sounding, 0 none */
  uint8_t sounding_ch[128];

  /* this block's output, in frame order */
  jam_event_t out[JAM_OUTBOX];
  int out_n;

  jam_stats_t stats;
} jam_t;

/* Set up `j` for `rate` Hz with `ctl` and sampling seed `seed`; no model
 * yet (the player is tracked, nothing plays until jam_set_model).  The
 * clock starts here: free time counts from the plugin's first frame.
 * Not RT (a large memset). */
void jam_init(jam_t *j, double rate, const jam_controls_t *ctl,
              uint64_t seed);

/* Load the model at `path` (checkpoint -> packed LSTM).  On failure `err`
 * (RNJ_ERR_LEN) says what was wrong with which file.  Not RT-safe. */
int jam_model_load(jam_model_t **out, const char *path, char *err);
void jam_model_free(jam_model_t *m);

/* Play `m` (borrowed until it is returned) from now on: what sounds stops
 * first, the context (the notes heard so far, also before any model) is
 * re-read by the new model.  Returns the model it replaces (NULL: none),
 * for the caller to free off the audio thread.  RT-safe. */
const jam_model_t *jam_set_model(jam_t *j, const jam_model_t *m);

/* Restart the sampler's generator from `seed`.  RT-safe. */
void jam_reseed(jam_t *j, uint64_t seed);

/* Apply the controls that differ from the last ones.  RT-safe. */
void jam_set_controls(jam_t *j, const jam_controls_t *ctl);

/* The host (re)activated the plugin: nothing queued or sounding is left
 * (the host has reset its side), the transport is unknown until reported
 * (free time from here).  The frame counter runs on, so the engine's
 * times stay in order. */
void jam_activate(jam_t *j);

/* Run what is due up to `frame` (not after it): the engine's ticks, the
 * queued notes before it into the outbox.  RT-safe. */
void jam_advance(jam_t *j, uint64_t frame);

/* The player's events at the current frame (after jam_advance to it).
 * `thru` also passes the event to the output.  RT-safe. */
void jam_midi(jam_t *j, const uint8_t *msg, uint32_t size, int thru);

/* The host's transport report at the current frame, to the engine's
 * clock: a stop or a relocation ends every generated note here.
 * RT-safe. */
void jam_position(jam_t *j, const rnj_clock_host_t *pos);

/* Stop everything now: every generated note ends here.  RT-safe. */
void jam_panic(jam_t *j);

/* Drop the first `n` events of the outbox (written).  RT-safe. */
void jam_consume(jam_t *j, int n);

#endif
