/* What every part of rnnjamd uses: journald-style logging, sd_notify,
 * the monotonic clock, timing rings, and the shape in which a part hands
 * the player's input to the daemon.  Implemented in service.c; depends on
 * nothing else of the daemon.
 *
 * The daemon's parts, each a struct owned and documented by its file:
 *   settings.c  options, configuration files, the model (start and reload)
 *   alsa.c      the sequencer client and the engine's time base
 *   audio.c     the JACK side: MIDI ports, fluidsynth's sound
 *   beat.c      musical time: the beat clock, MIDI Clock out
 *   stats.c     counters, timings, the stats line, STATUS, deferred logs
 *   reload.c    SIGHUP: a new configuration and model built off the loop
 *   loop.c      the daemon itself (daemon.h): the loop, the engine, and
 *               the glue between the parts
 * A part never includes daemon.h: what it needs from the daemon it is
 * given (borrowed pointers, hooks) when it starts. */
#ifndef RNNJAMD_SERVICE_H
#define RNNJAMD_SERVICE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "rnnjam/clock.h"
#include "rnnjam/conf.h"
#include "rnnjam/seq.h"

/* Samples kept for the timing percentiles (the most recent ones). */
#define TIMING_SAMPLES 65536

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

/* How the ALSA and the JACK side hand over what arrives on their inputs.
 * Both hooks run on the loop, on the event path. */
typedef struct input_hooks_s {
  void *ctx;
  /* One input event, stamped in the engine's time base.  `from_alsa`
   * tells the sequencer's events from JACK's. */
  void (*event)(void *ctx, const rnj_seq_event_t *ev, int from_alsa);
  /* The JACK transport as it was at time `t` (the JACK side only). */
  void (*transport)(void *ctx, double t, const rnj_clock_jack_t *pos);
  /* After a batch of input: tick the engine now. */
  void (*tick)(void *ctx);
} input_hooks_t;

#endif
