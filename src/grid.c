/* grid: where quantized notes land (see grid.h for the definitions).
 *
 * A unit is kept as a ratio of small integers (1/3 beat for 1/8t) so that
 * the tick functions are exact: a grid point in ticks is one rounding of
 * an exact rational, never an accumulation of rounded steps, and the
 * products are taken in 128 bits so no tick a file can hold overflows.
 * The beat functions use doubles, which hold any grid point to far below
 * a microsecond for any musical length.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rnnjam/grid.h"

/* Two floating positions closer than this many beats are the same point
 * (a beat computed from times is rarely exact: 3.9999999999 is beat 4). */
#define SAME_POINT 1e-9

typedef struct {
  const char *name;
  int num; /* the unit is num / den beats */
  int den;
  int straight; /* pairs of units: swing applies */
} unit_t;

static const unit_t units[] = {
    [RNJ_GRID_OFF] = {"off", 0, 1, 0},  [RNJ_GRID_4] = {"1/4", 1, 1, 1},
    [RNJ_GRID_8] = {"1/8", 1, 2, 1},    [RNJ_GRID_16] = {"1/16", 1, 4, 1},
    [RNJ_GRID_8T] = {"1/8t", 1, 3, 0},  [RNJ_GRID_16T] = {"1/16t", 1, 6, 0},
};
#define NUNITS ((int)(sizeof units / sizeof units[0]))

static int valid_unit(int unit) { return unit > RNJ_GRID_OFF && unit < NUNITS; }

/* The swing that applies, percent (0 on triplet grids, see grid.h). */
static int swing_of(const rnj_grid_t *g) {
  return units[g->unit].straight ? g->swing : 0;
}

int rnj_grid_init(rnj_grid_t *g, int unit, int swing) {
  g->unit = RNJ_GRID_OFF;
  g->swing = 0;
  if (unit < 0 || unit >= NUNITS || swing < 0 || swing > RNJ_GRID_MAX_SWING)
    return RNJ_EINVAL;
  g->unit = unit;
  g->swing = swing;
  return 0;
}

double rnj_grid_unit_beats(int unit) {
  if (!valid_unit(unit))
    return 0.0;
  return (double)units[unit].num / units[unit].den;
}

/* ------------------------------------------------------------ beats */

double rnj_grid_point(const rnj_grid_t *g, int64_t k) {
  double u;
  if (!valid_unit(g->unit))
    return (double)k;
  u = rnj_grid_unit_beats(g->unit);
  if (k & 1)
    return ((double)k + swing_of(g) / 100.0) * u;
  return (double)k * u;
}

int64_t rnj_grid_index(const rnj_grid_t *g, double beat) {
  double u;
  double pair;
  double r;
  double mid;
  int64_t m;
  if (!valid_unit(g->unit) || !isfinite(beat))
    return 0;
  /* Within a pair of units the points are 0, (1 + s) u and 2 u; pick the
   * nearest, the earlier on a tie. */
  u = rnj_grid_unit_beats(g->unit);
  pair = 2.0 * u;
  m = (int64_t)floor(beat / pair);
  r = beat - (double)m * pair;
  mid = (1.0 + swing_of(g) / 100.0) * u;
  if (r <= mid - r)
    return 2 * m;
  if (r - mid <= pair - r)
    return 2 * m + 1;
  return 2 * m + 2;
}

double rnj_grid_quantize(const rnj_grid_t *g, double beat) {
  if (!valid_unit(g->unit))
    return beat;
  return rnj_grid_point(g, rnj_grid_index(g, beat));
}

double rnj_grid_ceil(const rnj_grid_t *g, double beat) {
  int64_t k;
  if (!valid_unit(g->unit))
    return beat;
  k = rnj_grid_index(g, beat);
  if (rnj_grid_point(g, k) < beat - SAME_POINT)
    k++;
  return rnj_grid_point(g, k);
}

/* Whole units in a duration: at least one. */
static int64_t units_in(double duration, double u) {
  double n = floor(duration / u + 0.5);
  return n < 1.0 || !isfinite(n) ? 1 : (int64_t)n;
}

void rnj_grid_note(const rnj_grid_t *g, double start, double end,
                   double *qstart, double *qend) {
  int64_t k;
  if (!valid_unit(g->unit)) {
    *qstart = start;
    *qend = end;
    return;
  }
  k = rnj_grid_index(g, start);
  *qstart = rnj_grid_point(g, k);
  *qend = rnj_grid_point(
      g, k + units_in(end - start, rnj_grid_unit_beats(g->unit)));
}

/* ------------------------------------------------------------ ticks */

/* floor(a / b) for b > 0, any sign of a. */
static __int128 floor_div(__int128 a, __int128 b) {
  __int128 q = a / b;
  if ((a % b != 0) && (a < 0))
    q--;
  return q;
}

int64_t rnj_grid_point_ticks(const rnj_grid_t *g, int64_t k,
                             int ticks_per_quarter) {
  const unit_t *u;
  __int128 num;
  __int128 den;
  if (!valid_unit(g->unit) || ticks_per_quarter <= 0)
    return k;
  u = &units[g->unit];
  /* (k + s/100) * tpq * num / den, rounded half up:
   * floor((2 * N + D) / (2 * D)) with N / D the exact point. */
  num = ((__int128)k * 100 + ((k & 1) ? swing_of(g) : 0)) *
        ticks_per_quarter * u->num;
  den = (__int128)100 * u->den;
  return (int64_t)floor_div(2 * num + den, 2 * den);
}

/* The index of the tick point nearest to `tick`, exactly: the double
 * estimate can only be off by one point either way. */
static int64_t index_ticks(const rnj_grid_t *g, int64_t tick, int tpq) {
  int64_t k0 = rnj_grid_index(g, (double)tick / tpq);
  int64_t best = k0 - 1;
  int64_t bestd = llabs(rnj_grid_point_ticks(g, best, tpq) - tick);
  int64_t k;
  for (k = k0; k <= k0 + 1; k++) {
    int64_t d = llabs(rnj_grid_point_ticks(g, k, tpq) - tick);
    if (d < bestd) {
      best = k;
      bestd = d;
    }
  }
  return best;
}

int64_t rnj_grid_quantize_ticks(const rnj_grid_t *g, int64_t tick,
                                int ticks_per_quarter) {
  if (!valid_unit(g->unit) || ticks_per_quarter <= 0)
    return tick;
  return rnj_grid_point_ticks(
      g, index_ticks(g, tick, ticks_per_quarter), ticks_per_quarter);
}

void rnj_grid_note_ticks(const rnj_grid_t *g, int64_t start, int64_t end,
                         int ticks_per_quarter, int64_t *qstart,
                         int64_t *qend) {
  int64_t k;
  if (!valid_unit(g->unit) || ticks_per_quarter <= 0) {
    *qstart = start;
    *qend = end > start ? end : start + 1;
    return;
  }
  k = index_ticks(g, start, ticks_per_quarter);
  *qstart = rnj_grid_point_ticks(g, k, ticks_per_quarter);
  *qend = rnj_grid_point_ticks(
      g,
      k + units_in((double)(end - start) / ticks_per_quarter,
                   rnj_grid_unit_beats(g->unit)),
      ticks_per_quarter);
  /* Only a division too coarse for the grid (a unit under a tick) can
   * put two points on one tick. */
  if (*qend <= *qstart)
    *qend = *qstart + 1;
}

/* ------------------------------------------------------------ names */

/* `s` equals `word` ignoring case and surrounding blanks. */
static int same_word(const char *s, const char *word) {
  size_t n = strlen(word);
  while (*s == ' ' || *s == '\t')
    s++;
  if (strncasecmp(s, word, n) != 0)
    return 0;
  s += n;
  while (*s == ' ' || *s == '\t')
    s++;
  return *s == '\0';
}

int rnj_grid_parse(const char *s, int *unit, char *err) {
  int i;
  for (i = 0; s && i < NUNITS; i++)
    if (same_word(s, units[i].name)) {
      *unit = i;
      return 0;
    }
  return rnj_errorf(err, RNJ_EINVAL,
                    "quantize: expected off, 1/4, 1/8, 1/16, 1/8t or 1/16t, "
                    "got '%s'",
                    s ? s : "");
}

int rnj_grid_parse_swing(const char *s, int *swing, char *err) {
  const char *p = s;
  char *end = NULL;
  long v;
  if (!s)
    goto bad;
  while (*p == ' ' || *p == '\t')
    p++;
  if (!isdigit((unsigned char)*p))
    goto bad;
  v = strtol(p, &end, 10);
  while (*end == ' ' || *end == '\t')
    end++;
  if (*end == '%')
    end++;
  while (*end == ' ' || *end == '\t')
    end++;
  if (*end || v < 0 || v > RNJ_GRID_MAX_SWING)
    goto bad;
  *swing = (int)v;
  return 0;
bad:
  return rnj_errorf(err, RNJ_EINVAL,
                    "swing: expected a percentage 0..%d, got '%s'",
                    RNJ_GRID_MAX_SWING, s ? s : "");
}

static const char *const starts[] = {
    [RNJ_ANSWER_GAP] = "gap",
    [RNJ_ANSWER_BEAT] = "beat",
    [RNJ_ANSWER_BAR] = "bar",
};
#define NSTARTS ((int)(sizeof starts / sizeof starts[0]))

int rnj_grid_parse_answer_start(const char *s, int *mode, char *err) {
  int i;
  for (i = 0; s && i < NSTARTS; i++)
    if (same_word(s, starts[i])) {
      *mode = i;
      return 0;
    }
  return rnj_errorf(err, RNJ_EINVAL,
                    "answer_start: expected gap, beat or bar, got '%s'",
                    s ? s : "");
}

const char *rnj_grid_name(int unit) {
  return unit >= 0 && unit < NUNITS ? units[unit].name : "?";
}

const char *rnj_grid_answer_start_name(int mode) {
  return mode >= 0 && mode < NSTARTS ? starts[mode] : "?";
}
