/* rnnjamd's parts: options and start-up (main.c), the event loop (loop.c),
 * logging, sd_notify and timing statistics (service.c), and the JACK side
 * with the engine's output (audio.c). */
#ifndef RNNJAMD_DAEMON_H
#define RNNJAMD_DAEMON_H

#include <stdarg.h>
#include <stdint.h>
#include <uv.h>

#include "rnnjam/conf.h"
#include "rnnjam/engine.h"
#include "rnnjam/jack.h"
#include "rnnjam/net.h"
#include "rnnjam/seq.h"
#include "rnnjam/synth.h"

#define MAX_FLAGS 128
#define MAX_POLL_FDS 4
/* Samples kept for the timing percentiles (the most recent ones). */
#define TIMING_SAMPLES 65536

/* ------------------------------------------------------------ service.c */

/* Log to stderr: "<N>message" when stderr is the journal (journald turns
 * the prefix into the priority), "rnnjamd: message" on a terminal.
 * Messages above `log_level_max` are dropped.  Not for the event path. */
extern int log_level_max;
void log_init(void);
void logm(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* sd_notify over $NOTIFY_SOCKET (a datagram to an AF_UNIX socket); a no-op
 * outside systemd.  Written here instead of linking libsystemd: it is
 * one sendto(), and the daemon stays smaller and has one dependency less. */
void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd asks for (WATCHDOG_USEC), in ms; 0 = none. */
uint64_t notify_watchdog_ms(void);

/* A ring of timing samples (ns) and percentiles over it. */
typedef struct timing_s {
  uint32_t v[TIMING_SAMPLES];
  uint64_t n; /* samples ever added */
} timing_t;

/* RT-safe: one store. */
static inline void timing_add(timing_t *t, uint64_t ns) {
  t->v[t->n % TIMING_SAMPLES] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
  t->n++;
}
/* p50, p99 and max in microseconds over the kept samples; `scratch` holds
 * TIMING_SAMPLES values.  Returns the number of samples used. */
uint64_t timing_report(const timing_t *t, uint32_t *scratch, double *p50,
                       double *p99, double *max);

uint64_t now_ns(void);
/* Resident set size of this process, kB (from /proc/self/status). */
long rss_kb(void);

/* --------------------------------------------------------------- main.c */

typedef struct options_s {
  const char *config;   /* --config FILE, or NULL for the usual files */
  int demo;
  int check_config;
  int nflags;
  const char *flag_key[MAX_FLAGS]; /* "phrase_gap" */
  const char *flag_value[MAX_FLAGS];
} options_t;

/* Build the configuration as at start-up: defaults, files, --demo, flags,
 * then the cross-checks.  `used` (may be NULL) receives the files read.
 * Returns 0, or < 0 with `err`.  Thread-safe (runs in the reload worker). */
int build_conf(rnj_conf_t *conf, const options_t *opt, char *used,
               size_t used_len, char *err);

/* Load the checkpoint into a new model (*out, of any kind), reporting its
 * window length.  Not RT-safe. */
int load_model(const char *path, rnj_net_t **out, int *seq_length,
               char *err);

/* --------------------------------------------------------------- loop.c */

typedef struct daemon_s {
  uv_loop_t loop;
  uv_poll_t poll[MAX_POLL_FDS];
  int npoll;
  uv_signal_t sig_int;
  uv_signal_t sig_term;
  uv_signal_t sig_hup;
  uv_signal_t sig_usr1;
  uv_timer_t tick;
  uv_timer_t watchdog;
  uv_timer_t stats;
  uv_timer_t deferred; /* logging and status after an event, off its path */
  uv_timer_t more;     /* input left in alsa-lib's buffer after a wake-up */
  uv_work_t reload;
  int reloading;
  int stopping;

  /* audio.c: the JACK side (see there) */
  int seq_open;        /* the ALSA side runs (midi = alsa or both) */
  uint64_t t0_ns;      /* the clock's zero without ALSA (monotonic) */
  int jack_wanted;     /* audio = jack, or midi = jack or both */
  rnj_jack_t jack;
  rnj_synth_t synth;   /* owned by JACK's thread while connected */
  rnj_synth_t new_synth;
  char soundfont[RNJ_CONF_PATH_LEN];
  char synth_err[RNJ_ERR_LEN];
  double synth_rate;   /* what the synth is being built with (copies: the
                          worker must not read conf during a reload) */
  double synth_gain;
  int synth_program;   /* ... and then the program the synth plays */
  int synth_building;  /* audio is off while jack.synth is NULL with
                          audio = jack: the soundfont would not load */
  uv_work_t synth_work;
  uv_async_t wake;     /* from JACK's threads: input, shutdown */
  uv_timer_t jack_retry;
  uv_timer_t clock_sync;
  unsigned jack_backoff_ms;
  int jack_down_logged;
  uint64_t jack_connects;
  uint64_t jack_losses;

  const options_t *opt;
  rnj_conf_t conf;
  rnj_seq_t seq;
  rnj_engine_t engine;
  rnj_net_t *lstm; /* the model, of any kind */
  int seq_length;

  /* reload results, filled by the worker */
  rnj_conf_t new_conf;
  rnj_net_t *new_lstm;
  int new_seq_length;
  int reload_rc;
  char reload_err[RNJ_ERR_LEN];

  /* seen on the event path, reported later */
  int reported_mode;
  uint64_t connections;
  uint64_t reported_connections;
  int last_connected_client;
  int last_connected_port;
  uint64_t disconnections;
  uint64_t reported_disconnections;
  int last_disconnected_client;
  int last_disconnected_port;
  uint64_t reported_lost;
  uint64_t events_in;
  uint64_t read_errors;
  int last_read_error;

  timing_t t_note; /* per incoming note: dispatch through the engine */
  timing_t t_tick; /* per engine tick: feeding, generation, output */
  uint32_t scratch[TIMING_SAMPLES];
} daemon_t;

/* Run until SIGINT/SIGTERM.  `d` holds an open seq (when midi includes
 * ALSA), an initialised engine and the configuration.  Returns the exit
 * code. */
int daemon_run(daemon_t *d);
/* An input event (from ALSA or JACK) into the engine.  Event path. */
void daemon_dispatch(daemon_t *d, const rnj_seq_event_t *ev, int from_alsa);
/* Tick the engine now and schedule the next tick.  Event path. */
void daemon_tick(daemon_t *d);

/* -------------------------------------------------------------- audio.c */

/* The engine's clock: the ALSA queue's time when ALSA runs, else
 * CLOCK_MONOTONIC seconds since start.  Event path. */
double daemon_now(daemon_t *d);
/* The engine's output: ALSA and/or JACK, as configured. */
void audio_engine_out(daemon_t *d, rnj_engine_out_t *out);
/* Before the loop: check the soundfont and prepare the JACK client (it
 * connects later, from the loop).  Returns 0 or < 0 with `err`. */
int audio_setup(daemon_t *d, char *err);
/* In the loop: the wake-up handle, the timers, the first connection. */
int audio_start(daemon_t *d);
/* At shutdown, after the engine's final note-offs: let them out through
 * JACK, close the client and the handles. */
void audio_stop(daemon_t *d);
/* After the loop: release the synth and the rings. */
void audio_free(daemon_t *d);
/* Settings a reload may change while running (program, channel). */
void audio_reload(daemon_t *d, const rnj_conf_t *old, const rnj_conf_t *c);
/* The JACK part of a stats line ("" when there is no JACK side). */
void audio_stats(daemon_t *d, char *buf, size_t len);

#endif
