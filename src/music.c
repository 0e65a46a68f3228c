/* music: key, grid, tempo, chords and the rest of a continuation's
 * measures (the definitions are in include/rnnjam/music.h).
 *
 * Every function reads its notes and allocates at most a copy of their
 * steps (the median); nothing here is meant for a real-time thread.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rnnjam/music.h"

/* Krumhansl and Kessler's probe-tone ratings (1982), from the tonic up. */
static const double kk_major[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09,
                                    2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
static const double kk_minor[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53,
                                    2.54, 4.75, 3.98, 2.69, 3.34, 3.17};

/* Scale degrees as 12-bit masks, bit i = i semitones above the tonic. */
#define MAJOR_MASK 0xab5u /* 0 2 4 5 7 9 11 */
#define MINOR_MASK 0x5adu /* 0 2 3 5 7 8 10 */

/* Correlations closer than this are equal (see rnj_music_key_of). */
#define TIE 1e-12

static double pearson(const double *x, const double *y) {
  double mx = 0;
  double my = 0;
  double sxy = 0;
  double sxx = 0;
  double syy = 0;
  int i;
  for (i = 0; i < 12; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= 12;
  my /= 12;
  for (i = 0; i < 12; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / sqrt(sxx * syy);
}

int rnj_music_key_of(const double pc[12], rnj_key_t *key) {
  rnj_key_t best = {0, 0, -2};
  int flat = 1;
  int mode;
  int i;

  for (i = 0; i < 12; i++) {
    if (!(pc[i] >= 0) || !isfinite(pc[i]))
      return RNJ_EINVAL;
    if (pc[i] != pc[0])
      flat = 0;
  }
  if (flat)
    return RNJ_EINVAL;
  for (mode = 0; mode < 2; mode++) {
    const double *prof = mode ? kk_minor : kk_major;
    int tonic;
    for (tonic = 0; tonic < 12; tonic++) {
      double rot[12];
      double r;
      /* The profile moved to this tonic: rot[pc] rates pc. */
      for (i = 0; i < 12; i++)
        rot[(tonic + i) % 12] = prof[i];
      r = pearson(pc, rot);
      /* A histogram symmetric under a rotation correlates equally with
       * two keys, up to the rounding of sums taken in another order:
       * within TIE they are a tie, and the earlier candidate stays. */
      if (r > best.r + TIE) {
        best.tonic = tonic;
        best.minor = mode;
        best.r = r;
      }
    }
  }
  *key = best;
  return 0;
}

int rnj_music_key(const rnj_note_t *v, size_t n, rnj_key_t *key) {
  double pc[12] = {0};
  double total = 0;
  size_t i;

  for (i = 0; i < n; i++) {
    double d = v[i].end - v[i].start;
    if (d > 0 && isfinite(d)) {
      pc[v[i].pitch % 12] += d;
      total += d;
    }
  }
  if (total == 0)
    for (i = 0; i < n; i++)
      pc[v[i].pitch % 12] += 1;
  return rnj_music_key_of(pc, key);
}

int rnj_music_in_scale(const rnj_key_t *key, int pitch) {
  unsigned mask = key->minor ? MINOR_MASK : MAJOR_MASK;
  int degree = ((pitch - key->tonic) % 12 + 12) % 12;
  return (int)((mask >> degree) & 1u);
}

const char *rnj_music_key_name(const rnj_key_t *key) {
  static const char *const names[24] = {
      "C major",  "C# major", "D major",  "Eb major", "E major",
      "F major",  "F# major", "G major",  "Ab major", "A major",
      "Bb major", "B major",  "C minor",  "C# minor", "D minor",
      "Eb minor", "E minor",  "F minor",  "F# minor", "G minor",
      "G# minor", "A minor",  "Bb minor", "B minor"};
  if (key->tonic < 0 || key->tonic > 11)
    return "no key";
  return names[(key->minor ? 12 : 0) + key->tonic];
}

double rnj_music_in_key_share(const rnj_note_t *v, size_t n,
                              const rnj_key_t *key) {
  size_t in = 0;
  size_t i;
  if (!n)
    return NAN;
  for (i = 0; i < n; i++)
    in += (size_t)rnj_music_in_scale(key, v[i].pitch);
  return (double)in / (double)n;
}

double rnj_music_grid_share(const rnj_note_t *v, size_t n, double anchor,
                            double period, double tol) {
  size_t on = 0;
  size_t i;
  if (!n || !(period > 0))
    return NAN;
  for (i = 0; i < n; i++) {
    double d = v[i].start - anchor;
    double off = d - nearbyint(d / period) * period;
    on += fabs(off) <= tol;
  }
  return (double)on / (double)n;
}

static int is_zero(double step, double zero) {
  return step == 0 || step < zero;
}

double rnj_music_chord_share(const rnj_note_t *v, size_t n,
                             double prev_start, double zero) {
  size_t steps = 0;
  size_t zeros = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double prev = i ? v[i - 1].start : prev_start;
    if (isnan(prev))
      continue;
    steps++;
    zeros += (size_t)is_zero(v[i].start - prev, zero);
  }
  return steps ? (double)zeros / (double)steps : NAN;
}

double rnj_music_small_interval_share(const rnj_note_t *v, size_t n,
                                      int prev_pitch, int max_interval) {
  size_t pairs = 0;
  size_t small = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    int prev = i ? v[i - 1].pitch : prev_pitch;
    if (prev < 0)
      continue;
    pairs++;
    small += abs((int)v[i].pitch - prev) <= max_interval;
  }
  return pairs ? (double)small / (double)pairs : NAN;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return (x > y) - (x < y);
}

int rnj_music_median_step(const rnj_note_t *v, size_t n, double prev_start,
                          double zero, double *out) {
  double *s;
  size_t k = 0;
  size_t i;

  *out = NAN;
  if (!n)
    return 0;
  s = rnj__malloc(n * sizeof *s);
  if (!s)
    return RNJ_ENOMEM;
  for (i = 0; i < n; i++) {
    double prev = i ? v[i - 1].start : prev_start;
    double step;
    if (isnan(prev))
      continue;
    step = v[i].start - prev;
    if (!is_zero(step, zero))
      s[k++] = step;
  }
  if (k) {
    qsort(s, k, sizeof *s, cmp_double);
    *out = k % 2 ? s[k / 2] : 0.5 * (s[k / 2 - 1] + s[k / 2]);
  }
  rnj__free(s);
  return 0;
}

int rnj_music_pitch_classes(const rnj_note_t *v, size_t n) {
  unsigned seen = 0;
  int count = 0;
  size_t i;
  for (i = 0; i < n; i++)
    seen |= 1u << (v[i].pitch % 12);
  for (i = 0; i < 12; i++)
    count += (seen >> i) & 1u;
  return count;
}

void rnj_music_velocity_spread(const rnj_note_t *v, size_t n, double *sd,
                               double *range) {
  double sum = 0;
  double sq = 0;
  int lo = 128;
  int hi = -1;
  size_t k = 0;
  size_t i;
  double mean;

  for (i = 0; i < n; i++) {
    int x = v[i].velocity;
    if (!x)
      continue;
    sum += x;
    k++;
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
  if (!k) {
    *sd = NAN;
    *range = NAN;
    return;
  }
  mean = sum / (double)k;
  for (i = 0; i < n; i++)
    if (v[i].velocity)
      sq += (v[i].velocity - mean) * (v[i].velocity - mean);
  *sd = sqrt(sq / (double)k);
  *range = hi - lo;
}

int rnj_music_seed_init(rnj_music_seed_t *seed, const rnj_note_t *v,
                        size_t n, double bpm, double zero) {
  int rc;
  if (!n || !(bpm > 0) || !isfinite(bpm))
    return RNJ_EINVAL;
  if ((rc = rnj_music_key(v, n, &seed->key)) < 0)
    return rc;
  seed->last_start = v[n - 1].start;
  /* The beat the last onset falls in: a whole number of beats, so an
   * onset exact to the tick is on it (1e-9 absorbs the division). */
  seed->grid_anchor =
      v[n - 1].start - (v[n - 1].start_beat -
                        floor(v[n - 1].start_beat + 1e-9)) * 60.0 / bpm;
  seed->last_pitch = v[n - 1].pitch;
  seed->bpm = bpm;
  return rnj_music_median_step(v, n, NAN, zero, &seed->median_step);
}

int rnj_music_measure(rnj_music_stats_t *out, const rnj_music_seed_t *seed,
                      const rnj_note_t *v, size_t n, double zero,
                      double tol) {
  double med;
  int rc;

  memset(out, 0, sizeof *out);
  out->n = n;
  out->in_key = rnj_music_in_key_share(v, n, &seed->key);
  out->grid8 =
      rnj_music_grid_share(v, n, seed->grid_anchor, 30.0 / seed->bpm, tol);
  out->grid16 =
      rnj_music_grid_share(v, n, seed->grid_anchor, 15.0 / seed->bpm, tol);
  if ((rc = rnj_music_median_step(v, n, seed->last_start, zero, &med)) < 0)
    return rc;
  out->tempo_ratio = med / seed->median_step;
  out->chords = rnj_music_chord_share(v, n, seed->last_start, zero);
  out->pitch_classes = rnj_music_pitch_classes(v, n);
  rnj_music_velocity_spread(v, n, &out->velocity_sd, &out->velocity_range);
  out->small_intervals =
      rnj_music_small_interval_share(v, n, seed->last_pitch, 7);
  return 0;
}
