/* The ALSA sequencer side of rnnjamd: one client with an input port
 * ("in": writable, subscribable) and an output port ("out": readable,
 * subscribable), and a queue on which output notes are scheduled at
 * real-time stamps and input events are stamped on arrival, so both share
 * one clock and a note's timing does not depend on when the loop wakes.
 *
 * Input connections: "auto" subscribes to every MIDI input port of a
 * kernel client (sound-card drivers: USB, PCI, virtual raw MIDI), except
 * System and Midi Through, now and whenever one appears (the System
 * announce port); a comma-separated list names ports as aconnect takes
 * them ("20:0", "Keystation", "Keystation:1"), and a listed port that
 * appears later is connected then.
 *
 * Threading: one thread.  rnj_seq_read, rnj_seq_note, rnj_seq_note_off_now,
 * rnj_seq_all_off, rnj_seq_cancel, rnj_seq_realtime,
 * rnj_seq_cancel_realtime, rnj_seq_now and rnj_seq_flush are the
 * event-path calls: non-blocking (the client is in non-blocking mode) and
 * allocation-free; they make ioctl/read/write calls on the sequencer device
 * that never sleep.  Everything else is set-up and may allocate.
 */
#ifndef RNNJAM_SEQ_H
#define RNNJAM_SEQ_H

#include <poll.h>
#include <stdint.h>

#include "common.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct _snd_seq;
struct _snd_seq_queue_status;

#define RNJ_SEQ_MAX_SPECS 16
#define RNJ_SEQ_SPEC_LEN 128

typedef enum {
  RNJ_SEQ_EV_NONE = 0,   /* nothing for the caller (handled or ignored) */
  RNJ_SEQ_EV_NOTE_ON,    /* a = pitch, b = velocity (> 0) */
  RNJ_SEQ_EV_NOTE_OFF,   /* a = pitch */
  RNJ_SEQ_EV_CC,         /* a = controller, b = value */
  RNJ_SEQ_EV_CONNECTED,  /* a port was subscribed (src_*) */
  RNJ_SEQ_EV_LOST,       /* input overflowed: events were lost */
  RNJ_SEQ_EV_DISCONNECTED, /* a port sending to us went away or was
                              unsubscribed (src_*): its keys still down
                              will send no note-off (needs connect_in other
                              than "none", which watches the
                              announcements) */
  /* System real-time and song position, for the beat clock.  Each has
   * channel 0 and a = its MIDI status byte, b = the song position (16th
   * notes, 0..16383) for SONGPOS, else 0, so that routing them is
   * rnj_clock_midi(clock, ev.time, ev.a, ev.b) (the clock ignores what it
   * does not use).  0xF9 and 0xFD are undefined in MIDI 1.0: ALSA's raw
   * MIDI encoder drops both (so over ALSA a TICK comes only from a client
   * that sends the sequencer event itself); the JACK MIDI parser passes
   * 0xF9 as a TICK and drops 0xFD. */
  RNJ_SEQ_EV_CLOCK,    /* 0xF8: timing clock, 24 per quarter note */
  RNJ_SEQ_EV_START,    /* 0xFA */
  RNJ_SEQ_EV_CONTINUE, /* 0xFB */
  RNJ_SEQ_EV_STOP,     /* 0xFC */
  RNJ_SEQ_EV_SONGPOS,  /* 0xF2: b = position in 16th notes */
  RNJ_SEQ_EV_TICK,     /* 0xF9: MIDI tick (10 ms), rarely sent */
  RNJ_SEQ_EV_SENSING,  /* 0xFE: active sensing */
  RNJ_SEQ_EV_RESET,    /* 0xFF: system reset */
  RNJ_SEQ_EV_TIMEBASE  /* JACK side only: its frame clock was re-set to
                          the wall clock (a stalled server) or steered
                          towards it: the events after this one are
                          stamped b microseconds later than the frames
                          would have put them (a = 0) */
} rnj_seq_ev_type_t;

typedef struct rnj_seq_event_s {
  int type;          /* rnj_seq_ev_type_t */
  double time;       /* s, on the queue's real-time clock */
  int channel;       /* 0..15 */
  int a;
  int b;
  int src_client;
  int src_port;
} rnj_seq_event_t;

typedef struct rnj_seq_s {
  struct _snd_seq *handle;
  struct _snd_seq_queue_status *status; /* preallocated for rnj_seq_now */
  int client;
  int port_in;
  int port_out;
  int queue;
  int channel; /* output channel, 0..15 */
  int auto_in; /* connect_in = auto */
  int nspecs;  /* explicit input ports, connected when they appear */
  char specs[RNJ_SEQ_MAX_SPECS][RNJ_SEQ_SPEC_LEN];
  char timer_name[64]; /* the queue's timer, for the log */
  uint64_t lost;       /* input overruns */
  uint64_t out_errors; /* events the sequencer refused */
} rnj_seq_t;

/* Open the sequencer as client `name` with ports "in" and "out", a queue
 * (on the high-resolution timer when the kernel has one) and input
 * stamping, and start the queue.  `channel` (0..15) is the output channel.
 * `seq` is caller-allocated.  On failure `err` says which call failed and
 * why, e.g. "snd_seq_open(default): No such file or directory", and
 * everything acquired is released.  Returns 0 or a negative errno. */
RNJ_EXTERN int rnj_seq_open(rnj_seq_t *seq, const char *name, int channel,
                            char *err);

/* Close the client (the kernel drops its queue and pending events).  Safe
 * on a zeroed or closed `seq`. */
RNJ_EXTERN void rnj_seq_close(rnj_seq_t *seq);

/* Connect the input: "auto", "none" or a list (see above).  Each port that
 * cannot be connected now is reported in `err` (the last one) and counted
 * in the return value: 0 = all connected, > 0 = that many are missing (a
 * listed one will still be connected when it appears), < 0 = error. */
RNJ_EXTERN int rnj_seq_connect_in(rnj_seq_t *seq, const char *spec,
                                  char *err);

/* Connect the output to "none" or a list of ports.  Returns as above,
 * without the later connection. */
RNJ_EXTERN int rnj_seq_connect_out(rnj_seq_t *seq, const char *spec,
                                   char *err);

/* The descriptors to poll for input (POLLIN), at most `n`; their count. */
RNJ_EXTERN int rnj_seq_poll_fds(rnj_seq_t *seq, struct pollfd *fds, int n);

/* Take the next input event into `ev`.  Returns 1 (an event; its type may
 * be RNJ_SEQ_EV_NONE for one handled inside, such as an announce), 0 (no
 * more for now) or a negative errno.  Event path. */
RNJ_EXTERN int rnj_seq_read(rnj_seq_t *seq, rnj_seq_event_t *ev);

/* Events already read from the kernel and waiting in alsa-lib's buffer.
 * The descriptors do not signal these: a caller that stops reading early
 * must come back for them without waiting for poll.  Event path. */
RNJ_EXTERN int rnj_seq_pending(rnj_seq_t *seq);

/* The queue's current real time, s.  Event path. */
RNJ_EXTERN double rnj_seq_now(rnj_seq_t *seq);

/* Schedule a note: note-on at t_on, note-off at t_off (absolute queue
 * seconds), both buffered together or neither.  Returns 0 or -EAGAIN
 * (no room; nothing was buffered).  Event path. */
RNJ_EXTERN int rnj_seq_note(rnj_seq_t *seq, double t_on, double t_off,
                            int pitch, int velocity);

/* Note-off for `pitch`, delivered at once.  Event path. */
RNJ_EXTERN int rnj_seq_note_off_now(rnj_seq_t *seq, int pitch);

/* All-notes-off (CC 123) on the output channel, at once.  Event path. */
RNJ_EXTERN int rnj_seq_all_off(rnj_seq_t *seq);

/* Remove every note of ours still waiting in the queue (after writing
 * out what is buffered, so nothing buffered escapes); scheduled clock
 * messages stay.  Event path. */
RNJ_EXTERN void rnj_seq_cancel(rnj_seq_t *seq);

/* A MIDI system real-time message on the output port: `status` 0xF8
 * (clock), 0xFA (start), 0xFB (continue) or 0xFC (stop), scheduled at `t`
 * (queue seconds), or at once when `t` < 0.  Returns 0, -EINVAL (another
 * status) or -EAGAIN (no room).  Event path. */
RNJ_EXTERN int rnj_seq_realtime(rnj_seq_t *seq, double t, int status);

/* Remove the scheduled real-time messages not yet delivered (notes
 * stay).  Event path. */
RNJ_EXTERN void rnj_seq_cancel_realtime(rnj_seq_t *seq);

/* Write buffered output to the kernel without waiting.  Returns 0, or a
 * negative errno (output kept for the next call on -EAGAIN). */
RNJ_EXTERN int rnj_seq_flush(rnj_seq_t *seq);

/* Wait (up to `timeout_ms`) until everything buffered and every event of
 * ours scheduled up to now has been delivered; for shutdown.  Not on the
 * event path (it sleeps). */
RNJ_EXTERN int rnj_seq_drain(rnj_seq_t *seq, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
