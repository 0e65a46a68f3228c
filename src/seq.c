/* seq: rnnjamd's ALSA sequencer client (ports, queue, connections).
 *
 * The shape is aseqdump's: small verb_noun helpers, a non-blocking client
 * whose descriptors the caller polls, events drained until EAGAIN.  Unlike
 * aseqdump nothing here prints or exits; failures come back as -errno with
 * "snd_seq_xxx(what): reason" in `err`.
 *
 * Output goes through alsa-lib's buffer and is written by rnj_seq_flush;
 * the client's kernel pool is sized for the engine's bound on scheduled
 * notes (RNJ_ENGINE_SCHED, two events each) so a write never finds the
 * pool full in normal play.  rnj_seq_note checks for room for both events
 * before buffering either, so a note-on never goes out without its
 * note-off.
 *
 * Limits: one input and one output port; the output channel is fixed per
 * client (change needs a reopen).
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "rnnjam/seq.h"

/* Kernel pools (events).  Output: the engine's 128 scheduled notes make at
 * most 256 queued events; the rest is room for direct note-offs and CCs.
 * Input: room for a burst while the loop is busy with a model step. */
#define POOL_OUTPUT 1000
#define POOL_INPUT 1000
#define OUTPUT_BUFFER (64 * 1024)
#define INPUT_BUFFER (64 * 1024)

static int fail(char *err, int rc, const char *call, const char *what) {
  return rnj_errorf(err, rc, "%s(%s): %s", call, what, snd_strerror(rc));
}

/* --------------------------------------------------------------- time */

static void to_real(snd_seq_real_time_t *rt, double t) {
  double s;
  if (t < 0)
    t = 0;
  s = floor(t);
  rt->tv_sec = (unsigned int)s;
  rt->tv_nsec = (unsigned int)((t - s) * 1e9);
  if (rt->tv_nsec >= 1000000000u)
    rt->tv_nsec = 999999999u;
}

static double from_real(const snd_seq_real_time_t *rt) {
  return rt->tv_sec + rt->tv_nsec * 1e-9;
}

double rnj_seq_now(rnj_seq_t *seq) {
  const snd_seq_real_time_t *rt;
  if (snd_seq_get_queue_status(seq->handle, seq->queue, seq->status) < 0)
    return 0.0;
  rt = snd_seq_queue_status_get_real_time(seq->status);
  return from_real(rt);
}

/* --------------------------------------------------------------- set-up */

/* The high-resolution timer plays notes to the microsecond; the system
 * timer only to the jiffy (4 ms with HZ=250).  Keep the default when the
 * kernel lacks snd-hrtimer. */
static void use_hrtimer(rnj_seq_t *seq) {
  snd_seq_queue_timer_t *qt;
  snd_timer_id_t *id;
  snd_seq_queue_timer_alloca(&qt);
  snd_timer_id_alloca(&id);
  snprintf(seq->timer_name, sizeof seq->timer_name, "system");
  if (snd_seq_get_queue_timer(seq->handle, seq->queue, qt) < 0)
    return;
  snd_timer_id_set_class(id, SND_TIMER_CLASS_GLOBAL);
  snd_timer_id_set_sclass(id, SND_TIMER_SCLASS_NONE);
  snd_timer_id_set_card(id, -1);
  snd_timer_id_set_device(id, SND_TIMER_GLOBAL_HRTIMER);
  snd_timer_id_set_subdevice(id, 0);
  snd_seq_queue_timer_set_type(qt, SND_SEQ_TIMER_ALSA);
  snd_seq_queue_timer_set_id(qt, id);
  if (snd_seq_set_queue_timer(seq->handle, seq->queue, qt) == 0)
    snprintf(seq->timer_name, sizeof seq->timer_name, "hrtimer");
}

static int create_ports(rnj_seq_t *seq, char *err) {
  snd_seq_port_info_t *pi;
  int rc;
  snd_seq_port_info_alloca(&pi);

  snd_seq_port_info_set_name(pi, "in");
  snd_seq_port_info_set_capability(
      pi, SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE);
  snd_seq_port_info_set_type(pi, SND_SEQ_PORT_TYPE_MIDI_GENERIC |
                                     SND_SEQ_PORT_TYPE_APPLICATION);
  /* Stamp arrivals on our queue in real time: the player's notes and our
   * scheduled output then share one clock. */
  snd_seq_port_info_set_timestamping(pi, 1);
  snd_seq_port_info_set_timestamp_real(pi, 1);
  snd_seq_port_info_set_timestamp_queue(pi, seq->queue);
  rc = snd_seq_create_port(seq->handle, pi);
  if (rc < 0)
    return fail(err, rc, "snd_seq_create_port", "in");
  seq->port_in = snd_seq_port_info_get_port(pi);

  snd_seq_port_info_set_name(pi, "out");
  /* READ + SUBS_READ: a DAW or aconnect can record it like an
   * instrument. */
  snd_seq_port_info_set_capability(
      pi, SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ);
  snd_seq_port_info_set_type(pi, SND_SEQ_PORT_TYPE_MIDI_GENERIC |
                                     SND_SEQ_PORT_TYPE_APPLICATION);
  snd_seq_port_info_set_timestamping(pi, 0);
  rc = snd_seq_create_port(seq->handle, pi);
  if (rc < 0)
    return fail(err, rc, "snd_seq_create_port", "out");
  seq->port_out = snd_seq_port_info_get_port(pi);
  return 0;
}

int rnj_seq_open(rnj_seq_t *seq, const char *name, int channel, char *err) {
  int rc;
  memset(seq, 0, sizeof *seq);
  seq->queue = -1;
  seq->channel = channel & 15;

  rc = snd_seq_open(&seq->handle, "default", SND_SEQ_OPEN_DUPLEX,
                    SND_SEQ_NONBLOCK);
  if (rc < 0) {
    seq->handle = NULL;
    return fail(err, rc, "snd_seq_open", "default");
  }
  rc = snd_seq_set_client_name(seq->handle, name);
  if (rc < 0) {
    fail(err, rc, "snd_seq_set_client_name", name);
    goto fail_client;
  }
  seq->client = snd_seq_client_id(seq->handle);
  /* Pool and buffer sizes are best effort: the defaults work, only with
   * less room for bursts. */
  snd_seq_set_client_pool_output(seq->handle, POOL_OUTPUT);
  snd_seq_set_client_pool_input(seq->handle, POOL_INPUT);
  snd_seq_set_output_buffer_size(seq->handle, OUTPUT_BUFFER);
  snd_seq_set_input_buffer_size(seq->handle, INPUT_BUFFER);

  rc = snd_seq_queue_status_malloc(
      (snd_seq_queue_status_t **)&seq->status);
  if (rc < 0) {
    fail(err, rc, "snd_seq_queue_status_malloc", name);
    goto fail_client;
  }
  rc = snd_seq_alloc_named_queue(seq->handle, name);
  if (rc < 0) {
    fail(err, rc, "snd_seq_alloc_named_queue", name);
    goto fail_status;
  }
  seq->queue = rc;
  use_hrtimer(seq);
  rc = create_ports(seq, err);
  if (rc < 0)
    goto fail_status;
  rc = snd_seq_start_queue(seq->handle, seq->queue, NULL);
  if (rc < 0) {
    fail(err, rc, "snd_seq_start_queue", name);
    goto fail_status;
  }
  rc = snd_seq_drain_output(seq->handle);
  if (rc < 0) {
    fail(err, rc, "snd_seq_drain_output", "start queue");
    goto fail_status;
  }
  return 0;

fail_status:
  snd_seq_queue_status_free((snd_seq_queue_status_t *)seq->status);
  seq->status = NULL;
fail_client:
  snd_seq_close(seq->handle);
  seq->handle = NULL;
  return rc;
}

void rnj_seq_close(rnj_seq_t *seq) {
  if (seq->status)
    snd_seq_queue_status_free((snd_seq_queue_status_t *)seq->status);
  seq->status = NULL;
  if (seq->handle)
    snd_seq_close(seq->handle);
  seq->handle = NULL;
}

/* --------------------------------------------------------------- connect */

/* Is this port one "auto" listens to?  MIDI output of a sound-card driver
 * (kernel client), readable and subscribable, not System (0) and not Midi
 * Through, which only echoes what others send it. */
static int auto_port(rnj_seq_t *seq, snd_seq_client_info_t *ci,
                     snd_seq_port_info_t *pi) {
  unsigned cap = snd_seq_port_info_get_capability(pi);
  unsigned type = snd_seq_port_info_get_type(pi);
  int client = snd_seq_client_info_get_client(ci);
  const unsigned need = SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ;
  if (client == SND_SEQ_CLIENT_SYSTEM || client == seq->client)
    return 0;
  if (snd_seq_client_info_get_type(ci) != SND_SEQ_KERNEL_CLIENT)
    return 0;
  if ((cap & need) != need || (cap & SND_SEQ_PORT_CAP_NO_EXPORT))
    return 0;
  if (!(type & (SND_SEQ_PORT_TYPE_MIDI_GENERIC | SND_SEQ_PORT_TYPE_HARDWARE)))
    return 0;
  if (strcmp(snd_seq_client_info_get_name(ci), "Midi Through") == 0)
    return 0;
  return 1;
}

static int connect_from(rnj_seq_t *seq, int client, int port) {
  int rc = snd_seq_connect_from(seq->handle, seq->port_in, client, port);
  return rc == -EBUSY ? 0 : rc; /* already connected is fine */
}

static int connect_auto(rnj_seq_t *seq, char *err) {
  snd_seq_client_info_t *ci;
  snd_seq_port_info_t *pi;
  int missing = 0;
  int rc;
  snd_seq_client_info_alloca(&ci);
  snd_seq_port_info_alloca(&pi);
  snd_seq_client_info_set_client(ci, -1);
  while (snd_seq_query_next_client(seq->handle, ci) >= 0) {
    snd_seq_port_info_set_client(pi, snd_seq_client_info_get_client(ci));
    snd_seq_port_info_set_port(pi, -1);
    while (snd_seq_query_next_port(seq->handle, pi) >= 0) {
      if (!auto_port(seq, ci, pi))
        continue;
      rc = connect_from(seq, snd_seq_port_info_get_client(pi),
                        snd_seq_port_info_get_port(pi));
      if (rc < 0) {
        char what[96];
        snprintf(what, sizeof what, "%d:%d", snd_seq_port_info_get_client(pi),
                 snd_seq_port_info_get_port(pi));
        fail(err, rc, "snd_seq_connect_from", what);
        missing++;
      }
    }
  }
  return missing;
}

/* Split "a, b ,c" into trimmed specs. */
static int split_specs(const char *spec, char out[][RNJ_SEQ_SPEC_LEN],
                       int max, char *err) {
  int n = 0;
  const char *p = spec;
  while (*p) {
    const char *start;
    const char *end;
    size_t len;
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (!*p)
      break;
    start = p;
    while (*p && *p != ',')
      p++;
    end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    len = (size_t)(end - start);
    if (n == max)
      return rnj_errorf(err, RNJ_ELIMIT, "%s: more than %d ports", spec,
                        max);
    if (len >= RNJ_SEQ_SPEC_LEN)
      return rnj_errorf(err, RNJ_ELIMIT, "%.*s: port name too long",
                        (int)len, start);
    memcpy(out[n], start, len);
    out[n][len] = '\0';
    n++;
  }
  return n;
}

static int subscribe_announce(rnj_seq_t *seq, char *err) {
  int rc = connect_from(seq, SND_SEQ_CLIENT_SYSTEM,
                        SND_SEQ_PORT_SYSTEM_ANNOUNCE);
  if (rc < 0)
    return fail(err, rc, "snd_seq_connect_from", "System:Announce");
  return 0;
}

int rnj_seq_connect_in(rnj_seq_t *seq, const char *spec, char *err) {
  int i;
  int rc;
  int missing = 0;
  seq->auto_in = 0;
  seq->nspecs = 0;
  if (strcmp(spec, "none") == 0)
    return 0;
  if (strcmp(spec, "auto") == 0) {
    seq->auto_in = 1;
    rc = subscribe_announce(seq, err);
    if (rc < 0)
      return rc;
    return connect_auto(seq, err);
  }
  rc = split_specs(spec, seq->specs, RNJ_SEQ_MAX_SPECS, err);
  if (rc < 0)
    return rc;
  seq->nspecs = rc;
  /* Listed ports that are not there yet get connected when they appear. */
  rc = subscribe_announce(seq, err);
  if (rc < 0)
    return rc;
  for (i = 0; i < seq->nspecs; i++) {
    snd_seq_addr_t a;
    rc = snd_seq_parse_address(seq->handle, &a, seq->specs[i]);
    if (rc == 0)
      rc = connect_from(seq, a.client, a.port);
    if (rc < 0) {
      fail(err, rc, "connect", seq->specs[i]);
      missing++;
    }
  }
  return missing;
}

int rnj_seq_connect_out(rnj_seq_t *seq, const char *spec, char *err) {
  char specs[RNJ_SEQ_MAX_SPECS][RNJ_SEQ_SPEC_LEN];
  int n;
  int i;
  int rc;
  int missing = 0;
  if (strcmp(spec, "none") == 0)
    return 0;
  n = split_specs(spec, specs, RNJ_SEQ_MAX_SPECS, err);
  if (n < 0)
    return n;
  for (i = 0; i < n; i++) {
    snd_seq_addr_t a;
    rc = snd_seq_parse_address(seq->handle, &a, specs[i]);
    if (rc == 0) {
      rc = snd_seq_connect_to(seq->handle, seq->port_out, a.client, a.port);
      if (rc == -EBUSY)
        rc = 0;
    }
    if (rc < 0) {
      fail(err, rc, "connect", specs[i]);
      missing++;
    }
  }
  return missing;
}

/* A port appeared: connect it if "auto" wants it or a listed name now
 * resolves to it.  Rare, so the queries here are acceptable on the loop. */
static int port_started(rnj_seq_t *seq, int client, int port) {
  snd_seq_client_info_t *ci;
  snd_seq_port_info_t *pi;
  int i;
  if (client == seq->client)
    return 0;
  if (seq->auto_in) {
    snd_seq_client_info_alloca(&ci);
    snd_seq_port_info_alloca(&pi);
    if (snd_seq_get_any_client_info(seq->handle, client, ci) < 0 ||
        snd_seq_get_any_port_info(seq->handle, client, port, pi) < 0)
      return 0;
    if (auto_port(seq, ci, pi) && connect_from(seq, client, port) == 0)
      return 1;
    return 0;
  }
  for (i = 0; i < seq->nspecs; i++) {
    snd_seq_addr_t a;
    if (snd_seq_parse_address(seq->handle, &a, seq->specs[i]) == 0 &&
        a.client == client && a.port == port &&
        connect_from(seq, client, port) == 0)
      return 1;
  }
  return 0;
}

int rnj_seq_poll_fds(rnj_seq_t *seq, struct pollfd *fds, int n) {
  return snd_seq_poll_descriptors(seq->handle, fds, (unsigned)n, POLLIN);
}

/* --------------------------------------------------------------- input */

static void realtime(rnj_seq_event_t *out, int type, int status) {
  out->type = type;
  out->a = status;
}

void rnj__seq_decode(rnj_seq_t *seq, const snd_seq_event_t *ev,
                     rnj_seq_event_t *out) {
  memset(out, 0, sizeof *out);
  /* Input stamping gives every event our queue's real time; anything else
   * is stamped by the caller with the queue's clock. */
  if ((ev->flags & SND_SEQ_TIME_STAMP_MASK) == SND_SEQ_TIME_STAMP_REAL)
    out->time = from_real(&ev->time.time);
  else
    out->time = -1.0;
  out->src_client = ev->source.client;
  out->src_port = ev->source.port;
  /* Our own output fed back (rnnjam:out -> rnnjam:in) would make the
   * model answer itself forever. */
  if (ev->source.client == seq->client)
    return;
  switch (ev->type) {
  case SND_SEQ_EVENT_NOTEON:
    out->type = ev->data.note.velocity ? RNJ_SEQ_EV_NOTE_ON
                                       : RNJ_SEQ_EV_NOTE_OFF;
    out->channel = ev->data.note.channel & 15;
    out->a = ev->data.note.note & 127;
    out->b = ev->data.note.velocity;
    break;
  case SND_SEQ_EVENT_NOTEOFF:
    out->type = RNJ_SEQ_EV_NOTE_OFF;
    out->channel = ev->data.note.channel & 15;
    out->a = ev->data.note.note & 127;
    break;
  case SND_SEQ_EVENT_CONTROLLER:
    out->type = RNJ_SEQ_EV_CC;
    out->channel = ev->data.control.channel & 15;
    out->a = (int)ev->data.control.param & 127;
    out->b = ev->data.control.value & 127;
    break;
  /* System real-time and song position, for the beat clock: the status
   * byte rides along so the daemon can hand them on as they are. */
  case SND_SEQ_EVENT_CLOCK:
    realtime(out, RNJ_SEQ_EV_CLOCK, 0xF8);
    break;
  case SND_SEQ_EVENT_START:
    realtime(out, RNJ_SEQ_EV_START, 0xFA);
    break;
  case SND_SEQ_EVENT_CONTINUE:
    realtime(out, RNJ_SEQ_EV_CONTINUE, 0xFB);
    break;
  case SND_SEQ_EVENT_STOP:
    realtime(out, RNJ_SEQ_EV_STOP, 0xFC);
    break;
  case SND_SEQ_EVENT_TICK:
    realtime(out, RNJ_SEQ_EV_TICK, 0xF9);
    break;
  case SND_SEQ_EVENT_SENSING:
    realtime(out, RNJ_SEQ_EV_SENSING, 0xFE);
    break;
  case SND_SEQ_EVENT_RESET:
    realtime(out, RNJ_SEQ_EV_RESET, 0xFF);
    break;
  case SND_SEQ_EVENT_SONGPOS:
    /* alsa-lib's encoder puts the 14-bit position in control.value; a
     * client may send anything there */
    realtime(out, RNJ_SEQ_EV_SONGPOS, 0xF2);
    out->b = ev->data.control.value < 0 ? 0
                                         : ev->data.control.value & 0x3FFF;
    break;
  case SND_SEQ_EVENT_PORT_START:
    if (port_started(seq, ev->data.addr.client, ev->data.addr.port)) {
      out->type = RNJ_SEQ_EV_CONNECTED;
      out->src_client = ev->data.addr.client;
      out->src_port = ev->data.addr.port;
    }
    break;
  case SND_SEQ_EVENT_PORT_UNSUBSCRIBED:
    /* A keyboard unplugged (or disconnected) with keys down never sends
     * their note-offs; without this the engine would wait for them, and
     * respond mode would never answer again. */
    if (ev->data.connect.dest.client == seq->client &&
        ev->data.connect.dest.port == seq->port_in) {
      out->type = RNJ_SEQ_EV_DISCONNECTED;
      out->src_client = ev->data.connect.sender.client;
      out->src_port = ev->data.connect.sender.port;
    }
    break;
  default:
    break;
  }
}

int rnj_seq_read(rnj_seq_t *seq, rnj_seq_event_t *out) {
  snd_seq_event_t *ev = NULL;
  int rc = snd_seq_event_input(seq->handle, &ev);
  memset(out, 0, sizeof *out);
  if (rc == -EAGAIN)
    return 0;
  if (rc == -ENOSPC) {
    /* The kernel's input FIFO overflowed and dropped events. */
    seq->lost++;
    out->type = RNJ_SEQ_EV_LOST;
    out->time = rnj_seq_now(seq);
    return 1;
  }
  if (rc < 0)
    return rc;
  if (!ev)
    return 1;
  rnj__seq_decode(seq, ev, out);
  if (out->time < 0)
    out->time = rnj_seq_now(seq);
  return 1;
}

int rnj_seq_pending(rnj_seq_t *seq) {
  return snd_seq_event_input_pending(seq->handle, 0);
}

/* --------------------------------------------------------------- output */

/* Scheduled notes and scheduled clock messages carry different tags, so
 * that cancelling the notes (the player came back) leaves the clock
 * running, and stopping the clock leaves the notes. */
#define TAG_NOTE 1
#define TAG_CLOCK 2

static void prepare(rnj_seq_t *seq, snd_seq_event_t *ev) {
  snd_seq_ev_clear(ev);
  snd_seq_ev_set_source(ev, seq->port_out);
  snd_seq_ev_set_subs(ev);
}

static int room_for(rnj_seq_t *seq, size_t events) {
  size_t need = events * sizeof(snd_seq_event_t);
  size_t size = snd_seq_get_output_buffer_size(seq->handle);
  if (size - (size_t)snd_seq_event_output_pending(seq->handle) >= need)
    return 1;
  snd_seq_drain_output(seq->handle);
  return size - (size_t)snd_seq_event_output_pending(seq->handle) >= need;
}

int rnj_seq_note(rnj_seq_t *seq, double t_on, double t_off, int pitch,
                 int velocity) {
  snd_seq_event_t ev;
  snd_seq_real_time_t rt;
  int rc;
  if (!room_for(seq, 2)) {
    seq->out_errors++;
    return -EAGAIN;
  }
  prepare(seq, &ev);
  snd_seq_ev_set_tag(&ev, TAG_NOTE);
  snd_seq_ev_set_noteon(&ev, seq->channel, pitch & 127, velocity & 127);
  to_real(&rt, t_on);
  snd_seq_ev_schedule_real(&ev, seq->queue, 0, &rt);
  rc = snd_seq_event_output_buffer(seq->handle, &ev);
  if (rc < 0) {
    seq->out_errors++;
    return rc;
  }
  prepare(seq, &ev);
  snd_seq_ev_set_tag(&ev, TAG_NOTE);
  snd_seq_ev_set_noteoff(&ev, seq->channel, pitch & 127, 0);
  to_real(&rt, t_off);
  snd_seq_ev_schedule_real(&ev, seq->queue, 0, &rt);
  rc = snd_seq_event_output_buffer(seq->handle, &ev);
  if (rc < 0) {
    /* Cannot happen after room_for(); if it does, the note-on must not go
     * out alone, and the buffer holds only whole notes and direct events,
     * so dropping the last event is exact. */
    seq->out_errors++;
    snd_seq_drop_output_buffer(seq->handle);
    return rc;
  }
  return 0;
}

static int output_direct(rnj_seq_t *seq, snd_seq_event_t *ev) {
  int rc;
  snd_seq_ev_set_direct(ev);
  if (!room_for(seq, 1)) {
    /* A note-off must not be lost: write it past the buffer. */
    rc = snd_seq_event_output_direct(seq->handle, ev);
  } else {
    rc = snd_seq_event_output_buffer(seq->handle, ev);
  }
  if (rc < 0)
    seq->out_errors++;
  return rc < 0 ? rc : 0;
}

int rnj_seq_note_off_now(rnj_seq_t *seq, int pitch) {
  snd_seq_event_t ev;
  prepare(seq, &ev);
  snd_seq_ev_set_noteoff(&ev, seq->channel, pitch & 127, 0);
  return output_direct(seq, &ev);
}

int rnj_seq_all_off(rnj_seq_t *seq) {
  snd_seq_event_t ev;
  prepare(seq, &ev);
  snd_seq_ev_set_controller(&ev, seq->channel, MIDI_CTL_ALL_NOTES_OFF, 0);
  return output_direct(seq, &ev);
}

static void remove_tagged(rnj_seq_t *seq, int tag) {
  snd_seq_remove_events_t *rm;
  snd_seq_remove_events_alloca(&rm);
  /* Write out what is buffered first: a buffered note written after the
   * removal would escape it. */
  if (snd_seq_drain_output(seq->handle) < 0)
    snd_seq_drop_output(seq->handle);
  snd_seq_remove_events_set_condition(rm, SND_SEQ_REMOVE_OUTPUT |
                                              SND_SEQ_REMOVE_TAG_MATCH);
  snd_seq_remove_events_set_queue(rm, seq->queue);
  snd_seq_remove_events_set_tag(rm, tag);
  if (snd_seq_remove_events(seq->handle, rm) < 0)
    seq->out_errors++;
}

void rnj_seq_cancel(rnj_seq_t *seq) { remove_tagged(seq, TAG_NOTE); }

/* The sequencer's event type of a MIDI system real-time status. */
static int realtime_type(int status) {
  switch (status) {
  case 0xF8:
    return SND_SEQ_EVENT_CLOCK;
  case 0xFA:
    return SND_SEQ_EVENT_START;
  case 0xFB:
    return SND_SEQ_EVENT_CONTINUE;
  case 0xFC:
    return SND_SEQ_EVENT_STOP;
  default:
    return -1;
  }
}

int rnj_seq_realtime(rnj_seq_t *seq, double t, int status) {
  snd_seq_event_t ev;
  snd_seq_real_time_t rt;
  int type = realtime_type(status);
  int rc;
  if (type < 0)
    return -EINVAL;
  prepare(seq, &ev);
  ev.type = (snd_seq_event_type_t)type;
  if (t < 0)
    return output_direct(seq, &ev);
  if (!room_for(seq, 1)) {
    seq->out_errors++;
    return -EAGAIN;
  }
  snd_seq_ev_set_tag(&ev, TAG_CLOCK);
  to_real(&rt, t);
  snd_seq_ev_schedule_real(&ev, seq->queue, 0, &rt);
  rc = snd_seq_event_output_buffer(seq->handle, &ev);
  if (rc < 0) {
    seq->out_errors++;
    return rc;
  }
  return 0;
}

void rnj_seq_cancel_realtime(rnj_seq_t *seq) { remove_tagged(seq, TAG_CLOCK); }

int rnj_seq_flush(rnj_seq_t *seq) {
  int rc = snd_seq_drain_output(seq->handle);
  return rc < 0 ? rc : 0;
}

int rnj_seq_drain(rnj_seq_t *seq, int timeout_ms) {
  struct timespec ts = {0, 2 * 1000 * 1000};
  int waited = 0;
  int rc;
  for (;;) {
    rc = snd_seq_drain_output(seq->handle);
    if (rc == 0) {
      snd_seq_sync_output_queue(seq->handle);
      return 0;
    }
    if (rc != -EAGAIN || waited >= timeout_ms)
      return rc;
    nanosleep(&ts, NULL);
    waited += 2;
  }
}
