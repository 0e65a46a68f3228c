/* jack-clock: judges rnnjamd's musical time on JACK.
 *
 * usage: jack-clock NOTES_PORT CLOCK_PORT SECONDS CHECK...
 *        jack-clock --replay FILE CHECK...   (a recording from dump=)
 *
 * One JACK client, "rnj-clk", with two MIDI inputs: "notes" (connected
 * from NOTES_PORT, rnnjamd's output) and "clock" (from CLOCK_PORT, a
 * MIDI Clock source such as jack_midi_clock, or rnnjamd's own output for
 * its clock out; "none" for no clock).  Its process callback records,
 * for SECONDS, every MIDI event with its frame and, every period, the
 * JACK transport as jack_transport_query gives it; the xrun callback
 * records when JACK ran late.  Then the checks judge the recording:
 *
 *   grid=midi   the 16th grid of the MIDI Clock as received: every pulse
 *               numbered by its song position (Start zeroes it, Song
 *               Position sets it, a pulse while running advances it, a
 *               pulse lost in an xrun is counted from the gap), and the
 *               grid at an onset is (a) a least-squares line through the
 *               pulses within half a beat of it (the pulses' own grid:
 *               jittered pulses average out, wandering ones are
 *               followed; the shares and p99 below are of this one), and
 *               (b) a line through the beat before and the beat after
 *               it (the grid a listener hears: smoother, but a beat of
 *               it is sent after the onset was placed); the onsets of
 *               rnnjamd's notes are measured against both, and so is
 *               the best possible follower (see best=)
 *   grid=jack   the same against the transport's own bar, beat and tick
 *   tol=MS      the window counted as "on the grid" (default 1 ms)
 *   min=SHARE   the share on the grid required before and after a tempo
 *               change (default 0.99); the first beat after the change
 *               (where the tempo is re-learnt) is reported on its own
 *   p99=MS      onset error p99 required (default: none)
 * (An onset is a time: the notes of a chord are judged once.)
 *   learn       the onsets in the clock's first beat (its tempo learnt
 *               from jittered pulses) are reported apart, not judged
 *   best=F      onset error p99 on grid (a) at most F times that of the
 *               best possible follower, plus 0.5 ms: one that knows the
 *               true tempo and every pulse that reached rnnjamd by the
 *               time it placed the onset (its lookahead, 50 ms, and a
 *               period before).  A clock whose pulses wander
 *               (jack_midi_clock -J adds its jitter to each interval)
 *               cannot be foreseen closer than that; grid (b) is
 *               reported with its own best follower, not asserted
 *   stops       the transport's stops: no note-on while stopped, nothing
 *               left sounding once stopped, and after each restart the
 *               first onset on a beat
 *   stops=midi  the same on the MIDI Clock's own terms: its Stop, its
 *               Start and Continue, a beat of its pulses' numbering
 *   tempo=BPM   the MIDI Clock received on "clock" is at BPM, within
 *               pct=P percent (default 0.5), by a fit over all pulses
 *   dump=FILE   the recording as text (frame, port, bytes; transport
 *               per period; xruns), for a closer look
 *
 * An xrun can make any client miss a period (MIDI lost between clients,
 * the daemon a period late), so onsets near an xrun are not judged
 * (XRUN_BEFORE, XRUN_AFTER); their number is reported.  Figures are printed as
 * "FIGURE ..."; a broken property prints "FAIL ..."; the exit status is
 * 1 on a failure, 99 when JACK or the ports are missing.
 *
 * The process callback only copies into preallocated arrays.
 */
#include <errno.h>
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/transport.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_EVENTS 400000
#define MAX_XRUNS 10000
/* Onsets this close to an xrun are not judged: from XRUN_BEFORE s before
 * it (the notification comes a little after the late period) to
 * XRUN_AFTER s after (notes handed to JACK up to a lookahead before the
 * daemon hears of the transport's new place). */
#define XRUN_BEFORE 0.1
#define XRUN_AFTER 0.2

typedef struct {
  jack_nframes_t frame;
  uint8_t port; /* 0 notes, 1 clock */
  uint8_t len;
  uint8_t b[3];
} ev_t;

typedef struct {
  jack_nframes_t frame;
  int rolling;
  int bbt;
  double beat; /* beats from 1|1|0 at `frame` (bbt only) */
  double bpm;
} tp_t;

static jack_client_t *cl;
static jack_port_t *p_notes;
static jack_port_t *p_clock;
static ev_t *evs;
static long nevs;
static tp_t *tps;
static long maxtps;
static long ntps;
static jack_nframes_t xrun_at[MAX_XRUNS];
static long nxruns;
static double rate;
static int fails;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  printf("FAIL ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fails++;
}

/* ------------------------------------------------------------ recording */

static void take(jack_port_t *port, int id, jack_nframes_t start,
                 jack_nframes_t n) {
  void *buf = jack_port_get_buffer(port, n);
  uint32_t count = jack_midi_get_event_count(buf);
  uint32_t i;
  for (i = 0; i < count && nevs < MAX_EVENTS; i++) {
    jack_midi_event_t e;
    ev_t *o = &evs[nevs];
    if (jack_midi_event_get(&e, buf, i) != 0 || e.size < 1)
      continue;
    o->frame = start + e.time;
    o->port = (uint8_t)id;
    o->len = (uint8_t)(e.size > 3 ? 3 : e.size);
    memcpy(o->b, e.buffer, o->len);
    nevs++;
  }
}

static int process(jack_nframes_t n, void *arg) {
  jack_nframes_t start = jack_last_frame_time(cl);
  jack_position_t pos;
  jack_transport_state_t st;
  (void)arg;
  take(p_notes, 0, start, n);
  take(p_clock, 1, start, n);
  st = jack_transport_query(cl, &pos);
  if (ntps < maxtps) {
    tp_t *t = &tps[ntps];
    t->frame = start;
    t->rolling = st == JackTransportRolling;
    t->bbt = (pos.valid & JackPositionBBT) != 0;
    t->beat = t->bbt ? (pos.bar - 1) * (double)pos.beats_per_bar +
                           (pos.beat - 1) + pos.tick / pos.ticks_per_beat
                     : 0;
    t->bpm = t->bbt ? pos.beats_per_minute : 0;
    ntps++;
  }
  return 0;
}

static int on_xrun(void *arg) {
  (void)arg;
  if (nxruns < MAX_XRUNS)
    xrun_at[nxruns++] = jack_frame_time(cl);
  return 0;
}

/* ------------------------------------------------------------ helpers */

static long fdiff(jack_nframes_t a, jack_nframes_t b) {
  return (long)(int32_t)(a - b);
}

static double secs(jack_nframes_t a, jack_nframes_t b) {
  return fdiff(a, b) / rate;
}

static int near_xrun(jack_nframes_t f) {
  long i;
  for (i = 0; i < nxruns; i++) {
    double d = secs(f, xrun_at[i]);
    if (d > -XRUN_BEFORE && d < XRUN_AFTER)
      return 1;
  }
  return 0;
}

static int is_on(const ev_t *e) {
  return e->port == 0 && e->len == 3 && (e->b[0] & 0xF0) == 0x90 &&
         e->b[2] > 0;
}

static int is_off(const ev_t *e) {
  return e->port == 0 && e->len == 3 &&
         ((e->b[0] & 0xF0) == 0x80 ||
          ((e->b[0] & 0xF0) == 0x90 && e->b[2] == 0));
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The transport record of the period holding frame `f` (or the last one
 * before it); NULL before the first. */
static const tp_t *tp_at(jack_nframes_t f) {
  long lo = 0;
  long hi = ntps - 1;
  if (ntps == 0 || fdiff(f, tps[0].frame) < 0)
    return NULL;
  while (lo < hi) {
    long mid = (lo + hi + 1) / 2;
    if (fdiff(tps[mid].frame, f) <= 0)
      lo = mid;
    else
      hi = mid - 1;
  }
  return &tps[lo];
}

/* ------------------------------------------------------------ the grids */

/* The pulses, numbered by song position (see the top). */
typedef struct {
  jack_nframes_t frame;
  long pos;
} pulse_t;

static pulse_t *pulses;
static long npulses;
/* The fits do not reach across the tempo change (when there is one). */
static jack_nframes_t change_at;
static int have_change_at;

/* Of the last intervals between pulses, the median: a steady reference
 * for telling a lost pulse from jitter (-J 20 moves a pulse by up to a
 * fifth of an interval, a lost one doubles it). */
#define RECENT 9
static double recent_median(const double *v, int n) {
  double w[RECENT];
  int i;
  int j;
  for (i = 0; i < n; i++) {
    double x = v[i];
    for (j = i; j > 0 && w[j - 1] > x; j--)
      w[j] = w[j - 1];
    w[j] = x;
  }
  return w[n / 2];
}

static void number_pulses(void) {
  long pos = 0;
  int running = 1; /* a clock without Start is counted from its first */
  double recent[RECENT];
  int nrecent = 0;
  int head = 0;
  jack_nframes_t last = 0;
  int have_last = 0;
  long i;
  pulses = calloc(MAX_EVENTS, sizeof *pulses);
  npulses = 0;
  for (i = 0; i < nevs; i++) {
    const ev_t *e = &evs[i];
    if (e->port != 1)
      continue;
    switch (e->b[0]) {
    case 0xFA:
      pos = 0;
      running = 1;
      break;
    case 0xFB:
      running = 1;
      break;
    case 0xFC:
      running = 0;
      break;
    case 0xF2:
      if (e->len == 3)
        pos = 6L * (e->b[1] | (e->b[2] << 7));
      break;
    case 0xF8:
      if (have_last) {
        double dt = secs(e->frame, last);
        if (nrecent >= 3) {
          double m = recent_median(recent, nrecent);
          /* lost on the way (an xrun): counted, while running */
          if (dt > 1.6 * m && dt < 48 * m && running)
            pos += lround(dt / m) - 1;
          else if (dt > 48 * m)
            nrecent = 0; /* a pause: learn the interval afresh */
        }
        if (dt < 1.6 * (nrecent ? recent_median(recent, nrecent) : dt)) {
          recent[head] = dt;
          head = (head + 1) % RECENT;
          if (nrecent < RECENT)
            nrecent++;
        }
      }
      last = e->frame;
      have_last = 1;
      if (!running)
        break;
      pulses[npulses].frame = e->frame;
      pulses[npulses].pos = pos;
      npulses++;
      pos++;
      break;
    default:
      break;
    }
  }
}

/* The JACK period, frames: the step between the transport records. */
static jack_nframes_t period(void) {
  return ntps >= 2 ? tps[1].frame - tps[0].frame : 0;
}

/* The pulse at or before frame `f` (-1: none). */
static long pulse_before(jack_nframes_t f) {
  long lo = 0;
  long hi = npulses - 1;
  if (npulses == 0 || fdiff(pulses[0].frame, f) > 0)
    return -1;
  while (lo < hi) {
    long mid = (lo + hi + 1) / 2;
    if (fdiff(pulses[mid].frame, f) <= 0)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* The interval of the first pulses after frame `f`, s (the median of
 * the first few): how long their first beat lasts. */
static double period_guess(jack_nframes_t f) {
  long i = pulse_before(f);
  double v[5];
  int n = 0;
  int a;
  int b;
  for (; i >= 0 && i + 1 < npulses && n < 5; i++)
    v[n++] = secs(pulses[i + 1].frame, pulses[i].frame);
  if (n == 0)
    return 0;
  for (a = 1; a < n; a++)
    for (b = a; b > 0 && v[b - 1] > v[b]; b--) {
      double x = v[b];
      v[b] = v[b - 1];
      v[b - 1] = x;
    }
  return v[n / 2];
}

/* The grid of the pulses around pulse `near`: a least-squares line
 * through the pulses numbered within `half` of it (one numbering: a
 * Start or Song Position in the window ends it; one tempo: not across
 * the change), time = *a + *b * number, in s from pulses[near].  With
 * `known` >= 0, the pulses after pulse `known` are not known yet: each
 * is taken at pulse `known` plus whole intervals of `interval` s, which
 * makes the line the best prediction of the true one that a follower
 * knowing the tempo could make at that pulse.  Returns 0, or -1 with
 * too few pulses. */
static int fit_line(long near, int half, long known, double interval,
                    double *a, double *b) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  jack_nframes_t f = pulses[near].frame;
  long n = 0;
  long i;
  for (i = near - half; i <= near + half + 1; i++) {
    double x;
    double y;
    if (i < 0 || i >= npulses)
      continue;
    if (labs(pulses[i].pos - pulses[near].pos) > half + 1)
      continue;
    if (have_change_at && (fdiff(pulses[i].frame, change_at) < 0) !=
                              (fdiff(f, change_at) < 0))
      continue;
    x = (double)pulses[i].pos;
    if (known >= 0 && i > known)
      y = secs(pulses[known].frame, f) +
          (double)(pulses[i].pos - pulses[known].pos) * interval;
    else
      y = secs(pulses[i].frame, f);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    n++;
  }
  if (n < 8)
    return -1;
  *b = (n * sxy - sx * sy) / (n * sxx - sx * sx); /* s per pulse */
  *a = (sy - *b * sx) / n;
  return *b > 0 ? 0 : -1;
}

/* The error of an onset at `f` against the MIDI Clock's grid of `every`
 * pulses (6: 16ths, 24: beats), a line through the pulses within
 * `half` of it, s; NAN when there are too few pulses around it.  `bpm`
 * gets the line's tempo; `best`, when not NULL, the error of the best
 * follower on the same grid point (see fit_line: the pulses it knew
 * HORIZON before the onset, the tempo of the transport). */
/* rnnjamd's lookahead: an onset is placed that long before it sounds,
 * from the pulses it had then, which came through JACK a period late
 * (period(): the recording's). */
#define HORIZON 0.050
static double midi_error(jack_nframes_t f, int every, int half, double *bpm,
                         double *best) {
  long near = pulse_before(f);
  long known;
  double a;
  double b;
  double k;
  double at;
  const tp_t *t;
  if (near < 0 || fit_line(near, half, -1, 0, &a, &b) != 0)
    return NAN;
  if (bpm)
    *bpm = 60.0 / (b * 24.0);
  /* pulse number x is at a + b x (relative to pulses[near]) */
  at = secs(f, pulses[near].frame);
  k = every * floor((at - a) / b / every + 0.5);
  if (best) {
    double a2;
    double b2;
    double interval;
    *best = NAN;
    known = pulse_before(f - (jack_nframes_t)(HORIZON * rate) - period());
    t = tp_at(f);
    interval = t && t->bbt && t->bpm > 0 ? 60.0 / (t->bpm * 24.0) : b;
    if (known >= 0 && known <= near &&
        labs(pulses[near].pos - pulses[known].pos) <= half &&
        fit_line(near, half, known, interval, &a2, &b2) == 0)
      *best = (a2 + b2 * k) - (a + b * k);
  }
  return at - (a + b * k);
}

/* The error of an onset at `f` against the transport's 16th grid, s. */
static double jack_error(jack_nframes_t f, double *bpm) {
  const tp_t *t = tp_at(f);
  double beat;
  double q;
  if (!t || !t->bbt || !t->rolling || t->bpm <= 0)
    return NAN;
  beat = t->beat + secs(f, t->frame) * t->bpm / 60.0;
  q = floor(beat * 4.0 + 0.5) / 4.0;
  if (bpm)
    *bpm = t->bpm;
  return (beat - q) * 60.0 / t->bpm;
}

/* ------------------------------------------------------------ checks */

/* p50, p99 and max of `n` values (sorted in place), s. */
typedef struct {
  double p50, p99, max;
} pct_t;

static pct_t percentiles(double *v, long n) {
  pct_t p = {NAN, NAN, NAN};
  if (n == 0)
    return p;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  p.p50 = v[(n - 1) / 2];
  p.p99 = v[(n - 1) * 99 / 100];
  p.max = v[n - 1];
  return p;
}

/* The MIDI Clock's grid, judged twice (see the top):
 *   (a) the pulses' own grid, a line through the half beat of pulses
 *       around each onset: it follows their wandering closely, and the
 *       issue's 1 ms bars are asserted on it;
 *   (b) the grid a listener hears, a line through the beat of pulses
 *       before and after each onset: smoother, but it leans on a beat
 *       of pulses not sent when the onset was placed.
 * Each is also measured for the best possible follower (the pulses it
 * had HORIZON and a period before each onset, and the true tempo; see
 * fit_line): a wandering clock (jack_midi_clock -J) cannot be foreseen
 * closer than that.  With `best`, rnnjamd is judged against it on (a),
 * the grid "computed from the pulses' own timestamps": p99 at
 * most `best` times the best follower's, plus BEST_SLACK.  Not on (b):
 * rnnjamd follows the pulses themselves (what a drum machine stepping
 * on each pulse plays), which (b) smooths away. */
#define BEST_SLACK 0.0005
#define GRIDS 2
static const int grid_half[GRIDS] = {12, 24};
static const char *const grid_text[GRIDS] = {
    "(a) the pulses' own grid, a line through the half beat around each "
    "onset",
    "(b) the grid a listener hears, a line through the beat before and "
    "after each onset"};

static void check_grid(int midi, double tol, double min_share,
                       double p99_max, double best, int learn) {
  const char *name = midi ? "midi" : "jack";
  int grids = midi ? GRIDS : 1;
  double *abserr[GRIDS];
  double *absbest[GRIDS];
  long nbest[GRIDS] = {0, 0};
  long within2[GRIDS] = {0, 0};
  double bpm0 = 0;
  jack_nframes_t change = 0;
  int have_change = 0;
  long on_before = 0, n_before = 0, on_after = 0, n_after = 0;
  long n_relock = 0, skipped = 0, no_grid = 0, n = 0, n_first = 0;
  long last_on = -1;
  int shown = 0;
  double relock_last_off = -1; /* beats after the change */
  long i;
  int g;
  for (g = 0; g < GRIDS; g++) {
    abserr[g] = calloc(MAX_EVENTS, sizeof(double));
    absbest[g] = calloc(MAX_EVENTS, sizeof(double));
  }
  /* the tempo change: the first period whose tempo differs from the
   * first rolling one's by more than 1 % */
  for (i = 0; i < ntps; i++) {
    if (!tps[i].rolling || !tps[i].bbt)
      continue;
    if (bpm0 == 0) {
      bpm0 = tps[i].bpm;
    } else if (fabs(tps[i].bpm / bpm0 - 1.0) > 0.01) {
      change = tps[i].frame;
      have_change = 1;
      break;
    }
  }
  change_at = change;
  have_change_at = have_change;
  if (midi)
    number_pulses();
  for (i = 0; i < nevs; i++) {
    double e[GRIDS];
    double eb[GRIDS];
    double bpm = 0;
    double after;
    if (!is_on(&evs[i]))
      continue;
    /* an onset is a time: a chord's notes are one onset */
    if (last_on >= 0 && evs[i].frame == evs[last_on].frame)
      continue;
    last_on = i;
    if (learn && midi && npulses > 0 &&
        secs(evs[i].frame, pulses[0].frame) <
            24 * period_guess(pulses[0].frame)) {
      /* the first beat of pulses: the tempo is being learnt */
      n_first++;
      continue;
    }
    if (near_xrun(evs[i].frame)) {
      skipped++;
      continue;
    }
    for (g = 0; g < grids; g++)
      e[g] = midi ? midi_error(evs[i].frame, 6, grid_half[g],
                               g == 0 ? &bpm : NULL, &eb[g])
                  : jack_error(evs[i].frame, &bpm);
    if (isnan(e[0]) || (midi && isnan(e[1]))) {
      no_grid++;
      continue;
    }
    after = have_change ? secs(evs[i].frame, change) : -1;
    if (have_change && after >= 0 && after * bpm / 60.0 < 1.0) {
      /* the first beat at the new tempo: how fast it is re-learnt */
      n_relock++;
      if (fabs(e[0]) > tol)
        relock_last_off = after * bpm / 60.0;
      continue;
    }
    if (fabs(e[0]) > tol && shown++ < 10)
      printf("off the grid=%s: onset %.3f s into the recording, %+.3f ms, "
             "%.2f beats %s the change\n", name,
             secs(evs[i].frame, evs[0].frame), e[0] * 1e3,
             fabs(after) * bpm / 60.0, after < 0 ? "before" : "after");
    for (g = 0; g < grids; g++) {
      abserr[g][n] = fabs(e[g]);
      within2[g] += fabs(e[g]) <= 0.002;
      if (midi && !isnan(eb[g]))
        absbest[g][nbest[g]++] = fabs(eb[g]);
    }
    n++;
    if (have_change && after >= 0) {
      n_after++;
      on_after += fabs(e[0]) <= tol;
    } else {
      n_before++;
      on_before += fabs(e[0]) <= tol;
    }
  }
  printf("FIGURE grid=%s onsets judged %ld (before the change %ld, after "
         "%ld, first beat after it %ld); not judged: %ld in the first beat "
         "of the clock, %ld near an xrun (%ld xruns), %ld with no grid\n",
         name, n, n_before, n_after, n_relock, n_first, skipped, nxruns,
         no_grid);
  if (midi)
    printf("FIGURE grid=midi %s:\n", grid_text[0]);
  if (n_before)
    printf("FIGURE grid=%s share within %.1f ms before the change: %.4f "
           "(%ld/%ld)\n", name, tol * 1e3, (double)on_before / n_before,
           on_before, n_before);
  if (n_after)
    printf("FIGURE grid=%s share within %.1f ms after the change: %.4f "
           "(%ld/%ld)\n", name, tol * 1e3, (double)on_after / n_after,
           on_after, n_after);
  for (g = 0; g < grids && n; g++) {
    pct_t c = percentiles(abserr[g], n);
    pct_t o = percentiles(absbest[g], nbest[g]);
    const char *tag = midi ? (g == 0 ? " (a)" : " (b)") : "";
    if (g > 0)
      printf("FIGURE grid=midi %s:\n", grid_text[g]);
    printf("FIGURE grid=%s%s onset error ms: p50 %.3f p99 %.3f max %.3f; "
           "share within 2 ms %.4f\n", name, tag, c.p50 * 1e3, c.p99 * 1e3,
           c.max * 1e3, (double)within2[g] / n);
    if (midi && nbest[g])
      printf("FIGURE grid=midi%s the best possible follower (the pulses "
             "%.1f ms before each onset, the true tempo): p50 %.3f p99 "
             "%.3f max %.3f (%ld onsets)\n", tag,
             (HORIZON + period() / rate) * 1e3,
             o.p50 * 1e3, o.p99 * 1e3, o.max * 1e3, nbest[g]);
    if (best > 0 && midi && g == 0) {
      if (nbest[g] < 20)
        fail("grid=midi%s: only %ld onsets with a best follower", tag,
             nbest[g]);
      else if (c.p99 > best * o.p99 + BEST_SLACK)
        fail("grid=midi%s: onset error p99 %.3f ms > %.2f x the best "
             "follower's %.3f ms + %.1f ms", tag, c.p99 * 1e3, best,
             o.p99 * 1e3, BEST_SLACK * 1e3);
    }
    if (g == 0 && p99_max > 0 && c.p99 > p99_max)
      fail("grid=%s: onset error p99 %.3f ms > %.3f ms", name, c.p99 * 1e3,
           p99_max * 1e3);
  }
  if (have_change)
    printf("FIGURE grid=%s tempo change %.1f -> %.1f bpm: %ld onsets in "
           "the first beat after it, the last off the grid %s%.2f beats "
           "after it\n", name, bpm0, tp_at(change)->bpm, n_relock,
           relock_last_off < 0 ? "(none) " : "", relock_last_off < 0 ? 0
                                                     : relock_last_off);
  if (n_before < 20)
    fail("grid=%s: only %ld onsets judged before the change", name,
         n_before);
  else if ((double)on_before / n_before < min_share)
    fail("grid=%s: share on the grid before the change %.4f < %.2f", name,
         (double)on_before / n_before, min_share);
  if (have_change) {
    if (n_after < 20)
      fail("grid=%s: only %ld onsets judged after the change", name,
           n_after);
    else if ((double)on_after / n_after < min_share)
      fail("grid=%s: share on the grid after the change %.4f < %.2f", name,
           (double)on_after / n_after, min_share);
  }
  for (g = 0; g < GRIDS; g++) {
    free(abserr[g]);
    free(absbest[g]);
  }
}

/* The transport's stops: nothing starts while stopped (from one period
 * after the stop: the daemon hears of it in that period), the notes that
 * sounded at the stop all end within STOP_SILENT s (a relocation stops
 * the transport for a period or two only, so this is not cut at the
 * restart), and the first onset after each restart is on a beat. */
#define STOP_SILENT 0.05
static void check_stops(void) {
  long i;
  int stops = 0;
  int restarts = 0;
  for (i = 1; i < ntps; i++) {
    jack_nframes_t stop;
    jack_nframes_t go = 0;
    int sounding[128];
    long j;
    long k;
    int left = 0;
    double latest_off = 0;
    if (!(tps[i - 1].rolling && !tps[i].rolling))
      continue;
    stop = tps[i].frame;
    stops++;
    for (k = i + 1; k < ntps; k++)
      if (tps[k].rolling) {
        go = tps[k].frame;
        break;
      }
    memset(sounding, 0, sizeof sounding);
    for (j = 0; j < nevs; j++) {
      const ev_t *e = &evs[j];
      double after = secs(e->frame, stop);
      if (after > STOP_SILENT)
        break;
      if (is_on(e) && after <= 0) {
        sounding[e->b[1] & 127]++;
      } else if (is_on(e) && after > 0.02 &&
                 (!go || fdiff(e->frame, go) < 0)) {
        if (near_xrun(e->frame))
          printf("NOTE (not judged: an xrun) note-on %.3f s after a "
                 "stop\n", after);
        else
          fail("stops: note-on %.3f s after the transport stopped", after);
      } else if (is_off(e) && sounding[e->b[1] & 127] > 0) {
        sounding[e->b[1] & 127]--;
        if (after > latest_off)
          latest_off = after;
      }
    }
    /* and nothing starts later while stopped */
    for (; j < nevs && go; j++)
      if (fdiff(evs[j].frame, go) >= 0)
        break;
      else if (is_on(&evs[j]))
        fail("stops: note-on %.3f s after the transport stopped",
             secs(evs[j].frame, stop));
    for (j = 0; j < 128; j++)
      left += sounding[j];
    printf("FIGURE stop %d (%s): last note-off %.1f ms after it, %d "
           "note(s) still sounding %.0f ms after it\n", stops,
           go && secs(go, stop) < 0.1 ? "a relocation" : "stopped",
           latest_off * 1e3, left, STOP_SILENT * 1e3);
    if (left)
      fail("stops: %d note(s) left sounding after stop %d", left, stops);
    if (go) {
      for (j = 0; j < nevs; j++)
        if (is_on(&evs[j]) && fdiff(evs[j].frame, go) >= 0)
          break;
      if (j < nevs) {
        double e = jack_error(evs[j].frame, NULL);
        const tp_t *t = tp_at(evs[j].frame);
        double beat_err = NAN;
        if (t && t->bbt && t->rolling) {
          double beat = t->beat + secs(evs[j].frame, t->frame) * t->bpm /
                                      60.0;
          beat_err = (beat - floor(beat + 0.5)) * 60.0 / t->bpm;
        }
        restarts++;
        printf("FIGURE restart %d: first onset %.3f s after it, %.3f ms "
               "from a beat (%.3f ms from a 16th)\n", restarts,
               secs(evs[j].frame, go), beat_err * 1e3, e * 1e3);
        if (near_xrun(evs[j].frame))
          printf("NOTE (not judged: an xrun) restart %d\n", restarts);
        else if (!(fabs(beat_err) <= 1e-3))
          fail("stops: restart %d: first onset %.3f ms from a beat",
               restarts, beat_err * 1e3);
      }
    }
  }
  if (stops == 0)
    fail("stops: the transport never stopped");
}

/* The same on the MIDI Clock's own terms (rnnjamd with clock = midi
 * follows the clock, not the transport behind it): stops are its Stop
 * messages, restarts its Start and Continue, and the first onset after a
 * restart must be on a beat of the pulses' numbering. */
static void check_stops_midi(void) {
  long i;
  int stops = 0;
  int restarts = 0;
  number_pulses();
  for (i = 0; i < nevs; i++) {
    const ev_t *e = &evs[i];
    long j;
    if (e->port != 1)
      continue;
    if (e->b[0] == 0xFC) {
      int sounding[128];
      int left = 0;
      double latest_off = 0;
      jack_nframes_t go = 0;
      int have_go = 0;
      memset(sounding, 0, sizeof sounding);
      for (j = i + 1; j < nevs; j++)
        if (evs[j].port == 1 &&
            (evs[j].b[0] == 0xFA || evs[j].b[0] == 0xFB)) {
          go = evs[j].frame;
          have_go = 1;
          break;
        }
      stops++;
      for (j = 0; j < nevs; j++) {
        const ev_t *n = &evs[j];
        double after = secs(n->frame, e->frame);
        if (have_go && fdiff(n->frame, go) >= 0)
          break;
        if (is_on(n) && after <= 0) {
          sounding[n->b[1] & 127]++;
        } else if (is_on(n) && after > 0.02) {
          if (near_xrun(n->frame))
            printf("NOTE (not judged: an xrun) note-on %.3f s after "
                   "Stop\n", after);
          else
            fail("stops: note-on %.3f s after MIDI Stop", after);
        } else if (is_off(n) && sounding[n->b[1] & 127] > 0 &&
                   after <= STOP_SILENT) {
          sounding[n->b[1] & 127]--;
          if (after > latest_off)
            latest_off = after;
        }
      }
      for (j = 0; j < 128; j++)
        left += sounding[j];
      printf("FIGURE MIDI Stop %d: last note-off %.1f ms after it, %d "
             "note(s) still sounding %.0f ms after it\n", stops,
             latest_off * 1e3, left, STOP_SILENT * 1e3);
      if (left)
        fail("stops: %d note(s) left sounding after MIDI Stop %d", left,
             stops);
    } else if (e->b[0] == 0xFA || e->b[0] == 0xFB) {
      double err;
      for (j = i + 1; j < nevs; j++)
        if (is_on(&evs[j]))
          break;
      if (j == nevs)
        continue;
      restarts++;
      err = midi_error(evs[j].frame, 24, 12, NULL, NULL);
      printf("FIGURE MIDI %s %d: first onset %.3f s after it, %.3f ms "
             "from a beat of the pulses\n",
             e->b[0] == 0xFA ? "Start" : "Continue", restarts,
             secs(evs[j].frame, e->frame), err * 1e3);
      if (near_xrun(evs[j].frame))
        printf("NOTE (not judged: an xrun) restart %d\n", restarts);
      else if (!(fabs(err) <= 1e-3))
        fail("stops: after MIDI %s %d the first onset is %.3f ms from a "
             "beat", e->b[0] == 0xFA ? "Start" : "Continue", restarts,
             err * 1e3);
    }
  }
  if (stops == 0)
    fail("stops: no MIDI Stop was received");
}

static void dump(const char *path) {
  FILE *f = fopen(path, "w");
  long i;
  if (!f) {
    printf("ERROR: %s: %s\n", path, strerror(errno));
    return;
  }
  fprintf(f, "# rate %.0f\n", rate);
  for (i = 0; i < nevs; i++) {
    int k;
    fprintf(f, "ev %u %d", evs[i].frame, evs[i].port);
    for (k = 0; k < evs[i].len; k++)
      fprintf(f, " %02x", evs[i].b[k]);
    fputc('\n', f);
  }
  for (i = 0; i < ntps; i++)
    fprintf(f, "tp %u %d %d %.6f %.3f\n", tps[i].frame, tps[i].rolling,
            tps[i].bbt, tps[i].beat, tps[i].bpm);
  for (i = 0; i < nxruns; i++)
    fprintf(f, "xrun %u\n", xrun_at[i]);
  fclose(f);
}

/* Read a recording written by dump= back (jack-clock --replay FILE
 * CHECK...: the checks judged again without JACK).  Returns 0, or -1
 * with a message. */
static int load(const char *path) {
  FILE *f = fopen(path, "r");
  char line[256];
  long maxevs = MAX_EVENTS;
  if (!f) {
    printf("ERROR: %s: %s\n", path, strerror(errno));
    return -1;
  }
  maxtps = 1 << 20;
  tps = calloc((size_t)maxtps, sizeof *tps);
  evs = calloc((size_t)maxevs, sizeof *evs);
  if (!tps || !evs) {
    fclose(f);
    return -1;
  }
  rate = 48000;
  while (fgets(line, sizeof line, f)) {
    unsigned fr;
    int port;
    unsigned b[3];
    int k;
    if (sscanf(line, "# rate %lf", &rate) == 1)
      continue;
    k = sscanf(line, "ev %u %d %x %x %x", &fr, &port, &b[0], &b[1], &b[2]);
    if (k >= 3 && nevs < maxevs) {
      ev_t *e = &evs[nevs++];
      e->frame = fr;
      e->port = (uint8_t)port;
      e->len = (uint8_t)(k - 2);
      e->b[0] = (uint8_t)b[0];
      e->b[1] = (uint8_t)(k > 3 ? b[1] : 0);
      e->b[2] = (uint8_t)(k > 4 ? b[2] : 0);
      continue;
    }
    if (ntps < maxtps) {
      tp_t *t = &tps[ntps];
      if (sscanf(line, "tp %u %d %d %lf %lf", &fr, &t->rolling, &t->bbt,
                 &t->beat, &t->bpm) == 5) {
        t->frame = fr;
        ntps++;
        continue;
      }
    }
    if (sscanf(line, "xrun %u", &fr) == 1 && nxruns < MAX_XRUNS)
      xrun_at[nxruns++] = fr;
  }
  fclose(f);
  return 0;
}

static void check_tempo(double want, double pct) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  long n = 0;
  long i;
  double b;
  double bpm;
  jack_nframes_t first = 0;
  for (i = 0; i < nevs; i++) {
    double x;
    double y;
    if (evs[i].port != 1 || evs[i].b[0] != 0xF8)
      continue;
    if (n == 0)
      first = evs[i].frame;
    x = (double)n;
    y = secs(evs[i].frame, first);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    n++;
  }
  if (n < 48) {
    fail("tempo: only %ld clock pulses received", n);
    return;
  }
  b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  bpm = 60.0 / (b * 24.0);
  printf("FIGURE clock received: %ld pulses, %.3f bpm (wanted %.3f: %+.3f "
         "%%)\n", n, bpm, want, (bpm / want - 1) * 100);
  if (fabs(bpm / want - 1) * 100 > pct)
    fail("tempo: %.3f bpm received, %.3f wanted (more than %.2f %% off)",
         bpm, want, pct);
}

/* ------------------------------------------------------------ main */

static void link_or_die(const char *a, const char *b) {
  int rc = jack_connect(cl, a, b);
  if (rc != 0 && rc != EEXIST) {
    printf("ERROR: jack_connect(%s, %s): %d\n", a, b, rc);
    exit(99);
  }
}

int main(int argc, char **argv) {
  jack_status_t st;
  double seconds;
  double tol = 1e-3;
  double min_share = 0.99;
  double p99 = 0;
  double best = 0;
  int learn = 0;
  double pct = 0.5;
  struct timespec ts;
  int first = 4; /* the first check */
  int i;
  if (argc >= 3 && strcmp(argv[1], "--replay") == 0) {
    /* the checks on a recording: as though recorded now */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (load(argv[2]) != 0)
      return 99;
    first = 3;
    goto judge;
  }
  if (argc < 5) {
    fprintf(stderr, "usage: jack-clock NOTES_PORT CLOCK_PORT SECONDS "
                    "CHECK...\n       jack-clock --replay FILE "
                    "CHECK...\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  seconds = atof(argv[3]);
  cl = jack_client_open("rnj-clk", JackNoStartServer, &st);
  if (!cl) {
    printf("ERROR: jack_client_open(rnj-clk): status 0x%x\n", st);
    return 99;
  }
  rate = jack_get_sample_rate(cl);
  maxtps = (long)(seconds * rate / jack_get_buffer_size(cl)) + 16;
  tps = calloc((size_t)maxtps, sizeof *tps);
  evs = calloc(MAX_EVENTS, sizeof *evs);
  p_notes = jack_port_register(cl, "notes", JACK_DEFAULT_MIDI_TYPE,
                               JackPortIsInput, 0);
  p_clock = jack_port_register(cl, "clock", JACK_DEFAULT_MIDI_TYPE,
                               JackPortIsInput, 0);
  if (!tps || !evs || !p_notes || !p_clock) {
    printf("ERROR: set-up failed\n");
    return 99;
  }
  jack_set_process_callback(cl, process, NULL);
  jack_set_xrun_callback(cl, on_xrun, NULL);
  if (jack_activate(cl)) {
    printf("ERROR: jack_activate failed\n");
    return 99;
  }
  link_or_die(argv[1], "rnj-clk:notes");
  if (strcmp(argv[2], "none") != 0)
    link_or_die(argv[2], "rnj-clk:clock");
  printf("ready\n");
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  nanosleep(&ts, NULL);
  jack_deactivate(cl);
  printf("FIGURE recorded %.1f s: %ld MIDI events, %ld periods, %ld "
         "xruns\n", seconds, nevs, ntps, nxruns);

judge:
  for (i = first; i < argc; i++) {
    const char *s = argv[i];
    if (strncmp(s, "tol=", 4) == 0)
      tol = atof(s + 4) * 1e-3;
    else if (strncmp(s, "min=", 4) == 0)
      min_share = atof(s + 4);
    else if (strncmp(s, "p99=", 4) == 0)
      p99 = atof(s + 4) * 1e-3;
    else if (strncmp(s, "pct=", 4) == 0)
      pct = atof(s + 4);
    else if (strncmp(s, "best=", 5) == 0)
      best = atof(s + 5);
    else if (strcmp(s, "learn") == 0)
      learn = 1;
  }
  for (i = first; i < argc; i++) {
    const char *s = argv[i];
    if (strcmp(s, "grid=midi") == 0)
      check_grid(1, tol, min_share, p99, best, learn);
    else if (strcmp(s, "grid=jack") == 0)
      check_grid(0, tol, min_share, p99, best, learn);
    else if (strcmp(s, "stops") == 0)
      check_stops();
    else if (strcmp(s, "stops=midi") == 0)
      check_stops_midi();
    else if (strncmp(s, "dump=", 5) == 0)
      dump(s + 5);
    else if (strncmp(s, "tempo=", 6) == 0)
      check_tempo(atof(s + 6), pct);
    else if (strncmp(s, "tol=", 4) && strncmp(s, "min=", 4) &&
             strncmp(s, "p99=", 4) && strncmp(s, "pct=", 4) &&
             strncmp(s, "dump=", 5) && strncmp(s, "best=", 5) &&
             strcmp(s, "learn") != 0) {
      printf("ERROR: unknown check %s\n", s);
      return 2;
    }
  }
  if (cl)
    jack_client_close(cl);
  free(tps);
  free(evs);
  free(pulses);
  printf("%d failure(s)\n", fails);
  return fails ? 1 : 0;
}
