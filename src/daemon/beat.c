/* rnnjamd's musical time.
 *
 * The beat clock (rnj_clock_t) lives here and the engine borrows it: the
 * engine feeds it (the player's onsets, MIDI Clock and JACK transport
 * routed by loop.c) and plays by it.  This file does the rest of what the
 * daemon owes to musical time:
 *
 *   - MIDI Clock out (clock_out = on) while rnnjamd keeps the time (the
 *     clock follows the player or the fixed tempo): Start on a bar line,
 *     then 24 pulses a beat, scheduled HORIZON ahead on the ALSA queue and
 *     at their frames on JACK, topped up every PUMP_MS by a timer; Stop
 *     when another source takes over, when clock out is turned off and at
 *     exit.  Pulses are placed through the clock's timeline, so a tempo
 *     estimated from the player reaches a drum machine following us.
 *   - one log line when a source takes over and when a MIDI clock is
 *     lost, written from a timer after the event that caused it.
 *
 * This file touches only its beat_t; it reads the clock in it, takes the
 * engine's clock events, and sends through the ALSA and JACK sides.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "beat.h"
#include "service.h"

/* Pulses are scheduled this far ahead (s): the loop may wake late by
 * tens of ms under load, and a follower must never wait for a pulse. */
#define HORIZON 0.100
#define PUMP_MS 40
/* Start goes on the first bar line at least this far ahead (s), so every
 * output has it before it is due. */
#define START_LEAD 0.050
/* Pulses scheduled per top-up at most (480 bpm: 19 in HORIZON). */
#define MAX_PULSES 64

static const char *source_text(int source) {
  switch (source) {
  case RNJ_CLOCK_MIDI:
    return "MIDI Clock";
  case RNJ_CLOCK_JACK:
    return "JACK transport";
  case RNJ_CLOCK_PLAYER:
    return "the player's tempo";
  default:
    return "the fixed tempo";
  }
}

static void params_from_conf(rnj_clock_params_t *p, const rnj_conf_t *c) {
  rnj_clock_params_default(p);
  p->source = c->clock;
  p->bpm = c->tempo;
  p->beats_per_bar = c->beats_per_bar;
}

int beat_init(beat_t *b, const rnj_conf_t *c, double now, char *err) {
  rnj_clock_params_t p;
  params_from_conf(&p, c);
  if (rnj_clock_init(&b->clock, &p, now) < 0)
    return rnj_errorf(err, RNJ_EINVAL,
                      "clock: tempo %g, beats_per_bar %d: expected 20..480 "
                      "bpm and 1..32 beats", c->tempo, c->beats_per_bar);
  b->out_wanted = c->clock_out;
  return 0;
}

/* ------------------------------------------------------------ clock out */

static void send_rt(beat_t *b, double t, int status) {
  int ok = alsa_realtime(b->alsa, t, status) == 0;
  ok |= audio_realtime(b->audio, t, status) == 0;
  if (ok && status == 0xF8)
    b->pulses_out++;
}

static void stop_sending(beat_t *b) {
  alsa_cancel_realtime(b->alsa);
  audio_cancel_realtime(b->audio);
  send_rt(b, -1.0, 0xFC);
  alsa_flush(b->alsa);
  b->sending = 0;
}

/* Ours to send: clock out is on and the clock follows rnnjamd's own
 * tempo (a follower of a MIDI clock or a DAW already has one). */
static int ours(const beat_t *b) {
  int src = rnj_clock_source(&b->clock);
  return b->out_wanted && !b->stopping && rnj_clock_rolling(&b->clock) &&
         (src == RNJ_CLOCK_PLAYER || src == RNJ_CLOCK_FIXED);
}

static void pump(beat_t *b) {
  double now;
  double until;
  int n;
  if (!ours(b)) {
    if (b->sending)
      stop_sending(b);
    return;
  }
  now = alsa_now(b->alsa);
  if (!b->sending) {
    double t = rnj_clock_next_bar(&b->clock, now + START_LEAD);
    send_rt(b, t, 0xFA);
    b->sent_until = t - 1e-4; /* the pulse on that bar line is the first */
    b->sending = 1;
  }
  until = now + HORIZON;
  for (n = 0; n < MAX_PULSES; n++) {
    double p = rnj_clock_next_pulse(&b->clock, b->sent_until + 1e-6);
    if (!isfinite(p) || p > until)
      break;
    /* A stall: the pulses it missed are gone, not sent in a burst. */
    if (p < now)
      p = rnj_clock_next_pulse(&b->clock, now);
    send_rt(b, p, 0xF8);
    b->sent_until = p;
  }
  alsa_flush(b->alsa);
}

static void on_pump(uv_timer_t *t) { pump(t->data); }

/* ------------------------------------------------------------ reports */

static void on_report(uv_timer_t *t) {
  beat_t *b = t->data;
  unsigned ev = b->events;
  double bpm = rnj_clock_bpm(&b->clock);
  b->events = 0;
  if (ev & RNJ_CLOCK_EV_LOST)
    logm(RNJ_LOG_WARNING,
         "clock: MIDI Clock lost (no pulse for %g intervals); keeping "
         "%.1f bpm", RNJ_CLOCK_LOSS_PULSES, bpm);
  if (ev & RNJ_CLOCK_EV_SOURCE)
    logm(RNJ_LOG_INFO, "clock: %s takes over at %.1f bpm",
         source_text(rnj_clock_source(&b->clock)), bpm);
  if (ev & (RNJ_CLOCK_EV_STOP | RNJ_CLOCK_EV_START))
    logm(RNJ_LOG_DEBUG, "clock: %s",
         rnj_clock_rolling(&b->clock) ? "rolling" : "stopped");
  if (ev & RNJ_CLOCK_EV_TEMPO)
    logm(RNJ_LOG_DEBUG, "clock: %.2f bpm", bpm);
  if (ev & RNJ_CLOCK_EV_JUMP)
    logm(RNJ_LOG_DEBUG, "clock: the position moved by %.4f beats",
         b->engine->last_jump);
  pump(b);
}

void beat_poll(beat_t *b) {
  unsigned ev;
  if (!b->started || b->stopping)
    return;
  ev = rnj_engine_take_clock_events(b->engine);
  if (!ev)
    return;
  b->events |= ev;
  if (!uv_is_active((uv_handle_t *)&b->report))
    uv_timer_start(&b->report, on_report, 0, 0);
}

/* ------------------------------------------------------------ set-up */

void beat_start(beat_t *b, uv_loop_t *loop, rnj_engine_t *engine,
                alsa_t *alsa, audio_t *audio, const rnj_conf_t *c) {
  b->engine = engine;
  b->alsa = alsa;
  b->audio = audio;
  uv_timer_init(loop, &b->pump);
  uv_timer_init(loop, &b->report);
  b->pump.data = b->report.data = b;
  b->started = 1;
  logm(RNJ_LOG_INFO, "clock: %s at %.1f bpm (clock = %s, quantize %s, "
       "swing %d%%, answer_start %s, clock_out %s)",
       source_text(rnj_clock_source(&b->clock)), rnj_clock_bpm(&b->clock),
       rnj_clock_source_name(c->clock), rnj_grid_name(c->quantize), c->swing,
       rnj_grid_answer_start_name(c->answer_start),
       c->clock_out ? "on" : "off");
  /* The timer runs whatever clock_out says: a reload may turn it on. */
  uv_timer_start(&b->pump, on_pump, 0, PUMP_MS);
}

void beat_reload(beat_t *b, const rnj_conf_t *c) {
  rnj_clock_params_t p;
  params_from_conf(&p, c);
  if (rnj_clock_set_params(&b->clock, &p, alsa_now(b->alsa)) < 0)
    logm(RNJ_LOG_WARNING, "clock: the new tempo or metre was refused");
  b->out_wanted = c->clock_out;
  pump(b);
}

static void close_cb(uv_handle_t *h) { (void)h; }

void beat_stop(beat_t *b) {
  if (!b->started)
    return;
  b->stopping = 1;
  if (b->sending)
    stop_sending(b);
  uv_close((uv_handle_t *)&b->pump, close_cb);
  uv_close((uv_handle_t *)&b->report, close_cb);
}

void beat_describe(const beat_t *b, char *buf, size_t len) {
  snprintf(buf, len, "clock %s %.1f bpm%s",
           rnj_clock_source_name(rnj_clock_source(&b->clock)),
           rnj_clock_bpm(&b->clock),
           rnj_clock_rolling(&b->clock) ? "" : ", stopped");
}

void beat_stats(const beat_t *b, char *buf, size_t len) {
  const rnj_clock_stats_t *s = &b->clock.stats;
  snprintf(buf, len,
           "clock: %s %.2f bpm %s, pulses %llu (late %llu, ignored %llu, "
           "lost %llu), starts %llu, "
           "stops %llu, song positions %llu, losses %llu, relocks %llu, "
           "jack positions %llu, jumps %llu, phrases %llu, estimates %llu, "
           "switches %llu, clock out %s (%llu pulses)",
           rnj_clock_source_name(rnj_clock_source(&b->clock)),
           rnj_clock_bpm(&b->clock),
           rnj_clock_rolling(&b->clock) ? "rolling" : "stopped",
           (unsigned long long)s->pulses,
           (unsigned long long)s->pulses_late,
           (unsigned long long)s->pulses_ignored,
           (unsigned long long)s->pulses_lost,
           (unsigned long long)s->starts, (unsigned long long)s->stops,
           (unsigned long long)s->songpos, (unsigned long long)s->losses,
           (unsigned long long)s->relocks,
           (unsigned long long)s->jack_positions,
           (unsigned long long)s->jumps, (unsigned long long)s->phrases,
           (unsigned long long)s->estimates,
           (unsigned long long)s->switches,
           b->sending      ? "sending"
           : !b->out_wanted ? "off"
           : b->stopping    ? "on, stopped"
                            : "on, another source keeps the time",
           (unsigned long long)b->pulses_out);
}
