/* jam: the engine on the host's timeline (see jam.h).
 *
 * The engine thinks in seconds on a clock it is handed; here that clock is
 * the plugin's frame counter / rate, and the engine is ticked at the frame
 * it asks for (never at a block boundary only), so its notes are exact to
 * the frame.  Its notes go into a queue ordered by frame; what falls before
 * the frame being walked to moves to the outbox.  On the way out every
 * generated pitch is tracked: a note-on over a sounding one first ends it,
 * a note-off for a note already ended is dropped, and "cancel" ends all
 * that sound.  So the wire stays well paired whatever the queue held, also
 * when the grid has moved a note away from where the engine placed it.
 *
 * A model that counts in beats (v2) hears the player's seconds at the
 * host's tempo.  The beat clock is the host's: each time:Position report
 * anchors (frame,
 * beat, tempo); between reports beats run on at the tempo.  While rolling,
 * an anchor keeps our own beat (hosts round their report to a tick, up to
 * 1/1920 beat, which is 15 frames at 100 bpm) unless the transport jumped.
 * Quantizing snaps a note's onset to the nearest grid line not in the past
 * (the first of an answer: the next line, so an answer never starts
 * before the phrase gap is over) and its length to whole grid units (at
 * least one); notes that start together stay together.  Without a rolling
 * transport notes keep the engine's own times.
 */
#include <math.h>
#include <string.h>

#include "jam.h"
#include "rnnjam/conf.h"

/* A reported beat this far from ours, while rolling, is a relocation. */
#define JUMP_BEATS (1.0 / 64)

/* ---------------------------------------------------------------- grid */

/* The grid in beats (0: off), from its note value and the beat unit. */
static double grid(const jam_t *j) {
  static const double whole[] = {0, 1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 12,
                                 1.0 / 24};
  int unit = j->tp.beat_unit > 0 ? j->tp.beat_unit : 4;
  int q = j->ctl.quantize;
  if (q <= JAM_Q_OFF || q > JAM_Q_16T)
    return 0;
  return whole[q] * unit;
}

static int quantizing(const jam_t *j) {
  return grid(j) > 0 && j->tp.known && j->tp.rolling && j->tp.bpm > 0 &&
         j->tp.speed > 0;
}

/* Beats per frame at the current tempo and speed. */
static double beats_per_frame(const jam_t *j) {
  return j->tp.bpm * j->tp.speed / (60.0 * j->rate);
}

static double beat_of_frame(const jam_t *j, double f) {
  if (!j->tp.rolling || j->tp.bpm <= 0)
    return j->tp.anchor_beat;
  return j->tp.anchor_beat + (f - (double)j->tp.anchor) * beats_per_frame(j);
}

static double frame_of_beat(const jam_t *j, double b) {
  return (double)j->tp.anchor + (b - j->tp.anchor_beat) / beats_per_frame(j);
}

/* ---------------------------------------------------------------- output */

static int is_on(const jam_event_t *ev) {
  return (ev->msg[0] & 0xF0) == 0x90 && ev->msg[2] > 0;
}

/* Append to the outbox; events other than note-offs leave the reserve. */
static int out_push(jam_t *j, uint64_t frame, uint32_t id, uint8_t st,
                    uint8_t d1, uint8_t d2, int size, int is_off) {
  jam_event_t *ev;
  if (j->out_n >= (is_off ? JAM_OUTBOX : JAM_OUTBOX - JAM_OFF_RESERVE))
    return -1;
  /* a held-back event is late, never out of order */
  if (j->out_n > 0 && frame < j->out[j->out_n - 1].frame)
    frame = j->out[j->out_n - 1].frame;
  ev = &j->out[j->out_n++];
  ev->frame = frame;
  ev->id = id;
  ev->msg[0] = st;
  ev->msg[1] = d1;
  ev->msg[2] = d2;
  ev->size = (uint8_t)size;
  return 0;
}

/* End generated pitch `p` now if it sounds. */
static void off_now(jam_t *j, int p) {
  if (!j->sounding[p])
    return;
  out_push(j, j->now, j->sounding[p], (uint8_t)(0x80 | j->sounding_ch[p]),
           (uint8_t)p, 0, 3, 1);
  j->sounding[p] = 0;
}

/* One queued event onto the wire, pairing kept.  0: no room (it waits). */
static int wire(jam_t *j, const jam_event_t *ev) {
  int p = ev->msg[1] & 127;
  if (is_on(ev)) {
    if (j->out_n >= JAM_OUTBOX - JAM_OFF_RESERVE - 1) {
      j->stats.late++;
      return 0;
    }
    if (j->sounding[p]) {
      out_push(j, ev->frame, j->sounding[p],
               (uint8_t)(0x80 | j->sounding_ch[p]), (uint8_t)p, 0, 3, 1);
      j->sounding[p] = 0;
    }
    out_push(j, ev->frame, ev->id, ev->msg[0], ev->msg[1], ev->msg[2], 3,
             0);
    j->sounding[p] = ev->id;
    j->sounding_ch[p] = ev->msg[0] & 15;
    return 1;
  }
  if (j->sounding[p] != ev->id)
    return 1; /* its note was already ended: nothing to send */
  if (out_push(j, ev->frame, ev->id, ev->msg[0], ev->msg[1], 0, 3, 1) < 0)
    return 0;
  j->sounding[p] = 0;
  return 1;
}

/* Queued events before `limit` onto the wire, in order. */
static void flush(jam_t *j, uint64_t limit) {
  int k = 0;
  while (k < j->queue_n && j->queue[k].frame < limit) {
    if (!wire(j, &j->queue[k]))
      break;
    k++;
  }
  if (k > 0) {
    memmove(j->queue, j->queue + k,
            (size_t)(j->queue_n - k) * sizeof j->queue[0]);
    j->queue_n -= k;
  }
}

/* Insert by frame; at one frame note-offs go before note-ons, so a note
 * that ends where the next of its pitch starts is ended first. */
static void queue_insert(jam_t *j, uint64_t frame, uint32_t id, uint8_t st,
                         uint8_t d1, uint8_t d2) {
  int on = (st & 0xF0) == 0x90;
  int i = j->queue_n;
  jam_event_t *ev;
  while (i > 0) {
    const jam_event_t *q = &j->queue[i - 1];
    if (q->frame < frame || (q->frame == frame && (on || !is_on(q))))
      break;
    i--;
  }
  memmove(j->queue + i + 1, j->queue + i,
          (size_t)(j->queue_n - i) * sizeof j->queue[0]);
  j->queue_n++;
  ev = &j->queue[i];
  ev->frame = frame;
  ev->id = id;
  ev->msg[0] = st;
  ev->msg[1] = d1;
  ev->msg[2] = d2;
  ev->size = 3;
}

/* Drop what is queued and end every generated note now. */
static void cancel_all(jam_t *j) {
  int p;
  j->queue_n = 0;
  for (p = 0; p < 128; p++)
    off_now(j, p);
}

/* ---------------------------------------------------------- engine output */

static int cb_note(void *ctx, double t_on, double t_off, int pitch,
                   int velocity) {
  jam_t *j = ctx;
  double fon = t_on * j->rate;
  double foff = t_off * j->rate;
  double now = (double)j->now;
  uint64_t on;
  uint64_t off;
  uint8_t ch = (uint8_t)(j->ctl.channel & 15);
  int first = j->engine.stats.answers != j->answers_seen;
  j->answers_seen = j->engine.stats.answers;
  if (j->queue_n + 2 > JAM_QUEUE) {
    j->stats.queue_full++;
    return -1;
  }
  if (quantizing(j)) {
    double g = grid(j);
    double b_on = beat_of_frame(j, fon);
    /* the first note of an answer waits for the next line: an answer
     * never starts before the player's silence has lasted the gap */
    double k = first ? ceil(b_on / g - 1e-9) : floor(b_on / g + 0.5);
    double len = floor((beat_of_frame(j, foff) - b_on) / g + 0.5);
    if (len < 1)
      len = 1;
    fon = frame_of_beat(j, k * g);
    if (fon < now - 0.5) { /* the nearest line has passed: the next one */
      k += 1;
      fon = frame_of_beat(j, k * g);
    }
    foff = frame_of_beat(j, (k + len) * g);
  }
  if (fon < now)
    fon = now;
  on = (uint64_t)llround(fon);
  off = foff > fon ? (uint64_t)llround(foff) : on + 1;
  if (off <= on)
    off = on + 1;
  if (++j->next_id == 0)
    j->next_id = 1;
  queue_insert(j, on, j->next_id, (uint8_t)(0x90 | ch), (uint8_t)pitch,
               (uint8_t)(velocity < 1 ? 1 : velocity > 127 ? 127 : velocity));
  queue_insert(j, off, j->next_id, (uint8_t)(0x80 | ch), (uint8_t)pitch, 0);
  return 0;
}

static void cb_cancel(void *ctx) { cancel_all(ctx); }

static void cb_note_off_now(void *ctx, int pitch) {
  off_now(ctx, pitch & 127);
}

static void cb_all_off(void *ctx) {
  jam_t *j = ctx;
  cancel_all(j);
  out_push(j, j->now, 0, (uint8_t)(0xB0 | (j->ctl.channel & 15)), 123, 0, 3,
           1);
}

static double cb_now(void *ctx) {
  const jam_t *j = ctx;
  return (double)j->now / j->rate;
}

/* ---------------------------------------------------------------- set-up */

static void params_from_controls(jam_t *j) {
  j->params.mode = j->ctl.mode;
  j->params.answer_length = j->ctl.answer_length;
  j->params.phrase_gap = j->ctl.phrase_gap_ms / 1000.0;
  j->sampler.temperature = j->ctl.temperature;
}

static void clamp_controls(jam_controls_t *c) {
  if (!(c->temperature >= 0.05f))
    c->temperature = 0.05f;
  if (c->temperature > 5.0f)
    c->temperature = 5.0f;
  c->mode = c->mode == RNJ_MODE_CONTINUOUS ? RNJ_MODE_CONTINUOUS
                                           : RNJ_MODE_RESPOND;
  if (c->answer_length < 0)
    c->answer_length = 0;
  if (c->answer_length > RNJ_ENGINE_ANSWER_MAX)
    c->answer_length = RNJ_ENGINE_ANSWER_MAX;
  if (c->phrase_gap_ms < 0)
    c->phrase_gap_ms = 0;
  if (c->phrase_gap_ms > 60000)
    c->phrase_gap_ms = 60000;
  if (c->quantize < JAM_Q_OFF || c->quantize > JAM_Q_16T)
    c->quantize = JAM_Q_OFF;
  c->channel &= 15;
}

void jam_init(jam_t *j, double rate, const jam_controls_t *ctl,
              uint64_t seed) {
  rnj_conf_t conf;
  memset(j, 0, sizeof *j);
  j->rate = rate > 0 ? rate : 48000;
  j->ctl = *ctl;
  clamp_controls(&j->ctl);
  j->seed = seed;
  /* rnnjamd's defaults for everything the plugin has no control for; the
   * player steers through the host's controls, so no CC steers it. */
  rnj_conf_defaults(&conf, NULL);
  rnj_engine_params_from_conf(&j->params, &conf);
  j->params.cc_temperature = RNJ_CC_OFF;
  j->params.cc_mode = RNJ_CC_OFF;
  j->params.cc_length = RNJ_CC_OFF;
  j->params.cc_panic = RNJ_CC_OFF;
  rnj_sampler_init(&j->sampler, seed);
  j->sampler.time_temperature = (float)conf.time_temperature;
  j->sampler.top_p = (float)conf.top_p;
  j->sampler.top_k = conf.top_k;
  j->sampler.pitch_min = conf.pitch_min;
  j->sampler.pitch_max = conf.pitch_max;
  params_from_controls(j);
  j->tp.speed = 1.0;
}

const jam_model_t *jam_set_model(jam_t *j, const jam_model_t *m) {
  const jam_model_t *old = j->model;
  rnj_engine_out_t out;
  if (!m || !m->net)
    return m;
  if (!j->have_engine) {
    out.ctx = j;
    out.note = cb_note;
    out.cancel = cb_cancel;
    out.note_off_now = cb_note_off_now;
    out.all_off = cb_all_off;
    out.now = cb_now;
    if (rnj_engine_init(&j->engine, &j->params, m->net, &j->sampler,
                        &out) != 0)
      return m; /* refused: the caller frees it */
    j->have_engine = 1;
  } else {
    rnj_engine_set_net(&j->engine, m->net);
    /* notes the grid lengthened may outlive the engine's view of them */
    cancel_all(j);
  }
  j->model = m;
  j->next_tick = j->now;
  j->stats.swaps++;
  return old;
}

void jam_reseed(jam_t *j, uint64_t seed) {
  j->seed = seed;
  rnj_rng_seed(&j->sampler.rng, seed);
  /* The engine keeps its generator through rnj_engine_set_sampling, and
   * has no call to restart it: its sampler is a public field. */
  if (j->have_engine)
    rnj_rng_seed(&j->engine.sampler.rng, seed);
}

void jam_set_controls(jam_t *j, const jam_controls_t *ctl) {
  jam_controls_t c = *ctl;
  int play_changed;
  clamp_controls(&c);
  if (memcmp(&c, &j->ctl, sizeof c) == 0)
    return;
  /* what sounds on the old channel ends there (the answer goes on, on
   * the new one) */
  if (c.channel != j->ctl.channel)
    cancel_all(j);
  play_changed = c.mode != j->ctl.mode ||
                 c.answer_length != j->ctl.answer_length ||
                 c.phrase_gap_ms != j->ctl.phrase_gap_ms;
  if (c.mode != j->ctl.mode)
    cancel_all(j);
  j->ctl = c;
  params_from_controls(j);
  if (j->have_engine) {
    if (play_changed)
      rnj_engine_set_params(&j->engine, &j->params);
    if (j->engine.sampler.temperature != j->sampler.temperature)
      rnj_engine_set_sampling(&j->engine, &j->sampler);
  }
  j->next_tick = j->now;
}

void jam_activate(jam_t *j) {
  if (j->have_engine)
    rnj_engine_panic(&j->engine);
  j->queue_n = 0;
  j->out_n = 0;
  memset(j->sounding, 0, sizeof j->sounding);
  j->tp.known = 0;
  j->tp.rolling = 0;
  j->tp.has_tframe = 0;
  j->held = 0;
  j->next_tick = j->now;
}

/* ---------------------------------------------------------------- time */

void jam_advance(jam_t *j, uint64_t frame) {
  int budget = JAM_TICK_BUDGET;
  if (frame < j->now)
    frame = j->now;
  while (j->have_engine && !j->held && j->next_tick <= frame &&
         budget-- > 0) {
    double next;
    if (j->next_tick > j->now) {
      flush(j, j->next_tick);
      j->now = j->next_tick;
    }
    next = rnj_engine_tick(&j->engine, (double)j->now / j->rate);
    if (!(next < 1e15)) {
      j->next_tick = UINT64_MAX;
    } else {
      double f = ceil(next * j->rate);
      j->next_tick = f <= (double)j->now ? j->now : (uint64_t)f;
    }
  }
  flush(j, frame);
  j->now = frame;
}

void jam_midi(jam_t *j, const uint8_t *msg, uint32_t size, int thru) {
  int type;
  int ch;
  if (size < 1 || !msg)
    return;
  type = msg[0] & 0xF0;
  ch = msg[0] & 15;
  if (j->have_engine && size >= 3) {
    if (type == 0x90 && msg[2] > 0) {
      rnj_engine_note_on(&j->engine, (double)j->now / j->rate, ch,
                         msg[1] & 127, msg[2] & 127);
      j->held = 0; /* the player wakes a stopped partner */
    } else if (type == 0x80 || type == 0x90) {
      rnj_engine_note_off(&j->engine, (double)j->now / j->rate, ch,
                          msg[1] & 127);
    } else if (type == 0xB0) {
      rnj_engine_cc(&j->engine, (double)j->now / j->rate, ch, msg[1] & 127,
                    msg[2] & 127);
    }
    j->next_tick = j->now;
  }
  /* after the engine's reaction: an answer it cut ends before the
   * player's note starts */
  if (thru) {
    int off = type == 0x80 || (type == 0x90 && size >= 3 && msg[2] == 0);
    if (size > 3 ||
        out_push(j, j->now, 0, msg[0], size > 1 ? msg[1] : 0,
                 size > 2 ? msg[2] : 0, (int)size, off) < 0)
      j->stats.thru_dropped++;
  }
}

void jam_position(jam_t *j, const jam_position_t *pos) {
  int rolling = pos->has_speed ? pos->speed > 0 : j->tp.rolling;
  int have_beat = pos->has_bbt || pos->has_beat;
  double now = (double)j->now;
  double ours = beat_of_frame(j, now);
  double beat = 0;
  int jump = 0;
  if (pos->has_bbt)
    beat = pos->bar * (pos->beats_per_bar > 0 ? pos->beats_per_bar : 4) +
           pos->bar_beat;
  else if (pos->has_beat)
    beat = pos->beat;
  if (j->tp.rolling && rolling) {
    if (pos->has_frame && j->tp.has_tframe) {
      double want = (double)j->tp.anchor_tframe +
                    (now - (double)j->tp.anchor) * j->tp.speed;
      jump = fabs((double)pos->frame - want) > 1.0;
    } else if (have_beat && j->tp.known) {
      jump = fabs(beat - ours) > JUMP_BEATS;
    }
  }
  if (j->tp.rolling && !rolling) {
    j->stats.stops++;
    jam_panic(j);
    j->held = 1;
  } else if (jump) {
    j->stats.jumps++;
    jam_panic(j);
  }
  if (rolling && !j->tp.rolling)
    j->held = 0;
  if (have_beat) {
    /* ours while rolling on: the host's report is rounded */
    j->tp.anchor_beat = (j->tp.known && j->tp.rolling && rolling && !jump)
                            ? ours
                            : beat;
    j->tp.known = 1;
  } else {
    j->tp.anchor_beat = ours;
  }
  j->tp.anchor = j->now;
  if (pos->has_frame) {
    j->tp.has_tframe = 1;
    j->tp.anchor_tframe = pos->frame;
  }
  if (pos->has_bpm && pos->bpm > 0) {
    j->tp.bpm = pos->bpm;
    /* a model that counts in beats hears the player at the host's tempo
     * (the engine converts at a tempo it is given) */
    if (pos->bpm >= 20 && pos->bpm <= 400 && pos->bpm != j->params.tempo) {
      j->params.tempo = pos->bpm;
      if (j->have_engine)
        rnj_engine_set_params(&j->engine, &j->params);
    }
  }
  if (pos->beat_unit > 0)
    j->tp.beat_unit = pos->beat_unit;
  if (pos->has_speed)
    j->tp.speed = pos->speed;
  j->tp.rolling = rolling;
  j->next_tick = j->now;
}

void jam_panic(jam_t *j) {
  if (j->have_engine)
    rnj_engine_panic(&j->engine);
  cancel_all(j);
  j->next_tick = j->now;
}

void jam_consume(jam_t *j, int n) {
  if (n <= 0)
    return;
  if (n >= j->out_n) {
    j->out_n = 0;
    return;
  }
  memmove(j->out, j->out + n, (size_t)(j->out_n - n) * sizeof j->out[0]);
  j->out_n -= n;
}
