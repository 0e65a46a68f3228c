/* net: the one interface for "the next note".
 *
 * The tutorial's model through net is the tutorial's model as it was:
 * every kernel's h, c and heads equal rnj_lstm_step's bit for bit, in
 * stream and window mode, its notes equal rnj_sample_note's for the same
 * seed, its loss rnj_loss_note's.  Then what net itself promises: the
 * onsets it carries, the log-probabilities, the description of the model,
 * its errors, and no allocation over a long stream.
 */
#include <errno.h>
#include <stdint.h>

#include "rnnjam/alloc.h"
#include "rnnjam/ckpt.h"
#include "rnnjam/err.h"
#include "rnnjam/loss.h"
#include "rnnjam/lstm.h"
#include "rnnjam/net.h"
#include "test.h"

#define NOTES 60

static const rnj_kernel_t kernels[] = {RNJ_KERNEL_PORTABLE, RNJ_KERNEL_AVX2,
                                       RNJ_KERNEL_AVX512};
#define NKERNELS ((int)(sizeof kernels / sizeof kernels[0]))

static void ref_path(char *buf, size_t len) {
  snprintf(buf, len, "%s/ref-model.safetensors", test_data_dir());
}

static void load_tutorial(rnj_model_t *m) {
  char path[4096];
  char err[RNJ_ERR_LEN];
  ref_path(path, sizeof path);
  ASSERT_OK(rnj_model_init(m));
  if (rnj_ckpt_load(m, path, err) != 0)
    FAIL("%s", err);
}

/* A phrase with chords (step 0), long and short notes. */
static void make_notes(rnj_net_note_t *n, int count) {
  rnj_rng_t rng;
  double t = 3.0;
  int i;
  rnj_rng_seed(&rng, 99);
  for (i = 0; i < count; i++) {
    double u = rnj_rng_uniform(&rng);
    n[i].step = i == 0 ? 0 : u < 0.25 ? 0 : 0.6 * rnj_rng_uniform(&rng);
    t += n[i].step;
    n[i].onset = t;
    n[i].duration = 0.05 + rnj_rng_uniform(&rng);
    n[i].pitch = 40 + (int)(rnj_rng_next(&rng) % 50);
    n[i].velocity = 1 + (int)(rnj_rng_next(&rng) % 127);
  }
}

static void same_out(const rnj_net_dist_t *d, const rnj_lstm_out_t *o) {
  ASSERT(memcmp(d->logits + RNJ_NET_PITCH_AT, o->logits,
                sizeof o->logits) == 0);
  ASSERT(memcmp(&d->step, &o->step, sizeof o->step) == 0);
  ASSERT(memcmp(&d->duration, &o->duration, sizeof o->duration) == 0);
}

/* Stream and window, every kernel: net == lstm, bit for bit. */
static void check_tutorial_equal(const rnj_model_t *m,
                                 const rnj_net_note_t *notes) {
  int k;
  for (k = 0; k < NKERNELS; k++) {
    rnj_net_t *net;
    rnj_lstm_t *lstm;
    rnj_net_state_t st;
    rnj_lstm_state_t ls;
    rnj_net_dist_t d;
    rnj_lstm_out_t o;
    float x[NOTES * RNJ_MODEL_INPUT];
    int t;
    if (!rnj_kernel_supported(kernels[k])) {
      ASSERT_EQ(rnj_net_new(&net, m, kernels[k]), RNJ_ENOSYS);
      printf("kernel %s: not on this CPU\n", rnj_kernel_name(kernels[k]));
      continue;
    }
    ASSERT_OK(rnj_net_new(&net, m, kernels[k]));
    ASSERT_OK(rnj_lstm_new(&lstm, m, kernels[k]));
    ASSERT_EQ(rnj_net_kernel(net), kernels[k]);
    rnj_net_reset(net, &st);
    rnj_lstm_reset(&ls);
    for (t = 0; t < NOTES; t++) {
      rnj_lstm_input(x + t * RNJ_MODEL_INPUT, notes[t].pitch, notes[t].step,
                     notes[t].duration);
      rnj_net_feed(net, &st, &notes[t]);
      rnj_lstm_step(lstm, &ls, x + t * RNJ_MODEL_INPUT, &o);
      ASSERT(memcmp(st.h, ls.h, sizeof ls.h) == 0);
      ASSERT(memcmp(st.c, ls.c, sizeof ls.c) == 0);
      ASSERT(st.onset == notes[t].onset);
      ASSERT_EQ(st.fed, t + 1);
      rnj_net_predict(net, &st, &d);
      same_out(&d, &o);
      ASSERT(d.onset == notes[t].onset);
    }
    for (t = 0; t + 25 <= NOTES; t += 7) {
      rnj_net_window(net, &st, notes + t, 25, &d);
      rnj_lstm_window(lstm, x + t * RNJ_MODEL_INPUT, 25, &o);
      same_out(&d, &o);
      ASSERT(d.onset == notes[t + 24].onset);
    }
    /* an empty window: the heads on a zero state */
    rnj_net_window(net, &st, notes, 0, &d);
    rnj_lstm_reset(&ls);
    rnj_lstm_heads(lstm, &ls, &o);
    same_out(&d, &o);
    ASSERT(d.onset == 0 && st.fed == 0);
    rnj_lstm_delete(lstm);
    rnj_net_delete(net);
  }
}

/* Draws and loss as rnj_sample_note and rnj_loss_note make them. */
static void check_tutorial_sample_loss(const rnj_model_t *m,
                                       const rnj_net_note_t *notes) {
  rnj_net_t *net;
  rnj_lstm_t *lstm;
  rnj_net_state_t st;
  rnj_lstm_state_t ls;
  rnj_sampler_t a;
  rnj_sampler_t b;
  int t;
  ASSERT_OK(rnj_net_new(&net, m, RNJ_KERNEL_AUTO));
  ASSERT_OK(rnj_lstm_new(&lstm, m, RNJ_KERNEL_AUTO));
  rnj_sampler_init(&a, 4);
  rnj_sampler_init(&b, 4);
  a.temperature = b.temperature = 1.7f;
  a.top_k = b.top_k = 20;
  a.time_temperature = 0.01f; /* the tutorial's regressed times ignore it */
  rnj_net_reset(net, &st);
  rnj_lstm_reset(&ls);
  for (t = 0; t < NOTES; t++) {
    rnj_net_dist_t d;
    rnj_lstm_out_t o;
    rnj_net_note_t g;
    rnj_net_loss_t l;
    rnj_loss_t lo;
    double lp[RNJ_ENCODING_PITCHES];
    double sum = 0;
    float x[RNJ_MODEL_INPUT];
    int pitch;
    float step;
    float dur;
    int i;
    rnj_net_feed(net, &st, &notes[t]);
    rnj_lstm_input(x, notes[t].pitch, notes[t].step, notes[t].duration);
    rnj_lstm_step(lstm, &ls, x, &o);
    rnj_net_predict(net, &st, &d);
    if (t % 5 == 0) { /* a regressed time below 0 is clamped */
      d.step = o.step = -0.2f;
      d.duration = o.duration = NAN;
    }
    rnj_net_sample(net, &d, &a, &g);
    rnj_sample_note(&b, &o, &pitch, &step, &dur);
    ASSERT_EQ(g.pitch, pitch);
    ASSERT(g.step == step && g.duration == dur);
    ASSERT_EQ(g.velocity, 0);
    ASSERT(g.onset == notes[t].onset + g.step);
    ASSERT(memcmp(&a.rng, &b.rng, sizeof a.rng) == 0);
    if (t + 1 < NOTES) {
      rnj_net_loss(net, &d, &notes[t + 1], &l);
      rnj_loss_note(&o, notes[t + 1].pitch, notes[t + 1].step,
                    notes[t + 1].duration, &lo);
      /* bit for bit (a NaN duration gives the same NaN) */
      ASSERT(memcmp(&l.total, &lo.total, sizeof l.total) == 0);
      ASSERT(l.pitch == lo.pitch);
      ASSERT(l.step == lo.step);
      ASSERT(memcmp(&l.duration, &lo.duration, sizeof l.duration) == 0);
      ASSERT(l.velocity == 0);
      /* the pitch head's log-probabilities: normalised, and the CE */
      ASSERT_EQ(rnj_net_log_probs(net, &d, RNJ_NET_HEAD_PITCH, 1.0, lp),
                128);
      for (i = 0; i < 128; i++)
        sum += exp(lp[i]);
      ASSERT_NEAR(sum, 1.0, 1e-12);
      ASSERT_NEAR(-lp[notes[t + 1].pitch], l.pitch, 1e-9);
      /* a higher temperature flattens it */
      ASSERT_EQ(rnj_net_log_probs(net, &d, RNJ_NET_HEAD_PITCH, 4.0, lp),
                128);
      ASSERT(-lp[notes[t + 1].pitch] < l.pitch + 1e-9 ||
             l.pitch < log(128.0));
    }
    ASSERT_EQ(rnj_net_log_probs(net, &d, RNJ_NET_HEAD_STEP, 1.0, lp), 0);
    ASSERT_EQ(rnj_net_log_probs(net, &d, RNJ_NET_HEAD_VELOCITY, 1.0, lp),
              0);
    ASSERT_EQ(rnj_net_log_probs(net, &d, (rnj_net_head_t)9, 1.0, lp), 0);
  }
  rnj_lstm_delete(lstm);
  rnj_net_delete(net);
}

static void check_describe(const rnj_model_t *m) {
  rnj_net_t *net;
  rnj_model_t copy;
  ASSERT_OK(rnj_net_new(&net, m, RNJ_KERNEL_AUTO));
  ASSERT_EQ(rnj_net_unit(net), RNJ_NET_SECONDS);
  ASSERT_EQ(rnj_net_seq_length(net), 25);
  ASSERT_EQ(rnj_net_hidden(net), 128);
  ASSERT_STR_EQ(rnj_net_format(net), "rnnjam-lstm-v1");
  ASSERT_EQ(rnj_net_has_velocity(net), 0);
  ASSERT_EQ(rnj_net_head_size(net, RNJ_NET_HEAD_PITCH), 128);
  ASSERT_EQ(rnj_net_head_size(net, RNJ_NET_HEAD_STEP), 0);
  ASSERT_EQ(rnj_net_head_size(net, RNJ_NET_HEAD_DURATION), 0);
  ASSERT_EQ(rnj_net_head_size(net, RNJ_NET_HEAD_VELOCITY), 0);
  rnj_net_delete(net);
  rnj_net_delete(NULL);
  /* the window length is the model's own */
  ASSERT_OK(rnj_model_init(&copy));
  ASSERT_OK(rnj_model_copy(&copy, m));
  copy.seq_length = 40;
  ASSERT_OK(rnj_net_new(&net, &copy, RNJ_KERNEL_AUTO));
  ASSERT_EQ(rnj_net_seq_length(net), 40);
  rnj_net_delete(net);
  rnj_model_free(&copy);
  /* what cannot be built */
  ASSERT_EQ(rnj_net_new(&net, NULL, RNJ_KERNEL_AUTO), RNJ_EINVAL);
  ASSERT(net == NULL);
  ASSERT_EQ(rnj_net_new(&net, m, (rnj_kernel_t)7), RNJ_EINVAL);
}

static void check_load(void) {
  char path[4096];
  char err[RNJ_ERR_LEN];
  rnj_net_t *net;
  ref_path(path, sizeof path);
  ASSERT_OK(rnj_net_load(&net, path, RNJ_KERNEL_AUTO, err));
  ASSERT_EQ(rnj_net_seq_length(net), 25);
  rnj_net_delete(net);
  ASSERT_EQ(rnj_net_load(&net, "/nonexistent/m.safetensors",
                         RNJ_KERNEL_AUTO, err),
            -ENOENT);
  ASSERT(net == NULL);
  ASSERT_CONTAINS(err, "/nonexistent/m.safetensors");
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
static void count_free(void *p) {
  n_alloc += p != NULL;
  free(p);
}

/* 10,000 notes of a stream, sampled and fed back, windows and losses:
 * not one call to the allocator. */
static void check_no_alloc(const rnj_model_t *m,
                           const rnj_net_note_t *notes) {
  rnj_net_t *net;
  rnj_net_state_t st;
  rnj_net_state_t scratch;
  rnj_net_dist_t d;
  rnj_net_note_t g;
  rnj_net_loss_t l;
  rnj_sampler_t s;
  double lp[128];
  int i;
  ASSERT_OK(rnj_net_new(&net, m, RNJ_KERNEL_AUTO));
  rnj_sampler_init(&s, 3);
  s.top_p = 0.9f;
  ASSERT_OK(rnj_replace_allocator(count_malloc, count_realloc, count_calloc,
                                  count_free));
  n_alloc = 0;
  rnj_net_reset(net, &st);
  g = notes[0];
  for (i = 0; i < 10000; i++) {
    rnj_net_feed(net, &st, &g);
    rnj_net_predict(net, &st, &d);
    rnj_net_sample(net, &d, &s, &g);
    g.step = g.step > 4 ? 4 : g.step;
    g.duration = g.duration > 4 ? 4 : g.duration;
    if (i % 100 == 0) {
      rnj_net_window(net, &scratch, notes, 25, &d);
      rnj_net_loss(net, &d, &notes[25], &l);
      rnj_net_log_probs(net, &d, RNJ_NET_HEAD_PITCH, 1.0, lp);
    }
  }
  ASSERT_OK(rnj_replace_allocator(malloc, realloc, calloc, free));
  ASSERT_EQ(n_alloc, 0);
  rnj_net_delete(net);
}

int main(void) {
  rnj_model_t m;
  rnj_net_note_t notes[NOTES];
  load_tutorial(&m);
  make_notes(notes, NOTES);
  check_tutorial_equal(&m, notes);
  check_tutorial_sample_loss(&m, notes);
  check_describe(&m);
  check_load();
  check_no_alloc(&m, notes);
  rnj_model_free(&m);
  printf("net: ok\n");
  return 0;
}
