/* rnnjamd's statistics and reports: timings of the event path, the
 * periodic stats line, the STATUS line for the service manager, and the
 * log lines for what the event path noticed (written later, off it).
 * See stats.c. */
#ifndef RNNJAMD_STATS_H
#define RNNJAMD_STATS_H

#include <stdint.h>
#include <uv.h>

#include "alsa.h"
#include "audio.h"
#include "beat.h"
#include "rnnjam/conf.h"
#include "rnnjam/engine.h"
#include "service.h"

/* Only stats.c touches these fields (the timings through the inline
 * functions below). */
typedef struct stats_s {
  /* borrowed: what is reported on */
  const rnj_engine_t *engine;
  const rnj_conf_t *conf;
  alsa_t *alsa;
  audio_t *audio;
  const beat_t *beat;

  timing_t t_note; /* per incoming note: dispatch through the engine */
  timing_t t_tick; /* per engine tick: feeding, generation, output */
  uint32_t scratch[TIMING_SAMPLES];
  uv_timer_t deferred; /* logging and status after an event, off its path */
  uv_timer_t periodic; /* the stats line every stats_interval */
  int reported_mode;
} stats_t;

/* In the loop: the timers (the periodic one when conf->stats_interval_s
 * > 0).  The pointers are borrowed for the daemon's lifetime. */
void stats_start(stats_t *s, uv_loop_t *loop, const rnj_engine_t *engine,
                 const rnj_conf_t *conf, alsa_t *alsa, audio_t *audio,
                 const beat_t *beat);
/* At shutdown: close the timers. */
void stats_stop(stats_t *s);

/* Event path: note the time a note or a tick took (ns). */
static inline void stats_note_time(stats_t *s, uint64_t ns) {
  timing_add(&s->t_note, ns);
}
static inline void stats_tick_time(stats_t *s, uint64_t ns) {
  timing_add(&s->t_tick, ns);
}
/* Event path: something was noticed (a mode switch, a connection, lost
 * input); its log line and status follow on the next loop iteration. */
void stats_defer(stats_t *s);

/* Log the stats line, `when` saying why ("periodic", "SIGUSR1", "exit"). */
void stats_log(stats_t *s, const char *when);
/* Send the STATUS line (mode, model, notes in and out, the clock). */
void stats_status(stats_t *s);
/* The engine's mode has been logged elsewhere (a reload): no line for
 * it. */
void stats_mode_reported(stats_t *s);

#endif
