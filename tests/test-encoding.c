/* encoding: every boundary of the v2 contract (bins, phase, time inputs,
 * centres and their metadata spelling), including the values that are
 * not numbers. */
#include <float.h>

#include "rnnjam/encoding.h"
#include "test.h"

#define Q (1.0 / 24) /* one bin of 1/24 beat */

static void check_step(void) {
  int k;
  ASSERT_EQ(rnj_encoding_step_bin(0), 0);
  ASSERT_EQ(rnj_encoding_step_bin(-0.0), 0);
  ASSERT_EQ(rnj_encoding_step_bin(-3), 0);         /* max(s, 0) */
  ASSERT_EQ(rnj_encoding_step_bin(-INFINITY), 0);
  ASSERT_EQ(rnj_encoding_step_bin(NAN), 0);
  /* llround: half a bin rounds away from zero */
  ASSERT_EQ(rnj_encoding_step_bin(0.5 * Q - 1e-12), 0);
  ASSERT_EQ(rnj_encoding_step_bin(0.5 * Q), 1);
  for (k = 0; k <= 96; k++) {
    ASSERT_EQ(rnj_encoding_step_bin(k * Q), k);
    ASSERT_EQ(rnj_encoding_step_bin(k / 24.0), k);
  }
  ASSERT_EQ(rnj_encoding_step_bin(4.0), 96);
  ASSERT_EQ(rnj_encoding_step_bin(96.4999 * Q), 96);
  ASSERT_EQ(rnj_encoding_step_bin(96.5 * Q), 97);  /* k = 97 > 96 */
  ASSERT_EQ(rnj_encoding_step_bin(4.1), 97);
  ASSERT_EQ(rnj_encoding_step_bin(1e300), 97);
  ASSERT_EQ(rnj_encoding_step_bin(INFINITY), 97);
}

static void check_duration(void) {
  /* boundaries between the coarse bins: geometric means of the centres */
  static const double cut[5][2] = {{5, 6}, {6, 8}, {8, 10}, {10, 12},
                                   {12, 16}};
  int k;
  int i;
  ASSERT_EQ(rnj_encoding_duration_bin(0), 0);      /* k < 1 -> k = 1 */
  ASSERT_EQ(rnj_encoding_duration_bin(-1), 0);
  ASSERT_EQ(rnj_encoding_duration_bin(NAN), 0);
  ASSERT_EQ(rnj_encoding_duration_bin(0.4 * Q), 0);
  ASSERT_EQ(rnj_encoding_duration_bin(1.4999 * Q), 0);
  ASSERT_EQ(rnj_encoding_duration_bin(1.5 * Q), 1);
  for (k = 1; k <= 96; k++)
    ASSERT_EQ(rnj_encoding_duration_bin(k / 24.0), k - 1);
  ASSERT_EQ(rnj_encoding_duration_bin(4.0), 95);
  ASSERT_EQ(rnj_encoding_duration_bin(96.4999 * Q), 95);
  ASSERT_EQ(rnj_encoding_duration_bin(96.5 * Q), 96); /* 4.02 -> 5 beats */
  ASSERT_EQ(rnj_encoding_duration_bin(5), 96);
  for (i = 0; i < 5; i++) {
    double b = sqrt(cut[i][0] * cut[i][1]);
    ASSERT_EQ(rnj_encoding_duration_bin(b), 96 + i);     /* <= boundary */
    ASSERT_EQ(rnj_encoding_duration_bin(nextafter(b, 100)), 97 + i);
    ASSERT_EQ(rnj_encoding_duration_bin(cut[i][1]), 97 + i); /* centre */
  }
  ASSERT_EQ(rnj_encoding_duration_bin(16), 101);
  ASSERT_EQ(rnj_encoding_duration_bin(1000), 101);
  ASSERT_EQ(rnj_encoding_duration_bin(INFINITY), 101);
}

static void check_velocity(void) {
  int v;
  ASSERT_EQ(rnj_encoding_velocity_bin(-5), 0);
  ASSERT_EQ(rnj_encoding_velocity_bin(0), 0);
  ASSERT_EQ(rnj_encoding_velocity_bin(3), 0);
  ASSERT_EQ(rnj_encoding_velocity_bin(4), 1);
  ASSERT_EQ(rnj_encoding_velocity_bin(127), 31);
  ASSERT_EQ(rnj_encoding_velocity_bin(128), 31);
  ASSERT_EQ(rnj_encoding_velocity_bin(100000), 31);
  for (v = 0; v < 128; v++) {
    int b = rnj_encoding_velocity_bin(v);
    ASSERT(v >= 4 * b && v <= 4 * b + 3);
  }
  ASSERT_EQ(rnj_encoding_velocity_centre(0), 2);
  ASSERT_EQ(rnj_encoding_velocity_centre(20), 82);
  ASSERT_EQ(rnj_encoding_velocity_centre(31), 126);
  ASSERT_EQ(rnj_encoding_velocity_centre(99), 126);
  ASSERT_EQ(rnj_encoding_velocity_centre(-1), 2);
  for (v = 0; v < 32; v++)
    ASSERT_EQ(rnj_encoding_velocity_bin(rnj_encoding_velocity_centre(v)), v);
}

static void check_phase(void) {
  int k;
  ASSERT_EQ(rnj_encoding_phase(0), 0);
  ASSERT_EQ(rnj_encoding_phase(1), 0);
  ASSERT_EQ(rnj_encoding_phase(0.5), 12);
  ASSERT_EQ(rnj_encoding_phase(0.25), 6);
  ASSERT_EQ(rnj_encoding_phase(1.0 / 3), 8);
  ASSERT_EQ(rnj_encoding_phase(23.0 / 24), 23);
  ASSERT_EQ(rnj_encoding_phase(23.5 / 24), 0);       /* llround -> 24 */
  ASSERT_EQ(rnj_encoding_phase(0.5 / 24 - 1e-12), 0);
  ASSERT_EQ(rnj_encoding_phase(0.5 / 24), 1);
  /* negative onsets: the mathematical mod, 0..23 */
  ASSERT_EQ(rnj_encoding_phase(-1.0 / 24), 23);
  ASSERT_EQ(rnj_encoding_phase(-0.5), 12);
  ASSERT_EQ(rnj_encoding_phase(-0.5 / 24), 23);     /* llround(-0.5) = -1 */
  for (k = -500; k < 500; k++)
    ASSERT_EQ(rnj_encoding_phase(k / 24.0), ((k % 24) + 24) % 24);
  ASSERT_EQ(rnj_encoding_phase(1000000.0 + 7.0 / 24), 7);
  ASSERT_EQ(rnj_encoding_phase(NAN), 0);
  ASSERT_EQ(rnj_encoding_phase(INFINITY), 0);
  ASSERT_EQ(rnj_encoding_phase(-INFINITY), 0);
  ASSERT_EQ(rnj_encoding_phase(1e300), 0);
  ASSERT_EQ(rnj_encoding_phase(0x1p47 + 0.5), 12);
}

static void check_time_input(void) {
  ASSERT(rnj_encoding_time_input(0) == 0.0f);
  ASSERT(rnj_encoding_time_input(-2) == 0.0f);
  ASSERT(rnj_encoding_time_input(NAN) == 0.0f);
  ASSERT(rnj_encoding_time_input(1) == (float)log1p(1.0));
  ASSERT(rnj_encoding_time_input(0.125) == (float)log1p(0.125));
  ASSERT(rnj_encoding_time_input(64) == (float)log1p(64.0));
  ASSERT(rnj_encoding_time_input(65) == (float)log1p(64.0));
  ASSERT(rnj_encoding_time_input(INFINITY) == (float)log1p(64.0));
}

static void check_centres(void) {
  char buf[2048];
  char *p;
  int n;
  int k;
  for (k = 0; k <= 96; k++) {
    ASSERT(rnj_encoding_step_centre(k) == k / 24.0);
    ASSERT_EQ(rnj_encoding_step_bin(rnj_encoding_step_centre(k)), k);
  }
  ASSERT(rnj_encoding_step_centre(97) == 6.0);
  ASSERT_EQ(rnj_encoding_step_bin(6.0), 97);
  for (k = 0; k < 96; k++) {
    ASSERT(rnj_encoding_duration_centre(k) == (k + 1) / 24.0);
    ASSERT_EQ(rnj_encoding_duration_bin(rnj_encoding_duration_centre(k)),
              k);
  }
  ASSERT(rnj_encoding_duration_centre(96) == 5);
  ASSERT(rnj_encoding_duration_centre(97) == 6);
  ASSERT(rnj_encoding_duration_centre(98) == 8);
  ASSERT(rnj_encoding_duration_centre(99) == 10);
  ASSERT(rnj_encoding_duration_centre(100) == 12);
  ASSERT(rnj_encoding_duration_centre(101) == 16);
  for (k = 96; k < 102; k++)
    ASSERT_EQ(rnj_encoding_duration_bin(rnj_encoding_duration_centre(k)),
              k);
  /* out of range: clamped */
  ASSERT(rnj_encoding_step_centre(-1) == 0);
  ASSERT(rnj_encoding_step_centre(500) == 6);
  ASSERT(rnj_encoding_duration_centre(-1) == Q);
  ASSERT(rnj_encoding_duration_centre(500) == 16);

  /* the metadata strings: %.9g, comma-separated, the right count */
  n = rnj_encoding_step_bins_str(buf, sizeof buf);
  ASSERT_EQ(n, (int)strlen(buf));
  ASSERT(strncmp(buf, "0,0.0416666667,0.0833333333,0.125,", 34) == 0);
  ASSERT_STR_EQ(buf + n - 15, ",3.95833333,4,6");
  for (k = 0, p = buf; (p = strchr(p, ',')); p++)
    k++;
  ASSERT_EQ(k, RNJ_ENCODING_STEP_BINS - 1);
  n = rnj_encoding_duration_bins_str(buf, sizeof buf);
  ASSERT_EQ(n, (int)strlen(buf));
  ASSERT(strncmp(buf, "0.0416666667,0.0833333333,", 26) == 0);
  ASSERT_CONTAINS(buf, ",3.95833333,4,5,6,8,10,12,16");
  ASSERT_STR_EQ(buf + n - 17, ",4,5,6,8,10,12,16");
  for (k = 0, p = buf; (p = strchr(p, ',')); p++)
    k++;
  ASSERT_EQ(k, RNJ_ENCODING_DURATION_BINS - 1);
  /* snprintf's contract: a short buffer is cut, the full length told */
  n = rnj_encoding_step_bins_str(NULL, 0);
  ASSERT_EQ(rnj_encoding_step_bins_str(buf, 5), n);
  ASSERT_STR_EQ(buf, "0,0.");
  ASSERT(n > 500);
}

int main(void) {
  check_step();
  check_duration();
  check_velocity();
  check_phase();
  check_time_input();
  check_centres();
  printf("encoding: ok\n");
  return 0;
}
