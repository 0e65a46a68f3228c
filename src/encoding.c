/* encoding: the v2 model's bins, phase and time inputs (see encoding.h).
 *
 * Every boundary follows one rule written once: a value becomes a count
 * of 1/24 beats by llround (half away from zero), and the count picks the
 * bin.  Values that llround cannot take (NaN, infinities, counts past
 * 2^53) are decided before it is called, so nothing here is undefined for
 * any double.
 */
#include <math.h>
#include <stdio.h>

#include "rnnjam/encoding.h"

#define FINE 96 /* 1/24-beat bins up to 4 beats */

/* Centres of the coarse duration bins, beats. */
static const double coarse[6] = {5, 6, 8, 10, 12, 16};

int rnj_encoding_step_bin(double beats) {
  double x = beats > 0 ? beats * RNJ_ENCODING_PHASES : 0; /* NaN -> 0 */
  long long k;
  if (x >= FINE + 0.5) /* +Inf too */
    return FINE + 1;
  k = llround(x);
  return k <= FINE ? (int)k : FINE + 1;
}

int rnj_encoding_duration_bin(double beats) {
  double x = beats > 0 ? beats * RNJ_ENCODING_PHASES : 0;
  long long k;
  int i;
  if (x < FINE + 0.5) {
    k = llround(x);
    if (k < 1)
      k = 1;
    if (k <= FINE)
      return (int)k - 1;
  }
  /* Past 4 beats: the first coarse bin whose upper boundary (the
   * geometric mean with the next centre) is not below the value. */
  for (i = 0; i < 5; i++)
    if (beats <= sqrt(coarse[i] * coarse[i + 1]))
      return FINE + i;
  return FINE + 5;
}

int rnj_encoding_velocity_bin(int velocity) {
  int v = velocity < 0 ? 0 : velocity > 127 ? 127 : velocity;
  return v / 4;
}

int rnj_encoding_phase(double onset_beats) {
  double x = onset_beats * RNJ_ENCODING_PHASES;
  long long k;
  long long r;
  /* 24 * 2^48 < 2^53: below it every multiple of 1/24 rounds right. */
  if (!(fabs(onset_beats) < 0x1p48))
    return 0;
  k = llround(x);
  r = k % RNJ_ENCODING_PHASES;
  return (int)(r < 0 ? r + RNJ_ENCODING_PHASES : r);
}

float rnj_encoding_time_input(double beats) {
  double x = beats > 0 ? beats : 0;
  if (x > RNJ_ENCODING_TIME_MAX)
    x = RNJ_ENCODING_TIME_MAX;
  return (float)log1p(x);
}

double rnj_encoding_step_centre(int bin) {
  if (bin < 0)
    bin = 0;
  if (bin > FINE)
    return coarse[1]; /* "over 4 beats": 6 */
  return (double)bin / RNJ_ENCODING_PHASES;
}

double rnj_encoding_duration_centre(int bin) {
  if (bin < 0)
    bin = 0;
  if (bin < FINE)
    return (double)(bin + 1) / RNJ_ENCODING_PHASES;
  if (bin > FINE + 5)
    bin = FINE + 5;
  return coarse[bin - FINE];
}

int rnj_encoding_velocity_centre(int bin) {
  int v;
  if (bin < 0)
    bin = 0;
  if (bin >= RNJ_ENCODING_VELOCITY_BINS)
    bin = RNJ_ENCODING_VELOCITY_BINS - 1;
  v = 4 * bin + 2;
  return v > 127 ? 127 : v;
}

/* "%.9g" of each centre, comma-separated; snprintf's contract. */
static int bins_str(char *buf, int len, double (*centre)(int), int n) {
  int total = 0;
  int i;
  for (i = 0; i < n; i++) {
    int room = len - total > 0 ? len - total : 0;
    total += snprintf(room ? buf + total : NULL, (size_t)room, "%s%.9g",
                      i ? "," : "", centre(i));
  }
  if (len > 0 && n == 0)
    buf[0] = 0;
  return total;
}

int rnj_encoding_step_bins_str(char *buf, int len) {
  return bins_str(buf, len, rnj_encoding_step_centre,
                  RNJ_ENCODING_STEP_BINS);
}

int rnj_encoding_duration_bins_str(char *buf, int len) {
  return bins_str(buf, len, rnj_encoding_duration_centre,
                  RNJ_ENCODING_DURATION_BINS);
}
