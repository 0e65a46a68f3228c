/* jack: rnnjamd's JACK client (see jack.h for the threads and the time
 * base).
 *
 * The audio thread's work per period, in order:
 *   1. after a (re)connection: silence the synth, all-notes-off on MIDI
 *      out;
 *   2. take every message the loop queued (notes go into the sorted
 *      pending array, commands act at once, at frame 0);
 *   3. read the MIDI input, stamp it, queue it for the loop (and, with
 *      render_player, into the pending array for the synth); with
 *      `transport`, query the JACK transport and queue its position for
 *      the loop when it changed (or every TRANSPORT_EVERY s);
 *   4. write the pending events due in this period to MIDI out, each at
 *      its frame;
 *   5. render the synth in pieces that end on fluidsynth's 64-frame
 *      blocks, applying before each block the events whose time is
 *      nearer to that block's start than to the next one's;
 *   6. drop what is done, and record how long all this took.
 * Everything it touches was allocated by rnj_jack_init; the loops are
 * bounded by the pending array, the ring sizes and the period.
 *
 * Why our own client rather than fluidsynth's JACK driver: fluidsynth's
 * driver takes MIDI from its own MIDI driver or from API calls made on
 * other threads (through its mutex) and applies them at its next block,
 * so a note's time would depend on when the loop woke up; here the loop
 * schedules ahead with timestamps and the audio thread places each event
 * at its frame, and the same callback serves the JACK MIDI ports.
 *
 * Limits: one synth channel for the generated notes and one for the
 * player's; MIDI input keeps note on/off, control changes, the system
 * real-time bytes and song position (rnj__jack_midi_parse).
 */
#include <errno.h>
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/ringbuffer.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "rnnjam/jack.h"

#define TODO_MIDI 1
#define TODO_SYNTH 2
/* fluidsynth's block (see synth.h). */
#define BLOCK 64

/* loop -> audio */
enum {
  M_NOTE = 1, /* t_on, t_off, a = pitch, b = velocity */
  M_CANCEL,
  M_OFF_NOW, /* a = pitch */
  M_ALL_OFF,
  M_PLAYER,  /* t_on, a = status, b = data1, c = data2 */
  M_PROGRAM, /* a = program */
  M_CHANNEL, /* a = channel */
  M_REALTIME, /* t_on, a = status (0xF8...0xFC): MIDI out only */
  M_RT_CANCEL /* drop the real-time messages still pending */
};

typedef struct msg_s {
  double t_on;
  double t_off;
  uint8_t type;
  uint8_t a;
  uint8_t b;
  uint8_t c;
  uint8_t pad[4];
} msg_t;

/* audio -> loop */
typedef struct in_s {
  double t;
  int32_t b;    /* a song position (14 bits), or a TIMEBASE's us */
  uint8_t type; /* rnj_seq_ev_type_t */
  uint8_t channel;
  uint8_t a;
  uint8_t pad[1];
} in_t;

/* audio -> loop: the transport at a period's first frame */
typedef struct tp_s {
  double t;
  rnj_clock_jack_t pos;
} tp_t;

/* Transport positions the ring holds (seconds of them, should the loop
 * stall). */
#define TRANSPORT_MSGS 256
/* A position is queued when something changed, and at least this often
 * while nothing does: so the loop knows the transport is there (the beat
 * clock counts JACK as gone after RNJ_CLOCK_JACK_STALE), and so the
 * frame clock's slow steering (cycle_start) never moves the beats by
 * more than a few tens of microseconds between two positions. */
#define TRANSPORT_EVERY 0.025

/* One period's context. */
typedef struct cyc_s {
  rnj_jack_t *j;
  void *mout;        /* MIDI out buffer, or NULL */
  jack_nframes_t n;  /* frames */
  double rate;
  double start;      /* engine seconds at frame 0 */
  double end;        /* ... at frame n */
  jack_nframes_t at; /* last MIDI out frame written (they must rise) */
} cyc_t;

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define INC(p) __atomic_fetch_add((p), 1, __ATOMIC_RELAXED)

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------- messages */

/* libjack prints its complaints (a missing server takes three lines) on
 * stderr unless told otherwise; keep the last one of this thread for the
 * error message instead. */
static _Thread_local char jack_msg[256];
static pthread_once_t jack_log_once = PTHREAD_ONCE_INIT;

static void jack_log(const char *msg) {
  snprintf(jack_msg, sizeof jack_msg, "%s", msg ? msg : "");
}

static void jack_quiet(const char *msg) { (void)msg; }

static void install_jack_log(void) {
  jack_set_error_function(jack_log);
  jack_set_info_function(jack_quiet);
}

static const char *status_text(jack_status_t st) {
  if (st & JackServerFailed)
    return "no JACK server running (JackServerFailed)";
  if (st & JackVersionError)
    return "client and server protocol versions differ (JackVersionError)";
  if (st & JackShmFailure)
    return "no access to JACK's shared memory (JackShmFailure)";
  if (st & JackServerError)
    return "the server refused the client (JackServerError)";
  if (st & JackInitFailure)
    return "the client could not initialise (JackInitFailure)";
  return "JACK refused the client";
}

/* ---------------------------------------------------------- set-up */

int rnj_jack_init(rnj_jack_t *j, const rnj_jack_opts_t *opts, char *err) {
  memset(j, 0, sizeof *j);
  if (!opts || !opts->name || !opts->name[0] ||
      strlen(opts->name) >= sizeof j->name || opts->channel < 0 ||
      opts->channel > 15 || (!opts->midi && !opts->synth))
    return rnj_errorf(err, RNJ_EINVAL,
                      "jack: expected a client name under %zu bytes, a "
                      "channel 0..15 and MIDI ports or a synth",
                      sizeof j->name);
  pthread_once(&jack_log_once, install_jack_log);
  snprintf(j->name, sizeof j->name, "%s", opts->name);
  j->midi = opts->midi;
  j->synth = opts->synth;
  j->render_player = opts->render_player;
  j->channel = opts->channel;
  j->wake = opts->wake;
  j->wake_ctx = opts->wake_ctx;
  j->transport = opts->transport;
  j->to_rt = jack_ringbuffer_create(RNJ_JACK_RING_MSGS * sizeof(msg_t));
  j->from_rt = jack_ringbuffer_create(RNJ_JACK_RING_MSGS * sizeof(in_t));
  j->from_rt_tp = jack_ringbuffer_create(TRANSPORT_MSGS * sizeof(tp_t));
  j->times = rnj__calloc(RNJ_JACK_TIMES, sizeof *j->times);
  if (!j->to_rt || !j->from_rt || !j->from_rt_tp || !j->times) {
    rnj_jack_free(j);
    return rnj_errorf(err, RNJ_ENOMEM, "jack: out of memory for the rings");
  }
  /* Best effort: a page fault in the audio thread is an xrun waiting to
   * happen, but an unprivileged user may not lock memory at all. */
  jack_ringbuffer_mlock(j->to_rt);
  jack_ringbuffer_mlock(j->from_rt);
  jack_ringbuffer_mlock(j->from_rt_tp);
  return 0;
}

void rnj_jack_free(rnj_jack_t *j) {
  if (!j)
    return;
  rnj_jack_disconnect(j);
  if (j->to_rt)
    jack_ringbuffer_free(j->to_rt);
  if (j->from_rt)
    jack_ringbuffer_free(j->from_rt);
  if (j->from_rt_tp)
    jack_ringbuffer_free(j->from_rt_tp);
  rnj__free(j->times);
  j->to_rt = NULL;
  j->from_rt = NULL;
  j->from_rt_tp = NULL;
  j->times = NULL;
}

void rnj_jack_set_offset(rnj_jack_t *j, double offset_s) {
  STORE(&j->offset_ns, (int64_t)llround(offset_s * 1e9));
}

int rnj_jack_up(rnj_jack_t *j) { return j->client && !LOAD(&j->dead); }

/* ---------------------------------------------------------- audio thread */

/* The engine time of this period's first frame.  Frames, not the wall
 * clock, keep the time inside JACK: a period starts exactly n / rate
 * after the one before it, so an input event stamped in one period and a
 * note scheduled from that stamp land the intended number of frames
 * apart however late each callback woke up.  The frame clock is steered
 * towards CLOCK_MONOTONIC (the loop's clock) by a small fraction of the
 * difference each period, which averages out the wake-up jitter, and
 * jumps to it when they drift apart by more than CLOCK_JUMP (a stalled
 * server, a suspended machine).  Both moves are reported to the loop
 * (clock_moved, take_input), so a MIDI Clock follower sees its pulses
 * where the frames put them: a steering of up to 1 % while the frames
 * catch up with the wall clock (the dummy driver after xruns) would
 * otherwise read as a tempo change, and a narrow loop following a
 * jittered clock would lag it by tens of milliseconds. */
#define CLOCK_SLEW 0.001
#define CLOCK_JUMP 0.050
static double cycle_start(rnj_jack_t *j) {
  jack_nframes_t f = jack_last_frame_time(j->client);
  double wall = (double)((int64_t)mono_ns() - LOAD(&j->offset_ns)) * 1e-9;
  double t;
  double err;
  if (!j->clock_valid) {
    j->clock_valid = 1;
    j->clock_t = wall;
    j->clock_frame = f;
    return wall;
  }
  t = j->clock_t + (double)(uint32_t)(f - j->clock_frame) / j->rate;
  err = wall - t;
  if (err > CLOCK_JUMP || err < -CLOCK_JUMP) {
    t = wall;
    INC(&j->clock_jumps);
    j->clock_moved += err; /* the loop hears of it (take_input) */
  } else {
    t += err * CLOCK_SLEW;
    j->clock_moved += err * CLOCK_SLEW;
  }
  j->clock_t = t;
  j->clock_frame = f;
  return t;
}

static void out_write(cyc_t *c, jack_nframes_t at, uint8_t st, uint8_t d1,
                      uint8_t d2) {
  jack_midi_data_t *p;
  if (at < c->at)
    at = c->at;
  if (at >= c->n)
    at = c->n - 1;
  p = jack_midi_event_reserve(c->mout, at, 3);
  if (!p) {
    INC(&c->j->midi_lost);
    return;
  }
  c->at = at;
  p[0] = st;
  p[1] = d1;
  p[2] = d2;
}

/* A one-byte system real-time message (clock, start, stop...). */
static void out_write1(cyc_t *c, jack_nframes_t at, uint8_t st) {
  jack_midi_data_t *p;
  if (at < c->at)
    at = c->at;
  if (at >= c->n)
    at = c->n - 1;
  p = jack_midi_event_reserve(c->mout, at, 1);
  if (!p) {
    INC(&c->j->midi_lost);
    return;
  }
  c->at = at;
  p[0] = st;
}

/* MIDI out, keeping the note-ons per pitch so that every note-on gets
 * one note-off and a stray note-off is never sent. */
static void out_event(rnj_jack_t *j, cyc_t *c, jack_nframes_t at, uint8_t st,
                      uint8_t d1, uint8_t d2) {
  uint8_t type = st & 0xF0;
  uint8_t ch = (uint8_t)j->channel;
  if (!c->mout)
    return;
  if (st >= 0xF8) {
    out_write1(c, at, st);
    return;
  }
  if (type == 0x90 && d2 > 0) {
    if (j->out_on[d1] == UINT8_MAX)
      return;
    j->out_on[d1]++;
    out_write(c, at, 0x90 | ch, d1, d2);
  } else if (type == 0x80 || type == 0x90) {
    if (j->out_on[d1] == 0)
      return;
    j->out_on[d1]--;
    out_write(c, at, 0x80 | ch, d1, 0);
  } else {
    out_write(c, at, (uint8_t)(type | ch), d1, d2);
  }
}

/* The synth's generated channel, with the same bookkeeping; the player's
 * channel is passed through. */
static void synth_event(rnj_jack_t *j, uint8_t st, uint8_t d1, uint8_t d2) {
  uint8_t type = st & 0xF0;
  if (!j->synth)
    return;
  if ((st & 15) != RNJ_JACK_SYNTH_GEN) {
    rnj_synth_midi(j->synth, st, d1, d2);
    return;
  }
  if (type == 0x90 && d2 > 0) {
    if (j->synth_on[d1] == UINT8_MAX)
      return;
    j->synth_on[d1]++;
  } else if (type == 0x80 || type == 0x90) {
    if (j->synth_on[d1] == 0)
      return;
    j->synth_on[d1]--;
  }
  rnj_synth_midi(j->synth, st, d1, d2);
}

/* Insert keeping the array sorted by time; equal times keep their order
 * of arrival. */
static int pend_insert(rnj_jack_t *j, double t, uint8_t st, uint8_t d1,
                       uint8_t d2, uint8_t todo, uint8_t gen) {
  int i = j->npending;
  if (i == RNJ_JACK_PENDING)
    return -1;
  while (i > 0 && j->pending[i - 1].t > t) {
    j->pending[i] = j->pending[i - 1];
    i--;
  }
  j->pending[i].t = t;
  j->pending[i].status = st;
  j->pending[i].data1 = d1;
  j->pending[i].data2 = d2;
  j->pending[i].todo = todo;
  j->pending[i].gen = gen;
  j->npending++;
  return 0;
}

static void compact(rnj_jack_t *j) {
  int i;
  int k = 0;
  for (i = 0; i < j->npending; i++)
    if (j->pending[i].todo)
      j->pending[k++] = j->pending[i];
  j->npending = k;
}

/* Cancel: the generated notes go; those sounding end now. */
static void cancel(rnj_jack_t *j, cyc_t *c) {
  int i;
  for (i = 0; i < j->npending; i++) {
    rnj_jack_pending_t *e = &j->pending[i];
    if (!e->gen)
      continue;
    if ((e->status & 0xF0) == 0x80) {
      if (e->todo & TODO_MIDI)
        out_event(j, c, 0, e->status, e->data1, 0);
      if (e->todo & TODO_SYNTH)
        synth_event(j, 0x80 | RNJ_JACK_SYNTH_GEN, e->data1, 0);
    }
    e->todo = 0;
  }
  compact(j);
}

static void all_off(rnj_jack_t *j, cyc_t *c) {
  int p;
  for (p = 0; p < 128; p++) {
    while (j->out_on[p])
      out_event(j, c, 0, 0x80, (uint8_t)p, 0);
    while (j->synth_on[p])
      synth_event(j, 0x80 | RNJ_JACK_SYNTH_GEN, (uint8_t)p, 0);
  }
  out_event(j, c, 0, 0xB0, 123, 0);
  if (j->synth)
    rnj_synth_midi(j->synth, 0xB0 | RNJ_JACK_SYNTH_GEN, 123, 0);
}

static void take_messages(rnj_jack_t *j, cyc_t *c) {
  jack_ringbuffer_t *rb = j->to_rt;
  uint8_t both = (uint8_t)((c->mout ? TODO_MIDI : 0) |
                           (j->synth ? TODO_SYNTH : 0));
  msg_t m;
  /* Bounded by the ring's size: the loop cannot outrun one period. */
  while (jack_ringbuffer_read_space(rb) >= sizeof m) {
    jack_ringbuffer_read(rb, (char *)&m, sizeof m);
    switch (m.type) {
    case M_NOTE:
      if (!both)
        break;
      if (j->npending > RNJ_JACK_PENDING - 2) {
        INC(&j->dropped);
        break;
      }
      if (m.t_on < c->start)
        INC(&j->late);
      pend_insert(j, m.t_on, 0x90, m.a & 127, m.b & 127, both, 1);
      pend_insert(j, m.t_off, 0x80, m.a & 127, 0, both, 1);
      break;
    case M_CANCEL:
      cancel(j, c);
      break;
    case M_OFF_NOW:
      out_event(j, c, 0, 0x80, m.a & 127, 0);
      synth_event(j, 0x80 | RNJ_JACK_SYNTH_GEN, m.a & 127, 0);
      break;
    case M_ALL_OFF:
      all_off(j, c);
      break;
    case M_PLAYER:
      if (j->synth && j->render_player &&
          pend_insert(j, m.t_on, (uint8_t)((m.a & 0xF0) |
                                           RNJ_JACK_SYNTH_PLAYER),
                      m.b & 127, m.c & 127, TODO_SYNTH, 0) < 0)
        INC(&j->dropped);
      break;
    case M_PROGRAM:
      if (j->synth) {
        rnj_synth_midi(j->synth, 0xC0 | RNJ_JACK_SYNTH_GEN, m.a & 127, 0);
        rnj_synth_midi(j->synth, 0xC0 | RNJ_JACK_SYNTH_PLAYER, m.a & 127, 0);
      }
      break;
    case M_CHANNEL:
      j->channel = m.a & 15;
      break;
    case M_REALTIME:
      /* not generated (a cancel of the notes keeps them), MIDI out only;
       * one due already goes at the period's first frame */
      if (c->mout && pend_insert(j, m.t_on, m.a, 0, 0, TODO_MIDI, 0) < 0)
        INC(&j->dropped);
      break;
    case M_RT_CANCEL: {
      int i;
      for (i = 0; i < j->npending; i++)
        if (j->pending[i].status >= 0xF8)
          j->pending[i].todo = 0;
      compact(j);
      break;
    }
    default:
      break;
    }
  }
}

/* The player's controllers worth rendering: the sustain pedal and the
 * all-off messages.  The rest (71-74 by default steer rnnjamd) would
 * change fluidsynth's sound parameters. */
static int player_cc(int cc) { return cc == 64 || cc == 120 || cc == 123; }

/* ---------------------------------------------------------- MIDI input */

/* Data bytes a channel message takes after its status. */
static int channel_data(uint8_t st) {
  return (st & 0xE0) == 0xC0 ? 1 : 2;
}

static const uint8_t realtime_type[8] = {
    RNJ_SEQ_EV_CLOCK,    /* F8 */
    RNJ_SEQ_EV_TICK,     /* F9 */
    RNJ_SEQ_EV_START,    /* FA */
    RNJ_SEQ_EV_CONTINUE, /* FB */
    RNJ_SEQ_EV_STOP,     /* FC */
    RNJ_SEQ_EV_NONE,     /* FD: undefined */
    RNJ_SEQ_EV_SENSING,  /* FE */
    RNJ_SEQ_EV_RESET     /* FF */
};

/* Parse one JACK MIDI event's bytes (see internal.h).  JACK hands over
 * whole messages, one per event, but a sender may slip a real-time byte
 * between a message's bytes, as MIDI allows on a cable: it is taken out
 * as an event of its own and the message around it completes.  Running
 * status is honoured within an event (not across events: each is parsed
 * afresh, so a truncated one cannot corrupt the next).  System exclusive
 * and the other system common messages are skipped up to the next status
 * byte; data bytes without a status are dropped. */
int rnj__jack_midi_parse(const uint8_t *buf, size_t n,
                         rnj_seq_event_t *out, int max) {
  uint8_t status = 0; /* running status: a channel status, 0xF2, or 0 */
  uint8_t data[2];
  int need = 0; /* data bytes the message still needs */
  int have = 0;
  int found = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    uint8_t byte = buf[i];
    rnj_seq_event_t *ev = found < max ? &out[found] : NULL;
    if (byte >= 0xF8) {
      if (realtime_type[byte - 0xF8] == RNJ_SEQ_EV_NONE)
        continue;
      if (ev) {
        memset(ev, 0, sizeof *ev);
        ev->type = realtime_type[byte - 0xF8];
        ev->a = byte;
      }
      found++;
      continue;
    }
    if (byte & 0x80) {
      /* A status byte ends whatever came before it, complete or not. */
      have = 0;
      if (byte < 0xF0) {
        status = byte;
        need = channel_data(byte);
      } else if (byte == 0xF2) {
        status = byte;
        need = 2;
      } else {
        status = 0; /* sysex and the rest: skip their data */
        need = 0;
      }
      continue;
    }
    if (!status)
      continue;
    data[have++] = byte;
    if (have < need)
      continue;
    have = 0; /* complete; the status runs on */
    if (ev) {
      uint8_t type = status & 0xF0;
      memset(ev, 0, sizeof *ev);
      ev->channel = status & 15;
      ev->a = data[0];
      ev->b = need > 1 ? data[1] : 0;
      if (status == 0xF2) {
        ev->type = RNJ_SEQ_EV_SONGPOS;
        ev->channel = 0;
        ev->a = 0xF2;
        ev->b = data[0] | data[1] << 7;
      } else if (type == 0x90) {
        ev->type = ev->b ? RNJ_SEQ_EV_NOTE_ON : RNJ_SEQ_EV_NOTE_OFF;
      } else if (type == 0x80) {
        ev->type = RNJ_SEQ_EV_NOTE_OFF;
      } else if (type == 0xB0) {
        ev->type = RNJ_SEQ_EV_CC;
      } else {
        continue; /* a message the daemon does not use */
      }
    } else if ((status & 0xF0) != 0x90 && (status & 0xF0) != 0x80 &&
               (status & 0xF0) != 0xB0 && status != 0xF2) {
      continue;
    }
    found++;
  }
  return found;
}

/* Messages one JACK MIDI event may carry: a note with a few real-time
 * bytes slipped in, or a short run of messages under running status.
 * More in one event are dropped (counted as lost input). */
#define EVENT_MSGS 16

static void queue_input(rnj_jack_t *j, const rnj_seq_event_t *e, double t,
                        int *woke) {
  jack_ringbuffer_t *rb = j->from_rt;
  in_t m;
  memset(&m, 0, sizeof m);
  m.t = t;
  m.type = (uint8_t)e->type;
  m.channel = (uint8_t)e->channel;
  m.a = (uint8_t)e->a;
  m.b = (int32_t)e->b;
  *woke = 1;
  if (jack_ringbuffer_write_space(rb) >= sizeof m) {
    jack_ringbuffer_write(rb, (const char *)&m, sizeof m);
  } else {
    INC(&j->in_lost);
    STORE(&j->lost_flag, 1);
  }
}

/* The frame clock's moves are reported once they add up to this (s): a
 * message every few periods at most while the steering is busy, and pulse
 * times within 0.1 ms of the frames'. */
#define CLOCK_REPORT 1e-4

static void take_input(rnj_jack_t *j, cyc_t *c) {
  void *buf = jack_port_get_buffer(j->midi_in, c->n);
  uint32_t count = jack_midi_get_event_count(buf);
  uint32_t i;
  int woke = 0;
  if (fabs(j->clock_moved) >= CLOCK_REPORT) {
    /* Before this period's events: times from here on are in the moved
     * frame clock, and a MIDI Clock follower must move with them rather
     * than take the step for pulses lost (or a stall), or the steering
     * for a tempo change.  Whole microseconds; the rest waits. */
    rnj_seq_event_t e;
    double us = j->clock_moved * 1e6;
    memset(&e, 0, sizeof e);
    e.type = RNJ_SEQ_EV_TIMEBASE;
    e.b = (int32_t)(us > INT32_MAX    ? INT32_MAX
                    : us < -INT32_MAX ? -INT32_MAX
                                      : llround(us));
    queue_input(j, &e, c->start, &woke);
    j->clock_moved -= e.b * 1e-6;
    if (fabs(j->clock_moved) >= CLOCK_REPORT)
      j->clock_moved = 0.0; /* beyond what b holds: lost to the loop */
  }
  for (i = 0; i < count; i++) {
    jack_midi_event_t ev;
    rnj_seq_event_t msgs[EVENT_MSGS];
    double t;
    int n;
    int k;
    if (jack_midi_event_get(&ev, buf, i) != 0)
      continue;
    t = c->start + ev.time / c->rate;
    n = rnj__jack_midi_parse(ev.buffer, ev.size, msgs, EVENT_MSGS);
    if (n > EVENT_MSGS) {
      INC(&j->in_lost);
      STORE(&j->lost_flag, 1);
      woke = 1;
      n = EVENT_MSGS;
    }
    for (k = 0; k < n; k++) {
      const rnj_seq_event_t *e = &msgs[k];
      uint8_t type;
      queue_input(j, e, t, &woke);
      if (e->type == RNJ_SEQ_EV_NOTE_ON)
        type = 0x90;
      else if (e->type == RNJ_SEQ_EV_NOTE_OFF)
        type = 0x80;
      else if (e->type == RNJ_SEQ_EV_CC && player_cc(e->a))
        type = 0xB0;
      else
        continue;
      if (j->synth && j->render_player &&
          pend_insert(j, t, (uint8_t)(type | RNJ_JACK_SYNTH_PLAYER),
                      (uint8_t)e->a, (uint8_t)e->b, TODO_SYNTH, 0) < 0)
        INC(&j->dropped);
    }
  }
  if (woke && j->wake)
    j->wake(j->wake_ctx);
}

/* The transport at this period's first frame, for the loop's beat clock:
 * queued when it differs from what was last queued (rolling or not, a
 * relocation, a timebase master's tempo, metre or presence) and every
 * TRANSPORT_EVERY s, so a transport that does not change still shows it
 * is there.  jack_transport_query is RT-safe (jack/transport.h: it may be
 * called from the process thread, and then describes the first frame of
 * the current cycle). */
static void take_transport(rnj_jack_t *j, cyc_t *c) {
  jack_position_t pos;
  rnj_clock_jack_t *l = &j->tp_last;
  tp_t m;
  int rolling = jack_transport_query(j->client, &pos) ==
                JackTransportRolling;
  int bbt = (pos.valid & JackPositionBBT) != 0;
  int changed;
  memset(&m, 0, sizeof m);
  m.t = c->start;
  m.pos.rolling = rolling;
  m.pos.seconds = pos.frame_rate > 0 ? (double)pos.frame / pos.frame_rate
                                     : 0.0;
  m.pos.bbt = bbt;
  if (bbt) {
    m.pos.bar = pos.bar;
    m.pos.beat = pos.beat;
    m.pos.tick = pos.tick;
    m.pos.ticks_per_beat = pos.ticks_per_beat;
    m.pos.beats_per_minute = pos.beats_per_minute;
    m.pos.beats_per_bar = pos.beats_per_bar;
  }
  /* where the transport would be had it just rolled on */
  changed = !j->tp_have || rolling != l->rolling || bbt != l->bbt ||
            m.pos.beats_per_minute != l->beats_per_minute ||
            m.pos.beats_per_bar != l->beats_per_bar ||
            pos.frame != j->tp_frame_next;
  j->tp_frame_next = pos.frame + (rolling ? c->n : 0);
  if (!changed && c->start - j->tp_sent < TRANSPORT_EVERY)
    return;
  if (jack_ringbuffer_write_space(j->from_rt_tp) < sizeof m) {
    INC(&j->tp_lost);
    return;
  }
  jack_ringbuffer_write(j->from_rt_tp, (const char *)&m, sizeof m);
  *l = m.pos;
  j->tp_have = 1;
  j->tp_sent = c->start;
  if (j->wake)
    j->wake(j->wake_ctx);
}

static void play_midi(rnj_jack_t *j, cyc_t *c) {
  int i;
  for (i = 0; i < j->npending; i++) {
    rnj_jack_pending_t *e = &j->pending[i];
    double f;
    if (e->t >= c->end)
      break;
    if (!(e->todo & TODO_MIDI))
      continue;
    f = (e->t - c->start) * c->rate;
    out_event(j, c, f <= 0 ? 0 : (jack_nframes_t)f, e->status, e->data1,
              e->data2);
    e->todo &= (uint8_t)~TODO_MIDI;
  }
}

static void play_synth(rnj_jack_t *j, cyc_t *c) {
  float *l = jack_port_get_buffer(j->out_l, c->n);
  float *r = jack_port_get_buffer(j->out_r, c->n);
  jack_nframes_t done = 0;
  while (done < c->n) {
    jack_nframes_t chunk = BLOCK - (jack_nframes_t)(j->rendered % BLOCK);
    if (j->rendered % BLOCK == 0) {
      /* A block starts here: what is due before its middle plays now. */
      double until = c->start + (done + BLOCK / 2) / c->rate;
      int i;
      for (i = 0; i < j->npending; i++) {
        rnj_jack_pending_t *e = &j->pending[i];
        if (e->t >= until)
          break;
        if (!(e->todo & TODO_SYNTH))
          continue;
        synth_event(j, e->gen ? (uint8_t)((e->status & 0xF0) |
                                          RNJ_JACK_SYNTH_GEN)
                              : e->status,
                    e->data1, e->data2);
        e->todo &= (uint8_t)~TODO_SYNTH;
      }
    }
    if (chunk > c->n - done)
      chunk = c->n - done;
    rnj_synth_write(j->synth, (int)chunk, l + done, r + done);
    done += chunk;
    j->rendered += chunk;
  }
}

static void fresh_start(rnj_jack_t *j, cyc_t *c) {
  memset(j->out_on, 0, sizeof j->out_on);
  memset(j->synth_on, 0, sizeof j->synth_on);
  if (j->synth)
    rnj_synth_silence(j->synth);
  /* Whoever listened before the server went away may still hold notes
   * of ours. */
  out_event(j, c, 0, 0xB0, 123, 0);
  j->fresh = 0;
}

static int process(jack_nframes_t n, void *arg) {
  rnj_jack_t *j = arg;
  uint64_t t0 = mono_ns();
  uint64_t k;
  cyc_t c;
  c.j = j;
  c.n = n;
  c.rate = j->rate;
  c.start = cycle_start(j);
  c.end = c.start + n / c.rate;
  c.at = 0;
  c.mout = j->midi_out ? jack_port_get_buffer(j->midi_out, n) : NULL;
  if (c.mout)
    jack_midi_clear_buffer(c.mout);
  if (j->fresh)
    fresh_start(j, &c);
  take_messages(j, &c);
  if (j->midi_in)
    take_input(j, &c);
  if (j->transport)
    take_transport(j, &c);
  if (c.mout)
    play_midi(j, &c);
  if (j->synth)
    play_synth(j, &c);
  compact(j);
  k = LOAD(&j->ntimes);
  j->times[k % RNJ_JACK_TIMES] = (uint32_t)(mono_ns() - t0);
  STORE(&j->ntimes, k + 1);
  INC(&j->cycles);
  return 0;
}

/* ---------------------------------------------------------- callbacks */

/* Non-RT notification thread. */
static int on_xrun(void *arg) {
  rnj_jack_t *j = arg;
  INC(&j->xruns);
  return 0;
}

/* Like a signal handler: a flag and a wake-up. */
static void on_shutdown(jack_status_t code, const char *reason, void *arg) {
  rnj_jack_t *j = arg;
  (void)code;
  (void)reason;
  STORE(&j->dead, 1);
  if (j->wake)
    j->wake(j->wake_ctx);
}

/* A new rate would detune the synth: treat it as the server going away,
 * so the loop reconnects and rebuilds the synth at the new rate. */
static int on_rate(jack_nframes_t rate, void *arg) {
  rnj_jack_t *j = arg;
  if (j->rate > 0 && fabs(rate - j->rate) > 0.5) {
    STORE(&j->dead, 1);
    if (j->wake)
      j->wake(j->wake_ctx);
  }
  return 0;
}

/* ---------------------------------------------------------- loop side */

static int reg(rnj_jack_t *j, jack_port_t **port, const char *name,
               const char *type, unsigned long flags, char *err) {
  *port = jack_port_register(j->client, name, type, flags, 0);
  if (!*port)
    return rnj_errorf(err, RNJ_EIO, "jack_port_register(%s:%s): %s",
                      j->actual_name, name,
                      jack_msg[0] ? jack_msg : "refused");
  return 0;
}

int rnj_jack_connect(rnj_jack_t *j, char *err) {
  jack_status_t st = 0;
  int rc;
  if (j->client)
    return 0;
  jack_msg[0] = '\0';
  j->client = jack_client_open(j->name, JackNoStartServer, &st);
  if (!j->client)
    return rnj_errorf(err, RNJ_ENOTFOUND, "jack_client_open(%s): %s",
                      j->name, status_text(st));
  snprintf(j->actual_name, sizeof j->actual_name, "%s",
           jack_get_client_name(j->client));
  j->rate = jack_get_sample_rate(j->client);
  j->period = jack_get_buffer_size(j->client);
  if (j->synth && fabs(j->synth->sample_rate - j->rate) > 0.5) {
    rc = rnj_errorf(err, RNJ_EINVAL,
                    "JACK runs at %g Hz, the synth at %g Hz", j->rate,
                    j->synth->sample_rate);
    goto fail;
  }
  j->midi_in = j->midi_out = j->out_l = j->out_r = NULL;
  if (j->midi) {
    rc = reg(j, (jack_port_t **)&j->midi_in, "in", JACK_DEFAULT_MIDI_TYPE,
             JackPortIsInput, err);
    if (rc == 0)
      rc = reg(j, (jack_port_t **)&j->midi_out, "out",
               JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, err);
    if (rc < 0)
      goto fail;
  }
  if (j->synth) {
    rc = reg(j, (jack_port_t **)&j->out_l, "left", JACK_DEFAULT_AUDIO_TYPE,
             JackPortIsOutput, err);
    if (rc == 0)
      rc = reg(j, (jack_port_t **)&j->out_r, "right",
               JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, err);
    if (rc < 0)
      goto fail;
  }
  /* Nothing runs on the audio side until activation: the rings and the
   * state can be reset without a race. */
  jack_ringbuffer_reset(j->to_rt);
  jack_ringbuffer_reset(j->from_rt);
  jack_ringbuffer_reset(j->from_rt_tp);
  j->tp_have = 0;
  j->npending = 0;
  j->rendered = 0;
  j->fresh = 1;
  j->clock_valid = 0;
  j->clock_moved = 0.0;
  STORE(&j->dead, 0);
  STORE(&j->lost_flag, 0);
  if (jack_set_process_callback(j->client, process, j) != 0 ||
      jack_set_xrun_callback(j->client, on_xrun, j) != 0 ||
      jack_set_sample_rate_callback(j->client, on_rate, j) != 0) {
    rc = rnj_errorf(err, RNJ_EIO, "jack: setting the callbacks of %s failed",
                    j->actual_name);
    goto fail;
  }
  jack_on_info_shutdown(j->client, on_shutdown, j);
  if (jack_activate(j->client) != 0) {
    rc = rnj_errorf(err, RNJ_EIO, "jack_activate(%s): %s", j->actual_name,
                    jack_msg[0] ? jack_msg : "refused");
    goto fail;
  }
  return 0;

fail:
  jack_client_close(j->client);
  j->client = NULL;
  j->midi_in = j->midi_out = j->out_l = j->out_r = NULL;
  return rc;
}

void rnj_jack_disconnect(rnj_jack_t *j) {
  if (!j->client)
    return;
  jack_client_close(j->client);
  j->client = NULL;
  j->midi_in = j->midi_out = j->out_l = j->out_r = NULL;
}

/* Split "a, b" into trimmed names; returns the count (at most max). */
static int split(const char *spec, char out[][256], int max) {
  int n = 0;
  const char *p = spec;
  while (*p && n < max) {
    const char *s;
    const char *e;
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (!*p)
      break;
    s = p;
    while (*p && *p != ',')
      p++;
    e = p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if ((size_t)(e - s) < sizeof out[0]) {
      memcpy(out[n], s, (size_t)(e - s));
      out[n][e - s] = '\0';
      n++;
    }
  }
  return n;
}

static int link_ports(rnj_jack_t *j, const char *from, const char *to,
                      char *err) {
  int rc = jack_connect(j->client, from, to);
  if (rc == 0 || rc == EEXIST)
    return 0;
  rnj_errorf(err, RNJ_ENOTFOUND, "jack_connect(%s, %s): %s", from, to,
             jack_msg[0] ? jack_msg : "no such port");
  return 1;
}

int rnj_jack_connect_ports(rnj_jack_t *j, const char *audio,
                           const char *midi_in, const char *midi_out,
                           char *err) {
  char names[16][256];
  int missing = 0;
  int n;
  int i;
  if (!rnj_jack_up(j))
    return rnj_errorf(err, -ENOTCONN, "jack: not connected");
  if (j->out_l && audio && strcmp(audio, "none") != 0) {
    const char *l = jack_port_name(j->out_l);
    const char *r = jack_port_name(j->out_r);
    if (strcmp(audio, "auto") == 0) {
      const char **ports = jack_get_ports(j->client, NULL,
                                          JACK_DEFAULT_AUDIO_TYPE,
                                          JackPortIsPhysical |
                                              JackPortIsInput);
      n = 0;
      while (ports && ports[n] && n < 2) {
        snprintf(names[n], sizeof names[n], "%s", ports[n]);
        n++;
      }
      jack_free(ports);
      if (n == 0) {
        rnj_errorf(err, RNJ_ENOTFOUND,
                   "audio: no physical playback port to connect to");
        missing++;
      }
    } else {
      n = split(audio, names, 2);
    }
    if (n >= 1)
      missing += link_ports(j, l, names[0], err);
    if (n >= 1)
      missing += link_ports(j, r, names[n >= 2 ? 1 : 0], err);
  }
  if (j->midi_in && midi_in && strcmp(midi_in, "none") != 0) {
    if (strcmp(midi_in, "auto") == 0) {
      const char **ports = jack_get_ports(j->client, NULL,
                                          JACK_DEFAULT_MIDI_TYPE,
                                          JackPortIsPhysical |
                                              JackPortIsOutput);
      for (i = 0; ports && ports[i]; i++)
        missing += link_ports(j, ports[i], jack_port_name(j->midi_in), err);
      jack_free(ports);
    } else {
      n = split(midi_in, names, 16);
      for (i = 0; i < n; i++)
        missing += link_ports(j, names[i], jack_port_name(j->midi_in), err);
    }
  }
  if (j->midi_out && midi_out && strcmp(midi_out, "none") != 0) {
    n = split(midi_out, names, 16);
    for (i = 0; i < n; i++)
      missing += link_ports(j, jack_port_name(j->midi_out), names[i], err);
  }
  return missing;
}

int rnj_jack_drain(rnj_jack_t *j, int periods, int timeout_ms) {
  struct timespec ms = {0, 1000000};
  uint64_t start = mono_ns();
  uint64_t limit = (uint64_t)timeout_ms * 1000000u;
  uint64_t c0 = 0;
  int empty = 0;
  while (rnj_jack_up(j) && mono_ns() - start < limit) {
    if (!empty && jack_ringbuffer_read_space(j->to_rt) == 0) {
      empty = 1;
      c0 = LOAD(&j->cycles);
    }
    if (empty && LOAD(&j->cycles) >= c0 + (uint64_t)periods)
      return 0;
    nanosleep(&ms, NULL);
  }
  return rnj_jack_up(j) ? -ETIMEDOUT : 0;
}

static int push(rnj_jack_t *j, const msg_t *m, int count) {
  size_t len = (size_t)count * sizeof *m;
  if (!rnj_jack_up(j))
    return -EAGAIN;
  if (jack_ringbuffer_write_space(j->to_rt) < len) {
    j->to_rt_full++;
    return -EAGAIN;
  }
  jack_ringbuffer_write(j->to_rt, (const char *)m, len);
  return 0;
}

static int push_cmd(rnj_jack_t *j, int type, double t, int a, int b,
                    int c) {
  msg_t m;
  memset(&m, 0, sizeof m);
  m.type = (uint8_t)type;
  m.t_on = t;
  m.a = (uint8_t)a;
  m.b = (uint8_t)b;
  m.c = (uint8_t)c;
  return push(j, &m, 1);
}

int rnj_jack_note(rnj_jack_t *j, double t_on, double t_off, int pitch,
                  int velocity) {
  msg_t m;
  memset(&m, 0, sizeof m);
  m.type = M_NOTE;
  m.t_on = t_on;
  m.t_off = t_off > t_on ? t_off : t_on;
  m.a = (uint8_t)(pitch & 127);
  m.b = (uint8_t)(velocity < 1 ? 1 : velocity > 127 ? 127 : velocity);
  return push(j, &m, 1);
}

int rnj_jack_cancel(rnj_jack_t *j) {
  return push_cmd(j, M_CANCEL, 0, 0, 0, 0);
}

int rnj_jack_note_off_now(rnj_jack_t *j, int pitch) {
  return push_cmd(j, M_OFF_NOW, 0, pitch & 127, 0, 0);
}

int rnj_jack_all_off(rnj_jack_t *j) {
  return push_cmd(j, M_ALL_OFF, 0, 0, 0, 0);
}

int rnj_jack_player(rnj_jack_t *j, double t, int status, int data1,
                    int data2) {
  if (!j->synth || !j->render_player)
    return 0;
  if ((status & 0xF0) == 0xB0 && !player_cc(data1 & 127))
    return 0;
  return push_cmd(j, M_PLAYER, t, status & 0xFF, data1 & 127, data2 & 127);
}

int rnj_jack_program(rnj_jack_t *j, int program) {
  return push_cmd(j, M_PROGRAM, 0, program & 127, 0, 0);
}

int rnj_jack_channel(rnj_jack_t *j, int channel) {
  return push_cmd(j, M_CHANNEL, 0, channel & 15, 0, 0);
}

int rnj_jack_realtime(rnj_jack_t *j, double t, int status) {
  if (status < 0xF8 || status > 0xFF)
    return -EINVAL;
  return push_cmd(j, M_REALTIME, t, status, 0, 0);
}

int rnj_jack_cancel_realtime(rnj_jack_t *j) {
  return push_cmd(j, M_RT_CANCEL, 0, 0, 0, 0);
}

int rnj_jack_read_transport(rnj_jack_t *j, double *t, rnj_clock_jack_t *pos) {
  tp_t m;
  if (!j->from_rt_tp ||
      jack_ringbuffer_read_space(j->from_rt_tp) < sizeof m)
    return 0;
  jack_ringbuffer_read(j->from_rt_tp, (char *)&m, sizeof m);
  *t = m.t;
  *pos = m.pos;
  return 1;
}

int rnj_jack_read(rnj_jack_t *j, rnj_seq_event_t *ev) {
  in_t m;
  memset(ev, 0, sizeof *ev);
  if (!j->from_rt)
    return 0;
  if (LOAD(&j->lost_flag)) {
    STORE(&j->lost_flag, 0);
    ev->type = RNJ_SEQ_EV_LOST;
    ev->time = -1;
    return 1;
  }
  if (jack_ringbuffer_read_space(j->from_rt) < sizeof m)
    return 0;
  jack_ringbuffer_read(j->from_rt, (char *)&m, sizeof m);
  ev->type = m.type;
  ev->time = m.t;
  ev->channel = m.channel;
  ev->a = m.a;
  ev->b = m.b;
  ev->src_client = -1;
  ev->src_port = -1;
  return 1;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a;
  uint32_t y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

uint64_t rnj_jack_timing(rnj_jack_t *j, uint32_t *scratch, double *p50,
                         double *p99, double *max) {
  uint64_t n = LOAD(&j->ntimes);
  uint64_t k = n < RNJ_JACK_TIMES ? n : RNJ_JACK_TIMES;
  *p50 = *p99 = *max = 0;
  if (k == 0 || !j->times)
    return 0;
  memcpy(scratch, j->times, k * sizeof *scratch);
  qsort(scratch, k, sizeof *scratch, cmp_u32);
  *p50 = scratch[k / 2] / 1e3;
  *p99 = scratch[(k * 99) / 100] / 1e3;
  *max = scratch[k - 1] / 1e3;
  return k;
}
