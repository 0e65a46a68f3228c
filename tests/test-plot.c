/* plot: render each picture, read it back, and look at the pixels.
 *
 * The piano roll is checked against its own published geometry
 * (rnj_plot_roll_xy): every note's bar is coloured inside, and nothing
 * coloured is drawn in the plot area away from the bars.  Colour is told
 * from the grey background, grid, keyboard and text by saturation: notes
 * and bars are the only saturated pixels.
 */
#include <cairo.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include "rnnjam/alloc.h"
#include "rnnjam/plot.h"
#include "test.h"

static char dir[1024];

/* ------------------------------------------------ counting allocator */

static long live;      /* blocks held */
static long fail_at = -1; /* fail the allocation with this index */
static long calls;

static int should_fail(void) { return fail_at >= 0 && calls++ == fail_at; }

static void *c_malloc(size_t n) {
  void *p = should_fail() ? NULL : malloc(n);
  live += p != NULL;
  return p;
}

static void *c_calloc(size_t k, size_t n) {
  void *p = should_fail() ? NULL : calloc(k, n);
  live += p != NULL;
  return p;
}

static void *c_realloc(void *q, size_t n) {
  void *p;
  if (should_fail())
    return NULL;
  p = realloc(q, n);
  live += p != NULL && q == NULL;
  return p;
}

static void c_free(void *p) {
  live -= p != NULL;
  free(p);
}

/* ------------------------------------------------------------ pictures */

typedef struct {
  cairo_surface_t *s;
  int w;
  int h;
  int stride;
  const unsigned char *d;
} img_t;

static img_t load(const char *path) {
  img_t im;
  im.s = cairo_image_surface_create_from_png(path);
  if (cairo_surface_status(im.s) != CAIRO_STATUS_SUCCESS)
    FAIL("%s: %s", path, cairo_status_to_string(cairo_surface_status(im.s)));
  cairo_surface_flush(im.s);
  im.w = cairo_image_surface_get_width(im.s);
  im.h = cairo_image_surface_get_height(im.s);
  im.stride = cairo_image_surface_get_stride(im.s);
  im.d = cairo_image_surface_get_data(im.s);
  ASSERT(cairo_image_surface_get_format(im.s) == CAIRO_FORMAT_RGB24 ||
         cairo_image_surface_get_format(im.s) == CAIRO_FORMAT_ARGB32);
  return im;
}

static void unload(img_t *im) { cairo_surface_destroy(im->s); }

static void px(const img_t *im, int x, int y, int *r, int *g, int *b) {
  uint32_t v;
  ASSERT(x >= 0 && x < im->w && y >= 0 && y < im->h);
  memcpy(&v, im->d + (size_t)y * (size_t)im->stride + (size_t)x * 4, 4);
  *r = (int)(v >> 16 & 255);
  *g = (int)(v >> 8 & 255);
  *b = (int)(v & 255);
}

/* Max minus min channel: 0 for greys, large for the note colours. */
static int sat(const img_t *im, int x, int y) {
  int r, g, b;
  int mx, mn;
  px(im, x, y, &r, &g, &b);
  mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
  mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
  return mx - mn;
}

static int is_blue(const img_t *im, int x, int y) {
  int r, g, b;
  px(im, x, y, &r, &g, &b);
  return b > r + 40;
}

static int is_orange(const img_t *im, int x, int y) {
  int r, g, b;
  px(im, x, y, &r, &g, &b);
  return r > b + 40;
}

static int luma(const img_t *im, int x, int y) {
  int r, g, b;
  px(im, x, y, &r, &g, &b);
  return (r * 3 + g * 6 + b) / 10;
}

/* Pixels that are not white, in a rectangle. */
static long inked(const img_t *im, int x0, int y0, int x1, int y1) {
  long n = 0;
  int x, y;
  for (y = y0; y < y1; y++)
    for (x = x0; x < x1; x++) {
      int r, g, b;
      px(im, x, y, &r, &g, &b);
      n += r < 250 || g < 250 || b < 250;
    }
  return n;
}

static void path_of(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", dir, name);
}

/* No "*.tmp.*" left behind by a write that failed (or succeeded). */
static void assert_no_temp_files(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp."))
      FAIL("temporary file left: %s", e->d_name);
  closedir(d);
}

static rnj_note_t note(int pitch, double start, double end, int velocity) {
  rnj_note_t n;
  memset(&n, 0, sizeof n);
  n.pitch = (uint8_t)pitch;
  n.start = start;
  n.end = end;
  n.duration = end - start;
  n.velocity = (uint8_t)velocity;
  return n;
}

static void finish(rnj_note_t *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    v[i].step = i ? v[i].start - v[i - 1].start : 0;
}

/* ------------------------------------------------------------ the tests */

static void test_percentile(void) {
  double a[] = {4, 1, 3, 2};
  double one[] = {7};
  /* numpy.percentile([1, 2, 3, 4], p) */
  ASSERT_NEAR(rnj_plot_percentile(a, 4, 50), 2.5, 1e-12);
  ASSERT_NEAR(rnj_plot_percentile(a, 4, 97.5), 3.925, 1e-12);
  ASSERT_NEAR(rnj_plot_percentile(a, 4, 0), 1, 1e-12);
  ASSERT_NEAR(rnj_plot_percentile(a, 4, 100), 4, 1e-12);
  ASSERT_NEAR(rnj_plot_percentile(a, 4, 25), 1.75, 1e-12);
  ASSERT_NEAR(rnj_plot_percentile(one, 1, 97.5), 7, 0);
  ASSERT(isnan(rnj_plot_percentile(a, 0, 50)));
}

static void test_roll_layout(void) {
  rnj_note_t v[2];
  rnj_notes_t notes = {v, 2, 2};
  rnj_plot_roll_opts_t o;
  rnj_plot_roll_layout_t lay;
  const rnj_plot_area_t *a;
  double x, y, x2, y2;

  v[0] = note(60, 0.5, 1.5, 100);
  v[1] = note(62, 1.0, 3.0, 100);
  ASSERT_OK(rnj_plot_roll_layout(&lay, &notes, NULL, NULL));
  ASSERT_EQ(lay.width, 1200);
  ASSERT_EQ(lay.height, 480);
  ASSERT_EQ(lay.npanels, 1);
  a = &lay.panel[0];
  ASSERT_NEAR(a->t0, 0, 0);
  ASSERT_NEAR(a->t1, 3.0, 1e-12); /* the last note's end */
  /* two semitones of margin, widened to two octaves of rows */
  ASSERT(a->pitch_lo <= 58 && a->pitch_hi >= 64);
  ASSERT_EQ(a->pitch_hi - a->pitch_lo + 1, 25);
  ASSERT(a->left > 0 && a->right < lay.width && a->left < a->right);
  ASSERT(a->top > 0 && a->bottom < lay.height && a->top < a->bottom);

  rnj_plot_roll_xy(a, a->t0, a->pitch_hi + 0.5, &x, &y);
  ASSERT_NEAR(x, a->left, 1e-9);
  ASSERT_NEAR(y, a->top, 1e-9);
  rnj_plot_roll_xy(a, a->t1, a->pitch_lo - 0.5, &x, &y);
  ASSERT_NEAR(x, a->right, 1e-9);
  ASSERT_NEAR(y, a->bottom, 1e-9);
  /* higher pitch is higher up; later is further right */
  rnj_plot_roll_xy(a, 1, 60, &x, &y);
  rnj_plot_roll_xy(a, 2, 61, &x2, &y2);
  ASSERT(x2 > x && y2 < y);

  memset(&o, 0, sizeof o);
  o.width = 640;
  o.height = 300;
  o.seconds = 10;
  ASSERT_OK(rnj_plot_roll_layout(&lay, &notes, &notes, &o));
  ASSERT_EQ(lay.npanels, 2);
  ASSERT_NEAR(lay.panel[1].t1, 10, 0);
  ASSERT(lay.panel[0].bottom < lay.panel[1].top);
  ASSERT_EQ(lay.panel[0].pitch_lo, lay.panel[1].pitch_lo);

  o.width = RNJ_PLOT_MIN_SIZE - 1;
  ASSERT_EQ(rnj_plot_roll_layout(&lay, &notes, NULL, &o), RNJ_EINVAL);
  o.width = 640;
  o.seconds = -1;
  ASSERT_EQ(rnj_plot_roll_layout(&lay, &notes, NULL, &o), RNJ_EINVAL);
  o.seconds = NAN;
  ASSERT_EQ(rnj_plot_roll_layout(&lay, &notes, NULL, &o), RNJ_EINVAL);
}

/* Pixel box of a note as the header promises: [start, end] x [p - .5,
 * p + .5], at least 2 pixels wide. */
static void note_box(const rnj_plot_area_t *a, const rnj_note_t *n,
                     double box[4]) {
  rnj_plot_roll_xy(a, n->start, n->pitch + 0.5, &box[0], &box[1]);
  rnj_plot_roll_xy(a, n->end, n->pitch - 0.5, &box[2], &box[3]);
  if (box[2] - box[0] < 2)
    box[2] = box[0] + 2;
}

/* Every bar is filled with colour, and colour appears nowhere else in
 * the panel's plot area (2 pixels of antialiasing allowed at edges). */
static void check_roll_panel(const img_t *im, const rnj_plot_area_t *a,
                             const rnj_note_t *v, size_t n, int orange,
                             size_t *drawn) {
  double box[64][4];
  size_t i;
  int x, y;
  ASSERT(n <= 64);
  *drawn = 0;
  for (i = 0; i < n; i++) {
    note_box(a, &v[i], box[i]);
    if (v[i].start > a->t1)
      continue;
    (*drawn)++;
    /* the inside, 2 px in from each edge (the outline is there) */
    for (y = (int)ceil(box[i][1]) + 2; y <= (int)floor(box[i][3]) - 3; y++)
      for (x = (int)ceil(box[i][0]) + 2;
           x <= (int)floor(fmin(box[i][2], a->right)) - 3; x++) {
        if (sat(im, x, y) < 60)
          FAIL("note %zu (pitch %d at %.2f s): pixel %d,%d is not coloured",
               i, v[i].pitch, v[i].start, x, y);
        if (orange ? !is_orange(im, x, y) : !is_blue(im, x, y))
          FAIL("note %zu: pixel %d,%d has the other panel's colour", i, x,
               y);
      }
    /* the centre exactly, whatever the bar's size */
    x = (int)((box[i][0] + fmin(box[i][2], a->right)) / 2);
    y = (int)((box[i][1] + box[i][3]) / 2);
    ASSERT(sat(im, x, y) >= 60);
  }
  for (y = (int)a->top + 1; y < (int)a->bottom - 1; y++)
    for (x = (int)a->left + 1; x < (int)a->right - 1; x++) {
      int inside = 0;
      if (sat(im, x, y) < 30)
        continue;
      for (i = 0; i < n && !inside; i++)
        inside = x >= box[i][0] - 2 && x <= box[i][2] + 2 &&
                 y >= box[i][1] - 2 && y <= box[i][3] + 2;
      if (!inside) {
        double t = a->t0 + (x - a->left) / (a->right - a->left) *
                               (a->t1 - a->t0);
        double p = a->pitch_hi + 0.5 - (y - a->top) / (a->bottom - a->top) *
                                           (a->pitch_hi - a->pitch_lo + 1);
        FAIL("coloured pixel %d,%d (%.2f s, pitch %.1f) away from every "
             "note",
             x, y, t, p);
      }
    }
}

static void test_roll_png(void) {
  rnj_note_t v[6];
  rnj_notes_t notes = {v, 6, 6};
  rnj_plot_roll_opts_t o;
  rnj_plot_roll_layout_t lay;
  char path[2048];
  char err[RNJ_ERR_LEN];
  size_t drawn;
  img_t im;
  double b0[4], b1[4];

  v[0] = note(60, 0.5, 1.5, 30); /* C4, soft */
  v[1] = note(64, 1.0, 2.0, 127); /* E4, loud, overlapping in time */
  v[2] = note(67, 2.0, 2.6, 90);
  v[3] = note(60, 2.6, 2.62, 90); /* very short: still 2 px wide */
  v[4] = note(72, 3.2, 5.0, 90);  /* runs past --seconds: cut at the edge */
  v[5] = note(96, 6.0, 7.0, 90);  /* after --seconds: not drawn */
  finish(v, 6);
  memset(&o, 0, sizeof o);
  o.width = 800;
  o.height = 400;
  o.seconds = 4;
  o.label[0] = "test";
  path_of(path, sizeof path, "roll.png");
  ASSERT_OK(rnj_plot_roll(path, &notes, NULL, &o, err));
  ASSERT_OK(rnj_plot_roll_layout(&lay, &notes, NULL, &o));
  /* the note past the window widens neither time nor pitch */
  ASSERT_NEAR(lay.panel[0].t1, 4, 0);
  ASSERT(lay.panel[0].pitch_hi < 96);

  im = load(path);
  ASSERT_EQ(im.w, 800);
  ASSERT_EQ(im.h, 400);
  check_roll_panel(&im, &lay.panel[0], v, 6, 0, &drawn);
  ASSERT_EQ(drawn, 5);
  /* louder is darker */
  note_box(&lay.panel[0], &v[0], b0);
  note_box(&lay.panel[0], &v[1], b1);
  ASSERT(luma(&im, (int)((b1[0] + b1[2]) / 2), (int)((b1[1] + b1[3]) / 2)) +
             30 <
         luma(&im, (int)((b0[0] + b0[2]) / 2), (int)((b0[1] + b0[3]) / 2)));
  /* axes and labels outside the plot area: the margins are not empty */
  ASSERT(inked(&im, 0, 0, (int)lay.panel[0].left - 2, im.h) > 200);
  ASSERT(inked(&im, 0, (int)lay.panel[0].bottom + 2, im.w, im.h) > 200);
  unload(&im);
  assert_no_temp_files();
}

static void test_roll_compare(void) {
  rnj_note_t seed[3];
  rnj_note_t gen[4];
  rnj_notes_t a = {seed, 3, 3};
  rnj_notes_t b = {gen, 4, 4};
  rnj_plot_roll_opts_t o;
  rnj_plot_roll_layout_t lay;
  char path[2048];
  char err[RNJ_ERR_LEN];
  size_t drawn;
  img_t im;

  seed[0] = note(55, 0.0, 0.5, 80);
  seed[1] = note(59, 0.5, 1.0, 80);
  seed[2] = note(62, 1.0, 2.0, 80);
  gen[0] = note(50, 0.0, 1.0, 80); /* lower than any seed note */
  gen[1] = note(74, 1.0, 1.5, 80); /* higher */
  gen[2] = note(66, 2.0, 3.0, 80);
  gen[3] = note(66, 3.0, 6.0, 80); /* longer than the seed */
  finish(seed, 3);
  finish(gen, 4);
  memset(&o, 0, sizeof o);
  o.width = 700;
  o.height = 600;
  o.label[0] = "seed";
  o.label[1] = "generated";
  path_of(path, sizeof path, "compare.png");
  ASSERT_OK(rnj_plot_roll(path, &a, &b, &o, err));
  ASSERT_OK(rnj_plot_roll_layout(&lay, &a, &b, &o));
  ASSERT_EQ(lay.npanels, 2);
  /* one scale for both */
  ASSERT_NEAR(lay.panel[0].t1, 6, 1e-12);
  ASSERT(lay.panel[0].pitch_lo <= 48 && lay.panel[0].pitch_hi >= 76);
  im = load(path);
  ASSERT_EQ(im.w, 700);
  ASSERT_EQ(im.h, 600);
  check_roll_panel(&im, &lay.panel[0], seed, 3, 0, &drawn);
  ASSERT_EQ(drawn, 3);
  check_roll_panel(&im, &lay.panel[1], gen, 4, 1, &drawn);
  ASSERT_EQ(drawn, 4);
  unload(&im);
}

static void test_roll_empty_and_svg(void) {
  rnj_notes_t none = {NULL, 0, 0};
  rnj_note_t v[1];
  rnj_notes_t one = {v, 1, 1};
  rnj_plot_roll_layout_t lay;
  char path[2048];
  char err[RNJ_ERR_LEN];
  uint8_t buf[4096];
  size_t n;
  FILE *f;
  img_t im;
  int x, y;

  /* no notes: axes on a default range, and nothing coloured */
  path_of(path, sizeof path, "empty.png");
  ASSERT_OK(rnj_plot_roll(path, &none, NULL, NULL, err));
  ASSERT_OK(rnj_plot_roll_layout(&lay, &none, NULL, NULL));
  im = load(path);
  ASSERT_EQ(im.w, 1200);
  ASSERT_EQ(im.h, 480);
  for (y = (int)lay.panel[0].top; y < (int)lay.panel[0].bottom; y++)
    for (x = (int)lay.panel[0].left; x < (int)lay.panel[0].right; x++)
      ASSERT(sat(&im, x, y) < 30);
  ASSERT(inked(&im, 0, 0, im.w, im.h) > 1000);
  unload(&im);

  v[0] = note(60, 0, 1, 100);
  path_of(path, sizeof path, "roll.SVG"); /* the extension in any case */
  ASSERT_OK(rnj_plot_roll(path, &one, NULL, NULL, err));
  f = fopen(path, "rb");
  ASSERT(f != NULL);
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  ASSERT(n > 500);
  ASSERT_CONTAINS((const char *)buf, "<svg");
  ASSERT_CONTAINS((const char *)buf, "width=\"1200");
  ASSERT_CONTAINS((const char *)buf, "height=\"480");
}

static void test_errors(void) {
  rnj_note_t v[1];
  rnj_notes_t one = {v, 1, 1};
  rnj_notes_t none = {NULL, 0, 0};
  rnj_plot_roll_opts_t o;
  char path[2048];
  char err[RNJ_ERR_LEN];
  FILE *f;
  int rc;

  v[0] = note(60, 0, 1, 100);
  path_of(path, sizeof path, "picture.jpg");
  ASSERT_EQ(rnj_plot_roll(path, &one, NULL, NULL, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "picture.jpg");
  ASSERT_CONTAINS(err, ".png or .svg");
  ASSERT_EQ(rnj_plot_roll("noextension", &one, NULL, NULL, err), RNJ_EINVAL);
  ASSERT(access(path, F_OK) != 0);

  path_of(path, sizeof path, "nodir/roll.png");
  rc = rnj_plot_roll(path, &one, NULL, NULL, err);
  ASSERT_EQ(rc, -ENOENT);
  ASSERT_CONTAINS(err, "nodir/roll.png");
  ASSERT(strchr(err, '\n') == NULL);

  memset(&o, 0, sizeof o);
  o.width = 100000;
  path_of(path, sizeof path, "big.png");
  ASSERT_EQ(rnj_plot_roll(path, &one, NULL, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "100000");

  /* a refused picture leaves the file of that name alone */
  path_of(path, sizeof path, "keep.png");
  f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs("old", f);
  fclose(f);
  ASSERT_EQ(rnj_plot_dist(path, &none, NULL, NULL, err), RNJ_ENODATA);
  ASSERT_CONTAINS(err, "no notes");
  f = fopen(path, "r");
  ASSERT(f != NULL);
  ASSERT(fgets(err, sizeof err, f) != NULL);
  fclose(f);
  ASSERT_STR_EQ(err, "old");
  unlink(path);
  assert_no_temp_files();
}

/* Columns of the middle third (the step panel) with some blue in them. */
static int step_columns(const img_t *im) {
  int x, y, n = 0;
  for (x = im->w / 3; x < 2 * im->w / 3; x++)
    for (y = 0; y < im->h; y++)
      if (is_blue(im, x, y)) {
        n++;
        break;
      }
  return n;
}

static void test_dist(void) {
  rnj_note_t v[200];
  rnj_note_t g[20];
  rnj_notes_t notes = {v, 200, 200};
  rnj_notes_t gen = {g, 20, 20};
  rnj_plot_dist_opts_t o;
  char path[2048];
  char err[RNJ_ERR_LEN];
  double t = 0;
  int wide, narrow, third, k, x, y, i;
  long orange;
  img_t im;

  /* steps spread over 0..0.5 s, and one pause of 100 s */
  for (i = 0; i < 200; i++) {
    t += i == 100 ? 100 : (i % 10) * 0.05;
    v[i] = note(48 + i % 25, t, t + 0.1 + (i % 7) * 0.1, 90);
  }
  for (i = 0; i < 20; i++)
    g[i] = note(70 + i % 5, i * 0.3, i * 0.3 + 0.2, 90);
  finish(v, 200);
  finish(g, 20);

  memset(&o, 0, sizeof o);
  path_of(path, sizeof path, "dist.png");
  ASSERT_OK(rnj_plot_dist(path, &notes, NULL, &o, err));
  im = load(path);
  ASSERT_EQ(im.w, 1200);
  ASSERT_EQ(im.h, 420);
  /* each of the three panels has bars */
  for (k = 0; k < 3; k++) {
    long blue = 0;
    for (y = 0; y < im.h; y++)
      for (x = k * im.w / 3; x < (k + 1) * im.w / 3; x++)
        blue += is_blue(&im, x, y);
    if (blue < 500)
      FAIL("panel %d: only %ld blue pixels", k, blue);
  }
  /* unclipped, the pause squeezes every other step into the first bar */
  narrow = step_columns(&im);
  unload(&im);

  o.clip_percentile = 97.5;
  ASSERT_OK(rnj_plot_dist(path, &notes, NULL, &o, err));
  im = load(path);
  wide = step_columns(&im);
  unload(&im);
  if (!(wide > 3 * narrow))
    FAIL("clipping should spread the steps: %d columns vs %d", wide, narrow);

  o.clip_percentile = 0;
  o.step_max = 0.5;
  ASSERT_OK(rnj_plot_dist(path, &notes, NULL, &o, err));
  im = load(path);
  third = step_columns(&im);
  unload(&im);
  ASSERT(third > 3 * narrow);

  /* A velocity panel: the fourth quarter of a wider picture, whose one bar
   * (every note has velocity 90) is narrow. */
  o.velocity = 1;
  ASSERT_OK(rnj_plot_dist(path, &notes, NULL, &o, err));
  im = load(path);
  ASSERT_EQ(im.w, 1560);
  {
    long blue = 0;
    int lo = im.w;
    int hi = 0;
    for (y = 0; y < im.h; y++)
      for (x = 3 * im.w / 4; x < im.w; x++)
        if (is_blue(&im, x, y)) {
          blue++;
          lo = x < lo ? x : lo;
          hi = x > hi ? x : hi;
        }
    if (blue < 200 || hi - lo > im.w / 4 / 16)
      FAIL("velocity panel: %ld blue pixels over x %d..%d", blue, lo, hi);
  }
  unload(&im);

  /* two lists overlaid: both colours, at a size asked for */
  memset(&o, 0, sizeof o);
  o.width = 900;
  o.height = 300;
  o.clip_percentile = 97.5;
  o.label[0] = "seed";
  o.label[1] = "generated";
  path_of(path, sizeof path, "dist2.svg");
  ASSERT_OK(rnj_plot_dist(path, &notes, &gen, &o, err));
  path_of(path, sizeof path, "dist2.png");
  ASSERT_OK(rnj_plot_dist(path, &notes, &gen, &o, err));
  im = load(path);
  ASSERT_EQ(im.w, 900);
  ASSERT_EQ(im.h, 300);
  orange = 0;
  for (y = 0; y < im.h; y++)
    for (x = 0; x < im.w; x++)
      orange += is_orange(&im, x, y);
  ASSERT(orange > 300);
  unload(&im);

  o.bins = 5000;
  ASSERT_EQ(rnj_plot_dist(path, &notes, NULL, &o, err), RNJ_EINVAL);
  ASSERT_EQ(rnj_plot_dist(path, &notes, &(rnj_notes_t){NULL, 0, 0}, NULL,
                          err),
            RNJ_ENODATA);
}

static void fill_losses(rnj_plot_losses_t *l, int n, int parts) {
  int e, s;
  for (e = 1; e <= n; e++) {
    rnj_plot_epoch_t row;
    row.epoch = e;
    for (s = 0; s < RNJ_PLOT_NSERIES; s++)
      row.v[s] = NAN;
    row.v[RNJ_PLOT_TRAIN_LOSS] = 0.5 / e + 0.2;
    row.v[RNJ_PLOT_VAL_LOSS] = 0.45 / e + 0.25;
    if (parts) {
      row.v[RNJ_PLOT_TRAIN_PITCH] = 4.0 - e * 0.05;
      row.v[RNJ_PLOT_VAL_PITCH] = 4.1 - e * 0.04;
      row.v[RNJ_PLOT_TRAIN_STEP] = 0.02 - e * 0.0005;
      row.v[RNJ_PLOT_VAL_STEP] = 0.021 - e * 0.0004;
      row.v[RNJ_PLOT_TRAIN_DURATION] = 0.05 - e * 0.001;
      row.v[RNJ_PLOT_VAL_DURATION] = 0.052 - e * 0.0009;
    }
    ASSERT_OK(rnj_plot_losses_push(l, &row));
  }
}

static void test_loss_plot(void) {
  rnj_plot_losses_t l;
  rnj_plot_loss_opts_t o;
  char path[2048];
  char err[RNJ_ERR_LEN];
  long blue = 0, orange = 0;
  int x, y;
  img_t im;

  rnj_plot_losses_init(&l);
  fill_losses(&l, 20, 1);
  path_of(path, sizeof path, "loss.png");
  ASSERT_OK(rnj_plot_loss(path, &l, NULL, err));
  im = load(path);
  ASSERT_EQ(im.w, 1100);
  ASSERT_EQ(im.h, 720);
  /* train and validation curves in the total panel (top half) and in
   * each part panel (bottom third, three columns) */
  for (y = 0; y < im.h / 2; y++)
    for (x = 0; x < im.w; x++) {
      blue += is_blue(&im, x, y);
      orange += is_orange(&im, x, y);
    }
  ASSERT(blue > 300 && orange > 200);
  for (x = 0; x < 3; x++) {
    long b = 0, o2 = 0;
    int xx;
    for (y = 2 * im.h / 3; y < im.h; y++)
      for (xx = x * im.w / 3; xx < (x + 1) * im.w / 3; xx++) {
        b += is_blue(&im, xx, y);
        o2 += is_orange(&im, xx, y);
      }
    if (b < 100 || o2 < 50)
      FAIL("part panel %d: %ld blue, %ld orange pixels", x, b, o2);
  }
  unload(&im);
  rnj_plot_losses_free(&l);

  /* total only: one panel, a shorter default */
  fill_losses(&l, 3, 0);
  memset(&o, 0, sizeof o);
  o.title = "three epochs";
  path_of(path, sizeof path, "loss1.png");
  ASSERT_OK(rnj_plot_loss(path, &l, &o, err));
  im = load(path);
  ASSERT_EQ(im.h, 420);
  ASSERT(inked(&im, 0, 0, im.w, im.h) > 2000);
  unload(&im);
  rnj_plot_losses_free(&l);
  rnj_plot_losses_free(&l);

  ASSERT_EQ(rnj_plot_loss(path, &l, NULL, err), RNJ_ENODATA);
  ASSERT_CONTAINS(err, "no loss values");
}

static void write_text(const char *name, const char *s, char *path,
                       size_t len) {
  FILE *f;
  path_of(path, len, name);
  f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs(s, f);
  fclose(f);
}

static void test_losses_read(void) {
  rnj_plot_losses_t l;
  rnj_plot_epoch_t row;
  char path[2048];
  char err[RNJ_ERR_LEN];

  ASSERT_STR_EQ(rnj_plot_series_key(RNJ_PLOT_VAL_DURATION), "val_duration");
  ASSERT(rnj_plot_series_key(RNJ_PLOT_NSERIES) == NULL);

  /* a header line without losses, a blank line, an epoch logged again by
   * a resumed run, and a last line still being written */
  write_text("a.jsonl",
             "{\"config\": {\"lr\": 0.005}}\n"
             "{\"epoch\": 1, \"train_loss\": 0.9, \"val_loss\": 1.0, "
             "\"train_pitch\": 4.2, \"lr\": 0.005}\n"
             "\n"
             "{\"epoch\": 2, \"train_loss\": 0.8, \"val_loss\": null}\n"
             "{\"epoch\": 3, \"train_loss\": 0.7, \"val_loss\": 0.75}\n"
             "{\"epoch\": 2, \"train_loss\": 0.85, \"val_loss\": 0.9}\n"
             "{\"epoch\": 4, \"train_lo",
             path, sizeof path);
  rnj_plot_losses_init(&l);
  ASSERT_OK(rnj_plot_losses_read(&l, path, err));
  ASSERT_EQ(l.n, 3);
  ASSERT_NEAR(l.v[0].epoch, 1, 0);
  ASSERT_NEAR(l.v[1].epoch, 2, 0);
  ASSERT_NEAR(l.v[2].epoch, 3, 0);
  ASSERT_NEAR(l.v[0].v[RNJ_PLOT_TRAIN_PITCH], 4.2, 1e-12);
  ASSERT(isnan(l.v[0].v[RNJ_PLOT_VAL_STEP]));
  ASSERT_NEAR(l.v[1].v[RNJ_PLOT_TRAIN_LOSS], 0.85, 1e-12); /* replaced */
  ASSERT_NEAR(l.v[1].v[RNJ_PLOT_VAL_LOSS], 0.9, 1e-12);
  ASSERT_NEAR(l.v[2].v[RNJ_PLOT_VAL_LOSS], 0.75, 1e-12);
  rnj_plot_losses_free(&l);

  /* no "epoch": counted from 1; integers are numbers too */
  write_text("b.jsonl",
             "{\"val_step\": 1}\n{\"val_step\": 0.5}\r\n{\"val_step\": 2}",
             path, sizeof path);
  ASSERT_OK(rnj_plot_losses_read(&l, path, err));
  ASSERT_EQ(l.n, 3);
  ASSERT_NEAR(l.v[2].epoch, 3, 0);
  ASSERT_NEAR(l.v[0].v[RNJ_PLOT_VAL_STEP], 1, 0);
  ASSERT_NEAR(l.v[2].v[RNJ_PLOT_VAL_STEP], 2, 0);
  rnj_plot_losses_free(&l);

  /* out-of-order epochs end up sorted */
  row.epoch = 5;
  memset(row.v, 0, sizeof row.v);
  ASSERT_OK(rnj_plot_losses_push(&l, &row));
  row.epoch = 2;
  ASSERT_OK(rnj_plot_losses_push(&l, &row));
  row.epoch = 3;
  ASSERT_OK(rnj_plot_losses_push(&l, &row));
  ASSERT_EQ(l.n, 3);
  ASSERT_NEAR(l.v[0].epoch, 2, 0);
  ASSERT_NEAR(l.v[1].epoch, 3, 0);
  ASSERT_NEAR(l.v[2].epoch, 5, 0);
  row.epoch = INFINITY;
  ASSERT_EQ(rnj_plot_losses_push(&l, &row), RNJ_EINVAL);
  rnj_plot_losses_free(&l);

  write_text("c.jsonl", "{\"train_loss\": 1}\nnot json\n{\"train_loss\": 2}\n",
             path, sizeof path);
  ASSERT_EQ(rnj_plot_losses_read(&l, path, err), RNJ_EFORMAT);
  ASSERT_CONTAINS(err, "c.jsonl:2:");
  rnj_plot_losses_free(&l);

  write_text("d.jsonl", "{\"train_loss\": \"low\"}\n", path, sizeof path);
  ASSERT_EQ(rnj_plot_losses_read(&l, path, err), RNJ_EFORMAT);
  ASSERT_CONTAINS(err, "d.jsonl:1:");
  ASSERT_CONTAINS(err, "\"train_loss\" is not a number");
  rnj_plot_losses_free(&l);

  write_text("e.jsonl", "[1, 2]\n", path, sizeof path);
  ASSERT_EQ(rnj_plot_losses_read(&l, path, err), RNJ_EFORMAT);
  ASSERT_CONTAINS(err, "expected a JSON object");

  write_text("f.jsonl", "{\"lr\": 1, \"acc\": 0.5}\n\n", path,
             sizeof path);
  ASSERT_EQ(rnj_plot_losses_read(&l, path, err), RNJ_ENODATA);
  ASSERT_CONTAINS(err, "train_loss");
  ASSERT_CONTAINS(err, "val_duration");
  ASSERT_CONTAINS(err, "found: lr, acc");

  /* checkpoint metadata's spelling of the parts, and "loss" for train */
  write_text("h.jsonl",
             "{\"epoch\": 0, \"loss\": 0.3, \"val_loss_step\": 0.01, "
             "\"train_loss_duration\": 0.02}\n",
             path, sizeof path);
  ASSERT_OK(rnj_plot_losses_read(&l, path, err));
  ASSERT_EQ(l.n, 1);
  ASSERT_NEAR(l.v[0].v[RNJ_PLOT_TRAIN_LOSS], 0.3, 1e-12);
  ASSERT_NEAR(l.v[0].v[RNJ_PLOT_VAL_STEP], 0.01, 1e-12);
  ASSERT_NEAR(l.v[0].v[RNJ_PLOT_TRAIN_DURATION], 0.02, 1e-12);
  rnj_plot_losses_free(&l);
  write_text("i.jsonl", "{\"train_loss_step\": [1]}\n", path, sizeof path);
  ASSERT_EQ(rnj_plot_losses_read(&l, path, err), RNJ_EFORMAT);
  ASSERT_CONTAINS(err, "\"train_loss_step\" is not a number");

  write_text("g.jsonl", "", path, sizeof path);
  ASSERT_EQ(rnj_plot_losses_read(&l, path, err), RNJ_ENODATA);

  path_of(path, sizeof path, "missing.jsonl");
  ASSERT_EQ(rnj_plot_losses_read(&l, path, err), -ENOENT);
  ASSERT_CONTAINS(err, "missing.jsonl");
  rnj_plot_losses_free(&l);
}

/* Every allocation the library makes can fail: the call says so and
 * leaks nothing. */
static void test_out_of_memory(void) {
  rnj_note_t v[50];
  rnj_notes_t notes = {v, 50, 50};
  rnj_plot_dist_opts_t o;
  rnj_plot_losses_t l;
  char path[2048];
  char log[2048];
  char err[RNJ_ERR_LEN];
  int i, rc, failures = 0;

  for (i = 0; i < 50; i++)
    v[i] = note(40 + i, i * 0.25, i * 0.25 + 0.3, 80);
  finish(v, 50);
  memset(&o, 0, sizeof o);
  o.width = o.height = 300;
  o.clip_percentile = 90;
  path_of(path, sizeof path, "oom.png");
  for (fail_at = 0;; fail_at++) {
    calls = 0;
    rc = rnj_plot_dist(path, &notes, NULL, &o, err);
    ASSERT_EQ(live, 0);
    if (rc == 0)
      break;
    ASSERT_EQ(rc, RNJ_ENOMEM);
    failures++;
  }
  ASSERT(failures >= 4); /* three histograms, a percentile, the PNG */

  write_text("oom.jsonl",
             "{\"train_loss\": 1}\n{\"train_loss\": 0.5}\n", log, sizeof log);
  failures = 0;
  for (fail_at = 0;; fail_at++) {
    calls = 0;
    rnj_plot_losses_init(&l);
    rc = rnj_plot_losses_read(&l, log, err);
    if (rc == 0)
      rc = rnj_plot_loss(path, &l, NULL, err);
    rnj_plot_losses_free(&l);
    ASSERT_EQ(live, 0);
    if (rc == 0)
      break;
    ASSERT_EQ(rc, RNJ_ENOMEM);
    failures++;
  }
  ASSERT(failures >= 3);
  fail_at = -1;
  assert_no_temp_files();
}

static void remove_dir(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[2048];
  if (!d)
    return;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

int main(void) {
  ASSERT_OK(rnj_replace_allocator(c_malloc, c_realloc, c_calloc, c_free));
  snprintf(dir, sizeof dir, "%s/rnj-plot-XXXXXX", test_tmp_dir());
  ASSERT(mkdtemp(dir) != NULL);

  test_percentile();
  test_roll_layout();
  test_roll_png();
  test_roll_compare();
  test_roll_empty_and_svg();
  test_errors();
  test_dist();
  test_loss_plot();
  test_losses_read();
  ASSERT_EQ(live, 0);
  test_out_of_memory();

  /* cairo keeps the fonts it loaded until told; let a leak checker see
   * only what the library itself left. */
  cairo_debug_reset_static_data();
  if (!getenv("RNJ_KEEP_PLOTS"))
    remove_dir();
  else
    printf("pictures kept in %s\n", dir);
  printf("plot: all passed\n");
  return 0;
}
