/* rnnjamd's musical time: the beat clock the engine plays by, MIDI Clock
 * out, and the clock's log lines.  See beat.c. */
#ifndef RNNJAMD_BEAT_H
#define RNNJAMD_BEAT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "alsa.h"
#include "audio.h"
#include "rnnjam/clock.h"
#include "rnnjam/conf.h"
#include "rnnjam/engine.h"

/* Only beat.c touches these fields; the engine borrows `clock`. */
typedef struct beat_s {
  rnj_clock_t clock;
  /* borrowed */
  rnj_engine_t *engine;
  alsa_t *alsa;
  audio_t *audio;

  uv_timer_t pump;   /* tops up the clock sent ahead */
  uv_timer_t report; /* logs what the clock did, off the event path */
  int started;
  int stopping;
  int out_wanted;    /* clock_out = on */
  int sending;       /* Start sent, pulses going out */
  double sent_until; /* pulses are scheduled up to this time */
  unsigned events;   /* RNJ_CLOCK_EV_* not yet logged */
  uint64_t pulses_out;
} beat_t;

/* Set up the clock from `c` at engine time `now`.  Returns 0 or < 0 with
 * `err`. */
int beat_init(beat_t *b, const rnj_conf_t *c, double now, char *err);
/* In the loop: the timers; clock out as configured.  The pointers are
 * borrowed for the daemon's lifetime. */
void beat_start(beat_t *b, uv_loop_t *loop, rnj_engine_t *engine,
                alsa_t *alsa, audio_t *audio, const rnj_conf_t *c);
/* Event path, after the engine has run (an event or a tick): note what
 * the clock reported, for the log and for clock out. */
void beat_poll(beat_t *b);
/* A reload: the new tempo, metre and source choice, clock out on/off. */
void beat_reload(beat_t *b, const rnj_conf_t *c);
/* At shutdown, before the outputs drain: Stop out if clock was sent,
 * and what was scheduled ahead withdrawn; the timers closed. */
void beat_stop(beat_t *b);
/* "clock player 118.3 bpm" (", stopped" when it is), for STATUS. */
void beat_describe(const beat_t *b, char *buf, size_t len);
/* The clock's part of the stats line. */
void beat_stats(const beat_t *b, char *buf, size_t len);

#endif
