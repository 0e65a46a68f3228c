/* tempo: the player's tempo and beat phase from onsets (see tempo.h).
 *
 * Why this shape.  Interval clustering (Dixon 2001) finds the pulses a
 * phrase is built from without knowing where its beats fall; it gives
 * the candidates, each good to a cluster's width (25 ms, 5-10 % of a
 * beat).  Which candidate is the beat is decided by how many of the
 * phrase's intervals it explains as whole 8th notes: the 8th-note grid
 * of the right tempo explains the 8ths, quarters and dotted quarters of a
 * jig, a grid a third slower or faster explains few of them.  Octaves
 * explain the same intervals (a twice-faster grid explains everything the
 * slower one does), so among the candidates that explain nearly as much
 * as the best, the slowest is taken: the beat whose 8th notes are the
 * player's own shortest common notes.  Of 8th notes at 80 bpm and quarter
 * notes at 160 (the same onsets), it takes 80, whose 8th grid is the
 * grid the player plays on; 160's would be the player's 16ths, and an
 * answer quantized to its 8ths would fall between the player's notes.
 * (A phrase of quarter notes alone is taken at half its tempo, or its
 * own where that would fall under the range: its 8th grid is then the
 * player's quarters, which every answer note on it still shares.)  The
 * prior only chooses among candidates as slow as that one (the same
 * beat reached through different clusters).  The tempo is then refined by
 * fitting the
 * grid to the onsets themselves (least squares over the matched ones),
 * which over a phrase of a dozen notes is good to a fraction of a
 * percent even with 10 ms of human timing in every onset.
 *
 * Bounded: at most RNJ_TEMPO_MAX_ONSETS events, so 2016 intervals,
 * MAX_CLUSTERS clusters and 3 candidates per cluster; each step is a few
 * passes over those.  Everything is on the stack.
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "rnnjam/err.h"
#include "rnnjam/tempo.h"

/* Clusters kept; further intervals that would start a new one are
 * dropped.  Intervals of 70 ms .. 2.5 s in clusters 25 ms wide need
 * about 100 at most. */
#define MAX_CLUSTERS 128
/* A candidate explaining at least this share of the best candidate's
 * score is an equally good explanation (an octave of it, typically); the
 * slowest of them is taken. */
#define NEAR_BEST 0.9
/* Candidates within this share of the slowest one are the same beat
 * (folded from different clusters): the prior decides between them. */
#define SAME_BEAT 0.05
/* An interval counts as k 8th notes when it is within this share of an
 * 8th of k of them (and within the cluster width): 15 % keeps 16th notes
 * (50 %) and triplets (33 %) out. */
#define EXPLAIN_TOL 0.15
/* An event is on the fitted grid within this share of an 8th: 12 % is
 * 30 ms at 120 bpm, three times the timing of a careful player, and keeps
 * 16ths and triplets off. */
#define ON_GRID 0.12
/* The least-squares fit may move the 8th by at most this share (else the
 * matches were wrong and the cluster's value is kept). */
#define FIT_RANGE 0.08
/* Rounds of match-and-fit; the matches settle in two. */
#define FIT_ROUNDS 3

typedef struct {
  double centre; /* s */
  double count;
} cluster_t;

static int cluster_intervals(const double *ev, int m, cluster_t *cl) {
  int n = 0;
  int i;
  int j;
  int k;
  for (i = 0; i < m; i++)
    for (j = i + 1; j < m; j++) {
      double ioi = ev[j] - ev[i];
      int best = -1;
      double bestd = RNJ_TEMPO_CLUSTER_WIDTH;
      if (ioi > RNJ_TEMPO_MAX_IOI)
        break; /* the events are sorted: only longer ones follow */
      if (ioi < RNJ_TEMPO_MIN_IOI)
        continue;
      /* the nearest centre by absolute distance */
      for (k = 0; k < n; k++) {
        double d = fabs(cl[k].centre - ioi);
        if (d < bestd) {
          bestd = d;
          best = k;
        }
      }
      if (best >= 0) {
        cluster_t *c = &cl[best];
        c->centre = (c->centre * c->count + ioi) / (c->count + 1.0);
        c->count += 1.0;
      } else if (n < MAX_CLUSTERS) {
        cl[n].centre = ioi;
        cl[n].count = 1.0;
        n++;
      }
    }
  /* Means drift as intervals join: merge clusters that came too close
   * (each merge removes one, so this ends). */
  for (i = 0; i < n; i++)
    for (j = i + 1; j < n; j++)
      if (fabs(cl[i].centre - cl[j].centre) < RNJ_TEMPO_CLUSTER_WIDTH) {
        double c = cl[i].count + cl[j].count;
        cl[i].centre =
            (cl[i].centre * cl[i].count + cl[j].centre * cl[j].count) / c;
        cl[i].count = c;
        cl[j] = cl[--n];
        j = i; /* rescan from i: its centre moved */
      }
  return n;
}

int rnj__tempo_clusters(const double *ev, int m, double *centre,
                        double *count, int max) {
  cluster_t cl[MAX_CLUSTERS];
  int n;
  int i;
  if (m > RNJ_TEMPO_MAX_ONSETS)
    m = RNJ_TEMPO_MAX_ONSETS;
  n = cluster_intervals(ev, m, cl);
  for (i = 0; i < n && i < max; i++) {
    centre[i] = cl[i].centre;
    count[i] = cl[i].count;
  }
  return n;
}

/* How many of the clustered intervals a beat of `period` s explains as
 * whole 8th notes, each weighted by how closely. */
static double explained(const cluster_t *cl, int n, double period) {
  double g = period / 2.0;
  double tol = fmin(RNJ_TEMPO_CLUSTER_WIDTH, EXPLAIN_TOL * g);
  double s = 0.0;
  int i;
  for (i = 0; i < n; i++) {
    double k = floor(cl[i].centre / g + 0.5);
    double d;
    if (k < 1.0)
      continue;
    d = fabs(cl[i].centre - k * g);
    if (d < tol)
      s += cl[i].count * (1.0 - d / tol);
  }
  return s;
}

static double min_period(void) { return 60.0 / RNJ_TEMPO_MAX_BPM; }
static double max_period(void) { return 60.0 / RNJ_TEMPO_MIN_BPM; }

static int in_range(double p) {
  return p >= min_period() * (1 - 1e-9) && p <= max_period() * (1 + 1e-9);
}

/* The beat period: every cluster folded into the range by octaves, the
 * best explanations kept, the slowest of them taken (its near equals: the
 * one nearest the prior). */
static double choose_period(const cluster_t *cl, int n, double prior_bpm) {
  double cand[3 * MAX_CLUSTERS];
  double score[3 * MAX_CLUSTERS];
  int nc = 0;
  double best = 0.0;
  double chosen = 0.0;
  double chosen_d = HUGE_VAL;
  double slowest = 0.0;
  double prior = prior_bpm > 0 ? prior_bpm : RNJ_TEMPO_PREFERRED_BPM;
  int i;
  for (i = 0; i < n; i++) {
    double p = cl[i].centre;
    double q[3];
    int j;
    while (p < min_period())
      p *= 2.0;
    while (p > max_period())
      p /= 2.0;
    q[0] = p;
    q[1] = p * 2.0;
    q[2] = p / 2.0;
    for (j = 0; j < 3; j++)
      if (in_range(q[j])) {
        cand[nc] = q[j];
        score[nc] = explained(cl, n, q[j]);
        if (score[nc] > best)
          best = score[nc];
        nc++;
      }
  }
  if (best <= 0.0)
    return 0.0;
  for (i = 0; i < nc; i++)
    if (score[i] >= NEAR_BEST * best && cand[i] > slowest)
      slowest = cand[i];
  for (i = 0; i < nc; i++) {
    double d;
    if (score[i] < NEAR_BEST * best || cand[i] < (1 - SAME_BEAT) * slowest)
      continue;
    d = fabs(log(60.0 / cand[i] / prior));
    if (d < chosen_d) {
      chosen_d = d;
      chosen = cand[i];
    }
  }
  return chosen;
}

/* Grid points k: t = phase + k * g; the distance of `t` from the grid. */
static double off_grid(double t, double phase, double g, double *k) {
  double r = (t - phase) / g;
  *k = floor(r + 0.5);
  return fabs(r - *k) * g;
}

/* Fit an 8th-note grid of spacing near `g` to the events: the phase that
 * puts the most events near the grid, then least squares of period and
 * phase over the events it matches.  Returns the events on the grid. */
static int fit_grid(const double *ev, int m, double *g_io, double *phase_io) {
  double g = *g_io;
  double tol = ON_GRID * g;
  double best = -1.0;
  double phase = ev[0];
  int matched = 0;
  int pass;
  int i;
  int j;
  for (i = 0; i < m; i++) {
    double s = 0.0;
    for (j = 0; j < m; j++) {
      double k;
      double d = off_grid(ev[j], ev[i], g, &k);
      if (d < tol)
        s += 1.0 - d / tol;
    }
    if (s > best) {
      best = s;
      phase = ev[i];
    }
  }
  for (pass = 0; pass < FIT_ROUNDS; pass++) {
    double sk = 0.0;
    double st = 0.0;
    double skk = 0.0;
    double skt = 0.0;
    double kmin = HUGE_VAL;
    double kmax = -HUGE_VAL;
    double det;
    double ng;
    matched = 0;
    for (j = 0; j < m; j++) {
      double k;
      if (off_grid(ev[j], phase, g, &k) >= tol)
        continue;
      matched++;
      sk += k;
      st += ev[j];
      skk += k * k;
      skt += k * ev[j];
      kmin = fmin(kmin, k);
      kmax = fmax(kmax, k);
    }
    if (matched < 3 || kmax <= kmin)
      break;
    det = matched * skk - sk * sk;
    ng = (matched * skt - sk * st) / det;
    if (!(fabs(ng / g - 1.0) < FIT_RANGE))
      break;
    phase = (st - ng * sk) / matched;
    g = ng;
  }
  *g_io = g;
  *phase_io = phase;
  /* the final count, on the final grid */
  matched = 0;
  for (j = 0; j < m; j++) {
    double k;
    matched += off_grid(ev[j], phase, g, &k) < ON_GRID * g;
  }
  return matched;
}

int rnj_tempo_estimate(const double *onsets, int n, double prior_bpm,
                       rnj_tempo_t *out) {
  double ev[RNJ_TEMPO_MAX_ONSETS];
  cluster_t cl[MAX_CLUSTERS];
  int m = 0;
  int nclusters;
  int matched;
  int even = 0;
  int i;
  double period;
  double g;
  double phase;
  double beat;

  if (!out)
    return RNJ_EINVAL;
  memset(out, 0, sizeof *out);
  if (n <= 0)
    return RNJ_ENODATA;
  if (!onsets)
    return RNJ_EINVAL;
  if (n > RNJ_TEMPO_MAX_ONSETS) {
    onsets += n - RNJ_TEMPO_MAX_ONSETS;
    n = RNJ_TEMPO_MAX_ONSETS;
  }
  for (i = 0; i < n; i++) {
    if (!isfinite(onsets[i]) || (i > 0 && onsets[i] < onsets[i - 1]))
      return RNJ_EINVAL;
    /* a chord is one event, at its first note */
    if (m == 0 || onsets[i] - ev[m - 1] >= RNJ_TEMPO_CHORD)
      ev[m++] = onsets[i];
  }
  if (m < RNJ_TEMPO_MIN_EVENTS)
    return RNJ_ENODATA;

  nclusters = cluster_intervals(ev, m, cl);
  period = choose_period(cl, nclusters, prior_bpm);
  if (period <= 0.0)
    return RNJ_ENODATA;
  g = period / 2.0;
  matched = fit_grid(ev, m, &g, &phase);

  /* The beat is the half of the 8th grid that holds more events (a tie
   * keeps the phase the fit found, an event's own). */
  for (i = 0; i < m; i++) {
    double k;
    if (off_grid(ev[i], phase, g, &k) < ON_GRID * g)
      even += fmod(fabs(k), 2.0) < 0.5 ? 1 : -1;
  }
  if (even < 0)
    phase += g;
  period = 2.0 * g;
  /* The fit may have nudged the beat just out of the range. */
  while (period < min_period())
    period *= 2.0;
  while (period > max_period())
    period /= 2.0;
  beat = phase + period * floor((ev[m - 1] - phase) / period + 0.5);

  out->bpm = 60.0 / period;
  out->beat_time = beat;
  out->confidence = (double)matched / m;
  out->events = m;
  return 0;
}
