/* engine: the daemon's musical logic driven with made-up times.
 *
 * The output is a recorder that behaves like the ALSA queue: scheduled
 * events are delivered at their time unless cancelled first, direct
 * events at once, and equal times in the order they were written.  The
 * tests check properties, on the model in tests/data (random weights):
 * every delivered note-on has its note-off, an answer starts exactly
 * phrase_gap after the call's last note-off, it stops when the player
 * plays again, the context hears notes in start order, and a flood is
 * bounded and allocation-free.
 */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "rnnjam/alloc.h"
#include "rnnjam/ckpt.h"
#include "rnnjam/clock.h"
#include "rnnjam/encoding.h"
#include "rnnjam/engine.h"
#include "rnnjam/model.h"
#include "test.h"

/* ------------------------------------------------------------ recorder */

enum { EV_ON, EV_OFF, EV_ALLOFF };

typedef struct {
  double t;     /* when it is (or was to be) delivered */
  long order;   /* write order, for equal times */
  int type;
  int pitch;
  int velocity;
  int cancelled;
  int direct;
  double written; /* sim time when it was handed over */
} rec_ev_t;

#define REC_MAX 200000

typedef struct {
  rec_ev_t *ev;
  long n;
  long order;
  double now;
  int cancels;
  int fail_notes; /* refuse this many notes (output full) */
} rec_t;

static int rec_note(void *ctx, double on, double off, int pitch, int vel) {
  rec_t *r = ctx;
  if (r->fail_notes > 0) {
    r->fail_notes--;
    return -11;
  }
  ASSERT(r->n + 2 <= REC_MAX);
  ASSERT(off > on);
  r->ev[r->n++] = (rec_ev_t){on, r->order++, EV_ON, pitch, vel, 0, 0, r->now};
  r->ev[r->n++] = (rec_ev_t){off, r->order++, EV_OFF, pitch, 0, 0, 0, r->now};
  return 0;
}

static void rec_cancel(void *ctx) {
  rec_t *r = ctx;
  long i;
  r->cancels++;
  for (i = 0; i < r->n; i++)
    if (!r->ev[i].direct && r->ev[i].t > r->now)
      r->ev[i].cancelled = 1;
}

static void rec_off_now(void *ctx, int pitch) {
  rec_t *r = ctx;
  ASSERT(r->n < REC_MAX);
  r->ev[r->n++] =
      (rec_ev_t){r->now, r->order++, EV_OFF, pitch, 0, 0, 1, r->now};
}

static void rec_all_off(void *ctx) {
  rec_t *r = ctx;
  ASSERT(r->n < REC_MAX);
  r->ev[r->n++] =
      (rec_ev_t){r->now, r->order++, EV_ALLOFF, -1, 0, 0, 1, r->now};
}

static double rec_now(void *ctx) { return ((rec_t *)ctx)->now; }

static int cmp_ev(const void *a, const void *b) {
  const rec_ev_t *x = a;
  const rec_ev_t *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* The delivered events up to time `until`, in delivery order, into `out`;
 * their count. */
static long delivered(const rec_t *r, double until, rec_ev_t *out) {
  long i;
  long n = 0;
  for (i = 0; i < r->n; i++)
    if (!r->ev[i].cancelled && r->ev[i].t <= until)
      out[n++] = r->ev[i];
  qsort(out, (size_t)n, sizeof *out, cmp_ev);
  return n;
}

/* Every note-on is followed by its note-off (or an all-notes-off) before
 * the same pitch starts again, and nothing sounds at `until`.  Returns
 * the number of note-ons. */
static long check_pairing(const rec_t *r, double until) {
  static rec_ev_t d[REC_MAX];
  int on[128] = {0};
  long n = delivered(r, until, d);
  long i;
  long ons = 0;
  int p;
  for (i = 0; i < n; i++) {
    if (d[i].type == EV_ON) {
      if (on[d[i].pitch])
        FAIL("pitch %d started again at %.4f while sounding", d[i].pitch,
             d[i].t);
      on[d[i].pitch] = 1;
      ons++;
    } else if (d[i].type == EV_OFF) {
      on[d[i].pitch] = 0;
    } else {
      memset(on, 0, sizeof on);
    }
  }
  for (p = 0; p < 128; p++)
    if (on[p])
      FAIL("pitch %d still sounding at %.3f", p, until);
  return ons;
}

/* ------------------------------------------------------------ set-up */

static rnj_net_t *net;
static rnj_net_t *net_v2; /* a v2 model (random weights), in beats */
static int seq_length;
static rec_t rec;
static rnj_engine_t eng;
static rnj_clock_t clk; /* the beat clock, for the tests that use one */

static void load(void) {
  rnj_model_t m;
  char path[4096];
  char err[RNJ_ERR_LEN];
  memset(&m, 0, sizeof m);
  snprintf(path, sizeof path, "%s/ref-model.safetensors", test_data_dir());
  ASSERT_OK(rnj_model_init(&m));
  if (rnj_ckpt_load(&m, path, err) != 0)
    FAIL("%s", err);
  ASSERT_OK(rnj_net_new(&net, &m, RNJ_KERNEL_AUTO));
  seq_length = m.seq_length;
  ASSERT_EQ(rnj_net_seq_length(net), seq_length);
  snprintf(path, sizeof path, "%s/ref-v2-h48.safetensors", test_data_dir());
  ASSERT_OK(rnj_net_load(&net_v2, path, RNJ_KERNEL_AUTO, err));
  rnj_model_free(&m);
  rec.ev = calloc(REC_MAX, sizeof *rec.ev);
  ASSERT(rec.ev);
}

static void params_default(rnj_engine_params_t *p) {
  rnj_conf_t c;
  rnj_conf_defaults(&c, "m");
  rnj_engine_params_from_conf(p, &c);
}

static void start(const rnj_engine_params_t *p, uint64_t seed) {
  rnj_sampler_t s;
  rnj_engine_out_t out = {&rec, rec_note, rec_cancel, rec_off_now,
                          rec_all_off, rec_now};
  rnj_sampler_init(&s, seed);
  s.pitch_min = 21;
  s.pitch_max = 108;
  rec.n = 0;
  rec.order = 0;
  rec.now = 100.0; /* queue clocks do not start at zero in real life */
  rec.cancels = 0;
  rec.fail_notes = 0;
  ASSERT_OK(rnj_engine_init(&eng, p, net, &s, &out));
}

/* Advance simulated time to `until`, ticking when the engine asks (and at
 * least every `max_step` s, as the daemon's input wake-ups would). */
static double next_tick = 0;

static void run_until(double until) {
  /* rnnjamd ticks after every batch of input; the tests' direct calls to
   * the event functions count as one. */
  next_tick = rec.now;
  while (rec.now < until) {
    double t;
    if (next_tick <= rec.now)
      next_tick = rnj_engine_tick(&eng, rec.now);
    t = next_tick > rec.now ? next_tick : rec.now;
    if (t > until)
      t = until;
    if (t == rec.now) /* the engine wants more ticks now: step 0.1 ms */
      t = rec.now + 0.0001 < until ? rec.now + 0.0001 : until;
    rec.now = t;
  }
  next_tick = rnj_engine_tick(&eng, rec.now);
}

static void play(double t, int pitch, double dur) {
  run_until(t);
  rnj_engine_note_on(&eng, t, 0, pitch, 90);
  next_tick = rec.now;
  run_until(t + dur);
  rnj_engine_note_off(&eng, t + dur, 0, pitch);
  next_tick = rec.now;
}

static double first_on_after(double t) {
  long i;
  double best = HUGE_VAL;
  for (i = 0; i < rec.n; i++)
    if (rec.ev[i].type == EV_ON && !rec.ev[i].cancelled &&
        rec.ev[i].t >= t && rec.ev[i].t < best)
      best = rec.ev[i].t;
  return best;
}

/* ------------------------------------------------------------ tests */

/* A call of 6 notes; the answer starts exactly phrase_gap after the last
 * note-off, is as long as the call (answer_length = call) and every note
 * is paired. */
static void test_respond(void) {
  rnj_engine_params_t p;
  double last_off;
  long ons;
  int i;
  params_default(&p);
  start(&p, 1);
  for (i = 0; i < 6; i++)
    play(100.5 + 0.25 * i, 60 + 2 * i, 0.2);
  last_off = 100.5 + 0.25 * 5 + 0.2;
  run_until(last_off + 0.5 - 0.1);
  ASSERT_EQ(eng.stats.notes_fed, 6);
  ASSERT_EQ(rec.n, 0); /* nothing before the gap */
  ASSERT_EQ(eng.stats.answers, 0);
  run_until(last_off + 10);
  ASSERT_EQ(eng.stats.answers, 1);
  ASSERT_NEAR(first_on_after(0), last_off + 0.5, 1e-9);
  ASSERT_EQ(eng.stats.notes_out + eng.stats.skipped_overlap, 6);
  ons = check_pairing(&rec, rec.now);
  ASSERT_EQ(ons, (long)eng.stats.notes_out);
  ASSERT_EQ(eng.st, RNJ_ENGINE_IDLE);
  /* notes were handed over no earlier than lookahead before they sound */
  for (i = 0; i < rec.n; i++)
    if (rec.ev[i].type == EV_ON)
      ASSERT(rec.ev[i].written >= rec.ev[i].t - p.lookahead - 1e-9);
  /* a second call gets a second answer */
  play(rec.now + 1, 72, 0.3);
  run_until(rec.now + 10);
  ASSERT_EQ(eng.stats.answers, 2);
  check_pairing(&rec, rec.now);
}

/* Velocities: fixed; follow (the player's recent ones); model, which for
 * a model without a velocity head (the tutorial's) follows, note for
 * note.  Generated notes are fed with the velocity they sound with. */
static void one_call(int velocity, uint64_t seed) {
  rnj_engine_params_t p;
  int i;
  params_default(&p);
  p.velocity = velocity;
  start(&p, seed);
  for (i = 0; i < 6; i++)
    play(100.5 + 0.25 * i, 60 + 2 * i, 0.2); /* velocity 90 */
  run_until(rec.now + 10);
  ASSERT_EQ(eng.stats.answers, 1);
  ASSERT(eng.stats.notes_out > 0);
}

static void test_velocity(void) {
  rec_ev_t *follow;
  long n;
  long i;
  double avg = 80; /* the engine's starting guess */
  int want;
  for (i = 0; i < 6; i++)
    avg = 0.7 * avg + 0.3 * 90;
  want = (int)lrint(avg);

  one_call(33, 21);
  for (i = 0; i < rec.n; i++)
    if (rec.ev[i].type == EV_ON)
      ASSERT_EQ(rec.ev[i].velocity, 33);
  ASSERT_EQ(eng.history[(eng.hist_head + eng.hist_n - 1) %
                        RNJ_ENGINE_HISTORY].velocity, 33);

  one_call(RNJ_VELOCITY_FOLLOW, 21);
  for (i = 0; i < rec.n; i++)
    if (rec.ev[i].type == EV_ON)
      ASSERT_EQ(rec.ev[i].velocity, want);
  n = rec.n;
  follow = malloc((size_t)n * sizeof *follow);
  ASSERT(follow);
  memcpy(follow, rec.ev, (size_t)n * sizeof *follow);

  ASSERT_EQ(rnj_net_has_velocity(net), 0);
  one_call(RNJ_VELOCITY_MODEL, 21);
  ASSERT_EQ(rec.n, n);
  for (i = 0; i < n; i++) {
    ASSERT(rec.ev[i].t == follow[i].t);
    ASSERT_EQ(rec.ev[i].pitch, follow[i].pitch);
    ASSERT_EQ(rec.ev[i].velocity, follow[i].velocity);
  }
  free(follow);
  check_pairing(&rec, rec.now);
}

/* A v2 model hears seconds as beats at the fixed tempo and answers in
 * bins of 1/24 beat; with velocity = model it plays its own velocities. */
static void test_v2(void) {
  rnj_engine_params_t p;
  long i;
  int ons = 0;
  params_default(&p);
  ASSERT_EQ(p.velocity, RNJ_VELOCITY_MODEL);
  p.tempo = 90; /* 1.5 beats a second */
  p.max_chord = 16;
  start(&p, 31);
  {
    rnj_sampler_t sm = eng.sampler;
    rnj_engine_out_t o = eng.out;
    ASSERT_OK(rnj_engine_init(&eng, &p, net_v2, &sm, &o));
  }
  ASSERT_NEAR(eng.model_per_s, 1.5, 0);
  for (i = 0; i < 8; i++)
    play(100.5 + 0.4 * (double)i, 60 + (int)i, 0.2);
  /* the model's state holds the last note's onset in beats */
  run_until(100.5 + 0.4 * 7 + 0.25);
  ASSERT_EQ(eng.stats.notes_fed, 8);
  ASSERT_NEAR(eng.state.onset, (100.5 + 0.4 * 7) * 1.5, 1e-9);
  ASSERT_EQ(eng.state.fed, 8);
  run_until(rec.now + 20);
  ASSERT_EQ(eng.stats.answers, 1);
  for (i = 0; i < rec.n; i++) {
    const rec_ev_t *ev = &rec.ev[i];
    if (ev->type != EV_ON)
      continue;
    ons++;
    /* a velocity bin's centre, 4b + 2 */
    ASSERT_EQ(ev->velocity % 4, 2);
    /* durations: a bin's centre at 90 bpm, or the clamps */
    {
      double dur = rec.ev[i + 1].t - ev->t;
      int b = rnj_encoding_duration_bin(dur * 1.5);
      ASSERT(fabs(dur - rnj_encoding_duration_centre(b) / 1.5) < 1e-9 ||
             fabs(dur - p.min_duration) < 1e-9 ||
             fabs(dur - p.max_duration) < 1e-9);
    }
  }
  ASSERT(ons > 0);
  check_pairing(&rec, rec.now);
  /* the generated notes are fed with the velocity they sounded with */
  ASSERT_EQ(eng.history[(eng.hist_head + eng.hist_n - 1) %
                        RNJ_ENGINE_HISTORY].velocity % 4, 2);
  /* a reload to the tutorial's model: seconds again, the same notes */
  ASSERT(rnj_engine_set_net(&eng, net) == net_v2);
  ASSERT_NEAR(eng.model_per_s, 1.0, 0);
  p.tempo = 120;
  rnj_engine_set_net(&eng, net_v2);
  rnj_engine_set_params(&eng, &p);
  ASSERT_NEAR(eng.model_per_s, 2.0, 0);
  rnj_engine_stop(&eng);
}

/* With a beat clock a beats model hears the clock: its tempo, not the
 * fixed one, and each onset at the beat it fell on, so the beat phase the
 * model takes is the music's. */
static void test_v2_clock(void) {
  rnj_engine_params_t p;
  rnj_clock_params_t cp;
  params_default(&p);
  p.tempo = 120;
  start(&p, 32);
  {
    rnj_sampler_t sm = eng.sampler;
    rnj_engine_out_t o = eng.out;
    ASSERT_OK(rnj_engine_init(&eng, &p, net_v2, &sm, &o));
  }
  ASSERT_NEAR(eng.model_per_s, 2.0, 0);
  /* 90 bpm, beat 0 at t = 100.2: 100.2 + 2/3 s is beat 1 */
  rnj_clock_params_default(&cp);
  cp.source = RNJ_CLOCK_FIXED;
  cp.bpm = 90;
  ASSERT_OK(rnj_clock_init(&clk, &cp, 100.2));
  rnj_engine_set_clock(&eng, &clk);
  ASSERT_NEAR(eng.model_per_s, 1.5, 0);
  play(100.2 + 2.0 / 3 + 0.25 / 1.5, 60, 0.2); /* beat 1.25 */
  run_until(rec.now + 0.01);
  ASSERT_EQ(eng.stats.notes_fed, 1);
  ASSERT_NEAR(eng.state.onset, 1.25, 1e-9);
  /* a new tempo reaches the model */
  cp.bpm = 60;
  ASSERT_OK(rnj_clock_set_params(&clk, &cp, rec.now));
  run_until(rec.now + 0.01);
  ASSERT_NEAR(eng.model_per_s, 1.0, 1e-12);
  rnj_engine_stop(&eng);
}

/* The player comes back in the middle of a long answer: nothing sounds
 * after that moment but the note-offs, sent at that very moment. */
static void test_interrupt(void) {
  rnj_engine_params_t p;
  double t_in;
  double last_off;
  long i;
  params_default(&p);
  p.answer_length = 200;
  start(&p, 2);
  play(101.0, 64, 0.3);
  play(101.4, 67, 0.3);
  last_off = 101.7;
  /* come back while an answer note sounds, with more queued after it */
  run_until(last_off + 0.5);
  for (;;) {
    int sounding = 0;
    int queued = 0;
    run_until(rec.now + 0.01);
    ASSERT(rec.now < last_off + 60);
    for (i = 0; i < eng.sched_n; i++) {
      sounding += eng.sched[i].on <= rec.now && eng.sched[i].off > rec.now;
      queued += eng.sched[i].on > rec.now;
    }
    if (sounding && queued)
      break;
  }
  ASSERT_EQ(eng.st, RNJ_ENGINE_ANSWERING);
  t_in = rec.now;
  rnj_engine_note_on(&eng, t_in, 0, 50, 100);
  ASSERT_EQ(eng.stats.interruptions, 1);
  ASSERT_EQ(eng.st, RNJ_ENGINE_IDLE);
  ASSERT(rec.cancels >= 1);
  /* everything delivered after t_in is a note-off at t_in */
  for (i = 0; i < rec.n; i++) {
    const rec_ev_t *e = &rec.ev[i];
    if (e->cancelled || e->t <= t_in)
      continue;
    FAIL("event type %d pitch %d at %.4f after the player came back at "
         "%.4f", e->type, e->pitch, e->t, t_in);
  }
  check_pairing(&rec, t_in);
  /* the new call ends; a new answer follows, paired too */
  run_until(t_in + 0.2);
  rnj_engine_note_off(&eng, t_in + 0.2, 0, 50);
  run_until(t_in + 10);
  ASSERT_EQ(eng.stats.answers, 2);
  ASSERT_NEAR(first_on_after(t_in), t_in + 0.2 + 0.5, 1e-9);
  check_pairing(&rec, rec.now);
}

/* Overlapping notes are fed in order of start, whatever order they end. */
static void test_feed_order(void) {
  rnj_engine_params_t p;
  int slot;
  params_default(&p);
  p.phrase_gap = 5.0;
  start(&p, 3);
  rnj_engine_note_on(&eng, 101.0, 0, 60, 80); /* A: 101.0 .. 101.5 */
  rnj_engine_note_on(&eng, 101.1, 0, 64, 80); /* B: 101.1 .. 101.3 */
  rnj_engine_note_on(&eng, 101.2, 1, 60, 80); /* C: other channel */
  rnj_engine_note_off(&eng, 101.3, 0, 64);
  rnj_engine_note_off(&eng, 101.35, 1, 60);
  rnj_engine_tick(&eng, 101.4);
  ASSERT_EQ(eng.stats.notes_fed, 0); /* B and C wait for A */
  rnj_engine_note_off(&eng, 101.5, 0, 60);
  rnj_engine_tick(&eng, 101.6);
  ASSERT_EQ(eng.stats.notes_fed, 3);
  ASSERT_EQ(eng.hist_n, 3);
  slot = eng.hist_head;
  ASSERT_EQ(eng.history[slot].pitch, 60);
  ASSERT_NEAR(eng.history[slot].step, 0.0, 1e-7);
  ASSERT_NEAR(eng.history[slot].duration, 0.5, 1e-6);
  ASSERT_EQ(eng.history[slot + 1].pitch, 64);
  ASSERT_NEAR(eng.history[slot + 1].step, 0.1, 1e-6);
  ASSERT_NEAR(eng.history[slot + 1].duration, 0.2, 1e-6);
  ASSERT_EQ(eng.history[slot + 2].pitch, 60);
  ASSERT_NEAR(eng.history[slot + 2].step, 0.1, 1e-6);
  ASSERT_NEAR(eng.history[slot + 2].duration, 0.15, 1e-6);
  /* the player's velocities go with them */
  ASSERT_EQ(eng.history[slot].velocity, 80);
  ASSERT_NEAR(eng.history[slot + 2].onset, 101.2, 1e-9);
}

/* Continuous: plays on its own, never more than lookahead ahead, never in
 * the past, paired; the player's notes join the context. */
static void test_continuous(void) {
  rnj_engine_params_t p;
  long i;
  uint64_t fed;
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  start(&p, 4);
  run_until(110.0);
  ASSERT(eng.stats.notes_out > 5);
  ASSERT_EQ(eng.st, RNJ_ENGINE_PLAYING);
  for (i = 0; i < rec.n; i++) {
    if (rec.ev[i].type != EV_ON)
      continue;
    ASSERT(rec.ev[i].t >= rec.ev[i].written - 1e-9);
    ASSERT(rec.ev[i].t <= rec.ev[i].written + p.lookahead + 1e-9);
  }
  fed = eng.stats.notes_fed;
  play(110.1, 40, 0.2);
  run_until(111.0);
  ASSERT(eng.stats.notes_fed > fed);
  ASSERT_EQ(eng.stats.interruptions, 0); /* the player does not stop it */
  /* stop for good: paired, and nothing more is generated */
  rnj_engine_stop(&eng);
  i = rec.n;
  run_until(115.0);
  ASSERT_EQ(rec.n, i);
  check_pairing(&rec, rec.now);
}

/* Mode switch and panic by CC, temperature and length by CC. */
static void test_cc(void) {
  rnj_engine_params_t p;
  double t_sw;
  long i;
  params_default(&p);
  start(&p, 5);
  rnj_engine_cc(&eng, rec.now, 0, p.cc_mode, 127);
  ASSERT_EQ(eng.p.mode, RNJ_MODE_CONTINUOUS);
  run_until(103.0);
  ASSERT(eng.stats.notes_out > 0);
  t_sw = rec.now;
  rnj_engine_cc(&eng, t_sw, 0, p.cc_mode, 0);
  ASSERT_EQ(eng.p.mode, RNJ_MODE_RESPOND);
  run_until(106.0);
  for (i = 0; i < rec.n; i++)
    if (!rec.ev[i].cancelled && rec.ev[i].t > t_sw)
      FAIL("event at %.4f after the switch to respond at %.4f",
           rec.ev[i].t, t_sw);
  check_pairing(&rec, rec.now);

  rnj_engine_cc(&eng, rec.now, 0, p.cc_temperature, 0);
  ASSERT_NEAR(eng.sampler.temperature, p.temperature_min, 1e-6);
  rnj_engine_cc(&eng, rec.now, 0, p.cc_temperature, 127);
  ASSERT_NEAR(eng.sampler.temperature, p.temperature_max, 1e-6);
  rnj_engine_cc(&eng, rec.now, 0, p.cc_length, 3);
  ASSERT_EQ(eng.p.answer_length, 3);
  {
    uint64_t before = eng.stats.notes_out + eng.stats.skipped_overlap;
    play(rec.now + 0.1, 60, 0.1); /* a call of one note, an answer of 3 */
    run_until(rec.now + 5);
    ASSERT_EQ(eng.stats.answers, 1);
    ASSERT_EQ(eng.stats.notes_out + eng.stats.skipped_overlap - before, 3);
  }

  /* panic in the middle of an answer: all-notes-off, nothing after */
  rnj_engine_cc(&eng, rec.now, 0, p.cc_length, 100);
  play(rec.now + 0.1, 62, 0.1);
  run_until(rec.now + 0.5 + 0.5);
  ASSERT_EQ(eng.st, RNJ_ENGINE_ANSWERING);
  t_sw = rec.now;
  rnj_engine_cc(&eng, t_sw, 0, p.cc_panic, 127);
  ASSERT_EQ(eng.st, RNJ_ENGINE_IDLE);
  ASSERT_EQ(rec.ev[rec.n - 1].type, EV_ALLOFF);
  run_until(t_sw + 5);
  for (i = 0; i < rec.n; i++)
    if (!rec.ev[i].cancelled && rec.ev[i].t > t_sw)
      FAIL("event after panic");
  check_pairing(&rec, rec.now);

  /* CCs on another channel are ignored when cc_channel is set */
  eng.p.cc_channel = 2;
  rnj_engine_cc(&eng, rec.now, 0, p.cc_mode, 127);
  ASSERT_EQ(eng.p.mode, RNJ_MODE_RESPOND);
  rnj_engine_cc(&eng, rec.now, 1, p.cc_mode, 127);
  ASSERT_EQ(eng.p.mode, RNJ_MODE_CONTINUOUS);
}

/* A full output refuses notes: they are counted, not half-sent. */
static void test_output_full(void) {
  rnj_engine_params_t p;
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  start(&p, 6);
  rec.fail_notes = 5;
  run_until(105.0);
  ASSERT_EQ(eng.stats.out_errors, 5);
  ASSERT(eng.stats.notes_out > 0);
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now + 10);
}

/* Model swap mid-answer: silenced, paired, the new model plays on. */
static void test_swap(void) {
  rnj_engine_params_t p;
  rnj_net_t *other;
  rnj_model_t m;
  char path[4096];
  char err[RNJ_ERR_LEN];
  const rnj_net_t *old;
  uint64_t out;
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  start(&p, 7);
  run_until(103.0);
  memset(&m, 0, sizeof m);
  snprintf(path, sizeof path, "%s/ref-model.safetensors", test_data_dir());
  ASSERT_OK(rnj_model_init(&m));
  if (rnj_ckpt_load(&m, path, err) != 0)
    FAIL("%s", err);
  ASSERT_OK(rnj_net_new(&other, &m, RNJ_KERNEL_PORTABLE));
  rnj_model_free(&m);
  old = rnj_engine_set_net(&eng, other);
  ASSERT(old == net);
  check_pairing(&rec, rec.now);
  out = eng.stats.notes_out;
  run_until(106.0);
  ASSERT(eng.stats.notes_out > out);
  rnj_engine_set_net(&eng, net);
  rnj_net_delete(other);
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now + 10);
}

/* Window mode generates as well. */
static void test_window(void) {
  rnj_engine_params_t p;
  params_default(&p);
  p.context = RNJ_CONTEXT_WINDOW;
  start(&p, 8);
  play(101.0, 60, 0.2);
  play(101.3, 62, 0.2);
  play(101.6, 64, 0.2);
  run_until(110.0);
  ASSERT_EQ(eng.stats.answers, 1);
  ASSERT_EQ(eng.stats.notes_out + eng.stats.skipped_overlap, 3);
  check_pairing(&rec, rec.now);
}

/* Lost input: held notes are released so the call can end. */
static void test_input_lost(void) {
  rnj_engine_params_t p;
  params_default(&p);
  start(&p, 9);
  rnj_engine_note_on(&eng, 101.0, 0, 60, 80);
  rnj_engine_note_on(&eng, 101.1, 3, 61, 80);
  run_until(104.0);
  ASSERT_EQ(eng.stats.answers, 0); /* keys down: still the call */
  rnj_engine_input_lost(&eng, 104.0);
  ASSERT_EQ(eng.sounding, 0);
  run_until(106.0);
  ASSERT_EQ(eng.stats.answers, 1);
  /* CC 123 from the player also ends its notes */
  rnj_engine_note_on(&eng, rec.now, 5, 70, 80);
  ASSERT_EQ(eng.sounding, 1);
  rnj_engine_cc(&eng, rec.now, 5, 123, 0);
  ASSERT_EQ(eng.sounding, 0);
}

/* A key whose note-off never comes (an xrun dropped it between JACK
 * clients) is released RNJ_ENGINE_MAX_HOLD after it started: the notes
 * played after it are fed, and the call is answered one phrase gap after
 * that moment, on the wake-up the engine asked for. */
static void test_stuck_key(void) {
  rnj_engine_params_t p;
  double released = 101.0 + RNJ_ENGINE_MAX_HOLD;
  params_default(&p);
  start(&p, 11);
  rnj_engine_note_on(&eng, 101.0, 0, 60, 80); /* its note-off is lost */
  play(101.5, 64, 0.2);
  run_until(released - 0.01);
  ASSERT_EQ(eng.sounding, 1);
  ASSERT_EQ(eng.stats.notes_fed, 0); /* 64 waits behind the held 60 */
  ASSERT_EQ(eng.stats.answers, 0);
  ASSERT_EQ(eng.stats.keys_timed_out, 0);
  run_until(released + p.phrase_gap + 5);
  ASSERT_EQ(eng.stats.keys_timed_out, 1);
  ASSERT_EQ(eng.sounding, 0);
  ASSERT(eng.stats.notes_fed >= 2);
  ASSERT_EQ(eng.stats.answers, 1);
  ASSERT_NEAR(first_on_after(0), released + p.phrase_gap, 1e-9);
  check_pairing(&rec, rec.now);
  /* the late note-off is ignored; a key struck again starts a new note */
  rnj_engine_note_off(&eng, rec.now, 0, 60);
  ASSERT_EQ(eng.sounding, 0);
  play(rec.now + 0.1, 60, 0.2);
  ASSERT_EQ(eng.stats.keys_timed_out, 1);
}

/* ------------------------------------------------------------ flood */

static long allocs;
static void *count_malloc(size_t n) { allocs++; return malloc(n); }
static void *count_realloc(void *p, size_t n) {
  allocs++;
  return realloc(p, n);
}
static void *count_calloc(size_t c, size_t n) { allocs++; return calloc(c, n); }

/* 10,000 events/s for 10 s (on/off pairs, random pitches and channels,
 * with stray note-offs and CCs), continuous mode with a tick per ms: the
 * FIFO stays bounded, drops are counted, nothing is allocated, no note is
 * left sounding. */
static void test_flood(void) {
  rnj_engine_params_t p;
  rnj_rng_t rng;
  long k;
  double t;
  struct timespec c0;
  struct timespec c1;
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  start(&p, 10);
  rnj_rng_seed(&rng, 42);
  ASSERT_OK(rnj_replace_allocator(count_malloc, count_realloc, count_calloc,
                                  free));
  allocs = 0;
  t = rec.now;
  clock_gettime(CLOCK_MONOTONIC, &c0);
  for (k = 0; k < 100000; k++) {
    int pitch = (int)(rnj_rng_next(&rng) % 128);
    int ch = (int)(rnj_rng_next(&rng) % 16);
    t += 0.0001;
    rec.now = t;
    switch (rnj_rng_next(&rng) % 8) {
    case 0:
      rnj_engine_cc(&eng, t, ch, (int)(rnj_rng_next(&rng) % 128), 64);
      break;
    case 1:
    case 2:
    case 3:
      rnj_engine_note_off(&eng, t, ch, pitch);
      break;
    default:
      rnj_engine_note_on(&eng, t, ch, pitch, 1 + pitch % 127);
    }
    ASSERT(eng.in_n <= RNJ_ENGINE_INFLIGHT);
    if (k % 10 == 0)
      rnj_engine_tick(&eng, t);
  }
  clock_gettime(CLOCK_MONOTONIC, &c1);
  ASSERT_EQ(allocs, 0);
  ASSERT_OK(rnj_replace_allocator(malloc, realloc, calloc, free));
  /* a figure, not an assertion: machines are shared */
  printf("flood: %.2f us per event (events, ticks and LSTM steps)\n",
         ((c1.tv_sec - c0.tv_sec) * 1e9 + (c1.tv_nsec - c0.tv_nsec)) /
             1e3 / 100000);
  ASSERT(eng.stats.notes_in > 40000);
  /* fed + still queued + dropped = all notes that started */
  ASSERT(eng.stats.dropped_inflight > 0 || eng.stats.notes_fed > 0);
  printf("flood: %llu notes in, %llu fed, %llu dropped, %llu out\n",
         (unsigned long long)eng.stats.notes_in,
         (unsigned long long)eng.stats.notes_fed,
         (unsigned long long)eng.stats.dropped_inflight,
         (unsigned long long)eng.stats.notes_out);
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now + 10);
}

/* Toggling keys at 10 kHz with the FIFO overflowing: once every key is
 * released, the engine knows no key is down and answers. */
static void test_flood_release(void) {
  rnj_engine_params_t p;
  rnj_rng_t rng;
  int on[128] = {0};
  long k;
  int i;
  double t;
  params_default(&p);
  start(&p, 11);
  rnj_rng_seed(&rng, 7);
  t = rec.now;
  for (k = 0; k < 30000; k++) {
    int pitch = 36 + (int)(rnj_rng_next(&rng) % 48);
    t += 0.0001;
    rec.now = t;
    if (on[pitch])
      rnj_engine_note_off(&eng, t, 0, pitch);
    else
      rnj_engine_note_on(&eng, t, 0, pitch, 64);
    on[pitch] = !on[pitch];
    if (k % 50 == 0)
      rnj_engine_tick(&eng, t);
  }
  for (i = 0; i < 128; i++)
    if (on[i])
      rnj_engine_note_off(&eng, t, 0, i);
  ASSERT_EQ(eng.sounding, 0);
  ASSERT(eng.stats.dropped_inflight > 0);
  run_until(t + 5);
  ASSERT_EQ(eng.stats.answers, 1);
  check_pairing(&rec, rec.now);
}

/* A seed phrase is on its own clock (seconds from 0): continuous playing
 * starts one lookahead after now all the same, and the first live note's
 * step is the seed's last step, not the gap between the two clocks. */
static void test_seed(void) {
  rnj_engine_params_t p;
  int i;
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  start(&p, 12);
  for (i = 0; i < 25; i++)
    rnj_engine_seed(&eng, 60 + i % 12, i ? 0.75 : 0.0, 0.5, 70);
  ASSERT_EQ(eng.stats.notes_fed, 25);
  ASSERT_NEAR(eng.last_fed_start, 24 * 0.75, 1e-9);
  run_until(101.0);
  ASSERT(eng.stats.notes_out > 0);
  ASSERT_NEAR(first_on_after(0), 100.0 + p.lookahead, 1e-9);
  /* the first generated note was fed with the seed's step, 0.75 s */
  ASSERT_NEAR(eng.history[(eng.hist_head + 25) % RNJ_ENGINE_HISTORY].step,
              0.75, 1e-6);
  ASSERT_EQ(eng.history[eng.hist_head].velocity, 70);
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now + 10);
}

/* ------------------------------------------------------------ musical time */

static void clock_start(int source, double bpm) {
  rnj_clock_params_t cp;
  rnj_clock_params_default(&cp);
  cp.source = source;
  cp.bpm = bpm;
  ASSERT_OK(rnj_clock_init(&clk, &cp, rec.now));
  rnj_engine_set_clock(&eng, &clk);
}

/* The grid index of `t` on a grid of `unit` s starting at `origin`, and
 * whether it is on it (within `tol`). */
static int on_grid(double t, double origin, double unit, double tol) {
  double k = (t - origin) / unit;
  return fabs(k - floor(k + 0.5)) * unit <= tol;
}

/* Fixed 120 bpm from t = 100, quantize 1/16: every onset of an answer on
 * the 16th grid, every length whole 16ths, the first note on the first
 * beat at or after the gap, chords kept; the same model and seed without
 * a grid are mostly off it (so the check can fail). */
static void test_clock_grid(void) {
  rnj_engine_params_t p;
  static rec_ev_t d[REC_MAX];
  double last_off;
  double first;
  long n;
  long i;
  long ons = 0;
  long chords = 0;
  long off_grid_free = 0;
  int pass;
  for (pass = 0; pass < 2; pass++) {
    params_default(&p);
    p.quantize = pass == 0 ? RNJ_GRID_16 : RNJ_GRID_OFF;
    p.answer_start = pass == 0 ? RNJ_ANSWER_BEAT : RNJ_ANSWER_GAP;
    p.answer_length = 40;
    start(&p, 21);
    clock_start(RNJ_CLOCK_FIXED, 120.0); /* beat 0 at t = 100 */
    for (i = 0; i < 6; i++)
      play(100.31 + 0.23 * i, 60 + 2 * i, 0.17);
    last_off = 100.31 + 0.23 * 5 + 0.17;
    run_until(last_off + 30);
    n = delivered(&rec, rec.now, d);
    first = first_on_after(0);
    ASSERT(eng.stats.notes_out > 20);
    for (i = 0; i < n; i++) {
      long j;
      if (d[i].type != EV_ON)
        continue;
      if (pass == 1) {
        off_grid_free += !on_grid(d[i].t, 100.0, 0.125, 1e-3);
        continue;
      }
      ons++;
      if (!on_grid(d[i].t, 100.0, 0.125, 1e-9))
        FAIL("onset %.6f is off the 16th grid", d[i].t);
      if (i > 0 && d[i - 1].type == EV_ON && d[i - 1].t == d[i].t)
        chords++;
      for (j = i + 1; j < n; j++)
        if (d[j].pitch == d[i].pitch && d[j].type != EV_ON)
          break;
      ASSERT(j < n);
      if (d[j].type == EV_OFF && (d[j].t - d[i].t < 0.125 - 1e-9 ||
                                  !on_grid(d[j].t - d[i].t, 0, 0.125, 1e-9)))
        FAIL("note at %.6f lasts %.6f s: not whole 16ths", d[i].t,
             d[j].t - d[i].t);
    }
    if (pass == 0) {
      /* the first beat at or after the gap */
      ASSERT(first >= last_off + p.phrase_gap - 1e-9);
      ASSERT(first < last_off + p.phrase_gap + 0.5);
      ASSERT(on_grid(first, 100.0, 0.5, 1e-9));
    }
    check_pairing(&rec, rec.now);
  }
  printf("clock grid: %ld onsets on the 16th grid (%ld in chords); "
         "without quantize %ld off it\n", ons, chords, off_grid_free);
  ASSERT(ons > 20);
  ASSERT(off_grid_free * 2 > (long)eng.stats.notes_out);
}

/* Swing: 1/8 at 50 % puts every off-beat 8th at 3/4 of the beat. */
static void test_clock_swing(void) {
  rnj_engine_params_t p;
  static rec_ev_t d[REC_MAX];
  long n;
  long i;
  long offbeats = 0;
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  p.quantize = RNJ_GRID_8;
  p.swing = 50;
  start(&p, 5);
  clock_start(RNJ_CLOCK_FIXED, 100.0); /* 0.6 s a beat */
  run_until(130);
  n = delivered(&rec, rec.now, d);
  ASSERT(eng.stats.notes_out > 20);
  for (i = 0; i < n; i++) {
    double b;
    double frac;
    if (d[i].type != EV_ON)
      continue;
    b = (d[i].t - 100.0) / 0.6;
    frac = b - floor(b + 1e-9);
    if (fabs(frac) > 1e-6 && fabs(frac - 1) > 1e-6) {
      if (fabs(frac - 0.75) > 1e-6)
        FAIL("onset at beat %.6f: neither on the beat nor at 3/4", b);
      offbeats++;
    }
  }
  ASSERT(offbeats > 0);
  /* continuous playing started on a beat */
  ASSERT(on_grid(first_on_after(0), 100.0, 0.6, 1e-9));
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now);
}

/* MIDI Clock at 120 bpm into the engine, as rnnjamd routes it: pulses every
 * 1/48 s from `from` to `until` (the engine ticking between them), with
 * the song position counted in pulses the way a receiver counts them:
 * Start zeroes it, Song Position sets it, pulses while running advance
 * it.  pulse_pos[] keeps it per pulse time. */
#define PULSE (60.0 / 120.0 / 24.0)
#define MAX_PULSES 20000
static double pulse_t[MAX_PULSES];
static long pulse_pos[MAX_PULSES];
static int pulse_n;
static long song_pos;
static int running;
static double pulse_next; /* the next pulse is due then: one steady train */

static void pulses(double until) {
  double t;
  for (; pulse_next < until; pulse_next += PULSE) {
    t = pulse_next;
    run_until(t);
    rnj_engine_clock_midi(&eng, t, 0xF8, 0);
    next_tick = rec.now;
    ASSERT(pulse_n < MAX_PULSES);
    pulse_t[pulse_n] = t;
    pulse_pos[pulse_n++] = running ? song_pos : -1;
    if (running)
      song_pos++;
  }
  run_until(until);
}

/* Half a pulse before the next one, and not in the past: where a
 * transport message goes. */
static double between(void) {
  while (pulse_next - PULSE / 2 < rec.now)
    pulses(pulse_next + 1e-9);
  return pulse_next - PULSE / 2;
}

static void midi_msg(double t, int status, int value) {
  run_until(t);
  rnj_engine_clock_midi(&eng, t, status, value);
  next_tick = rec.now;
  if (status == 0xFA) {
    song_pos = 0;
    running = 1;
  } else if (status == 0xFB) {
    running = 1;
  } else if (status == 0xFC) {
    running = 0;
  } else if (status == 0xF2) {
    song_pos = (long)value * 6;
  }
}

/* The song position (pulses) of the pulse at time `t`; -1 if none. */
static long pos_at(double t) {
  int i;
  for (i = 0; i < pulse_n; i++)
    if (fabs(pulse_t[i] - t) < 2e-4)
      return pulse_pos[i];
  return -1;
}

/* Stop, Continue and Song Position from a MIDI clock, continuous mode:
 * every onset on a 16th of the pulses' own count; after Stop nothing
 * sounds (all paired at that moment) and nothing starts; Continue resumes
 * on a beat of the song position; a Song Position while playing silences
 * and resumes on a beat too. */
static void test_clock_midi_stop(void) {
  rnj_engine_params_t p;
  static rec_ev_t d[REC_MAX];
  double t_stop;
  double t_cont;
  double t_spp;
  double first;
  long n;
  long i;
  long ons = 0;
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  p.quantize = RNJ_GRID_16;
  start(&p, 8);
  clock_start(RNJ_CLOCK_MIDI, 120.0);
  pulse_n = 0;
  running = 0;
  pulse_next = 100.0;
  pulses(100.5);           /* clock without Start: follows it */
  midi_msg(between(), 0xFA, 0); /* Start */
  pulses(104.0);
  t_stop = between();
  midi_msg(t_stop, 0xFC, 0);
  ASSERT(rnj_engine_take_clock_events(&eng) & RNJ_CLOCK_EV_STOP);
  i = rec.n;
  pulses(106.0); /* pulses go on while stopped */
  /* nothing new while stopped, and nothing left sounding */
  ASSERT_EQ(rec.n, i);
  check_pairing(&rec, t_stop);
  t_cont = between();
  midi_msg(t_cont, 0xFB, 0);
  pulses(108.0);
  first = first_on_after(t_cont);
  ASSERT(first < 108.0);
  if (pos_at(first) < 0 || pos_at(first) % 24 != 0)
    FAIL("continue: first onset %.4f at song position %ld, not on a "
         "beat", first, pos_at(first));
  t_spp = between();
  midi_msg(t_spp, 0xF2, 37); /* a jump to 16th 37 while playing */
  pulses(111.0);
  first = first_on_after(t_spp);
  ASSERT(first < 111.0);
  if (pos_at(first) < 0 || pos_at(first) % 24 != 0)
    FAIL("song position: first onset %.4f at position %ld, not on a "
         "beat", first, pos_at(first));
  check_pairing(&rec, t_spp + 1e-4);
  n = delivered(&rec, rec.now, d);
  for (i = 0; i < n; i++) {
    long pos;
    if (d[i].type != EV_ON || d[i].t < 100.5)
      continue;
    pos = pos_at(d[i].t);
    if (pos < 0 || pos % 6 != 0)
      FAIL("onset %.5f at song position %ld: not on a 16th", d[i].t, pos);
    if (d[i].t > t_stop && d[i].t < t_cont)
      FAIL("onset %.5f while stopped", d[i].t);
    ons++;
  }
  ASSERT(ons > 20);
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now);
  printf("clock midi: %ld onsets on the pulses' 16ths; stop, continue "
         "and song position paired and on the beat\n", ons);
}

/* Respond mode with a stopped clock: a call is not answered while
 * stopped, nor later; the next call after Start is, on a beat. */
static void test_clock_respond_stopped(void) {
  rnj_engine_params_t p;
  double first;
  int i;
  params_default(&p);
  p.quantize = RNJ_GRID_16;
  start(&p, 9);
  clock_start(RNJ_CLOCK_MIDI, 120.0);
  pulse_n = 0;
  running = 0;
  pulse_next = 100.0;
  pulse_next = 100.0 + PULSE;
  midi_msg(between(), 0xFA, 0);
  pulses(101.0);
  midi_msg(between(), 0xFC, 0);
  for (i = 0; i < 4; i++) {
    pulses(rec.now + 0.2);
    rnj_engine_note_on(&eng, rec.now, 0, 60 + i, 90);
    pulses(rec.now + 0.15);
    rnj_engine_note_off(&eng, rec.now, 0, 60 + i);
  }
  pulses(rec.now + 2.0);
  ASSERT_EQ(eng.stats.answers, 0);
  ASSERT_EQ(rec.n, 0);
  midi_msg(between(), 0xFB, 0);
  pulses(rec.now + 1.0);
  ASSERT_EQ(eng.stats.answers, 0); /* the old call stays unanswered */
  for (i = 0; i < 4; i++) {
    pulses(rec.now + 0.2);
    rnj_engine_note_on(&eng, rec.now, 0, 64 + i, 90);
    pulses(rec.now + 0.15);
    rnj_engine_note_off(&eng, rec.now, 0, 64 + i);
  }
  pulses(rec.now + 4.0);
  ASSERT_EQ(eng.stats.answers, 1);
  first = first_on_after(0);
  if (pos_at(first) < 0 || pos_at(first) % 24 != 0)
    FAIL("answer after Continue at %.4f, song position %ld: not on a "
         "beat", first, pos_at(first));
  check_pairing(&rec, rec.now);
}

/* ------------------------------------------------------------ for plugins */

/* Without a model the engine tracks the player and keeps the notes; a
 * model given later hears them (its state is the one it would have had
 * from the start, for a call shorter than its window) and answers the
 * call on time.  A model taken away (NULL) plays nothing. */
static void test_no_model(void) {
  rnj_engine_params_t p;
  rnj_engine_out_t out;
  rnj_sampler_t s;
  rnj_net_state_t ref;
  double last_off = 100.5 + 0.25 * 4 + 0.2;
  int i;
  params_default(&p);
  start(&p, 3);
  for (i = 0; i < 5; i++)
    play(100.5 + 0.25 * i, 60 + 3 * i, 0.2);
  run_until(last_off + 0.1);
  ASSERT_EQ(eng.state.fed, 5);
  ref = eng.state;
  rnj_engine_stop(&eng);

  start(&p, 3);
  out = eng.out;
  s = eng.sampler;
  ASSERT_OK(rnj_engine_init(&eng, &p, NULL, &s, &out));
  for (i = 0; i < 5; i++)
    play(100.5 + 0.25 * i, 60 + 3 * i, 0.2);
  rnj_engine_note_on(&eng, rec.now, 4, 40, 70); /* held, another channel */
  rnj_engine_note_off(&eng, rec.now + 0.01, 4, 40);
  run_until(last_off + 0.1);
  ASSERT_EQ(rec.n, 0);
  ASSERT_EQ(eng.stats.notes_in, 6);
  ASSERT_EQ(eng.stats.notes_fed, 6); /* kept in the history */
  ASSERT_EQ(eng.state.fed, 0);
  ASSERT_EQ(eng.sounding, 0);
  ASSERT(rnj_engine_set_net(&eng, net) == NULL);
  /* the history (the held note came last) fed anew: 6 notes */
  ASSERT_EQ(eng.state.fed, 6);
  rnj_engine_stop(&eng);

  /* the same 5 notes, then the model: the state of a model there all
   * along, bit for bit; the call answered at the gap */
  start(&p, 3);
  out = eng.out;
  s = eng.sampler;
  ASSERT_OK(rnj_engine_init(&eng, &p, NULL, &s, &out));
  for (i = 0; i < 5; i++)
    play(100.5 + 0.25 * i, 60 + 3 * i, 0.2);
  run_until(last_off + 0.1);
  rnj_engine_set_net(&eng, net);
  ASSERT_EQ(eng.state.fed, 5);
  ASSERT(memcmp(eng.state.h, ref.h, sizeof ref.h) == 0);
  ASSERT(memcmp(eng.state.c, ref.c, sizeof ref.c) == 0);
  run_until(last_off + 10);
  ASSERT_EQ(eng.stats.answers, 1);
  ASSERT_NEAR(first_on_after(0), last_off + p.phrase_gap, 1e-9);
  check_pairing(&rec, rec.now);
  /* taken away: a call goes unanswered, nothing breaks */
  ASSERT(rnj_engine_set_net(&eng, NULL) == net);
  i = (int)rec.n;
  play(rec.now + 0.1, 70, 0.2);
  run_until(rec.now + 5);
  ASSERT_EQ(rec.n, i);
  ASSERT_EQ(eng.stats.answers, 1);
  rnj_engine_stop(&eng);
  /* without an output there is no engine, model or not */
  ASSERT_EQ(rnj_engine_init(&eng, &p, NULL, &s, NULL), RNJ_EINVAL);
}

/* The delivered note events from `from` on, relative to `t0`. */
static long answer_from(double from, double t0, rec_ev_t *out) {
  static rec_ev_t d[REC_MAX];
  long n = delivered(&rec, rec.now, d);
  long k = 0;
  long i;
  for (i = 0; i < n; i++) {
    if (d[i].t < from || d[i].type == EV_ALLOFF)
      continue;
    out[k] = d[i];
    out[k].t -= t0;
    k++;
  }
  return k;
}

static int same_notes(const rec_ev_t *a, long na, const rec_ev_t *b,
                      long nb) {
  long i;
  if (na != nb)
    return 0;
  for (i = 0; i < na; i++)
    if (fabs(a[i].t - b[i].t) > 1e-9 || a[i].type != b[i].type ||
        a[i].pitch != b[i].pitch || a[i].velocity != b[i].velocity)
      return 0;
  return 1;
}

/* rnj_engine_reseed: an engine set up with one seed and restarted from
 * another answers as one set up with the other; a third seed does not. */
static void test_reseed(void) {
  static rec_ev_t a[4096];
  static rec_ev_t b[4096];
  rnj_engine_params_t p;
  long na;
  long nb;
  int run;
  int i;
  params_default(&p);
  p.answer_length = 12;
  for (run = 0; run < 3; run++) {
    start(&p, run == 0 ? 77 : 5);
    if (run == 1)
      rnj_engine_reseed(&eng, 77);
    if (run == 2)
      rnj_engine_reseed(&eng, 78);
    for (i = 0; i < 6; i++)
      play(100.5 + 0.25 * i, 60 + 2 * i, 0.2);
    run_until(rec.now + 10);
    ASSERT_EQ(eng.stats.answers, 1);
    if (run == 0)
      na = answer_from(0, 0, a);
    else
      nb = answer_from(0, 0, b);
    if (run == 1)
      ASSERT(same_notes(a, na, b, nb));
    if (run == 2)
      ASSERT(!same_notes(a, na, b, nb));
  }
  /* a note drawn but not played yet is drawn again from the new seed */
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  start(&p, 4);
  run_until(101.0);
  ASSERT(eng.pend_valid);
  rnj_engine_reseed(&eng, 4);
  ASSERT(!eng.pend_valid);
  run_until(102.0);
  ASSERT(eng.stats.notes_out > 0);
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now);
}

/* rnj_engine_silence: what the engine plays ends at once (no
 * all-notes-off), the keys the player holds stay held, and the engine
 * plays on; rnj_engine_panic, by contrast, lets go of them. */
static void test_silence(void) {
  rnj_engine_params_t p;
  double t;
  long i;
  long before;
  params_default(&p);
  p.mode = RNJ_MODE_CONTINUOUS;
  start(&p, 12);
  run_until(102.0);
  rnj_engine_note_on(&eng, rec.now, 0, 50, 90);
  run_until(103.0);
  for (i = 0; i < 200 && !eng.sched_n; i++)
    run_until(rec.now + 0.05);
  ASSERT(eng.sched_n > 0);
  t = rec.now;
  before = (long)eng.stats.notes_out;
  rnj_engine_silence(&eng);
  check_pairing(&rec, t);
  for (i = 0; i < rec.n; i++)
    ASSERT(rec.ev[i].type != EV_ALLOFF);
  ASSERT_EQ(eng.sounding, 1);
  ASSERT(eng.held[0][50] != 0);
  run_until(t + 2);
  ASSERT((long)eng.stats.notes_out > before); /* it plays on */
  rnj_engine_note_off(&eng, rec.now, 0, 50);
  ASSERT_EQ(eng.sounding, 0);
  ASSERT_EQ(eng.stats.notes_in, 1);
  rnj_engine_note_on(&eng, rec.now, 0, 52, 90);
  rnj_engine_panic(&eng);
  ASSERT_EQ(eng.sounding, 0);
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now);
}

/* A host's transport report (the clock's host source), as a plugin
 * passes it: rolling at `bpm` from host beat `beat` at time `t`. */
static void host_at(double t, double speed, double beat, double bpm) {
  rnj_clock_host_t h;
  memset(&h, 0, sizeof h);
  h.has_speed = 1;
  h.speed = speed;
  h.has_bpm = 1;
  h.bpm = bpm;
  h.has_bbt = 1;
  h.bar = (int64_t)floor(beat / 4);
  h.bar_beat = beat - 4.0 * (double)h.bar;
  h.beats_per_bar = 4;
  h.beat_unit = 4;
  run_until(t);
  rnj_engine_clock_host(&eng, t, &h);
  next_tick = rec.now;
}

static void host_clock(void) {
  rnj_clock_params_t cp;
  rnj_clock_params_default(&cp);
  cp.source = RNJ_CLOCK_HOST;
  ASSERT_OK(rnj_clock_init(&clk, &cp, rec.now));
  rnj_engine_set_clock(&eng, &clk);
}

/* The engine on a plugin host's transport, reported only on change: the
 * answer on the host's 16th grid (its beat phase, not the engine's
 * seconds), the first note on the grid after the gap; a stop ends every
 * note at once and nothing plays while stopped, though a note that ends
 * then is still fed; the player's next note wakes it (free time); a
 * relocation while rolling ends every note at once, and playing goes on
 * on the new grid. */
static void test_host_transport(void) {
  static rec_ev_t d[REC_MAX];
  rnj_engine_params_t p;
  double last_off;
  double t_stop;
  double t_jump;
  double t_wake;
  double first;
  long ons = 0;
  long fed;
  long n;
  long i;
  params_default(&p);
  p.quantize = RNJ_GRID_16;
  p.answer_length = 24;
  start(&p, 41);
  host_clock();
  /* beat 20.3 at t = 100.2, 100 bpm: the 16ths at 100.2 + (k/4 - 20.3) *
   * 0.6, 0.045 s off the engine's whole seconds */
  host_at(100.2, 1, 20.3, 100);
  for (i = 0; i < 6; i++)
    play(100.5 + 0.23 * (double)i, 60 + 2 * (int)i, 0.17);
  last_off = 100.5 + 0.23 * 5 + 0.17;
  run_until(last_off + 20);
  ASSERT_EQ(eng.stats.answers, 1);
  n = delivered(&rec, rec.now, d);
  for (i = 0; i < n; i++) {
    if (d[i].type != EV_ON)
      continue;
    ons++;
    if (!on_grid(d[i].t, 100.2 - 20.3 * 0.6, 0.15, 1e-9))
      FAIL("onset %.6f is off the host's 16th grid", d[i].t);
  }
  first = first_on_after(0);
  ASSERT(first >= last_off + p.phrase_gap - 1e-9);
  ASSERT(first < last_off + p.phrase_gap + 0.15);
  ASSERT(ons >= 20);
  check_pairing(&rec, rec.now);

  /* continuous; a key held across the stop */
  rnj_engine_set_mode(&eng, RNJ_MODE_CONTINUOUS);
  run_until(rec.now + 3);
  rnj_engine_note_on(&eng, rec.now, 0, 48, 80);
  run_until(rec.now + 1);
  for (i = 0; i < 200 && !eng.sched_n; i++)
    run_until(rec.now + 0.05);
  t_stop = rec.now + 0.013;
  host_at(t_stop, 0, 20.3 + (t_stop - 100.2) / 0.6, 100);
  check_pairing(&rec, t_stop);
  n = rec.n;
  fed = (long)eng.stats.notes_fed;
  run_until(t_stop + 1);
  rnj_engine_note_off(&eng, rec.now, 0, 48);
  run_until(t_stop + 3);
  ASSERT_EQ(rec.n, n); /* nothing while stopped */
  ASSERT_EQ((long)eng.stats.notes_fed, fed + 1); /* but the key was fed */
  /* the player plays: free time from where the transport stopped */
  t_wake = rec.now;
  play(t_wake, 67, 0.2);
  run_until(t_wake + 3);
  first = first_on_after(t_wake);
  ASSERT(first < t_wake + 1);
  /* the onset that woke it is a beat */
  ASSERT_NEAR(rnj_clock_beat_at(&clk, t_wake),
              floor(rnj_clock_beat_at(&clk, t_wake) + 0.5), 1e-9);
  ASSERT(on_grid(first, t_wake, 0.15, 1e-9));
  ASSERT(rnj_clock_rolling(&clk));

  /* the transport rolls (a jump from the free position), then relocates
   * while notes sound */
  host_at(rec.now + 0.01, 1, 64.0, 100);
  check_pairing(&rec, rec.now);
  run_until(rec.now + 3);
  for (i = 0; i < 200 && !eng.sched_n; i++)
    run_until(rec.now + 0.05);
  t_jump = rec.now + 0.007;
  host_at(t_jump, 1, 200.0, 100);
  check_pairing(&rec, t_jump);
  run_until(t_jump + 3);
  first = first_on_after(t_jump);
  ASSERT(first < t_jump + 1);
  /* on the new grid: beat 200 at t_jump */
  ASSERT(on_grid(first, t_jump, 0.15, 1e-9));
  rnj_engine_stop(&eng);
  check_pairing(&rec, rec.now);
  printf("host transport: %ld onsets on the host's 16ths; stop, wake, "
         "relocation paired\n", ons);
}

/* One run of a 8-note call answered by a v2 model, the call starting at
 * `t_call`; with a host transport whose beat at t_call is `beat` (100
 * bpm), else without a clock (engine seconds at the fixed 100 bpm).  The
 * answer relative to t_call into `out`; the beat the model was fed the
 * call's last note at. */
static long phase_run(double t_call, double beat, int clock, rec_ev_t *out,
                      double *fed_last) {
  rnj_engine_params_t p;
  double last_off;
  int i;
  params_default(&p);
  p.tempo = 100;
  p.answer_length = 16;
  /* the model's own timing: a duration of exactly half a grid unit would
   * round either way at two positions (the last bit of a double) */
  p.quantize = RNJ_GRID_OFF;
  start(&p, 55);
  {
    rnj_sampler_t sm = eng.sampler;
    rnj_engine_out_t o = eng.out;
    ASSERT_OK(rnj_engine_init(&eng, &p, net_v2, &sm, &o));
  }
  if (clock) {
    host_clock();
    host_at(100.0, 1, beat - (t_call - 100.0) / 0.6, 100);
  }
  for (i = 0; i < 8; i++)
    play(t_call + 0.3 * i, 60 + (i * 5) % 12, 0.2);
  last_off = t_call + 0.3 * 7 + 0.2;
  run_until(last_off + 0.05);
  ASSERT_EQ(eng.state.fed, 8);
  *fed_last = eng.state.onset;
  run_until(last_off + 20);
  ASSERT_EQ(eng.stats.answers, 1);
  rnj_engine_stop(&eng);
  return answer_from(last_off, t_call, out);
}

/* A v2 model hears the host's beat: one call, played at two host
 * positions of the same bar phase (bar 7 and bar 11, half a beat in)
 * reached at different engine times, is fed at the host's beats and
 * answered the same, note for note.  Without the clock (seconds at a
 * fixed tempo, as the plugin once fed it) the two are fed at other
 * phases. */
static void test_v2_host_phase(void) {
  static rec_ev_t a[4096];
  static rec_ev_t b[4096];
  long na;
  long nb;
  double fa;
  double fb;
  double ph_a;
  double ph_b;
  na = phase_run(100.5, 28.5, 1, a, &fa);
  nb = phase_run(100.87, 44.5, 1, b, &fb);
  /* the last call note: 7 * 0.3 s = 3.5 beats after the call's start */
  ASSERT_NEAR(fa, 28.5 + 3.5, 1e-9);
  ASSERT_NEAR(fb, 44.5 + 3.5, 1e-9);
  ASSERT(na > 4);
  if (!same_notes(a, na, b, nb))
    FAIL("the same call at the same bar phase answered otherwise "
         "(%ld and %ld events)", na, nb);
  /* the control: engine seconds give the two calls other phases */
  phase_run(100.5, 0, 0, a, &fa);
  phase_run(100.87, 0, 0, b, &fb);
  ph_a = fa - floor(fa);
  ph_b = fb - floor(fb);
  ASSERT(fabs(ph_a - ph_b) > 0.1);
  printf("v2 on the host's beat: %ld answer events the same at bar 7 and "
         "bar 11; without the clock fed at phases %.3f and %.3f\n", na,
         ph_a, ph_b);
}

/* ------------------------------------------------------------ RT paths */

/* While armed, the lock and sleep functions the real-time rules forbid
 * count their calls.  The test program's definitions come first in symbol
 * lookup, so the library's calls (it is linked in statically) land here;
 * each forwards to the next definition (libc's, or a sanitizer's). */
static int rt_armed;
static long rt_blocking;

#define FORWARD(ret, name, params, args)                                     \
  ret name params {                                                          \
    static ret(*next) params;                                                \
    if (!next)                                                               \
      *(void **)&next = dlsym(RTLD_NEXT, #name);                             \
    rt_blocking += rt_armed;                                                 \
    return next args;                                                        \
  }
FORWARD(int, pthread_mutex_lock, (pthread_mutex_t * m), (m))
FORWARD(int, pthread_mutex_trylock, (pthread_mutex_t * m), (m))
FORWARD(int, pthread_rwlock_rdlock, (pthread_rwlock_t * l), (l))
FORWARD(int, pthread_rwlock_wrlock, (pthread_rwlock_t * l), (l))
FORWARD(int, pthread_cond_wait, (pthread_cond_t * c, pthread_mutex_t *m),
        (c, m))
FORWARD(int, nanosleep, (const struct timespec *a, struct timespec *b),
        (a, b))
FORWARD(int, usleep, (useconds_t u), (u))

static void count_free(void *p) {
  allocs += p != NULL;
  free(p);
}

/* Every entry point rnnjamd calls on its event path (rnj_engine_note_on,
 * _note_off, _cc with every mapped controller and 120/123, _input_lost,
 * _tick in every state, _panic, _set_mode, _stop, and with a beat clock
 * _set_clock, _clock_midi, _clock_jack and the clock's own functions
 * through them), those the LV2 plugin adds (_clock_host, _silence,
 * _reseed, no model) and on a reload
 * (_set_net, _set_params with a change of context, _set_sampling), with
 * the allocator counting every call, frees included, and the functions
 * above counting theirs: not one call is allowed.  The stats show that
 * each path really ran. */
static void test_rt_paths(void) {
  rnj_engine_params_t p;
  rnj_engine_params_t q;
  rnj_sampler_t s;
  double t;
  int i;
  params_default(&p);
  start(&p, 13);
  rnj_sampler_init(&s, 99);
  ASSERT_OK(rnj_replace_allocator(count_malloc, count_realloc, count_calloc,
                                  count_free));
  allocs = 0;
  rt_blocking = 0;
  rt_armed = 1;

  for (i = 0; i < 25; i++)
    rnj_engine_seed(&eng, 60 + i % 7, 0.25, 0.2, 90);
  /* respond: a call, its answer, the player interrupting it */
  for (i = 0; i < 4; i++)
    play(rec.now + 0.1, 60 + i, 0.15);
  run_until(rec.now + 0.7);
  t = rec.now;
  rnj_engine_note_on(&eng, t, 2, 70, 100);       /* interrupts */
  rnj_engine_note_on(&eng, t + 0.01, 2, 70, 90); /* repeated key */
  rnj_engine_note_on(&eng, t + 0.02, 3, 71, 0);  /* velocity 0: an off */
  rnj_engine_input_lost(&eng, t + 0.03);
  run_until(t + 3);
  /* every mapped controller, the player's all-notes-off, a panic */
  rnj_engine_cc(&eng, rec.now, 0, p.cc_temperature, 90);
  rnj_engine_cc(&eng, rec.now, 0, p.cc_length, 6);
  rnj_engine_note_on(&eng, rec.now, 4, 50, 80);
  rnj_engine_cc(&eng, rec.now, 4, 123, 0);
  rnj_engine_cc(&eng, rec.now, 4, 120, 0);
  rnj_engine_cc(&eng, rec.now, 0, 1, 64); /* unmapped */
  rnj_engine_cc(&eng, rec.now, 0, p.cc_mode, 127);
  run_until(rec.now + 1);
  rnj_engine_cc(&eng, rec.now, 0, p.cc_panic, 127);
  run_until(rec.now + 1);
  /* a reload while continuous playing: model, settings, sampling */
  rnj_engine_set_net(&eng, net);
  q = eng.p;
  q.context = RNJ_CONTEXT_WINDOW;
  rnj_engine_set_params(&eng, &q);
  rnj_engine_set_sampling(&eng, &s);
  run_until(rec.now + 1);
  q.context = RNJ_CONTEXT_STREAM;
  rnj_engine_set_params(&eng, &q);
  rnj_engine_set_mode(&eng, RNJ_MODE_RESPOND);
  play(rec.now + 0.1, 64, 0.2);
  run_until(rec.now + 2);

  /* musical time: a MIDI clock with Start, Song Position, Stop and
   * Continue, then lost; JACK positions rolling and stopped; the player's
   * phrases re-estimating the tempo; triplets with swing, answers on the
   * bar, continuous playing */
  clock_start(RNJ_CLOCK_AUTO, 120.0);
  q = eng.p;
  q.quantize = RNJ_GRID_16T;
  q.swing = 30;
  q.answer_start = RNJ_ANSWER_BAR;
  rnj_engine_set_params(&eng, &q);
  pulse_n = 0;
  running = 0;
  pulse_next = rec.now + PULSE;
  midi_msg(between(), 0xFA, 0);
  pulses(rec.now + 0.5);
  for (i = 0; i < 3; i++) {
    pulses(rec.now + 0.1);
    rnj_engine_note_on(&eng, rec.now, 0, 62 + i, 80);
    pulses(rec.now + 0.1);
    rnj_engine_note_off(&eng, rec.now, 0, 62 + i);
  }
  pulses(rec.now + 2.5);
  midi_msg(between(), 0xF2, 64);
  pulses(rec.now + 0.5);
  midi_msg(between(), 0xFC, 0);
  pulses(rec.now + 0.5);
  midi_msg(between(), 0xFB, 0);
  pulses(rec.now + 0.5);
  rnj_engine_clock_midi_shift(&eng, 0.0001); /* a re-set time base */
  run_until(rec.now + 1.0); /* the pulses stop: lost */
  {
    rnj_clock_jack_t jp;
    memset(&jp, 0, sizeof jp);
    jp.rolling = 1;
    jp.bbt = 1;
    jp.bar = 3;
    jp.beat = 2;
    jp.ticks_per_beat = 1920;
    jp.beats_per_minute = 100;
    jp.beats_per_bar = 4;
    for (i = 0; i < 40; i++) {
      jp.seconds = 10 + i * 0.05;
      jp.tick = (int32_t)(i * 0.05 / 0.6 * 1920) % 1920;
      rnj_engine_clock_jack(&eng, rec.now, &jp);
      run_until(rec.now + 0.05);
    }
    jp.rolling = 0;
    rnj_engine_clock_jack(&eng, rec.now, &jp);
    run_until(rec.now + 0.5);
  }
  {
    rnj_clock_params_t cp;
    rnj_clock_params_default(&cp);
    cp.source = RNJ_CLOCK_PLAYER;
    rnj_clock_set_params(&clk, &cp, rec.now);
  }
  for (i = 0; i < 12; i++)
    play(rec.now + 0.25 - 0.15, 60 + (i * 5) % 12, 0.15);
  run_until(rec.now + 3);
  rnj_engine_set_mode(&eng, RNJ_MODE_CONTINUOUS);
  run_until(rec.now + 3);
  /* a plugin's: a host's transport rolling, relocated, stopped, woken by
   * the player; silence, reseed, the model taken away and given back */
  {
    rnj_clock_params_t cp;
    rnj_clock_params_default(&cp);
    cp.source = RNJ_CLOCK_HOST;
    rnj_clock_set_params(&clk, &cp, rec.now);
  }
  host_at(rec.now, 1, 8.0, 110);
  run_until(rec.now + 1);
  host_at(rec.now, 1, 40.0, 110);
  run_until(rec.now + 1);
  rnj_engine_silence(&eng);
  rnj_engine_reseed(&eng, 1234);
  run_until(rec.now + 1);
  host_at(rec.now, 0, 50.0, 110);
  play(rec.now + 0.1, 61, 0.2);
  run_until(rec.now + 1);
  rnj_engine_set_net(&eng, NULL);
  play(rec.now + 0.1, 62, 0.2);
  run_until(rec.now + 1);
  rnj_engine_set_net(&eng, net);
  run_until(rec.now + 1);
  ASSERT(clk.stats.host_positions == 3);
  ASSERT(rnj_engine_take_clock_events(&eng) != 0);
  ASSERT(clk.stats.pulses > 100 && clk.stats.jack_positions >= 40 &&
         clk.stats.phrases >= 1);
  /* and a model of the other kind, in both contexts, still in musical
   * time: it hears the clock's beats */
  rnj_engine_set_net(&eng, net_v2);
  play(rec.now + 0.1, 65, 0.2);
  run_until(rec.now + 2);
  q.context = RNJ_CONTEXT_WINDOW;
  rnj_engine_set_params(&eng, &q);
  play(rec.now + 0.1, 66, 0.2);
  run_until(rec.now + 2);
  rnj_engine_set_net(&eng, net);
  rnj_engine_set_clock(&eng, NULL);
  rnj_engine_stop(&eng);
  run_until(rec.now + 1);

  rt_armed = 0;
  ASSERT_OK(rnj_replace_allocator(malloc, realloc, calloc, free));
  ASSERT_EQ(allocs, 0);
  ASSERT_EQ(rt_blocking, 0);
  ASSERT(eng.stats.answers >= 4);
  ASSERT(eng.stats.interruptions >= 1);
  ASSERT(eng.stats.ccs >= 4);
  ASSERT(eng.stats.notes_out > 0);
  check_pairing(&rec, rec.now + 10);
  printf("rt paths: %llu notes in, %llu fed, %llu out, %llu answers, "
         "0 allocations, 0 lock or sleep calls\n",
         (unsigned long long)eng.stats.notes_in,
         (unsigned long long)eng.stats.notes_fed,
         (unsigned long long)eng.stats.notes_out,
         (unsigned long long)eng.stats.answers);
}

/* The interposers above must see the calls they count, or a zero proves
 * nothing: a lock taken while armed is counted. */
static void test_rt_interposer(void) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  rt_blocking = 0;
  rt_armed = 1;
  pthread_mutex_lock(&m);
  pthread_mutex_unlock(&m);
  usleep(1);
  rt_armed = 0;
  ASSERT_EQ(rt_blocking, 2);
}

int main(void) {
  load();
  test_rt_interposer();
  test_seed();
  test_flood_release();
  test_respond();
  test_velocity();
  test_v2();
  test_v2_clock();
  test_interrupt();
  test_feed_order();
  test_continuous();
  test_cc();
  test_output_full();
  test_swap();
  test_window();
  test_input_lost();
  test_stuck_key();
  test_flood();
  test_clock_grid();
  test_clock_swing();
  test_clock_midi_stop();
  test_clock_respond_stopped();
  test_no_model();
  test_reseed();
  test_silence();
  test_host_transport();
  test_v2_host_phase();
  test_rt_paths();
  rnj_net_delete(net);
  rnj_net_delete(net_v2);
  free(rec.ev);
  printf("engine: ok\n");
  return 0;
}
