/* jam: the engine on the host's timeline (see jam.h).
 *
 * The engine thinks in seconds on a clock it is handed; here that clock is
 * the plugin's frame counter / rate, and the engine is ticked at the frame
 * it asks for (never at a block boundary only), so its notes are exact to
 * the frame.  Musical time is the engine's own, as in rnnjamd: its beat
 * clock follows the host's transport (the clock's host source, one call
 * per time:Position report), and the engine places the answers on the
 * quantize grid, starts them on the grid after the phrase gap, stops on
 * a transport stop or relocation and plays nothing while the transport is
 * stopped (until the player plays: then in free time).  A v2 model hears
 * each onset at the host's beat.  Without a transport (or before it first
 * rolls) the clock runs free at the host's tempo from the plugin's first
 * frame, so the same input at the same frames plays the same notes.
 *
 * The engine's notes go into a queue ordered by frame; what falls before
 * the frame being walked to moves to the outbox.  On the way out every
 * generated pitch is tracked: a note-on over a sounding one first ends it,
 * a note-off for a note already ended is dropped, and "cancel" ends all
 * that sound.  So the wire stays well paired whatever the queue held,
 * also after the channel changed under a sounding note.
 */
#include <math.h>
#include <string.h>

#include "jam.h"
#include "rnnjam/conf.h"

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
  /* the engine's times are on the grid already: to the nearest frame */
  double fon = fmax(t_on * j->rate, (double)j->now);
  double foff = t_off * j->rate;
  uint64_t on = (uint64_t)llround(fon);
  uint64_t off = foff > fon ? (uint64_t)llround(foff) : on + 1;
  uint8_t ch = (uint8_t)(j->ctl.channel & 15);
  if (j->queue_n + 2 > JAM_QUEUE) {
    j->stats.queue_full++;
    return -1;
  }
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

/* The controls into the engine's settings: an answer starts on the first
 * grid line after the phrase gap (answer_start = gap), as it always did
 * here. */
static void params_from_controls(jam_t *j) {
  j->params.mode = j->ctl.mode;
  j->params.answer_length = j->ctl.answer_length;
  j->params.phrase_gap = j->ctl.phrase_gap_ms / 1000.0;
  j->params.quantize = j->ctl.quantize;
  j->params.answer_start = RNJ_ANSWER_GAP;
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
  if (c->quantize < RNJ_GRID_OFF || c->quantize > RNJ_GRID_16T)
    c->quantize = RNJ_GRID_OFF;
  c->channel &= 15;
}

/* The clock starts (again) at the current frame: the host's transport
 * follower, free time until the transport rolls. */
static void clock_start(jam_t *j) {
  rnj_clock_params_t cp;
  rnj_clock_params_default(&cp);
  cp.source = RNJ_CLOCK_HOST;
  cp.bpm = JAM_TEMPO;
  cp.beats_per_bar = JAM_BEATS_PER_BAR;
  rnj_clock_init(&j->clock, &cp, (double)j->now / j->rate);
  rnj_engine_set_clock(&j->engine, &j->clock);
}

void jam_init(jam_t *j, double rate, const jam_controls_t *ctl,
              uint64_t seed) {
  rnj_conf_t conf;
  rnj_engine_out_t out;
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
  j->params.swing = 0;
  rnj_sampler_init(&j->sampler, seed);
  j->sampler.time_temperature = (float)conf.time_temperature;
  j->sampler.top_p = (float)conf.top_p;
  j->sampler.top_k = conf.top_k;
  j->sampler.pitch_min = conf.pitch_min;
  j->sampler.pitch_max = conf.pitch_max;
  params_from_controls(j);
  out.ctx = j;
  out.note = cb_note;
  out.cancel = cb_cancel;
  out.note_off_now = cb_note_off_now;
  out.all_off = cb_all_off;
  out.now = cb_now;
  /* no model yet: the engine tracks the player until one comes (the
   * settings were clamped, so this cannot be refused) */
  rnj_engine_init(&j->engine, &j->params, NULL, &j->sampler, &out);
  clock_start(j);
}

const jam_model_t *jam_set_model(jam_t *j, const jam_model_t *m) {
  const jam_model_t *old = j->model;
  if (!m || !m->net)
    return m;
  rnj_engine_set_net(&j->engine, m->net);
  j->model = m;
  j->next_tick = j->now;
  j->stats.swaps++;
  return old;
}

void jam_reseed(jam_t *j, uint64_t seed) {
  j->seed = seed;
  rnj_engine_reseed(&j->engine, seed);
}

void jam_set_controls(jam_t *j, const jam_controls_t *ctl) {
  jam_controls_t c = *ctl;
  clamp_controls(&c);
  if (memcmp(&c, &j->ctl, sizeof c) == 0)
    return;
  /* what sounds on the old channel ends there */
  if (c.channel != j->ctl.channel)
    rnj_engine_silence(&j->engine);
  j->ctl = c;
  params_from_controls(j);
  rnj_engine_set_params(&j->engine, &j->params);
  if (j->engine.sampler.temperature != j->sampler.temperature)
    rnj_engine_set_sampling(&j->engine, &j->sampler);
  j->next_tick = j->now;
}

void jam_activate(jam_t *j) {
  rnj_engine_panic(&j->engine);
  j->queue_n = 0;
  j->out_n = 0;
  memset(j->sounding, 0, sizeof j->sounding);
  clock_start(j);
  j->next_tick = j->now;
}

/* ---------------------------------------------------------------- time */

void jam_advance(jam_t *j, uint64_t frame) {
  int budget = JAM_TICK_BUDGET;
  if (frame < j->now)
    frame = j->now;
  while (j->next_tick <= frame && budget-- > 0) {
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
  double t = (double)j->now / j->rate;
  int type;
  int ch;
  if (size < 1 || !msg)
    return;
  type = msg[0] & 0xF0;
  ch = msg[0] & 15;
  if (size >= 3) {
    if (type == 0x90 && msg[2] > 0)
      rnj_engine_note_on(&j->engine, t, ch, msg[1] & 127, msg[2] & 127);
    else if (type == 0x80 || type == 0x90)
      rnj_engine_note_off(&j->engine, t, ch, msg[1] & 127);
    else if (type == 0xB0)
      rnj_engine_cc(&j->engine, t, ch, msg[1] & 127, msg[2] & 127);
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

void jam_position(jam_t *j, const rnj_clock_host_t *pos) {
  rnj_engine_clock_host(&j->engine, (double)j->now / j->rate, pos);
  /* The engine has ended its notes; a stop also says all-notes-off on the
   * answers' channel, as a DAW's stop does, for an instrument that missed
   * a note-off.  The player's keys stay held for the engine. */
  if (rnj_engine_take_clock_events(&j->engine) & RNJ_CLOCK_EV_STOP)
    out_push(j, j->now, 0, (uint8_t)(0xB0 | (j->ctl.channel & 15)), 123, 0,
             3, 1);
  j->next_tick = j->now;
}

void jam_panic(jam_t *j) {
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
