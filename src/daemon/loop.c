/* rnnjamd's event loop (libuv): one thread for MIDI and inference.
 *
 * uv_poll watches the sequencer's descriptors; each wake-up drains the
 * input into the engine, ticks it and writes the output.  A uv_timer wakes
 * the engine when it asked to be (the start of an answer, the next note
 * entering the lookahead).  Signals arrive through uv_signal, so their
 * handling runs on the loop like everything else.
 *
 * The event path (on_poll, on_tick) allocates nothing and does no I/O but
 * the sequencer's non-blocking calls; what it notices (a new connection,
 * lost input, a mode switch) is logged from a deferred timer callback.
 * SIGHUP builds the new configuration and model on libuv's worker thread
 * and swaps them in on the loop; a model that fails to load is refused and
 * the old one keeps playing.
 *
 * With midi = jack there is no sequencer to poll: JACK MIDI input arrives
 * through a uv_async_t the audio thread signals (audio.c), and goes
 * through the same daemon_dispatch as the sequencer's events.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "rnnjam/sample.h"

/* Input events taken per wake-up; the rest wait for the next iteration so
 * timers and signals still run during a flood (poll is level-triggered). */
#define MAX_EVENTS_PER_WAKE 512

static void schedule_tick(daemon_t *d, double next, double now);
static void on_tick(uv_timer_t *t);
static void run_tick(daemon_t *d);

void daemon_tick(daemon_t *d) { run_tick(d); }

static void update_status(daemon_t *d) {
  notify("STATUS=%s mode, model %s; %llu notes in, %llu out",
         rnj_mode_name(d->engine.p.mode), d->conf.checkpoint,
         (unsigned long long)d->engine.stats.notes_in,
         (unsigned long long)d->engine.stats.notes_out);
}

static void log_stats(daemon_t *d, const char *when) {
  const rnj_engine_stats_t *s = &d->engine.stats;
  char jack[512];
  double p50, p99, max, t50, t99, tmax;
  uint64_t n = timing_report(&d->t_note, d->scratch, &p50, &p99, &max);
  uint64_t nt = timing_report(&d->t_tick, d->scratch, &t50, &t99, &tmax);
  audio_stats(d, jack, sizeof jack);
  logm(RNJ_LOG_INFO,
       "stats (%s): rss %ld kB; events in %llu, notes in %llu, fed %llu, "
       "out %llu; answers %llu, interrupted %llu; dropped: inflight %llu, "
       "sched %llu, overlap %llu, out errors %llu+%llu, input lost %llu, "
       "keys timed out %llu; "
       "note handler p50 %.2f us p99 %.2f us max %.1f us (n=%llu); "
       "tick p50 %.2f us p99 %.2f us max %.1f us (n=%llu); "
       "engine: state %d, keys down %d, inflight %d, call %d, queued %d; "
       "read errors %llu (last %d); %s",
       when, rss_kb(), (unsigned long long)d->events_in,
       (unsigned long long)s->notes_in, (unsigned long long)s->notes_fed,
       (unsigned long long)s->notes_out, (unsigned long long)s->answers,
       (unsigned long long)s->interruptions,
       (unsigned long long)s->dropped_inflight,
       (unsigned long long)s->dropped_sched,
       (unsigned long long)s->skipped_overlap,
       (unsigned long long)s->out_errors,
       (unsigned long long)d->seq.out_errors,
       (unsigned long long)d->seq.lost,
       (unsigned long long)s->keys_timed_out, p50, p99, max,
       (unsigned long long)n, t50, t99, tmax, (unsigned long long)nt,
       (int)d->engine.st, d->engine.sounding, d->engine.in_n,
       d->engine.call_notes, d->engine.sched_n,
       (unsigned long long)d->read_errors, d->last_read_error, jack);
}

/* ------------------------------------------------------------ deferred */

static void on_deferred(uv_timer_t *t) {
  daemon_t *d = t->data;
  if (d->engine.p.mode != d->reported_mode) {
    d->reported_mode = d->engine.p.mode;
    logm(RNJ_LOG_INFO, "mode: %s", rnj_mode_name(d->reported_mode));
    update_status(d);
  }
  if (d->connections != d->reported_connections) {
    d->reported_connections = d->connections;
    logm(RNJ_LOG_INFO, "connected input %d:%d", d->last_connected_client,
         d->last_connected_port);
  }
  if (d->disconnections != d->reported_disconnections) {
    d->reported_disconnections = d->disconnections;
    logm(RNJ_LOG_INFO, "input %d:%d went away; the keys it held are "
         "released", d->last_disconnected_client,
         d->last_disconnected_port);
  }
  if (d->seq.lost != d->reported_lost) {
    logm(RNJ_LOG_WARNING,
         "sequencer input overflowed %llu time(s): events lost",
         (unsigned long long)(d->seq.lost - d->reported_lost));
    d->reported_lost = d->seq.lost;
  }
}

static void defer_report(daemon_t *d) {
  if (!uv_is_active((uv_handle_t *)&d->deferred))
    uv_timer_start(&d->deferred, on_deferred, 0, 0);
}

/* ------------------------------------------------------------ event path */

static void run_tick(daemon_t *d) {
  double now = daemon_now(d);
  uint64_t t0 = now_ns();
  double next = rnj_engine_tick(&d->engine, now);
  if (d->seq_open)
    rnj_seq_flush(&d->seq);
  timing_add(&d->t_tick, now_ns() - t0);
  schedule_tick(d, next, now);
}

static void schedule_tick(daemon_t *d, double next, double now) {
  double ms;
  if (d->stopping || isinf(next)) {
    uv_timer_stop(&d->tick);
    return;
  }
  ms = (next - now) * 1000.0;
  if (ms < 0)
    ms = 0;
  if (ms > 3600e3)
    ms = 3600e3;
  /* The loop's cached time may be stale after a long callback; a timer
   * measured from it would fire early. */
  uv_update_time(&d->loop);
  /* Round up: waking a little late is absorbed by the lookahead, waking
   * early would just cost one more wake-up. */
  uv_timer_start(&d->tick, on_tick, (uint64_t)ceil(ms), 0);
}

static void on_tick(uv_timer_t *t) {
  daemon_t *d = t->data;
  if (!d->stopping)
    run_tick(d);
}

static void read_input(daemon_t *d);

static void on_poll(uv_poll_t *p, int status, int events) {
  read_input(p->data);
}

static void on_more(uv_timer_t *t) { read_input(t->data); }

void daemon_dispatch(daemon_t *d, const rnj_seq_event_t *ev, int from_alsa) {
  uint64_t t0 = now_ns();
  int mode_before = d->engine.p.mode;
  switch (ev->type) {
  case RNJ_SEQ_EV_NOTE_ON:
    rnj_engine_note_on(&d->engine, ev->time, ev->channel, ev->a, ev->b);
    timing_add(&d->t_note, now_ns() - t0);
    break;
  case RNJ_SEQ_EV_NOTE_OFF:
    rnj_engine_note_off(&d->engine, ev->time, ev->channel, ev->a);
    timing_add(&d->t_note, now_ns() - t0);
    break;
  case RNJ_SEQ_EV_CC:
    rnj_engine_cc(&d->engine, ev->time, ev->channel, ev->a, ev->b);
    break;
  case RNJ_SEQ_EV_LOST:
    rnj_engine_input_lost(&d->engine, ev->time);
    defer_report(d);
    break;
  case RNJ_SEQ_EV_DISCONNECTED:
    rnj_engine_input_lost(&d->engine, ev->time);
    d->disconnections++;
    d->last_disconnected_client = ev->src_client;
    d->last_disconnected_port = ev->src_port;
    defer_report(d);
    break;
  case RNJ_SEQ_EV_CONNECTED:
    d->connections++;
    d->last_connected_client = ev->src_client;
    d->last_connected_port = ev->src_port;
    defer_report(d);
    break;
  default:
    break;
  }
  /* render = all: the player's notes from the ALSA port are heard too
   * (JACK input reaches the synth inside the audio thread). */
  if (from_alsa && d->jack_wanted && d->conf.render == RNJ_RENDER_ALL &&
      (ev->type == RNJ_SEQ_EV_NOTE_ON || ev->type == RNJ_SEQ_EV_NOTE_OFF ||
       ev->type == RNJ_SEQ_EV_CC) && rnj_jack_up(&d->jack))
    rnj_jack_player(&d->jack, ev->time,
                    (ev->type == RNJ_SEQ_EV_NOTE_ON    ? 0x90
                     : ev->type == RNJ_SEQ_EV_NOTE_OFF ? 0x80
                                                       : 0xB0) |
                        ev->channel,
                    ev->a, ev->type == RNJ_SEQ_EV_NOTE_OFF ? 0 : ev->b);
  if (d->engine.p.mode != mode_before)
    defer_report(d);
}

static void read_input(daemon_t *d) {
  rnj_seq_event_t ev;
  int i;
  int rc;
  if (d->stopping)
    return;
  for (i = 0; i < MAX_EVENTS_PER_WAKE; i++) {
    rc = rnj_seq_read(&d->seq, &ev);
    if (rc == 0)
      break;
    if (rc < 0) {
      d->read_errors++;
      d->last_read_error = rc;
      break;
    }
    d->events_in++;
    daemon_dispatch(d, &ev, 1);
  }
  /* alsa-lib reads the kernel's events in bulk; what is left in its buffer
   * does not make the descriptor readable, so come back for it on the next
   * loop iteration (after timers and signals have had their turn). */
  if (i == MAX_EVENTS_PER_WAKE && rnj_seq_pending(&d->seq) > 0)
    uv_timer_start(&d->more, on_more, 0, 0);
  run_tick(d);
}

/* ------------------------------------------------------------ reload */

static void reload_work(uv_work_t *w) {
  daemon_t *d = w->data;
  d->new_lstm = NULL;
  d->reload_err[0] = '\0';
  d->reload_rc = build_conf(&d->new_conf, d->opt, NULL, 0, d->reload_err);
  if (d->reload_rc < 0)
    return;
  d->reload_rc = load_model(d->new_conf.checkpoint, &d->new_lstm,
                            &d->new_seq_length, d->reload_err);
}

/* The old model and settings play on; the new model is dropped, and the
 * service manager hears the reload is over (READY=1) and why it failed. */
static void reload_refused(daemon_t *d, const char *why) {
  logm(RNJ_LOG_ERR, "reload refused: %s; still playing %s", why,
       d->conf.checkpoint);
  rnj_net_delete(d->new_lstm);
  d->new_lstm = NULL;
  notify("READY=1\nSTATUS=reload refused (%s); %s mode, model %s", why,
         rnj_mode_name(d->engine.p.mode), d->conf.checkpoint);
}

static void reload_done(uv_work_t *w, int status) {
  daemon_t *d = w->data;
  rnj_conf_t *c = &d->new_conf;
  rnj_engine_params_t params;
  rnj_sampler_t sampler;
  const rnj_net_t *old;
  char err[RNJ_ERR_LEN];
  d->reloading = 0;
  if (status < 0 || d->reload_rc < 0) {
    reload_refused(d, status < 0 ? uv_strerror(status) : d->reload_err);
    return;
  }
  rnj_sampler_init(&sampler, 0);
  sampler.temperature = (float)c->temperature;
  sampler.time_temperature = (float)c->time_temperature;
  sampler.top_p = (float)c->top_p;
  sampler.top_k = c->top_k;
  sampler.pitch_min = c->pitch_min;
  sampler.pitch_max = c->pitch_max;
  if (rnj_sampler_check(&sampler, err) < 0) {
    reload_refused(d, err);
    return;
  }
  if (strcmp(c->client_name, d->conf.client_name) != 0 ||
      strcmp(c->connect_in, d->conf.connect_in) != 0 ||
      strcmp(c->connect_out, d->conf.connect_out) != 0)
    logm(RNJ_LOG_WARNING, "client_name, connect_in and connect_out take "
                          "effect at the next start");
  if (c->transport != d->conf.transport || c->audio != d->conf.audio ||
      c->render != d->conf.render || c->gain != d->conf.gain ||
      strcmp(c->soundfont, d->conf.soundfont) != 0 ||
      strcmp(c->autoconnect, d->conf.autoconnect) != 0 ||
      strcmp(c->jack_connect_in, d->conf.jack_connect_in) != 0 ||
      strcmp(c->jack_connect_out, d->conf.jack_connect_out) != 0)
    logm(RNJ_LOG_WARNING, "midi, audio, render, gain, soundfont and the "
                          "JACK connections take effect at the next start");
  /* Everything sounding stops before anything changes, so no note-on is
   * ever orphaned by the swap (the engine silences in set_net). */
  old = rnj_engine_set_net(&d->engine, d->new_lstm);
  if (c->channel != d->conf.channel) {
    rnj_engine_panic(&d->engine);
    if (d->seq_open)
      rnj_seq_flush(&d->seq);
    d->seq.channel = c->channel - 1;
  }
  audio_reload(d, &d->conf, c);
  rnj_engine_params_from_conf(&params, c);
  /* What the player set by CC stays unless the files changed that key:
   * reloading a model should not flip the mode under their hands. */
  if (c->mode == d->conf.mode)
    params.mode = d->engine.p.mode;
  if (c->answer_length == d->conf.answer_length)
    params.answer_length = d->engine.p.answer_length;
  if (c->temperature == d->conf.temperature)
    sampler.temperature = d->engine.sampler.temperature;
  rnj_engine_set_params(&d->engine, &params);
  rnj_engine_set_sampling(&d->engine, &sampler);
  if (d->seq_open)
    rnj_seq_flush(&d->seq);
  rnj_net_delete((rnj_net_t *)old);
  d->lstm = d->new_lstm;
  d->seq_length = d->new_seq_length;
  d->new_lstm = NULL;
  /* keep what cannot change while running */
  snprintf(c->client_name, sizeof c->client_name, "%s", d->conf.client_name);
  snprintf(c->connect_in, sizeof c->connect_in, "%s", d->conf.connect_in);
  snprintf(c->connect_out, sizeof c->connect_out, "%s", d->conf.connect_out);
  c->transport = d->conf.transport;
  c->audio = d->conf.audio;
  c->render = d->conf.render;
  c->gain = d->conf.gain;
  snprintf(c->soundfont, sizeof c->soundfont, "%s", d->conf.soundfont);
  snprintf(c->autoconnect, sizeof c->autoconnect, "%s", d->conf.autoconnect);
  snprintf(c->jack_connect_in, sizeof c->jack_connect_in, "%s",
           d->conf.jack_connect_in);
  snprintf(c->jack_connect_out, sizeof c->jack_connect_out, "%s",
           d->conf.jack_connect_out);
  d->conf = *c;
  log_level_max = d->conf.log_level;
  logm(RNJ_LOG_INFO, "reloaded: model %s (window %d), mode %s",
       d->conf.checkpoint, d->seq_length, rnj_mode_name(d->engine.p.mode));
  d->reported_mode = d->engine.p.mode;
  notify("READY=1");
  update_status(d);
  run_tick(d);
}

/* ------------------------------------------------------------ signals */

static void close_cb(uv_handle_t *h) { (void)h; }

static void shutdown_loop(daemon_t *d, int signum) {
  int i;
  d->stopping = 1;
  notify("STOPPING=1");
  /* Silence first: cancel what is queued, note-off what may sound,
   * all-notes-off on the channel, and wait until it is written. */
  rnj_engine_stop(&d->engine);
  if (d->seq_open && rnj_seq_drain(&d->seq, 500) < 0)
    logm(RNJ_LOG_WARNING, "could not write the final note-offs");
  logm(RNJ_LOG_INFO, "%s: stopping, all notes off", strsignal(signum));
  log_stats(d, "exit");
  /* JACK's note-offs go out in the audio thread's next periods. */
  audio_stop(d);
  for (i = 0; i < d->npoll; i++)
    uv_close((uv_handle_t *)&d->poll[i], close_cb);
  uv_close((uv_handle_t *)&d->sig_int, close_cb);
  uv_close((uv_handle_t *)&d->sig_term, close_cb);
  uv_close((uv_handle_t *)&d->sig_hup, close_cb);
  uv_close((uv_handle_t *)&d->sig_usr1, close_cb);
  uv_close((uv_handle_t *)&d->tick, close_cb);
  uv_close((uv_handle_t *)&d->watchdog, close_cb);
  uv_close((uv_handle_t *)&d->stats, close_cb);
  uv_close((uv_handle_t *)&d->deferred, close_cb);
  uv_close((uv_handle_t *)&d->more, close_cb);
}

static void on_signal(uv_signal_t *s, int signum) {
  daemon_t *d = s->data;
  if (d->stopping)
    return;
  if (signum == SIGHUP) {
    if (d->reloading) {
      logm(RNJ_LOG_NOTICE, "reload already running");
      return;
    }
    /* READY=1 follows when the reload has finished, kept or refused
     * (reload_done): systemctl reload waits for it.  MONOTONIC_USEC is
     * what systemd's notify-reload protocol asks to go with RELOADING. */
    notify("RELOADING=1\nMONOTONIC_USEC=%llu",
           (unsigned long long)(now_ns() / 1000u));
    logm(RNJ_LOG_INFO, "reloading configuration and model");
    d->reloading = 1;
    d->reload.data = d;
    if (uv_queue_work(&d->loop, &d->reload, reload_work, reload_done) < 0) {
      d->reloading = 0;
      logm(RNJ_LOG_ERR, "reload could not start");
      notify("READY=1");
    }
    return;
  }
  if (signum == SIGUSR1) {
    log_stats(d, "SIGUSR1");
    return;
  }
  shutdown_loop(d, signum);
}

static void on_watchdog(uv_timer_t *t) {
  (void)t;
  notify("WATCHDOG=1");
}

static void on_stats(uv_timer_t *t) {
  daemon_t *d = t->data;
  log_stats(d, "periodic");
  update_status(d);
}

/* ------------------------------------------------------------ run */

int daemon_run(daemon_t *d) {
  struct pollfd fds[MAX_POLL_FDS];
  uint64_t wd;
  int n;
  int i;
  int rc;

  /* The worker pool only ever runs a reload: one thread is enough. */
  setenv("UV_THREADPOOL_SIZE", "1", 0);
  rc = uv_loop_init(&d->loop);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "uv_loop_init: %s", uv_strerror(rc));
    return 1;
  }
  n = d->seq_open ? rnj_seq_poll_fds(&d->seq, fds, MAX_POLL_FDS) : 0;
  for (i = 0; i < n; i++) {
    rc = uv_poll_init(&d->loop, &d->poll[i], fds[i].fd);
    if (rc < 0) {
      logm(RNJ_LOG_ERR, "uv_poll_init: %s", uv_strerror(rc));
      return 1;
    }
    d->poll[i].data = d;
    uv_poll_start(&d->poll[i], UV_READABLE, on_poll);
    d->npoll++;
  }
  uv_signal_init(&d->loop, &d->sig_int);
  uv_signal_init(&d->loop, &d->sig_term);
  uv_signal_init(&d->loop, &d->sig_hup);
  uv_signal_init(&d->loop, &d->sig_usr1);
  d->sig_int.data = d->sig_term.data = d->sig_hup.data = d;
  d->sig_usr1.data = d;
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
  uv_signal_start(&d->sig_usr1, on_signal, SIGUSR1);
  uv_timer_init(&d->loop, &d->tick);
  uv_timer_init(&d->loop, &d->watchdog);
  uv_timer_init(&d->loop, &d->stats);
  uv_timer_init(&d->loop, &d->deferred);
  uv_timer_init(&d->loop, &d->more);
  d->tick.data = d->watchdog.data = d->stats.data = d->deferred.data = d;
  d->more.data = d;
  /* The first tick starts continuous mode and feeds nothing else. */
  uv_timer_start(&d->tick, on_tick, 0, 0);
  wd = notify_watchdog_ms();
  if (wd > 0)
    uv_timer_start(&d->watchdog, on_watchdog, wd / 2, wd / 2);
  if (d->conf.stats_interval_s > 0)
    uv_timer_start(&d->stats, on_stats, d->conf.stats_interval_s * 1000u,
                   d->conf.stats_interval_s * 1000u);
  d->reported_mode = d->engine.p.mode;
  if (audio_start(d) < 0)
    return 1;

  notify("READY=1\nSTATUS=%s mode, model %s", rnj_mode_name(d->conf.mode),
         d->conf.checkpoint);
  uv_run(&d->loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&d->loop);
  if (rc < 0)
    logm(RNJ_LOG_WARNING, "uv_loop_close: %s", uv_strerror(rc));
  return 0;
}
