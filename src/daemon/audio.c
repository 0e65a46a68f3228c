/* rnnjamd's JACK side: fluidsynth's sound and the JACK MIDI ports, and the
 * engine's output to ALSA and/or JACK.
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
 * Clocks: the engine's time is the ALSA queue's when ALSA runs and
 * CLOCK_MONOTONIC since start otherwise; the JACK side is told the
 * offset between that time and CLOCK_MONOTONIC, measured now and every
 * few seconds (the queue's timer and the monotonic clock may drift).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 5000
#define CLOCK_SYNC_MS 5000
/* Periods the audio thread gets at exit to send the final note-offs. */
#define DRAIN_PERIODS 3
#define DRAIN_TIMEOUT_MS 500

static void try_connect(daemon_t *d);

double daemon_now(daemon_t *d) {
  if (d->seq_open)
    return rnj_seq_now(&d->seq);
  return (double)(now_ns() - d->t0_ns) * 1e-9;
}

static int jack_live(daemon_t *d) {
  return d->jack_wanted && rnj_jack_up(&d->jack);
}

/* ------------------------------------------------------- engine output */

static int out_note(void *ctx, double on, double off, int pitch, int vel) {
  daemon_t *d = ctx;
  int ok = 0;
  if (d->seq_open && rnj_seq_note(&d->seq, on, off, pitch, vel) == 0)
    ok = 1;
  if (jack_live(d) && rnj_jack_note(&d->jack, on, off, pitch, vel) == 0)
    ok = 1;
  return ok ? 0 : -EAGAIN;
}

static void out_cancel(void *ctx) {
  daemon_t *d = ctx;
  if (d->seq_open)
    rnj_seq_cancel(&d->seq);
  if (jack_live(d))
    rnj_jack_cancel(&d->jack);
}

static void out_off_now(void *ctx, int pitch) {
  daemon_t *d = ctx;
  if (d->seq_open)
    rnj_seq_note_off_now(&d->seq, pitch);
  if (jack_live(d))
    rnj_jack_note_off_now(&d->jack, pitch);
}

static void out_all_off(void *ctx) {
  daemon_t *d = ctx;
  if (d->seq_open)
    rnj_seq_all_off(&d->seq);
  if (jack_live(d))
    rnj_jack_all_off(&d->jack);
}

static double out_now(void *ctx) { return daemon_now(ctx); }

void audio_engine_out(daemon_t *d, rnj_engine_out_t *out) {
  out->ctx = d;
  out->note = out_note;
  out->cancel = out_cancel;
  out->note_off_now = out_off_now;
  out->all_off = out_all_off;
  out->now = out_now;
}

/* ------------------------------------------------------------- set-up */

int audio_setup(daemon_t *d, char *err) {
  rnj_jack_opts_t o;
  const rnj_conf_t *c = &d->conf;
  int rc;
  d->t0_ns = now_ns();
  d->jack_wanted = c->audio == RNJ_AUDIO_JACK || (c->transport & RNJ_MIDI_JACK);
  if (!d->jack_wanted)
    return 0;
  if (c->audio == RNJ_AUDIO_JACK) {
    /* A missing soundfont is a start-up error; loading waits for the
     * server's rate (see the top of this file). */
    rc = rnj_synth_find_soundfont(c->soundfont, NULL, 0, d->soundfont,
                                  sizeof d->soundfont, err);
    if (rc < 0)
      return rc;
  }
  memset(&o, 0, sizeof o);
  o.name = c->client_name;
  o.midi = (c->transport & RNJ_MIDI_JACK) != 0;
  o.synth = c->audio == RNJ_AUDIO_JACK ? &d->synth : NULL;
  o.channel = c->channel - 1;
  o.render_player = c->render == RNJ_RENDER_ALL;
  o.wake = NULL; /* set in audio_start, once the async handle exists */
  return rnj_jack_init(&d->jack, &o, err);
}

/* ------------------------------------------------------------- clocks */

/* engine time = monotonic - offset */
static void sync_clock(daemon_t *d) {
  double offset;
  if (d->seq_open) {
    uint64_t a = now_ns();
    double q = rnj_seq_now(&d->seq);
    uint64_t b = now_ns();
    offset = (double)(a / 2 + b / 2) * 1e-9 - q;
  } else {
    offset = (double)d->t0_ns * 1e-9;
  }
  rnj_jack_set_offset(&d->jack, offset);
}

static void on_clock_sync(uv_timer_t *t) { sync_clock(t->data); }

/* ------------------------------------------------------- connecting */

static void on_retry(uv_timer_t *t) { try_connect(t->data); }

static void schedule_retry(daemon_t *d) {
  if (d->stopping)
    return;
  uv_timer_start(&d->jack_retry, on_retry, d->jack_backoff_ms, 0);
  d->jack_backoff_ms *= 2;
  if (d->jack_backoff_ms > BACKOFF_MAX_MS)
    d->jack_backoff_ms = BACKOFF_MAX_MS;
}

static void synth_work(uv_work_t *w) {
  daemon_t *d = w->data;
  d->synth_err[0] = '\0';
  if (rnj_synth_init(&d->new_synth, d->soundfont, d->synth_rate,
                     d->synth_gain, d->synth_program, d->synth_err) < 0)
    memset(&d->new_synth, 0, sizeof d->new_synth);
}

/* Close the client so it can be opened again with the audio ports: the
 * generated notes still sounding on JACK MIDI out are ended first (a DAW
 * recording them must not be left with a hanging note), and keys held on
 * the JACK input will not be released through it. */
static void jack_reopen(daemon_t *d) {
  if (rnj_jack_up(&d->jack)) {
    rnj_jack_all_off(&d->jack);
    if (rnj_jack_drain(&d->jack, DRAIN_PERIODS, DRAIN_TIMEOUT_MS) < 0)
      logm(RNJ_LOG_WARNING, "JACK: the note-offs may not be out");
  }
  rnj_jack_disconnect(&d->jack);
  if (d->conf.transport & RNJ_MIDI_JACK)
    rnj_engine_input_lost(&d->engine, daemon_now(d));
}

static void synth_done(uv_work_t *w, int status) {
  daemon_t *d = w->data;
  d->synth_building = 0;
  if (status < 0 || !d->new_synth.synth) {
    /* The soundfont is gone or unreadable: MIDI goes on without sound.
     * It is tried again with the next server (jack_lost) and on SIGHUP
     * (audio_reload), never in a loop. */
    logm(RNJ_LOG_ERR, "audio off: %s",
         status < 0 ? uv_strerror(status) : d->synth_err);
    rnj_synth_free(&d->new_synth);
    d->jack.synth = NULL; /* audio off */
  } else {
    /* No audio thread uses the old synth: the client is closed (a build
     * for a new server's rate), or it runs without one since the last
     * failure (SIGHUP's retry) and is reopened now for its audio ports. */
    if (d->jack.client)
      jack_reopen(d);
    rnj_synth_free(&d->synth);
    d->synth = d->new_synth;
    memset(&d->new_synth, 0, sizeof d->new_synth);
    d->jack.synth = &d->synth;
    logm(RNJ_LOG_INFO, "audio: %s loaded at %g Hz, program %d", d->soundfont,
         d->synth.sample_rate, d->conf.program);
  }
  /* Without sound, JACK is still wanted for its MIDI ports. */
  if (!d->stopping && (d->jack.synth || (d->conf.transport & RNJ_MIDI_JACK)))
    try_connect(d);
}

static void try_connect(daemon_t *d) {
  char err[RNJ_ERR_LEN];
  int rc;
  if (d->stopping || d->synth_building || rnj_jack_up(&d->jack))
    return;
  rc = rnj_jack_connect(&d->jack, err);
  if (rc == RNJ_EINVAL && d->jack.synth && d->jack.rate > 0) {
    /* The server's rate is known now: build the synth for it off the
     * loop, then come back. */
    d->synth_rate = d->jack.rate;
    d->synth_gain = d->conf.gain;
    d->synth_program = d->conf.program;
    d->synth_building = 1;
    d->synth_work.data = d;
    if (uv_queue_work(&d->loop, &d->synth_work, synth_work, synth_done) <
        0) {
      d->synth_building = 0;
      logm(RNJ_LOG_ERR, "audio: cannot start loading %s", d->soundfont);
      schedule_retry(d);
    }
    return;
  }
  if (rc < 0) {
    /* Said once per outage, not at every attempt. */
    if (!d->jack_down_logged)
      logm(RNJ_LOG_WARNING,
           "JACK: %s; %s, retrying every %d s at most", err,
           d->seq_open ? "ALSA MIDI goes on" : "nothing to play to",
           BACKOFF_MAX_MS / 1000);
    d->jack_down_logged = 1;
    schedule_retry(d);
    return;
  }
  d->jack_connects++;
  d->jack_down_logged = 0;
  /* A reload may have changed the program while there was no server. */
  if (d->jack.synth && d->synth_program != d->conf.program &&
      rnj_jack_program(&d->jack, d->conf.program) == 0)
    d->synth_program = d->conf.program;
  d->jack_backoff_ms = BACKOFF_FIRST_MS;
  sync_clock(d);
  rc = rnj_jack_connect_ports(&d->jack, d->conf.autoconnect,
                              d->conf.jack_connect_in,
                              d->conf.jack_connect_out, err);
  logm(RNJ_LOG_INFO,
       "JACK: connected as %s at %g Hz, %u frames a period (%.2f ms)%s%s%s",
       d->jack.actual_name, d->jack.rate, d->jack.period,
       d->jack.period * 1e3 / d->jack.rate,
       d->jack.midi ? "; MIDI ports in, out" : "",
       d->jack.synth ? "; audio ports left, right" : "",
       d->jack_connects > 1 ? " (reconnected)" : "");
  if (rc > 0)
    logm(RNJ_LOG_WARNING, "JACK: %d connection(s) not made (last: %s)", rc,
         err);
}

/* JACK's shutdown handler ran: close the dead client, keep going. */
static void jack_lost(daemon_t *d) {
  rnj_jack_disconnect(&d->jack);
  d->jack_losses++;
  logm(RNJ_LOG_WARNING, "JACK: the server went away; %s, reconnecting",
       d->seq_open ? "ALSA MIDI goes on" : "waiting");
  /* Key releases on the JACK input will not come now. */
  if (d->conf.transport & RNJ_MIDI_JACK)
    rnj_engine_input_lost(&d->engine, daemon_now(d));
  /* A soundfont that would not load gets another chance with the next
   * server: the old synth if the rate is the same, else a new load. */
  if (d->conf.audio == RNJ_AUDIO_JACK && !d->jack.synth)
    d->jack.synth = &d->synth;
  d->jack_backoff_ms = BACKOFF_FIRST_MS;
  d->jack_down_logged = 1;
  schedule_retry(d);
}

/* Input events per wake-up at most (a full ring); the rest wait for the
 * next one, which the audio thread's next event triggers. */
#define MAX_JACK_EVENTS 2048

static void on_wake(uv_async_t *a) {
  daemon_t *d = a->data;
  rnj_seq_event_t ev;
  int i;
  if (d->stopping)
    return;
  for (i = 0; i < MAX_JACK_EVENTS && rnj_jack_read(&d->jack, &ev); i++) {
    d->events_in++;
    if (ev.type == RNJ_SEQ_EV_LOST) {
      rnj_engine_input_lost(&d->engine, daemon_now(d));
      continue;
    }
    daemon_dispatch(d, &ev, 0);
  }
  if (d->jack.client && !rnj_jack_up(&d->jack))
    jack_lost(d);
  daemon_tick(d);
}

static void wake_loop(void *ctx) { uv_async_send(ctx); }

int audio_start(daemon_t *d) {
  int rc;
  if (!d->jack_wanted)
    return 0;
  rc = uv_async_init(&d->loop, &d->wake, on_wake);
  if (rc < 0) {
    logm(RNJ_LOG_ERR, "uv_async_init: %s", uv_strerror(rc));
    return rc;
  }
  d->wake.data = d;
  uv_timer_init(&d->loop, &d->jack_retry);
  uv_timer_init(&d->loop, &d->clock_sync);
  d->jack_retry.data = d->clock_sync.data = d;
  d->jack.wake = wake_loop;
  d->jack.wake_ctx = &d->wake;
  d->jack_backoff_ms = BACKOFF_FIRST_MS;
  if (d->seq_open)
    uv_timer_start(&d->clock_sync, on_clock_sync, CLOCK_SYNC_MS,
                   CLOCK_SYNC_MS);
  sync_clock(d);
  try_connect(d);
  return 0;
}

static void close_cb(uv_handle_t *h) { (void)h; }

void audio_stop(daemon_t *d) {
  if (!d->jack_wanted)
    return;
  if (rnj_jack_up(&d->jack) &&
      rnj_jack_drain(&d->jack, DRAIN_PERIODS, DRAIN_TIMEOUT_MS) < 0)
    logm(RNJ_LOG_WARNING, "JACK: the final note-offs may not be out");
  rnj_jack_disconnect(&d->jack);
  uv_close((uv_handle_t *)&d->wake, close_cb);
  uv_close((uv_handle_t *)&d->jack_retry, close_cb);
  uv_close((uv_handle_t *)&d->clock_sync, close_cb);
}

void audio_free(daemon_t *d) {
  rnj_jack_free(&d->jack);
  rnj_synth_free(&d->synth);
  rnj_synth_free(&d->new_synth);
}

void audio_reload(daemon_t *d, const rnj_conf_t *old, const rnj_conf_t *c) {
  if (!d->jack_wanted)
    return;
  /* Without a server the program waits for the next connection (see
   * try_connect); a synth being built reads it from conf then. */
  if (c->program != old->program && rnj_jack_up(&d->jack) &&
      rnj_jack_program(&d->jack, c->program) == 0) {
    d->synth_program = c->program;
    logm(RNJ_LOG_INFO, "audio: program %d", c->program);
  }
  /* Audio went off because the soundfont would not load (a removed
   * drive, say): SIGHUP tries it again, at the rate it was wanted at.
   * Only a success touches the running client. */
  if (c->audio == RNJ_AUDIO_JACK && !d->jack.synth && !d->synth_building &&
      !d->stopping && d->synth_rate > 0) {
    d->synth_program = c->program;
    d->synth_building = 1;
    d->synth_work.data = d;
    logm(RNJ_LOG_INFO, "audio: loading %s again", d->soundfont);
    if (uv_queue_work(&d->loop, &d->synth_work, synth_work, synth_done) <
        0) {
      d->synth_building = 0;
      logm(RNJ_LOG_ERR, "audio: cannot start loading %s", d->soundfont);
    }
  }
  if (c->channel != old->channel) {
    if (rnj_jack_up(&d->jack)) {
      rnj_jack_all_off(&d->jack);
      rnj_jack_channel(&d->jack, c->channel - 1);
    } else if (!d->jack.client) {
      /* no audio thread runs: its state may be set directly */
      d->jack.channel = c->channel - 1;
    }
  }
}

void audio_stats(daemon_t *d, char *buf, size_t len) {
  double p50;
  double p99;
  double max;
  uint64_t n;
  if (!d->jack_wanted) {
    snprintf(buf, len, "jack: off");
    return;
  }
  n = rnj_jack_timing(&d->jack, d->scratch, &p50, &p99, &max);
  snprintf(buf, len,
           "jack: %s, connects %llu, losses %llu, xruns %llu, periods %llu, "
           "process p50 %.2f us p99 %.2f us max %.1f us (n=%llu), late %llu,"
           " dropped %llu, input lost %llu, ring full %llu, MIDI out lost %llu, "
           "clock jumps %llu",
           rnj_jack_up(&d->jack) ? "up" : "down",
           (unsigned long long)d->jack_connects,
           (unsigned long long)d->jack_losses,
           (unsigned long long)__atomic_load_n(&d->jack.xruns,
                                               __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&d->jack.cycles,
                                               __ATOMIC_RELAXED),
           p50, p99, max, (unsigned long long)n,
           (unsigned long long)__atomic_load_n(&d->jack.late,
                                               __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&d->jack.dropped,
                                               __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&d->jack.in_lost,
                                               __ATOMIC_RELAXED),
           (unsigned long long)d->jack.to_rt_full,
           (unsigned long long)__atomic_load_n(&d->jack.midi_lost,
                                               __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&d->jack.clock_jumps,
                                               __ATOMIC_RELAXED));
}
