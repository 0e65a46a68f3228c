/* rnnjamd's ALSA side: the sequencer client (rnj_seq_t) on the loop.
 *
 * uv_poll watches the client's descriptors; each wake-up drains the input
 * (at most MAX_EVENTS_PER_WAKE events, so timers and signals still run
 * during a flood: poll is level-triggered) into the daemon's input hook,
 * then asks it to tick.  What the event path notices here (a port
 * connected or gone, lost input, a read error) is counted and logged
 * later by alsa_report, off the event path.
 *
 * The engine's time base lives here because, when the client is open, it
 * is the client's queue: input is stamped and output scheduled on that
 * one clock, so a note's timing never depends on when the loop wakes.
 * Without the client (midi = jack) it is CLOCK_MONOTONIC since start.
 *
 * This file touches only its alsa_t; it reaches the daemon through the
 * hooks it was started with.
 */
#include <stdio.h>

#include "alsa.h"

/* Input events taken per wake-up; the rest wait for the next iteration so
 * timers and signals still run during a flood (poll is level-triggered). */
#define MAX_EVENTS_PER_WAKE 512

int alsa_open(alsa_t *a, const rnj_conf_t *c, char *err) {
  int rc;
  a->t0_ns = now_ns();
  if (!(c->transport & RNJ_MIDI_ALSA))
    return 0;
  rc = rnj_seq_open(&a->seq, c->client_name, c->channel - 1, err);
  if (rc < 0)
    return rc;
  a->open = 1;
  return 0;
}

void alsa_connect(alsa_t *a, const rnj_conf_t *c) {
  char err[RNJ_ERR_LEN];
  int rc;
  if (!a->open)
    return;
  rc = rnj_seq_connect_in(&a->seq, c->connect_in, err);
  if (rc < 0)
    logm(RNJ_LOG_WARNING, "connect_in: %s", err);
  else if (rc > 0)
    logm(RNJ_LOG_WARNING, "connect_in: %d port(s) not connected (last: %s)",
         rc, err);
  rc = rnj_seq_connect_out(&a->seq, c->connect_out, err);
  if (rc < 0)
    logm(RNJ_LOG_WARNING, "connect_out: %s", err);
  else if (rc > 0)
    logm(RNJ_LOG_WARNING,
         "connect_out: %d port(s) not connected (last: %s)", rc, err);
  /* A predecessor killed without warning may have left notes on. */
  rnj_seq_all_off(&a->seq);
  rnj_seq_flush(&a->seq);
  logm(RNJ_LOG_INFO,
       "ALSA: client %d (%s:in %d:%d, %s:out %d:%d), queue %d on %s",
       a->seq.client, c->client_name, a->seq.client, a->seq.port_in,
       c->client_name, a->seq.client, a->seq.port_out, a->seq.queue,
       a->seq.timer_name);
}

/* ------------------------------------------------------------ input */

static void count(alsa_t *a, const rnj_seq_event_t *ev) {
  switch (ev->type) {
  case RNJ_SEQ_EV_CONNECTED:
    a->connections++;
    a->last_connected_client = ev->src_client;
    a->last_connected_port = ev->src_port;
    break;
  case RNJ_SEQ_EV_DISCONNECTED:
    a->disconnections++;
    a->last_disconnected_client = ev->src_client;
    a->last_disconnected_port = ev->src_port;
    break;
  default:
    break;
  }
}

static void on_more(uv_timer_t *t);

static void read_input(alsa_t *a) {
  rnj_seq_event_t ev;
  int i;
  int rc;
  if (a->stopping)
    return;
  for (i = 0; i < MAX_EVENTS_PER_WAKE; i++) {
    rc = rnj_seq_read(&a->seq, &ev);
    if (rc == 0)
      break;
    if (rc < 0) {
      a->read_errors++;
      a->last_read_error = rc;
      break;
    }
    a->events_in++;
    count(a, &ev);
    a->hooks.event(a->hooks.ctx, &ev, 1);
  }
  /* alsa-lib reads the kernel's events in bulk; what is left in its buffer
   * does not make the descriptor readable, so come back for it on the next
   * loop iteration (after timers and signals have had their turn). */
  if (i == MAX_EVENTS_PER_WAKE && rnj_seq_pending(&a->seq) > 0)
    uv_timer_start(&a->more, on_more, 0, 0);
  a->hooks.tick(a->hooks.ctx);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  read_input(p->data);
}

static void on_more(uv_timer_t *t) { read_input(t->data); }

int alsa_start(alsa_t *a, uv_loop_t *loop, const input_hooks_t *hooks) {
  struct pollfd fds[ALSA_MAX_POLL_FDS];
  int n;
  int i;
  int rc;
  a->hooks = *hooks;
  if (!a->open)
    return 0;
  uv_timer_init(loop, &a->more);
  a->more.data = a;
  n = rnj_seq_poll_fds(&a->seq, fds, ALSA_MAX_POLL_FDS);
  for (i = 0; i < n; i++) {
    rc = uv_poll_init(loop, &a->poll[i], fds[i].fd);
    if (rc < 0) {
      logm(RNJ_LOG_ERR, "uv_poll_init: %s", uv_strerror(rc));
      return rc;
    }
    a->poll[i].data = a;
    uv_poll_start(&a->poll[i], UV_READABLE, on_poll);
    a->npoll++;
  }
  return 0;
}

static void close_cb(uv_handle_t *h) { (void)h; }

void alsa_stop(alsa_t *a) {
  int i;
  a->stopping = 1;
  if (!a->open)
    return;
  for (i = 0; i < a->npoll; i++)
    uv_close((uv_handle_t *)&a->poll[i], close_cb);
  uv_close((uv_handle_t *)&a->more, close_cb);
}

void alsa_close(alsa_t *a) {
  rnj_seq_close(&a->seq);
  a->open = 0;
}

/* ------------------------------------------------------------ time */

double alsa_now(alsa_t *a) {
  if (a->open)
    return rnj_seq_now(&a->seq);
  return (double)(now_ns() - a->t0_ns) * 1e-9;
}

double alsa_offset(alsa_t *a) {
  uint64_t t0;
  uint64_t t1;
  double q;
  if (!a->open)
    return (double)a->t0_ns * 1e-9;
  /* the queue's time read between two monotonic readings: their mean */
  t0 = now_ns();
  q = rnj_seq_now(&a->seq);
  t1 = now_ns();
  return (double)(t0 / 2 + t1 / 2) * 1e-9 - q;
}

/* ------------------------------------------------------------ output */

int alsa_note(alsa_t *a, double on, double off, int pitch, int velocity) {
  if (!a->open)
    return -1;
  return rnj_seq_note(&a->seq, on, off, pitch, velocity);
}

void alsa_cancel(alsa_t *a) {
  if (a->open)
    rnj_seq_cancel(&a->seq);
}

void alsa_note_off_now(alsa_t *a, int pitch) {
  if (a->open)
    rnj_seq_note_off_now(&a->seq, pitch);
}

void alsa_all_off(alsa_t *a) {
  if (a->open)
    rnj_seq_all_off(&a->seq);
}

int alsa_realtime(alsa_t *a, double t, int status) {
  if (!a->open)
    return -1;
  return rnj_seq_realtime(&a->seq, t, status);
}

void alsa_cancel_realtime(alsa_t *a) {
  if (a->open)
    rnj_seq_cancel_realtime(&a->seq);
}

void alsa_flush(alsa_t *a) {
  if (a->open)
    rnj_seq_flush(&a->seq);
}

void alsa_set_channel(alsa_t *a, int channel) {
  if (!a->open)
    return;
  rnj_seq_flush(&a->seq);
  a->seq.channel = channel;
}

int alsa_drain(alsa_t *a, int timeout_ms) {
  if (!a->open)
    return 0;
  return rnj_seq_drain(&a->seq, timeout_ms);
}

/* ------------------------------------------------------------ reports */

void alsa_report(alsa_t *a) {
  if (a->connections != a->reported_connections) {
    a->reported_connections = a->connections;
    logm(RNJ_LOG_INFO, "connected input %d:%d", a->last_connected_client,
         a->last_connected_port);
  }
  if (a->disconnections != a->reported_disconnections) {
    a->reported_disconnections = a->disconnections;
    logm(RNJ_LOG_INFO, "input %d:%d went away; the keys it held are "
         "released", a->last_disconnected_client,
         a->last_disconnected_port);
  }
  if (a->seq.lost != a->reported_lost) {
    logm(RNJ_LOG_WARNING,
         "sequencer input overflowed %llu time(s): events lost",
         (unsigned long long)(a->seq.lost - a->reported_lost));
    a->reported_lost = a->seq.lost;
  }
}

void alsa_counts(const alsa_t *a, alsa_counts_t *out) {
  out->events_in = a->events_in;
  out->read_errors = a->read_errors;
  out->last_read_error = a->last_read_error;
  out->out_errors = a->seq.out_errors;
  out->lost = a->seq.lost;
}
