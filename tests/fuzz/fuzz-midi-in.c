/* Fuzz target: rnnjamd's live input path, without a sound card.
 *
 * The input is a script of operations on one engine.  Events reach it the
 * way they reach the daemon: as sequencer events (built field by field
 * from the input, as any client may send them, or decoded from raw MIDI
 * bytes by alsa-lib's encoder, as the kernel does for a keyboard), turned
 * into rnj_seq_event_t by the daemon's own decoder (rnj__seq_decode), or
 * as JACK MIDI events through the JACK parser (rnj__jack_midi_parse), and
 * dispatched as loop.c does: notes and controllers to the engine, the
 * player's onsets, MIDI Clock, Start, Stop, Continue and Song Position to
 * a beat clock.  Between events simulated time passes and the
 * engine is ticked when it asks to be; reloads swap the model and the
 * settings, as SIGHUP does.
 *
 * The output is a model of the ALSA queue: scheduled events are delivered
 * at their time unless cancelled first, direct ones at once.  Checked
 * throughout: the event path allocates nothing (counting allocator), the
 * engine's bounded buffers stay bounded, every note it schedules is
 * well-formed, a pitch never starts while it still sounds, no key stays
 * held past RNJ_ENGINE_MAX_HOLD, the clock's time and tempo stay finite
 * and in range, and after the final stop no note is left sounding.  Any
 * broken promise aborts.
 */
#include <alsa/asoundlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* rnj__seq_decode */
#include "rnnjam/alloc.h"
#include "rnnjam/clock.h"
#include "rnnjam/conf.h"
#include "rnnjam/engine.h"
#include "rnnjam/net.h"
#include "rnnjam/model.h"
#include "rnnjam/sample.h"
#include "rnnjam/seq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "fuzz-midi-in: %s:%d: %s\n", __FILE__, __LINE__,      \
              #cond);                                                       \
      abort();                                                              \
    }                                                                       \
  } while (0)

/* The harness's own loops need no coverage feedback (they cost a tenth
 * of the run in traced comparisons). */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define NO_COVERAGE
#endif

/* Our client number: events from it are our own output fed back. */
#define SELF_CLIENT 128
/* Longest a single "time passes" operation may advance, s.  Each second
 * of playing costs tens of model steps, which is where the time goes. */
#define MAX_ADVANCE 4.0
/* Window lengths are kept short for the same reason (window mode runs a
 * whole window per generated note).  The engine's logic only tells apart
 * a window of 1, one longer than the history so far and a full one; up
 * to 4 reaches all three as soon as up to 16 did, at a quarter the cost
 * (measured: the grown corpus keeps its coverage, 350 -> 1,085 runs/s
 * with asan-ignore.txt). */
#define MAX_WINDOW 4
/* Ticks at one instant before the simulation moves on by 1 ms (the loop
 * would have taken that long anyway). */
#define MAX_SPINS 32

/* ------------------------------------------------------------ queue */

enum { Q_ON, Q_OFF };

typedef struct {
  double t;
  long order;
  int type;
  int pitch;
} qev_t;

/* The engine keeps at most RNJ_ENGINE_SCHED notes; each is two events. */
#define QMAX (4 * RNJ_ENGINE_SCHED)

static struct {
  double now;
  qev_t q[QMAX];
  int qn;
  long order;
  int sounding[128];
  int stopped;
} sim;

/* Deliver, in time order, every queued event due at or before `t`. */
NO_COVERAGE static void deliver(double t) {
  for (;;) {
    int best = -1;
    int i;
    for (i = 0; i < sim.qn; i++)
      if (sim.q[i].t <= t &&
          (best < 0 || sim.q[i].t < sim.q[best].t ||
           (sim.q[i].t == sim.q[best].t &&
            sim.q[i].order < sim.q[best].order)))
        best = i;
    if (best < 0)
      return;
    if (sim.q[best].type == Q_ON) {
      /* Two overlapping notes of one pitch cannot be paired on the wire
       * (engine.h): the engine must never start a sounding pitch. */
      CHECK(!sim.sounding[sim.q[best].pitch]);
      sim.sounding[sim.q[best].pitch] = 1;
    } else {
      sim.sounding[sim.q[best].pitch] = 0;
    }
    sim.q[best] = sim.q[--sim.qn];
  }
}

static int out_note(void *ctx, double on, double off, int pitch, int vel) {
  (void)ctx;
  CHECK(!sim.stopped);
  CHECK(isfinite(on) && isfinite(off));
  CHECK(off > on);
  CHECK(on >= sim.now - 1e-9); /* never in the past */
  CHECK(pitch >= 0 && pitch < 128);
  CHECK(vel >= 1 && vel <= 127);
  CHECK(sim.qn + 2 <= QMAX);
  sim.q[sim.qn++] = (qev_t){on, sim.order++, Q_ON, pitch};
  sim.q[sim.qn++] = (qev_t){off, sim.order++, Q_OFF, pitch};
  return 0;
}

static void out_cancel(void *ctx) {
  (void)ctx;
  deliver(sim.now);
  sim.qn = 0;
}

static void out_off_now(void *ctx, int pitch) {
  (void)ctx;
  CHECK(pitch >= 0 && pitch < 128);
  deliver(sim.now);
  sim.sounding[pitch] = 0;
}

static void out_all_off(void *ctx) {
  (void)ctx;
  deliver(sim.now);
  memset(sim.sounding, 0, sizeof sim.sounding);
}

static double out_now(void *ctx) {
  (void)ctx;
  return sim.now;
}

/* ------------------------------------------------------------ allocator */

static int armed;
static long allocs;

static void *count_malloc(size_t n) {
  allocs += armed;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n) {
  allocs += armed;
  return realloc(p, n);
}
static void *count_calloc(size_t c, size_t n) {
  allocs += armed;
  return calloc(c, n);
}

/* ------------------------------------------------------------ set-up */

/* Two sets of weights, each with every window length (the model carries
 * its own): nets[weights][window - 1]. */
static rnj_net_t *nets[2][MAX_WINDOW];
static snd_midi_event_t *midi;
static rnj_engine_t eng;
static rnj_seq_t seq;
static rnj_clock_t clk;

/* A model with fixed pseudo-random weights: the fuzzer needs no file, and
 * the heads' biases put steps and durations where real models do. */
static rnj_net_t *make_net(uint64_t seed, int window, rnj_kernel_t kernel) {
  rnj_model_t m;
  rnj_rng_t rng;
  rnj_net_t *l = NULL;
  size_t i;
  memset(&m, 0, sizeof m);
  CHECK(rnj_model_init(&m) == 0);
  rnj_rng_seed(&rng, seed);
  for (i = 0; i < RNJ_MODEL_NPARAMS; i++)
    m.params[i] = (float)((rnj_rng_uniform(&rng) - 0.5) * 0.4);
  m.step_bias[0] = 0.2f;
  m.duration_bias[0] = 0.3f;
  m.seq_length = window;
  CHECK(rnj_net_new(&l, &m, kernel) == 0);
  rnj_model_free(&m);
  return l;
}

/* At exit, so that leak checkers see everything released. */
static void teardown(void) {
  int k;
  rnj_replace_allocator(malloc, realloc, calloc, free);
  for (k = 0; k < 2 * MAX_WINDOW; k++)
    rnj_net_delete(nets[k / MAX_WINDOW][k % MAX_WINDOW]);
  snd_midi_event_free(midi);
}

static void setup(void) {
  int k;
  atexit(teardown);
  for (k = 0; k < 2 * MAX_WINDOW; k++)
    nets[k / MAX_WINDOW][k % MAX_WINDOW] =
        make_net(1 + (uint64_t)(k / MAX_WINDOW), 1 + k % MAX_WINDOW,
                 RNJ_KERNEL_AUTO);
  CHECK(snd_midi_event_new(256, &midi) == 0);
  CHECK(rnj_replace_allocator(count_malloc, count_realloc, count_calloc,
                              free) == 0);
}

/* ------------------------------------------------------------ input */

typedef struct {
  const uint8_t *p;
  size_t n;
} in_t;

static unsigned byte(in_t *in) {
  if (!in->n)
    return 0;
  in->n--;
  return *in->p++;
}

/* Settings from one byte, as a reload or a start would give them. */
static void params_from(rnj_engine_params_t *p, unsigned b) {
  rnj_conf_t c;
  rnj_conf_defaults(&c, "m");
  rnj_engine_params_from_conf(p, &c);
  p->mode = b & 1 ? RNJ_MODE_CONTINUOUS : RNJ_MODE_RESPOND;
  p->context = b & 2 ? RNJ_CONTEXT_WINDOW : RNJ_CONTEXT_STREAM;
  p->answer_length = b & 4 ? (int)(b >> 4) : 0;
  p->phrase_gap = b & 8 ? 0.0 : 0.3;
  p->max_chord = 1 + (int)(b >> 5);
  p->velocity = b & 16 ? 100 : 0;
}

NO_COVERAGE static void check_clock(void) {
  rnj_clock_pos_t pos;
  double t;
  rnj_clock_position(&clk, sim.now, &pos);
  CHECK(isfinite(pos.beat));
  CHECK(pos.bpm >= RNJ_CLOCK_MIN_BPM * (1 - 1e-9) &&
        pos.bpm <= RNJ_CLOCK_MAX_BPM * (1 + 1e-9));
  CHECK(pos.beat_in_bar >= 0 && pos.beat_in_bar <= pos.beats_per_bar);
  CHECK(pos.rolling == 0 || pos.rolling == 1);
  CHECK(pos.source > RNJ_CLOCK_AUTO && pos.source <= RNJ_CLOCK_FIXED);
  t = rnj_clock_next_beat(&clk, sim.now);
  CHECK(t >= sim.now && (!pos.rolling || t - sim.now <= 60.0 / pos.bpm + 1e-6));
  t = rnj_clock_next_bar(&clk, sim.now);
  CHECK(t >= sim.now);
}

NO_COVERAGE static void check_engine(void) {
  int c;
  int k;
  int held = 0;
  CHECK(eng.in_n >= 0 && eng.in_n <= RNJ_ENGINE_INFLIGHT);
  CHECK(eng.in_head >= 0 && eng.in_head < RNJ_ENGINE_INFLIGHT);
  CHECK(eng.sched_n >= 0 && eng.sched_n <= RNJ_ENGINE_SCHED);
  CHECK(eng.hist_n >= 0 && eng.hist_n <= RNJ_ENGINE_HISTORY);
  for (c = 0; c < 16; c++)
    for (k = 0; k < 128; k++) {
      int slot = eng.held[c][k] - 1;
      int age;
      if (slot < 0)
        continue;
      held++;
      CHECK(slot < RNJ_ENGINE_INFLIGHT);
      /* a held key is a sounding note still in the FIFO */
      age = (slot - eng.in_head + RNJ_ENGINE_INFLIGHT) % RNJ_ENGINE_INFLIGHT;
      CHECK(age < eng.in_n);
      CHECK(eng.inflight[slot].end < 0);
      CHECK(eng.inflight[slot].pitch == k && eng.inflight[slot].channel == c);
      /* every operation ends with a tick, which releases old keys */
      CHECK(sim.now < eng.inflight[slot].start + RNJ_ENGINE_MAX_HOLD);
    }
  CHECK(held == eng.sounding);
}

static double next_tick;

static void tick(void) {
  deliver(sim.now);
  next_tick = rnj_engine_tick(&eng, sim.now);
  CHECK(!isnan(next_tick));
  CHECK(!isnan(rnj_clock_tick(&clk, sim.now)));
  rnj_clock_take_events(&clk);
}

/* Let `dt` seconds pass, ticking when the engine asks (as the loop's
 * timer would). */
static void advance(double dt) {
  double target = sim.now + dt;
  int spins = 0;
  while (sim.now < target) {
    double t;
    if (next_tick <= sim.now) {
      tick();
      if (next_tick <= sim.now && ++spins < MAX_SPINS)
        continue;
    }
    spins = 0;
    t = next_tick > sim.now ? next_tick : sim.now + 0.001;
    if (t > target)
      t = target;
    deliver(t);
    sim.now = t;
  }
  tick();
}

/* What loop.c's read_input does with one decoded event. */
static void dispatch(const rnj_seq_event_t *ev) {
  double t = ev->time < 0 ? sim.now : ev->time;
  CHECK(ev->channel >= 0 && ev->channel < 16);
  switch (ev->type) {
  case RNJ_SEQ_EV_NOTE_ON:
    CHECK(ev->a >= 0 && ev->a < 128 && ev->b > 0 && ev->b < 256);
    rnj_engine_note_on(&eng, t, ev->channel, ev->a, ev->b);
    rnj_clock_onset(&clk, t);
    break;
  case RNJ_SEQ_EV_CLOCK:
  case RNJ_SEQ_EV_START:
  case RNJ_SEQ_EV_CONTINUE:
  case RNJ_SEQ_EV_STOP:
  case RNJ_SEQ_EV_SONGPOS:
  case RNJ_SEQ_EV_TICK:
  case RNJ_SEQ_EV_SENSING:
  case RNJ_SEQ_EV_RESET:
    CHECK(ev->a >= 0xF2 && ev->a <= 0xFF && ev->a != 0xFD);
    CHECK(ev->b >= 0 && ev->b < 16384);
    CHECK(ev->channel == 0);
    rnj_clock_midi(&clk, t, ev->a, ev->b);
    break;
  case RNJ_SEQ_EV_NOTE_OFF:
    CHECK(ev->a >= 0 && ev->a < 128);
    rnj_engine_note_off(&eng, t, ev->channel, ev->a);
    break;
  case RNJ_SEQ_EV_CC:
    CHECK(ev->a >= 0 && ev->a < 128 && ev->b >= 0 && ev->b < 128);
    rnj_engine_cc(&eng, t, ev->channel, ev->a, ev->b);
    break;
  case RNJ_SEQ_EV_LOST:
  case RNJ_SEQ_EV_DISCONNECTED:
    rnj_engine_input_lost(&eng, t);
    break;
  default:
    break;
  }
}

/* A sequencer event as the kernel hands it over: stamped with the queue's
 * real time on arrival (input stamping), from any client. */
static void stamp(snd_seq_event_t *ev, double t) {
  ev->flags &= ~SND_SEQ_TIME_STAMP_MASK;
  ev->flags |= SND_SEQ_TIME_STAMP_REAL;
  ev->time.time.tv_sec = (unsigned)floor(t);
  ev->time.time.tv_nsec = (unsigned)((t - floor(t)) * 1e9);
}

static void feed_event(const snd_seq_event_t *ev) {
  rnj_seq_event_t out;
  rnj__seq_decode(&seq, ev, &out);
  if (ev->source.client == SELF_CLIENT)
    CHECK(out.type == RNJ_SEQ_EV_NONE);
  dispatch(&out);
}

/* One event built field by field: any type and any data bytes. */
static void op_event(in_t *in) {
  snd_seq_event_t ev;
  unsigned f = byte(in);
  memset(&ev, 0, sizeof ev);
  ev.type = (snd_seq_event_type_t)byte(in);
  ev.source.client = f & 1 ? SELF_CLIENT : 20;
  ev.data.control.channel = (unsigned char)byte(in);
  if (ev.type == SND_SEQ_EVENT_CONTROLLER) {
    unsigned lo = byte(in);
    unsigned hi = byte(in);
    ev.data.control.param = lo | hi << 8;
    lo = byte(in);
    hi = byte(in);
    /* the high byte reaches the sign bit: negative values too */
    ev.data.control.value = (int)(lo | hi << 24);
  } else {
    ev.data.note.note = (unsigned char)byte(in);
    ev.data.note.velocity = (unsigned char)byte(in);
  }
  if (f & 2)
    stamp(&ev, sim.now); /* else unstamped: the daemon reads the clock */
  feed_event(&ev);
}

/* Raw MIDI bytes as JACK MIDI events: up to 16 bytes each, parsed as
 * the JACK client does, all stamped now. */
static void op_jack(in_t *in, unsigned n) {
  while (n > 0 && in->n) {
    uint8_t buf[16];
    rnj_seq_event_t evs[8];
    size_t len = 1 + byte(in) % 16;
    size_t i;
    int k;
    int got;
    for (i = 0; i < len && in->n; i++)
      buf[i] = (uint8_t)byte(in);
    got = rnj__jack_midi_parse(buf, i, evs, 8);
    CHECK(got >= 0 && (size_t)got <= i);
    for (k = 0; k < got && k < 8; k++) {
      evs[k].time = sim.now;
      dispatch(&evs[k]);
    }
    n--;
  }
}

/* Raw MIDI bytes through alsa-lib's encoder, as the kernel turns a
 * keyboard's bytes into sequencer events; or, with the op's bit 3 set,
 * through the JACK parser. */
static void op_raw(in_t *in, unsigned op) {
  unsigned n = byte(in) % 64;
  if (op & 8) {
    op_jack(in, n);
    return;
  }
  while (n-- > 0 && in->n) {
    snd_seq_event_t ev;
    memset(&ev, 0, sizeof ev);
    if (snd_midi_event_encode_byte(midi, (int)byte(in), &ev) == 1) {
      ev.source.client = 24;
      stamp(&ev, sim.now);
      feed_event(&ev);
    }
  }
}

static void op_reload(in_t *in) {
  rnj_engine_params_t p;
  rnj_sampler_t s;
  unsigned b = byte(in);
  unsigned len = byte(in);
  /* what reload_done does: swap the model, then settings and sampling */
  rnj_engine_set_net(&eng, nets[eng.net == nets[0][eng.seq_length - 1]]
                                [len % MAX_WINDOW]);
  params_from(&p, b);
  rnj_engine_set_params(&eng, &p);
  {
    /* and the clock's settings, as the [time] section would */
    rnj_clock_params_t cp;
    rnj_clock_params_default(&cp);
    cp.source = (int)(b % 5);
    cp.bpm = 40.0 + (double)(len % 200);
    cp.beats_per_bar = 1 + (int)(len % 7);
    CHECK(rnj_clock_set_params(&clk, &cp, sim.now) == 0);
  }
  rnj_sampler_init(&s, 0);
  s.temperature = 0.1f + (float)(byte(in) % 40) * 0.1f;
  s.top_k = (int)(byte(in) % 129);
  s.pitch_min = (int)(byte(in) % 128);
  s.pitch_max = s.pitch_min + (int)(byte(in) % (128 - s.pitch_min));
  rnj_engine_set_sampling(&eng, &s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in_t in = {data, size};
  rnj_engine_params_t p;
  rnj_sampler_t s;
  rnj_engine_out_t out = {NULL, out_note, out_cancel, out_off_now,
                          out_all_off, out_now};
  int p_ops = 0;
  int window;

  if (!nets[0][0])
    setup();
  memset(&sim, 0, sizeof sim);
  sim.now = 1000.0;
  memset(&seq, 0, sizeof seq);
  seq.client = SELF_CLIENT;
  snd_midi_event_reset_encode(midi);
  params_from(&p, byte(&in));
  window = 1 + (int)(byte(&in) % MAX_WINDOW);
  rnj_sampler_init(&s, 7);
  s.pitch_min = 21;
  s.pitch_max = 108;
  CHECK(rnj_engine_init(&eng, &p, nets[0][window - 1], &s, &out) == 0);
  {
    rnj_clock_params_t cp;
    rnj_clock_params_default(&cp);
    CHECK(rnj_clock_init(&clk, &cp, sim.now) == 0);
  }
  next_tick = sim.now;

  armed = 1;
  allocs = 0;
  while (in.n > 0 && p_ops++ < 4096) {
    unsigned op = byte(&in);
    switch (op & 7) {
    case 0:
    case 1:
      op_event(&in);
      tick();
      break;
    case 2:
      op_raw(&in, op);
      tick();
      break;
    case 3: { /* time passes: up to 255 steps of 1 ms, 10 ms, 100 ms or 1 s */
      double dt = fmin(MAX_ADVANCE, (1 + byte(&in)) *
                                        pow(10.0, (double)(op >> 3 & 3) - 3));
      advance(dt);
      if (dt >= 0.3) /* a silence that ends a phrase */
        rnj_clock_phrase_end(&clk, sim.now);
      break;
    }
    case 4: {
      rnj_seq_event_t lost;
      memset(&lost, 0, sizeof lost);
      lost.type = RNJ_SEQ_EV_LOST;
      lost.time = sim.now;
      dispatch(&lost);
      tick();
      break;
    }
    case 5:
      op_reload(&in);
      tick();
      break;
    case 6:
      rnj_engine_panic(&eng);
      tick();
      break;
    default:
      rnj_engine_set_mode(&eng, op & 8 ? RNJ_MODE_CONTINUOUS
                                       : RNJ_MODE_RESPOND);
      tick();
      break;
    }
    check_engine();
    check_clock();
    CHECK(allocs == 0);
  }

  /* Exit: stop, let everything queued play out; nothing may sound. */
  rnj_engine_stop(&eng);
  sim.stopped = 1;
  CHECK(rnj_engine_tick(&eng, sim.now) == HUGE_VAL);
  deliver(HUGE_VAL);
  CHECK(allocs == 0);
  armed = 0;
  {
    int k;
    for (k = 0; k < 128; k++)
      CHECK(!sim.sounding[k]);
  }
  return 0;
}
