/* rnnjamd's JACK side: the JACK MIDI ports, fluidsynth's sound, and the
 * connection to a server that may come and go.  See audio.c. */
#ifndef RNNJAMD_AUDIO_H
#define RNNJAMD_AUDIO_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "alsa.h"
#include "rnnjam/conf.h"
#include "rnnjam/jack.h"
#include "rnnjam/synth.h"
#include "service.h"

/* Only audio.c touches these fields. */
typedef struct audio_s {
  int wanted;          /* audio = jack, or midi = jack or both */
  int stopping;
  const rnj_conf_t *conf; /* borrowed: the daemon's running configuration */
  alsa_t *alsa;        /* borrowed: the time base (and whether ALSA plays) */
  uv_loop_t *loop;
  input_hooks_t hooks;

  rnj_jack_t jack;
  rnj_synth_t synth;   /* owned by JACK's thread while connected */
  rnj_synth_t new_synth;
  char soundfont[RNJ_CONF_PATH_LEN];
  char synth_err[RNJ_ERR_LEN];
  double synth_rate;   /* what the synth is being built with (copies: the
                          worker must not read conf during a reload) */
  double synth_gain;
  int synth_program;   /* ... and then the program the synth plays */
  int synth_building;
  uv_work_t synth_work;
  uv_async_t wake;     /* from JACK's threads: input, shutdown */
  uv_timer_t retry;
  uv_timer_t clock_sync;
  unsigned backoff_ms;
  int down_logged;
  uint64_t connects;
  uint64_t losses;
  uint64_t events_in;  /* events read from JACK MIDI in */
} audio_t;

/* Before the loop: check the soundfont and prepare the JACK client (it
 * connects later, from the loop).  `a` is zeroed by the caller; `conf`
 * and `alsa` are borrowed for its lifetime.  Returns 0 or < 0 with
 * `err`. */
int audio_setup(audio_t *a, const rnj_conf_t *conf, alsa_t *alsa,
                char *err);
/* In the loop: the wake-up handle, the timers, the first connection.
 * JACK MIDI input goes to `hooks`. */
int audio_start(audio_t *a, uv_loop_t *loop, const input_hooks_t *hooks);
/* At shutdown, after the engine's final note-offs: let them out through
 * JACK, close the client and the handles. */
void audio_stop(audio_t *a);
/* After the loop: release the synth and the rings. */
void audio_free(audio_t *a);
/* Settings a reload may change while running (program, channel); `c` is
 * the new configuration, `old` the running one (a->conf). */
void audio_reload(audio_t *a, const rnj_conf_t *old, const rnj_conf_t *c);
/* The JACK part of a stats line ("jack: off" without a JACK side);
 * `scratch` holds RNJ_JACK_TIMES values. */
void audio_stats(audio_t *a, uint32_t *scratch, char *buf, size_t len);
/* The soundfont found by audio_setup ("" without audio = jack). */
const char *audio_soundfont(const audio_t *a);
/* Events read from JACK MIDI in. */
uint64_t audio_events_in(const audio_t *a);

/* The engine's output through JACK; each returns at once (-EAGAIN for
 * audio_note) when the client is not up.  Event path. */
int audio_note(audio_t *a, double on, double off, int pitch, int velocity);
void audio_cancel(audio_t *a);
void audio_note_off_now(audio_t *a, int pitch);
void audio_all_off(audio_t *a);
/* MIDI Clock out on JACK: a real-time message at `t` (< 0: at once), and
 * the pending ones withdrawn. */
int audio_realtime(audio_t *a, double t, int status);
void audio_cancel_realtime(audio_t *a);
/* A player's event from the ALSA port, to be heard through the synth
 * when render = all.  Event path. */
void audio_player(audio_t *a, const rnj_seq_event_t *ev);

#endif
