/* plot: piano rolls, note distributions and loss curves, drawn with cairo.
 *
 * Each picture is drawn into a cairo surface held in memory (an image for
 * PNG, a stream for SVG), encoded into one buffer, and handed to
 * rnj__write_atomic, so the output name only ever holds a whole picture.
 * Text uses cairo's "toy" font API with the generic sans-serif family;
 * fontconfig picks what is installed (DejaVu Sans on Debian).  The layout
 * depends on the picture size alone, never on measured text, so the piano
 * roll's geometry is a pure function that tests call to find the notes.
 *
 * Limits: cairo allocates with the system malloc, outside the library's
 * allocator; only our own buffers go through rnj__malloc.  Labels are
 * ASCII (cairo's toy API would take UTF-8, but a missing glyph would show
 * as a box).
 */
#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "rnnjam/plot.h"

/* ================================================================ output */

typedef struct {
  unsigned char *p;
  size_t n;
  size_t cap;
  int nomem;
} membuf_t;

/* cairo's stream callback: append to the buffer, growing it by doubling. */
static cairo_status_t membuf_write(void *closure, const unsigned char *data,
                                   unsigned int len) {
  membuf_t *b = closure;
  if (len > b->cap - b->n) {
    size_t cap = b->cap ? b->cap : 65536;
    unsigned char *p;
    while (len > cap - b->n)
      cap *= 2;
    p = rnj__realloc(b->p, cap);
    if (!p) {
      b->nomem = 1;
      return CAIRO_STATUS_WRITE_ERROR;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, len);
  b->n += len;
  return CAIRO_STATUS_SUCCESS;
}

typedef enum { FMT_PNG, FMT_SVG } fmt_t;

static int format_of(const char *path, fmt_t *fmt, char *err) {
  const char *dot = path ? strrchr(path, '.') : NULL;
  if (dot && !strcasecmp(dot, ".png")) {
    *fmt = FMT_PNG;
    return 0;
  }
  if (dot && !strcasecmp(dot, ".svg")) {
    *fmt = FMT_SVG;
    return 0;
  }
  return rnj_errorf(err, RNJ_EINVAL,
                    "%s: expected an output name ending in .png or .svg",
                    path ? path : "(null)");
}

static int check_size(const char *path, int w, int h, char *err) {
  if (w < RNJ_PLOT_MIN_SIZE || w > RNJ_PLOT_MAX_SIZE ||
      h < RNJ_PLOT_MIN_SIZE || h > RNJ_PLOT_MAX_SIZE)
    return rnj_errorf(err, RNJ_EINVAL,
                      "%s: size %dx%d: each side must be %d to %d pixels",
                      path, w, h, RNJ_PLOT_MIN_SIZE, RNJ_PLOT_MAX_SIZE);
  return 0;
}

typedef void (*draw_fn)(cairo_t *cr, const void *ctx);

/* Draw a w x h picture with `draw` and write it to `path` atomically. */
static int render(const char *path, int w, int h, draw_fn draw,
                  const void *ctx, char *err) {
  membuf_t buf = {0};
  cairo_surface_t *s;
  cairo_status_t st;
  cairo_t *cr;
  struct iovec iov;
  fmt_t fmt;
  int rc;

  rc = format_of(path, &fmt, err);
  if (rc < 0)
    return rc;
  rc = check_size(path, w, h, err);
  if (rc < 0)
    return rc;
  if (fmt == FMT_SVG) {
    s = cairo_svg_surface_create_for_stream(membuf_write, &buf, w, h);
    /* Pixels, not points: the numbers the user asked for. */
    cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
  } else {
    /* No alpha: the pictures are opaque, and RGB PNGs are smaller. */
    s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  }
  cr = cairo_create(s);
  draw(cr, ctx);
  st = cairo_status(cr);
  cairo_destroy(cr);
  if (st == CAIRO_STATUS_SUCCESS) {
    if (fmt == FMT_PNG) {
      st = cairo_surface_write_to_png_stream(s, membuf_write, &buf);
    } else {
      cairo_surface_finish(s);
      st = cairo_surface_status(s);
    }
  }
  cairo_surface_destroy(s);
  if (buf.nomem || st == CAIRO_STATUS_NO_MEMORY) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory drawing %dx%d",
                    path, w, h);
    goto out;
  }
  if (st != CAIRO_STATUS_SUCCESS) {
    rc = rnj_errorf(err, RNJ_EIO, "%s: cairo: %s", path,
                    cairo_status_to_string(st));
    goto out;
  }
  iov.iov_base = buf.p;
  iov.iov_len = buf.n;
  rc = rnj__write_atomic(path, &iov, 1, err);
out:
  rnj__free(buf.p);
  return rc;
}

/* ======================================================= drawing helpers */

typedef struct {
  double r;
  double g;
  double b;
} rgb_t;

/* matplotlib's first two colours: people read them as "this" and "that". */
static const rgb_t BLUE = {0.122, 0.467, 0.706};
static const rgb_t ORANGE = {1.0, 0.498, 0.055};
static const rgb_t INK = {0.15, 0.15, 0.15};
static const rgb_t MUTED = {0.40, 0.40, 0.40};
static const rgb_t GRID = {0.88, 0.88, 0.88};

static void set_rgb(cairo_t *cr, rgb_t c) {
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

static void set_rgba(cairo_t *cr, rgb_t c, double a) {
  cairo_set_source_rgba(cr, c.r, c.g, c.b, a);
}

static void set_grey(cairo_t *cr, double v) {
  cairo_set_source_rgb(cr, v, v, v);
}

static rgb_t mix(rgb_t a, rgb_t b, double k) {
  rgb_t c;
  c.r = a.r + (b.r - a.r) * k;
  c.g = a.g + (b.g - a.g) * k;
  c.b = a.b + (b.b - a.b) * k;
  return c;
}

static void font(cairo_t *cr, double size, int bold) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD
                              : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

/* Draw `s` with its box placed at (x, y) by `ax` (0 left, 0.5 centre, 1
 * right) and `ay` (0 top, 0.5 middle, 1 bottom, by the font's ascent and
 * descent, so labels of one row line up whatever their letters). */
static void text(cairo_t *cr, double x, double y, double ax, double ay,
                 const char *s) {
  cairo_text_extents_t te;
  cairo_font_extents_t fe;
  cairo_text_extents(cr, s, &te);
  cairo_font_extents(cr, &fe);
  cairo_move_to(cr, x - te.x_advance * ax,
                y + fe.ascent * (1 - ay) - fe.descent * ay);
  cairo_show_text(cr, s);
}

/* The same, turned a quarter left (reading upwards), centred on (x, y). */
static void text_up(cairo_t *cr, double x, double y, const char *s) {
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, -M_PI / 2);
  text(cr, 0, 0, 0.5, 0.5, s);
  cairo_restore(cr);
}

/* A 1-pixel line lands on whole pixels only if centred on x + 0.5. */
static double crisp(double v) { return floor(v) + 0.5; }

static void hline(cairo_t *cr, double x0, double x1, double y) {
  cairo_move_to(cr, x0, crisp(y));
  cairo_line_to(cr, x1, crisp(y));
  cairo_stroke(cr);
}

static void vline(cairo_t *cr, double x, double y0, double y1) {
  cairo_move_to(cr, crisp(x), y0);
  cairo_line_to(cr, crisp(x), y1);
  cairo_stroke(cr);
}

/* A tick spacing of 1, 2, 2.5 or 5 times a power of ten giving about
 * `target` intervals over `range`. */
static double nice_step(double range, double target) {
  double raw;
  double mag;
  double r;
  if (!(range > 0) || !(target >= 1))
    return 1;
  raw = range / target;
  mag = pow(10, floor(log10(raw)));
  r = raw / mag;
  if (r <= 1)
    return mag;
  if (r <= 2)
    return 2 * mag;
  if (r <= 2.5)
    return 2.5 * mag;
  if (r <= 5)
    return 5 * mag;
  return 10 * mag;
}

/* Digits after the point that show every multiple of `step` exactly. */
static int decimals(double step) {
  int d = 0;
  while (d < 6 && fabs(step * pow(10, d) - floor(step * pow(10, d) + 0.5)) >
                      1e-6 * step * pow(10, d))
    d++;
  return d;
}

static void fmt_num(char *out, size_t len, double v, int dec) {
  if (fabs(v) < 0.5 * pow(10, -dec))
    v = 0; /* no "-0.0" */
  snprintf(out, len, "%.*f", dec, v);
}

static const char *const NOTE_NAMES[12] = {"C",  "C#", "D",  "D#",
                                           "E",  "F",  "F#", "G",
                                           "G#", "A",  "A#", "B"};

/* Scientific pitch notation, as pretty_midi names them: 60 is C4. */
static void pitch_name(char *out, size_t len, int p) {
  snprintf(out, len, "%s%d", NOTE_NAMES[p % 12], p / 12 - 1);
}

static int is_black(int p) {
  int k = p % 12;
  return k == 1 || k == 3 || k == 6 || k == 8 || k == 10;
}

static double clampd(double v, double lo, double hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Labels scale with the picture, within readable bounds. */
static double font_for(double w, double h) {
  return clampd(fmin(w / 100.0, h / 36.0), 8, 16);
}

/* A rectangle of data coordinates mapped onto pixels. */
typedef struct {
  double left;
  double top;
  double right;
  double bottom;
  double x0;
  double x1;
  double y0;
  double y1;
} frame_t;

static double fx(const frame_t *fr, double v) {
  return fr->left + (v - fr->x0) / (fr->x1 - fr->x0) * (fr->right - fr->left);
}

static double fy(const frame_t *fr, double v) {
  return fr->bottom -
         (v - fr->y0) / (fr->y1 - fr->y0) * (fr->bottom - fr->top);
}

/* Horizontal grid lines with their values at the left. */
static void frame_y_axis(cairo_t *cr, const frame_t *fr, double f,
                         const char *title) {
  double step = nice_step(fr->y1 - fr->y0, (fr->bottom - fr->top) / (3 * f));
  int dec = decimals(step);
  double v;
  char s[64];
  cairo_set_line_width(cr, 1);
  font(cr, f, 0);
  for (v = ceil(fr->y0 / step - 1e-9) * step; v <= fr->y1 + 1e-9 * step;
       v += step) {
    double y = fy(fr, v);
    set_rgb(cr, GRID);
    hline(cr, fr->left, fr->right, y);
    set_rgb(cr, INK);
    hline(cr, fr->left - 0.35 * f, fr->left, y);
    /* Six-digit counts would run into the axis title: 350k. */
    if (step >= 1000 && fmod(step, 1000) == 0 && v != 0)
      snprintf(s, sizeof s, "%.0fk", v / 1000);
    else
      fmt_num(s, sizeof s, v, dec);
    text(cr, fr->left - 0.55 * f, y, 1, 0.5, s);
  }
  if (title) {
    set_rgb(cr, MUTED);
    text_up(cr, fr->left - 4.2 * f, (fr->top + fr->bottom) / 2, title);
  }
}

/* Ticks and values under the frame; `notes` labels pitches by name at
 * each C instead of numbers. */
static void frame_x_axis(cairo_t *cr, const frame_t *fr, double f,
                         double step, int notes, const char *title) {
  int dec = decimals(step);
  double v;
  char s[64];
  cairo_set_line_width(cr, 1);
  font(cr, f, 0);
  for (v = ceil(fr->x0 / step - 1e-9) * step; v <= fr->x1 + 1e-9 * step;
       v += step) {
    double x = fx(fr, v);
    set_rgb(cr, INK);
    vline(cr, x, fr->bottom, fr->bottom + 0.35 * f);
    if (notes)
      pitch_name(s, sizeof s, (int)lround(v));
    else
      fmt_num(s, sizeof s, v, dec);
    text(cr, x, fr->bottom + 0.5 * f, 0.5, 0, s);
  }
  if (title) {
    set_rgb(cr, MUTED);
    text(cr, (fr->left + fr->right) / 2, fr->bottom + 1.9 * f, 0.5, 0,
         title);
  }
}

/* The left and bottom axis lines. */
static void frame_axes(cairo_t *cr, const frame_t *fr) {
  set_grey(cr, 0.35);
  cairo_set_line_width(cr, 1);
  vline(cr, fr->left, fr->top, fr->bottom + 0.5);
  hline(cr, fr->left - 0.5, fr->right, fr->bottom);
}

enum { KEY_BOX, KEY_LINE, KEY_DASH };

/* A legend of `n` entries, right-aligned at x, from y down. */
static void legend(cairo_t *cr, double x, double y, double f, int n,
                   const char *const *names, const rgb_t *colors,
                   const int *kinds) {
  double w = 0;
  double sw = 1.8 * f;
  int i;
  font(cr, f, 0);
  for (i = 0; i < n; i++) {
    cairo_text_extents_t te;
    cairo_text_extents(cr, names[i], &te);
    w = fmax(w, te.x_advance);
  }
  x -= w + sw + 0.5 * f;
  for (i = 0; i < n; i++) {
    double cy = y + (i + 0.5) * 1.35 * f;
    if (kinds[i] == KEY_BOX) {
      set_rgba(cr, colors[i], 0.75);
      cairo_rectangle(cr, x, cy - 0.4 * f, sw, 0.8 * f);
      cairo_fill(cr);
    } else {
      static const double dash[] = {5, 3};
      set_rgb(cr, colors[i]);
      cairo_set_line_width(cr, 2);
      if (kinds[i] == KEY_DASH)
        cairo_set_dash(cr, dash, 2, 0);
      cairo_move_to(cr, x, cy);
      cairo_line_to(cr, x + sw, cy);
      cairo_stroke(cr);
      cairo_set_dash(cr, NULL, 0, 0);
    }
    set_rgb(cr, INK);
    text(cr, x + sw + 0.5 * f, cy, 0, 0.5, names[i]);
  }
}

static void paper(cairo_t *cr) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
}

/* ============================================================ piano roll */

static const rnj_plot_roll_opts_t ROLL_DEFAULTS = {0, 0, 0, {NULL, NULL}};

static int note_visible(const rnj_note_t *n, double t0, double t1) {
  return n->start <= t1 && n->end >= t0;
}

int rnj_plot_roll_layout(rnj_plot_roll_layout_t *lay,
                         const rnj_notes_t *notes,
                         const rnj_notes_t *compare,
                         const rnj_plot_roll_opts_t *opts) {
  const rnj_notes_t *lists[2];
  double t1 = 0;
  double f;
  double slot;
  int lo = 128;
  int hi = -1;
  int k;
  int i;
  size_t j;

  if (!opts)
    opts = &ROLL_DEFAULTS;
  memset(lay, 0, sizeof *lay);
  lists[0] = notes;
  lists[1] = compare;
  lay->npanels = compare ? 2 : 1;
  lay->width = opts->width ? opts->width : 1200;
  lay->height = opts->height ? opts->height : compare ? 800 : 480;
  if (lay->width < RNJ_PLOT_MIN_SIZE || lay->width > RNJ_PLOT_MAX_SIZE ||
      lay->height < RNJ_PLOT_MIN_SIZE || lay->height > RNJ_PLOT_MAX_SIZE ||
      !(opts->seconds >= 0) || !isfinite(opts->seconds))
    return RNJ_EINVAL;

  if (opts->seconds > 0) {
    t1 = opts->seconds;
  } else {
    for (k = 0; k < lay->npanels; k++)
      for (j = 0; lists[k] && j < lists[k]->n; j++)
        t1 = fmax(t1, lists[k]->v[j].end);
    if (!(t1 > 0) || !isfinite(t1))
      t1 = 1;
  }
  for (k = 0; k < lay->npanels; k++)
    for (j = 0; lists[k] && j < lists[k]->n; j++) {
      const rnj_note_t *n = &lists[k]->v[j];
      if (!note_visible(n, 0, t1) || n->pitch > 127)
        continue;
      lo = n->pitch < lo ? n->pitch : lo;
      hi = n->pitch > hi ? n->pitch : hi;
    }
  if (hi < 0) { /* nothing to show: the octaves around middle C */
    lo = 48;
    hi = 72;
  }
  lo -= 2;
  hi += 2;
  /* Fewer than two octaves of rows make a melody look like noise. */
  while (hi - lo + 1 < 25) {
    lo--;
    if (hi - lo + 1 < 25)
      hi++;
  }
  if (lo < 0) {
    hi -= lo;
    lo = 0;
  }
  if (hi > 127) {
    lo = lo - (hi - 127) < 0 ? 0 : lo - (hi - 127);
    hi = 127;
  }

  f = font_for(lay->width, lay->height / (double)lay->npanels * 0.75);
  lay->font = f;
  slot = lay->height / (double)lay->npanels;
  for (i = 0; i < lay->npanels; i++) {
    rnj_plot_area_t *a = &lay->panel[i];
    a->left = 7.2 * f;
    a->right = lay->width - 1.5 * f;
    a->top = i * slot + 2.6 * f;
    a->bottom = (i + 1) * slot - 3.6 * f;
    a->t0 = 0;
    a->t1 = t1;
    a->pitch_lo = lo;
    a->pitch_hi = hi;
  }
  return 0;
}

void rnj_plot_roll_xy(const rnj_plot_area_t *a, double t, double pitch,
                      double *x, double *y) {
  double rh = (a->bottom - a->top) / (a->pitch_hi - a->pitch_lo + 1);
  *x = a->left + (t - a->t0) / (a->t1 - a->t0) * (a->right - a->left);
  *y = a->top + (a->pitch_hi + 0.5 - pitch) * rh;
}

typedef struct {
  const rnj_plot_roll_layout_t *lay;
  const rnj_notes_t *notes[2];
  const char *label[2];
} roll_ctx_t;

/* Louder is darker; soft notes stay clearly coloured. */
static rgb_t note_color(int panel, int velocity) {
  static const rgb_t light[2] = {{0.53, 0.72, 0.92}, {1.0, 0.75, 0.45}};
  static const rgb_t dark[2] = {{0.06, 0.27, 0.55}, {0.80, 0.36, 0.0}};
  return mix(light[panel], dark[panel], clampd(velocity / 127.0, 0, 1));
}

/* The keyboard beside the pitch axis, one key per row. */
static void draw_keyboard(cairo_t *cr, const rnj_plot_area_t *a, double x0,
                          double x1) {
  double rh = (a->bottom - a->top) / (a->pitch_hi - a->pitch_lo + 1);
  int p;
  set_grey(cr, 1);
  cairo_rectangle(cr, x0, a->top, x1 - x0, a->bottom - a->top);
  cairo_fill(cr);
  cairo_set_line_width(cr, 1);
  for (p = a->pitch_lo; p <= a->pitch_hi; p++) {
    double y = a->top + (a->pitch_hi - p) * rh;
    int k = p % 12;
    if (is_black(p)) {
      set_grey(cr, 0.22);
      cairo_rectangle(cr, x0, y, (x1 - x0) * 0.62, rh);
      cairo_fill(cr);
    } else if (k == 0 || k == 5) {
      /* The bottom of C and F: where two white keys meet. */
      set_grey(cr, 0.62);
      hline(cr, x0, x1, y + rh);
    }
  }
  set_grey(cr, 0.35);
  cairo_rectangle(cr, crisp(x0), crisp(a->top), floor(x1) - floor(x0),
                  floor(a->bottom) - floor(a->top));
  cairo_stroke(cr);
}

static void draw_roll_panel(cairo_t *cr, const rnj_plot_roll_layout_t *lay,
                            int panel, const rnj_notes_t *notes,
                            const char *label) {
  const rnj_plot_area_t *a = &lay->panel[panel];
  double f = lay->font;
  double rh = (a->bottom - a->top) / (a->pitch_hi - a->pitch_lo + 1);
  double gap = fmin(1.0, rh * 0.12);
  double kx0 = a->left - 2.4 * f;
  double kx1 = a->left - 0.25 * f;
  double step;
  double t;
  size_t shown = 0;
  size_t j;
  int every;
  int p;
  char s[96];
  frame_t fr;

  fr.left = a->left;
  fr.right = a->right;
  fr.top = a->top;
  fr.bottom = a->bottom;
  fr.x0 = a->t0;
  fr.x1 = a->t1;
  fr.y0 = a->pitch_lo - 0.5;
  fr.y1 = a->pitch_hi + 0.5;

  /* Black-key rows shaded, a line under every C: how a sequencer's roll
   * looks, so a musician finds the octaves at a glance. */
  for (p = a->pitch_lo; p <= a->pitch_hi; p++) {
    double y = a->top + (a->pitch_hi - p) * rh;
    if (is_black(p)) {
      set_grey(cr, 0.945);
      cairo_rectangle(cr, a->left, y, a->right - a->left, rh);
      cairo_fill(cr);
    }
  }
  step = nice_step(a->t1 - a->t0, (a->right - a->left) / (6 * f));
  set_rgb(cr, GRID);
  cairo_set_line_width(cr, 1);
  for (t = ceil(a->t0 / step) * step; t <= a->t1 + 1e-9; t += step)
    vline(cr, fx(&fr, t), a->top, a->bottom);
  set_grey(cr, 0.80);
  for (p = a->pitch_lo; p <= a->pitch_hi; p++)
    if (p % 12 == 0)
      hline(cr, a->left, a->right, a->top + (a->pitch_hi - p + 1) * rh);

  cairo_save(cr);
  cairo_rectangle(cr, a->left, a->top, a->right - a->left,
                  a->bottom - a->top);
  cairo_clip(cr);
  for (j = 0; notes && j < notes->n; j++) {
    const rnj_note_t *n = &notes->v[j];
    double x0;
    double x1;
    double y0;
    double y1;
    rgb_t c;
    if (!note_visible(n, a->t0, a->t1) || n->pitch < a->pitch_lo ||
        n->pitch > a->pitch_hi)
      continue;
    shown++;
    rnj_plot_roll_xy(a, n->start, n->pitch + 0.5, &x0, &y0);
    rnj_plot_roll_xy(a, n->end, n->pitch - 0.5, &x1, &y1);
    if (x1 - x0 < 2)
      x1 = x0 + 2;
    c = note_color(panel, n->velocity);
    set_rgb(cr, c);
    cairo_rectangle(cr, x0, y0 + gap, x1 - x0, y1 - y0 - 2 * gap);
    if (rh >= 6) {
      /* An edge keeps repeated notes of one pitch apart. */
      cairo_fill_preserve(cr);
      set_rgb(cr, mix(c, INK, 0.45));
      cairo_set_line_width(cr, 1);
      cairo_stroke(cr);
    } else {
      cairo_fill(cr);
    }
  }
  cairo_restore(cr);

  set_grey(cr, 0.35);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, crisp(a->left), crisp(a->top),
                  floor(a->right) - floor(a->left),
                  floor(a->bottom) - floor(a->top));
  cairo_stroke(cr);
  draw_keyboard(cr, a, kx0, kx1);

  /* Pitch names: every row when they fit, else each C (or every other). */
  font(cr, f * 0.92, 0);
  every = rh >= 1.1 * f ? 1 : 12 * rh >= 1.1 * f ? 12 : 24;
  for (p = a->pitch_lo; p <= a->pitch_hi; p++) {
    if (every > 1 && (p % 12 != 0 || (every == 24 && (p / 12) % 2 == 0)))
      continue;
    pitch_name(s, sizeof s, p);
    set_rgb(cr, p % 12 == 0 ? INK : MUTED);
    text(cr, kx0 - 0.35 * f, a->top + (a->pitch_hi - p + 0.5) * rh, 1, 0.5,
         s);
  }
  font(cr, f, 0);
  set_rgb(cr, MUTED);
  text_up(cr, 0.9 * f, (a->top + a->bottom) / 2, "pitch");
  frame_x_axis(cr, &fr, f, step, 0, "time (s)");

  if (label) {
    font(cr, f * 1.1, 1);
    set_rgb(cr, INK);
    text(cr, a->left, a->top - 0.6 * f, 0, 1, label);
  }
  font(cr, f, 0);
  set_rgb(cr, MUTED);
  if (notes && shown < notes->n)
    snprintf(s, sizeof s, "%zu of %zu notes, first %g s", shown, notes->n,
             a->t1);
  else
    snprintf(s, sizeof s, "%zu notes", shown);
  text(cr, a->right, a->top - 0.6 * f, 1, 1, s);
}

static void draw_roll(cairo_t *cr, const void *p) {
  const roll_ctx_t *c = p;
  int i;
  paper(cr);
  for (i = 0; i < c->lay->npanels; i++)
    draw_roll_panel(cr, c->lay, i, c->notes[i], c->label[i]);
}

int rnj_plot_roll(const char *path, const rnj_notes_t *notes,
                  const rnj_notes_t *compare,
                  const rnj_plot_roll_opts_t *opts, char *err) {
  rnj_plot_roll_layout_t lay;
  roll_ctx_t c;
  fmt_t fmt;
  int rc;

  if (!opts)
    opts = &ROLL_DEFAULTS;
  rc = format_of(path, &fmt, err);
  if (rc < 0)
    return rc;
  if (!(opts->seconds >= 0) || !isfinite(opts->seconds))
    return rnj_errorf(err, RNJ_EINVAL,
                      "%s: seconds must be a positive number, got %g", path,
                      opts->seconds);
  rc = rnj_plot_roll_layout(&lay, notes, compare, opts);
  if (rc < 0)
    return check_size(path, lay.width, lay.height, err);
  c.lay = &lay;
  c.notes[0] = notes;
  c.notes[1] = compare;
  c.label[0] = opts->label[0];
  c.label[1] = opts->label[1];
  return render(path, lay.width, lay.height, draw_roll, &c, err);
}

/* ========================================================= distributions */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double rnj_plot_percentile(double *v, size_t n, double p) {
  double pos;
  size_t i;
  if (n == 0)
    return NAN;
  qsort(v, n, sizeof *v, cmp_double);
  pos = clampd(p, 0, 100) / 100.0 * (double)(n - 1);
  i = (size_t)floor(pos);
  if (i + 1 >= n)
    return v[n - 1];
  return v[i] + (v[i + 1] - v[i]) * (pos - (double)i);
}

enum { D_PITCH, D_STEP, D_DURATION, D_VELOCITY, D_N };

/* One histogram panel: its bins for each list and what was left out. */
typedef struct {
  double lo;      /* left edge of the first bin */
  double width;   /* of one bin */
  int nbins;
  double *h[2];   /* (nbins) each: counts or percentages */
  size_t dropped[2];
  double limit;   /* the upper limit, for the axis title */
  int clipped;    /* limit is below the largest value */
} hist_t;

typedef struct {
  int width;
  int height;
  int nlists;
  const char *label[2];
  const char *title;
  size_t n[2]; /* notes in each list */
  int npanels; /* 3, or 4 with velocity */
  hist_t hist[D_N];
} dist_ctx_t;

static double note_value(const rnj_note_t *n, int what) {
  switch (what) {
  case D_PITCH: return n->pitch;
  case D_STEP: return n->step;
  case D_DURATION: return n->duration;
  default: return n->velocity;
  }
}

/* The upper limit of a step or duration axis, per the options. */
static int value_limit(const rnj_notes_t *const *lists, int nlists, int what,
                       const rnj_plot_dist_opts_t *o, double *limit,
                       double *largest) {
  double fixed = what == D_STEP ? o->step_max : o->duration_max;
  double mx = 0;
  size_t total = 0;
  size_t j;
  int k;
  for (k = 0; k < nlists; k++) {
    total += lists[k]->n;
    for (j = 0; j < lists[k]->n; j++)
      mx = fmax(mx, note_value(&lists[k]->v[j], what));
  }
  *largest = mx;
  if (fixed > 0) {
    *limit = fixed;
  } else if (o->clip_percentile > 0 && o->clip_percentile < 100) {
    double *v = rnj__malloc(total * sizeof *v);
    size_t i = 0;
    if (!v)
      return RNJ_ENOMEM;
    for (k = 0; k < nlists; k++)
      for (j = 0; j < lists[k]->n; j++)
        v[i++] = note_value(&lists[k]->v[j], what);
    *limit = rnj_plot_percentile(v, total, o->clip_percentile);
    rnj__free(v);
  } else {
    *limit = mx;
  }
  /* All zeros (one chord): still a readable axis. */
  if (!(*limit > 0))
    *limit = mx > 0 ? mx : 0.1;
  return 0;
}

static int build_hist(hist_t *h, const rnj_notes_t *const *lists,
                      int nlists, int what, const rnj_plot_dist_opts_t *o) {
  double largest = 0;
  size_t j;
  int k;
  int rc;

  if (what == D_PITCH) {
    int lo = 127;
    int hi = 0;
    for (k = 0; k < nlists; k++)
      for (j = 0; j < lists[k]->n; j++) {
        int p = lists[k]->v[j].pitch & 127;
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
      }
    /* At least an octave, so a one-note piece has an axis to sit on. */
    while (hi - lo < 12) {
      lo = lo > 0 ? lo - 1 : lo;
      hi = hi - lo < 12 && hi < 127 ? hi + 1 : hi;
    }
    h->lo = lo - 0.5;
    h->width = 1;
    h->nbins = hi - lo + 1;
    h->limit = hi;
  } else if (what == D_VELOCITY) {
    /* 1..127 in bars of 4 velocities, the v2 model's bins (0 is "not
     * given" and falls in the first bar, as a written file plays it). */
    h->lo = 0;
    h->width = 4;
    h->nbins = 32;
    h->limit = 128;
  } else {
    rc = value_limit(lists, nlists, what, o, &h->limit, &largest);
    if (rc < 0)
      return rc;
    h->lo = 0;
    h->nbins = o->bins > 0 ? o->bins : 20;
    h->width = h->limit / h->nbins;
    h->clipped = largest > h->limit;
  }
  for (k = 0; k < nlists; k++) {
    h->h[k] = rnj__calloc((size_t)h->nbins, sizeof(double));
    if (!h->h[k])
      return RNJ_ENOMEM;
    for (j = 0; j < lists[k]->n; j++) {
      double v = note_value(&lists[k]->v[j], what);
      double b = floor((v - h->lo) / h->width);
      /* numpy's last bin is closed: the limit itself is counted. */
      if ((what == D_STEP || what == D_DURATION) && v == h->limit)
        b = h->nbins - 1;
      if (!(b >= 0) || b >= h->nbins) {
        h->dropped[k]++;
        continue;
      }
      h->h[k][(int)b] += 1;
    }
    if (nlists == 2) {
      int i;
      for (i = 0; i < h->nbins; i++)
        h->h[k][i] *= 100.0 / (double)lists[k]->n;
    }
  }
  return 0;
}

static void draw_hist(cairo_t *cr, const dist_ctx_t *c, int what,
                      const frame_t *box, double f) {
  static const char *const titles[D_N] = {"pitch", "step", "duration",
                                          "velocity"};
  static const rgb_t colors[2] = {{0.122, 0.467, 0.706},
                                  {1.0, 0.498, 0.055}};
  const hist_t *h = &c->hist[what];
  double ymax = 0;
  double xstep;
  frame_t fr;
  char s[160];
  int i;
  int k;

  for (k = 0; k < c->nlists; k++)
    for (i = 0; i < h->nbins; i++)
      ymax = fmax(ymax, h->h[k][i]);
  fr = *box;
  fr.x0 = h->lo;
  fr.x1 = h->lo + h->width * h->nbins;
  fr.y0 = 0;
  fr.y1 = ymax > 0 ? ymax * 1.08 : 1;
  frame_y_axis(cr, &fr, f, c->nlists == 2 ? "% of notes" : "notes");

  for (k = 0; k < c->nlists; k++) {
    for (i = 0; i < h->nbins; i++) {
      double x0 = fx(&fr, h->lo + i * h->width);
      double x1 = fx(&fr, h->lo + (i + 1) * h->width);
      double y = fy(&fr, h->h[k][i]);
      if (h->h[k][i] <= 0)
        continue;
      /* Two lists overlap: see-through, so both stay readable. */
      set_rgba(cr, colors[k], c->nlists == 2 ? 0.55 : 0.85);
      cairo_rectangle(cr, x0, y, x1 - x0, fr.bottom - y);
      cairo_fill(cr);
      if (x1 - x0 >= 4) { /* a hairline between neighbouring bars */
        set_grey(cr, 1);
        cairo_set_line_width(cr, 0.6);
        cairo_move_to(cr, x1, y);
        cairo_line_to(cr, x1, fr.bottom);
        cairo_stroke(cr);
      }
    }
  }
  frame_axes(cr, &fr);

  if (what == D_PITCH) {
    double pxps = (fr.right - fr.left) / h->nbins;
    /* Ticks start at x0 rounded up to a multiple of the step: with a
     * step of 12 that is a C. */
    xstep = pxps >= 3.2 * f ? 1 : 12 * pxps >= 3.2 * f ? 12 : 24;
    frame_x_axis(cr, &fr, f, xstep, 1, "pitch (C4 = middle C)");
  } else if (what == D_VELOCITY) {
    frame_x_axis(cr, &fr, f, 16, 0, "velocity");
  } else {
    xstep = nice_step(h->limit, (fr.right - fr.left) / (4.5 * f));
    if (h->clipped) {
      size_t dropped = h->dropped[0] + (c->nlists == 2 ? h->dropped[1] : 0);
      snprintf(s, sizeof s, "%s (s); %zu above %.3g s not shown",
               titles[what], dropped, h->limit);
    } else {
      snprintf(s, sizeof s, "%s (s)", titles[what]);
    }
    frame_x_axis(cr, &fr, f, xstep, 0, s);
  }
  font(cr, f * 1.1, 1);
  set_rgb(cr, INK);
  text(cr, fr.left, fr.top - 0.5 * f, 0, 1, titles[what]);
}

static void draw_dist(cairo_t *cr, const void *p) {
  const dist_ctx_t *c = p;
  double f = font_for(c->width, c->height);
  double pw = c->width / (double)c->npanels;
  double top = 4.2 * f;
  const char *title = c->title;
  char s[64];
  int what;

  paper(cr);
  /* One file: its name is the title and the count goes right; two: a
   * legend says which colour is which. */
  if (!title && c->nlists == 1)
    title = c->label[0];
  if (title) {
    font(cr, f * 1.2, 1);
    set_rgb(cr, INK);
    text(cr, 1.0 * f, 0.9 * f, 0, 0, title);
  }
  if (c->nlists == 2) {
    static const int kinds[2] = {KEY_BOX, KEY_BOX};
    const char *names[2];
    rgb_t colors[2];
    names[0] = c->label[0] ? c->label[0] : "first";
    names[1] = c->label[1] ? c->label[1] : "second";
    colors[0] = BLUE;
    colors[1] = ORANGE;
    legend(cr, c->width - 1.0 * f, 0.6 * f, f, 2, names, colors, kinds);
    top = 5.4 * f;
  } else {
    snprintf(s, sizeof s, "%zu notes", c->n[0]);
    font(cr, f, 0);
    set_rgb(cr, MUTED);
    text(cr, c->width - 1.0 * f, 0.9 * f, 1, 0, s);
  }
  for (what = 0; what < c->npanels; what++) {
    frame_t box;
    memset(&box, 0, sizeof box);
    box.left = what * pw + 5.2 * f;
    box.right = (what + 1) * pw - 1.0 * f;
    box.top = top;
    box.bottom = c->height - 3.6 * f;
    draw_hist(cr, c, what, &box, f);
  }
}

static const rnj_plot_dist_opts_t DIST_DEFAULTS = {
    0, 0, 0, 0, 0, 0, {NULL, NULL}, NULL, 0};

int rnj_plot_dist(const char *path, const rnj_notes_t *notes,
                  const rnj_notes_t *compare,
                  const rnj_plot_dist_opts_t *opts, char *err) {
  const rnj_notes_t *lists[2];
  dist_ctx_t c;
  fmt_t fmt;
  int rc;
  int k;
  int what;

  if (!opts)
    opts = &DIST_DEFAULTS;
  memset(&c, 0, sizeof c);
  rc = format_of(path, &fmt, err);
  if (rc < 0)
    return rc;
  c.width = opts->width ? opts->width : opts->velocity ? 1560 : 1200;
  c.height = opts->height ? opts->height : 420;
  rc = check_size(path, c.width, c.height, err);
  if (rc < 0)
    return rc;
  if (!(opts->clip_percentile >= 0 && opts->clip_percentile <= 100) ||
      !(opts->step_max >= 0) || !(opts->duration_max >= 0) ||
      !isfinite(opts->step_max) || !isfinite(opts->duration_max) ||
      opts->bins < 0 || opts->bins > 1000)
    return rnj_errorf(err, RNJ_EINVAL,
                      "%s: clip percentile must be 0..100, maxima >= 0, "
                      "bins 1..1000",
                      path);
  lists[0] = notes;
  lists[1] = compare;
  c.nlists = compare ? 2 : 1;
  for (k = 0; k < c.nlists; k++)
    if (!lists[k] || lists[k]->n == 0)
      return rnj_errorf(err, RNJ_ENODATA, "%s: %s has no notes to plot",
                        path,
                        opts->label[k] ? opts->label[k]
                                       : k ? "the second list"
                                           : "the first list");
  c.label[0] = opts->label[0];
  c.label[1] = opts->label[1];
  c.title = opts->title;
  c.n[0] = notes->n;
  c.n[1] = compare ? compare->n : 0;
  c.npanels = opts->velocity ? 4 : 3;
  for (what = 0; what < c.npanels; what++) {
    rc = build_hist(&c.hist[what], lists, c.nlists, what, opts);
    if (rc < 0) {
      rnj_errorf(err, rc, "%s: out of memory", path);
      goto out;
    }
  }
  rc = render(path, c.width, c.height, draw_dist, &c, err);
out:
  for (what = 0; what < D_N; what++)
    for (k = 0; k < 2; k++)
      rnj__free(c.hist[what].h[k]);
  return rc;
}

/* ========================================================== loss curves */

static const char *const SERIES_KEYS[RNJ_PLOT_NSERIES] = {
#define XX(name, key, alias) key,
    RNJ_PLOT_SERIES_MAP(XX)
#undef XX
};

static const char *const SERIES_ALIASES[RNJ_PLOT_NSERIES] = {
#define XX(name, key, alias) alias,
    RNJ_PLOT_SERIES_MAP(XX)
#undef XX
};

const char *rnj_plot_series_key(int series) {
  return series >= 0 && series < RNJ_PLOT_NSERIES ? SERIES_KEYS[series]
                                                  : NULL;
}

void rnj_plot_losses_init(rnj_plot_losses_t *l) { memset(l, 0, sizeof *l); }

void rnj_plot_losses_free(rnj_plot_losses_t *l) {
  rnj__free(l->v);
  memset(l, 0, sizeof *l);
}

int rnj_plot_losses_push(rnj_plot_losses_t *l, const rnj_plot_epoch_t *row) {
  size_t lo = 0;
  size_t hi = l->n;
  if (!isfinite(row->epoch))
    return RNJ_EINVAL;
  /* Rows come in order, so the search usually ends at the end. */
  if (l->n && l->v[l->n - 1].epoch < row->epoch) {
    lo = l->n;
  } else {
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (l->v[mid].epoch < row->epoch)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < l->n && l->v[lo].epoch == row->epoch) {
      l->v[lo] = *row;
      return 0;
    }
  }
  if (l->n >= RNJ_PLOT_MAX_EPOCHS)
    return RNJ_ELIMIT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    rnj_plot_epoch_t *v = rnj__realloc(l->v, cap * sizeof *v);
    if (!v)
      return RNJ_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  memmove(&l->v[lo + 1], &l->v[lo], (l->n - lo) * sizeof *l->v);
  l->v[lo] = *row;
  l->n++;
  return 0;
}

/* A log is text, one short line per epoch: 64 MB is years of training. */
#define LOSS_LOG_MAX_BYTES ((size_t)64 << 20)

/* The keys of `obj`, comma-separated, for an error that says what the
 * file had instead. */
static void list_keys(json_t *obj, char *out, size_t len) {
  const char *key;
  json_t *val;
  size_t used = 0;
  out[0] = 0;
  json_object_foreach(obj, key, val) {
    int w = snprintf(out + used, len - used, "%s%s", used ? ", " : "", key);
    (void)val;
    if (w < 0 || (size_t)w >= len - used)
      break;
    used += (size_t)w;
  }
}

/* One line: 1 if it gave a row, 0 if it had no series key, or an error. */
static int parse_line(const char *path, size_t lineno, const char *s,
                      size_t len, size_t rows, rnj_plot_epoch_t *row,
                      char *keys, size_t keys_len, char *err) {
  json_error_t je;
  json_t *obj;
  json_t *v;
  int found = 0;
  int i;

  obj = json_loadb(s, len, 0, &je);
  if (!obj)
    return rnj_errorf(err, RNJ_EFORMAT, "%s:%zu: not JSON: %s", path, lineno,
                      je.text);
  if (!json_is_object(obj)) {
    json_decref(obj);
    return rnj_errorf(err, RNJ_EFORMAT, "%s:%zu: expected a JSON object",
                      path, lineno);
  }
  for (i = 0; i < RNJ_PLOT_NSERIES; i++) {
    const char *key = SERIES_KEYS[i];
    row->v[i] = NAN;
    v = json_object_get(obj, key);
    if (!v) {
      key = SERIES_ALIASES[i];
      v = json_object_get(obj, key);
    }
    if (!v || json_is_null(v))
      continue;
    if (!json_is_number(v)) {
      json_decref(obj);
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s:%zu: \"%s\" is not a number", path, lineno,
                        key);
    }
    row->v[i] = json_number_value(v);
    found = 1;
  }
  v = json_object_get(obj, "epoch");
  if (v && !json_is_null(v) && !json_is_number(v)) {
    json_decref(obj);
    return rnj_errorf(err, RNJ_EFORMAT, "%s:%zu: \"epoch\" is not a number",
                      path, lineno);
  }
  row->epoch = v && json_is_number(v) ? json_number_value(v)
                                      : (double)(rows + 1);
  if (!found && !keys[0])
    list_keys(obj, keys, keys_len);
  json_decref(obj);
  return found;
}

int rnj_plot_losses_read(rnj_plot_losses_t *l, const char *path,
                         char *err) {
  uint8_t *buf;
  size_t len;
  size_t pos = 0;
  size_t lineno = 0;
  size_t rows = 0;
  char keys[256];
  int rc;
  int i;

  keys[0] = 0;
  rc = rnj__read_file(path, LOSS_LOG_MAX_BYTES, &buf, &len, err);
  if (rc < 0)
    return rc;
  while (pos < len) {
    const char *s = (const char *)buf + pos;
    const char *nl = memchr(s, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - s) : len - pos;
    size_t k;
    rnj_plot_epoch_t row;
    lineno++;
    pos += n + (nl ? 1 : 0);
    for (k = 0; k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'); k++)
      ;
    if (k == n)
      continue;
    rc = parse_line(path, lineno, s, n, rows, &row, keys, sizeof keys, err);
    if (rc < 0 && !nl) {
      rc = 0; /* the trainer is still writing this line */
      continue;
    }
    if (rc < 0)
      goto out;
    if (rc == 0)
      continue;
    rows++;
    rc = rnj_plot_losses_push(l, &row);
    if (rc < 0) {
      rnj_errorf(err, rc, "%s:%zu: %s", path, lineno, rnj_strerror(rc));
      goto out;
    }
  }
  rc = 0;
  if (rows == 0) {
    char want[256];
    size_t used = 0;
    want[0] = 0;
    for (i = 0; i < RNJ_PLOT_NSERIES; i++)
      used += (size_t)snprintf(want + used, sizeof want - used, "%s%s",
                               i ? ", " : "", SERIES_KEYS[i]);
    rc = rnj_errorf(err, RNJ_ENODATA, "%s: no line has any of %s%s%s%s",
                    path, want, keys[0] ? " (found: " : "", keys,
                    keys[0] ? ")" : "");
  }
out:
  rnj__free(buf);
  return rc;
}

typedef struct {
  int width;
  int height;
  const char *title;
  const rnj_plot_losses_t *l;
  int has[RNJ_PLOT_NSERIES];
  int total; /* the total-loss panel is drawn */
  int nparts;
  int parts[3]; /* RNJ_PLOT_TRAIN_* of each part panel */
} loss_ctx_t;

/* Draw series `s` as a line (markers where it is sparse). */
static void draw_series(cairo_t *cr, const frame_t *fr,
                        const rnj_plot_losses_t *l, int s, rgb_t c,
                        int dashed) {
  static const double dash[] = {6, 4};
  int markers = l->n <= 60;
  int down = 0;
  size_t i;
  set_rgb(cr, c);
  cairo_set_line_width(cr, 2);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  if (dashed)
    cairo_set_dash(cr, dash, 2, 0);
  for (i = 0; i < l->n; i++) {
    double v = l->v[i].v[s];
    double x = fx(fr, l->v[i].epoch);
    if (!isfinite(v)) {
      down = 0;
      continue;
    }
    if (down)
      cairo_line_to(cr, x, fy(fr, v));
    else
      cairo_move_to(cr, x, fy(fr, v));
    down = 1;
  }
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
  for (i = 0; i < l->n; i++) {
    double v = l->v[i].v[s];
    int alone = (i == 0 || !isfinite(l->v[i - 1].v[s])) &&
                (i + 1 == l->n || !isfinite(l->v[i + 1].v[s]));
    if (!isfinite(v) || !(markers || alone))
      continue;
    cairo_arc(cr, fx(fr, l->v[i].epoch), fy(fr, v), 2.8, 0, 2 * M_PI);
    cairo_fill(cr);
  }
}

/* One panel: train (series s) and validation (s + 1) against epochs. */
static void draw_loss_panel(cairo_t *cr, const loss_ctx_t *c,
                            const frame_t *box, double f, int s,
                            const char *title, int with_legend) {
  const rnj_plot_losses_t *l = c->l;
  double lo = INFINITY;
  double hi = -INFINITY;
  double pad;
  double xstep;
  frame_t fr;
  size_t i;
  int k;
  char msg[128];

  for (i = 0; i < l->n; i++)
    for (k = s; k <= s + 1; k++)
      if (isfinite(l->v[i].v[k])) {
        lo = fmin(lo, l->v[i].v[k]);
        hi = fmax(hi, l->v[i].v[k]);
      }
  if (!(hi >= lo)) {
    lo = 0;
    hi = 1;
  }
  pad = hi > lo ? (hi - lo) * 0.08 : fabs(hi) * 0.05 + 1e-3;
  fr = *box;
  fr.x0 = l->v[0].epoch;
  fr.x1 = l->v[l->n - 1].epoch;
  if (fr.x1 <= fr.x0) {
    fr.x0 -= 0.5;
    fr.x1 += 0.5;
  } else {
    /* A little room, so the first and last points are not on the axes. */
    double room = (fr.x1 - fr.x0) * 0.02;
    fr.x0 -= room;
    fr.x1 += room;
  }
  fr.y0 = lo - pad;
  fr.y1 = hi + pad;
  frame_y_axis(cr, &fr, f, "loss");
  xstep = nice_step(fr.x1 - fr.x0, (fr.right - fr.left) / (5 * f));
  /* Epochs are whole: no tick at 2.5 (a step of 2.5 becomes 2). */
  if (xstep < 1)
    xstep = 1;
  else if (xstep != floor(xstep))
    xstep = floor(xstep);

  if (c->has[s + 1]) {
    /* Mark the epoch early stopping would keep. */
    size_t best = l->n;
    for (i = 0; i < l->n; i++)
      if (isfinite(l->v[i].v[s + 1]) &&
          (best == l->n || l->v[i].v[s + 1] < l->v[best].v[s + 1]))
        best = i;
    if (best < l->n && s == RNJ_PLOT_TRAIN_LOSS) {
      static const double dots[] = {2, 3};
      set_grey(cr, 0.55);
      cairo_set_line_width(cr, 1);
      cairo_set_dash(cr, dots, 2, 0);
      vline(cr, fx(&fr, l->v[best].epoch), fr.top, fr.bottom);
      cairo_set_dash(cr, NULL, 0, 0);
      snprintf(msg, sizeof msg, "lowest validation loss %.4f at epoch %g",
               l->v[best].v[s + 1], l->v[best].epoch);
      font(cr, f, 0);
      set_rgb(cr, MUTED);
      text(cr, fr.right, fr.top - 0.5 * f, 1, 1, msg);
    }
  }
  cairo_save(cr);
  cairo_rectangle(cr, fr.left, fr.top - 4, fr.right - fr.left + 4,
                  fr.bottom - fr.top + 8);
  cairo_clip(cr);
  if (c->has[s])
    draw_series(cr, &fr, l, s, BLUE, 0);
  if (c->has[s + 1])
    draw_series(cr, &fr, l, s + 1, ORANGE, 1);
  cairo_restore(cr);
  frame_axes(cr, &fr);
  frame_x_axis(cr, &fr, f, xstep, 0, "epoch");
  font(cr, f * 1.1, 1);
  set_rgb(cr, INK);
  text(cr, fr.left, fr.top - 0.5 * f, 0, 1, title);
  if (with_legend) {
    static const int kinds[2] = {KEY_LINE, KEY_DASH};
    static const char *const names[2] = {"train", "validation"};
    const char *shown[2];
    rgb_t colors[2];
    int kk[2];
    int n = 0;
    if (c->has[s]) {
      shown[n] = names[0];
      colors[n] = BLUE;
      kk[n++] = kinds[0];
    }
    if (c->has[s + 1]) {
      shown[n] = names[1];
      colors[n] = ORANGE;
      kk[n++] = kinds[1];
    }
    legend(cr, fr.right - 0.5 * f, fr.top + 0.4 * f, f, n, shown, colors,
           kk);
  }
}

static void draw_loss(cairo_t *cr, const void *p) {
  static const char *const part_titles[] = {"", "", "pitch",
                                            "", "step", "", "duration"};
  const loss_ctx_t *c = p;
  double f = font_for(c->width, c->height * (c->total && c->nparts ? 0.6
                                                                   : 1));
  double top = (c->title ? 3.2 : 1.2) * f + 1.4 * f;
  double rows = (c->total ? 1 : 0) + (c->nparts ? 1 : 0);
  double rh = (c->height - top) / rows;
  double y = top;
  int i;

  paper(cr);
  if (c->title) {
    font(cr, f * 1.25, 1);
    set_rgb(cr, INK);
    text(cr, 1.0 * f, 0.8 * f, 0, 0, c->title);
  }
  if (c->total) {
    frame_t box;
    memset(&box, 0, sizeof box);
    box.left = 5.8 * f;
    box.right = c->width - 1.5 * f;
    box.top = y;
    box.bottom = y + rh - 4.0 * f;
    draw_loss_panel(cr, c, &box, f, RNJ_PLOT_TRAIN_LOSS, "loss", 1);
    y += rh;
  }
  for (i = 0; i < c->nparts; i++) {
    double pw = (double)c->width / c->nparts;
    frame_t box;
    memset(&box, 0, sizeof box);
    box.left = i * pw + 5.8 * f;
    box.right = (i + 1) * pw - 1.5 * f;
    box.top = y + (c->total ? 1.0 * f : 0);
    box.bottom = y + rh - 4.0 * f;
    draw_loss_panel(cr, c, &box, f, c->parts[i], part_titles[c->parts[i]],
                    !c->total && i == c->nparts - 1);
  }
}

static const rnj_plot_loss_opts_t LOSS_DEFAULTS = {0, 0, NULL};

int rnj_plot_loss(const char *path, const rnj_plot_losses_t *l,
                  const rnj_plot_loss_opts_t *opts, char *err) {
  static const int part_series[3] = {
      RNJ_PLOT_TRAIN_PITCH, RNJ_PLOT_TRAIN_STEP, RNJ_PLOT_TRAIN_DURATION};
  loss_ctx_t c;
  fmt_t fmt;
  size_t j;
  int rc;
  int i;
  int any = 0;

  if (!opts)
    opts = &LOSS_DEFAULTS;
  memset(&c, 0, sizeof c);
  rc = format_of(path, &fmt, err);
  if (rc < 0)
    return rc;
  c.l = l;
  c.title = opts->title;
  for (j = 0; j < l->n; j++)
    for (i = 0; i < RNJ_PLOT_NSERIES; i++)
      if (isfinite(l->v[j].v[i]))
        c.has[i] = any = 1;
  if (!any)
    return rnj_errorf(err, RNJ_ENODATA, "%s: the log has no loss values",
                      path);
  c.total = c.has[RNJ_PLOT_TRAIN_LOSS] || c.has[RNJ_PLOT_VAL_LOSS];
  for (i = 0; i < 3; i++)
    if (c.has[part_series[i]] || c.has[part_series[i] + 1])
      c.parts[c.nparts++] = part_series[i];
  c.width = opts->width ? opts->width : 1100;
  c.height = opts->height ? opts->height : c.total && c.nparts ? 720 : 420;
  rc = check_size(path, c.width, c.height, err);
  if (rc < 0)
    return rc;
  return render(path, c.width, c.height, draw_loss, &c, err);
}
