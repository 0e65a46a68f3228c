/* rnnjam as an LV2 plugin: the audio thread (run and work_response).
 *
 * run() walks its block forward as the LV2 book's metronome does: up to
 * each input event the engine runs (jam_advance), then the event acts at
 * its frame; the notes due in the block are written at their frames, the
 * rest wait in jam's queue.  A model change asked for by the host
 * (patch:Set) goes to the worker; the loaded model arrives through
 * work_response, after a block, and its note-offs go out at the start of
 * the next.  Nothing here allocates, locks, logs or touches a file:
 * tests/test-rt.sh checks this object's calls, tests/lv2-host.c counts a
 * run's allocations.
 */
#include <string.h>

#include <lv2/atom/util.h>

#include "plugin.h"

/* The controls' defaults, as rnnjam.ttl declares them. */
static const float defaults[PORT_COUNT] = {
    [PORT_TEMPERATURE] = 1.0f, [PORT_MODE] = 0.0f,     [PORT_LENGTH] = 0.0f,
    [PORT_GAP] = 500.0f,       [PORT_QUANTIZE] = 3.0f, [PORT_CHANNEL] = 1.0f,
    [PORT_THRU] = 1.0f,        [PORT_PANIC] = 0.0f};

static float control(const plugin_t *self, int port) {
  const float *p = self->ctl[port];
  float v = p ? *p : defaults[port];
  return v == v ? v : defaults[port]; /* NaN: the default */
}

static int round_int(float v) { return (int)(v < 0 ? v - 0.5f : v + 0.5f); }

void plugin_read_controls(const plugin_t *self, jam_controls_t *c) {
  c->temperature = control(self, PORT_TEMPERATURE);
  c->mode = round_int(control(self, PORT_MODE));
  c->answer_length = round_int(control(self, PORT_LENGTH));
  c->phrase_gap_ms = round_int(control(self, PORT_GAP));
  c->quantize = round_int(control(self, PORT_QUANTIZE));
  c->channel = round_int(control(self, PORT_CHANNEL)) - 1;
  if (c->channel < 0)
    c->channel = 0;
}

/* A number of any of the atom number types, into *out; 0 if not one. */
static int number(const plugin_t *self, const LV2_Atom *a, double *out) {
  if (!a)
    return 0;
  if (a->type == self->u.atom_Float)
    *out = ((const LV2_Atom_Float *)a)->body;
  else if (a->type == self->u.atom_Double)
    *out = ((const LV2_Atom_Double *)a)->body;
  else if (a->type == self->u.atom_Int)
    *out = ((const LV2_Atom_Int *)a)->body;
  else if (a->type == self->u.atom_Long)
    *out = (double)((const LV2_Atom_Long *)a)->body;
  else
    return 0;
  return 1;
}

/* A time:Position report: what it has, to the engine's clock. */
static void position(plugin_t *self, const LV2_Atom_Object *obj) {
  const LV2_Atom *bar = NULL;
  const LV2_Atom *bar_beat = NULL;
  const LV2_Atom *beat = NULL;
  const LV2_Atom *unit = NULL;
  const LV2_Atom *bpb = NULL;
  const LV2_Atom *bpm = NULL;
  const LV2_Atom *speed = NULL;
  const plugin_uris_t *u = &self->u;
  rnj_clock_host_t pos;
  double v = 0;
  memset(&pos, 0, sizeof pos);
  lv2_atom_object_get(obj, u->time_bar, &bar, u->time_barBeat, &bar_beat,
                      u->time_beat, &beat, u->time_beatUnit, &unit,
                      u->time_beatsPerBar, &bpb, u->time_beatsPerMinute,
                      &bpm, u->time_speed, &speed, 0);
  pos.has_speed = number(self, speed, &pos.speed);
  pos.has_bpm = number(self, bpm, &pos.bpm);
  pos.has_bbt = number(self, bar, &v) && v > -1e9 && v < 1e9 &&
                number(self, bar_beat, &pos.bar_beat);
  if (pos.has_bbt)
    pos.bar = (int64_t)v;
  pos.has_beat = number(self, beat, &pos.beat);
  if (number(self, bpb, &v))
    pos.beats_per_bar = v;
  if (number(self, unit, &v) && v >= 1 && v <= 64)
    pos.beat_unit = (int)v;
  jam_position(&self->jam, &pos);
}

/* patch:Set of the model or the seed: the worker makes the change. */
static void patch_set(plugin_t *self, const LV2_Atom_Object *obj) {
  const LV2_Atom *prop = NULL;
  const LV2_Atom *value = NULL;
  plugin_msg_t msg;
  uint32_t n = (uint32_t)offsetof(plugin_msg_t, path);
  double v;
  lv2_atom_object_get(obj, self->u.patch_property, &prop,
                      self->u.patch_value, &value, 0);
  if (!prop || prop->type != self->u.atom_URID || !value)
    return;
  memset(&msg, 0, offsetof(plugin_msg_t, path));
  msg.kind = MSG_LOAD;
  if (((const LV2_Atom_URID *)prop)->body == self->u.model &&
      (value->type == self->u.atom_Path ||
       value->type == self->u.atom_String)) {
    const char *p = (const char *)LV2_ATOM_BODY_CONST(value);
    uint32_t len = (uint32_t)strnlen(p, value->size);
    if (len == 0 || len >= sizeof msg.path) {
      self->refused++;
      return;
    }
    memcpy(msg.path, p, len);
    msg.path[len] = '\0';
    msg.has_path = 1;
    n += len + 1;
  } else if (((const LV2_Atom_URID *)prop)->body == self->u.seed &&
             number(self, value, &v) && v >= 0 && v <= 2147483647.0) {
    msg.has_seed = 1;
    msg.seed = (int64_t)v;
  } else {
    return;
  }
  if (!self->schedule ||
      self->schedule->schedule_work(self->schedule->handle, n, &msg) !=
          LV2_WORKER_SUCCESS)
    self->refused++;
}

static void event(plugin_t *self, const LV2_Atom_Event *ev, int thru) {
  const plugin_uris_t *u = &self->u;
  if (ev->body.type == u->midi_Event) {
    jam_midi(&self->jam, (const uint8_t *)(ev + 1), ev->body.size, thru);
  } else if (ev->body.type == u->atom_Object ||
             ev->body.type == u->atom_Blank) {
    const LV2_Atom_Object *obj = (const LV2_Atom_Object *)&ev->body;
    if (obj->body.otype == u->time_Position)
      position(self, obj);
    else if (obj->body.otype == u->patch_Set)
      patch_set(self, obj);
    else if (obj->body.otype == u->patch_Get)
      self->notify = 1;
  }
}

/* patch:Set of the model and the seed on the output, for the host's UI. */
static void notify(plugin_t *self) {
  LV2_Atom_Forge *f = &self->forge;
  LV2_Atom_Forge_Frame fr;
  const jam_model_t *m = self->jam.model;
  if (m) {
    lv2_atom_forge_frame_time(f, 0);
    lv2_atom_forge_object(f, &fr, 0, self->u.patch_Set);
    lv2_atom_forge_key(f, self->u.patch_property);
    lv2_atom_forge_urid(f, self->u.model);
    lv2_atom_forge_key(f, self->u.patch_value);
    lv2_atom_forge_path(f, m->path, (uint32_t)strlen(m->path));
    lv2_atom_forge_pop(f, &fr);
  }
  lv2_atom_forge_frame_time(f, 0);
  lv2_atom_forge_object(f, &fr, 0, self->u.patch_Set);
  lv2_atom_forge_key(f, self->u.patch_property);
  lv2_atom_forge_urid(f, self->u.seed);
  lv2_atom_forge_key(f, self->u.patch_value);
  lv2_atom_forge_int(f, (int32_t)self->jam.seed);
  lv2_atom_forge_pop(f, &fr);
}

/* The outbox's events before `end` into the output, at their frames. */
static void write_out(plugin_t *self, uint64_t start, uint64_t end) {
  LV2_Atom_Forge *f = &self->forge;
  const jam_t *j = &self->jam;
  uint32_t last = 0;
  int k;
  for (k = 0; k < j->out_n && j->out[k].frame < end; k++) {
    const jam_event_t *ev = &j->out[k];
    uint32_t at = ev->frame > start ? (uint32_t)(ev->frame - start) : 0;
    /* room for the whole event, or it waits for the next block */
    if (f->size - f->offset < sizeof(LV2_Atom_Event) + 8)
      break;
    if (at < last)
      at = last;
    last = at;
    lv2_atom_forge_frame_time(f, at);
    lv2_atom_forge_atom(f, ev->size, self->u.midi_Event);
    lv2_atom_forge_write(f, ev->msg, ev->size);
  }
  jam_consume(&self->jam, k);
}

void plugin_run(LV2_Handle h, uint32_t n) {
  plugin_t *self = h;
  jam_controls_t ctl;
  LV2_Atom_Forge_Frame seq;
  uint64_t start = self->jam.now;
  int thru = control(self, PORT_THRU) >= 0.5f;
  float panic = control(self, PORT_PANIC);
  if (!self->out)
    return;
  lv2_atom_forge_set_buffer(&self->forge, (uint8_t *)self->out,
                            self->out->atom.size);
  lv2_atom_forge_sequence_head(&self->forge, &seq, 0);
  if (self->notify) {
    notify(self);
    self->notify = 0;
  }

  plugin_read_controls(self, &ctl);
  jam_set_controls(&self->jam, &ctl);
  if (panic >= 0.5f && self->panic_last < 0.5f)
    jam_panic(&self->jam);
  self->panic_last = panic;

  if (self->in) {
    LV2_ATOM_SEQUENCE_FOREACH(self->in, ev) {
      int64_t at = ev->time.frames;
      if (at < 0)
        at = 0;
      if (at >= (int64_t)n)
        at = n ? (int64_t)n - 1 : 0;
      jam_advance(&self->jam, start + (uint64_t)at);
      event(self, ev, thru);
    }
  }
  jam_advance(&self->jam, start + n);
  write_out(self, start, start + n);
  lv2_atom_forge_pop(&self->forge, &seq);
}

LV2_Worker_Status plugin_work_response(LV2_Handle h, uint32_t size,
                                       const void *data) {
  plugin_t *self = h;
  plugin_reply_t r;
  if (size != sizeof r)
    return LV2_WORKER_ERR_UNKNOWN;
  memcpy(&r, data, sizeof r);
  if (r.model) {
    /* Between two blocks: what sounds gets its note-off at the start of
     * the next one; the model it replaces is freed by the worker. */
    const jam_model_t *old = jam_set_model(&self->jam, r.model);
    if (old && self->schedule) {
      plugin_msg_t msg;
      memset(&msg, 0, offsetof(plugin_msg_t, path));
      msg.kind = MSG_FREE;
      msg.model = (jam_model_t *)old;
      self->schedule->schedule_work(self->schedule->handle,
                                    (uint32_t)offsetof(plugin_msg_t, path),
                                    &msg);
    }
  }
  if (r.has_seed)
    jam_reseed(&self->jam, (uint64_t)r.seed);
  self->notify = 1;
  return LV2_WORKER_SUCCESS;
}
