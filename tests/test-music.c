/* music: each measure on notes built so that the answer is known by
 * construction (a C major scale is in C major, a grid-perfect phrase is on
 * the grid, ...), and the edges: no notes, a flat histogram, ties.
 */
#include "rnnjam/alloc.h"
#include "rnnjam/music.h"
#include "test.h"

static rnj_note_t mk(int pitch, double start, double end, int velocity) {
  rnj_note_t n;
  memset(&n, 0, sizeof n);
  n.pitch = (uint8_t)pitch;
  n.start = start;
  n.end = end;
  n.velocity = (uint8_t)velocity;
  return n;
}

/* Notes one after another, each `dur[i]` seconds long (all 1 if NULL). */
static size_t melody(rnj_note_t *v, const int *pitch, const double *dur,
                     size_t n, int shift) {
  double t = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double d = dur ? dur[i] : 1.0;
    v[i] = mk(pitch[i] + shift, t, t + d, 80);
    t += d;
  }
  return n;
}

static const int c_scale[] = {60, 62, 64, 65, 67, 69, 71, 72};
/* A natural minor: A C B A E D C B A G F E A C E A, the A and E long. */
static const int a_minor[] = {69, 72, 71, 69, 76, 74, 72, 71,
                              69, 67, 65, 64, 69, 72, 76, 69};
static const double a_minor_dur[] = {2, 1, 1, 1, 2, 1, 1, 1,
                                     2, 1, 1, 2, 1, 1, 1, 4};

static void test_key(void) {
  rnj_note_t v[16];
  rnj_key_t k;
  int shift;

  melody(v, c_scale, NULL, 8, 0);
  ASSERT_OK(rnj_music_key(v, 8, &k));
  ASSERT_EQ(k.tonic, 0);
  ASSERT_EQ(k.minor, 0);
  ASSERT(k.r > 0.85 && k.r <= 1.0);
  ASSERT_STR_EQ(rnj_music_key_name(&k), "C major");
  ASSERT_NEAR(rnj_music_in_key_share(v, 8, &k), 1.0, 0);

  melody(v, a_minor, a_minor_dur, 16, 0);
  ASSERT_OK(rnj_music_key(v, 16, &k));
  ASSERT_EQ(k.tonic, 9);
  ASSERT_EQ(k.minor, 1);
  ASSERT_STR_EQ(rnj_music_key_name(&k), "A minor");
  ASSERT_NEAR(rnj_music_in_key_share(v, 16, &k), 1.0, 0);

  /* Every transposition moves the key with it, the correlation stays. */
  for (shift = -6; shift <= 5; shift++) {
    rnj_key_t t;
    melody(v, a_minor, a_minor_dur, 16, shift);
    ASSERT_OK(rnj_music_key(v, 16, &t));
    ASSERT_EQ(t.tonic, ((9 + shift) % 12 + 12) % 12);
    ASSERT_EQ(t.minor, 1);
    ASSERT_NEAR(t.r, k.r, 1e-12);
  }

  /* Durations weight the histogram: C E G long and nine short Eb, Bb
   * and Ab, which counted one each would make it Eb major. */
  {
    static const int p[] = {60, 64, 67, 63, 70, 68, 63, 70, 68, 63, 70, 68};
    static const double d[] = {4, 4, 4, .1, .1, .1, .1, .1, .1, .1, .1, .1};
    size_t i;
    melody(v, p, d, 12, 0);
    ASSERT_OK(rnj_music_key(v, 12, &k));
    ASSERT_STR_EQ(rnj_music_key_name(&k), "C major");
    for (i = 0; i < 12; i++)
      v[i].end = v[i].start; /* no durations: counted */
    ASSERT_OK(rnj_music_key(v, 12, &k));
    ASSERT_STR_EQ(rnj_music_key_name(&k), "Eb major");
  }
  /* All durations 0: counted instead. */
  melody(v, c_scale, NULL, 8, 2);
  for (shift = 0; shift < 8; shift++)
    v[shift].end = v[shift].start;
  ASSERT_OK(rnj_music_key(v, 8, &k));
  ASSERT_STR_EQ(rnj_music_key_name(&k), "D major");
}

static void test_key_edges(void) {
  double pc[12] = {0};
  rnj_key_t k = {5, 1, 0.5};
  int i;

  ASSERT_EQ(rnj_music_key(NULL, 0, &k), RNJ_EINVAL); /* no notes */
  ASSERT_EQ(rnj_music_key_of(pc, &k), RNJ_EINVAL);   /* all zero */
  for (i = 0; i < 12; i++)
    pc[i] = 3;
  ASSERT_EQ(rnj_music_key_of(pc, &k), RNJ_EINVAL); /* all alike */
  pc[4] = -1;
  ASSERT_EQ(rnj_music_key_of(pc, &k), RNJ_EINVAL);
  pc[4] = NAN;
  ASSERT_EQ(rnj_music_key_of(pc, &k), RNJ_EINVAL);
  ASSERT_EQ(k.tonic, 5); /* untouched */

  /* C and F# alone: C major and F# major fit equally (the histogram is
   * the same a tritone up); the tie goes to the earlier, C major. */
  memset(pc, 0, sizeof pc);
  pc[0] = 1;
  pc[6] = 1;
  ASSERT_OK(rnj_music_key_of(pc, &k));
  ASSERT_EQ(k.tonic, 0);
  ASSERT_EQ(k.minor, 0);
}

static void test_scales(void) {
  rnj_key_t cmaj = {0, 0, 1};
  rnj_key_t amin = {9, 1, 1};
  rnj_key_t emin = {4, 1, 1};
  static const int major_steps[] = {0, 2, 4, 5, 7, 9, 11};
  int in = 0;
  int p;

  /* A minor and C major share their notes (natural minor). */
  for (p = 0; p < 128; p++) {
    ASSERT_EQ(rnj_music_in_scale(&cmaj, p), rnj_music_in_scale(&amin, p));
    in += rnj_music_in_scale(&cmaj, p);
  }
  ASSERT_EQ(in, 75); /* 10 octaves of 7 and C..G of the 11th */
  for (p = 0; p < 7; p++)
    ASSERT(rnj_music_in_scale(&cmaj, 60 + major_steps[p]));
  ASSERT(!rnj_music_in_scale(&cmaj, 61));
  ASSERT(!rnj_music_in_scale(&cmaj, 66));
  /* E natural minor: E F# G A B C D */
  ASSERT(rnj_music_in_scale(&emin, 66));
  ASSERT(rnj_music_in_scale(&emin, 72));
  ASSERT(!rnj_music_in_scale(&emin, 65));
  ASSERT(!rnj_music_in_scale(&emin, 75)); /* D# is harmonic minor only */
}

static void test_in_key_share(void) {
  rnj_key_t cmaj = {0, 0, 1};
  rnj_note_t v[8];
  static const int p[] = {60, 61, 62, 63, 64, 65, 66, 67};
  melody(v, p, NULL, 8, 0);
  /* C D E F G in; C# D# F# out */
  ASSERT_NEAR(rnj_music_in_key_share(v, 8, &cmaj), 5.0 / 8, 1e-15);
  ASSERT(isnan(rnj_music_in_key_share(v, 0, &cmaj)));
}

static void test_grid(void) {
  rnj_note_t v[8];
  double anchor = 10.0;
  double eighth = 30.0 / 96; /* 96 bpm */
  size_t i;

  /* On the 8th grid, before and after the anchor, then off by 24 ms, by
   * 26 ms, and half-way. */
  v[0] = mk(60, anchor + 3 * eighth, 0, 0);
  v[1] = mk(60, anchor - 2 * eighth, 0, 0);
  v[2] = mk(60, anchor + 7 * eighth + 0.024, 0, 0);
  v[3] = mk(60, anchor + 9 * eighth - 0.024, 0, 0);
  v[4] = mk(60, anchor + 4 * eighth + 0.026, 0, 0);
  v[5] = mk(60, anchor + 5 * eighth - 0.026, 0, 0);
  v[6] = mk(60, anchor + 5.5 * eighth, 0, 0);
  v[7] = mk(60, anchor + 100 * eighth, 0, 0);
  for (i = 0; i < 8; i++)
    v[i].end = v[i].start + 0.1;
  ASSERT_NEAR(rnj_music_grid_share(v, 8, anchor, eighth, 0.025), 5.0 / 8,
              1e-15);
  /* the 16th grid has the half-way note too */
  ASSERT_NEAR(rnj_music_grid_share(v, 8, anchor, eighth / 2, 0.025),
              6.0 / 8, 1e-15);
  ASSERT(isnan(rnj_music_grid_share(v, 0, anchor, eighth, 0.025)));
  ASSERT(isnan(rnj_music_grid_share(v, 8, anchor, 0, 0.025)));
}

static void test_steps(void) {
  rnj_note_t v[6];
  double m;

  /* onsets 1.0 (after 0.5), 1.0 (chord), 1.0005 (0.5 ms: a chord at
   * 1 ms, not at 0), 1.5, 2.5, 2.5 */
  v[0] = mk(60, 1.0, 1.2, 0);
  v[1] = mk(64, 1.0, 1.2, 0);
  v[2] = mk(67, 1.0005, 1.2, 0);
  v[3] = mk(72, 1.5, 2, 0);
  v[4] = mk(71, 2.5, 3, 0);
  v[5] = mk(79, 2.5, 3, 0);
  /* steps 0.5, 0, 0.0005, 0.4995, 1.0, 0 */
  ASSERT_NEAR(rnj_music_chord_share(v, 6, 0.5, 0), 2.0 / 6, 1e-15);
  ASSERT_NEAR(rnj_music_chord_share(v, 6, 0.5, 1e-3), 3.0 / 6, 1e-15);
  /* without a note before: 5 steps */
  ASSERT_NEAR(rnj_music_chord_share(v, 6, NAN, 0), 2.0 / 5, 1e-15);
  ASSERT(isnan(rnj_music_chord_share(v, 1, NAN, 0)));

  ASSERT_OK(rnj_music_median_step(v, 6, 0.5, 0, &m));
  ASSERT_NEAR(m, 0.49975, 1e-12); /* of 0.0005 0.4995 0.5 1.0 */
  ASSERT_OK(rnj_music_median_step(v, 6, 0.5, 1e-3, &m));
  ASSERT_NEAR(m, 0.5, 1e-12); /* of 0.4995 0.5 1.0 */
  ASSERT_OK(rnj_music_median_step(v, 2, NAN, 0, &m));
  ASSERT(isnan(m)); /* one step, and it is zero */

  /* intervals: 7 from the seed's 53, then 4 3 5 1 8 */
  ASSERT_NEAR(rnj_music_small_interval_share(v, 6, 53, 7), 5.0 / 6, 1e-15);
  ASSERT_NEAR(rnj_music_small_interval_share(v, 6, -1, 7), 4.0 / 5,
              1e-15);
  ASSERT_NEAR(rnj_music_small_interval_share(v, 6, 40, 7), 4.0 / 6,
              1e-15);
}

static void test_classes_velocity(void) {
  rnj_note_t v[5];
  double sd;
  double range;

  v[0] = mk(60, 0, 1, 40);
  v[1] = mk(72, 0, 1, 60);  /* C again */
  v[2] = mk(61, 0, 1, 0);   /* no velocity: left out */
  v[3] = mk(127, 0, 1, 80); /* G */
  v[4] = mk(0, 0, 1, 60);   /* C */
  ASSERT_EQ(rnj_music_pitch_classes(v, 5), 3);
  ASSERT_EQ(rnj_music_pitch_classes(v, 0), 0);
  rnj_music_velocity_spread(v, 5, &sd, &range);
  /* 40 60 80 60: mean 60, variance (400 + 0 + 400 + 0) / 4 */
  ASSERT_NEAR(sd, sqrt(200.0), 1e-12);
  ASSERT_NEAR(range, 40, 0);
  rnj_music_velocity_spread(v + 2, 1, &sd, &range);
  ASSERT(isnan(sd) && isnan(range));
}

/* The whole measure: a seed in G major at 120 bpm, its 8th-note
 * continuation (real music) and a continuation off key, off grid and
 * twice as slow. */
static void test_measure(void) {
  static const int g_major[] = {67, 71, 74, 72, 71, 69, 67, 66,
                                67, 69, 71, 72, 74, 76, 78, 79};
  rnj_note_t seed[16];
  rnj_note_t good[8];
  rnj_note_t bad[4];
  rnj_music_seed_t s;
  rnj_music_stats_t st;
  size_t i;

  for (i = 0; i < 16; i++)
    seed[i] = mk(g_major[i], 0.25 * (double)i, 0.25 * (double)i + 0.25, 70);
  ASSERT_OK(rnj_music_seed_init(&s, seed, 16, 120, 0));
  ASSERT_STR_EQ(rnj_music_key_name(&s.key), "G major");
  ASSERT_NEAR(s.last_start, 3.75, 0);
  ASSERT_EQ(s.last_pitch, 79);
  ASSERT_NEAR(s.median_step, 0.25, 1e-15);
  ASSERT_EQ(rnj_music_seed_init(&s, seed, 0, 120, 0), RNJ_EINVAL);
  ASSERT_EQ(rnj_music_seed_init(&s, seed, 16, 0, 0), RNJ_EINVAL);
  ASSERT_OK(rnj_music_seed_init(&s, seed, 16, 120, 0));

  for (i = 0; i < 8; i++)
    good[i] = mk(g_major[15 - i], 4.0 + 0.25 * (double)i,
                 4.25 + 0.25 * (double)i, (int)(60 + 10 * (i % 2)));
  ASSERT_OK(rnj_music_measure(&st, &s, good, 8, RNJ_MUSIC_ZERO_S,
                              RNJ_MUSIC_GRID_TOL_S));
  ASSERT_EQ(st.n, 8);
  ASSERT_NEAR(st.in_key, 1, 0);
  ASSERT_NEAR(st.grid8, 1, 0);
  ASSERT_NEAR(st.grid16, 1, 0);
  ASSERT_NEAR(st.tempo_ratio, 1, 1e-12);
  ASSERT_NEAR(st.chords, 0, 0);
  ASSERT_NEAR(st.pitch_classes, 7, 0); /* G F# E D C B A */
  ASSERT_NEAR(st.velocity_sd, 5, 1e-12);
  ASSERT_NEAR(st.velocity_range, 10, 0);
  ASSERT_NEAR(st.small_intervals, 1, 0);

  /* C# (out), chord, then 0.5 s steps 60 ms past the 8th grid (on no
   * 16th either: 16ths are 125 ms) */
  bad[0] = mk(61, 4.06, 4.5, 0);
  bad[1] = mk(80, 4.06, 4.5, 0);
  bad[2] = mk(67, 4.56, 5, 0);
  bad[3] = mk(71, 5.06, 5.5, 0);
  ASSERT_OK(rnj_music_measure(&st, &s, bad, 4, RNJ_MUSIC_ZERO_S,
                              RNJ_MUSIC_GRID_TOL_S));
  ASSERT_NEAR(st.in_key, 0.5, 0); /* C# and G# out */
  ASSERT_NEAR(st.grid8, 0, 0);
  ASSERT_NEAR(st.grid16, 0, 0);
  /* steps 0.31, 0, 0.5, 0.5: median non-zero 0.5, seed's 0.25 */
  ASSERT_NEAR(st.tempo_ratio, 2, 1e-12);
  ASSERT_NEAR(st.chords, 0.25, 0);
  ASSERT_NEAR(st.pitch_classes, 4, 0);
  ASSERT(isnan(st.velocity_sd));
  /* 79->61 18, 61->80 19, 80->67 13, 67->71 4 */
  ASSERT_NEAR(st.small_intervals, 0.25, 0);

  /* A seed that ends a 16th past the beat (its beats from the file's
   * ticks): the grid stays on the beat, so 8ths on the beat are on it and
   * 8ths a 16th late are not. */
  for (i = 0; i < 16; i++) {
    seed[i].start_beat = 0.5 * (double)i;
    seed[i].end_beat = seed[i].start_beat + 0.5;
  }
  seed[15].start += 0.125;
  seed[15].start_beat += 0.25;
  ASSERT_OK(rnj_music_seed_init(&s, seed, 16, 120, 0));
  ASSERT_NEAR(s.grid_anchor, 3.5, 1e-12);
  ASSERT_OK(rnj_music_measure(&st, &s, good, 8, RNJ_MUSIC_ZERO_S,
                              RNJ_MUSIC_GRID_TOL_S));
  ASSERT_NEAR(st.grid8, 1, 0);
  for (i = 0; i < 8; i++)
    good[i].start += 0.125;
  ASSERT_OK(rnj_music_measure(&st, &s, good, 8, RNJ_MUSIC_ZERO_S,
                              RNJ_MUSIC_GRID_TOL_S));
  ASSERT_NEAR(st.grid8, 0, 0);
  ASSERT_NEAR(st.grid16, 1, 0);

  /* nothing generated: NaN shares, no failure */
  ASSERT_OK(rnj_music_measure(&st, &s, bad, 0, 0, 0.025));
  ASSERT(isnan(st.in_key) && isnan(st.grid8) && isnan(st.tempo_ratio));
}

int main(void) {
  test_key();
  test_key_edges();
  test_scales();
  test_in_key_share();
  test_grid();
  test_steps();
  test_classes_velocity();
  test_measure();
  return 0;
}
