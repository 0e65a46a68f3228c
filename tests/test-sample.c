/* sample: the generator against an independent implementation
 * (tests/reference.py), and the sampler's promises: reproducible by seed,
 * softmax(logits / T) in distribution, argmax as T -> 0, uniform as
 * T -> inf, top-k and the pitch range never left, step and duration
 * clamped, top-p's nucleus and the categorical heads' draws exact in
 * distribution, bad settings named, nothing allocated.
 *
 * The draws are seeded, so every statistical check here is deterministic;
 * the bounds are still set where a correct sampler fails with probability
 * below 1e-6, so a change of seed does not break them. */
#include <stdint.h>

#include "rnnjam/alloc.h"
#include "rnnjam/err.h"
#include "rnnjam/sample.h"
#include "test.h"

#define P RNJ_MODEL_PITCHES
#define DRAWS 20000

/* Known answers: splitmix64-seeded xoshiro256** from reference.py. */
static void check_rng_reference(void) {
  char path[4096];
  char line[1024];
  FILE *f;
  int seeds = 0;
  snprintf(path, sizeof path, "%s/ref-rng.txt", test_data_dir());
  f = fopen(path, "r");
  if (!f)
    FAIL("cannot open %s", path);
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    char *end;
    uint64_t seed;
    rnj_rng_t rng;
    int i;
    if (line[0] == '#')
      continue;
    seed = strtoull(p, &end, 10);
    ASSERT(end != p);
    rnj_rng_seed(&rng, seed);
    for (i = 0; i < 8; i++) {
      uint64_t want;
      uint64_t got;
      p = end;
      want = strtoull(p, &end, 10);
      ASSERT(end != p);
      got = rnj_rng_next(&rng);
      if (got != want)
        FAIL("seed %" PRIu64 ", output %d: %" PRIu64 ", want %" PRIu64, seed,
             i, got, want);
    }
    seeds++;
  }
  fclose(f);
  ASSERT(seeds >= 4);
}

static void check_uniform(void) {
  rnj_rng_t rng;
  double sum = 0;
  int bins[10] = {0};
  int i;
  rnj_rng_seed(&rng, 99);
  for (i = 0; i < 100000; i++) {
    double u = rnj_rng_uniform(&rng);
    ASSERT(u >= 0 && u < 1);
    sum += u;
    bins[(int)(u * 10)]++;
  }
  /* mean: sd is sqrt(1/12 / n) = 0.00091; 5 sd */
  ASSERT_NEAR(sum / 100000, 0.5, 0.0046);
  /* each tenth: 10000 expected, sd 95; 6 sd */
  for (i = 0; i < 10; i++)
    ASSERT_NEAR(bins[i], 10000, 570);
}

/* Logits like the model's: a few likely pitches over a broad floor. */
static void make_logits(float *l, uint64_t seed) {
  rnj_rng_t rng;
  int i;
  rnj_rng_seed(&rng, seed);
  for (i = 0; i < P; i++)
    l[i] = (float)(4.0 * rnj_rng_uniform(&rng) - 2.0);
  for (i = 0; i < 5; i++)
    l[rnj_rng_next(&rng) % P] += 3.0f;
}

static int argmax(const float *l) {
  int best = 0;
  int i;
  for (i = 1; i < P; i++)
    if (l[i] > l[best])
      best = i;
  return best;
}

static void softmax(const float *l, double t, double *p) {
  double max = l[argmax(l)];
  double sum = 0;
  int i;
  for (i = 0; i < P; i++)
    sum += p[i] = exp((l[i] - max) / t);
  for (i = 0; i < P; i++)
    p[i] /= sum;
}

static void counts(rnj_sampler_t *s, const float *l, int n, int *c) {
  int i;
  memset(c, 0, P * sizeof *c);
  for (i = 0; i < n; i++) {
    int p = rnj_sample_pitch(s, l);
    ASSERT(p >= 0 && p < P);
    c[p]++;
  }
}

/* Pearson's chi-square of counts against probabilities, cells with fewer
 * than 5 expected pooled; *dof gets the degrees of freedom. */
static double chi2(const int *c, const double *p, int n, int *dof) {
  double x = 0;
  double pool_e = 0;
  double pool_o = 0;
  int cells = 0;
  int i;
  for (i = 0; i < P; i++) {
    double e = p[i] * n;
    if (e < 5) {
      pool_e += e;
      pool_o += c[i];
      continue;
    }
    x += (c[i] - e) * (c[i] - e) / e;
    cells++;
  }
  if (pool_e > 0) {
    x += (pool_o - pool_e) * (pool_o - pool_e) / pool_e;
    cells++;
  }
  *dof = cells - 1;
  return x;
}

/* Chi-square with k degrees of freedom exceeds k + 7 sqrt(2k) + 10 with
 * probability well below 1e-6 for the k here (Wilson-Hilferty). */
static double chi2_bound(int dof) { return dof + 7 * sqrt(2.0 * dof) + 10; }

static double entropy(const int *c, int n) {
  double h = 0;
  int i;
  for (i = 0; i < P; i++)
    if (c[i])
      h -= (double)c[i] / n * log((double)c[i] / n);
  return h;
}

static void check_seeds(void) {
  rnj_sampler_t a;
  rnj_sampler_t b;
  rnj_sampler_t c;
  float l[P];
  int i;
  int differ = 0;
  make_logits(l, 1);
  rnj_sampler_init(&a, 1234);
  rnj_sampler_init(&b, 1234);
  rnj_sampler_init(&c, 1235);
  a.temperature = b.temperature = c.temperature = 2.0f;
  for (i = 0; i < 1000; i++) {
    int pa = rnj_sample_pitch(&a, l);
    int pb = rnj_sample_pitch(&b, l);
    int pc = rnj_sample_pitch(&c, l);
    ASSERT_EQ(pa, pb);
    differ += pa != pc;
  }
  /* at T = 2 no pitch has half the mass: most draws of another stream
   * differ */
  ASSERT(differ > 500);

  /* one draw of the generator per pitch, so a stream is reproducible from
   * its seed and the number of notes */
  {
    rnj_rng_t r;
    rnj_sampler_init(&a, 77);
    r = a.rng;
    rnj_sample_pitch(&a, l);
    rnj_rng_next(&r);
    ASSERT(memcmp(&r, &a.rng, sizeof r) == 0);
  }
}

static void check_temperature(void) {
  static const float temps[] = {0.25f, 0.5f, 1.0f, 2.0f, 4.0f};
  rnj_sampler_t s;
  float l[P];
  double p[P];
  int c[P];
  double last = -1;
  int dof;
  int i;
  make_logits(l, 2);

  /* T -> 0: the argmax, every time (next best is >= 0.1 below, so its
   * chance is exp(-0.1 / 1e-3), i.e. none) */
  {
    float sharp[P];
    int best = argmax(l);
    for (i = 0; i < P; i++)
      sharp[i] = i != best && l[i] > l[best] - 0.1f ? l[best] - 0.1f : l[i];
    rnj_sampler_init(&s, 3);
    s.temperature = 1e-3f;
    counts(&s, sharp, 2000, c);
    ASSERT_EQ(c[best], 2000);
  }

  /* softmax(l / T) in distribution, at every temperature */
  for (i = 0; i < (int)(sizeof temps / sizeof temps[0]); i++) {
    double x;
    double h;
    rnj_sampler_init(&s, 10 + i);
    s.temperature = temps[i];
    counts(&s, l, DRAWS, c);
    softmax(l, temps[i], p);
    x = chi2(c, p, DRAWS, &dof);
    if (!(x < chi2_bound(dof)))
      FAIL("T = %g: chi-square %.1f with %d dof, bound %.1f", temps[i], x,
           dof, chi2_bound(dof));
    /* and the spread grows with the temperature */
    h = entropy(c, DRAWS);
    ASSERT(h > last);
    last = h;
    printf("T = %g: chi-square %.1f (%d dof), entropy %.3f\n", temps[i], x,
           dof, h);
  }

  /* T -> inf: uniform over the 128 pitches */
  rnj_sampler_init(&s, 5);
  s.temperature = 1e6f;
  counts(&s, l, DRAWS, c);
  for (i = 0; i < P; i++)
    p[i] = 1.0 / P;
  ASSERT(chi2(c, p, DRAWS, &dof) < chi2_bound(dof));
  ASSERT_EQ(dof, P - 1);
  ASSERT(entropy(c, DRAWS) > log(P) - 0.01);
}

/* Is pitch q among the k best of [lo, hi]?  By count: fewer than k in the
 * range beat it (a higher logit, or the same and a lower pitch). */
static int in_top_k(const float *l, int q, int k, int lo, int hi) {
  int better = 0;
  int i;
  for (i = lo; i <= hi; i++)
    if (l[i] > l[q] || (l[i] == l[q] && i < q))
      better++;
  return better < k;
}

static void check_top_k(void) {
  static const int ks[] = {1, 2, 5, 10, 64, 127, 128};
  rnj_sampler_t s;
  float l[P];
  int c[P];
  int trial;
  int i;
  int j;
  for (trial = 0; trial < 20; trial++) {
    make_logits(l, 100 + trial);
    if (trial % 4 == 1) /* ties, which top-k must break by pitch */
      for (i = 0; i < P; i++)
        l[i] = roundf(l[i]);
    for (j = 0; j < (int)(sizeof ks / sizeof ks[0]); j++) {
      int k = ks[j];
      int lo = trial % 2 ? 40 : 0;
      int hi = trial % 2 ? 90 : P - 1;
      int seen = 0;
      rnj_sampler_init(&s, 1000 * trial + k);
      s.top_k = k;
      s.pitch_min = lo;
      s.pitch_max = hi;
      s.temperature = 50.0f; /* flat, so every kept pitch shows up */
      counts(&s, l, 4000, c);
      for (i = 0; i < P; i++) {
        int keep = i >= lo && i <= hi && in_top_k(l, i, k, lo, hi);
        if (c[i] && !keep)
          FAIL("trial %d, top_k %d, range %d-%d: drew pitch %d (logit %g) "
               "%d times",
               trial, k, lo, hi, i, (double)l[i], c[i]);
        seen += c[i] > 0;
      }
      /* ... and all of them are still possible */
      ASSERT_EQ(seen, k < hi - lo + 1 ? k : hi - lo + 1);
    }
  }
  /* all equal: the lowest pitches win the ties */
  for (i = 0; i < P; i++) /* -0 == +0: pitch 3 ties like the others */
    l[i] = i == 3 ? -0.0f : 0.0f;
  rnj_sampler_init(&s, 8);
  s.top_k = 5;
  counts(&s, l, 5000, c);
  for (i = 0; i < P; i++)
    ASSERT(i < 5 ? c[i] > 800 : c[i] == 0);
}

/* Draw by draw against the definition: the same uniform through a
 * double-precision inverse CDF of softmax(logits / T) over the candidates.
 * The sampler's float weights are within 3e-7 of exact, so a draw may only
 * differ where it falls that close to a boundary between two pitches: then
 * it picks the neighbour, and seldom. */
static void check_exact(void) {
  static const struct {
    float t;
    int top_k;
    int lo;
    int hi;
  } cfg[] = {{1, 0, 0, 127}, {2, 0, 0, 127}, {0.5f, 0, 30, 90},
             {1.5f, 10, 0, 127}, {3, 40, 20, 100}, {1, 0, 64, 64}};
  int c;
  for (c = 0; c < (int)(sizeof cfg / sizeof cfg[0]); c++) {
    rnj_sampler_t s;
    float l[P];
    int order[P];
    double wgt[P];
    int n = 0;
    int i;
    int j;
    int draw;
    int differ = 0;
    double max = -INFINITY;
    double total = 0;
    make_logits(l, 200 + c);
    /* candidates in pitch order: the range, then the k best of it */
    for (i = cfg[c].lo; i <= cfg[c].hi; i++)
      if (cfg[c].top_k == 0 ||
          in_top_k(l, i, cfg[c].top_k, cfg[c].lo, cfg[c].hi))
        order[n++] = i;
    for (i = 0; i < n; i++)
      max = l[order[i]] > max ? l[order[i]] : max;
    for (i = 0; i < n; i++)
      total += wgt[i] = exp((l[order[i]] - max) / cfg[c].t);
    rnj_sampler_init(&s, 300 + c);
    s.temperature = cfg[c].t;
    s.top_k = cfg[c].top_k;
    s.pitch_min = cfg[c].lo;
    s.pitch_max = cfg[c].hi;
    for (draw = 0; draw < 20000; draw++) {
      rnj_rng_t copy = s.rng;
      double target = rnj_rng_uniform(&copy) * total;
      int got = rnj_sample_pitch(&s, l);
      int gi;
      for (j = 0; j < n - 1 && target >= wgt[j]; j++)
        target -= wgt[j];
      for (gi = 0; gi < n && order[gi] != got; gi++)
        ;
      ASSERT(gi < n);
      if (gi != j) {
        differ++;
        if (abs(gi - j) != 1)
          FAIL("config %d, draw %d: pitch %d, the definition gives %d", c,
               draw, got, order[j]);
      }
    }
    printf("config %d: %d of 20000 draws differ from the definition\n", c,
           differ);
    ASSERT(differ <= 10);
  }
}

static void check_range(void) {
  rnj_sampler_t s;
  float l[P];
  int c[P];
  int i;
  /* the model wants pitch 30; the range says 60..72 */
  for (i = 0; i < P; i++)
    l[i] = -(float)abs(i - 30) * 0.5f;
  rnj_sampler_init(&s, 11);
  s.pitch_min = 60;
  s.pitch_max = 72;
  counts(&s, l, DRAWS, c);
  for (i = 0; i < P; i++)
    ASSERT(i >= 60 && i <= 72 ? 1 : c[i] == 0);
  ASSERT(c[60] > c[72]); /* still the model's preference inside */
  s.pitch_min = s.pitch_max = 0;
  counts(&s, l, 100, c);
  ASSERT_EQ(c[0], 100);
  s.pitch_min = s.pitch_max = 127;
  counts(&s, l, 100, c);
  ASSERT_EQ(c[127], 100);
}

/* Outputs a broken model could give: the draw stays a valid pitch. */
static void check_odd_logits(void) {
  rnj_sampler_t s;
  float l[P];
  int i;
  int p;
  rnj_sampler_init(&s, 12);
  for (i = 0; i < P; i++)
    l[i] = -INFINITY;
  l[77] = 0;
  for (i = 0; i < 100; i++)
    ASSERT_EQ(rnj_sample_pitch(&s, l), 77);
  l[77] = INFINITY;
  ASSERT_EQ(rnj_sample_pitch(&s, l), 77);
  for (i = 0; i < P; i++)
    l[i] = NAN;
  p = rnj_sample_pitch(&s, l);
  ASSERT(p >= 0 && p < P);
  /* a NaN here and there: never drawn, the rest sampled as usual */
  {
    int c[P];
    make_logits(l, 6);
    for (i = 0; i < P; i += 3)
      l[i] = NAN;
    s.temperature = 100.0f;
    counts(&s, l, 3000, c);
    for (i = 0; i < P; i++)
      ASSERT(i % 3 == 0 ? c[i] == 0 : c[i] > 0);
    s.temperature = 1.0f;
  }
  for (i = 0; i < P; i++)
    l[i] = i == 9 ? 1e30f : -1e30f;
  ASSERT_EQ(rnj_sample_pitch(&s, l), 9);
  /* settings that rnj_sampler_check rejects are clamped, not trusted */
  s.pitch_min = -5;
  s.pitch_max = 500;
  s.top_k = -3;
  s.temperature = 0;
  ASSERT_EQ(rnj_sample_pitch(&s, l), 9);
  s.pitch_min = 100;
  s.pitch_max = 10;
  ASSERT_EQ(rnj_sample_pitch(&s, l), 100);
}

static void check_note(void) {
  rnj_sampler_t s;
  rnj_lstm_out_t out;
  int pitch;
  float step;
  float duration;
  int i;
  rnj_sampler_init(&s, 13);
  for (i = 0; i < P; i++)
    out.logits[i] = i == 64 ? 10.0f : 0.0f;
  s.temperature = 1e-3f;
  out.step = -0.3f;
  out.duration = -1.0f;
  rnj_sample_note(&s, &out, &pitch, &step, &duration);
  ASSERT_EQ(pitch, 64);
  ASSERT(step == 0.0f && duration == 0.0f && !signbit(step));
  out.step = 0.125f;
  out.duration = 2.5f;
  rnj_sample_note(&s, &out, &pitch, &step, &duration);
  ASSERT(step == 0.125f && duration == 2.5f);
  out.step = NAN;
  out.duration = -0.0f;
  rnj_sample_note(&s, &out, &pitch, &step, &duration);
  ASSERT(step == 0.0f && duration == 0.0f);
}

static void check_settings(void) {
  rnj_sampler_t s;
  char err[RNJ_ERR_LEN];
  rnj_sampler_init(&s, 0);
  ASSERT(s.temperature == 1.0f && s.top_k == 0);
  ASSERT(s.pitch_min == 0 && s.pitch_max == 127);
  ASSERT_OK(rnj_sampler_check(&s, err));
  ASSERT_OK(rnj_sampler_check(&s, NULL));

#define REJECT(field, value, word)                                            \
  do {                                                                        \
    rnj_sampler_init(&s, 0);                                                  \
    s.field = value;                                                          \
    err[0] = 0;                                                               \
    ASSERT_EQ(rnj_sampler_check(&s, err), RNJ_EINVAL);                        \
    ASSERT_CONTAINS(err, word);                                               \
    ASSERT_EQ(rnj_sampler_check(&s, NULL), RNJ_EINVAL);                       \
  } while (0)
  REJECT(temperature, 0.0f, "temperature");
  REJECT(temperature, -1.0f, "temperature");
  REJECT(temperature, NAN, "temperature");
  REJECT(temperature, INFINITY, "temperature");
  REJECT(top_k, -1, "top_k");
  REJECT(top_k, 129, "top_k");
  REJECT(pitch_min, -1, "pitch_min");
  REJECT(pitch_min, 128, "pitch_min");
  REJECT(pitch_max, 128, "pitch_max");
  REJECT(pitch_max, -1, "pitch_max");
  REJECT(time_temperature, 0.0f, "time_temperature");
  REJECT(time_temperature, NAN, "time_temperature");
  REJECT(time_temperature, INFINITY, "time_temperature");
  REJECT(top_p, 0.0f, "top_p");
  REJECT(top_p, 1.5f, "top_p");
  REJECT(top_p, NAN, "top_p");
#undef REJECT
  rnj_sampler_init(&s, 0);
  ASSERT(s.pitch_temperature == 1.0f && s.time_temperature == 1.0f);
  ASSERT(s.top_p == 1.0f);
  s.pitch_temperature = 0.7f; /* the same field as temperature */
  ASSERT(s.temperature == 0.7f);
  /* the message says what was expected and what came */
  rnj_sampler_init(&s, 0);
  s.pitch_min = 70;
  s.pitch_max = 60;
  ASSERT_EQ(rnj_sampler_check(&s, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "pitch_max");
  ASSERT_CONTAINS(err, "70");
  ASSERT_CONTAINS(err, "60");

  /* the limits themselves are fine */
  rnj_sampler_init(&s, 0);
  s.top_k = 128;
  s.pitch_min = s.pitch_max = 127;
  s.temperature = 1e-6f;
  ASSERT_OK(rnj_sampler_check(&s, err));
}

/* ------------------------------------------------- top-p, categorical */

/* The nucleus by the definition, independently: pitches sorted by
 * probability (ties: lower pitch first), kept until their sum reaches p. */
static int nucleus_ref(const double *prob, double p, int *keep) {
  int order[P];
  double sum = 0;
  int i;
  int j;
  int n = 0;
  for (i = 0; i < P; i++)
    order[i] = i;
  for (i = 1; i < P; i++) /* insertion sort, stable: descending prob */
    for (j = i; j > 0 && prob[order[j]] > prob[order[j - 1]]; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  memset(keep, 0, P * sizeof *keep);
  for (i = 0; i < P && sum < p; i++) {
    keep[order[i]] = 1;
    sum += prob[order[i]];
    n++;
  }
  return n;
}

static void check_top_p(void) {
  static const float ps[] = {0.05f, 0.3f, 0.6f, 0.9f, 0.99f};
  rnj_sampler_t s;
  rnj_sampler_t t;
  float l[P];
  double prob[P];
  double q[P];
  int keep[P];
  int c[P];
  size_t k;
  int i;
  int dof;
  make_logits(l, 21);
  softmax(l, 1.5, prob);
  for (k = 0; k < sizeof ps / sizeof ps[0]; k++) {
    double kept = 0;
    int n = nucleus_ref(prob, ps[k], keep);
    rnj_sampler_init(&s, 31 + k);
    s.temperature = 1.5f;
    s.top_p = ps[k];
    counts(&s, l, DRAWS, c);
    for (i = 0; i < P; i++) {
      if (c[i] && !keep[i])
        FAIL("top_p %g: pitch %d drawn, outside the nucleus of %d", ps[k],
             i, n);
      kept += keep[i] ? prob[i] : 0;
    }
    for (i = 0; i < P; i++)
      q[i] = keep[i] ? prob[i] / kept : 0;
    {
      double x = chi2(c, q, DRAWS, &dof);
      if (dof > 0 && x > chi2_bound(dof))
        FAIL("top_p %g: chi2 %.1f > %.1f (dof %d)", ps[k], x,
             chi2_bound(dof), dof);
    }
  }
  /* a tiny nucleus is the likeliest pitch alone */
  rnj_sampler_init(&s, 5);
  s.top_p = 1e-6f;
  for (i = 0; i < 200; i++)
    ASSERT_EQ(rnj_sample_pitch(&s, l), argmax(l));
  /* ties: equal logits, the lower pitches first */
  for (i = 0; i < P; i++)
    l[i] = i >= 40 && i < 50 ? 1.0f : -1e9f;
  rnj_sampler_init(&s, 6);
  s.top_p = 0.25f; /* 2.5 of 10 equal pitches: 40, 41, 42 */
  counts(&s, l, 3000, c);
  for (i = 0; i < P; i++)
    ASSERT(c[i] == 0 || (i >= 40 && i <= 42));
  ASSERT(c[40] > 800 && c[41] > 800 && c[42] > 800);
  /* with top-k and a range: the nucleus of what they leave */
  make_logits(l, 22);
  rnj_sampler_init(&s, 7);
  s.top_k = 10;
  s.pitch_min = 30;
  s.pitch_max = 100;
  s.top_p = 0.5f;
  for (i = 0; i < 2000; i++) {
    int p = rnj_sample_pitch(&s, l);
    ASSERT(p >= 30 && p <= 100 && in_top_k(l, p, 10, 30, 100));
  }
  /* off (1): the very stream of a sampler without it; one draw a call */
  rnj_sampler_init(&s, 8);
  rnj_sampler_init(&t, 8);
  s.top_p = 1.0f;
  t.top_p = 0.7f;
  for (i = 0; i < 500; i++) {
    rnj_rng_t before = t.rng;
    rnj_sample_pitch(&s, l);
    rnj_sample_pitch(&t, l);
    rnj_rng_next(&before);
    ASSERT(memcmp(&before, &t.rng, sizeof before) == 0);
  }
  ASSERT(memcmp(&s.rng, &t.rng, sizeof s.rng) == 0);
}

static void check_categorical(void) {
  static const int sizes[] = {1, 5, 32, 98, 102, 128};
  rnj_rng_t rng;
  rnj_rng_t again;
  float l[P];
  double p[P];
  int c[P];
  size_t k;
  int i;
  for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    int n = sizes[k];
    double max = -1e30;
    double sum = 0;
    int dof;
    double x;
    make_logits(l, 40 + k);
    for (i = n; i < P; i++)
      l[i] = 50.0f; /* past n: never looked at */
    for (i = 0; i < n; i++)
      max = l[i] > max ? l[i] : max;
    for (i = 0; i < P; i++)
      sum += p[i] = i < n ? exp((l[i] - max) / 0.5) : 0;
    for (i = 0; i < P; i++)
      p[i] /= sum;
    rnj_rng_seed(&rng, 50 + k);
    memset(c, 0, sizeof c);
    for (i = 0; i < DRAWS; i++) {
      int b = rnj_sample_categorical(&rng, l, n, 0.5f);
      ASSERT(b >= 0 && b < n);
      c[b]++;
    }
    x = chi2(c, p, DRAWS, &dof);
    if (dof > 0 && x > chi2_bound(dof))
      FAIL("categorical n %d: chi2 %.1f > %.1f", n, x, chi2_bound(dof));
  }
  /* T -> 0 and no finite logit: the lowest of the largest; NaN and -inf
   * never drawn; exactly one number per call */
  for (i = 0; i < P; i++)
    l[i] = i % 3 ? NAN : -INFINITY;
  l[7] = 2.0f;
  l[9] = 2.0f;
  l[11] = 1.9f;
  rnj_rng_seed(&rng, 60);
  for (i = 0; i < 2000; i++) {
    int b;
    again = rng;
    b = rnj_sample_categorical(&rng, l, 20, 1.0f);
    ASSERT(b == 7 || b == 9 || b == 11);
    rnj_rng_next(&again);
    ASSERT(memcmp(&again, &rng, sizeof rng) == 0);
  }
  ASSERT_EQ(rnj_sample_categorical(&rng, l, 20, 0.0f), 7);
  ASSERT_EQ(rnj_sample_categorical(&rng, l, 20, NAN), 7);
  for (i = 0; i < P; i++)
    l[i] = NAN;
  ASSERT_EQ(rnj_sample_categorical(&rng, l, 98, 1.0f), 0);
  l[0] = 1.0f;
  ASSERT_EQ(rnj_sample_categorical(&rng, l, 1, 3.0f), 0);
}

static long n_alloc;

static void *count_malloc(size_t n) {
  n_alloc++;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n) {
  n_alloc++;
  return realloc(p, n);
}
static void *count_calloc(size_t c, size_t n) {
  n_alloc++;
  return calloc(c, n);
}

static void check_no_alloc(void) {
  rnj_sampler_t s;
  rnj_lstm_out_t out;
  int i;
  make_logits(out.logits, 4);
  out.step = -1;
  out.duration = 1;
  ASSERT_OK(rnj_replace_allocator(count_malloc, count_realloc, count_calloc,
                                  free));
  rnj_sampler_init(&s, 14);
  for (i = 0; i < 10000; i++) {
    int pitch;
    float step;
    float duration;
    s.top_k = i % 3 == 0 ? 0 : 1 + i % 20;
    s.pitch_min = i % 7;
    s.top_p = i % 5 == 0 ? 1.0f : 0.1f + 0.2f * (float)(i % 4);
    rnj_sample_note(&s, &out, &pitch, &step, &duration);
    ASSERT(rnj_sample_categorical(&s.rng, out.logits, 1 + i % 128,
                                  0.5f) <= i % 128);
  }
  ASSERT_EQ(n_alloc, 0);
  ASSERT_OK(rnj_replace_allocator(malloc, realloc, calloc, free));
}

int main(void) {
  check_rng_reference();
  check_uniform();
  check_seeds();
  check_temperature();
  check_top_k();
  check_exact();
  check_range();
  check_odd_logits();
  check_note();
  check_settings();
  check_top_p();
  check_categorical();
  check_no_alloc();
  return 0;
}
