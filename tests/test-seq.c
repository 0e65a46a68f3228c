/* seq: the translation of sequencer events into the daemon's events
 * (rnj__seq_decode), which needs no sequencer.  The client itself (ports,
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

int main(void) {
  memset(&seq, 0, sizeof seq);
  seq.client = SELF;
  seq.port_in = IN_PORT;
  seq.port_out = IN_PORT + 1;
  test_notes();
  test_controls();
  test_own_output();
  test_disconnected();
  printf("seq: ok\n");
  return 0;
}
