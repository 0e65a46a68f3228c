/* rnnjamd's event loop (libuv): one thread for MIDI and inference.
 *
 * The ALSA side (alsa.c) and the JACK side (audio.c) hand their input to
 * on_event here, which feeds the engine, and then ask for a tick: the
 * engine does what is due and says when it wants to be woken again, and a
 * uv_timer wakes it then (the start of an answer, the next note entering
 * the lookahead).  The engine's notes go out through both sides
 * (daemon_engine_out).  Signals arrive through uv_signal, so their
 * handling runs on the loop like everything else.
 *
 * The event path (on_event, run_tick) allocates nothing and does no I/O
 * but the sequencer's non-blocking calls and the JACK rings; what it
 * notices (a new connection, lost input, a mode switch) is logged by
 * stats.c from a deferred timer.  SIGHUP builds the new configuration and
 * model off the loop (reload.c) and apply_reload swaps them in here; a
 * model that fails to load is refused and the old one keeps playing.
 *
 * This file owns daemon_t's own fields (the loop, the signals, the tick,
 * the configuration, the engine and the model) and reaches the parts only
 * through their functions.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "rnnjam/sample.h"

/* ------------------------------------------------------- engine output */

static int out_note(void *ctx, double on, double off, int pitch, int vel) {
  daemon_t *d = ctx;
  int ok = 0;
  if (alsa_note(&d->alsa, on, off, pitch, vel) == 0)
    ok = 1;
  if (audio_note(&d->audio, on, off, pitch, vel) == 0)
    ok = 1;
  return ok ? 0 : -EAGAIN;
}

static void out_cancel(void *ctx) {
  daemon_t *d = ctx;
  alsa_cancel(&d->alsa);
  audio_cancel(&d->audio);
}

static void out_off_now(void *ctx, int pitch) {
  daemon_t *d = ctx;
  alsa_note_off_now(&d->alsa, pitch);
  audio_note_off_now(&d->audio, pitch);
}

static void out_all_off(void *ctx) {
  daemon_t *d = ctx;
  alsa_all_off(&d->alsa);
  audio_all_off(&d->audio);
}

static double out_now(void *ctx) {
  daemon_t *d = ctx;
  return alsa_now(&d->alsa);
}

void daemon_engine_out(daemon_t *d, rnj_engine_out_t *out) {
  out->ctx = d;
  out->note = out_note;
  out->cancel = out_cancel;
  out->note_off_now = out_off_now;
  out->all_off = out_all_off;
  out->now = out_now;
}

/* ------------------------------------------------------------ event path */

static void on_tick(uv_timer_t *t);

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

static void run_tick(daemon_t *d) {
  double now = alsa_now(&d->alsa);
  uint64_t t0 = now_ns();
  double next = rnj_engine_tick(&d->engine, now);
  alsa_flush(&d->alsa);
  stats_tick_time(&d->stats, now_ns() - t0);
  beat_poll(&d->beat);
  schedule_tick(d, next, now);
}

static void on_tick(uv_timer_t *t) {
  daemon_t *d = t->data;
  if (!d->stopping)
    run_tick(d);
}

/* The input hooks of the ALSA and the JACK side. */
static void on_input_tick(void *ctx) { run_tick(ctx); }

static void on_event(void *ctx, const rnj_seq_event_t *ev, int from_alsa) {
  daemon_t *d = ctx;
  uint64_t t0 = now_ns();
  int mode_before = d->engine.p.mode;
  switch (ev->type) {
  case RNJ_SEQ_EV_NOTE_ON:
    rnj_engine_note_on(&d->engine, ev->time, ev->channel, ev->a, ev->b);
    stats_note_time(&d->stats, now_ns() - t0);
    break;
  case RNJ_SEQ_EV_NOTE_OFF:
    rnj_engine_note_off(&d->engine, ev->time, ev->channel, ev->a);
    stats_note_time(&d->stats, now_ns() - t0);
    break;
  case RNJ_SEQ_EV_CC:
    rnj_engine_cc(&d->engine, ev->time, ev->channel, ev->a, ev->b);
    break;
  case RNJ_SEQ_EV_LOST:
  case RNJ_SEQ_EV_DISCONNECTED:
    rnj_engine_input_lost(&d->engine, ev->time);
    stats_defer(&d->stats);
    break;
  case RNJ_SEQ_EV_CONNECTED:
    stats_defer(&d->stats);
    break;
  /* MIDI Clock and its transport messages: the status byte in a, a Song
   * Position's 16ths in b (seq.h). */
  case RNJ_SEQ_EV_CLOCK:
  case RNJ_SEQ_EV_START:
  case RNJ_SEQ_EV_CONTINUE:
  case RNJ_SEQ_EV_STOP:
  case RNJ_SEQ_EV_SONGPOS:
    rnj_engine_clock_midi(&d->engine, ev->time, ev->a, ev->b);
    d->clock_via_jack = !from_alsa;
    break;
  case RNJ_SEQ_EV_TIMEBASE:
    /* The JACK side's times moved; a MIDI Clock coming that way moves
     * with them (one over ALSA does not). */
    if (d->clock_via_jack)
      rnj_engine_clock_midi_shift(&d->engine, ev->b * 1e-6);
    break;
  default:
    break;
  }
  if (from_alsa)
    audio_player(&d->audio, ev);
  if (d->engine.p.mode != mode_before)
    stats_defer(&d->stats);
  beat_poll(&d->beat);
}

static void on_transport(void *ctx, double t, const rnj_clock_jack_t *pos) {
  daemon_t *d = ctx;
  rnj_engine_clock_jack(&d->engine, t, pos);
  beat_poll(&d->beat);
}

/* ------------------------------------------------------------ reload */

static void apply_reload(void *ctx, reload_t *r) {
  daemon_t *d = ctx;
  rnj_conf_t *c = &r->new_conf;
  rnj_engine_params_t params;
  rnj_sampler_t sampler = r->sampler;
  const rnj_net_t *old;
  /* Everything sounding stops before anything changes, so no note-on is
   * ever orphaned by the swap (the engine silences in set_net). */
  old = rnj_engine_set_net(&d->engine, r->new_net);
  if (c->channel != d->conf.channel) {
    rnj_engine_panic(&d->engine);
    alsa_set_channel(&d->alsa, c->channel - 1);
  }
  audio_reload(&d->audio, &d->conf, c);
  beat_reload(&d->beat, c);
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
  alsa_flush(&d->alsa);
  rnj_net_delete((rnj_net_t *)old);
  d->net = r->new_net;
  d->seq_length = r->new_seq_length;
  r->new_net = NULL;
  d->conf = *c;
  log_level_max = d->conf.log_level;
  logm(RNJ_LOG_INFO, "reloaded: model %s (%s, window %d), mode %s",
       d->conf.checkpoint, rnj_net_format(d->net), d->seq_length,
       rnj_mode_name(d->engine.p.mode));
  stats_mode_reported(&d->stats);
  notify("READY=1");
  stats_status(&d->stats);
  run_tick(d);
}

/* ------------------------------------------------------------ signals */

static void close_cb(uv_handle_t *h) { (void)h; }

static void shutdown_loop(daemon_t *d, int signum) {
  d->stopping = 1;
  notify("STOPPING=1");
  /* Silence first: cancel what is queued, note-off what may sound,
   * all-notes-off on the channel, and wait until it is written. */
  rnj_engine_stop(&d->engine);
  /* MIDI Clock out stops too (what was scheduled ahead withdrawn, so the
   * drain does not wait for it). */
  beat_stop(&d->beat);
  if (alsa_drain(&d->alsa, 500) < 0)
    logm(RNJ_LOG_WARNING, "could not write the final note-offs");
  logm(RNJ_LOG_INFO, "%s: stopping, all notes off", strsignal(signum));
  stats_log(&d->stats, "exit");
  /* JACK's note-offs go out in the audio thread's next periods. */
  audio_stop(&d->audio);
  alsa_stop(&d->alsa);
  stats_stop(&d->stats);
  uv_close((uv_handle_t *)&d->sig_int, close_cb);
  uv_close((uv_handle_t *)&d->sig_term, close_cb);
  uv_close((uv_handle_t *)&d->sig_hup, close_cb);
  uv_close((uv_handle_t *)&d->sig_usr1, close_cb);
  uv_close((uv_handle_t *)&d->tick, close_cb);
  uv_close((uv_handle_t *)&d->watchdog, close_cb);
}

static void on_signal(uv_signal_t *s, int signum) {
  daemon_t *d = s->data;
  if (d->stopping)
    return;
  if (signum == SIGHUP) {
    reload_start(&d->reload);
    return;
  }
  if (signum == SIGUSR1) {
    stats_log(&d->stats, "SIGUSR1");
    return;
  }
  shutdown_loop(d, signum);
}

static void on_watchdog(uv_timer_t *t) {
  (void)t;
  notify("WATCHDOG=1");
}

/* ------------------------------------------------------------ run */

int daemon_run(daemon_t *d) {
  input_hooks_t hooks;
  uint64_t wd;
  int rc;

  /* The worker pool runs a reload or a soundfont load: one thread is
   * enough. */
  setenv("UV_THREADPOOL_SIZE", "1", 0);
  rc = uv_loop_init(&d->loop);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "uv_loop_init: %s", uv_strerror(rc));
    return 1;
  }
  hooks.ctx = d;
  hooks.event = on_event;
  hooks.transport = on_transport;
  hooks.tick = on_input_tick;
  if (alsa_start(&d->alsa, &d->loop, &hooks) < 0)
    return 1;
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
  d->tick.data = d->watchdog.data = d;
  /* The first tick starts continuous mode and feeds nothing else. */
  uv_timer_start(&d->tick, on_tick, 0, 0);
  wd = notify_watchdog_ms();
  if (wd > 0)
    uv_timer_start(&d->watchdog, on_watchdog, wd / 2, wd / 2);
  stats_start(&d->stats, &d->loop, &d->engine, &d->conf, &d->alsa,
              &d->audio, &d->beat);
  beat_start(&d->beat, &d->loop, &d->engine, &d->alsa, &d->audio, &d->conf);
  reload_init(&d->reload, &d->loop, d->opt, &d->conf, &d->engine,
              apply_reload, d);
  if (audio_start(&d->audio, &d->loop, &hooks) < 0)
    return 1;

  {
    char clock[128];
    beat_describe(&d->beat, clock, sizeof clock);
    notify("READY=1\nSTATUS=%s mode, model %s; %s",
           rnj_mode_name(d->conf.mode), d->conf.checkpoint, clock);
  }
  uv_run(&d->loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&d->loop);
  if (rc < 0)
    logm(RNJ_LOG_WARNING, "uv_loop_close: %s", uv_strerror(rc));
  return 0;
}
