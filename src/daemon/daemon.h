/* rnnjamd's parts: options and start-up (main.c), the event loop (loop.c),
 * logging, sd_notify and timing statistics (service.c). */
#ifndef RNNJAMD_DAEMON_H
#define RNNJAMD_DAEMON_H

#include <stdarg.h>
#include <stdint.h>
#include <uv.h>

#include "rnnjam/conf.h"
#include "rnnjam/engine.h"
#include "rnnjam/lstm.h"
#include "rnnjam/seq.h"

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

/* Load the checkpoint into a new lstm (*out), reporting the model's window
 * length.  Not RT-safe. */
int load_model(const char *path, rnj_lstm_t **out, int *seq_length,
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

  const options_t *opt;
  rnj_conf_t conf;
  rnj_seq_t seq;
  rnj_engine_t engine;
  rnj_lstm_t *lstm;
  int seq_length;

  /* reload results, filled by the worker */
  rnj_conf_t new_conf;
  rnj_lstm_t *new_lstm;
  int new_seq_length;
  int reload_rc;
  char reload_err[RNJ_ERR_LEN];

  /* seen on the event path, reported later */
  int reported_mode;
  uint64_t connections;
  uint64_t reported_connections;
  int last_connected_client;
  int last_connected_port;
  uint64_t reported_lost;
  uint64_t events_in;
  uint64_t read_errors;
  int last_read_error;

  timing_t t_note; /* per incoming note: dispatch through the engine */
  timing_t t_tick; /* per engine tick: feeding, generation, output */
  uint32_t scratch[TIMING_SAMPLES];
} daemon_t;

/* Run until SIGINT/SIGTERM.  `d` holds an open seq, an initialised engine
 * and the configuration.  Returns the exit code. */
int daemon_run(daemon_t *d);

#endif
