/* The daemon's musical logic, without ALSA: note tracking, the model's
 * context, phrases, and what to play when.
 *
 * Everything happens in one time base, seconds on the output queue's
 * real-time clock: input events carry their queue timestamps, and the
 * engine answers with notes at absolute queue times that the output (ALSA
 * in rnnjamd, a recorder in the tests) schedules.  The engine never reads
 * a clock except through the output's `now` callback, so a test can drive
 * it with made-up times.  The model may count time otherwise (the v2
 * model in beats): the engine converts at the model's door, for a beats
 * model through the beat clock when it has one (each onset at the beat
 * it fell on), else at a fixed tempo (params.tempo).
 *
 * Context.  A note is known only when it ends, but the model was trained
 * on notes ordered by start.  Finished notes are therefore held in a FIFO
 * ordered by start and fed only from its head: a note is fed once it and
 * every note that started before it have ended.  The model sees exactly
 * the tutorial's order; a long-held note delays (never reorders) the
 * notes after it.  Feeding is budgeted per tick (RNJ_ENGINE_FEED_BUDGET
 * LSTM steps) so a flood of notes cannot starve the loop; when the FIFO
 * is full the oldest note is dropped and counted.
 *
 * Output.  Every note the engine emits is a (note-on, note-off) pair handed
 * over together, and the engine remembers it until its note-off time has
 * passed.  To stop (player resumes, mode switch, panic, reload, exit) the
 * output's pending events are cancelled and the notes that may already
 * sound get a note-off now, so no note-on is ever left without its
 * note-off.  A generated note whose pitch still sounds from an earlier
 * generated note is fed to the model but not played (counted), because
 * two overlapping notes of one pitch cannot be paired on the wire.
 *
 * Musical time.  With a beat clock (rnj_engine_set_clock; rnnjamd's, or a
 * plugin's fed from its host), the answers are placed through the clock's
 * timeline, at the moment each note is handed to the output: onsets on the
 * quantize grid (with swing; chords stay chords), lengths whole grid steps
 * (at least one), the first note of an answer on the next beat or bar
 * after the silence (answer_start), continuous playing starting on a
 * beat.  The player's onsets and phrase ends go to the clock (its player
 * source estimates the tempo from them).  A stop (MIDI Stop, a stopped
 * JACK or plugin host transport) or a jump of an external clock by a 32nd
 * note or more (Song Position, a JACK or host relocation, another source
 * taking over) silences what plays at once;
 * nothing is generated while the clock is stopped (the player's notes
 * are still taken and fed to the model), and a call that ends then is not
 * answered; playing resumes on the beat when it rolls again.
 * Without a clock the engine plays the model's own timing.
 *
 * Threading: one thread (the daemon's loop) calls everything.  The event
 * functions and rnj_engine_tick are RT-safe: they allocate nothing, take
 * no lock, do no I/O of their own (only the output callbacks, which
 * rnnjamd keeps non-blocking) and do bounded work.
 */
#ifndef RNNJAM_ENGINE_H
#define RNNJAM_ENGINE_H

#include <stdint.h>

#include "clock.h"
#include "common.h"
#include "conf.h"
#include "grid.h"
#include "net.h"
#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Finished-or-sounding input notes waiting to be fed, oldest first. */
#define RNJ_ENGINE_INFLIGHT 256
/* Generated notes remembered until their note-off has passed; also bounds
 * the events pending in the output queue (2 per note). */
#define RNJ_ENGINE_SCHED 128
/* Notes kept for window mode and for re-feeding after a model swap. */
#define RNJ_ENGINE_HISTORY 256
/* LSTM steps per tick spent on feeding the player's notes. */
#define RNJ_ENGINE_FEED_BUDGET 8
/* Notes generated per tick at most (the horizon usually stops sooner). */
#define RNJ_ENGINE_GEN_BUDGET 16
/* An answer is never longer than this many notes. */
#define RNJ_ENGINE_ANSWER_MAX 1000
/* A key held this long, s, is taken as released: its note-off was lost
 * (an xrun between JACK clients, a keyboard's cable pulled mid-note), and
 * respond mode would otherwise wait for it until it is struck again. */
#define RNJ_ENGINE_MAX_HOLD 30.0

/* Where the engine's notes go.  All callbacks run on the engine's thread
 * and must not block. */
typedef struct rnj_engine_out_s {
  void *ctx;
  /* Schedule note-on at t_on and note-off at t_off (absolute seconds);
   * both or neither.  Returns 0, or < 0 if nothing was scheduled. */
  int (*note)(void *ctx, double t_on, double t_off, int pitch, int velocity);
  /* Drop every event still pending in the output queue. */
  void (*cancel)(void *ctx);
  /* Note-off for `pitch`, now. */
  void (*note_off_now)(void *ctx, int pitch);
  /* All-notes-off (CC 123) on the output channel, now. */
  void (*all_off)(void *ctx);
  /* The current time of the output queue, seconds. */
  double (*now)(void *ctx);
} rnj_engine_out_t;

typedef struct rnj_engine_stats_s {
  uint64_t notes_in;        /* note-ons from the player */
  uint64_t notes_fed;       /* notes stepped into the model (any source) */
  uint64_t notes_out;       /* notes handed to the output */
  uint64_t answers;         /* answers started */
  uint64_t interruptions;   /* answers cut short by the player */
  uint64_t dropped_inflight; /* player notes lost to a full FIFO */
  uint64_t dropped_sched;   /* generated notes not played: no room */
  uint64_t skipped_overlap; /* generated notes not played: pitch sounding */
  uint64_t out_errors;      /* output refused a note */
  uint64_t ccs;             /* control changes acted on */
  uint64_t keys_timed_out;  /* held RNJ_ENGINE_MAX_HOLD: released */
} rnj_engine_stats_t;

/* Playing settings the engine reads (copied from rnj_conf_t). */
typedef struct rnj_engine_params_s {
  int mode;          /* rnj_mode_t */
  int context;       /* rnj_context_t */
  double phrase_gap; /* s */
  int answer_length; /* notes; 0 = as the call */
  double lookahead;  /* s */
  double max_step;   /* s */
  double min_duration;
  double max_duration;
  int max_chord;
  int velocity; /* RNJ_VELOCITY_MODEL (the model's, or follow for a model
                   without a velocity head), RNJ_VELOCITY_FOLLOW, or a
                   fixed 1..127 */
  double tempo;  /* bpm at which a beats model hears seconds */
  int cc_channel; /* 0 any, 1..16 */
  int cc_temperature;
  int cc_mode;
  int cc_length;
  int cc_panic;
  double temperature_min;
  double temperature_max;
  /* with a clock only: */
  int quantize;     /* rnj_grid_unit_t */
  int swing;        /* percent of a grid unit */
  int answer_start; /* rnj_answer_start_t */
} rnj_engine_params_t;

typedef struct rnj_engine_inflight_s {
  double start;
  double end; /* < 0 while sounding */
  uint8_t pitch;
  uint8_t channel;
  uint8_t velocity;
} rnj_engine_inflight_t;

typedef struct rnj_engine_sched_s {
  double on;
  double off;
  int pitch;
} rnj_engine_sched_t;

typedef enum {
  RNJ_ENGINE_IDLE = 0,     /* respond: waiting for / listening to a call */
  RNJ_ENGINE_ANSWERING = 1, /* respond: generating an answer */
  RNJ_ENGINE_PLAYING = 2    /* continuous: generating */
} rnj_engine_state_t;

typedef struct rnj_engine_s {
  rnj_engine_params_t p;
  const rnj_net_t *net; /* borrowed; see rnj_engine_set_net */
  int seq_length;       /* window length (from the model) */
  double model_per_s;   /* the model's time units per second */
  rnj_engine_out_t out;
  rnj_sampler_t sampler;

  /* model context */
  rnj_net_state_t state;
  rnj_net_dist_t pred; /* heads on the state (stream) or on the window */
  int pred_valid;
  double last_fed_start; /* start of the newest note fed, s */
  int fed_any;
  /* the notes fed, in seconds as fed (step clamped, rebased) */
  rnj_net_note_t history[RNJ_ENGINE_HISTORY]; /* ring */
  int hist_head; /* index of the oldest */
  int hist_n;
  rnj_net_note_t window[RNJ_ENGINE_HISTORY]; /* scratch, model units */

  /* input tracking */
  int16_t held[16][128]; /* inflight index + 1 of a sounding note, 0 none */
  rnj_engine_inflight_t inflight[RNJ_ENGINE_INFLIGHT]; /* ring */
  int in_head;
  int in_n;
  int sounding;        /* player notes currently down */
  double last_off;     /* when the player last went silent */
  int call_notes;      /* note-ons in the current call */
  double vel_avg;      /* running average of the player's velocity */

  /* output */
  rnj_engine_state_t st;
  rnj_engine_sched_t sched[RNJ_ENGINE_SCHED]; /* unordered set */
  int sched_n;
  int answer_left;     /* notes still to generate in this answer */
  int chord_run;       /* notes generated at the same onset so far */
  double last_gen_on;
  double first_at;     /* when the first note of an answer (or of
                          continuous playing) sounds */
  int first_pending;   /* the next note generated is that first note */
  int rebase;          /* the context's times are the seed file's, not
                          the queue's: the next note fed sets the clock */
  double seed_step;    /* the seed's last step, used for that note */
  int pend_valid;      /* a sampled note waiting for its time */
  int pend_pitch;
  int pend_velocity;   /* the model's (0: it has none) */
  int pend_first;      /* it is the first note (at first_at) */
  double pend_on;      /* as the model timed it, s */
  double pend_dur;
  int stopped;

  /* musical time */
  rnj_clock_t *clock;  /* borrowed; NULL: the model's own timing */
  rnj_grid_t grid;     /* from p.quantize and p.swing */
  unsigned clock_events; /* RNJ_CLOCK_EV_* seen, for the host's log */
  double last_jump;    /* beats the position moved at the last jump */
  double last_onset;   /* the newest onset given to the clock */
  int phrase_open;     /* notes played since the clock's last phrase end */

  rnj_engine_stats_t stats;
} rnj_engine_t;

/* Copy the playing settings out of a configuration. */
RNJ_EXTERN void rnj_engine_params_from_conf(rnj_engine_params_t *p,
                                            const rnj_conf_t *conf);

/* Set up `e` (caller-allocated; no allocation happens, the struct holds
 * every buffer) to play `net` (borrowed: it must outlive its use, see
 * rnj_engine_set_net; its window length is the model's), sending notes
 * to `out` (copied).  `net` may be NULL: the engine then tracks the
 * player (held keys, calls, the clock's onsets) and keeps the notes in its
 * history, plays nothing, and the model given later by rnj_engine_set_net
 * hears them (a plugin whose model is still loading).  `sampler` is copied
 * (temperatures, top-k, top-p, pitch range, RNG).  Starts with an empty
 * context; in continuous mode playing begins at the first tick with a
 * model.  Returns 0 or RNJ_EINVAL. */
RNJ_EXTERN int rnj_engine_init(rnj_engine_t *e, const rnj_engine_params_t *p,
                               const rnj_net_t *net,
                               const rnj_sampler_t *sampler,
                               const rnj_engine_out_t *out);

/* Feed a seed note (pitch, step and duration in seconds, velocity 1..127
 * or 0 for unknown) straight into the context, as if it had been played.
 * Used before playing starts.  RT-safe. */
RNJ_EXTERN void rnj_engine_seed(rnj_engine_t *e, int pitch, double step,
                                double duration, int velocity);

/* The player's events, with their queue timestamps (seconds), in time
 * order.  `channel` is 0..15.  A note-on with velocity 0 is a note-off.
 * RT-safe. */
RNJ_EXTERN void rnj_engine_note_on(rnj_engine_t *e, double t, int channel,
                                   int pitch, int velocity);
RNJ_EXTERN void rnj_engine_note_off(rnj_engine_t *e, double t, int channel,
                                    int pitch);
/* A control change: the mapped CCs act; CC 120/123 (all sound/notes off)
 * from the player end every note it holds.  RT-safe. */
RNJ_EXTERN void rnj_engine_cc(rnj_engine_t *e, double t, int channel,
                              int cc, int value);

/* Input was lost (the sequencer's input queue overflowed, or a keyboard
 * went away with keys down): treat every held note as ended at `t`, since
 * its note-off may never come.  RT-safe. */
RNJ_EXTERN void rnj_engine_input_lost(rnj_engine_t *e, double t);

/* Do what is due at time `now`: feed finished notes (budgeted), start an
 * answer once the gap has passed, generate notes up to now + lookahead.
 * Returns the time at which it wants the next tick (may be <= now: more
 * work is waiting; HUGE_VAL: only an event can wake it).  RT-safe. */
RNJ_EXTERN double rnj_engine_tick(rnj_engine_t *e, double now);

/* Stop playing at once: cancel what is queued, note-off what may sound,
 * all-notes-off on the channel; forget the player's held keys.  Respond
 * mode then waits for a new call; continuous mode resumes at the next
 * tick.  RT-safe. */
RNJ_EXTERN void rnj_engine_panic(rnj_engine_t *e);

/* Stop what plays at once, as rnj_engine_panic does for the engine's own
 * notes (cancel what is queued, note-off what may sound), but leave the
 * player alone: the keys held stay held and a call in progress is still
 * answered; no all-notes-off, which would cut the player's notes on a
 * shared channel.  For an output that moves (a new channel).  Respond
 * mode then waits for the call; continuous mode resumes at the next tick.
 * RT-safe. */
RNJ_EXTERN void rnj_engine_silence(rnj_engine_t *e);

/* Switch mode (stops what plays first).  RT-safe. */
RNJ_EXTERN void rnj_engine_set_mode(rnj_engine_t *e, int mode);

/* Swap the model (of any kind): stop what plays, rebuild the context from
 * the kept history with the new model.  `net` may be NULL: no model, as
 * in rnj_engine_init.  Returns the previous net (NULL: none), which the
 * caller may free once this returns.  RT-safe (bounded re-feed), but the
 * caller builds `net` off the event path. */
RNJ_EXTERN const rnj_net_t *rnj_engine_set_net(rnj_engine_t *e,
                                               const rnj_net_t *net);

/* Apply new playing settings (after a reload).  A mode change stops what
 * plays; the rest apply from the next note.  RT-safe. */
RNJ_EXTERN void rnj_engine_set_params(rnj_engine_t *e,
                                      const rnj_engine_params_t *p);

/* Take new sampling settings (temperatures, top-k, top-p, pitch range)
 * from `sampler`, keeping the engine's own RNG state.  RT-safe. */
RNJ_EXTERN void rnj_engine_set_sampling(rnj_engine_t *e,
                                        const rnj_sampler_t *sampler);

/* Restart the engine's sampling RNG from `seed` (rnj_rng_seed): from here
 * on it draws what a sampler set up with `seed` would (a saved session's
 * seed restored).  A note drawn but not yet handed to the output is
 * drawn again.  RT-safe. */
RNJ_EXTERN void rnj_engine_reseed(rnj_engine_t *e, uint64_t seed);

/* Stop for good before exit: as rnj_engine_panic, and nothing more will
 * be generated.  RT-safe. */
RNJ_EXTERN void rnj_engine_stop(rnj_engine_t *e);

/* Play in musical time by `clock` (borrowed, set up by the caller, which
 * must keep it alive while set; NULL: none, the model's own timing).
 * The engine calls rnj_clock_tick and takes the clock's events: a caller
 * that wants them (to log a lost clock) reads rnj_engine_take_clock_events.
 * Stops what plays.  RT-safe. */
RNJ_EXTERN void rnj_engine_set_clock(rnj_engine_t *e, rnj_clock_t *clock);

/* MIDI Clock, Start, Continue, Stop or Song Position (`status` 0xF8,
 * 0xFA, 0xFB, 0xFC, 0xF2 with `value` in 16ths) from the input at time
 * `t`, for the clock, and what it changes acted on at once (a Stop
 * silences the answer).  Without a clock: ignored.  RT-safe. */
RNJ_EXTERN void rnj_engine_clock_midi(rnj_engine_t *e, double t, int status,
                                      int value);

/* The time base of the MIDI Clock's messages moved by `delta` s (those
 * after this are stamped that much later than before; see
 * rnj_clock_midi_shift): the clock's MIDI follower moves with them.
 * Without a clock: ignored.  RT-safe. */
RNJ_EXTERN void rnj_engine_clock_midi_shift(rnj_engine_t *e, double delta);

/* The JACK transport as queried at time `t`, for the clock, acted on at
 * once.  Without a clock: ignored.  RT-safe. */
RNJ_EXTERN void rnj_engine_clock_jack(rnj_engine_t *e, double t,
                                      const rnj_clock_jack_t *pos);

/* A plugin host's transport report at time `t`, for the clock (its host
 * source, rnj_clock_host), acted on at once: a stop, or a relocation,
 * silences what plays.  Without a clock: ignored.  RT-safe. */
RNJ_EXTERN void rnj_engine_clock_host(rnj_engine_t *e, double t,
                                      const rnj_clock_host_t *pos);

/* The RNJ_CLOCK_EV_* flags the engine took from its clock since the last
 * call, cleared.  RT-safe. */
RNJ_EXTERN unsigned rnj_engine_take_clock_events(rnj_engine_t *e);

#ifdef __cplusplus
}
#endif
#endif
