/* grid: note values, swing, quantizing in beats and exactly in ticks,
 * and the parsers' messages. */
#include "rnnjam/grid.h"
#include "test.h"

static rnj_grid_t grid(int unit, int swing) {
  rnj_grid_t g;
  ASSERT_OK(rnj_grid_init(&g, unit, swing));
  return g;
}

static void test_units(void) {
  rnj_grid_t g;
  ASSERT_NEAR(rnj_grid_unit_beats(RNJ_GRID_4), 1.0, 0);
  ASSERT_NEAR(rnj_grid_unit_beats(RNJ_GRID_8), 0.5, 0);
  ASSERT_NEAR(rnj_grid_unit_beats(RNJ_GRID_16), 0.25, 0);
  ASSERT_NEAR(rnj_grid_unit_beats(RNJ_GRID_8T), 1.0 / 3, 1e-15);
  ASSERT_NEAR(rnj_grid_unit_beats(RNJ_GRID_16T), 1.0 / 6, 1e-15);
  ASSERT_NEAR(rnj_grid_unit_beats(RNJ_GRID_OFF), 0.0, 0);
  ASSERT_NEAR(rnj_grid_unit_beats(99), 0.0, 0);
  ASSERT_EQ(rnj_grid_init(&g, RNJ_GRID_8, 76), RNJ_EINVAL);
  ASSERT_EQ(g.unit, RNJ_GRID_OFF);
  ASSERT_EQ(rnj_grid_init(&g, RNJ_GRID_8, -1), RNJ_EINVAL);
  ASSERT_EQ(rnj_grid_init(&g, 6, 0), RNJ_EINVAL);
  ASSERT_EQ(rnj_grid_init(&g, -1, 0), RNJ_EINVAL);
  ASSERT_OK(rnj_grid_init(&g, RNJ_GRID_16T, 75));
}

static void test_straight(void) {
  rnj_grid_t g = grid(RNJ_GRID_16, 0);
  ASSERT_NEAR(rnj_grid_quantize(&g, 1.10), 1.0, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, 1.13), 1.25, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, -0.13), -0.25, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, -0.12), 0.0, 1e-12);
  /* a tie goes to the earlier point */
  ASSERT_NEAR(rnj_grid_quantize(&g, 1.125), 1.0, 1e-12);
  ASSERT_EQ(rnj_grid_index(&g, 1.125), 4);
  ASSERT_EQ(rnj_grid_index(&g, 1.126), 5);
  g = grid(RNJ_GRID_8T, 0);
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.30), 1.0 / 3, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.55), 2.0 / 3, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, 100.9), 101.0, 1e-9);
  g = grid(RNJ_GRID_OFF, 0);
  ASSERT_NEAR(rnj_grid_quantize(&g, 1.2345), 1.2345, 0);
  ASSERT_NEAR(rnj_grid_ceil(&g, 1.2345), 1.2345, 0);
}

static void test_swing(void) {
  /* 1/8 swung: the off-beat 8th at (1 + s/100) / 2 of the beat */
  rnj_grid_t g = grid(RNJ_GRID_8, 33);
  ASSERT_NEAR(rnj_grid_point(&g, 1), 0.665, 1e-12);
  ASSERT_NEAR(rnj_grid_point(&g, 2), 1.0, 0);
  ASSERT_NEAR(rnj_grid_point(&g, 3), 1.665, 1e-12);
  ASSERT_NEAR(rnj_grid_point(&g, -1), -0.335, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.5), 0.665, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.333), 0.665, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.332), 0.0, 1e-12); /* nearer 0 */
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.85), 1.0, 1e-12);
  g = grid(RNJ_GRID_16, 50);
  ASSERT_NEAR(rnj_grid_point(&g, 1), 0.375, 1e-12); /* dotted 16th feel */
  g = grid(RNJ_GRID_8, 75);
  ASSERT_NEAR(rnj_grid_point(&g, 1), 0.875, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.93), 0.875, 1e-12);
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.9375), 0.875, 1e-12); /* a tie */
  ASSERT_NEAR(rnj_grid_quantize(&g, 0.9376), 1.0, 1e-12);
  /* triplet grids ignore swing */
  g = grid(RNJ_GRID_8T, 50);
  ASSERT_NEAR(rnj_grid_point(&g, 1), 1.0 / 3, 1e-12);
  /* every point is its own quantization, and points rise */
  {
    int units[] = {RNJ_GRID_4, RNJ_GRID_8, RNJ_GRID_16, RNJ_GRID_8T,
                   RNJ_GRID_16T};
    int swings[] = {0, 1, 33, 50, 66, 75};
    size_t u;
    size_t s;
    int64_t k;
    for (u = 0; u < 5; u++)
      for (s = 0; s < 6; s++) {
        g = grid(units[u], swings[s]);
        for (k = -50; k < 50; k++) {
          double p = rnj_grid_point(&g, k);
          ASSERT(rnj_grid_point(&g, k + 1) > p);
          ASSERT_EQ(rnj_grid_index(&g, p), k);
          ASSERT_NEAR(rnj_grid_ceil(&g, p), p, 0);
          ASSERT_NEAR(rnj_grid_ceil(&g, p - 1e-12), p, 0); /* float noise */
          ASSERT_NEAR(rnj_grid_ceil(&g, p + 1e-6), rnj_grid_point(&g, k + 1),
                      0);
        }
      }
  }
}

static void test_notes(void) {
  rnj_grid_t g = grid(RNJ_GRID_16, 0);
  double s;
  double e;
  /* a short note gets one unit */
  rnj_grid_note(&g, 2.02, 2.05, &s, &e);
  ASSERT_NEAR(s, 2.0, 1e-12);
  ASSERT_NEAR(e, 2.25, 1e-12);
  /* durations round to whole units */
  rnj_grid_note(&g, 0.9, 1.7, &s, &e);
  ASSERT_NEAR(s, 1.0, 1e-12);
  ASSERT_NEAR(e, 1.75, 1e-12);
  /* a chord stays a chord */
  {
    double s2;
    double e2;
    rnj_grid_note(&g, 3.11, 3.5, &s, &e);
    rnj_grid_note(&g, 3.12, 3.3, &s2, &e2);
    ASSERT_NEAR(s, s2, 0);
  }
  /* legato stays legato on a swung grid: a note held to the next onset
   * ends where that one starts */
  g = grid(RNJ_GRID_8, 50);
  {
    double s2;
    double e2;
    rnj_grid_note(&g, 0.02, 0.76, &s, &e);  /* 8th 0, swung off-beat next */
    rnj_grid_note(&g, 0.76, 1.01, &s2, &e2);
    ASSERT_NEAR(s, 0.0, 0);
    ASSERT_NEAR(e, 0.75, 1e-12);
    ASSERT_NEAR(s2, 0.75, 1e-12);
    ASSERT_NEAR(e2, 1.0, 1e-12);
  }
  g = grid(RNJ_GRID_OFF, 0);
  rnj_grid_note(&g, 0.123, 0.456, &s, &e);
  ASSERT_NEAR(s, 0.123, 0);
  ASSERT_NEAR(e, 0.456, 0);
}

/* Every tick of a few beats goes to a grid point that no other point is
 * nearer to, points are exact roundings of the rational, and notes end
 * after they start. */
static void test_ticks(void) {
  int tpqs[] = {1, 3, 96, 120, 480, 1024, 960, 384};
  int units[] = {RNJ_GRID_4, RNJ_GRID_8, RNJ_GRID_16, RNJ_GRID_8T,
                 RNJ_GRID_16T};
  int swings[] = {0, 33, 50, 75};
  size_t a;
  size_t u;
  size_t s;
  rnj_grid_t g = grid(RNJ_GRID_8T, 0);
  /* 1/8t at 1024 ticks a beat: 341.33 ticks, rounded */
  ASSERT_EQ(rnj_grid_point_ticks(&g, 1, 1024), 341);
  ASSERT_EQ(rnj_grid_point_ticks(&g, 2, 1024), 683);
  ASSERT_EQ(rnj_grid_point_ticks(&g, 3, 1024), 1024);
  ASSERT_EQ(rnj_grid_point_ticks(&g, -1, 1024), -341);
  g = grid(RNJ_GRID_16, 50);
  ASSERT_EQ(rnj_grid_point_ticks(&g, 1, 480), 180);
  ASSERT_EQ(rnj_grid_point_ticks(&g, 3, 480), 420);
  ASSERT_EQ(rnj_grid_point_ticks(&g, (int64_t)1 << 40, 480),
            ((int64_t)1 << 40) * 120);
  g = grid(RNJ_GRID_8, 33);
  ASSERT_EQ(rnj_grid_point_ticks(&g, 1, 1024), 681); /* 680.96 */
  for (a = 0; a < sizeof tpqs / sizeof tpqs[0]; a++)
    for (u = 0; u < 5; u++)
      for (s = 0; s < 4; s++) {
        int tpq = tpqs[a];
        int64_t t;
        g = grid(units[u], swings[s]);
        for (t = 0; t < 4 * tpq + 7; t++) {
          int64_t q = rnj_grid_quantize_ticks(&g, t, tpq);
          int64_t k = rnj_grid_index(&g, (double)q / tpq);
          int64_t j;
          int found = 0;
          int64_t qs;
          int64_t qe;
          for (j = k - 2; j <= k + 2; j++) {
            int64_t p = rnj_grid_point_ticks(&g, j, tpq);
            double exact = rnj_grid_point(&g, j) * tpq;
            ASSERT(fabs((double)p - exact) <= 0.5 + 1e-9);
            ASSERT(llabs(p - t) >= llabs(q - t));
            found |= p == q;
          }
          ASSERT(found);
          ASSERT_EQ(rnj_grid_quantize_ticks(&g, q, tpq), q);
          rnj_grid_note_ticks(&g, t, t + (t % 5) * tpq / 3, tpq, &qs, &qe);
          ASSERT_EQ(qs, q);
          ASSERT(qe > qs);
        }
      }
  g = grid(RNJ_GRID_OFF, 0);
  {
    int64_t qs;
    int64_t qe;
    ASSERT_EQ(rnj_grid_quantize_ticks(&g, 1234, 480), 1234);
    rnj_grid_note_ticks(&g, 100, 100, 480, &qs, &qe);
    ASSERT_EQ(qs, 100);
    ASSERT_EQ(qe, 101);
  }
}

static void test_parse(void) {
  char err[RNJ_ERR_LEN];
  int v = -1;
  static const char *const names[] = {"off", "1/4", "1/8", "1/16", "1/8t",
                                      "1/16t"};
  int i;
  for (i = 0; i < 6; i++) {
    ASSERT_OK(rnj_grid_parse(names[i], &v, err));
    ASSERT_EQ(v, i);
    ASSERT_STR_EQ(rnj_grid_name(i), names[i]);
  }
  ASSERT_OK(rnj_grid_parse("  1/16T ", &v, err));
  ASSERT_EQ(v, RNJ_GRID_16T);
  ASSERT_OK(rnj_grid_parse("OFF", &v, NULL));
  ASSERT_EQ(v, RNJ_GRID_OFF);
  v = 3;
  ASSERT_EQ(rnj_grid_parse("1/32", &v, err), RNJ_EINVAL);
  ASSERT_EQ(v, 3);
  ASSERT_STR_EQ(err, "quantize: expected off, 1/4, 1/8, 1/16, 1/8t or "
                     "1/16t, got '1/32'");
  ASSERT_EQ(rnj_grid_parse("1/8tt", &v, err), RNJ_EINVAL);
  ASSERT_EQ(rnj_grid_parse("", &v, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "got ''");
  ASSERT_EQ(rnj_grid_parse(NULL, &v, NULL), RNJ_EINVAL);
  ASSERT_STR_EQ(rnj_grid_name(6), "?");
  ASSERT_STR_EQ(rnj_grid_name(-1), "?");

  ASSERT_OK(rnj_grid_parse_swing("0", &v, err));
  ASSERT_EQ(v, 0);
  ASSERT_OK(rnj_grid_parse_swing(" 66 % ", &v, err));
  ASSERT_EQ(v, 66);
  ASSERT_OK(rnj_grid_parse_swing("75", &v, err));
  ASSERT_EQ(v, 75);
  ASSERT_EQ(rnj_grid_parse_swing("76", &v, err), RNJ_EINVAL);
  ASSERT_STR_EQ(err, "swing: expected a percentage 0..75, got '76'");
  ASSERT_EQ(rnj_grid_parse_swing("-5", &v, err), RNJ_EINVAL);
  ASSERT_EQ(rnj_grid_parse_swing("12.5", &v, err), RNJ_EINVAL);
  ASSERT_EQ(rnj_grid_parse_swing("50%%", &v, err), RNJ_EINVAL);
  ASSERT_EQ(rnj_grid_parse_swing("", &v, err), RNJ_EINVAL);
  ASSERT_EQ(rnj_grid_parse_swing("99999999999999999999", &v, err),
            RNJ_EINVAL);

  ASSERT_OK(rnj_grid_parse_answer_start("gap", &v, err));
  ASSERT_EQ(v, RNJ_ANSWER_GAP);
  ASSERT_OK(rnj_grid_parse_answer_start(" Beat", &v, err));
  ASSERT_EQ(v, RNJ_ANSWER_BEAT);
  ASSERT_OK(rnj_grid_parse_answer_start("bar", &v, err));
  ASSERT_EQ(v, RNJ_ANSWER_BAR);
  ASSERT_EQ(rnj_grid_parse_answer_start("bars", &v, err), RNJ_EINVAL);
  ASSERT_STR_EQ(err, "answer_start: expected gap, beat or bar, got 'bars'");
  ASSERT_STR_EQ(rnj_grid_answer_start_name(RNJ_ANSWER_BAR), "bar");
  ASSERT_STR_EQ(rnj_grid_answer_start_name(3), "?");
}

int main(void) {
  test_units();
  test_straight();
  test_swing();
  test_notes();
  test_ticks();
  test_parse();
  printf("grid: ok\n");
  return 0;
}
