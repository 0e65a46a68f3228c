/* tempo: the player's tempo and beat phase from onsets.
 *
 * Made-up rhythms check each rule (chords, octaves, the prior, bounds,
 * bad input, Dixon's clustering by absolute distance).  Then the figures
 * the issue asks for: phrases of the Nottingham folk tunes in the shared
 * corpus, played at their tempo, 0.75 and 1.5 times as long (scaled onset
 * times) with +-10 ms of human timing; SKIP without the corpus.
 */
#include <stdint.h>

#include "internal.h"
#include "rnnjam/clock.h"
#include "rnnjam/files.h"
#include "rnnjam/notes.h"
#include "rnnjam/sample.h"
#include "rnnjam/smf.h"
#include "rnnjam/tempo.h"
#include "test.h"

/* Distance of `t` from the nearest point of the grid phase + k * g. */
static double grid_dist(double t, double phase, double g) {
  double r = (t - phase) / g;
  return fabs(r - floor(r + 0.5)) * g;
}

static void test_steady(void) {
  /* 8ths at 100 bpm from 10.0 s, a chord on the third, a rest */
  double on[32];
  int n = 0;
  int k;
  rnj_tempo_t e;
  for (k = 0; k < 20; k++) {
    if (k == 7 || k == 8)
      continue; /* a rest */
    on[n++] = 10.0 + k * 0.3;
    if (k == 2)
      on[n++] = 10.0 + k * 0.3 + 0.02; /* a rolled chord */
  }
  ASSERT_OK(rnj_tempo_estimate(on, n, 0, &e));
  ASSERT_REL(e.bpm, 100.0, 1e-6, 1.0);
  ASSERT(grid_dist(e.beat_time, 10.0, 0.6) < 1e-6);
  ASSERT(fabs(e.beat_time - on[n - 1]) <= 0.3 + 1e-9);
  ASSERT_NEAR(e.confidence, 1.0, 1e-12);
  ASSERT_EQ(e.events, n - 1);
}

static void test_octaves(void) {
  /* 8th notes at 80 bpm (with quarters): 80 and 160 explain them alike;
   * the slower is taken, whose 8ths are the player's, whatever the prior
   * (160's 8ths would be the player's 16ths) */
  static const int eighths[] = {1, 1, 2, 1, 1, 1, 1, 2, 2, 1, 1, 1};
  double on[13];
  double t = 1.0;
  int k;
  rnj_tempo_t e;
  for (k = 0; k < 12; k++) {
    on[k] = t;
    t += eighths[k] * 0.375;
  }
  on[12] = t;
  ASSERT_OK(rnj_tempo_estimate(on, 13, 0, &e));
  ASSERT_REL(e.bpm, 80.0, 1e-6, 1.0);
  ASSERT_OK(rnj_tempo_estimate(on, 13, 160, &e));
  ASSERT_REL(e.bpm, 80.0, 1e-6, 1.0);
  /* with 16th notes among them, 160 it is (its 8th grid explains them) */
  on[3] = on[2] + 0.1875;
  ASSERT_OK(rnj_tempo_estimate(on, 13, 80, &e));
  ASSERT_REL(e.bpm, 160.0, 1e-6, 1.0);
  /* quarter notes alone at 80: 80 (40 would be out of the range) */
  for (k = 0; k < 12; k++)
    on[k] = 1.0 + k * 0.75;
  ASSERT_OK(rnj_tempo_estimate(on, 12, 0, &e));
  ASSERT_REL(e.bpm, 80.0, 1e-6, 1.0);
  /* half notes at 120 (a pulse of 1 s): read as quarters at 60 */
  for (k = 0; k < 12; k++)
    on[k] = k * 1.0;
  ASSERT_OK(rnj_tempo_estimate(on, 12, 120, &e));
  ASSERT_REL(e.bpm, 60.0, 1e-6, 1.0);
  /* always within 60..180, however slow or fast the pulse */
  for (k = 0; k < 12; k++)
    on[k] = k * 0.1; /* 600 per minute */
  ASSERT_OK(rnj_tempo_estimate(on, 12, 0, &e));
  ASSERT(e.bpm >= RNJ_TEMPO_MIN_BPM && e.bpm <= RNJ_TEMPO_MAX_BPM);
  ASSERT_NEAR(fmod(600.0 / e.bpm + 1e-9, 1.0), 0.0, 1e-6);
}

/* A jig (6/8 at quarter = 120: 8ths of 0.25 s, in long-short pairs and
 * runs): its dotted-quarter pulse (80 bpm) is not a beat of our grid; the
 * quarter (two 8ths) is. */
static void test_jig(void) {
  static const int eighths[] = {2, 1, 2, 1, 1, 1, 1, 2, 1, 3, 2, 1, 1, 1, 1};
  double on[16];
  double t = 0.0;
  size_t k;
  rnj_tempo_t e;
  for (k = 0; k < 15; k++) {
    on[k] = t;
    t += eighths[k] * 0.25;
  }
  on[15] = t;
  ASSERT_OK(rnj_tempo_estimate(on, 16, 0, &e));
  ASSERT_REL(e.bpm, 120.0, 1e-6, 1.0);
  for (k = 0; k < 16; k++)
    ASSERT(grid_dist(on[k], e.beat_time, 0.25) < 1e-6);
}

static void test_bad_input(void) {
  double on[RNJ_TEMPO_MAX_ONSETS * 4];
  rnj_tempo_t e;
  int k;
  for (k = 0; k < 4; k++)
    on[k] = k * 0.5;
  ASSERT_EQ(rnj_tempo_estimate(on, 4, 0, &e), RNJ_ENODATA);
  ASSERT_NEAR(e.bpm, 0.0, 0);
  ASSERT_EQ(rnj_tempo_estimate(on, 0, 0, &e), RNJ_ENODATA);
  ASSERT_EQ(rnj_tempo_estimate(NULL, 3, 0, &e), RNJ_EINVAL);
  ASSERT_EQ(rnj_tempo_estimate(on, 3, 0, NULL), RNJ_EINVAL);
  /* one chord of ten notes is one event */
  for (k = 0; k < 10; k++)
    on[k] = 5.0 + k * 0.004;
  ASSERT_EQ(rnj_tempo_estimate(on, 10, 0, &e), RNJ_ENODATA);
  /* events too far apart for a pulse (> 2.5 s) */
  for (k = 0; k < 10; k++)
    on[k] = k * 3.0;
  ASSERT_EQ(rnj_tempo_estimate(on, 10, 0, &e), RNJ_ENODATA);
  on[3] = on[2] - 0.1; /* decreasing */
  ASSERT_EQ(rnj_tempo_estimate(on, 10, 0, &e), RNJ_EINVAL);
  on[3] = NAN;
  ASSERT_EQ(rnj_tempo_estimate(on, 10, 0, &e), RNJ_EINVAL);
  /* a long run: only the last RNJ_TEMPO_MAX_ONSETS count (the early
   * half, at another tempo and with a NaN, is never looked at) */
  for (k = 0; k < RNJ_TEMPO_MAX_ONSETS * 4; k++)
    on[k] = k < RNJ_TEMPO_MAX_ONSETS * 3 ? k * 0.2 : 0.0;
  on[0] = NAN;
  for (k = RNJ_TEMPO_MAX_ONSETS * 3; k < RNJ_TEMPO_MAX_ONSETS * 4; k++)
    on[k] = on[RNJ_TEMPO_MAX_ONSETS * 3 - 1] + 1.0 +
            (k - RNJ_TEMPO_MAX_ONSETS * 3) * 0.25;
  ASSERT_OK(rnj_tempo_estimate(on, RNJ_TEMPO_MAX_ONSETS * 4, 0, &e));
  ASSERT_REL(e.bpm, 120.0, 1e-6, 1.0);
  ASSERT_EQ(e.events, RNJ_TEMPO_MAX_ONSETS);
}

/* An interval joins the cluster nearest by absolute distance.
 * pretty_midi's estimate_tempi takes argmin(clusters - interval), the
 * most negative difference, which would put 0.77 s into the 0.26 s
 * cluster here. */
static void test_clusters_nearest(void) {
  const double ev[] = {0.0, 0.5, 0.76, 1.27};
  double centre[8];
  double count[8];
  int n = rnj__tempo_clusters(ev, 4, centre, count, 8);
  int found = 0;
  int i;
  ASSERT_EQ(n, 4);
  for (i = 0; i < n; i++) {
    if (fabs(centre[i] - 0.505) < 1e-9) {
      ASSERT_NEAR(count[i], 2, 0);
      found |= 1;
    } else if (fabs(centre[i] - 0.765) < 1e-9) {
      ASSERT_NEAR(count[i], 2, 0);
      found |= 2;
    } else if (fabs(centre[i] - 0.26) < 1e-9) {
      ASSERT_NEAR(count[i], 1, 0);
      found |= 4;
    } else if (fabs(centre[i] - 1.27) < 1e-9) {
      ASSERT_NEAR(count[i], 1, 0);
      found |= 8;
    }
  }
  ASSERT_EQ(found, 15);
}

/* ---------------------------------------------------------- corpus */

typedef struct {
  long phrases;
  long exact;   /* within 3 % */
  long octave;  /* within 3 % of half or double */
  long grid_n;  /* the phrase's own 8th-note onsets ... */
  long grid_ok; /* ... within 10 ms of the estimated 8th grid */
  long next_n;  /* the next phrase's 8th-note onsets ... */
  long next_ok; /* ... on the grid estimated from this phrase */
  long clock_n; /* the next phrase's 8th-note onsets ... */
  long clock_ok; /* ... on the running clock's grid after this phrase */
  long clock_exact;
  long clock_octave;
  long clock_phrases;
} figures_t;

#define MAX_NOTES 4096
#define ON_GRID_TOL 0.010
#define JITTER 0.010

static int on_8th(double start, double spb) {
  double r = start / (spb / 2);
  return fabs(r - floor(r + 0.5)) < 1e-6;
}

static void classify(double bpm, double truth, long *exact, long *octave) {
  if (fabs(bpm / truth - 1.0) <= 0.03)
    (*exact)++;
  else if (fabs(bpm / (2 * truth) - 1.0) <= 0.03 ||
           fabs(bpm / (truth / 2) - 1.0) <= 0.03)
    (*octave)++;
}

static void sort_doubles(double *v, int n) {
  int i;
  for (i = 1; i < n; i++) {
    double x = v[i];
    int j = i;
    while (j > 0 && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

/* One tune at one speed: phrases of 8..16 notes, each estimated alone
 * (the pure function) and fed through a clock that follows the player
 * (what rnnjamd does). */
static void one_tune(const rnj_notes_t *notes, double spb, double scale,
                     rnj_rng_t *rng, figures_t *f) {
  static const int lengths[] = {8, 12, 16, 10, 14};
  double truth = 60.0 / spb / scale;
  double on[16];
  size_t at = 0;
  int li = 0;
  rnj_clock_t clock;
  rnj_clock_params_t p;
  rnj_clock_params_default(&p);
  p.source = RNJ_CLOCK_PLAYER;
  ASSERT_OK(rnj_clock_init(&clock, &p, 0.0));
  while (at + 16 <= notes->n) {
    int len = lengths[li++ % 5];
    size_t next_end = at + (size_t)len + (size_t)len;
    double g;
    rnj_tempo_t e;
    int i;
    int rc;
    if (next_end > notes->n)
      next_end = notes->n;
    for (i = 0; i < len; i++)
      on[i] = notes->v[at + i].start * scale +
              (rnj_rng_uniform(rng) * 2 - 1) * JITTER;
    sort_doubles(on, len);
    rc = rnj_tempo_estimate(on, len, 0, &e);
    f->phrases++;
    if (rc == 0) {
      size_t k;
      classify(e.bpm, truth, &f->exact, &f->octave);
      g = 30.0 / e.bpm;
      for (k = at; k < next_end; k++) {
        double t = notes->v[k].start * scale;
        int hit;
        if (!on_8th(notes->v[k].start, spb))
          continue;
        hit = grid_dist(t, e.beat_time, g) <= ON_GRID_TOL;
        if (k < at + (size_t)len) {
          f->grid_n++;
          f->grid_ok += hit;
        } else {
          f->next_n++;
          f->next_ok += hit;
        }
      }
    } else {
      ASSERT_EQ(rc, RNJ_ENODATA);
    }
    /* the clock: this phrase's onsets, its end a beat after the last
     * note, then the next phrase's 8ths against the clock's 8th grid */
    for (i = 0; i < len; i++)
      rnj_clock_onset(&clock, on[i]);
    if (rnj_clock_phrase_end(&clock, on[len - 1] + spb * scale)) {
      size_t k;
      rnj_grid_t g8;
      classify(rnj_clock_bpm(&clock), truth, &f->clock_exact,
               &f->clock_octave);
      f->clock_phrases++;
      ASSERT_OK(rnj_grid_init(&g8, RNJ_GRID_8, 0));
      for (k = at + (size_t)len; k < next_end; k++) {
        double t = notes->v[k].start * scale;
        if (!on_8th(notes->v[k].start, spb))
          continue;
        f->clock_n++;
        f->clock_ok += fabs(rnj_clock_quantize(&clock, &g8, t) - t) <=
                       ON_GRID_TOL;
      }
    }
    at += (size_t)len;
  }
}

static void test_corpus(void) {
  const char *corpus = test_corpus_dir();
  char dir[4096];
  char *args[1];
  char err[RNJ_ERR_LEN];
  rnj_files_t files;
  static const double scales[] = {1.0, 0.75, 1.5};
  figures_t f[3];
  rnj_rng_t rng;
  size_t i;
  int s;
  int used = 0;
  /* Last: everything else ran; only the figures need the corpus. */
  if (!corpus)
    SKIP("the MIDI corpus is absent ($RNJ_MIDI_CORPUS): the synthetic "
         "cases passed, the Nottingham figures were not measured");
  snprintf(dir, sizeof dir, "%s/nottingham-melody", corpus);
  args[0] = dir;
  rnj_files_init(&files);
  if (rnj_files_collect(&files, args, 1, err) < 0 || files.n == 0) {
    rnj_files_free(&files);
    SKIP("%s: no Nottingham tunes: the synthetic cases passed", dir);
  }
  memset(f, 0, sizeof f);
  rnj_rng_seed(&rng, 20240617);
  for (i = 0; i < files.n; i++) {
    rnj_smf_t smf;
    rnj_notes_t notes;
    double spb;
    memset(&smf, 0, sizeof smf);
    rnj_notes_init(&notes);
    ASSERT_OK(rnj_smf_read_file(&smf, files.paths[i], err));
    /* the truth is the file's one tempo */
    if (smf.ntempo != 1 || smf.ticks_per_quarter <= 0) {
      rnj_smf_free(&smf);
      continue;
    }
    spb = smf.tempo[0].scale * smf.ticks_per_quarter;
    ASSERT_OK(rnj_notes_from_smf(&notes, &smf, RNJ_NOTES_ALL_INSTRUMENTS,
                                 err));
    for (s = 0; s < 3; s++)
      one_tune(&notes, spb, scales[s], &rng, &f[s]);
    used++;
    rnj_notes_free(&notes);
    rnj_smf_free(&smf);
  }
  rnj_files_free(&files);
  ASSERT(used > 0);
  printf("Nottingham tunes: %d files, phrases of 8-16 notes, +-%.0f ms "
         "timing\n",
         used, JITTER * 1000);
  printf("  speed  phrases  tempo: exact  octave  other | own 8ths on "
         "grid | next phrase: alone  clock (exact octave)\n");
  for (s = 0; s < 3; s++) {
    double n = (double)f[s].phrases;
    printf("  x%-4.2f  %7ld         %5.3f   %5.3f  %5.3f |        %5.3f    "
           "|              %5.3f  %5.3f (%5.3f %5.3f)\n",
           scales[s], f[s].phrases, f[s].exact / n, f[s].octave / n,
           (n - f[s].exact - f[s].octave) / n,
           (double)f[s].grid_ok / f[s].grid_n,
           (double)f[s].next_ok / f[s].next_n,
           (double)f[s].clock_ok / f[s].clock_n,
           (double)f[s].clock_exact / f[s].clock_phrases,
           (double)f[s].clock_octave / f[s].clock_phrases);
    /* the bar: within 3 % (or exactly an octave off) for 90 % */
    ASSERT((f[s].exact + f[s].octave) / n >= 0.90);
    /* the phrase's own 8th notes on the estimated grid */
    ASSERT((double)f[s].grid_ok / f[s].grid_n >= 0.95);
  }
  /* at the tunes' own tempo and faster, the octave is the true one */
  ASSERT(f[0].exact / (double)f[0].phrases >= 0.90);
  ASSERT(f[1].exact / (double)f[1].phrases >= 0.90);
}

int main(void) {
  test_steady();
  test_octaves();
  test_jig();
  test_bad_input();
  test_clusters_nearest();
  test_corpus();
  printf("tempo: ok\n");
  return 0;
}
