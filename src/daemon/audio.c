/* rnnjamd's JACK side: fluidsynth's sound and the JACK MIDI ports.
 *
 * The JACK client (rnj_jack_t) connects from the loop.  Without a server
 * the daemon plays on as before (its ALSA ports work; with midi = jack
 * there is nothing to play to) and tries again on a timer, 0.5 s after
 * a failure and doubling to 5 s, so a missing server costs a
 * jack_client_open every few seconds, never a busy loop.  JACK's shutdown
 * handler and the audio thread's input wake the loop through one
 * uv_async_t (an eventfd write, async-signal-safe); the loop then reads
 * the input or closes the dead client and starts the timer.
 *
 * The synth is loaded when the server's rate is known: a first attempt
 * finds the rate (rnj_jack_connect refuses a synth at another rate), the
 * soundfont is loaded at that rate on libuv's worker thread (TimGM6mb
 * takes 0.1 s, FluidR3_GM seconds: not on the loop), and the next attempt
 * connects.  A server restarted at a new rate repeats this.  Loading
 * lazily also keeps a daemon that never meets a server small.
 *
 * Clocks: the engine's time is the ALSA side's time base (alsa_now); the
 * JACK side is told the offset between that time and CLOCK_MONOTONIC,
 * measured now and every few seconds (the queue's timer and the monotonic
 * clock may drift).
 *
 * This file touches only its audio_t; the configuration and the ALSA side
 * it reads through the pointers it was set up with, and it reaches the
 * engine through its input hooks (a lost JACK input is an
 * RNJ_SEQ_EV_LOST event).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audio.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 5000
#define CLOCK_SYNC_MS 5000
/* Periods the audio thread gets at exit to send the final note-offs. */
#define DRAIN_PERIODS 3
#define DRAIN_TIMEOUT_MS 500

static void try_connect(audio_t *a);

static int jack_live(audio_t *a) {
  return a->wanted && rnj_jack_up(&a->jack);
}

/* ------------------------------------------------------- engine output */

int audio_note(audio_t *a, double on, double off, int pitch, int velocity) {
  if (!jack_live(a))
    return -EAGAIN;
  return rnj_jack_note(&a->jack, on, off, pitch, velocity);
}

void audio_cancel(audio_t *a) {
  if (jack_live(a))
    rnj_jack_cancel(&a->jack);
}

void audio_note_off_now(audio_t *a, int pitch) {
  if (jack_live(a))
    rnj_jack_note_off_now(&a->jack, pitch);
}

void audio_all_off(audio_t *a) {
  if (jack_live(a))
    rnj_jack_all_off(&a->jack);
}

int audio_realtime(audio_t *a, double t, int status) {
  if (!jack_live(a))
    return -EAGAIN;
  return rnj_jack_realtime(&a->jack, t, status);
}

void audio_cancel_realtime(audio_t *a) {
  if (jack_live(a))
    rnj_jack_cancel_realtime(&a->jack);
}

/* render = all: the player's notes from the ALSA port are heard too
 * (JACK input reaches the synth inside the audio thread). */
void audio_player(audio_t *a, const rnj_seq_event_t *ev) {
  int status;
  if (!a->wanted || a->conf->render != RNJ_RENDER_ALL)
    return;
  switch (ev->type) {
  case RNJ_SEQ_EV_NOTE_ON:
    status = 0x90;
    break;
  case RNJ_SEQ_EV_NOTE_OFF:
    status = 0x80;
    break;
  case RNJ_SEQ_EV_CC:
    status = 0xB0;
    break;
  default:
    return;
  }
  if (rnj_jack_up(&a->jack))
    rnj_jack_player(&a->jack, ev->time, status | ev->channel, ev->a,
                    ev->type == RNJ_SEQ_EV_NOTE_OFF ? 0 : ev->b);
}

/* ------------------------------------------------------------- set-up */

int audio_setup(audio_t *a, const rnj_conf_t *conf, alsa_t *alsa,
                char *err) {
  rnj_jack_opts_t o;
  const rnj_conf_t *c = conf;
  int rc;
  a->conf = conf;
  a->alsa = alsa;
  a->wanted = c->audio == RNJ_AUDIO_JACK || (c->transport & RNJ_MIDI_JACK);
  if (!a->wanted)
    return 0;
  if (c->audio == RNJ_AUDIO_JACK) {
    /* A missing soundfont is a start-up error; loading waits for the
     * server's rate (see the top of this file). */
    rc = rnj_synth_find_soundfont(c->soundfont, NULL, 0, a->soundfont,
                                  sizeof a->soundfont, err);
    if (rc < 0)
      return rc;
  }
  memset(&o, 0, sizeof o);
  o.name = c->client_name;
  o.midi = (c->transport & RNJ_MIDI_JACK) != 0;
  o.synth = c->audio == RNJ_AUDIO_JACK ? &a->synth : NULL;
  o.channel = c->channel - 1;
  o.render_player = c->render == RNJ_RENDER_ALL;
  /* The transport is reported whatever the clock follows (a reload may
   * choose it); one query per period and a message per 0.1 s. */
  o.transport = 1;
  o.wake = NULL; /* set in audio_start, once the async handle exists */
  return rnj_jack_init(&a->jack, &o, err);
}

/* ------------------------------------------------------------- clocks */

/* engine time = monotonic - offset */
static void sync_clock(audio_t *a) {
  rnj_jack_set_offset(&a->jack, alsa_offset(a->alsa));
}

static void on_clock_sync(uv_timer_t *t) { sync_clock(t->data); }

/* Keys held on the JACK input will not be released through it. */
static void input_lost(audio_t *a) {
  rnj_seq_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.type = RNJ_SEQ_EV_LOST;
  ev.time = alsa_now(a->alsa);
  a->hooks.event(a->hooks.ctx, &ev, 0);
}

/* ------------------------------------------------------- connecting */

static void on_retry(uv_timer_t *t) { try_connect(t->data); }

static void schedule_retry(audio_t *a) {
  if (a->stopping)
    return;
  uv_timer_start(&a->retry, on_retry, a->backoff_ms, 0);
  a->backoff_ms *= 2;
  if (a->backoff_ms > BACKOFF_MAX_MS)
    a->backoff_ms = BACKOFF_MAX_MS;
}

static void synth_work(uv_work_t *w) {
  audio_t *a = w->data;
  a->synth_err[0] = '\0';
  if (rnj_synth_init(&a->new_synth, a->soundfont, a->synth_rate,
                     a->synth_gain, a->synth_program, a->synth_err) < 0)
    memset(&a->new_synth, 0, sizeof a->new_synth);
}

/* Close the client so it can be opened again with the audio ports: the
 * generated notes still sounding on JACK MIDI out are ended first (a DAW
 * recording them must not be left with a hanging note), and keys held on
 * the JACK input will not be released through it. */
static void jack_reopen(audio_t *a) {
  if (rnj_jack_up(&a->jack)) {
    rnj_jack_all_off(&a->jack);
    if (rnj_jack_drain(&a->jack, DRAIN_PERIODS, DRAIN_TIMEOUT_MS) < 0)
      logm(RNJ_LOG_WARNING, "JACK: the note-offs may not be out");
  }
  rnj_jack_disconnect(&a->jack);
  if (a->conf->transport & RNJ_MIDI_JACK)
    input_lost(a);
}

static void synth_done(uv_work_t *w, int status) {
  audio_t *a = w->data;
  a->synth_building = 0;
  if (status < 0 || !a->new_synth.synth) {
    /* The soundfont is gone or unreadable: MIDI goes on without sound.
     * It is tried again with the next server (jack_lost) and on SIGHUP
     * (audio_reload), never in a loop. */
    logm(RNJ_LOG_ERR, "audio off: %s",
         status < 0 ? uv_strerror(status) : a->synth_err);
    rnj_synth_free(&a->new_synth);
    a->jack.synth = NULL; /* audio off */
  } else {
    /* No audio thread uses the old synth: the client is closed (a build
     * for a new server's rate), or it runs without one since the last
     * failure (SIGHUP's retry) and is reopened now for its audio ports. */
    if (a->jack.client)
      jack_reopen(a);
    rnj_synth_free(&a->synth);
    a->synth = a->new_synth;
    memset(&a->new_synth, 0, sizeof a->new_synth);
    a->jack.synth = &a->synth;
    logm(RNJ_LOG_INFO, "audio: %s loaded at %g Hz, program %d", a->soundfont,
         a->synth.sample_rate, a->conf->program);
  }
  /* Without sound, JACK is still wanted for its MIDI ports. */
  if (!a->stopping && (a->jack.synth || (a->conf->transport & RNJ_MIDI_JACK)))
    try_connect(a);
}

static void try_connect(audio_t *a) {
  char err[RNJ_ERR_LEN];
  int rc;
  if (a->stopping || a->synth_building || rnj_jack_up(&a->jack))
    return;
  rc = rnj_jack_connect(&a->jack, err);
  if (rc == RNJ_EINVAL && a->jack.synth && a->jack.rate > 0) {
    /* The server's rate is known now: build the synth for it off the
     * loop, then come back. */
    a->synth_rate = a->jack.rate;
    a->synth_gain = a->conf->gain;
    a->synth_program = a->conf->program;
    a->synth_building = 1;
    a->synth_work.data = a;
    if (uv_queue_work(a->loop, &a->synth_work, synth_work, synth_done) <
        0) {
      a->synth_building = 0;
      logm(RNJ_LOG_ERR, "audio: cannot start loading %s", a->soundfont);
      schedule_retry(a);
    }
    return;
  }
  if (rc < 0) {
    /* Said once per outage, not at every attempt. */
    if (!a->down_logged)
      logm(RNJ_LOG_WARNING,
           "JACK: %s; %s, retrying every %d s at most", err,
           a->alsa->open ? "ALSA MIDI goes on" : "nothing to play to",
           BACKOFF_MAX_MS / 1000);
    a->down_logged = 1;
    schedule_retry(a);
    return;
  }
  a->connects++;
  a->down_logged = 0;
  /* A reload may have changed the program while there was no server. */
  if (a->jack.synth && a->synth_program != a->conf->program &&
      rnj_jack_program(&a->jack, a->conf->program) == 0)
    a->synth_program = a->conf->program;
  a->backoff_ms = BACKOFF_FIRST_MS;
  sync_clock(a);
  rc = rnj_jack_connect_ports(&a->jack, a->conf->autoconnect,
                              a->conf->jack_connect_in,
                              a->conf->jack_connect_out, err);
  logm(RNJ_LOG_INFO,
       "JACK: connected as %s at %g Hz, %u frames a period (%.2f ms)%s%s%s",
       a->jack.actual_name, a->jack.rate, a->jack.period,
       a->jack.period * 1e3 / a->jack.rate,
       a->jack.midi ? "; MIDI ports in, out" : "",
       a->jack.synth ? "; audio ports left, right" : "",
       a->connects > 1 ? " (reconnected)" : "");
  if (rc > 0)
    logm(RNJ_LOG_WARNING, "JACK: %d connection(s) not made (last: %s)", rc,
         err);
}

/* JACK's shutdown handler ran: close the dead client, keep going. */
static void jack_lost(audio_t *a) {
  rnj_jack_disconnect(&a->jack);
  a->losses++;
  logm(RNJ_LOG_WARNING, "JACK: the server went away; %s, reconnecting",
       a->alsa->open ? "ALSA MIDI goes on" : "waiting");
  /* Key releases on the JACK input will not come now. */
  if (a->conf->transport & RNJ_MIDI_JACK)
    input_lost(a);
  /* A soundfont that would not load gets another chance with the next
   * server: the old synth if the rate is the same, else a new load. */
  if (a->conf->audio == RNJ_AUDIO_JACK && !a->jack.synth)
    a->jack.synth = &a->synth;
  a->backoff_ms = BACKOFF_FIRST_MS;
  a->down_logged = 1;
  schedule_retry(a);
}

/* Input events per wake-up at most (a full ring); the rest wait for the
 * next one, which the audio thread's next event triggers. */
#define MAX_JACK_EVENTS 2048

static void on_wake(uv_async_t *h) {
  audio_t *a = h->data;
  rnj_seq_event_t ev;
  int i;
  if (a->stopping)
    return;
  for (i = 0; i < MAX_JACK_EVENTS && rnj_jack_read(&a->jack, &ev); i++) {
    a->events_in++;
    if (ev.type == RNJ_SEQ_EV_LOST) {
      input_lost(a);
      continue;
    }
    a->hooks.event(a->hooks.ctx, &ev, 0);
  }
  {
    rnj_clock_jack_t pos;
    double t;
    for (i = 0; i < MAX_JACK_EVENTS &&
                rnj_jack_read_transport(&a->jack, &t, &pos); i++)
      a->hooks.transport(a->hooks.ctx, t, &pos);
  }
  if (a->jack.client && !rnj_jack_up(&a->jack))
    jack_lost(a);
  a->hooks.tick(a->hooks.ctx);
}

static void wake_loop(void *ctx) { uv_async_send(ctx); }

int audio_start(audio_t *a, uv_loop_t *loop, const input_hooks_t *hooks) {
  int rc;
  a->loop = loop;
  a->hooks = *hooks;
  if (!a->wanted)
    return 0;
  rc = uv_async_init(a->loop, &a->wake, on_wake);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "uv_async_init: %s", uv_strerror(rc));
    return rc;
  }
  a->wake.data = a;
  uv_timer_init(a->loop, &a->retry);
  uv_timer_init(a->loop, &a->clock_sync);
  a->retry.data = a->clock_sync.data = a;
  a->jack.wake = wake_loop;
  a->jack.wake_ctx = &a->wake;
  a->backoff_ms = BACKOFF_FIRST_MS;
  if (a->alsa->open)
    uv_timer_start(&a->clock_sync, on_clock_sync, CLOCK_SYNC_MS,
                   CLOCK_SYNC_MS);
  sync_clock(a);
  try_connect(a);
  return 0;
}

static void close_cb(uv_handle_t *h) { (void)h; }

void audio_stop(audio_t *a) {
  a->stopping = 1;
  if (!a->wanted)
    return;
  if (rnj_jack_up(&a->jack) &&
      rnj_jack_drain(&a->jack, DRAIN_PERIODS, DRAIN_TIMEOUT_MS) < 0)
    logm(RNJ_LOG_WARNING, "JACK: the final note-offs may not be out");
  rnj_jack_disconnect(&a->jack);
  uv_close((uv_handle_t *)&a->wake, close_cb);
  uv_close((uv_handle_t *)&a->retry, close_cb);
  uv_close((uv_handle_t *)&a->clock_sync, close_cb);
}

void audio_free(audio_t *a) {
  rnj_jack_free(&a->jack);
  rnj_synth_free(&a->synth);
  rnj_synth_free(&a->new_synth);
}

void audio_reload(audio_t *a, const rnj_conf_t *old, const rnj_conf_t *c) {
  if (!a->wanted)
    return;
  /* Without a server the program waits for the next connection (see
   * try_connect); a synth being built reads it from conf then. */
  if (c->program != old->program && rnj_jack_up(&a->jack) &&
      rnj_jack_program(&a->jack, c->program) == 0) {
    a->synth_program = c->program;
    logm(RNJ_LOG_INFO, "audio: program %d", c->program);
  }
  /* Audio went off because the soundfont would not load (a removed
   * drive, say): SIGHUP tries it again, at the rate it was wanted at.
   * Only a success touches the running client. */
  if (c->audio == RNJ_AUDIO_JACK && !a->jack.synth && !a->synth_building &&
      !a->stopping && a->synth_rate > 0) {
    a->synth_program = c->program;
    a->synth_building = 1;
    a->synth_work.data = a;
    logm(RNJ_LOG_INFO, "audio: loading %s again", a->soundfont);
    if (uv_queue_work(a->loop, &a->synth_work, synth_work, synth_done) <
        0) {
      a->synth_building = 0;
      logm(RNJ_LOG_ERR, "audio: cannot start loading %s", a->soundfont);
    }
  }
  if (c->channel != old->channel) {
    if (rnj_jack_up(&a->jack)) {
      rnj_jack_all_off(&a->jack);
      rnj_jack_channel(&a->jack, c->channel - 1);
    } else if (!a->jack.client) {
      /* no audio thread runs: its state may be set directly */
      a->jack.channel = c->channel - 1;
    }
  }
}

uint64_t audio_events_in(const audio_t *a) { return a->events_in; }

const char *audio_soundfont(const audio_t *a) { return a->soundfont; }

void audio_stats(audio_t *a, uint32_t *scratch, char *buf, size_t len) {
  double p50;
  double p99;
  double max;
  uint64_t n;
  if (!a->wanted) {
    snprintf(buf, len, "jack: off");
    return;
  }
  n = rnj_jack_timing(&a->jack, scratch, &p50, &p99, &max);
  snprintf(buf, len,
           "jack: %s, connects %llu, losses %llu, xruns %llu, periods %llu, "
           "process p50 %.2f us p99 %.2f us max %.1f us (n=%llu), late %llu,"
           " dropped %llu, input lost %llu, ring full %llu, "
           "MIDI out lost %llu, clock jumps %llu",
           rnj_jack_up(&a->jack) ? "up" : "down",
           (unsigned long long)a->connects,
           (unsigned long long)a->losses,
           (unsigned long long)__atomic_load_n(&a->jack.xruns,
                                               __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&a->jack.cycles,
                                               __ATOMIC_RELAXED),
           p50, p99, max, (unsigned long long)n,
           (unsigned long long)__atomic_load_n(&a->jack.late,
                                               __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&a->jack.dropped,
                                               __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&a->jack.in_lost,
                                               __ATOMIC_RELAXED),
           (unsigned long long)a->jack.to_rt_full,
           (unsigned long long)__atomic_load_n(&a->jack.midi_lost,
                                               __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&a->jack.clock_jumps,
                                               __ATOMIC_RELAXED));
}
