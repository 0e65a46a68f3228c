/* Pictures of the music and of training, drawn with cairo.
 *
 * Three plots, the tutorial's: a piano roll of notes (optionally two, one
 * above the other: a seed and its continuation), histograms of pitch, step
 * and duration, and the training curves from the trainer's JSONL log.
 * Each writes a PNG or an SVG, chosen by the output name's extension
 * (.png / .svg, any case), through a temporary file renamed over the name,
 * so a failure never leaves a partial picture behind.
 *
 * The piano roll's geometry is public (rnj_plot_roll_layout and
 * rnj_plot_roll_xy) so that a caller, or a test, can find where a note was
 * drawn.  Sizes are in pixels; an SVG uses the same numbers as its user
 * units.  None of these functions is RT-safe; all may be called from any
 * thread (cairo surfaces are not shared).
 */
#ifndef RNNJAM_PLOT_H
#define RNNJAM_PLOT_H

#include <stddef.h>

#include "common.h"
#include "err.h"
#include "notes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Picture sizes accepted, in pixels, for each side. */
#define RNJ_PLOT_MIN_SIZE 200
#define RNJ_PLOT_MAX_SIZE 10000

/* ------------------------------------------------------------ piano roll */

typedef struct rnj_plot_roll_opts_s {
  int width;            /* 0: 1200 */
  int height;           /* 0: 480, or 800 with two panels */
  double seconds;       /* show [0, seconds]; 0: up to the last note's end */
  const char *label[2]; /* panel titles (borrowed); NULL: none */
} rnj_plot_roll_opts_t;

/* One panel's plot area and what it shows.  Pixel coordinates grow right
 * and down from the picture's top-left corner. */
typedef struct rnj_plot_area_s {
  double left;
  double top;
  double right;
  double bottom;
  double t0;    /* seconds at `left` */
  double t1;    /* seconds at `right` */
  int pitch_lo; /* the bottom row's pitch */
  int pitch_hi; /* the top row's pitch; one row per semitone between */
} rnj_plot_area_t;

typedef struct rnj_plot_roll_layout_s {
  int width;
  int height;
  int npanels; /* 1, or 2 with a second list of notes */
  double font; /* label size in pixels */
  rnj_plot_area_t panel[2];
} rnj_plot_roll_layout_t;

/* Where rnj_plot_roll will draw: the picture size, each panel's area, the
 * time span (shared by both panels, so they compare at one scale) and the
 * pitch rows (likewise shared: the notes' range, two semitones of margin,
 * at least two octaves).  `compare` may be NULL; `opts` may be NULL for
 * the defaults.  Pure: no allocation, no I/O.
 * Returns 0, or RNJ_EINVAL for a size outside RNJ_PLOT_MIN/MAX_SIZE or a
 * negative or non-finite `seconds`. */
RNJ_EXTERN int rnj_plot_roll_layout(rnj_plot_roll_layout_t *layout,
                                    const rnj_notes_t *notes,
                                    const rnj_notes_t *compare,
                                    const rnj_plot_roll_opts_t *opts);

/* The pixel at time `t` (seconds) and `pitch` in an area: integer pitches
 * are row centres, pitch +- 0.5 the row's edges.  A note is drawn over
 * [start, end] x [pitch - 0.5, pitch + 0.5], less a gap of at most one
 * pixel above and below, and at least 2 pixels wide. */
RNJ_EXTERN void rnj_plot_roll_xy(const rnj_plot_area_t *area, double t,
                                 double pitch, double *x, double *y);

/* Draw the piano roll of `notes` (and of `compare` below it, when not
 * NULL) to `path`.  Notes are coloured by velocity (darker is louder),
 * blue in the first panel, orange in the second; the pitch axis names
 * notes (C4 = 60) beside a keyboard, the time axis is in seconds.
 * Returns 0, or a negative code with `err` set: RNJ_EINVAL (size, seconds
 * or an output name without .png/.svg), RNJ_ENOMEM, RNJ_EIO (cairo
 * failed), or a negative errno from writing `path`. */
RNJ_EXTERN int rnj_plot_roll(const char *path, const rnj_notes_t *notes,
                             const rnj_notes_t *compare,
                             const rnj_plot_roll_opts_t *opts, char *err);

/* ---------------------------------------------------------- distributions */

typedef struct rnj_plot_dist_opts_s {
  int width;  /* 0: 1200 */
  int height; /* 0: 420 */
  /* Upper limit of the step and duration axes, so that a few long pauses
   * do not squash the rest into the first bin.  A fixed maximum (seconds,
   * > 0) wins; else a percentile of the values (the tutorial drops the
   * top 2.5%: 97.5); 0 for neither: up to the largest value.  Values above
   * the limit are left out and counted in the panel's title.  The lower
   * end is always 0: steps of 0 are chords, which should stay visible. */
  double clip_percentile;
  double step_max;
  double duration_max;
  int bins;             /* step and duration bins; 0: 20 (the tutorial) */
  const char *label[2]; /* legend names of the two lists (borrowed) */
  const char *title;    /* NULL: none */
  int velocity;         /* 1: a fourth panel, velocity in bars of 4 */
} rnj_plot_dist_opts_t;

/* Draw three histograms side by side: pitch (one bar per semitone), step
 * and duration (and velocity with opts->velocity), of `notes` and,
 * overlaid when not NULL, of `compare`.
 * With one list the bars count notes; with two they are percentages of
 * each list, so a short generation compares with a long piece.
 * Returns 0, or a negative code with `err` set: RNJ_ENODATA (a list with
 * no notes), RNJ_EINVAL, RNJ_ENOMEM, RNJ_EIO, or a negative errno from
 * writing `path`. */
RNJ_EXTERN int rnj_plot_dist(const char *path, const rnj_notes_t *notes,
                             const rnj_notes_t *compare,
                             const rnj_plot_dist_opts_t *opts, char *err);

/* The p-th percentile (0..100) of `v` by linear interpolation between
 * order statistics (numpy's default).  Sorts `v` in place.  NaN when
 * n == 0. */
RNJ_EXTERN double rnj_plot_percentile(double *v, size_t n, double p);

/* ------------------------------------------------------------ loss curves */

/* The series of a training log: their JSONL key, and a second spelling
 * also accepted (the one checkpoint metadata uses). */
#define RNJ_PLOT_SERIES_MAP(XX)                                               \
  XX(TRAIN_LOSS, "train_loss", "loss")                                        \
  XX(VAL_LOSS, "val_loss", "val_loss")                                        \
  XX(TRAIN_PITCH, "train_pitch", "train_loss_pitch")                          \
  XX(VAL_PITCH, "val_pitch", "val_loss_pitch")                                \
  XX(TRAIN_STEP, "train_step", "train_loss_step")                             \
  XX(VAL_STEP, "val_step", "val_loss_step")                                   \
  XX(TRAIN_DURATION, "train_duration", "train_loss_duration")                 \
  XX(VAL_DURATION, "val_duration", "val_loss_duration")

typedef enum {
#define XX(name, key, alias) RNJ_PLOT_##name,
  RNJ_PLOT_SERIES_MAP(XX)
#undef XX
      RNJ_PLOT_NSERIES
} rnj_plot_series_t;

typedef struct rnj_plot_epoch_s {
  double epoch;
  double v[RNJ_PLOT_NSERIES]; /* NaN where the log has no value */
} rnj_plot_epoch_t;

typedef struct rnj_plot_losses_s {
  rnj_plot_epoch_t *v; /* owned; sorted by epoch, epochs unique */
  size_t n;
  size_t cap;
} rnj_plot_losses_t;

/* A log holds at most this many epochs. */
#define RNJ_PLOT_MAX_EPOCHS 1000000

/* The JSONL key of a series ("train_loss", ...), or NULL out of range. */
RNJ_EXTERN const char *rnj_plot_series_key(int series);

/* Zero a log (no allocation). */
RNJ_EXTERN void rnj_plot_losses_init(rnj_plot_losses_t *losses);

/* Release a log and zero it; safe twice and on a zeroed log. */
RNJ_EXTERN void rnj_plot_losses_free(rnj_plot_losses_t *losses);

/* Add one epoch (copied).  An epoch already in the log is replaced: a
 * resumed training run logs again the epoch it was stopped in, and its
 * numbers are the ones that count.
 * Returns 0, RNJ_EINVAL (a non-finite epoch), RNJ_ELIMIT or RNJ_ENOMEM. */
RNJ_EXTERN int rnj_plot_losses_push(rnj_plot_losses_t *losses,
                                    const rnj_plot_epoch_t *row);

/* Read the trainer's JSONL log: one object per line, per epoch, with any
 * of the series keys or their second spelling (numbers; null or a
 * missing key is no value) and
 * "epoch" (missing: the line's count from 1).  Other keys are ignored.
 * Blank lines are skipped, and so is an unterminated last line, which a
 * trainer may be writing right now.  `losses` must be initialized; rows
 * are added to it.
 * Returns 0, or a negative code with `err` set: a read error of `path`,
 * RNJ_EFORMAT ("FILE:LINE: ..." for a line that is not a JSON object or a
 * key that is not a number), RNJ_ENODATA (no line has any series key:
 * `err` lists the keys looked for), RNJ_ELIMIT or RNJ_ENOMEM. */
RNJ_EXTERN int rnj_plot_losses_read(rnj_plot_losses_t *losses,
                                    const char *path, char *err);

typedef struct rnj_plot_loss_opts_s {
  int width;         /* 0: 1100 */
  int height;        /* 0: 720 with the parts, 420 without */
  const char *title; /* NULL: none */
} rnj_plot_loss_opts_t;

/* Draw the training and validation curves per epoch: the total loss, and
 * under it one panel for each part (pitch, step, duration) the log has,
 * each at its own scale (the pitch part is a cross-entropy near 3, the
 * others are near 0.02).  Train is solid blue, validation dashed orange.
 * Returns 0, or a negative code with `err` set: RNJ_ENODATA (no series has
 * a value), RNJ_EINVAL, RNJ_ENOMEM, RNJ_EIO, or a negative errno from
 * writing `path`. */
RNJ_EXTERN int rnj_plot_loss(const char *path,
                             const rnj_plot_losses_t *losses,
                             const rnj_plot_loss_opts_t *opts, char *err);

#ifdef __cplusplus
}
#endif
#endif
