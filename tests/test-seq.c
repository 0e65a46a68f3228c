/* seq: the translation of sequencer events into the daemon's events
 * (rnj__seq_decode) and of JACK MIDI bytes (rnj__jack_midi_parse), which
 * need no sequencer and no JACK server.  The client itself (ports,
 * the queue, connections) is tested on a real kernel sequencer by
 * test-daemon.sh; the same decoder is fuzzed by tests/fuzz/fuzz-midi-in.
 */
#include <alsa/asoundlib.h>

#include "internal.h"
#include "rnnjam/seq.h"
#include "test.h"

#define SELF 128
#define IN_PORT 0

static rnj_seq_t seq;

static snd_seq_event_t make(int type, int source_client) {
  snd_seq_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.type = (snd_seq_event_type_t)type;
  ev.source.client = (unsigned char)source_client;
  ev.source.port = 3;
  return ev;
}

static rnj_seq_event_t decode(const snd_seq_event_t *ev) {
  rnj_seq_event_t out;
  memset(&out, 0xff, sizeof out); /* every field must be set */
  rnj__seq_decode(&seq, ev, &out);
  return out;
}

static void test_notes(void) {
  snd_seq_event_t ev = make(SND_SEQ_EVENT_NOTEON, 20);
  rnj_seq_event_t o;
  ev.data.note.channel = 0x13; /* out of range: masked */
  ev.data.note.note = 200;
  ev.data.note.velocity = 100;
  ev.flags = SND_SEQ_TIME_STAMP_REAL;
  ev.time.time.tv_sec = 12;
  ev.time.time.tv_nsec = 500000000;
  o = decode(&ev);
  ASSERT_EQ(o.type, RNJ_SEQ_EV_NOTE_ON);
  ASSERT_EQ(o.channel, 3);
  ASSERT_EQ(o.a, 200 & 127);
  ASSERT_EQ(o.b, 100);
  ASSERT_NEAR(o.time, 12.5, 1e-9);
  ASSERT_EQ(o.src_client, 20);
  ASSERT_EQ(o.src_port, 3);
  /* velocity 0 is a note-off; an unstamped event says so (time -1) */
  ev.data.note.velocity = 0;
  ev.flags = SND_SEQ_TIME_STAMP_TICK;
  o = decode(&ev);
  ASSERT_EQ(o.type, RNJ_SEQ_EV_NOTE_OFF);
  ASSERT(o.time < 0);
  ev.type = SND_SEQ_EVENT_NOTEOFF;
  o = decode(&ev);
  ASSERT_EQ(o.type, RNJ_SEQ_EV_NOTE_OFF);
  ASSERT_EQ(o.a, 200 & 127);
}

static void test_controls(void) {
  snd_seq_event_t ev = make(SND_SEQ_EVENT_CONTROLLER, 20);
  rnj_seq_event_t o;
  ev.data.control.channel = 9;
  ev.data.control.param = 0x1234; /* masked to 0..127 */
  ev.data.control.value = -5;
  o = decode(&ev);
  ASSERT_EQ(o.type, RNJ_SEQ_EV_CC);
  ASSERT_EQ(o.channel, 9);
  ASSERT_EQ(o.a, 0x34);
  ASSERT(o.b >= 0 && o.b <= 127);
  /* events the daemon does not use come back as NONE */
  ev.type = SND_SEQ_EVENT_PITCHBEND;
  ASSERT_EQ(decode(&ev).type, RNJ_SEQ_EV_NONE);
  ev.type = SND_SEQ_EVENT_SYSEX;
  ASSERT_EQ(decode(&ev).type, RNJ_SEQ_EV_NONE);
}

/* Our own output fed back to our input is ignored, whatever it is. */
static void test_own_output(void) {
  snd_seq_event_t ev = make(SND_SEQ_EVENT_NOTEON, SELF);
  ev.data.note.note = 60;
  ev.data.note.velocity = 90;
  ASSERT_EQ(decode(&ev).type, RNJ_SEQ_EV_NONE);
}

/* A keyboard that goes away with keys down never sends their note-offs:
 * the unsubscription of a port sending to our input is reported (and the
 * daemon releases the held keys), others are not.  Before this, respond
 * mode waited for those note-offs for ever. */
static void test_disconnected(void) {
  snd_seq_event_t ev = make(SND_SEQ_EVENT_PORT_UNSUBSCRIBED,
                            SND_SEQ_CLIENT_SYSTEM);
  rnj_seq_event_t o;
  ev.data.connect.sender.client = 24;
  ev.data.connect.sender.port = 0;
  ev.data.connect.dest.client = SELF;
  ev.data.connect.dest.port = IN_PORT;
  o = decode(&ev);
  ASSERT_EQ(o.type, RNJ_SEQ_EV_DISCONNECTED);
  ASSERT_EQ(o.src_client, 24);
  ASSERT_EQ(o.src_port, 0);
  /* from our output port, or between two other clients: nothing to do */
  ev.data.connect.dest.port = IN_PORT + 1;
  ASSERT_EQ(decode(&ev).type, RNJ_SEQ_EV_NONE);
  ev.data.connect.dest.client = 30;
  ev.data.connect.dest.port = IN_PORT;
  ASSERT_EQ(decode(&ev).type, RNJ_SEQ_EV_NONE);
  /* a port that appears while nothing is to be connected: nothing */
  ev = make(SND_SEQ_EVENT_PORT_START, SND_SEQ_CLIENT_SYSTEM);
  ev.data.addr.client = 40;
  ASSERT_EQ(decode(&ev).type, RNJ_SEQ_EV_NONE);
}

/* System real-time and song position, for the beat clock: each its own
 * type, with its status byte in `a` (and the position in `b`). */
static void test_realtime(void) {
  static const struct {
    int alsa;
    int type;
    int status;
  } rt[] = {
      {SND_SEQ_EVENT_CLOCK, RNJ_SEQ_EV_CLOCK, 0xF8},
      {SND_SEQ_EVENT_TICK, RNJ_SEQ_EV_TICK, 0xF9},
      {SND_SEQ_EVENT_START, RNJ_SEQ_EV_START, 0xFA},
      {SND_SEQ_EVENT_CONTINUE, RNJ_SEQ_EV_CONTINUE, 0xFB},
      {SND_SEQ_EVENT_STOP, RNJ_SEQ_EV_STOP, 0xFC},
      {SND_SEQ_EVENT_SENSING, RNJ_SEQ_EV_SENSING, 0xFE},
      {SND_SEQ_EVENT_RESET, RNJ_SEQ_EV_RESET, 0xFF},
  };
  size_t i;
  rnj_seq_event_t o;
  snd_seq_event_t ev;
  for (i = 0; i < sizeof rt / sizeof rt[0]; i++) {
    ev = make(rt[i].alsa, 20);
    ev.data.queue.queue = 3; /* queue-control fields: not ours to read */
    ev.flags = SND_SEQ_TIME_STAMP_REAL;
    ev.time.time.tv_sec = 7;
    ev.time.time.tv_nsec = 250000000;
    o = decode(&ev);
    ASSERT_EQ(o.type, rt[i].type);
    ASSERT_EQ(o.a, rt[i].status);
    ASSERT_EQ(o.b, 0);
    ASSERT_EQ(o.channel, 0);
    ASSERT_NEAR(o.time, 7.25, 1e-9);
    /* our own clock out fed back is ignored like any of our output */
    ev.source.client = SELF;
    ASSERT_EQ(decode(&ev).type, RNJ_SEQ_EV_NONE);
  }
  ev = make(SND_SEQ_EVENT_SONGPOS, 20);
  ev.data.control.value = 272; /* F2 10 02 */
  o = decode(&ev);
  ASSERT_EQ(o.type, RNJ_SEQ_EV_SONGPOS);
  ASSERT_EQ(o.a, 0xF2);
  ASSERT_EQ(o.b, 272);
  ev.data.control.value = 0x12345; /* masked to 14 bits */
  ASSERT_EQ(decode(&ev).b, 0x2345);
  ev.data.control.value = -1;
  ASSERT_EQ(decode(&ev).b, 0);
}

/* Raw bytes as the kernel turns a cable's bytes into sequencer events
 * (alsa-lib's encoder): a clock byte inside a note-on comes out first,
 * and the note-on is whole. */
static void test_realtime_raw(void) {
  static const unsigned char bytes[] = {0xFA, 0x90, 0xF8, 0x3C, 0xF8, 0x64,
                                        0xF2, 0x10, 0x02, 0xFC};
  static const int want[] = {RNJ_SEQ_EV_START, RNJ_SEQ_EV_CLOCK,
                             RNJ_SEQ_EV_CLOCK, RNJ_SEQ_EV_NOTE_ON,
                             RNJ_SEQ_EV_SONGPOS, RNJ_SEQ_EV_STOP};
  snd_midi_event_t *enc;
  size_t i;
  int k = 0;
  ASSERT_OK(snd_midi_event_new(64, &enc));
  for (i = 0; i < sizeof bytes; i++) {
    snd_seq_event_t ev;
    memset(&ev, 0, sizeof ev);
    if (snd_midi_event_encode_byte(enc, bytes[i], &ev) == 1) {
      rnj_seq_event_t o;
      ev.source.client = 24;
      o = decode(&ev);
      ASSERT(k < 6);
      ASSERT_EQ(o.type, want[k]);
      if (o.type == RNJ_SEQ_EV_NOTE_ON) {
        ASSERT_EQ(o.a, 60);
        ASSERT_EQ(o.b, 100);
      }
      if (o.type == RNJ_SEQ_EV_SONGPOS)
        ASSERT_EQ(o.b, 272);
      k++;
    }
  }
  ASSERT_EQ(k, 6);
  snd_midi_event_free(enc);
}

/* The JACK MIDI input parser (no server needed). */
static int parse(const char *hex, rnj_seq_event_t *out, int max) {
  uint8_t b[64];
  size_t n = 0;
  const char *p = hex;
  while (*p) {
    unsigned v;
    int used;
    if (sscanf(p, " %2x%n", &v, &used) != 1)
      break;
    b[n++] = (uint8_t)v;
    p += used;
  }
  return rnj__jack_midi_parse(b, n, out, max);
}

static void test_jack_parse(void) {
  rnj_seq_event_t e[16];
  int n;
  /* a note-on, a control change, a note-off by velocity 0 */
  n = parse("93 3C 64", e, 16);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(e[0].type, RNJ_SEQ_EV_NOTE_ON);
  ASSERT_EQ(e[0].channel, 3);
  ASSERT_EQ(e[0].a, 60);
  ASSERT_EQ(e[0].b, 100);
  n = parse("B1 40 7F", e, 16);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(e[0].type, RNJ_SEQ_EV_CC);
  ASSERT_EQ(e[0].a, 64);
  n = parse("90 3C 00", e, 16);
  ASSERT_EQ(e[0].type, RNJ_SEQ_EV_NOTE_OFF);
  /* every real-time byte alone, 0xFD (undefined) dropped */
  n = parse("F8 F9 FA FB FC FD FE FF", e, 16);
  ASSERT_EQ(n, 7);
  ASSERT_EQ(e[0].type, RNJ_SEQ_EV_CLOCK);
  ASSERT_EQ(e[0].a, 0xF8);
  ASSERT_EQ(e[1].type, RNJ_SEQ_EV_TICK);
  ASSERT_EQ(e[2].type, RNJ_SEQ_EV_START);
  ASSERT_EQ(e[3].type, RNJ_SEQ_EV_CONTINUE);
  ASSERT_EQ(e[4].type, RNJ_SEQ_EV_STOP);
  ASSERT_EQ(e[5].type, RNJ_SEQ_EV_SENSING);
  ASSERT_EQ(e[6].type, RNJ_SEQ_EV_RESET);
  ASSERT_EQ(e[6].a, 0xFF);
  /* real-time bytes inside a note-on: out first, the note whole */
  n = parse("92 F8 3E FE 50", e, 16);
  ASSERT_EQ(n, 3);
  ASSERT_EQ(e[0].type, RNJ_SEQ_EV_CLOCK);
  ASSERT_EQ(e[1].type, RNJ_SEQ_EV_SENSING);
  ASSERT_EQ(e[2].type, RNJ_SEQ_EV_NOTE_ON);
  ASSERT_EQ(e[2].channel, 2);
  ASSERT_EQ(e[2].a, 62);
  ASSERT_EQ(e[2].b, 80);
  /* ... and inside a song position and under running status */
  n = parse("F2 F8 10 02 90 3C 64 FA 3E 65", e, 16);
  ASSERT_EQ(n, 5);
  ASSERT_EQ(e[0].type, RNJ_SEQ_EV_CLOCK);
  ASSERT_EQ(e[1].type, RNJ_SEQ_EV_SONGPOS);
  ASSERT_EQ(e[1].a, 0xF2);
  ASSERT_EQ(e[1].b, 272);
  ASSERT_EQ(e[2].type, RNJ_SEQ_EV_NOTE_ON);
  ASSERT_EQ(e[3].type, RNJ_SEQ_EV_START);
  ASSERT_EQ(e[4].type, RNJ_SEQ_EV_NOTE_ON); /* running status survived */
  ASSERT_EQ(e[4].a, 62);
  ASSERT_EQ(e[4].b, 101);
  /* what the daemon does not use, and broken messages, give nothing;
   * a status byte cuts a message short */
  ASSERT_EQ(parse("C0 05 D0 40 E0 00 40 A0 3C 10", e, 16), 0);
  ASSERT_EQ(parse("F0 7E 7F 09 01 F7 F1 20 F3 01 F6", e, 16), 0);
  ASSERT_EQ(parse("3C 64", e, 16), 0);
  ASSERT_EQ(parse("90 3C", e, 16), 0);
  n = parse("90 3C 80 3C 00", e, 16);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(e[0].type, RNJ_SEQ_EV_NOTE_OFF);
  /* sysex with a clock inside: the clock counts, the sysex does not */
  n = parse("F0 01 F8 02 F7", e, 16);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(e[0].type, RNJ_SEQ_EV_CLOCK);
  /* more than `max`: counted, not written past */
  memset(e, 0x55, sizeof e);
  n = parse("F8 F8 F8 F8 F8", e, 2);
  ASSERT_EQ(n, 5);
  ASSERT_EQ(e[2].type, 0x55555555);
  ASSERT_EQ(parse("", e, 16), 0);
}

int main(void) {
  memset(&seq, 0, sizeof seq);
  seq.client = SELF;
  seq.port_in = IN_PORT;
  seq.port_out = IN_PORT + 1;
  test_notes();
  test_controls();
  test_own_output();
  test_disconnected();
  test_realtime();
  test_realtime_raw();
  test_jack_parse();
  printf("seq: ok\n");
  return 0;
}
