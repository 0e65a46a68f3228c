/* net: one interface for "the next note" over every kind of model.
 *
 * This file and net_new.c are where the kinds part ways, and the only
 * place outside the models' own code that knows them: each entry point
 * switches on the kind and calls the tutorial's LSTM (lstm.c) or the v2
 * model's.  Both keep their recurrent state in the caller's
 * rnj_net_state_t and write their heads into the caller's rnj_net_dist_t,
 * so a stream costs no allocation and one rnj_net_t serves any number of
 * threads.  Everything here is RT-safe (tests/test-rt.sh checks the
 * object); building and loading, which allocate, are in net_new.c.
 *
 * The tutorial's model is run exactly as rnj_lstm_step/_heads/_window and
 * rnj_sample_note run it (same inputs, same kernels, same draws), so what
 * it plays through this interface is what it played before, note for
 * note.
 */
#include <math.h>
#include <string.h>

#include "lstm_kern.h"
#include "net_impl.h"
#include "rnnjam/loss.h"

/* ---------------------------------------------------------------- info */

rnj_net_unit_t rnj_net_unit(const rnj_net_t *net) { return net->unit; }

int rnj_net_seq_length(const rnj_net_t *net) { return net->seq_length; }

int rnj_net_hidden(const rnj_net_t *net) { return net->hidden; }

const char *rnj_net_format(const rnj_net_t *net) {
  return rnj_model_format(net->kind);
}

rnj_kernel_t rnj_net_kernel(const rnj_net_t *net) {
  return net->kind == RNJ_MODEL_V2 ? net->kern->id
                                   : rnj_lstm_kernel(net->lstm);
}

int rnj_net_head_size(const rnj_net_t *net, rnj_net_head_t head) {
  switch (head) {
  case RNJ_NET_HEAD_PITCH:
    return RNJ_ENCODING_PITCHES;
  case RNJ_NET_HEAD_STEP:
    return net->kind == RNJ_MODEL_V2 ? RNJ_ENCODING_STEP_BINS : 0;
  case RNJ_NET_HEAD_DURATION:
    return net->kind == RNJ_MODEL_V2 ? RNJ_ENCODING_DURATION_BINS : 0;
  case RNJ_NET_HEAD_VELOCITY:
    return net->kind == RNJ_MODEL_V2 ? RNJ_ENCODING_VELOCITY_BINS : 0;
  default:
    return 0;
  }
}

int rnj_net_has_velocity(const rnj_net_t *net) {
  return rnj_net_head_size(net, RNJ_NET_HEAD_VELOCITY) > 0;
}

/* ------------------------------------------------------------- running */

void rnj_net_reset(const rnj_net_t *net, rnj_net_state_t *state) {
  size_t n = (size_t)net->hidden * sizeof(float);
  memset(state->h, 0, n);
  memset(state->c, 0, n);
  state->onset = 0;
  state->fed = 0;
}

/* v2: the dense inputs after h, and the three one-hot rows to add
 * (encoding.h); h is copied because the kernel writes the new h over the
 * old while later panels still read it. */
static void feed_v2(const rnj_net_t *net, rnj_net_state_t *state,
                    const rnj_net_note_t *note) {
  _Alignas(64) float v[RNJ_NET_HIDDEN_MAX + RNJ__V2_DENSE];
  const int hidden = net->hidden;
  int rows[3];
  memcpy(v, state->h, (size_t)hidden * sizeof(float));
  v[hidden] = 1.0f;
  v[hidden + 1] = rnj_encoding_time_input(note->step);
  v[hidden + 2] = rnj_encoding_time_input(note->duration);
  rows[0] = note->pitch & 127;
  rows[1] = RNJ__V2_LOOKUP_PHASE + rnj_encoding_phase(note->onset);
  rows[2] = RNJ__V2_LOOKUP_VELOCITY + rnj_encoding_velocity_bin(note->velocity);
  net->kern->cell(&net->pack, v, rows, state->c, state->h);
}

void rnj_net_feed(const rnj_net_t *net, rnj_net_state_t *state,
                  const rnj_net_note_t *note) {
  if (net->kind == RNJ_MODEL_V2) {
    feed_v2(net, state, note);
  } else {
    float x[RNJ_MODEL_INPUT];
    /* rnj_lstm_input's arithmetic: pitch / 128, the times as floats */
    rnj_lstm_input(x, note->pitch & 127, note->step, note->duration);
    rnj__lstm_step_hc(net->lstm, state->h, state->c, x);
  }
  state->onset = note->onset;
  state->fed++;
}

void rnj_net_predict(const rnj_net_t *net, const rnj_net_state_t *state,
                     rnj_net_dist_t *dist) {
  if (net->kind == RNJ_MODEL_V2) {
    net->kern->heads(&net->pack, state->h, dist->logits);
    dist->step = 0;
    dist->duration = 0;
  } else {
    rnj_lstm_out_t out;
    rnj__lstm_heads_h(net->lstm, state->h, &out);
    memcpy(dist->logits + RNJ_NET_PITCH_AT, out.logits, sizeof out.logits);
    dist->step = out.step;
    dist->duration = out.duration;
  }
  dist->onset = state->onset;
}

void rnj_net_window(const rnj_net_t *net, rnj_net_state_t *state,
                    const rnj_net_note_t *notes, int n,
                    rnj_net_dist_t *dist) {
  int i;
  rnj_net_reset(net, state);
  for (i = 0; i < n; i++)
    rnj_net_feed(net, state, &notes[i]);
  rnj_net_predict(net, state, dist);
}

/* v2's pitch: with neither top-k nor top-p (the defaults) it is a plain
 * categorical draw over the range, which the kernel's vector draw does in
 * a fraction of rnj_sample_pitch's time, by the same rules; otherwise
 * rnj_sample_pitch.  One number of the generator either way. */
static int sample_pitch_v2(const rnj_net_t *net, const rnj_net_dist_t *dist,
                           rnj_sampler_t *s) {
  const float *logits = dist->logits + RNJ_NET_PITCH_AT;
  int lo = s->pitch_min < 0 ? 0 : s->pitch_min > 127 ? 127 : s->pitch_min;
  int hi = s->pitch_max < lo ? lo : s->pitch_max > 127 ? 127 : s->pitch_max;
  int n = hi - lo + 1;
  if ((s->top_k > 0 && s->top_k < n) || (s->top_p < 1 && s->top_p > 0))
    return rnj_sample_pitch(s, logits);
  return lo + net->kern->draw(logits + lo, n, s->pitch_temperature,
                              rnj_rng_uniform(&s->rng));
}

void rnj_net_sample(const rnj_net_t *net, const rnj_net_dist_t *dist,
                    rnj_sampler_t *sampler, rnj_net_note_t *out) {
  if (net->kind == RNJ_MODEL_V2) {
    /* ENCODING.md's order: step, duration, velocity, then pitch; the
     * time temperature for the first three */
    float t = sampler->time_temperature;
    int sb = net->kern->draw(dist->logits + RNJ_NET_STEP_AT,
                             RNJ_ENCODING_STEP_BINS, t,
                             rnj_rng_uniform(&sampler->rng));
    int db = net->kern->draw(dist->logits + RNJ_NET_DURATION_AT,
                             RNJ_ENCODING_DURATION_BINS, t,
                             rnj_rng_uniform(&sampler->rng));
    int vb = net->kern->draw(dist->logits + RNJ_NET_VELOCITY_AT,
                             RNJ_ENCODING_VELOCITY_BINS, t,
                             rnj_rng_uniform(&sampler->rng));
    out->step = rnj_encoding_step_centre(sb);
    out->duration = rnj_encoding_duration_centre(db);
    out->velocity = rnj_encoding_velocity_centre(vb);
    out->pitch = sample_pitch_v2(net, dist, sampler);
  } else {
    /* rnj_sample_note's: the times clamped at 0 ("> 0" so that a NaN
     * becomes 0 too), no velocity */
    out->step = dist->step > 0 ? dist->step : 0.0f;
    out->duration = dist->duration > 0 ? dist->duration : 0.0f;
    out->velocity = 0;
    out->pitch = rnj_sample_pitch(sampler, dist->logits + RNJ_NET_PITCH_AT);
  }
  out->onset = dist->onset + out->step;
}

/* ---------------------------------------------------------- evaluation */

/* log-softmax of n logits at temperature t into out (double). */
static void log_softmax(const float *logits, int n, double t, double *out) {
  double max = -INFINITY;
  double sum = 0;
  int i;
  for (i = 0; i < n; i++)
    if (logits[i] / t > max)
      max = logits[i] / t;
  for (i = 0; i < n; i++)
    sum += exp(logits[i] / t - max);
  for (i = 0; i < n; i++)
    out[i] = logits[i] / t - max - log(sum);
}

/* -log p of bin `target` of n logits (in double). */
static double cross_entropy(const float *logits, int n, int target) {
  double max = -INFINITY;
  double sum = 0;
  int i;
  for (i = 0; i < n; i++)
    if (logits[i] > max)
      max = logits[i];
  for (i = 0; i < n; i++)
    sum += exp((double)logits[i] - max);
  return max + log(sum) - (double)logits[target];
}

void rnj_net_loss(const rnj_net_t *net, const rnj_net_dist_t *dist,
                  const rnj_net_note_t *note, rnj_net_loss_t *loss) {
  if (net->kind == RNJ_MODEL_V2) {
    const float *l = dist->logits;
    loss->pitch = cross_entropy(l + RNJ_NET_PITCH_AT, RNJ_ENCODING_PITCHES,
                                note->pitch & 127);
    loss->step = cross_entropy(l + RNJ_NET_STEP_AT, RNJ_ENCODING_STEP_BINS,
                               rnj_encoding_step_bin(note->step));
    loss->duration =
        cross_entropy(l + RNJ_NET_DURATION_AT, RNJ_ENCODING_DURATION_BINS,
                      rnj_encoding_duration_bin(note->duration));
    loss->velocity =
        cross_entropy(l + RNJ_NET_VELOCITY_AT, RNJ_ENCODING_VELOCITY_BINS,
                      rnj_encoding_velocity_bin(note->velocity));
    loss->total =
        loss->pitch + 0.5 * (loss->step + loss->duration + loss->velocity);
  } else {
    rnj_lstm_out_t out;
    rnj_loss_t l;
    /* the tutorial's loss exactly as rnnjam eval computed it */
    memcpy(out.logits, dist->logits + RNJ_NET_PITCH_AT, sizeof out.logits);
    out.step = dist->step;
    out.duration = dist->duration;
    rnj_loss_note(&out, note->pitch & 127, note->step, note->duration, &l);
    loss->total = l.total;
    loss->pitch = l.pitch;
    loss->step = l.step;
    loss->duration = l.duration;
    loss->velocity = 0;
  }
}

int rnj_net_log_probs(const rnj_net_t *net, const rnj_net_dist_t *dist,
                      rnj_net_head_t head, double temperature,
                      double *out) {
  static const int at[RNJ_NET_HEADS] = {RNJ_NET_PITCH_AT, RNJ_NET_STEP_AT,
                                        RNJ_NET_DURATION_AT,
                                        RNJ_NET_VELOCITY_AT};
  int n;
  if ((unsigned)head >= RNJ_NET_HEADS)
    return 0;
  n = rnj_net_head_size(net, head);
  if (n > 0)
    log_softmax(dist->logits + at[head], n,
                temperature > 0 ? temperature : 1.0, out);
  return n;
}
