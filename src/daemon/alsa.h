/* rnnjamd's ALSA side: the sequencer client, its descriptors on the loop,
 * and the engine's time base (the client's queue).  See alsa.c. */
#ifndef RNNJAMD_ALSA_H
#define RNNJAMD_ALSA_H

#include <stdint.h>
#include <uv.h>

#include "rnnjam/conf.h"
#include "rnnjam/seq.h"
#include "service.h"

#define ALSA_MAX_POLL_FDS 4

/* Counters for the stats line. */
typedef struct alsa_counts_s {
  uint64_t events_in;   /* events read from the sequencer */
  uint64_t read_errors;
  int last_read_error;
  uint64_t out_errors;  /* events the sequencer refused */
  uint64_t lost;        /* input overruns */
} alsa_counts_t;

/* Only alsa.c touches these fields. */
typedef struct alsa_s {
  int open;        /* the client is open (midi = alsa or both) */
  int stopping;
  rnj_seq_t seq;
  uint64_t t0_ns;  /* the time base's zero without ALSA (monotonic) */
  uv_poll_t poll[ALSA_MAX_POLL_FDS];
  int npoll;
  uv_timer_t more; /* input left in alsa-lib's buffer after a wake-up */
  input_hooks_t hooks;

  /* seen on the event path, logged by alsa_report */
  uint64_t events_in;
  uint64_t read_errors;
  int last_read_error;
  uint64_t connections;
  uint64_t reported_connections;
  int last_connected_client;
  int last_connected_port;
  uint64_t disconnections;
  uint64_t reported_disconnections;
  int last_disconnected_client;
  int last_disconnected_port;
  uint64_t reported_lost;
} alsa_t;

/* Start the time base and, when `c` asks for ALSA MIDI, open the client.
 * `a` is zeroed by the caller.  Returns 0 or < 0 with `err`. */
int alsa_open(alsa_t *a, const rnj_conf_t *c, char *err);
/* Connect the ports as configured, logging what could not be connected,
 * send all-notes-off (a predecessor killed without warning may have left
 * notes on) and log the client's address.  A no-op without the client. */
void alsa_connect(alsa_t *a, const rnj_conf_t *c);
/* In the loop: watch the descriptors; input goes to `hooks`. */
int alsa_start(alsa_t *a, uv_loop_t *loop, const input_hooks_t *hooks);
/* At shutdown: stop reading, close the handles. */
void alsa_stop(alsa_t *a);
/* After the loop: close the client. */
void alsa_close(alsa_t *a);

/* The engine's clock: the queue's time when the client is open, else
 * CLOCK_MONOTONIC seconds since alsa_open.  Event path. */
double alsa_now(alsa_t *a);
/* CLOCK_MONOTONIC seconds minus alsa_now, measured now (the JACK side
 * converts with it). */
double alsa_offset(alsa_t *a);

/* The engine's output through the client; each returns at once when the
 * client is not open.  Event path. */
int alsa_note(alsa_t *a, double on, double off, int pitch, int velocity);
void alsa_cancel(alsa_t *a);
void alsa_note_off_now(alsa_t *a, int pitch);
void alsa_all_off(alsa_t *a);
void alsa_flush(alsa_t *a);
/* MIDI Clock out: a real-time message at `t` (< 0: now), and the
 * scheduled ones withdrawn. */
int alsa_realtime(alsa_t *a, double t, int status);
void alsa_cancel_realtime(alsa_t *a);
/* A new output channel (0..15), after the engine has silenced the old. */
void alsa_set_channel(alsa_t *a, int channel);
/* At shutdown: wait until the final note-offs are written.  < 0 if not. */
int alsa_drain(alsa_t *a, int timeout_ms);

/* Log what the event path noticed since the last call (connections, lost
 * input).  Off the event path. */
void alsa_report(alsa_t *a);
void alsa_counts(const alsa_t *a, alsa_counts_t *out);

#endif
