/* engine: what rnnjamd plays and when, with no ALSA in sight.
 *
 * The player's notes are tracked per (channel, pitch) into a FIFO ordered
 * by start and fed to the model in that order once they (and everything
 * before them) have ended; see engine.h for why.  Generation samples one
 * note ahead ("pending") and hands it to the output when it falls inside
 * the lookahead horizon, so the output queue, not the loop's wake-up,
 * decides when it sounds.  A generated note joins the context when it is
 * handed over, i.e. up to `lookahead` before it sounds; if it is then
 * cancelled (the player came back) the model has still heard it.  That
 * costs at most a lookahead's worth of notes of context and buys a
 * context that never has to be rewound.
 *
 * Musical time (with a clock): a note is placed when it is handed over,
 * not when it is sampled, so a tempo learnt meanwhile (a new MIDI Clock
 * tempo, a JACK tempo map, the player's next phrase) already applies to
 * it.  place() turns the model's timing (an onset `step` after the last
 * note fed, a duration) into the played one: on the grid, never in the
 * past, at most max_chord notes at one onset.  The model is fed the note
 * as it is played, so its context is what was heard.
 *
 * The model is reached only through net.h, in its own time unit:
 * to_model() and to_seconds() are the one place where the engine's
 * seconds meet it (a beats model hears them at the clock's tempo, and an
 * onset at the clock's beat, so its beat phase is the music's; without a
 * clock at the fixed tempo params.tempo).  The history keeps
 * notes in seconds, as fed, so a model of another unit (a reload) or a
 * new tempo hears the same notes.
 *
 * Limits: sustain pedal (CC 64) is ignored, so pedalled notes end at
 * their key release.  Player notes are merged over all channels.
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "rnnjam/engine.h"

/* A note whose note-on is due within this much of `now` may already have
 * sounded when we cancel, so it gets a note-off (a spare note-off for one
 * that had not started is harmless). */
#define MARGIN 0.002
/* Notes closer than this count as starting together. */
#define CHORD_EPS 0.001
/* Longest player note fed as is: a key is released at this age (see
 * release_stale), a duration already far outside the training data. */
#define MAX_PLAYER_DURATION RNJ_ENGINE_MAX_HOLD

static double clampd(double v, double lo, double hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

void rnj_engine_params_from_conf(rnj_engine_params_t *p,
                                 const rnj_conf_t *c) {
  memset(p, 0, sizeof *p);
  p->mode = c->mode;
  p->context = c->context;
  p->phrase_gap = c->phrase_gap_ms / 1000.0;
  p->answer_length = c->answer_length;
  p->lookahead = c->lookahead_ms / 1000.0;
  p->max_step = c->max_step_ms / 1000.0;
  p->min_duration = c->min_duration_ms / 1000.0;
  p->max_duration = c->max_duration_ms / 1000.0;
  p->max_chord = c->max_chord;
  p->velocity = c->velocity;
  p->tempo = c->tempo;
  p->cc_channel = c->cc_channel;
  p->cc_temperature = c->cc_temperature;
  p->cc_mode = c->cc_mode;
  p->cc_length = c->cc_length;
  p->cc_panic = c->cc_panic;
  p->temperature_min = c->temperature_min;
  p->temperature_max = c->temperature_max;
  p->quantize = c->quantize;
  p->swing = c->swing;
  p->answer_start = c->answer_start;
}

static int params_ok(const rnj_engine_params_t *p) {
  return (p->mode == RNJ_MODE_RESPOND || p->mode == RNJ_MODE_CONTINUOUS) &&
         (p->context == RNJ_CONTEXT_STREAM ||
          p->context == RNJ_CONTEXT_WINDOW) &&
         p->phrase_gap >= 0 && p->lookahead > 0 && p->max_step > 0 &&
         p->min_duration > 0 && p->max_duration >= p->min_duration &&
         p->max_chord >= 1 && p->answer_length >= 0 &&
         p->velocity >= RNJ_VELOCITY_MODEL && p->velocity <= 127 &&
         p->tempo >= 1 && p->tempo <= 1000 &&
         p->quantize >= RNJ_GRID_OFF && p->quantize <= RNJ_GRID_16T &&
         p->swing >= 0 && p->swing <= RNJ_GRID_MAX_SWING &&
         p->answer_start >= RNJ_ANSWER_GAP &&
         p->answer_start <= RNJ_ANSWER_BAR;
}

/* ---------------------------------------------------------------- time */

/* Seconds -> the model's unit, and back: the only conversions between
 * the engine's clock and the model's. */
static double to_model(const rnj_engine_t *e, double seconds) {
  return seconds * e->model_per_s;
}

static double to_seconds(const rnj_engine_t *e, double units) {
  return units / e->model_per_s;
}

static int in_beats(const rnj_engine_t *e) {
  return e->net && rnj_net_unit(e->net) == RNJ_NET_BEATS;
}

/* Exactly 1 for a seconds model, so its times pass unchanged; a beats
 * model hears the clock's tempo (set again when it changes). */
static void set_unit(rnj_engine_t *e) {
  double bpm = e->clock ? rnj_clock_bpm(e->clock) : e->p.tempo;
  e->model_per_s = in_beats(e) ? bpm / 60.0 : 1.0;
}

/* The window length: the model's; 1 without one (nothing reads it). */
static int window_length(const rnj_net_t *net) {
  int n = net ? rnj_net_seq_length(net) : 1;
  return n > 0 ? n : 1;
}

/* A note of the history (seconds) as the model hears it. */
static void model_note(const rnj_engine_t *e, const rnj_net_note_t *s,
                       rnj_net_note_t *m) {
  /* with a clock, the beat the note fell on (its phase is the music's) */
  m->onset = e->clock && in_beats(e) ? rnj_clock_beat_at(e->clock, s->onset)
                                     : to_model(e, s->onset);
  m->step = to_model(e, s->step);
  m->duration = to_model(e, s->duration);
  m->pitch = s->pitch;
  m->velocity = s->velocity;
}

int rnj_engine_init(rnj_engine_t *e, const rnj_engine_params_t *p,
                    const rnj_net_t *net, const rnj_sampler_t *sampler,
                    const rnj_engine_out_t *out) {
  if (!e || !p || !sampler || !out || !out->note || !out->cancel ||
      !out->note_off_now || !out->all_off || !out->now ||
      (net && rnj_net_seq_length(net) < 1) || !params_ok(p))
    return RNJ_EINVAL;
  memset(e, 0, sizeof *e);
  e->p = *p;
  e->net = net;
  e->seq_length = window_length(net);
  set_unit(e);
  e->sampler = *sampler;
  e->out = *out;
  rnj_grid_init(&e->grid, p->quantize, p->swing);
  e->last_onset = -HUGE_VAL;
  if (e->net)
    rnj_net_reset(e->net, &e->state);
  /* A mezzo-forte guess until the player has played something. */
  e->vel_avg = 80.0;
  e->st = RNJ_ENGINE_IDLE;
  return 0;
}

/* ---------------------------------------------------------------- context */

static void history_push(rnj_engine_t *e, const rnj_net_note_t *n) {
  int slot;
  if (e->hist_n < RNJ_ENGINE_HISTORY) {
    slot = (e->hist_head + e->hist_n) % RNJ_ENGINE_HISTORY;
    e->hist_n++;
  } else {
    slot = e->hist_head;
    e->hist_head = (e->hist_head + 1) % RNJ_ENGINE_HISTORY;
  }
  e->history[slot] = *n;
}

/* The newest min(hist_n, seq_length) notes into e->window, in the model's
 * unit; their count. */
static int history_window(rnj_engine_t *e) {
  int n = e->hist_n < e->seq_length ? e->hist_n : e->seq_length;
  int i;
  for (i = 0; i < n; i++) {
    int slot = (e->hist_head + e->hist_n - n + i) % RNJ_ENGINE_HISTORY;
    model_note(e, &e->history[slot], &e->window[i]);
  }
  return n;
}

/* Stream mode: the state rebuilt from the kept notes, as a window would
 * see them (after a new model or context; bounded: seq_length steps). */
static void refeed(rnj_engine_t *e) {
  int n;
  int i;
  e->pred_valid = 0;
  if (!e->net)
    return;
  rnj_net_reset(e->net, &e->state);
  if (e->p.context != RNJ_CONTEXT_STREAM)
    return;
  n = history_window(e);
  for (i = 0; i < n; i++)
    rnj_net_feed(e->net, &e->state, &e->window[i]);
}

static void feed(rnj_engine_t *e, int pitch, int velocity, double start,
                 double duration) {
  rnj_net_note_t n;
  double step = 0.0;
  if (e->rebase) {
    /* the gap between a seed file and the live clock means nothing: give
     * the first live note the seed's own last step */
    step = clampd(e->seed_step, 0.0, e->p.max_step);
    e->rebase = 0;
    e->last_fed_start = start;
  } else if (e->fed_any) {
    step = clampd(start - e->last_fed_start, 0.0, e->p.max_step);
  }
  n.onset = start;
  n.step = step;
  n.duration = duration;
  n.pitch = pitch;
  n.velocity = velocity;
  history_push(e, &n);
  /* without a model the history keeps the note for the next one */
  if (e->net && e->p.context == RNJ_CONTEXT_STREAM) {
    rnj_net_note_t m;
    model_note(e, &n, &m);
    rnj_net_feed(e->net, &e->state, &m);
  }
  if (!e->fed_any || start > e->last_fed_start)
    e->last_fed_start = start;
  e->fed_any = 1;
  e->pred_valid = 0;
  e->stats.notes_fed++;
}

static void predict(rnj_engine_t *e) {
  if (e->pred_valid)
    return;
  /* In window mode the state is scratch: nothing else reads it. */
  if (e->p.context == RNJ_CONTEXT_WINDOW)
    rnj_net_window(e->net, &e->state, e->window, history_window(e),
                   &e->pred);
  else
    rnj_net_predict(e->net, &e->state, &e->pred);
  e->pred_valid = 1;
}

void rnj_engine_seed(rnj_engine_t *e, int pitch, double step,
                     double duration, int velocity) {
  double start = e->fed_any ? e->last_fed_start + step : 0.0;
  e->rebase = 0;
  feed(e, pitch & 127, velocity < 0 ? 0 : velocity > 127 ? 127 : velocity,
       start, duration < 0 ? 0 : duration);
  e->seed_step = step;
  e->rebase = 1;
}

/* ---------------------------------------------------------------- output */

static void retire(rnj_engine_t *e, double now) {
  int i = 0;
  while (i < e->sched_n) {
    if (e->sched[i].off < now - MARGIN)
      e->sched[i] = e->sched[--e->sched_n];
    else
      i++;
  }
}

static int pending_after(const rnj_engine_t *e, double t) {
  int i;
  for (i = 0; i < e->sched_n; i++)
    if (e->sched[i].off >= t - MARGIN)
      return 1;
  return 0;
}

/* Cancel everything queued; note-off whatever may be sounding. */
static void silence(rnj_engine_t *e) {
  double before;
  double now;
  int i;
  e->pend_valid = 0;
  if (e->sched_n == 0)
    return;
  before = e->out.now(e->out.ctx);
  e->out.cancel(e->out.ctx);
  /* Read the clock again after the cancel: a note-on due in between has
   * been delivered and needs its note-off too. */
  now = e->out.now(e->out.ctx);
  for (i = 0; i < e->sched_n; i++) {
    const rnj_engine_sched_t *s = &e->sched[i];
    if (s->on <= now + MARGIN && s->off >= before - MARGIN)
      e->out.note_off_now(e->out.ctx, s->pitch);
  }
  e->sched_n = 0;
}

/* The velocity a generated note is played (and fed) with: fixed, the
 * model's (`model`, 0 when it has none), or the player's recent ones. */
static int out_velocity(const rnj_engine_t *e, int model) {
  int v;
  if (e->p.velocity > 0)
    return e->p.velocity;
  if (e->p.velocity == RNJ_VELOCITY_MODEL && model > 0)
    return model > 127 ? 127 : model;
  v = (int)lrint(e->vel_avg);
  return v < 1 ? 1 : v > 127 ? 127 : v;
}

/* Hand one note to the output (it has already been fed). */
static void emit(rnj_engine_t *e, double on, double off, int pitch,
                 int velocity) {
  int i;
  for (i = 0; i < e->sched_n; i++) {
    const rnj_engine_sched_t *s = &e->sched[i];
    if (s->pitch == pitch && s->off > on && s->on < off) {
      e->stats.skipped_overlap++;
      return;
    }
  }
  if (e->sched_n == RNJ_ENGINE_SCHED) {
    e->stats.dropped_sched++;
    return;
  }
  if (e->out.note(e->out.ctx, on, off, pitch, velocity) != 0) {
    e->stats.out_errors++;
    return;
  }
  e->sched[e->sched_n].on = on;
  e->sched[e->sched_n].off = off;
  e->sched[e->sched_n].pitch = pitch;
  e->sched_n++;
  e->stats.notes_out++;
}

/* ---------------------------------------------------------------- placing */

static int timed(const rnj_engine_t *e) {
  return e->clock != NULL && rnj_clock_rolling(e->clock);
}

/* The first grid point at or after `t` (no grid: `t`). */
static double grid_ceil(const rnj_engine_t *e, double t) {
  double b;
  if (e->grid.unit == RNJ_GRID_OFF)
    return t;
  b = rnj_grid_ceil(&e->grid, rnj_clock_beat_at(e->clock, t) - 1e-9);
  return fmax(t, rnj_clock_time_of(e->clock, b));
}

/* Where an answer (or continuous playing) whose silence ends at `t`
 * starts: on the next beat or bar (answer_start), else on the grid. */
static double start_time(const rnj_engine_t *e, int answer_start,
                         double t) {
  if (!timed(e))
    return t;
  if (answer_start == RNJ_ANSWER_GAP)
    return grid_ceil(e, t);
  return rnj_clock_answer_start(e->clock, answer_start, t);
}

/* The pending note as it will be played at `now`: onset and end. */
static void place(const rnj_engine_t *e, double now, double *on_out,
                  double *off_out) {
  double on = e->pend_on;
  double dur = e->pend_dur;
  double off;
  int chord;
  if (!timed(e)) {
    /* A model can fall into stacking notes at one onset forever; after
     * max_chord of them the next one waits a short beat. */
    if (!e->pend_first && e->chord_run >= e->p.max_chord &&
        fabs(on - e->last_gen_on) < CHORD_EPS)
      on = e->last_gen_on + clampd(0.125, e->p.min_duration, e->p.max_step);
    /* Never in the past: after a stall the queue would play a burst. */
    if (on < now)
      on = now;
    *on_out = on;
    *off_out = on + dur;
    return;
  }
  if (e->pend_first) {
    /* already on the beat; a late tick moves it to the next one */
    if (on < now)
      on = start_time(e, e->p.answer_start, now);
    rnj_clock_quantize_note(e->clock, &e->grid, on, on + dur, &on, &off);
    *on_out = on;
    *off_out = off;
    return;
  }
  rnj_clock_quantize_note(e->clock, &e->grid, on, on + dur, &on, &off);
  dur = off - on;
  chord = e->chord_run > 0 && fabs(on - e->last_gen_on) < CHORD_EPS;
  if (chord && e->chord_run >= e->p.max_chord) {
    /* the next grid step (a short beat without a grid) */
    double after = e->last_gen_on + CHORD_EPS;
    on = e->grid.unit == RNJ_GRID_OFF
             ? e->last_gen_on +
                   clampd(0.125, e->p.min_duration, e->p.max_step)
             : grid_ceil(e, after);
  }
  if (on < now)
    on = grid_ceil(e, now);
  *on_out = on;
  *off_out = on + dur;
}

/* ------------------------------------------------------------ generation */

/* Sample the next note into `pend`, timed as the model times it. */
static void sample_pending(rnj_engine_t *e) {
  rnj_net_note_t n;
  predict(e);
  rnj_net_sample(e->net, &e->pred, &e->sampler, &n);
  if (e->first_pending) {
    e->pend_on = e->first_at;
    e->pend_first = 1;
    e->first_pending = 0;
    e->chord_run = 0;
  } else {
    e->pend_on = e->last_fed_start + clampd(to_seconds(e, n.step), 0.0,
                                            e->p.max_step);
    e->pend_first = 0;
  }
  e->pend_pitch = n.pitch;
  e->pend_velocity = n.velocity;
  e->pend_dur = clampd(to_seconds(e, n.duration), e->p.min_duration,
                       e->p.max_duration);
  e->pend_valid = 1;
}

/* Generate until the horizon (or the budget, or the answer's end).
 * Returns when the next tick is wanted. */
static double generate(rnj_engine_t *e, double now) {
  double on;
  double off;
  int vel;
  int n;
  for (n = 0; n < RNJ_ENGINE_GEN_BUDGET; n++) {
    if (!e->pend_valid) {
      if (e->st == RNJ_ENGINE_ANSWERING && e->answer_left <= 0)
        return HUGE_VAL;
      sample_pending(e);
    }
    place(e, now, &on, &off);
    if (on > now + e->p.lookahead)
      return on - e->p.lookahead;
    if (!e->pend_first && e->chord_run > 0 &&
        fabs(on - e->last_gen_on) < CHORD_EPS)
      e->chord_run++;
    else
      e->chord_run = 1;
    e->last_gen_on = on;
    /* Fed with the velocity it is played with: the model hears what
     * sounds. */
    vel = out_velocity(e, e->pend_velocity);
    feed(e, e->pend_pitch, vel, on, off - on);
    emit(e, on, off, e->pend_pitch, vel);
    e->pend_valid = 0;
    if (e->st == RNJ_ENGINE_ANSWERING)
      e->answer_left--;
  }
  return now; /* budget spent: come back soon */
}

/* ---------------------------------------------------------------- input */

static void inflight_drop_head(rnj_engine_t *e) {
  rnj_engine_inflight_t *n = &e->inflight[e->in_head];
  if (n->end < 0 &&
      e->held[n->channel][n->pitch] == (int16_t)(e->in_head + 1)) {
    e->held[n->channel][n->pitch] = 0;
    e->sounding--;
  }
  e->in_head = (e->in_head + 1) % RNJ_ENGINE_INFLIGHT;
  e->in_n--;
}

static void end_note(rnj_engine_t *e, double t, int channel, int pitch) {
  int slot = e->held[channel][pitch] - 1;
  if (slot < 0)
    return;
  e->inflight[slot].end = t;
  e->held[channel][pitch] = 0;
  if (--e->sounding == 0)
    e->last_off = t;
}

/* Keys held RNJ_ENGINE_MAX_HOLD are released at that age: their note-off
 * was lost.  The FIFO is in arrival order, so the scan stops at the first
 * key still young; returns when that one comes of age (HUGE_VAL: none). */
static double release_stale(rnj_engine_t *e, double now) {
  int i;
  for (i = 0; i < e->in_n; i++) {
    const rnj_engine_inflight_t *n =
        &e->inflight[(e->in_head + i) % RNJ_ENGINE_INFLIGHT];
    if (n->end >= 0)
      continue;
    if (now < n->start + RNJ_ENGINE_MAX_HOLD)
      return n->start + RNJ_ENGINE_MAX_HOLD;
    e->stats.keys_timed_out++;
    end_note(e, n->start + RNJ_ENGINE_MAX_HOLD, n->channel, n->pitch);
  }
  return HUGE_VAL;
}

/* Feed finished notes from the head of the FIFO, at most `budget`. */
static void feed_ready(rnj_engine_t *e, int budget) {
  while (e->in_n > 0 && budget-- > 0) {
    const rnj_engine_inflight_t *n = &e->inflight[e->in_head];
    if (n->end < 0)
      return;
    feed(e, n->pitch, n->velocity, n->start,
         clampd(n->end - n->start, 0.0, MAX_PLAYER_DURATION));
    e->in_head = (e->in_head + 1) % RNJ_ENGINE_INFLIGHT;
    e->in_n--;
  }
}

void rnj_engine_note_on(rnj_engine_t *e, double t, int channel, int pitch,
                        int velocity) {
  int slot;
  rnj_engine_inflight_t *n;
  channel &= 15;
  pitch &= 127;
  if (velocity <= 0) {
    rnj_engine_note_off(e, t, channel, pitch);
    return;
  }
  e->stats.notes_in++;
  e->vel_avg = 0.7 * e->vel_avg + 0.3 * (velocity > 127 ? 127 : velocity);
  /* A repeated note-on without note-off ends the first note here. */
  end_note(e, t, channel, pitch);
  if (e->in_n == RNJ_ENGINE_INFLIGHT) {
    inflight_drop_head(e);
    e->stats.dropped_inflight++;
  }
  slot = (e->in_head + e->in_n) % RNJ_ENGINE_INFLIGHT;
  e->in_n++;
  n = &e->inflight[slot];
  n->start = t;
  n->end = -1.0;
  n->pitch = (uint8_t)pitch;
  n->channel = (uint8_t)channel;
  n->velocity = (uint8_t)(velocity > 127 ? 127 : velocity);
  e->held[channel][pitch] = (int16_t)(slot + 1);
  e->sounding++;
  e->call_notes++;
  e->phrase_open = 1;
  /* the player's onsets give the clock its player source's tempo */
  if (e->clock && t >= e->last_onset) {
    rnj_clock_onset(e->clock, t);
    e->last_onset = t;
  }
  if (e->p.mode == RNJ_MODE_RESPOND && !e->stopped &&
      (e->st == RNJ_ENGINE_ANSWERING || pending_after(e, t))) {
    silence(e);
    e->st = RNJ_ENGINE_IDLE;
    e->answer_left = 0;
    e->stats.interruptions++;
    /* this note opens the new call */
    e->call_notes = 1;
  }
}

void rnj_engine_note_off(rnj_engine_t *e, double t, int channel, int pitch) {
  end_note(e, t, channel & 15, pitch & 127);
}

void rnj_engine_input_lost(rnj_engine_t *e, double t) {
  int c;
  int p;
  for (c = 0; c < 16; c++)
    for (p = 0; p < 128; p++)
      if (e->held[c][p])
        end_note(e, t, c, p);
}

void rnj_engine_cc(rnj_engine_t *e, double t, int channel, int cc,
                   int value) {
  int p;
  const rnj_engine_params_t *pp = &e->p;
  channel &= 15;
  if (cc == 120 || cc == 123) {
    for (p = 0; p < 128; p++)
      end_note(e, t, channel, p);
  }
  if (pp->cc_channel && channel + 1 != pp->cc_channel)
    return;
  if (cc == pp->cc_temperature) {
    e->sampler.temperature =
        (float)(pp->temperature_min +
                (pp->temperature_max - pp->temperature_min) * value / 127.0);
    e->stats.ccs++;
  }
  if (cc == pp->cc_length) {
    e->p.answer_length = value;
    e->stats.ccs++;
  }
  if (cc == pp->cc_mode) {
    rnj_engine_set_mode(e, value >= 64 ? RNJ_MODE_CONTINUOUS
                                       : RNJ_MODE_RESPOND);
    e->stats.ccs++;
  }
  /* Buttons send 127 when pressed and 0 when released: act on the press. */
  if (cc == pp->cc_panic && value > 0) {
    rnj_engine_panic(e);
    e->stats.ccs++;
  }
}

/* ---------------------------------------------------------------- clock */

/* Stop what plays and forget the call: the music stopped or moved. */
static void halt(rnj_engine_t *e) {
  silence(e);
  e->st = RNJ_ENGINE_IDLE;
  e->answer_left = 0;
  e->first_pending = 0;
  e->call_notes = 0;
}

/* A move of the position smaller than this (beats) is the clock settling
 * (a tempo followed, a frame clock steered after an xrun), not the music
 * moving: the notes already out stay, the next ones go on the grid as it
 * is now.  A 32nd note: above what any smoothing moves, below any
 * relocation a person makes. */
#define JUMP_BEATS (1.0 / 32)

/* Act on what the clock reports: a stop, or an external clock's jump (a
 * DAW relocated, Song Position, another source took over) of JUMP_BEATS
 * or more (`moved`: how far the position at the event's time moved),
 * silences at once; continuous playing restarts on the next beat once it
 * rolls.  A jump of the player's own tempo (a new estimate) moves only
 * the notes not yet handed over, which place() puts on the new grid. */
static void clock_react(rnj_engine_t *e, double moved) {
  unsigned ev = rnj_clock_take_events(e->clock);
  int src;
  if (!ev)
    return;
  e->clock_events |= ev;
  if (ev & RNJ_CLOCK_EV_JUMP)
    e->last_jump = moved;
  if (ev & (RNJ_CLOCK_EV_TEMPO | RNJ_CLOCK_EV_SOURCE))
    set_unit(e);
  src = rnj_clock_source(e->clock);
  if ((ev & RNJ_CLOCK_EV_STOP) ||
      ((ev & RNJ_CLOCK_EV_JUMP) && moved >= JUMP_BEATS &&
       (src == RNJ_CLOCK_MIDI || src == RNJ_CLOCK_JACK ||
        src == RNJ_CLOCK_HOST))) {
    halt(e);
  } else if ((ev & RNJ_CLOCK_EV_START) &&
             e->p.mode == RNJ_MODE_CONTINUOUS) {
    silence(e);
    e->st = RNJ_ENGINE_IDLE;
  }
}

/* The player's phrase ended (the gap has passed, less the lookahead, as
 * an answer would start): the clock's player source re-estimates.  A call
 * that ends while the clock is stopped is not answered.  Returns when to
 * look again. */
static double phrase_check(rnj_engine_t *e, double now) {
  double t;
  if (!e->phrase_open || e->sounding > 0)
    return HUGE_VAL;
  t = e->last_off + e->p.phrase_gap - e->p.lookahead;
  if (now < t)
    return t;
  e->phrase_open = 0;
  rnj_clock_phrase_end(e->clock, now);
  clock_react(e, 0.0);
  if (!rnj_clock_rolling(e->clock))
    e->call_notes = 0;
  return HUGE_VAL;
}

void rnj_engine_set_clock(rnj_engine_t *e, rnj_clock_t *clock) {
  halt(e);
  e->clock = clock;
  set_unit(e);
  e->clock_events = 0;
  e->phrase_open = 0;
  e->last_onset = -HUGE_VAL;
}

void rnj_engine_clock_midi(rnj_engine_t *e, double t, int status,
                           int value) {
  double before;
  if (!e->clock || e->stopped)
    return;
  before = rnj_clock_beat_at(e->clock, t);
  rnj_clock_midi(e->clock, t, status, value);
  clock_react(e, fabs(rnj_clock_beat_at(e->clock, t) - before));
}

void rnj_engine_clock_midi_shift(rnj_engine_t *e, double delta) {
  if (!e->clock || e->stopped)
    return;
  /* the same frames, the same beat: not a move for clock_react */
  rnj_clock_midi_shift(e->clock, delta);
}

void rnj_engine_clock_jack(rnj_engine_t *e, double t,
                           const rnj_clock_jack_t *pos) {
  double before;
  if (!e->clock || e->stopped)
    return;
  before = rnj_clock_beat_at(e->clock, t);
  rnj_clock_jack(e->clock, t, pos);
  clock_react(e, fabs(rnj_clock_beat_at(e->clock, t) - before));
}

void rnj_engine_clock_host(rnj_engine_t *e, double t,
                           const rnj_clock_host_t *pos) {
  double before;
  if (!e->clock || e->stopped)
    return;
  before = rnj_clock_beat_at(e->clock, t);
  rnj_clock_host(e->clock, t, pos);
  clock_react(e, fabs(rnj_clock_beat_at(e->clock, t) - before));
}

unsigned rnj_engine_take_clock_events(rnj_engine_t *e) {
  unsigned ev = e->clock_events;
  e->clock_events = 0;
  return ev;
}

/* ---------------------------------------------------------------- ticks */

double rnj_engine_tick(rnj_engine_t *e, double now) {
  double next = HUGE_VAL;
  double t;
  if (e->stopped)
    return HUGE_VAL;
  if (e->clock) {
    double before = rnj_clock_beat_at(e->clock, now);
    next = rnj_clock_tick(e->clock, now);
    clock_react(e, fabs(rnj_clock_beat_at(e->clock, now) - before));
  }
  retire(e, now);
  if (e->sounding > 0)
    next = fmin(next, release_stale(e, now));
  feed_ready(e, RNJ_ENGINE_FEED_BUDGET);
  if (e->in_n > 0 && e->inflight[e->in_head].end >= 0)
    next = now;
  if (e->clock) {
    next = fmin(next, phrase_check(e, now));
    /* Stopped: nothing is played until it rolls again (a clock that
     * stopped without saying so, JACK gone quiet, stops it too). */
    if (!rnj_clock_rolling(e->clock)) {
      if (e->st != RNJ_ENGINE_IDLE)
        halt(e);
      return next;
    }
  }
  /* No model yet: the player's notes are kept for the one to come. */
  if (!e->net)
    return next;

  if (e->p.mode == RNJ_MODE_RESPOND) {
    if (e->st == RNJ_ENGINE_PLAYING)
      e->st = RNJ_ENGINE_IDLE;
    if (e->st == RNJ_ENGINE_IDLE && e->call_notes > 0 && e->sounding == 0) {
      double start = e->last_off + e->p.phrase_gap;
      if (now >= start - e->p.lookahead) {
        /* Every note of the call has ended, so the whole FIFO is ready.
         * The answer hears its last seq_length notes at least; older ones
         * still waiting (only after a flood) are dropped, which bounds
         * the work here to seq_length steps. */
        while (e->in_n > e->seq_length) {
          inflight_drop_head(e);
          e->stats.dropped_inflight++;
        }
        feed_ready(e, e->seq_length);
        e->st = RNJ_ENGINE_ANSWERING;
        e->answer_left = e->p.answer_length > 0 ? e->p.answer_length
                                                : e->call_notes;
        if (e->answer_left > RNJ_ENGINE_ANSWER_MAX)
          e->answer_left = RNJ_ENGINE_ANSWER_MAX;
        e->first_at = start < now ? now : start;
        if (e->clock)
          e->first_at = start_time(e, e->p.answer_start, e->first_at);
        e->first_pending = 1;
        e->call_notes = 0;
        e->pend_valid = 0;
        e->stats.answers++;
      } else if (start - e->p.lookahead < next) {
        next = start - e->p.lookahead;
      }
    }
    if (e->st == RNJ_ENGINE_ANSWERING) {
      t = generate(e, now);
      if (e->answer_left <= 0 && !e->pend_valid)
        e->st = RNJ_ENGINE_IDLE;
      if (t < next)
        next = t;
    }
  } else {
    if (e->st != RNJ_ENGINE_PLAYING) {
      /* The first note comes one lookahead from now, whatever the last
       * note's time was (long ago, or on a seed file's clock). */
      e->st = RNJ_ENGINE_PLAYING;
      e->pend_valid = 0;
      e->first_pending = 1;
      e->first_at = now + e->p.lookahead;
      if (e->clock)
        e->first_at = start_time(e, RNJ_ANSWER_BEAT, e->first_at);
    }
    t = generate(e, now);
    if (t < next)
      next = t;
  }
  return next;
}

/* ---------------------------------------------------------------- control */

void rnj_engine_panic(rnj_engine_t *e) {
  silence(e);
  e->out.all_off(e->out.ctx);
  /* Panic is also the way out of a key the engine believes held (its
   * note-off lost on the way): otherwise respond mode waits for it. */
  rnj_engine_input_lost(e, e->out.now(e->out.ctx));
  e->st = RNJ_ENGINE_IDLE;
  e->answer_left = 0;
  e->first_pending = 0;
  e->call_notes = 0;
}

void rnj_engine_silence(rnj_engine_t *e) {
  silence(e);
  e->st = RNJ_ENGINE_IDLE;
  e->answer_left = 0;
  e->first_pending = 0;
}

void rnj_engine_stop(rnj_engine_t *e) {
  rnj_engine_panic(e);
  e->stopped = 1;
}

void rnj_engine_set_mode(rnj_engine_t *e, int mode) {
  if (mode != RNJ_MODE_RESPOND && mode != RNJ_MODE_CONTINUOUS)
    return;
  if (mode == e->p.mode)
    return;
  silence(e);
  e->st = RNJ_ENGINE_IDLE;
  e->answer_left = 0;
  e->first_pending = 0;
  e->call_notes = 0;
  e->p.mode = mode;
}

const rnj_net_t *rnj_engine_set_net(rnj_engine_t *e, const rnj_net_t *net) {
  const rnj_net_t *old = e->net;
  silence(e);
  e->st = RNJ_ENGINE_IDLE;
  e->answer_left = 0;
  e->first_pending = 0;
  e->net = net;
  e->seq_length = window_length(net);
  set_unit(e);
  /* The new model hears the recent notes again, from a zero state, like
   * a window: a bounded cost (seq_length steps), once per reload. */
  refeed(e);
  return old;
}

void rnj_engine_set_params(rnj_engine_t *e, const rnj_engine_params_t *p) {
  int context_changed;
  if (!params_ok(p))
    return;
  if (p->mode != e->p.mode)
    rnj_engine_set_mode(e, p->mode);
  context_changed = p->context != e->p.context;
  e->p = *p;
  rnj_grid_init(&e->grid, p->quantize, p->swing);
  set_unit(e);
  if (context_changed)
    refeed(e);
}

void rnj_engine_set_sampling(rnj_engine_t *e, const rnj_sampler_t *sampler) {
  rnj_rng_t rng = e->sampler.rng;
  e->sampler = *sampler;
  e->sampler.rng = rng;
}

void rnj_engine_reseed(rnj_engine_t *e, uint64_t seed) {
  rnj_rng_seed(&e->sampler.rng, seed);
  /* a note drawn from the old sequence and not yet played is drawn
   * again, so the notes from here on are the new seed's */
  if (e->pend_valid) {
    e->pend_valid = 0;
    if (e->pend_first)
      e->first_pending = 1;
  }
}
