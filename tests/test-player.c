/* player: the player as the beat clock, end to end through the engine.
 *
 * The figures for "no clock, player only": the folk tunes of
 * nottingham-melody played phrase by phrase to the engine (respond mode,
 * clock = auto with nothing else: the player's tempo; quantize = 1/8,
 * answer_start = beat), as a musician would: slightly off the grid
 * (+-JITTER), each phrase ended by a rest in which the engine answers,
 * the next phrase entering on the tune's own beat (the player keeps time
 * through the rest: the rest is whole beats).  Each tune at its own
 * tempo and with its times scaled by 0.75 and 1.5 (as tests/test-tempo.c
 * scales them: faster, slower).  Judged, per speed:
 *   - the clock's tempo after each phrase (what the answer is played
 *     in) within 3 % of the truth, or exactly half or double it (counted
 *     apart): >= 90 % of the phrases;
 *   - the answer's onsets (a chord is one) on the player's 8th grid, the
 *     tune's own, within 10 ms: >= 95 %.
 * The model is the test one (random weights): only the timing is judged.
 * Everything else is rnnjamd's default configuration.
 *
 * Before the estimator took the slowest of the octaves that explain a
 * phrase (tempo.c), the prior (120 bpm) made it read the slowed tunes
 * (about 80 bpm) at double tempo, and the answers' 8ths fell on the
 * player's 16ths: 88 % of the onsets on the player's grid at x1.5.
 *
 * SKIPs (77) without the corpus ($RNJ_MIDI_CORPUS).
 */
#include <math.h>
#include <stdint.h>

#include "rnnjam/clock.h"
#include "rnnjam/conf.h"
#include "rnnjam/engine.h"
#include "rnnjam/files.h"
#include "rnnjam/net.h"
#include "rnnjam/notes.h"
#include "rnnjam/sample.h"
#include "rnnjam/smf.h"
#include "test.h"

#define JITTER 0.010     /* s: the player's timing, uniform +- */
#define ON_GRID 0.010    /* s: an answer onset on the player's grid */
#define REST_BEATS 8     /* the player's rest after a phrase, at least */
#define MAX_EVENTS 4096  /* answer notes recorded per tune and speed */

/* ------------------------------------------------------------ recorder */

/* The output queue: notes scheduled with their times; a cancel (the
 * player came back) drops those not yet due. */
typedef struct {
  double on;
  int cancelled;
} rec_note_t;

static rec_note_t recs[MAX_EVENTS];
static int nrecs;
static double now;

static int out_note(void *ctx, double on, double off, int pitch, int vel) {
  (void)ctx;
  (void)off;
  (void)pitch;
  (void)vel;
  if (nrecs < MAX_EVENTS)
    recs[nrecs++] = (rec_note_t){on, 0};
  return 0;
}

static void out_cancel(void *ctx) {
  int i;
  (void)ctx;
  for (i = 0; i < nrecs; i++)
    if (recs[i].on > now)
      recs[i].cancelled = 1;
}

static void out_off_now(void *ctx, int pitch) {
  (void)ctx;
  (void)pitch;
}

static void out_all_off(void *ctx) { (void)ctx; }

static double out_now(void *ctx) {
  (void)ctx;
  return now;
}

/* ------------------------------------------------------------ driving */

static rnj_engine_t eng;
static rnj_clock_t clk;
static double next_tick;

/* Simulated time to `until`, ticking when the engine asks. */
static void run_until(double until) {
  while (now < until) {
    double t;
    if (next_tick <= now)
      next_tick = rnj_engine_tick(&eng, now);
    t = next_tick > now ? next_tick : now + 0.0001;
    now = t < until ? t : until;
  }
  next_tick = rnj_engine_tick(&eng, now);
}

typedef struct {
  double t;
  int on;
  int pitch;
} pev_t;

static int cmp_pev(const void *a, const void *b) {
  const pev_t *x = a;
  const pev_t *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->on - y->on; /* offs first */
}

/* ------------------------------------------------------------ figures */

typedef struct {
  long phrases;
  long exact;  /* the clock's tempo within 3 % */
  long octave; /* within 3 % of half or double */
  long onsets; /* answer onsets ... */
  long on_grid; /* ... on the player's 8th grid */
  long answers;
  double worst_tempo; /* the largest |error| of an exact one, share */
} fig_t;

static double grid_dist(double t, double origin, double unit) {
  double k = (t - origin) / unit;
  return fabs(k - floor(k + 0.5)) * unit;
}

/* The answer onsets in [from, to): distinct times, judged. */
static void judge_answer(double from, double to, double origin,
                         double eighth, fig_t *f) {
  double last = -HUGE_VAL;
  int i;
  int any = 0;
  /* recorded in time order within an answer (the engine hands notes
   * over in order) */
  for (i = 0; i < nrecs; i++) {
    double t = recs[i].on;
    if (recs[i].cancelled || t < from || t >= to || t > now)
      continue;
    any = 1;
    if (fabs(t - last) < 1e-9)
      continue;
    last = t;
    f->onsets++;
    f->on_grid += grid_dist(t, origin, eighth) <= ON_GRID;
  }
  f->answers += any;
}

/* One tune at one speed. */
static void play_tune(const rnj_net_t *net, const rnj_notes_t *notes,
                      double spb, rnj_rng_t *rng, fig_t *f) {
  static const int lengths[] = {8, 12, 16, 10, 14};
  static pev_t ev[64];
  rnj_engine_params_t p;
  rnj_engine_out_t out = {NULL,         out_note,    out_cancel,
                          out_off_now,  out_all_off, out_now};
  rnj_sampler_t s;
  rnj_clock_params_t cp;
  rnj_conf_t c;
  double truth = 60.0 / spb;
  double origin; /* where the tune's time 0 is now (moves by whole beats) */
  size_t at = 0;
  int li = 0;
  rnj_conf_defaults(&c, "m");
  rnj_engine_params_from_conf(&p, &c);
  p.quantize = RNJ_GRID_8;
  p.answer_start = RNJ_ANSWER_BEAT;
  rnj_sampler_init(&s, 7);
  now = 100.0;
  next_tick = now;
  nrecs = 0;
  ASSERT_OK(rnj_engine_init(&eng, &p, net, &s, &out));
  rnj_clock_params_default(&cp); /* auto, 120 bpm: nothing but the player */
  ASSERT_OK(rnj_clock_init(&clk, &cp, now));
  rnj_engine_set_clock(&eng, &clk);
  origin = now + 1.0 - notes->v[0].start_beat * spb;
  while (at + 8 <= notes->n) {
    int len = lengths[li++ % 5];
    double last_off = 0;
    double first_next;
    double shift;
    int n = 0;
    int i;
    if (at + (size_t)len > notes->n)
      len = (int)(notes->n - at);
    for (i = 0; i < len; i++) {
      const rnj_note_t *nt = &notes->v[at + (size_t)i];
      double on = origin + nt->start_beat * spb +
                  (rnj_rng_uniform(rng) * 2 - 1) * JITTER;
      /* played a little detached, as a melody is */
      double dur = fmax(0.9 * (nt->end_beat - nt->start_beat) * spb, 0.04);
      if (on < now)
        on = now;
      ev[n++] = (pev_t){on, 1, nt->pitch};
      ev[n++] = (pev_t){on + dur, 0, nt->pitch};
      last_off = fmax(last_off, on + dur);
    }
    qsort(ev, (size_t)n, sizeof ev[0], cmp_pev);
    for (i = 0; i < n; i++) {
      run_until(ev[i].t);
      if (ev[i].on)
        rnj_engine_note_on(&eng, ev[i].t, 0, ev[i].pitch, 80);
      else
        rnj_engine_note_off(&eng, ev[i].t, 0, ev[i].pitch);
      next_tick = now;
    }
    at += (size_t)len;
    /* the phrase's end: the engine estimates and answers in the rest */
    run_until(last_off + p.phrase_gap + 0.001);
    {
      double bpm = rnj_clock_bpm(&clk);
      f->phrases++;
      if (fabs(bpm / truth - 1.0) <= 0.03) {
        f->exact++;
        f->worst_tempo = fmax(f->worst_tempo, fabs(bpm / truth - 1.0));
      } else if (fabs(bpm / (2 * truth) - 1.0) <= 0.03 ||
                 fabs(bpm / (truth / 2) - 1.0) <= 0.03) {
        f->octave++;
      }
    }
    if (at + 8 > notes->n) {
      run_until(last_off + REST_BEATS * spb);
      judge_answer(last_off, HUGE_VAL, origin, spb / 2, f);
      break;
    }
    /* the next phrase enters on its own beat, whole beats later */
    first_next = origin + notes->v[at].start_beat * spb;
    shift = ceil((last_off + REST_BEATS * spb - first_next) / spb);
    if (shift > 0)
      origin += shift * spb;
    first_next = origin + notes->v[at].start_beat * spb;
    run_until(first_next - JITTER);
    judge_answer(last_off, first_next - JITTER, origin, spb / 2, f);
  }
  rnj_engine_stop(&eng);
}

int main(void) {
  static const double scales[] = {1.0, 0.75, 1.5};
  const char *corpus = test_corpus_dir();
  char dir[4096];
  char path[4096];
  char *args[1];
  char err[RNJ_ERR_LEN];
  rnj_files_t files;
  rnj_net_t *net;
  fig_t f[3];
  rnj_rng_t rng;
  size_t i;
  int s;
  int used = 0;
  if (!corpus)
    SKIP("the MIDI corpus is absent ($RNJ_MIDI_CORPUS)");
  snprintf(dir, sizeof dir, "%s/nottingham-melody", corpus);
  args[0] = dir;
  rnj_files_init(&files);
  if (rnj_files_collect(&files, args, 1, err) < 0 || files.n == 0) {
    rnj_files_free(&files);
    SKIP("%s: no Nottingham tunes", dir);
  }
  snprintf(path, sizeof path, "%s/ref-model.safetensors", test_data_dir());
  if (rnj_net_load(&net, path, RNJ_KERNEL_AUTO, err) != 0)
    FAIL("%s", err);
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
    if (notes.n >= 16) {
      for (s = 0; s < 3; s++)
        play_tune(net, &notes, spb * scales[s], &rng, &f[s]);
      used++;
    }
    rnj_notes_free(&notes);
    rnj_smf_free(&smf);
  }
  rnj_files_free(&files);
  rnj_net_delete(net);
  ASSERT(used > 0);
  printf("Nottingham tunes through the engine, the player as the clock: "
         "%d files, phrases of 8-16 notes, +-%.0f ms timing, quantize "
         "1/8, answer_start beat\n",
         used, JITTER * 1000);
  printf("  times  phrases  tempo: exact (worst)  octave  other | answers "
         " onsets  on the player's 8th grid (+-%.0f ms)\n",
         ON_GRID * 1000);
  for (s = 0; s < 3; s++) {
    double n = (double)f[s].phrases;
    printf("  x%-4.2f  %7ld         %5.3f (%4.1f %%)  %5.3f  %5.3f | %7ld  "
           "%6ld  %5.3f\n",
           scales[s], f[s].phrases, f[s].exact / n, f[s].worst_tempo * 100,
           f[s].octave / n, (n - f[s].exact - f[s].octave) / n,
           f[s].answers, f[s].onsets, (double)f[s].on_grid / f[s].onsets);
  }
  for (s = 0; s < 3; s++) {
    ASSERT(f[s].onsets > 100);
    /* the bars */
    ASSERT((f[s].exact + f[s].octave) / (double)f[s].phrases >= 0.90);
    ASSERT((double)f[s].on_grid / f[s].onsets >= 0.95);
  }
  printf("player: ok\n");
  return 0;
}
