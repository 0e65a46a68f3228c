/* rnnjamd itself: the loop, the engine and the model, and the parts it
 * is made of (see service.h for the list).  Only loop.c and main.c
 * include this header; the parts never do. */
#ifndef RNNJAMD_DAEMON_H
#define RNNJAMD_DAEMON_H

#include <uv.h>

#include "alsa.h"
#include "audio.h"
#include "beat.h"
#include "reload.h"
#include "rnnjam/conf.h"
#include "rnnjam/engine.h"
#include "rnnjam/net.h"
#include "service.h"
#include "settings.h"
#include "stats.h"

/* main.c fills the configuration, the model, the engine and the ALSA and
 * JACK sides before daemon_run; from then on loop.c owns the fields
 * below, and each part its own struct. */
typedef struct daemon_s {
  uv_loop_t loop;
  uv_signal_t sig_int;
  uv_signal_t sig_term;
  uv_signal_t sig_hup;
  uv_signal_t sig_usr1;
  uv_timer_t tick;
  uv_timer_t watchdog;
  int stopping;

  const options_t *opt;
  rnj_conf_t conf;       /* the running configuration */
  rnj_engine_t engine;
  rnj_net_t *net;        /* the model, of any kind */
  int seq_length;

  alsa_t alsa;           /* alsa.c */
  audio_t audio;         /* audio.c */
  beat_t beat;           /* beat.c: the engine borrows its clock */
  stats_t stats;         /* stats.c */
  reload_t reload;       /* reload.c */
  int clock_via_jack;    /* loop.c: the last MIDI Clock message came from
                            the JACK side (whose time base may be re-set) */
} daemon_t;

/* Where the engine's notes go: the ALSA side and/or the JACK side, and
 * the time base (alsa_now).  For rnj_engine_init. */
void daemon_engine_out(daemon_t *d, rnj_engine_out_t *out);

/* Run until SIGINT/SIGTERM.  `d` holds an open ALSA side (when midi
 * includes ALSA), a set-up JACK side, an initialised engine and the
 * configuration.  Returns the exit code. */
int daemon_run(daemon_t *d);

#endif
