/* The quantize grid: note values, swing, and where notes land.
 *
 * Positions are in beats (quarter notes), or in MIDI ticks for files.
 * A grid has a unit u (1/4: 1 beat, 1/8: 1/2, 1/16: 1/4, 1/8t: 1/3,
 * 1/16t: 1/6) and a swing s of 0..75 percent.  Its points are numbered
 * k = ..., -1, 0, 1, 2, ... from beat 0:
 *
 *     point(k) = k * u                  k even
 *     point(k) = (k + s / 100) * u      k odd (swing on a straight grid)
 *
 * so swing delays every second grid unit by s % of a unit: at 1/8 and
 * 33 % the off-beat 8th lands at 2/3 of the beat (a triplet feel), at 50 %
 * at 3/4 (dotted 8th and 16th), at 75 % at 7/8.  (A drum machine's swing
 * of M % is s = 2 M - 100.)  Triplet grids ignore swing: they already are
 * the swung division, and their units come in threes, not pairs.
 *
 * Quantizing a note puts its onset on the nearest point (a tie goes to
 * the earlier point) and its end on the point a whole number of units
 * later, n = max(1, round(duration / u)): a note is at least one grid
 * step long, a chord (equal onsets) stays a chord, and a note held until
 * the next one starts still ends where that one starts.
 *
 * Ticks: the same grid on a file's ticks with `ticks_per_quarter` per
 * beat; point(k) is rounded to the nearest tick (halves up) in exact
 * integer arithmetic, so quantized onsets sit on the grid to the tick
 * whatever the division (1/8t at 1024 ticks per quarter is 341.33
 * ticks: points 0, 341, 683, 1024, ...).
 *
 * Everything here is pure: RT-safe (no allocation, no lock, no I/O,
 * constant work) and thread-safe, except the parsers (which fill `err`).
 */
#ifndef RNNJAM_GRID_H
#define RNNJAM_GRID_H

#include <stdint.h>

#include "common.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RNJ_GRID_OFF = 0, /* no quantizing */
  RNJ_GRID_4,       /* 1/4: a beat */
  RNJ_GRID_8,       /* 1/8 */
  RNJ_GRID_16,      /* 1/16 */
  RNJ_GRID_8T,      /* 1/8t: 8th triplets, 3 per beat */
  RNJ_GRID_16T      /* 1/16t: 16th triplets, 6 per beat */
} rnj_grid_unit_t;

/* Most swing allowed, percent of a grid unit (the 75 %: beyond
 * it the off-beat note nearly meets the next on-beat one). */
#define RNJ_GRID_MAX_SWING 75

/* Where an answer starts once the player has fallen silent. */
typedef enum {
  RNJ_ANSWER_GAP = 0, /* as soon as the silence has lasted phrase_gap */
  RNJ_ANSWER_BEAT,    /* on the next beat after that */
  RNJ_ANSWER_BAR      /* on the next bar line after that */
} rnj_answer_start_t;

typedef struct rnj_grid_s {
  int unit;  /* rnj_grid_unit_t */
  int swing; /* percent of a unit, 0..RNJ_GRID_MAX_SWING */
} rnj_grid_t;

/* Set `g` to `unit` with `swing` percent.  Returns 0, or RNJ_EINVAL
 * (unknown unit or swing outside 0..RNJ_GRID_MAX_SWING; `g` is then
 * off).  RT-safe. */
RNJ_EXTERN int rnj_grid_init(rnj_grid_t *g, int unit, int swing);

/* The unit in beats: 1, 1/2, 1/4, 1/3, 1/6; 0 for off.  RT-safe. */
RNJ_EXTERN double rnj_grid_unit_beats(int unit);

/* The beat of point `k` (see above).  Off: k itself.  RT-safe. */
RNJ_EXTERN double rnj_grid_point(const rnj_grid_t *g, int64_t k);

/* The index of the point nearest to `beat` (a tie goes to the earlier
 * one).  Off: 0.  RT-safe. */
RNJ_EXTERN int64_t rnj_grid_index(const rnj_grid_t *g, double beat);

/* `beat` on the grid (off: unchanged).  RT-safe. */
RNJ_EXTERN double rnj_grid_quantize(const rnj_grid_t *g, double beat);

/* The first point at or after `beat` (off: `beat`).  RT-safe. */
RNJ_EXTERN double rnj_grid_ceil(const rnj_grid_t *g, double beat);

/* A note from `start` to `end` (beats) on the grid: onset on the nearest
 * point, end a whole number (>= 1) of units later (see above).  Off:
 * unchanged.  RT-safe. */
RNJ_EXTERN void rnj_grid_note(const rnj_grid_t *g, double start, double end,
                              double *qstart, double *qend);

/* The tick of point `k` for `ticks_per_quarter` (> 0) ticks per beat,
 * exact (see above).  Off: k.  RT-safe. */
RNJ_EXTERN int64_t rnj_grid_point_ticks(const rnj_grid_t *g, int64_t k,
                                        int ticks_per_quarter);

/* `tick` (>= 0) moved to the nearest grid point (a tie goes to the
 * earlier).  Off: unchanged.  RT-safe. */
RNJ_EXTERN int64_t rnj_grid_quantize_ticks(const rnj_grid_t *g, int64_t tick,
                                           int ticks_per_quarter);

/* A note in ticks on the grid, as rnj_grid_note; *qend > *qstart always
 * (off: an end not after the start becomes start + 1).  RT-safe. */
RNJ_EXTERN void rnj_grid_note_ticks(const rnj_grid_t *g, int64_t start,
                                    int64_t end, int ticks_per_quarter,
                                    int64_t *qstart, int64_t *qend);

/* Parse a quantize value: "off", "1/4", "1/8", "1/16", "1/8t", "1/16t"
 * (case-insensitive, surrounding blanks ignored) into *unit.  On failure
 * returns RNJ_EINVAL with `err`, e.g. "quantize: expected off, 1/4, 1/8,
 * 1/16, 1/8t or 1/16t, got '1/32'".  Not RT-safe (formats `err`). */
RNJ_EXTERN int rnj_grid_parse(const char *s, int *unit, char *err);

/* Parse a swing value: an integer percent 0..75, an optional '%' after
 * it; "swing: expected a percentage 0..75, got 'x'".  Not RT-safe. */
RNJ_EXTERN int rnj_grid_parse_swing(const char *s, int *swing, char *err);

/* Parse "gap", "beat" or "bar" into *mode (rnj_answer_start_t);
 * "answer_start: expected gap, beat or bar, got 'x'".  Not RT-safe. */
RNJ_EXTERN int rnj_grid_parse_answer_start(const char *s, int *mode,
                                           char *err);

/* The config spelling of a unit ("off", "1/8t", ...) and of an answer
 * start ("gap", "beat", "bar"); "?" when out of range.  Static strings;
 * RT-safe. */
RNJ_EXTERN const char *rnj_grid_name(int unit);
RNJ_EXTERN const char *rnj_grid_answer_start_name(int mode);

#ifdef __cplusplus
}
#endif
#endif
