/* rnnjamd's JACK client: JACK MIDI in and out, and the synth's audio.
 *
 * One JACK client with up to four ports: "in" and "out" (MIDI) and
 * "left" and "right" (audio, rendered by an rnj_synth_t that the process
 * callback owns while the client is active).
 *
 * Two threads.  The loop thread (the caller of every function here but
 * the callbacks) and JACK's process thread exchange fixed-size messages
 * through two lock-free single-reader/single-writer rings
 * (jack_ringbuffer_t), one per direction, allocated and locked in memory
 * once by rnj_jack_init and kept across reconnections:
 *   - loop -> audio: notes as (note-on time, note-off time) pairs, and
 *     commands (cancel what is pending, a note-off now, all notes off,
 *     the player's notes to render, a program or channel change);
 *   - audio -> loop: what arrives on the MIDI input, stamped with its
 *     frame's time, and (a third ring) the JACK transport's position
 *     as jack_transport_query gives it, for the beat clock.
 * The process callback keeps the notes it was given in a sorted array
 * (RNJ_JACK_PENDING events) and plays each in the period that holds its
 * time: on the MIDI output at its exact frame, into the synth at the
 * nearest 64-frame block boundary (fluidsynth computes in such blocks).
 * It never allocates, locks, prints or blocks; the one call it makes
 * outside JACK and fluidsynth is the caller's `wake` (rnnjamd: an
 * eventfd write through uv_async_send) when input has arrived.
 *
 * Time.  The loop's time base (the engine's seconds) is
 * CLOCK_MONOTONIC minus an offset the loop sets (rnj_jack_set_offset),
 * so it can follow the ALSA queue's clock when there is one.  Inside
 * JACK, time is counted in frames: each period starts n / rate after the
 * one before, a frame clock that is steered slowly towards the loop's
 * clock (see cycle_start in jack.c).  A MIDI input event at frame k of a
 * period is stamped start + k / rate, and a note due at t is played at
 * frame (t - start) * rate, so an answer scheduled `gap` after a note
 * comes out `gap` later in JACK's frames, whenever the callbacks ran.
 *
 * No stuck notes: the process callback counts the note-ons it has sent
 * per pitch (MIDI out and synth); a cancelled note that already sounds
 * gets its note-off at once, and a note-off for a pitch that is not on is
 * dropped, so the output carries note-on/note-off pairs only.  After each
 * (re)connection the first period silences the synth and sends
 * all-notes-off (CC 123) on the output channel.
 *
 * Failure.  When the server goes away, JACK calls the shutdown handler,
 * which only sets a flag and calls `wake`; the loop then closes the client
 * (rnj_jack_disconnect) and reconnects later (rnj_jack_connect).
 */
#ifndef RNNJAM_JACK_H
#define RNNJAM_JACK_H

#include <stdint.h>

#include "clock.h"
#include "common.h"
#include "err.h"
#include "seq.h"
#include "synth.h"

#ifdef __cplusplus
extern "C" {
#endif

struct _jack_client;
struct _jack_port;

/* Timed events the audio thread holds: the engine's 128 scheduled notes
 * (two events each) and the player's notes to render, with room. */
#define RNJ_JACK_PENDING 1024
/* Messages each ring holds. */
#define RNJ_JACK_RING_MSGS 2048
/* Process-callback durations kept for the percentiles (the latest). */
#define RNJ_JACK_TIMES 65536
/* Synth channels: the generated notes and the player's, apart so that a
 * generated note-off never ends the player's note of the same pitch. */
#define RNJ_JACK_SYNTH_GEN 0
#define RNJ_JACK_SYNTH_PLAYER 1

typedef struct rnj_jack_opts_s {
  const char *name;   /* client name (copied) */
  int midi;           /* register the MIDI ports "in" and "out" */
  rnj_synth_t *synth; /* NULL: no audio ports; borrowed, owned by the
                         audio thread while connected */
  int channel;        /* MIDI output channel, 0..15 */
  int render_player;  /* render the player's notes too */
  int transport;      /* report the JACK transport (rnj_jack_read_transport) */
  /* Called from the audio thread (after input arrives) and from JACK's
   * shutdown handler: must be async-signal-safe and never block. */
  void (*wake)(void *ctx);
  void *wake_ctx;
} rnj_jack_opts_t;

/* A timed event held by the audio thread (internal). */
typedef struct rnj_jack_pending_s {
  double t;     /* engine seconds */
  uint8_t status;
  uint8_t data1;
  uint8_t data2;
  uint8_t todo; /* bit 0: MIDI out, bit 1: synth */
  uint8_t gen;  /* a generated note (cancel drops it), not the player's */
} rnj_jack_pending_t;

typedef struct rnj_jack_s {
  /* set-up (loop thread) */
  char name[64];
  char actual_name[128]; /* what JACK called us (may differ if taken) */
  int midi;
  int render_player;
  rnj_synth_t *synth;
  void (*wake)(void *ctx);
  void *wake_ctx;
  struct _jack_client *client; /* NULL while disconnected */
  struct _jack_port *midi_in;
  struct _jack_port *midi_out;
  struct _jack_port *out_l;
  struct _jack_port *out_r;
  int transport;
  void *to_rt;   /* jack_ringbuffer_t (an anonymous struct in JACK) */
  void *from_rt;
  void *from_rt_tp; /* transport positions */
  double rate;     /* Hz, of the connected server */
  uint32_t period; /* frames, of the connected server */

  /* shared: written by one side, read by the other, always through
   * __atomic builtins (plain types keep the header usable from C++) */
  int64_t offset_ns; /* engine time = monotonic - offset */
  int dead;          /* the server shut us down */
  uint64_t xruns;    /* since rnj_jack_init */
  uint64_t cycles;   /* process calls since rnj_jack_init */
  uint64_t late;     /* events played after their time */
  uint64_t dropped;  /* events refused: pending array full */
  uint64_t in_lost;  /* input events lost: ring full */
  uint64_t midi_lost; /* MIDI out events JACK had no room for */
  uint64_t clock_jumps; /* the frame clock re-set to the wall clock */
  uint64_t tp_lost;  /* transport positions lost: ring full */
  int lost_flag;     /* input was lost since the last read */
  uint32_t *times;   /* (RNJ_JACK_TIMES) process durations, ns */
  uint64_t ntimes;

  /* audio thread only */
  int channel;
  int fresh; /* first period after a connection */
  uint64_t rendered; /* frames given to the synth since connecting */
  int clock_valid;      /* the frame clock below is set */
  double clock_t;       /* engine time of frame clock_frame */
  uint32_t clock_frame;
  double clock_moved;   /* s the frame clock was re-set or steered by,
                           not yet reported to the loop
                           (RNJ_SEQ_EV_TIMEBASE) */
  rnj_jack_pending_t pending[RNJ_JACK_PENDING]; /* sorted by t */
  int npending;
  uint8_t out_on[128];   /* note-ons sent on MIDI out, per pitch */
  uint8_t synth_on[128]; /* note-ons given to the synth's channel */
  rnj_clock_jack_t tp_last; /* the transport as last queued */
  uint64_t tp_frame_next;   /* where it would be now, had it rolled on */
  double tp_sent;           /* when it was last queued */
  int tp_have;
  uint64_t to_rt_full;   /* loop side: messages refused */
} rnj_jack_t;

/* Prepare `j` (caller-allocated) with `opts`: the rings (locked in
 * memory) and the timing buffer.  Connects nothing.  Also silences
 * libjack's own messages (process-wide) so the library prints nothing.
 * Returns 0 or RNJ_ENOMEM/RNJ_EINVAL with `err`.  Not RT-safe. */
RNJ_EXTERN int rnj_jack_init(rnj_jack_t *j, const rnj_jack_opts_t *opts,
                             char *err);

/* Disconnect and release everything.  Safe on a zeroed or freed `j`. */
RNJ_EXTERN void rnj_jack_free(rnj_jack_t *j);

/* Open the client on the running server ($JACK_DEFAULT_SERVER or the
 * default; never starts one), register the ports, reset the audio
 * thread's state and the rings, and activate.  With a synth whose rate
 * differs from the server's, fails with RNJ_EINVAL and j->rate set, so
 * the caller can build a synth at j->rate and try again.  Returns 0, or
 * a negative code with `err`, e.g. "jack_client_open(rnnjam): no JACK
 * server running (JackServerFailed)".  Not RT-safe (blocks on the
 * server).  Loop thread. */
RNJ_EXTERN int rnj_jack_connect(rnj_jack_t *j, char *err);

/* Close the client (after a shutdown or to stop).  Waits for nothing:
 * call rnj_jack_drain first to let queued note-offs out.  Safe when not
 * connected.  Loop thread. */
RNJ_EXTERN void rnj_jack_disconnect(rnj_jack_t *j);

/* Connected and not shut down.  Loop thread. */
RNJ_EXTERN int rnj_jack_up(rnj_jack_t *j);

/* Connect our ports once active.  Each spec is "none", "auto" or a
 * comma-separated list of JACK port names: `audio` for "left"/"right"
 * (auto: the first two physical playback ports; a list: left to the
 * first, right to the second, or both to a single one), `midi_in` for
 * what feeds "in" (auto: every physical MIDI capture port), `midi_out`
 * for where "out" goes (no auto).  Returns the number of connections
 * that failed (the last one's reason in `err`), 0 when all were made.
 * Loop thread. */
RNJ_EXTERN int rnj_jack_connect_ports(rnj_jack_t *j, const char *audio,
                                      const char *midi_in,
                                      const char *midi_out, char *err);

/* Wait until the audio thread has taken every message queued so far and
 * run `periods` more cycles, at most `timeout_ms`.  For shutdown (it
 * sleeps).  Returns 0, or -ETIMEDOUT. */
RNJ_EXTERN int rnj_jack_drain(rnj_jack_t *j, int periods, int timeout_ms);

/* Set the loop's time base: engine seconds = CLOCK_MONOTONIC - offset.
 * Any thread. */
RNJ_EXTERN void rnj_jack_set_offset(rnj_jack_t *j, double offset_s);

/* The loop's side of the rings.  Each is RT-safe (a bounded ring write,
 * no allocation, no lock) and returns 0, or -EAGAIN when not connected or
 * the ring is full (nothing was queued). */
/* A note: on at t_on, off at t_off (engine seconds), both or neither. */
RNJ_EXTERN int rnj_jack_note(rnj_jack_t *j, double t_on, double t_off,
                             int pitch, int velocity);
/* Drop every generated note still pending; those sounding get their
 * note-off at once. */
RNJ_EXTERN int rnj_jack_cancel(rnj_jack_t *j);
/* Note-off for `pitch` now (dropped if that pitch is not on). */
RNJ_EXTERN int rnj_jack_note_off_now(rnj_jack_t *j, int pitch);
/* Note-off for every generated note on, then all-notes-off (CC 123). */
RNJ_EXTERN int rnj_jack_all_off(rnj_jack_t *j);
/* A player's message (note on/off, CC) to render at time t, for player
 * input that did not come through JACK (the ALSA port). */
RNJ_EXTERN int rnj_jack_player(rnj_jack_t *j, double t, int status,
                               int data1, int data2);
/* A MIDI system real-time message (`status` 0xF8..0xFF: clock, start,
 * continue, stop) on MIDI out at time `t` (engine seconds; one already
 * due goes at the next period's first frame).  Not cancelled by
 * rnj_jack_cancel.  -EINVAL for another status. */
RNJ_EXTERN int rnj_jack_realtime(rnj_jack_t *j, double t, int status);
/* Drop the real-time messages not yet sent. */
RNJ_EXTERN int rnj_jack_cancel_realtime(rnj_jack_t *j);
/* Program change on the synth (both of its channels). */
RNJ_EXTERN int rnj_jack_program(rnj_jack_t *j, int program);
/* A new MIDI output channel (0..15); send rnj_jack_all_off first. */
RNJ_EXTERN int rnj_jack_channel(rnj_jack_t *j, int channel);

/* Take the next input event into `ev` (ev->time in engine seconds; type
 * RNJ_SEQ_EV_LOST once after input was lost).  Returns 1 or 0 (none).
 * RT-safe.  Loop thread. */
RNJ_EXTERN int rnj_jack_read(rnj_jack_t *j, rnj_seq_event_t *ev);

/* Take the next transport position (with `transport`): `*t` is the
 * engine time of the period it describes.  Returns 1 or 0 (none).
 * RT-safe.  Loop thread. */
RNJ_EXTERN int rnj_jack_read_transport(rnj_jack_t *j, double *t,
                                       rnj_clock_jack_t *pos);

/* p50, p99 and max of the process callback's duration, microseconds,
 * over the latest RNJ_JACK_TIMES periods; `scratch` holds RNJ_JACK_TIMES
 * values.  Returns the number of periods used.  Loop thread. */
RNJ_EXTERN uint64_t rnj_jack_timing(rnj_jack_t *j, uint32_t *scratch,
                                    double *p50, double *p99, double *max);

#ifdef __cplusplus
}
#endif
#endif
