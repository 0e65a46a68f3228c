/* sample: the next note from the model's outputs.
 *
 * The generator is xoshiro256** (Blackman and Vigna), its 256-bit state
 * filled from the seed by splitmix64, as its authors recommend, so nearby
 * seeds give unrelated streams.  Pitch sampling is softmax(logits / T) over
 * the allowed pitches, drawn by one uniform against the cumulative sum.
 * Top-p keeps the smallest set of likeliest pitches that reaches the mass,
 * found by a selection on the weights (expected linear time) rather than a
 * sort.  Everything here works in fixed arrays of 128 on the stack: no
 * allocation, no locks, bounded time, so it runs on the real-time thread
 * after the model's step.
 *
 * Limits: the weights are float, within 3e-7 of exact; a pitch whose
 * probability is below about 1e-38 relative to the best is never drawn.
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "rnnjam/sample.h"

#define P RNJ_MODEL_PITCHES

/* ------------------------------------------------------------------ rng */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rnj_rng_seed(rnj_rng_t *rng, uint64_t seed) {
  int i;
  /* splitmix64 never yields four zeros in a row, so the state is never the
   * all-zero one xoshiro cannot leave. */
  for (i = 0; i < 4; i++)
    rng->s[i] = splitmix64(&seed);
}

uint64_t rnj_rng_next(rnj_rng_t *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double rnj_rng_uniform(rnj_rng_t *rng) {
  /* The top 53 bits: every double in [0, 1) on the 2^-53 grid, equally
   * likely. */
  return (double)(rnj_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* -------------------------------------------------------------- sampler */

void rnj_sampler_init(rnj_sampler_t *sampler, uint64_t seed) {
  memset(sampler, 0, sizeof *sampler);
  sampler->temperature = 1.0f;
  sampler->time_temperature = 1.0f;
  sampler->top_p = 1.0f;
  sampler->top_k = 0;
  sampler->pitch_min = 0;
  sampler->pitch_max = P - 1;
  rnj_rng_seed(&sampler->rng, seed);
}

int rnj_sampler_check(const rnj_sampler_t *sampler, char *err) {
  if (!(sampler->temperature > 0) || !isfinite(sampler->temperature))
    return rnj_errorf(err, RNJ_EINVAL,
                      "sampler: temperature must be a finite number > 0, "
                      "got %g",
                      (double)sampler->temperature);
  if (!(sampler->time_temperature > 0) ||
      !isfinite(sampler->time_temperature))
    return rnj_errorf(err, RNJ_EINVAL,
                      "sampler: time_temperature must be a finite number > "
                      "0, got %g",
                      (double)sampler->time_temperature);
  if (!(sampler->top_p > 0 && sampler->top_p <= 1))
    return rnj_errorf(err, RNJ_EINVAL,
                      "sampler: top_p must be in (0, 1] (1: off), got %g",
                      (double)sampler->top_p);
  if (sampler->top_k < 0 || sampler->top_k > P)
    return rnj_errorf(err, RNJ_EINVAL,
                      "sampler: top_k must be 0 (all) to %d, got %d", P,
                      sampler->top_k);
  if (sampler->pitch_min < 0 || sampler->pitch_min > P - 1)
    return rnj_errorf(err, RNJ_EINVAL,
                      "sampler: pitch_min must be 0 to %d, got %d", P - 1,
                      sampler->pitch_min);
  if (sampler->pitch_max < sampler->pitch_min || sampler->pitch_max > P - 1)
    return rnj_errorf(err, RNJ_EINVAL,
                      "sampler: pitch_max must be pitch_min (%d) to %d, "
                      "got %d",
                      sampler->pitch_min, P - 1, sampler->pitch_max);
  return 0;
}

/* A key whose unsigned order is the logits' descending order, ties broken
 * by the lower pitch: the float's bits made monotonic (flip all bits of a
 * negative, the sign bit of a positive), inverted, above the pitch. */
static uint64_t rank_key(float logit, int pitch) {
  uint32_t u;
  if (logit == 0)
    logit = 0.0f; /* -0 ties with +0, as the comparisons say */
  memcpy(&u, &logit, sizeof u);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ((uint64_t)~u << 32) | (uint32_t)pitch;
}

/* The k-th smallest (0-based) of the n distinct keys; reorders them.
 * Quickselect with a middle pivot: fine for n <= 128 in any order. */
static uint64_t select_key(uint64_t *a, int n, int k) {
  int lo = 0;
  int hi = n - 1;
  while (lo < hi) {
    uint64_t pivot = a[lo + (hi - lo) / 2];
    int i = lo;
    int j = hi;
    while (i <= j) {
      while (a[i] < pivot)
        i++;
      while (a[j] > pivot)
        j--;
      if (i <= j) {
        uint64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      break;
  }
  return a[k];
}

/* Four floats in one register: GNU C's generic vectors, which compile to
 * SSE on x86-64, NEON on arm64 and plain scalar code elsewhere.  Written
 * out like this the loops are vectorised at any optimisation level, not
 * only where the compiler's auto-vectoriser chooses to. */
typedef float v4sf __attribute__((vector_size(16)));
typedef int32_t v4si __attribute__((vector_size(16)));

#define NV (P / 4) /* vectors of 4 candidates */

static v4sf splat(float x) { return (v4sf){x, x, x, x}; }

static v4sf select4(v4si mask, v4sf a, v4sf b) {
  return (v4sf)(((v4si)a & mask) | ((v4si)b & ~mask));
}

/* exp(a) for a <= 0, or 0 where a < -87 or NaN.  a = n*ln2 + r with
 * |r| <= ln2/2 (ln2 in two parts so that n*ln2_hi is exact), exp(r) by its
 * Taylor series to r^7, 2^n put into the exponent bits.  Within 3e-7
 * relative of exp: far finer than one uniform draw can tell.  Weights below
 * exp(-87) (1e-38 relative to the best pitch) are exactly 0, so -inf and
 * NaN logits are never drawn. */
static inline __attribute__((always_inline)) v4sf exp_weight(v4sf a) {
  v4si in = a >= splat(-87.0f); /* false for NaN, too */
  v4sf c = select4(in, a, splat(-87.0f));
  /* round to nearest by adding 1.5 * 2^23: SSE2 has no round */
  v4sf f = (c * 1.44269504f + 12582912.0f) - 12582912.0f;
  v4sf r = (c - f * 0.693359375f) - f * -2.12194440e-4f;
  v4si e = (__builtin_convertvector(f, v4si) + 127) << 23;
  v4sf q = splat(1.0f / 5040);
  q = q * r + 1.0f / 720;
  q = q * r + 1.0f / 120;
  q = q * r + 1.0f / 24;
  q = q * r + 1.0f / 6;
  q = q * r + 0.5f;
  q = q * r + 1.0f;
  q = q * r + 1.0f;
  return (v4sf)((v4si)(q * (v4sf)e) & in);
}

/* The nucleus: keep the likeliest of the n weights w (>= 0) whose sum
 * first reaches p * total (the one that crosses it included; equal
 * weights: the lower index first), zero the others, and return the kept
 * sum.  A selection on (weight, index) keys that discards whole sides of
 * a pivot by their mass: expected O(n), no sort. */
static double nucleus(float *w, int n, double total, double p) {
  uint64_t keys[P];
  uint64_t cut = UINT64_MAX;
  double need = p * total;
  double kept = 0;
  int lo = 0;
  int hi = n - 1;
  int i;
  for (i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &w[i], sizeof u);
    /* weights are >= 0, so their bits are in order; inverted, the
     * heaviest comes first */
    keys[i] = ((uint64_t)~u << 32) | (uint32_t)i;
  }
  while (lo <= hi) {
    uint64_t pivot = keys[lo + (hi - lo) / 2];
    double left = 0;
    int k = lo;
    /* keys < pivot to the front, then the pivot */
    for (i = lo; i <= hi; i++)
      if (keys[i] < pivot) {
        uint64_t t = keys[i];
        keys[i] = keys[k];
        keys[k++] = t;
        left += w[t & 0xffffffffu];
      }
    for (i = k; keys[i] != pivot; i++)
      ;
    keys[i] = keys[k];
    keys[k] = pivot;
    if (left >= need) {
      hi = k - 1;
    } else if (left + w[pivot & 0xffffffffu] >= need) {
      cut = pivot;
      break;
    } else {
      need -= left + w[pivot & 0xffffffffu];
      lo = k + 1;
    }
  }
  for (i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &w[i], sizeof u);
    if ((((uint64_t)~u << 32) | (uint32_t)i) > cut)
      w[i] = 0;
    kept += w[i];
  }
  return kept;
}

int rnj_sample_pitch(rnj_sampler_t *sampler, const float *logits) {
  int lo = sampler->pitch_min;
  int hi = sampler->pitch_max;
  int k = sampler->top_k;
  float t = sampler->temperature;
  v4sf cl[NV]; /* (n) the candidates' logits, padded with -inf */
  v4sf w[NV];  /* (n) their weights */
  int cand[P]; /* (n) their pitches, when top-k picked them */
  int topk = 0;
  v4sf m4;
  float *clf = (float *)cl;
  float max;
  double total = 0;
  double u;
  int n;
  int nv;
  int i;
  int b;

  /* Exactly one draw per call, whatever the path below, so a stream of
   * notes is a function of the seed alone. */
  u = rnj_rng_uniform(&sampler->rng);

  /* Settings are meant to pass rnj_sampler_check; here, where nothing can
   * be reported, bad ones are clamped rather than trusted. */
  lo = lo < 0 ? 0 : lo > P - 1 ? P - 1 : lo;
  hi = hi < lo ? lo : hi > P - 1 ? P - 1 : hi;
  n = hi - lo + 1;
  memcpy(clf, logits + lo, (size_t)n * sizeof(float));

  if (k > 0 && k < n) {
    uint64_t keys[P];
    uint64_t cut;
    int m = 0;
    for (i = 0; i < n; i++)
      keys[i] = rank_key(clf[i], lo + i);
    cut = select_key(keys, n, k - 1);
    for (i = 0; i < n; i++)
      if (rank_key(clf[i], lo + i) <= cut) {
        clf[m] = clf[i];
        cand[m++] = lo + i;
      }
    n = m;
    topk = 1;
  }
  nv = (n + 3) / 4;
  for (i = n; i < 4 * nv; i++)
    clf[i] = -INFINITY;

  /* NaN logits never win: comparisons with them are false. */
  m4 = splat(-INFINITY);
  for (b = 0; b < nv; b++)
    m4 = select4(cl[b] > m4, cl[b], m4);
  max = -INFINITY;
  for (i = 0; i < 4; i++)
    max = m4[i] > max ? m4[i] : max;

  /* T <= 0 (or NaN) is the limit T -> 0: the most likely pitch.  A finite
   * max has weight 1, so a total below 1 (or not finite) means there is no
   * finite logit: no distribution to draw from either. */
  if (t > 0) {
    v4sf inv_t = splat(1.0f / t);
    v4sf tot = splat(0.0f);
    for (b = 0; b < nv; b++) {
      w[b] = exp_weight((cl[b] - max) * inv_t);
      tot += w[b];
    }
    total = ((double)tot[0] + tot[1]) + ((double)tot[2] + tot[3]);
    /* Top-p off (1 or more, or not a number) leaves the weights alone. */
    if (sampler->top_p < 1 && sampler->top_p > 0 && total >= 1.0 &&
        total < INFINITY)
      total = nucleus((float *)w, n, total, sampler->top_p);
    if (total >= 1.0 && total < INFINITY) {
      /* The block of 4 where the draw falls, then the pitch in it; the
       * draw stays >= 0 until it is found, so a pitch of weight 0 is never
       * the one. */
      double target = u * total;
      for (b = 0; b < nv - 1; b++) {
        double bsum =
            ((double)w[b][0] + w[b][1]) + ((double)w[b][2] + w[b][3]);
        if (target < bsum)
          break;
        target -= bsum;
      }
      for (i = 0; i < 4; i++) {
        target -= w[b][i];
        if (target < 0)
          break;
      }
      if (i < 4)
        i += 4 * b;
      else /* rounding left the draw a hair past the block's end: its last
              pitch with any weight (or an earlier one's) */
        for (i = 4 * b + 3; i > 0 && w[i / 4][i % 4] == 0; i--)
          ;
      return topk ? cand[i] : lo + i;
    }
  }
  for (i = 0; i < n && !(clf[i] == max); i++)
    ;
  i = i < n ? i : 0;
  return topk ? cand[i] : lo + i;
}

int rnj_sample_categorical(rnj_rng_t *rng, const float *logits, int n,
                           float temperature) {
  /* one draw, whatever happens then */
  return rnj__sample_draw(logits, n, temperature, rnj_rng_uniform(rng));
}

int rnj__sample_draw(const float *logits, int n, float temperature,
                     double u) {
  v4sf cl[NV]; /* (n) the logits, padded with -inf */
  v4sf w[NV];  /* (n) their weights */
  float *clf = (float *)cl;
  v4sf m4;
  float max;
  double total;
  int nv;
  int i;
  int b;

  n = n < 1 ? 1 : n > P ? P : n;
  memcpy(clf, logits, (size_t)n * sizeof(float));
  nv = (n + 3) / 4;
  for (i = n; i < 4 * nv; i++)
    clf[i] = -INFINITY;
  m4 = splat(-INFINITY);
  for (b = 0; b < nv; b++)
    m4 = select4(cl[b] > m4, cl[b], m4);
  max = -INFINITY;
  for (i = 0; i < 4; i++)
    max = m4[i] > max ? m4[i] : max;
  if (temperature > 0) {
    v4sf inv_t = splat(1.0f / temperature);
    v4sf tot = splat(0.0f);
    for (b = 0; b < nv; b++) {
      w[b] = exp_weight((cl[b] - max) * inv_t);
      tot += w[b];
    }
    total = ((double)tot[0] + tot[1]) + ((double)tot[2] + tot[3]);
    /* As for pitches: a finite max has weight 1. */
    if (total >= 1.0 && total < INFINITY) {
      double target = u * total;
      for (b = 0; b < nv - 1; b++) {
        double bsum =
            ((double)w[b][0] + w[b][1]) + ((double)w[b][2] + w[b][3]);
        if (target < bsum)
          break;
        target -= bsum;
      }
      for (i = 0; i < 4; i++) {
        target -= w[b][i];
        if (target < 0)
          return 4 * b + i;
      }
      for (i = 4 * b + 3; i > 0 && w[i / 4][i % 4] == 0; i--)
        ;
      return i;
    }
  }
  for (i = 0; i < n && !(clf[i] == max); i++)
    ;
  return i < n ? i : 0;
}

void rnj_sample_note(rnj_sampler_t *sampler, const rnj_lstm_out_t *out,
                     int *pitch, float *step, float *duration) {
  *pitch = rnj_sample_pitch(sampler, out->logits);
  /* "> 0" rather than fmaxf so that a NaN output becomes 0, too. */
  *step = out->step > 0 ? out->step : 0.0f;
  *duration = out->duration > 0 ? out->duration : 0.0f;
}
