/* clock: the beat clock (see clock.h for what it does and its sources).
 *
 * The MIDI Clock follower.  Pulses carry their arrival times, which
 * jitter (USB frames, a DAW's scheduling, jack_midi_clock -J).  They are
 * smoothed by the second-order delay-locked loop Fons Adriaensen
 * described ("Using a DLL to filter time", 2005): with e the error of the
 * predicted time t1 of a pulse,
 *
 *     t1 <- t1 + b e + e2,   e2 <- e2 + c e,   b = sqrt(2) w,  c = w^2,
 *
 * e2 being the filtered pulse interval and w the loop bandwidth in
 * radians per pulse (w = 2 pi B T for a bandwidth of B Hz at interval T;
 * a critically damped loop).
 *
 * Four such loops run side by side, because jitter comes in two kinds
 * that want opposite loops.  Jitter around a steady grid (a hardware
 * clock over USB, a DAW's scheduling) is averaged away best by a narrow
 * loop; three critically damped loops, narrow, middle and wide
 * (DLL_OMEGA), cover that.  A clock whose phase wanders (jack_midi_clock
 * -J adds its jitter to each interval, so its pulses drift from any grid
 * without bound) can only be predicted from its latest pulse: the fourth
 * loop follows each pulse fully (b = 1) and averages only the interval
 * (the mean of those since its seed, then over about eight beats: the
 * best estimate of a wandering clock's tempo).  Each loop keeps the
 * running mean of its squared one-pulse prediction error, and the one
 * predicting best drives the clock (with hysteresis).  The follower is
 * only for a wandering clock, which its own errors tell: successive
 * intervals are independent there, but alternate around a grid (a late
 * pulse makes one interval long and the next short), which the errors
 * of loops still acquiring cannot show (WANDER).
 *
 * Acquisition: after the first two pulses (which give the interval) the
 * gains start high, w = max(w_i, DLL_WIDE / n) at the n-th pulse, which
 * makes the loops behave like a least-squares line through the pulses so
 * far, and fall to each loop's own: locked within a fraction of a beat,
 * smooth after a few beats.  A tempo change would take a narrow loop many
 * beats to follow, so it is detected instead (DETECT_*: the last few
 * errors all off on one side, their mean well beyond its usual spread,
 * which is wider when the errors are correlated; and while the clock may
 * be wandering, the intervals themselves, the follower's errors, must
 * show it too), and the loops are re-seeded from those pulses' own
 * interval and acquire again.  tests/test-clock.c measures the result:
 * from 100 to 140 bpm, re-locked within a beat, also with pulses that
 * wander (jack_midi_clock -J 10) and with some lost.
 *
 * Position: pulse number k after Start is beat k / 24; Song Position
 * Pointer p (16ths) makes the next pulse number 6 p; Continue resumes
 * where the pulses stopped.  Without Start or Song Position (a clock
 * already running when we joined) the pulses say nothing about where the
 * beat is, and the clock keeps the position it had.  Pulses stopping
 * without Stop is a loss: the timeline runs on at the last tempo, and
 * when pulses come back (without Start) they are numbered from where it
 * ran on to.
 *
 * Counting.  The sender's position is its count of pulses, so the count
 * must survive what happens to pulses on the way.  Each interval is
 * judged against the interval in use: a normal one (SHORT to LONG) is
 * the next pulse, timed by the loops.  A long one leaves a run of pulses
 * "held" (neither counted nor timed; the timeline runs on meanwhile)
 * until a normal interval ends the run, and the run's shape says what
 * happened:
 *   - one pulse after a gap, on a slot of the timeline: the pulses due
 *     in the gap were lost (jack_midi_clock skips the pulses of a
 *     period it missed in an xrun): counted from the gap, and this
 *     pulse is timed;
 *   - one pulse after a gap, between slots: it was late; counted only;
 *   - a gap, then pulses in quick succession: a stalled system (an
 *     emulated kernel, a busy loop) delivering what it held back in a
 *     burst: every pulse counted, none timed (their times say when the
 *     stall ended, not when they were sent);
 *   - two long intervals in a row: the tempo fell (pulses are lost one
 *     period at a time, not in every interval): both timed, and the
 *     detector re-seeds;
 *   - after a gap longer than the loss timeout, one pulse: the clock
 *     came back (see above).
 * A short interval right after a normal pulse, followed by a normal one
 * again, is the same pulse twice (a doubled connection: the pattern is
 * short, normal, short, normal ...): ignored, which a burst, coming after
 * a gap, never is.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "rnnjam/clock.h"

/* Steady bandwidths of the three critically damped loops, radians per
 * pulse: at 120 bpm (48 pulses a second) 0.046, 0.19 and 0.76 Hz.  The
 * narrow one averages jitter over about seven beats, the wide one over
 * about half a beat; the middle one covers what lies between.  Narrower
 * than this, a slow drift of tempo (a DAW's tempo ramp) would lag by
 * milliseconds before the detector saw it. */
static const double DLL_OMEGA[RNJ_CLOCK_DLLS - 1] = {0.006, 0.025, 0.1};
/* The follower's gains: every pulse's error taken in full (the best
 * guess of a wandering clock's next pulse is its last one plus an
 * interval), the interval the mean of those since the (re)seed, then
 * averaged over about eight beats: the jitter of a single interval
 * (10 % with -J 10) leaves about 0.3 % in the tempo, and a tempo change
 * is detected and re-seeds rather than being followed slowly. */
#define FOLLOW_B 1.0
#define FOLLOW_C (1.0 / 192)
/* The loop in use until the loops' errors have been compared: the
 * narrow one.  Until its gain falls to its own it is as wide as the
 * others; and every loop's error includes the jitter of each pulse, so a
 * wider loop's small advantage would hardly show against it, while a
 * wandering clock soon makes the narrow loop's error many times the
 * others'.  A re-seed for a tempo change keeps the loop in use. */
#define DLL_DEFAULT 0
/* Acquisition bandwidth DLL_WIDE / n at the n-th pulse: 2 makes the loop
 * converge like a least-squares fit over the pulses so far (whose gains
 * fall as 4 / n and 6 / n^2) without overshooting. */
#define DLL_WIDE 2.0
/* Weight of each new squared error in the loops' running means: a memory
 * of about two beats, long enough to compare them, short enough to follow
 * a clock whose character changes. */
#define MSE_RATE (1.0 / 48.0)
/* The loops' errors are compared from the DETECT_AFTER-th pulse of the
 * first acquisition, when the loops have settled enough for the
 * follower's and the others' to differ by the kind of jitter (a
 * wandering clock is told within a beat, before a narrow loop's
 * drifting errors can pass for a tempo change), and from the ACQUIRED-th
 * after a re-seed, whose acquisition would only say how fast each loop
 * converges (the loops keep what they learnt before).  A loop is chosen
 * once SELECT_SAMPLES errors are in the means; until SELECT_AFTER, only
 * the follower is weighed against the loop in use (the three others are
 * still one, at the acquisition's gain). */
#define ACQUIRED 24
#define SELECT_SAMPLES 12
#define SELECT_AFTER 36
/* Another loop takes over when its mean squared error is below this
 * share of the one in use's: a wider loop only when clearly better (the
 * jitter every loop sees makes their errors close, and a wide loop
 * passes more of it on), a narrower one as soon as it is better at all
 * (it is the one that averages the jitter away). */
#define SWITCH_WIDER 0.8
#define SWITCH_NARROWER 0.95
/* Which clocks the follower is for: its error is the last interval's
 * deviation, and successive deviations are independent for a wandering
 * clock (correlation 0) but alternate for jitter around a grid (-0.5:
 * a pulse late makes one interval long and the next short).  The
 * follower is taken only above WANDER, and when its mean squared error
 * is under SWITCH_FOLLOW of the loop's in use (a mean squared error
 * alone cannot tell the two kinds while the loops acquire: with jitter
 * around a grid, the follower's came out at under half the narrow
 * loop's then); it is left below WANDER minus the hysteresis, or for a
 * loop that predicts better. */
#define SWITCH_FOLLOW 0.5
#define WANDER (-0.25)
#define WANDER_HYSTERESIS 0.15
/* ... measured over about eight beats (its own spread then is about
 * 0.07, well inside the hysteresis). */
#define AC_RATE (1.0 / 192.0)
/* Differences of mean squared error below (10 us)^2 are rounding, not
 * jitter (a perfect clock): no reason to change loops. */
#define MSE_FLOOR 1e-10
/* Tempo change detection (see above): the mean error of the last
 * RNJ_CLOCK_DETECT pulses, all off on the same side, beyond
 * DETECT_SIGMAS standard errors of such a mean (the usual error's
 * deviation over sqrt(RNJ_CLOCK_DETECT)).  A tempo change biases every
 * error alike, which a mean sees through jitter that a single pulse's
 * error would hide; 4 standard errors on one side happen by chance about
 * once in 30,000 pulses, more rarely still with all signs alike.
 * DETECT_MIN (0.5 ms): below it even a perfect clock's rounding would
 * count; DETECT_AFTER pulses of acquisition before the usual error is
 * known well enough to test against. */
#define DETECT_SIGMAS 4.0
#define DETECT_MIN 0.0005
#define DETECT_AFTER 12
/* The usual error's variance (errors beyond DETECT_SIGMAS of it are
 * left out) is the running mean of the first samples, then a running
 * average over about eight beats: slow, so that the growing errors of a
 * slow tempo change do not raise it as fast as they grow. */
#define VAR_RATE (1.0 / 192.0)
/* Intervals, in intervals in use (see "Counting" above).  Shorter than
 * SHORT: a burst or a duplicate (a tempo may rise 2.5 times at once and
 * still be followed; a burst's pulses come microseconds apart).  LONG or
 * more: pulses lost, a stall, or a tempo that fell by more than a third
 * (jitter of 20 % never stretches an interval that far).  ON_TIME: a
 * pulse after a gap within this share of an interval of a slot of the
 * timeline was sent there (pulses lost before it); further off, it was
 * late.  It must stay under 1 - SHORT: a pulse late by more than that has
 * its successor within SHORT of it, in a burst. */
#define SHORT 0.4
#define LONG 1.5
#define ON_TIME 0.3
/* Two short (or two long) intervals within this share of each other are
 * a new tempo's. */
#define SAME_TEMPO 0.35
/* The third pulse of a clock at under this share of the first interval
 * says that interval spanned a lost pulse: jitter of 10 % around a grid
 * makes the ratio of two intervals at least 0.8 / 1.2 = 0.67, one
 * spanning two at most 1.2 / 1.8. */
#define HALF_MAX 0.65
/* Counts of pulses and samples stop here: the gains that use them are at
 * their floor long before (and an int must not wrap in a year of clock). */
#define COUNT_MAX (1 << 24)
/* Two floating positions closer than this many beats are one point. */
#define SAME_POINT 1e-9

static const char *const source_names[] = {
    [RNJ_CLOCK_AUTO] = "auto",     [RNJ_CLOCK_MIDI] = "midi",
    [RNJ_CLOCK_JACK] = "jack",     [RNJ_CLOCK_PLAYER] = "player",
    [RNJ_CLOCK_FIXED] = "fixed",   [RNJ_CLOCK_HOST] = "host",
};
#define NSOURCES ((int)(sizeof source_names / sizeof source_names[0]))

/* --------------------------------------------------------------- lines */

static double line_beat(const rnj_clock_line_t *l, double t) {
  return l->rolling ? l->b0 + (t - l->t0) / l->spb : l->b0;
}

static double line_time(const rnj_clock_line_t *l, double beat) {
  return l->t0 + (beat - l->b0) * l->spb;
}

static double pulse_min(void) { return 60.0 / (RNJ_CLOCK_MAX_BPM * 24); }
static double pulse_max(void) { return 60.0 / (RNJ_CLOCK_MIN_BPM * 24); }

static int params_ok(const rnj_clock_params_t *p) {
  return p && p->source >= 0 && p->source < NSOURCES &&
         p->bpm >= RNJ_CLOCK_MIN_BPM && p->bpm <= RNJ_CLOCK_MAX_BPM &&
         p->beats_per_bar >= 1 && p->beats_per_bar <= 32;
}

void rnj_clock_params_default(rnj_clock_params_t *p) {
  p->source = RNJ_CLOCK_AUTO;
  p->bpm = 120.0;
  p->beats_per_bar = 4;
}

/* ---------------------------------------------------------- MIDI clock */

static const rnj_clock_dll_t *dll_sel(const rnj_clock_midi_t *m) {
  return &m->dll[m->sel];
}

/* The MIDI clock's own timeline (in its own beat numbering). */
static rnj_clock_line_t midi_line(const rnj_clock_t *c) {
  const rnj_clock_midi_t *m = &c->midi;
  rnj_clock_line_t l = c->fixed;
  l.b0 = m->base + (double)m->next / RNJ_CLOCK_PPQ;
  l.bar_beat = 0.0;
  l.bar_index = 0;
  l.bpb = c->p.beats_per_bar;
  l.rolling = m->rolling;
  if (dll_sel(m)->e2 > 0.0) /* the last tempo, also while re-acquiring */
    l.spb = dll_sel(m)->e2 * RNJ_CLOCK_PPQ;
  if (!m->rolling) {
    l.t0 = m->stopped_at;
  } else if (m->n >= 2) {
    l.t0 = dll_sel(m)->t1; /* the next pulse, beat b0 */
    if (m->fresh && l.t0 < m->stopped_at)
      l.t0 = m->stopped_at; /* after Start: not before it */
  } else if (m->n == 1) {
    l.t0 = m->last + l.spb / RNJ_CLOCK_PPQ;
  } else {
    l.t0 = m->stopped_at; /* Start before any pulse: set at Start */
  }
  return l;
}

/* Start the loops at interval `interval` with the pulse at `t` as the
 * n-th.  A re-seed for a tempo change (`keep`) keeps which loop is in use
 * and what the loops learnt of the jitter: the clock's character has not
 * changed with its tempo. */
static void dll_seed(rnj_clock_midi_t *m, double t, double interval, int n,
                     int keep) {
  int i;
  for (i = 0; i < RNJ_CLOCK_DLLS; i++) {
    rnj_clock_dll_t *d = &m->dll[i];
    d->t1 = t + interval;
    d->e2 = interval;
    d->k = n - 1;
    if (!keep)
      d->mse = 0.0;
    if (i < RNJ_CLOCK_DLLS - 1) {
      d->b = M_SQRT2 * DLL_OMEGA[i];
      d->c = DLL_OMEGA[i] * DLL_OMEGA[i];
    } else {
      d->b = FOLLOW_B;
      d->c = FOLLOW_C;
    }
  }
  m->n = n;
  m->recent_n = 0;
  m->var = 0.0;
  m->var3 = 0.0;
  m->var_n = 0;
  if (!keep) {
    m->sel = DLL_DEFAULT;
    m->mse_n = 0;
    m->ac = 0.0;
    m->prev_err = 0.0;
  }
}

/* Where in the ring the pulse timed `back` pulses before the latest
 * is. */
static int hist_at(const rnj_clock_midi_t *m, int back) {
  int i = (m->hist_head - 1 - back) % RNJ_CLOCK_HISTORY;
  return i < 0 ? i + RNJ_CLOCK_HISTORY : i;
}

/* The correlation of the follower's successive errors (see WANDER);
 * -1 while they are rounding. */
static double follower_rho(const rnj_clock_midi_t *m) {
  double mse = m->dll[RNJ_CLOCK_DLLS - 1].mse;
  return mse > MSE_FLOOR ? m->ac / mse : -1.0;
}

static int wanders(const rnj_clock_midi_t *m) {
  return follower_rho(m) > WANDER;
}

/* Choose the loop in use (see the top, and SWITCH_* and WANDER). */
static void dll_select(rnj_clock_midi_t *m) {
  const int f = RNJ_CLOCK_DLLS - 1; /* the follower */
  const rnj_clock_dll_t *d = m->dll;
  int best = m->sel == f ? 0 : m->sel;
  double rho = follower_rho(m);
  int i;
  if (m->mse_n >= SELECT_AFTER)
    for (i = 0; i < f; i++)
      if (d[i].mse < d[best].mse)
        best = i;
  if (m->sel == f) {
    /* the errors alternate (a grid after all), or a loop does better */
    if (rho < WANDER - WANDER_HYSTERESIS ||
        (m->mse_n >= SELECT_AFTER && d[best].mse < d[f].mse))
      m->sel = best;
    return;
  }
  if (rho > WANDER && d[f].mse < SWITCH_FOLLOW * d[m->sel].mse &&
      d[m->sel].mse - d[f].mse > MSE_FLOOR) {
    m->sel = f;
    return;
  }
  if (d[best].mse <
          (best > m->sel ? SWITCH_WIDER : SWITCH_NARROWER) * d[m->sel].mse &&
      d[m->sel].mse - d[best].mse > MSE_FLOOR)
    m->sel = best;
}

/* One pulse through the locked loops.  Returns 1 if it re-seeded them (a
 * tempo change), else 0. */
static int dll_pulse(rnj_clock_t *c, double t) {
  rnj_clock_midi_t *m = &c->midi;
  double err[RNJ_CLOCK_DLLS];
  double e;
  double mean = NAN; /* of the latest RNJ_CLOCK_DETECT errors */
  int changed = 0;
  int usual;
  int compare;
  int i;
  for (i = 0; i < RNJ_CLOCK_DLLS; i++)
    err[i] = t - m->dll[i].t1;
  e = err[m->sel];
  m->recent[m->recent_head] = e;
  m->recent_f[m->recent_head] = err[RNJ_CLOCK_DLLS - 1];
  m->recent_head = (m->recent_head + 1) % RNJ_CLOCK_DETECT;
  if (m->recent_n < RNJ_CLOCK_DETECT)
    m->recent_n++;
  if (m->recent_n >= RNJ_CLOCK_DETECT) {
    int pos = 0;
    int neg = 0;
    /* The usual spread of such a mean: the error's over sqrt(DETECT)
     * when errors are independent (jitter around a grid), but as wide
     * as the error itself when they are not (a wandering clock seen by
     * a narrow loop): its own running variance says which. */
    double thr = fmax(DETECT_SIGMAS * sqrt(fmax(m->var / RNJ_CLOCK_DETECT,
                                                m->var3)),
                      DETECT_MIN);
    mean = 0.0;
    for (i = 0; i < RNJ_CLOCK_DETECT; i++) {
      /* an error of nothing (a perfect clock, rounded) has no side */
      mean += m->recent[i] / RNJ_CLOCK_DETECT;
      pos += m->recent[i] > 0.1 * DETECT_MIN;
      neg += m->recent[i] < -0.1 * DETECT_MIN;
    }
    changed = m->n >= DETECT_AFTER &&
              (pos == RNJ_CLOCK_DETECT || neg == RNJ_CLOCK_DETECT) &&
              fabs(mean) > thr;
    if (changed && m->sel != RNJ_CLOCK_DLLS - 1 &&
        (m->mse_n < SELECT_AFTER || wanders(m))) {
      /* While the clock may wander (not yet known, or the follower's
       * errors say so though it predicts too little better to be in
       * use), a narrow loop's errors may be that wandering: a new tempo
       * must show in the intervals too, i.e. in the follower's errors,
       * beyond their own spread (they are independent). */
      double mf = 0.0;
      for (i = 0; i < RNJ_CLOCK_DETECT; i++)
        mf += m->recent_f[i] / RNJ_CLOCK_DETECT;
      changed = mf * mean > 0 &&
                fabs(mf) > DETECT_SIGMAS *
                               sqrt(m->dll[RNJ_CLOCK_DLLS - 1].mse /
                                    RNJ_CLOCK_DETECT);
    }
  }
  if (changed) {
    /* The new tempo is in the intervals between those pulses (the one
     * into the first of them may straddle the change); slots between
     * them may have been lost or late. */
    int old = hist_at(m, RNJ_CLOCK_DETECT - 1);
    double interval = (t - m->hist[old]) /
                      (double)(m->slot - m->hist_n[old]);
    if (interval < pulse_min() || interval > pulse_max()) {
      dll_seed(m, t, dll_sel(m)->e2, 1, 0);
      m->n = 1; /* nonsense: start over from this pulse */
      return 1;
    }
    dll_seed(m, t, interval, RNJ_CLOCK_DETECT, 1);
    {
      /* The follower averages intervals that are all new: from the
       * latest alone (the first of those may straddle the change). */
      int prev = hist_at(m, 1);
      rnj_clock_dll_t *f = &m->dll[RNJ_CLOCK_DLLS - 1];
      double last = (t - m->hist[prev]) / (double)(m->slot - m->hist_n[prev]);
      if (last >= pulse_min() && last <= pulse_max()) {
        f->e2 = last;
        f->t1 = t + last;
        f->k = 1;
      }
    }
    c->stats.relocks++;
    return 1;
  }
  /* An error far beyond the usual one is a change under way (or a
   * glitch): it moves the loops, but teaches nothing about the jitter,
   * and must not decide which loop is best. */
  usual = m->var_n < DETECT_AFTER ||
          e * e < DETECT_SIGMAS * DETECT_SIGMAS * m->var;
  /* The loops' errors while they (re-)acquire say how fast each
   * converges, not how well it follows this clock: they are left out
   * (after a re-seed the loops keep what they learnt before). */
  compare = usual && m->n > (m->mse_n >= SELECT_SAMPLES ? ACQUIRED
                                                       : DETECT_AFTER);
  if (compare && m->mse_n < COUNT_MAX)
    m->mse_n++;
  for (i = 0; i < RNJ_CLOCK_DLLS; i++) {
    rnj_clock_dll_t *d = &m->dll[i];
    double w = DLL_WIDE / m->n;
    /* The follower's interval is the mean of those since the (re)seed
     * (gain 1 / k at the k-th) until its own gain: the best estimate of
     * a wandering clock's tempo, which no loop's acquisition is. */
    double c2 = i == RNJ_CLOCK_DLLS - 1 ? 1.0 / (d->k + 1) : w * w;
    d->t1 += fmax(d->b, M_SQRT2 * w) * err[i] + d->e2;
    d->e2 += fmax(d->c, c2) * err[i];
    if (d->k < COUNT_MAX)
      d->k++;
    /* however wild the pulses, the tempo stays one (and positive) */
    d->e2 = fmin(fmax(d->e2, pulse_min()), pulse_max());
    if (compare)
      d->mse += fmax(MSE_RATE, 1.0 / m->mse_n) * (err[i] * err[i] - d->mse);
  }
  if (compare) {
    double ef = err[RNJ_CLOCK_DLLS - 1];
    m->ac += fmax(AC_RATE, 1.0 / m->mse_n) * (ef * m->prev_err - m->ac);
    m->prev_err = ef;
  }
  if (m->n < COUNT_MAX)
    m->n++;
  if (!usual)
    return 0;
  if (m->n > 3 && m->var_n < COUNT_MAX) {
    double rate;
    m->var_n++;
    rate = fmax(VAR_RATE, 1.0 / m->var_n);
    m->var += rate * (e * e - m->var);
    if (!isnan(mean))
      m->var3 += rate * (mean * mean - m->var3);
  }
  if (m->mse_n >= SELECT_SAMPLES)
    dll_select(m);
  return 0;
}

/* Pass `k` slots of the timeline without timing them (pulses lost or
 * late): the loops predict as though each came as predicted. */
static void pass_slots(rnj_clock_midi_t *m, int64_t k) {
  int i;
  if (k <= 0)
    return;
  for (i = 0; i < RNJ_CLOCK_DLLS; i++)
    m->dll[i].t1 += (double)k * m->dll[i].e2;
  m->slot += k;
  if (m->rolling)
    m->next += k;
}

/* The pulse at `t` is the next one, timed by the loops. */
static void take_timed(rnj_clock_t *c, double t) {
  rnj_clock_midi_t *m = &c->midi;
  m->slot++;
  m->hist[m->hist_head] = t;
  m->hist_n[m->hist_head] = m->slot;
  m->hist_head = (m->hist_head + 1) % RNJ_CLOCK_HISTORY;
  dll_pulse(c, t);
  m->last = t;
  c->stats.pulses++;
  if (m->rolling)
    m->next++;
}

/* A pulse while the loops are not locked (the first two), or the first
 * after Start, Continue or Song Position numbered it. */
static void take_plain(rnj_clock_t *c, double t) {
  rnj_clock_midi_t *m = &c->midi;
  if (m->n >= 2 && t - m->last < SHORT * dll_sel(m)->e2) {
    c->stats.pulses_ignored++; /* the pulse before, again */
    return;
  }
  if (m->n >= 2 && t - m->last > RNJ_CLOCK_LOSS_PULSES * dll_sel(m)->e2)
    m->n = 0; /* after a pause the phase is unknown again */
  if (m->n >= 2) {
    take_timed(c, t);
    m->fresh = 0;
    return;
  }
  if (m->n == 1 && t - m->last < pulse_min()) {
    c->stats.pulses_ignored++;
    return;
  }
  c->stats.pulses++;
  m->hist[m->hist_head] = t;
  m->hist_n[m->hist_head] = ++m->slot;
  m->hist_head = (m->hist_head + 1) % RNJ_CLOCK_HISTORY;
  if (m->n == 0) {
    m->n = 1;
  } else if (t - m->last > pulse_max()) {
    m->n = 1; /* too slow for a clock: take this one as the first */
  } else {
    dll_seed(m, t, t - m->last, 2, 0);
    m->lost = 0;
    c->events |= RNJ_CLOCK_EV_LOCKED;
  }
  m->last = t;
  m->fresh = 0;
  if (m->rolling)
    m->next++;
}

/* Number the held run (see "Counting" at the top) and end it.  `next`
 * is the interval after it, in intervals (HUGE_VAL: not known). */
static void settle(rnj_clock_t *c, double next) {
  rnj_clock_midi_t *m = &c->midi;
  const rnj_clock_dll_t *d = dll_sel(m);
  int64_t h = m->held;
  double w = m->held_last;
  /* the run's last pulse, in slots after the one the pulse before the
   * run predicts (from that pulse, not from a narrow loop, which lags
   * while the tempo changes) */
  double q = (w - m->held_from) / d->e2 - 1.0;
  double k = floor(q + 0.5);
  int64_t skip;
  m->held = 0;
  if (h == 1 && m->held_gap < SHORT) {
    c->stats.pulses_ignored++; /* a doubled connection */
    return;
  }
  if (h == 1 && m->held_gap > RNJ_CLOCK_LOSS_PULSES) {
    /* back after a loss: numbered where the timeline ran on to, and
     * the phase learnt afresh from this pulse */
    pass_slots(m, (int64_t)fmax(floor((w - d->t1) / d->e2 + 0.5), 0.0));
    m->n = 0;
    take_plain(c, w);
    return;
  }
  if (h == 1 && fabs(q - k) <= ON_TIME) {
    /* on a slot: the pulses before it were lost */
    skip = (int64_t)fmax(k, 0.0);
    pass_slots(m, skip);
    c->stats.pulses_lost += (uint64_t)skip;
    take_timed(c, w);
  } else if (h == 1 && next >= 1.0 - ON_TIME && isfinite(next)) {
    /* between slots, and the next pulse a full interval or more after
     * it (a pulse late by more than ON_TIME has its successor closer):
     * a tempo falling by a third or more, with jitter */
    take_timed(c, w);
  } else {
    /* late, alone or in a burst: each pulse counted, none timed, but
     * never more than the time passed allows (a doubled connection
     * through a stall) */
    skip = (int64_t)fmin((double)(h - 1), fmax(floor(q + ON_TIME), 0.0));
    c->stats.pulses_ignored += (uint64_t)(h - 1 - skip);
    c->stats.pulses_late += (uint64_t)skip + 1;
    c->stats.pulses += (uint64_t)skip + 1;
    pass_slots(m, skip + 1);
  }
  if (m->lost) {
    /* a stall outlasted the loss timeout, and its pulses came */
    m->lost = 0;
    c->events |= RNJ_CLOCK_EV_LOCKED;
  }
}

static void midi_pulse(rnj_clock_t *c, double t) {
  rnj_clock_midi_t *m = &c->midi;
  double interval;
  double g;
  if (m->n > 0 && t < m->last) {
    c->stats.pulses_ignored++; /* out of order */
    return;
  }
  if (!m->running_known)
    m->rolling = 1; /* joined a clock already running */
  if (m->n < 2 || m->fresh) {
    take_plain(c, t);
    return;
  }
  interval = dll_sel(m)->e2;
  if (m->n == 2 && !m->held) {
    /* The third pulse confirms the interval the first two gave: half
     * of it (within jitter) says a pulse was lost between them (an
     * xrun as the clock began): counted, and the loops seeded afresh
     * from this interval. */
    g = (t - m->last) / interval;
    if (g >= SHORT && g < HALF_MAX) {
      pass_slots(m, 1);
      c->stats.pulses_lost++;
      c->stats.pulses++;
      m->slot++;
      m->hist[m->hist_head] = t;
      m->hist_n[m->hist_head] = m->slot;
      m->hist_head = (m->hist_head + 1) % RNJ_CLOCK_HISTORY;
      dll_seed(m, t, t - m->last, 2, 0);
      m->last = t;
      if (m->rolling)
        m->next++;
      return;
    }
  }
  if (m->held) {
    double d = (t - m->held_last) / interval;
    if (d < SHORT && m->held == 1 && m->held_gap < SHORT &&
        t - m->held_last >= pulse_min() &&
        m->held_last - m->held_from >= pulse_min() &&
        fabs(d / m->held_gap - 1.0) < SAME_TEMPO) {
      /* short again, and alike: the tempo rose (a burst's pulses come
       * microseconds apart, a doubled connection's copy is followed by
       * a long interval) */
      m->held = 0;
      take_timed(c, m->held_last);
      take_timed(c, t);
      return;
    }
    if (d < SHORT) { /* the burst goes on */
      if (m->held < COUNT_MAX)
        m->held++;
      m->held_last = t;
      m->last = t;
      return;
    }
    if (d >= LONG && d <= RNJ_CLOCK_LOSS_PULSES && m->held == 1 &&
        m->held_gap >= LONG && m->held_gap <= RNJ_CLOCK_LOSS_PULSES) {
      /* long again: the tempo fell */
      m->held = 0;
      take_timed(c, m->held_last);
      take_timed(c, t);
      return;
    }
    settle(c, d);
    if (m->n < 2) { /* it re-acquires */
      take_plain(c, t);
      return;
    }
    interval = dll_sel(m)->e2;
  }
  g = (t - m->last) / interval;
  if (g >= SHORT && g < LONG) {
    take_timed(c, t);
    return;
  }
  m->held = 1;
  m->held_gap = g;
  m->held_from = m->last;
  m->held_last = t;
  m->last = t;
}

static void midi_start(rnj_clock_t *c, double t, int from_zero) {
  rnj_clock_midi_t *m = &c->midi;
  m->running_known = 1;
  m->rolling = 1;
  m->lost = 0;
  m->fresh = 1;
  if (from_zero) {
    m->base = 0.0;
    m->next = 0;
    m->absolute = 1;
  }
  m->stopped_at = t; /* the first pulse is expected from now on */
  c->stats.starts++;
}

static void midi_stop(rnj_clock_t *c, double t) {
  rnj_clock_midi_t *m = &c->midi;
  m->running_known = 1;
  m->rolling = 0;
  m->stopped_at = t;
  c->stats.stops++;
}

/* ---------------------------------------------------------- JACK */

static void jack_take(rnj_clock_t *c, double t, const rnj_clock_jack_t *pos) {
  rnj_clock_jack_state_t *j = &c->jack;
  rnj_clock_line_t *l = &j->line;
  int bbt = pos->bbt && pos->beats_per_minute >= RNJ_CLOCK_MIN_BPM &&
            pos->beats_per_minute <= RNJ_CLOCK_MAX_BPM &&
            pos->ticks_per_beat > 0 && pos->bar >= 1 && pos->beat >= 1 &&
            pos->tick >= 0 && pos->beats_per_bar >= 1 &&
            isfinite(pos->ticks_per_beat) && isfinite(pos->beats_per_bar);
  j->seen = 1;
  j->bbt = bbt;
  j->updated = t;
  l->t0 = t;
  l->rolling = pos->rolling != 0;
  if (bbt) {
    double in_bar = (pos->beat - 1) + pos->tick / pos->ticks_per_beat;
    l->bpb = pos->beats_per_bar;
    l->b0 = (pos->bar - 1) * l->bpb + in_bar;
    l->spb = 60.0 / pos->beats_per_minute;
    l->bar_beat = l->b0 - in_bar;
    l->bar_index = pos->bar - 1;
    if (l->rolling)
      j->rolled = t;
  } else {
    /* No timebase master: the frame position at the configured tempo. */
    l->spb = c->fixed.spb;
    l->b0 = (isfinite(pos->seconds) ? pos->seconds : 0.0) / l->spb;
    l->bpb = c->p.beats_per_bar;
    l->bar_beat = 0.0;
    l->bar_index = 0;
  }
  c->stats.jack_positions++;
}

/* ---------------------------------------------------------- host */

/* The host's line runs free from where it stands at `t`, at the tempo
 * last reported (at speed 1: there is no transport to follow). */
static void host_free(rnj_clock_host_state_t *h, double t) {
  rnj_clock_line_t *l = &h->line;
  l->b0 = line_beat(l, t);
  l->t0 = t;
  l->spb = 60.0 / h->bpm;
  l->rolling = 1;
  h->held = 0;
}

/* A report into the host's line.  Its beats are the host's (of
 * 1/beat_unit notes), turned into quarter notes with their tempo and bar
 * length, as the grid counts them. */
static void host_take(rnj_clock_t *c, double t, const rnj_clock_host_t *pos) {
  rnj_clock_host_state_t *h = &c->host;
  rnj_clock_line_t *l = &h->line;
  double ours = line_beat(l, t);
  double beat = ours;
  double bar_start = l->bar_beat;
  int64_t bar_index = l->bar_index;
  int have_pos = 0;
  int rolling = h->rolling;
  double q;
  if (pos->beat_unit >= 1 && pos->beat_unit <= 64)
    h->unit = pos->beat_unit;
  q = 4.0 / h->unit;
  if (pos->beats_per_bar >= 1 && pos->beats_per_bar <= 64)
    h->bpb = pos->beats_per_bar * q;
  if (pos->has_bpm && pos->bpm * q >= RNJ_CLOCK_MIN_BPM &&
      pos->bpm * q <= RNJ_CLOCK_MAX_BPM)
    h->bpm = pos->bpm * q;
  if (pos->has_speed && isfinite(pos->speed)) {
    rolling = pos->speed > 0;
    /* a varispeed transport plays its beats faster or slower */
    if (rolling && pos->speed >= 0.05 && pos->speed <= 20)
      h->speed = pos->speed;
  }
  if (pos->has_bbt && isfinite(pos->bar_beat) && pos->bar > -(1 << 30) &&
      pos->bar < (1 << 30)) {
    bar_start = (double)pos->bar * h->bpb;
    bar_index = pos->bar;
    beat = bar_start + pos->bar_beat * q;
    have_pos = 1;
  } else if (pos->has_beat && isfinite(pos->beat)) {
    beat = pos->beat * q;
    have_pos = 1;
  }
  if (rolling) {
    /* rolling on: the host's rounding is not news; a start, or a move
     * beyond the rounding, is followed */
    double b = beat;
    if (!have_pos ||
        (h->rolling && fabs(beat - ours) <= RNJ_CLOCK_HOST_ROUND))
      b = ours;
    if (b == beat && have_pos) {
      l->bar_beat = bar_start;
      l->bar_index = bar_index;
    }
    l->t0 = t;
    l->b0 = b;
    l->spb = 60.0 / (h->bpm * h->speed);
    l->rolling = 1;
    h->rolled = 1;
    h->held = 0;
  } else if (!h->rolled) {
    /* not yet rolled: free time from the origin, at the host's tempo */
    host_free(h, t);
  } else {
    /* where the transport stands: a stop, or a move while stopped,
     * holds the clock there; otherwise a hold (or the free time the
     * player started) goes on */
    double stand = have_pos ? beat : h->rolling ? ours : h->stop_beat;
    if (h->rolling || fabs(stand - h->stop_beat) > RNJ_CLOCK_HOST_ROUND) {
      l->t0 = t;
      l->b0 = stand;
      l->rolling = 0;
      if (have_pos) {
        l->bar_beat = bar_start;
        l->bar_index = bar_index;
      }
      h->held = 1;
      h->stop_beat = stand;
    } else if (!h->held) {
      host_free(h, t);
    }
    if (h->held)
      l->spb = 60.0 / h->bpm;
  }
  l->bpb = h->bpb;
  h->rolling = rolling;
}

/* ---------------------------------------------------------- selection */

static int midi_active(const rnj_clock_t *c, double now) {
  const rnj_clock_midi_t *m = &c->midi;
  /* from the third pulse, which confirmed the first interval */
  if (m->n < 3 || m->lost)
    return 0;
  return m->rolling || now - m->stopped_at < RNJ_CLOCK_HOLD;
}

static int jack_present(const rnj_clock_t *c, double now) {
  return c->jack.seen && now - c->jack.updated < RNJ_CLOCK_JACK_STALE;
}

static int jack_active(const rnj_clock_t *c, double now) {
  const rnj_clock_jack_state_t *j = &c->jack;
  if (!jack_present(c, now) || !j->bbt || !isfinite(j->rolled))
    return 0;
  return j->line.rolling || now - j->rolled < RNJ_CLOCK_HOLD;
}

static int wanted(const rnj_clock_t *c, double now) {
  if (c->p.source != RNJ_CLOCK_AUTO)
    return c->p.source;
  if (midi_active(c, now))
    return RNJ_CLOCK_MIDI;
  if (jack_active(c, now))
    return RNJ_CLOCK_JACK;
  return RNJ_CLOCK_PLAYER;
}

static rnj_clock_line_t line_of(const rnj_clock_t *c, int source) {
  switch (source) {
  case RNJ_CLOCK_MIDI:
    return midi_line(c);
  case RNJ_CLOCK_JACK:
    return c->jack.line;
  case RNJ_CLOCK_PLAYER:
    return c->player.line;
  case RNJ_CLOCK_HOST:
    return c->host.line;
  default:
    return c->fixed;
  }
}

/* Make the line of the source in use the clock's; raise what changed.
 * `jump` says whether a move of position is news (a relocation or a
 * switch) rather than smoothing. */
static void refresh(rnj_clock_t *c, double now, int jump) {
  rnj_clock_line_t nl = line_of(c, c->source);
  if (jump &&
      fabs(line_beat(&nl, now) - line_beat(&c->line, now)) >
          RNJ_CLOCK_JUMP_BEATS) {
    c->events |= RNJ_CLOCK_EV_JUMP;
    c->stats.jumps++;
  }
  if (nl.rolling != c->line.rolling)
    c->events |= nl.rolling ? RNJ_CLOCK_EV_START : RNJ_CLOCK_EV_STOP;
  if (fabs(nl.spb / c->reported_spb - 1.0) > RNJ_CLOCK_TEMPO_EVENT) {
    c->events |= RNJ_CLOCK_EV_TEMPO;
    c->reported_spb = nl.spb;
  }
  c->line = nl;
}

/* Hand over to `to` at `now`, keeping the beat where the new source has
 * no position of its own. */
static void switch_to(rnj_clock_t *c, int to, double now) {
  double beat = line_beat(&c->line, now);
  rnj_clock_line_t l;
  switch (to) {
  case RNJ_CLOCK_MIDI:
    if (!c->midi.absolute) {
      l = midi_line(c);
      c->midi.base += beat - line_beat(&l, now);
    }
    break;
  case RNJ_CLOCK_PLAYER:
    /* The player goes on from the tempo and phase in force. */
    c->player.line = c->line;
    if (!c->line.rolling) {
      c->player.line.t0 = now;
      c->player.line.b0 = beat;
      c->player.line.rolling = 1;
    }
    c->player.phrase = 0;
    break;
  case RNJ_CLOCK_FIXED:
    c->fixed.t0 = now;
    c->fixed.b0 = beat;
    break;
  default:
    break;
  }
  c->source = to;
  c->events |= RNJ_CLOCK_EV_SOURCE;
  c->stats.switches++;
}

static void select_source(rnj_clock_t *c, double now, int jump) {
  int to = wanted(c, now);
  if (to != c->source) {
    switch_to(c, to, now);
    jump = 1;
  }
  refresh(c, now, jump);
}

/* ---------------------------------------------------------- public */

static void init_lines(rnj_clock_t *c, double now) {
  rnj_clock_line_t *f = &c->fixed;
  f->t0 = now;
  f->b0 = 0.0;
  f->spb = 60.0 / c->p.bpm;
  f->rolling = 1;
  f->bar_beat = 0.0;
  f->bar_index = 0;
  f->bpb = c->p.beats_per_bar;
  c->player.line = *f;
  c->jack.line = *f;
  c->jack.line.rolling = 0;
  c->jack.rolled = -HUGE_VAL;
  c->host.line = *f; /* free time from the origin */
  c->host.bpm = c->p.bpm;
  c->host.speed = 1.0;
  c->host.bpb = c->p.beats_per_bar;
  c->host.unit = 4;
  c->midi.stopped_at = now;
  c->midi.next = 0;
  c->line = *f;
  c->reported_spb = f->spb;
}

int rnj_clock_init(rnj_clock_t *c, const rnj_clock_params_t *p, double now) {
  int rc = 0;
  memset(c, 0, sizeof *c);
  if (params_ok(p)) {
    c->p = *p;
  } else {
    rnj_clock_params_default(&c->p);
    rc = RNJ_EINVAL;
  }
  if (!isfinite(now))
    now = 0.0;
  init_lines(c, now);
  c->source = RNJ_CLOCK_FIXED;
  c->line = c->fixed;
  select_source(c, now, 0);
  c->events = 0; /* nothing has happened yet */
  c->stats.switches = 0;
  return rc;
}

int rnj_clock_set_params(rnj_clock_t *c, const rnj_clock_params_t *p,
                         double now) {
  rnj_clock_line_t *f = &c->fixed;
  if (!params_ok(p))
    return RNJ_EINVAL;
  if (p->bpm != c->p.bpm || p->beats_per_bar != c->p.beats_per_bar) {
    /* The fixed line goes on from where it is, at the new tempo, with
     * bars counted from the one it is in. */
    double beat = line_beat(f, now);
    double bar = floor((beat - f->bar_beat) / f->bpb);
    f->bar_beat += bar * f->bpb;
    f->bar_index += (int64_t)bar;
    f->t0 = now;
    f->b0 = beat;
    f->spb = 60.0 / p->bpm;
    f->bpb = p->beats_per_bar;
    if (!c->player.estimated) {
      /* the configured tempo is the player's until a phrase says */
      beat = line_beat(&c->player.line, now);
      c->player.line.t0 = now;
      c->player.line.b0 = beat;
      c->player.line.spb = f->spb;
    }
    c->player.line.bpb = p->beats_per_bar;
  }
  c->p = *p;
  select_source(c, now, 0);
  return 0;
}

void rnj_clock_midi(rnj_clock_t *c, double t, int status, int value) {
  int jump = 0;
  if (!isfinite(t))
    return;
  if (c->midi.held && (status == 0xFA || status == 0xFB || status == 0xFC ||
                       status == 0xF2))
    settle(c, HUGE_VAL); /* the run came before it */
  switch (status) {
  case 0xF8:
    midi_pulse(c, t);
    break;
  case 0xFA:
    midi_start(c, t, 1);
    jump = 1;
    break;
  case 0xFB:
    midi_start(c, t, 0);
    break;
  case 0xFC:
    midi_stop(c, t);
    break;
  case 0xF2:
    c->midi.base = 0.0;
    c->midi.next = (int64_t)(value & 0x3FFF) * (RNJ_CLOCK_PPQ / 4);
    c->midi.absolute = 1;
    c->midi.fresh = 1;
    c->stats.songpos++;
    jump = 1;
    break;
  default:
    return;
  }
  select_source(c, t, jump && c->source == RNJ_CLOCK_MIDI);
}

void rnj_clock_midi_shift(rnj_clock_t *c, double delta) {
  rnj_clock_midi_t *m = &c->midi;
  int i;
  if (!isfinite(delta) || delta == 0.0)
    return;
  for (i = 0; i < RNJ_CLOCK_DLLS; i++)
    m->dll[i].t1 += delta;
  for (i = 0; i < RNJ_CLOCK_HISTORY; i++)
    m->hist[i] += delta;
  m->last += delta;
  m->held_from += delta;
  m->held_last += delta;
  m->stopped_at += delta;
  if (c->source == RNJ_CLOCK_MIDI)
    c->line = midi_line(c); /* the same pulses, the same beats */
}

void rnj_clock_jack(rnj_clock_t *c, double t, const rnj_clock_jack_t *pos) {
  if (!pos || !isfinite(t))
    return;
  jack_take(c, t, pos);
  /* JACK positions are exact (frames), so any move is a relocation. */
  select_source(c, t, c->source == RNJ_CLOCK_JACK);
}

void rnj_clock_host(rnj_clock_t *c, double t, const rnj_clock_host_t *pos) {
  if (!pos || !isfinite(t))
    return;
  host_take(c, t, pos);
  c->stats.host_positions++;
  /* what host_take moved is a relocation: the rounding it kept out */
  select_source(c, t, c->source == RNJ_CLOCK_HOST);
}

void rnj_clock_onset(rnj_clock_t *c, double t) {
  rnj_clock_player_t *pl = &c->player;
  if (!isfinite(t))
    return;
  if (c->host.held) {
    /* the player plays with the host's transport stopped: free time,
     * from this onset, taken as the beat nearest to where it stopped */
    c->host.line.b0 = floor(c->host.line.b0 + 0.5);
    host_free(&c->host, t);
    if (c->source == RNJ_CLOCK_HOST)
      refresh(c, t, 0);
  }
  if (pl->n > 0) {
    int last = (pl->head + RNJ_CLOCK_ONSETS - 1) % RNJ_CLOCK_ONSETS;
    if (t < pl->onsets[last])
      t = pl->onsets[last]; /* out of order: as late as the last */
  }
  pl->onsets[pl->head] = t;
  pl->head = (pl->head + 1) % RNJ_CLOCK_ONSETS;
  if (pl->n < RNJ_CLOCK_ONSETS)
    pl->n++;
  if (pl->phrase < RNJ_CLOCK_ONSETS)
    pl->phrase++;
}

/* The latest `k` onsets, oldest first. */
static void latest_onsets(const rnj_clock_player_t *pl, int k, double *out) {
  int i;
  for (i = 0; i < k; i++)
    out[i] = pl->onsets[(pl->head - k + i + 2 * RNJ_CLOCK_ONSETS) %
                        RNJ_CLOCK_ONSETS];
}

/* When the phrase keeps the tempo in force (within 2 %: the player did
 * not change it), the whole ring (several phrases) is fitted at once: a
 * grid fitted over more beats is truer where the answer plays, after the
 * phrase.  The fit over all must agree with the phrase as closely. */
#define JOIN_PHRASES 0.02

int rnj_clock_phrase_end(rnj_clock_t *c, double now) {
  rnj_clock_player_t *pl = &c->player;
  double on[RNJ_CLOCK_ONSETS];
  rnj_tempo_t est;
  rnj_tempo_t all;
  rnj_clock_line_t *l = &pl->line;
  double old_beat;
  double spb;
  double n0;
  int rc;
  c->stats.phrases++;
  if (c->source != RNJ_CLOCK_PLAYER || !isfinite(now)) {
    pl->phrase = 0;
    return 0;
  }
  latest_onsets(pl, pl->phrase, on);
  rc = rnj_tempo_estimate(on, pl->phrase, 60.0 / l->spb, &est);
  if (rc == RNJ_ENODATA)
    return 0; /* too short: it joins the next phrase */
  pl->phrase = 0;
  if (rc < 0 || est.confidence < RNJ_CLOCK_PLAYER_MIN_CONFIDENCE)
    return 0;
  if (pl->n > est.events &&
      fabs(est.bpm * l->spb / 60.0 - 1.0) < JOIN_PHRASES) {
    latest_onsets(pl, pl->n, on);
    if (rnj_tempo_estimate(on, pl->n, est.bpm, &all) == 0 &&
        all.confidence >= RNJ_CLOCK_PLAYER_MIN_CONFIDENCE &&
        fabs(all.bpm / est.bpm - 1.0) < JOIN_PHRASES)
      est = all;
  }
  /* The new grid's beats are whole numbers; of them, the numbering that
   * moves the position at `now` least. */
  old_beat = line_beat(l, now);
  spb = 60.0 / est.bpm;
  n0 = floor(old_beat - (now - est.beat_time) / spb + 0.5);
  l->t0 = est.beat_time;
  l->b0 = n0;
  l->spb = spb;
  l->rolling = 1;
  pl->last = est;
  pl->estimated = 1;
  c->stats.estimates++;
  refresh(c, now, 1);
  return 1;
}

double rnj_clock_tick(rnj_clock_t *c, double now) {
  rnj_clock_midi_t *m = &c->midi;
  double next = HUGE_VAL;
  if (!isfinite(now))
    return HUGE_VAL;
  if (m->n >= 2 && m->rolling && !m->lost) {
    double due = m->last + RNJ_CLOCK_LOSS_PULSES * dll_sel(m)->e2;
    if (now > due) {
      m->lost = 1;
      c->events |= RNJ_CLOCK_EV_LOST;
      c->stats.losses++;
    } else {
      next = due;
    }
  }
  if (c->jack.seen && c->jack.line.rolling && !jack_present(c, now)) {
    /* The JACK side went quiet: the transport is as good as stopped. */
    rnj_clock_line_t *l = &c->jack.line;
    l->b0 = line_beat(l, now);
    l->t0 = now;
    l->rolling = 0;
  }
  select_source(c, now, 0);
  if (c->p.source == RNJ_CLOCK_AUTO) {
    if (c->source == RNJ_CLOCK_MIDI && !m->rolling)
      next = fmin(next, m->stopped_at + RNJ_CLOCK_HOLD);
    if (c->source == RNJ_CLOCK_JACK) {
      next = fmin(next, c->jack.updated + RNJ_CLOCK_JACK_STALE);
      if (!c->jack.line.rolling)
        next = fmin(next, c->jack.rolled + RNJ_CLOCK_HOLD);
    }
  }
  return next;
}

unsigned rnj_clock_take_events(rnj_clock_t *c) {
  unsigned ev = c->events;
  c->events = 0;
  return ev;
}

/* ---------------------------------------------------------- queries */

double rnj_clock_beat_at(const rnj_clock_t *c, double t) {
  return line_beat(&c->line, t);
}

double rnj_clock_time_of(const rnj_clock_t *c, double beat) {
  return line_time(&c->line, beat);
}

double rnj_clock_bpm(const rnj_clock_t *c) { return 60.0 / c->line.spb; }

int rnj_clock_rolling(const rnj_clock_t *c) { return c->line.rolling; }

int rnj_clock_source(const rnj_clock_t *c) { return c->source; }

void rnj_clock_position(const rnj_clock_t *c, double t, rnj_clock_pos_t *pos) {
  const rnj_clock_line_t *l = &c->line;
  double beat = line_beat(l, t);
  double bars = floor((beat - l->bar_beat) / l->bpb + SAME_POINT);
  pos->beat = beat;
  pos->bar = l->bar_index + (int64_t)bars;
  pos->beat_in_bar = beat - l->bar_beat - bars * l->bpb;
  if (pos->beat_in_bar < 0.0)
    pos->beat_in_bar = 0.0;
  pos->beats_per_bar = l->bpb;
  pos->bpm = 60.0 / l->spb;
  pos->rolling = l->rolling;
  pos->source = c->source;
}

double rnj_clock_next_beat(const rnj_clock_t *c, double t) {
  if (!c->line.rolling)
    return t;
  return fmax(t, line_time(&c->line,
                           ceil(line_beat(&c->line, t) - SAME_POINT)));
}

double rnj_clock_next_bar(const rnj_clock_t *c, double t) {
  const rnj_clock_line_t *l = &c->line;
  double k;
  if (!l->rolling)
    return t;
  k = ceil((line_beat(l, t) - l->bar_beat) / l->bpb - SAME_POINT);
  return fmax(t, line_time(l, l->bar_beat + k * l->bpb));
}

double rnj_clock_answer_start(const rnj_clock_t *c, int mode, double t) {
  switch (mode) {
  case RNJ_ANSWER_BEAT:
    return rnj_clock_next_beat(c, t);
  case RNJ_ANSWER_BAR:
    return rnj_clock_next_bar(c, t);
  default:
    return t;
  }
}

double rnj_clock_next_pulse(const rnj_clock_t *c, double t) {
  double k;
  if (!c->line.rolling)
    return HUGE_VAL;
  k = ceil(line_beat(&c->line, t) * RNJ_CLOCK_PPQ - SAME_POINT);
  return fmax(t, line_time(&c->line, k / RNJ_CLOCK_PPQ));
}

double rnj_clock_quantize(const rnj_clock_t *c, const rnj_grid_t *g,
                          double t) {
  if (g->unit == RNJ_GRID_OFF || !c->line.rolling)
    return t;
  return line_time(&c->line, rnj_grid_quantize(g, line_beat(&c->line, t)));
}

void rnj_clock_quantize_note(const rnj_clock_t *c, const rnj_grid_t *g,
                             double t_on, double t_off, double *q_on,
                             double *q_off) {
  double b_on;
  double b_off;
  if (g->unit == RNJ_GRID_OFF || !c->line.rolling) {
    *q_on = t_on;
    *q_off = t_off;
    return;
  }
  rnj_grid_note(g, line_beat(&c->line, t_on), line_beat(&c->line, t_off),
                &b_on, &b_off);
  *q_on = line_time(&c->line, b_on);
  *q_off = line_time(&c->line, b_off);
}

const char *rnj_clock_source_name(int source) {
  return source >= 0 && source < NSOURCES ? source_names[source] : "?";
}

int rnj_clock_parse_source(const char *s, int *source, char *err) {
  int i;
  for (i = 0; s && i < NSOURCES; i++) {
    const char *p = s;
    size_t n = strlen(source_names[i]);
    if (i == RNJ_CLOCK_HOST)
      continue; /* a plugin's, never configured */
    while (*p == ' ' || *p == '\t')
      p++;
    if (strncasecmp(p, source_names[i], n) != 0)
      continue;
    p += n;
    while (*p == ' ' || *p == '\t')
      p++;
    if (!*p) {
      *source = i;
      return 0;
    }
  }
  return rnj_errorf(err, RNJ_EINVAL,
                    "clock: expected auto, midi, jack, player or fixed, got "
                    "'%s'",
                    s ? s : "");
}
