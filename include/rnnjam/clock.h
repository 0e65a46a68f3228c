/* The beat clock: musical time (beats, bars, tempo) against engine time.
 *
 * Engine time is the caller's monotonic time base in seconds (rnnjamd:
 * the output queue's clock), passed with every call; the clock never
 * reads a clock itself.  Musical time is in beats (quarter notes), counted
 * from the clock's origin, with bars of `beats_per_bar` beats.  The
 * mapping between them, a timeline (a time, the beat at that time, the
 * seconds per beat, rolling or stopped), comes from one source:
 *
 *   midi    MIDI Clock: 24 pulses (0xF8) a beat, Start (0xFA), Continue
 *           (0xFB), Stop (0xFC), Song Position Pointer (0xF2, in 16ths),
 *           from rnj_clock_midi.  The pulses' jitter is smoothed by
 *           delay-locked loops (see src/clock.c); a tempo change is
 *           followed within a beat; pulses lost on the way (an xrun)
 *           are counted from the gap they leave, pulses delivered late
 *           in a burst (a stalled system) are counted but not timed,
 *           and a doubled connection (every pulse twice) is recognised
 *           by its pattern; when pulses stop coming (none for
 *           RNJ_CLOCK_LOSS_PULSES expected intervals) the clock keeps the
 *           last tempo and says so once (RNJ_CLOCK_EV_LOST).
 *   jack    JACK transport, from what jack_transport_query returned at a
 *           known engine time (rnj_clock_jack; the clock calls no JACK
 *           function): rolling or stopped, bar, beat, tick and tempo of a
 *           timebase master, or, without one, the transport's frame
 *           position at the configured tempo.
 *   player  the player's own tempo and beat phase, estimated from the
 *           onsets of each phrase (rnj_clock_onset, rnj_clock_phrase_end,
 *           rnj_tempo_estimate); always rolling.
 *   fixed   the configured tempo; always rolling.
 *   host    a plugin host's transport (LV2 time:Position), from
 *           rnj_clock_host: a host reports only what changed (a start, a
 *           stop, a relocation, a new tempo), not every period, so the
 *           timeline never goes stale; while rolling it runs on at the
 *           reported tempo, and a report within RNJ_CLOCK_HOST_ROUND of it
 *           (a host rounds its position: jalv to 1/1920 beat) leaves it
 *           be, so the grid does not wobble.  Until the transport first
 *           rolls (a host without one, or stopped since the start) the
 *           clock runs free at the configured tempo (the last the host
 *           reported) from its origin, so the same input at the same
 *           times plays the same way on every run.  Once the transport
 *           has rolled, its stop (or a relocation while stopped) stops
 *           the clock where the transport stands, until it rolls again
 *           or the player plays (rnj_clock_onset): from that onset,
 *           taken as the beat nearest to where the transport stands, the
 *           clock runs free, so a player jamming with the transport
 *           stopped is answered.  Chosen explicitly, never by auto.
 *   auto    MIDI Clock while its pulses arrive, else JACK transport while
 *           a timebase master gives bar/beat and the transport rolls, else
 *           the player.  A MIDI clock or JACK transport that was stopped
 *           (Stop, or the transport stopped) stays in use, stopped, for
 *           RNJ_CLOCK_HOLD seconds, so that a master's stop stops the
 *           answers rather than handing over to the player.
 *
 * Switching sources keeps the beat position continuous where the new
 * source has no position of its own (the player, a MIDI clock joined
 * without Start or Song Position); the player takes over the tempo and
 * phase in force.  A source with a position (a JACK timebase master, a
 * MIDI clock after Start or Song Position) is followed exactly, and a
 * difference is reported as a jump.
 *
 * Beats while stopped: rnj_clock_beat_at returns the position where the
 * transport stopped, whatever the time; rnj_clock_time_of extrapolates at
 * the last tempo as though it had kept rolling (meaningful only once it
 * rolls again).  Rolling or not, the engine should ask rnj_clock_rolling
 * before it plays.
 *
 * Events: what changed since the caller last asked (rnj_clock_take_events)
 * comes as RNJ_CLOCK_EV_* flags, so the engine can stop answers on a stop,
 * re-plan on a jump and the daemon can log a loss once.
 *
 * Threading: one thread calls everything (rnnjamd's loop: JACK positions
 * and MIDI bytes from JACK's process thread reach it through the rings,
 * with their frame times).  Every function is RT-safe: no allocation, no
 * lock, no I/O, bounded work; the caller allocates rnj_clock_t, which
 * holds every buffer.  Only rnj_clock_parse_source formats text (an error
 * message) and is meant for set-up.
 */
#ifndef RNNJAM_CLOCK_H
#define RNNJAM_CLOCK_H

#include <stdint.h>

#include "common.h"
#include "err.h"
#include "grid.h"
#include "tempo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MIDI Clock pulses per beat (quarter note). */
#define RNJ_CLOCK_PPQ 24
/* Delay-locked loops run side by side on the MIDI pulses (src/clock.c). */
#define RNJ_CLOCK_DLLS 4
/* Pulse times kept to re-seed the loops after a tempo change. */
#define RNJ_CLOCK_HISTORY 8
/* Pulses whose errors together show a tempo change (src/clock.c). */
#define RNJ_CLOCK_DETECT 3
/* The player's onsets kept for the next estimate (a phrase longer than
 * this is estimated from its last RNJ_CLOCK_ONSETS onsets). */
#define RNJ_CLOCK_ONSETS RNJ_TEMPO_MAX_ONSETS

/* A MIDI clock is lost after this many expected pulse intervals without a
 * pulse (the 3: jitter of even 50 % never stretches an interval
 * that far, and 3 intervals at 60 bpm are 125 ms, well under a beat). */
#define RNJ_CLOCK_LOSS_PULSES 3.0
/* Seconds a stopped external source (MIDI Stop, a stopped JACK
 * transport) stays in use under auto before the player takes over: a
 * stop in a DAW or on a drum machine is usually followed by a restart
 * within seconds, and answering the player meanwhile would clash with
 * it. */
#define RNJ_CLOCK_HOLD 10.0
/* Seconds without a JACK position after which JACK counts as gone
 * (rnnjamd passes one per period, or per loop wake-up: well under). */
#define RNJ_CLOCK_JACK_STALE 0.5
/* A host's report that puts the position within this many beats of where
 * the timeline has it is rounding, and the timeline keeps its own: jalv
 * gives JACK's bar, beat and tick, which klick rounds down to 1/1920 beat
 * (15 frames at 100 bpm, 48 kHz).  Beyond it the host is followed. */
#define RNJ_CLOCK_HOST_ROUND (1.0 / 960)
/* A position that moves by more than this many beats from where the
 * timeline put it is reported as a jump (RNJ_CLOCK_EV_JUMP); smaller
 * moves are the smoothing at work (2.5 ms at 120 bpm). */
#define RNJ_CLOCK_JUMP_BEATS 0.005
/* A tempo that moves by more than this fraction since the last report is
 * reported (RNJ_CLOCK_EV_TEMPO). */
#define RNJ_CLOCK_TEMPO_EVENT 0.01
/* Tempo limits, bpm: the configured tempo, and MIDI pulses or a JACK
 * tempo outside them are ignored as nonsense (an interval of 5.2 ms to
 * 125 ms between pulses).  The model's time is in beats, so any sane
 * tempo works. */
#define RNJ_CLOCK_MIN_BPM 20.0
#define RNJ_CLOCK_MAX_BPM 480.0
/* The player's estimate is used only with at least this confidence
 * (rnj_tempo_t.confidence): half its events on the fitted grid. */
#define RNJ_CLOCK_PLAYER_MIN_CONFIDENCE 0.5

typedef enum {
  RNJ_CLOCK_AUTO = 0, /* a choice only: never the source in use */
  RNJ_CLOCK_MIDI,
  RNJ_CLOCK_JACK,
  RNJ_CLOCK_PLAYER,
  RNJ_CLOCK_FIXED,
  RNJ_CLOCK_HOST /* a plugin host's transport: only when chosen */
} rnj_clock_source_t;

/* Flags from rnj_clock_take_events. */
enum {
  RNJ_CLOCK_EV_START = 1 << 0,  /* started rolling (Start, Continue, JACK
                                   rolling, or a switch to a rolling
                                   source) */
  RNJ_CLOCK_EV_STOP = 1 << 1,   /* stopped rolling: stop answering and
                                   silence what sounds */
  RNJ_CLOCK_EV_JUMP = 1 << 2,   /* the position moved (Start, Song Position,
                                   a JACK relocate, a switch of source) */
  RNJ_CLOCK_EV_LOST = 1 << 3,   /* the MIDI clock stopped arriving (the last
                                   tempo is kept); once per loss */
  RNJ_CLOCK_EV_LOCKED = 1 << 4, /* a MIDI clock is being followed (first
                                   pulses, or pulses again after a loss) */
  RNJ_CLOCK_EV_SOURCE = 1 << 5, /* the source in use changed */
  RNJ_CLOCK_EV_TEMPO = 1 << 6   /* the tempo moved by RNJ_CLOCK_TEMPO_EVENT
                                   or more */
};

typedef struct rnj_clock_params_s {
  int source;        /* rnj_clock_source_t: the configured choice */
  double bpm;        /* the fixed tempo, and the tempo until another
                        source gives one (RNJ_CLOCK_MIN_BPM..MAX_BPM) */
  int beats_per_bar; /* 1..32; a JACK timebase master's overrides it */
} rnj_clock_params_t;

/* What jack_transport_query returned (the caller copies the fields). */
typedef struct rnj_clock_jack_s {
  int rolling;             /* state == JackTransportRolling */
  double seconds;          /* position: frame / frame_rate */
  int bbt;                 /* valid & JackPositionBBT: the fields below
                              come from a timebase master */
  int32_t bar;             /* from 1 */
  int32_t beat;            /* from 1 */
  int32_t tick;            /* 0 .. ticks_per_beat */
  double ticks_per_beat;
  double beats_per_minute; /* taken as quarter notes per minute, as
                              jack_midi_clock does by default */
  double beats_per_bar;
} rnj_clock_jack_t;

/* What a plugin host's transport report (an LV2 time:Position object)
 * said; a host sends only some fields, so has_* says which.  Beats are
 * the host's (of 1/beat_unit notes); the clock counts quarter notes. */
typedef struct rnj_clock_host_s {
  int has_speed;
  double speed;         /* time:speed: 0 stopped, 1 rolling (< 0, a
                           transport rewinding, is taken as stopped) */
  int has_bpm;
  double bpm;           /* time:beatsPerMinute */
  int has_bbt;          /* time:bar and time:barBeat */
  int64_t bar;          /* from 0 */
  double bar_beat;      /* beats into the bar */
  int has_beat;         /* time:beat (used without bar and barBeat) */
  double beat;          /* beats from the start */
  double beats_per_bar; /* time:beatsPerBar; 0: unknown */
  int beat_unit;        /* time:beatUnit (4: a quarter); 0: unknown */
} rnj_clock_host_t;

/* A mapping between time and beats (what the queries read). */
typedef struct rnj_clock_line_s {
  double t0;         /* s */
  double b0;         /* beat at t0 (and at any time while stopped) */
  double spb;        /* seconds per beat, > 0 */
  int rolling;
  double bar_beat;   /* a beat on which a bar starts ... */
  int64_t bar_index; /* ... and its bar number (from 0) */
  double bpb;        /* beats per bar */
} rnj_clock_line_t;

/* One delay-locked loop on the pulses (internal). */
typedef struct rnj_clock_dll_s {
  double t1;    /* predicted time of the next pulse, s */
  double e2;    /* filtered pulse interval, s */
  double mse;   /* running mean of its squared prediction error, s^2 */
  double b;     /* its steady gains: phase ... */
  double c;     /* ... and interval */
  double k;     /* intervals in e2 since the (re)seed (its acquisition) */
} rnj_clock_dll_t;

/* The MIDI Clock follower (internal). */
typedef struct rnj_clock_midi_s {
  rnj_clock_dll_t dll[RNJ_CLOCK_DLLS];
  int sel;          /* the loop in use */
  int n;            /* pulses since (re)acquisition; 0: none yet */
  double hist[RNJ_CLOCK_HISTORY]; /* times of the pulses timed, a ring */
  int64_t hist_n[RNJ_CLOCK_HISTORY]; /* ... and their pulse numbers */
  int hist_head;    /* where the next one goes */
  double last;      /* raw time of the last pulse received */
  int held;         /* pulses of an irregular run (a gap, a burst) not
                       yet numbered; 0: none */
  double held_gap;  /* the interval before the run, in intervals */
  double held_from; /* time of the pulse before the run */
  double held_last; /* time of the run's last pulse */
  double var;       /* running variance of the prediction error, s^2 */
  double var3;      /* ... and of the mean of RNJ_CLOCK_DETECT of them */
  int var_n;        /* samples in them */
  int mse_n;        /* samples in the loops' mean squared errors */
  double ac;        /* running mean of the follower's successive errors'
                       products (their lag-1 covariance), s^2 */
  double prev_err;  /* the follower's last error, s */
  double recent[RNJ_CLOCK_DETECT]; /* the latest errors, a ring ... */
  double recent_f[RNJ_CLOCK_DETECT]; /* ... and the follower's */
  int recent_head;  /* where the next one goes */
  int recent_n;     /* errors in it since the last (re)seed */
  int64_t next;     /* pulse number of the next pulse */
  int64_t slot;     /* pulses passed since the first (timed, late or
                       lost; also while stopped) */
  double base;      /* beat of pulse number 0 */
  int absolute;     /* the position came from Start or Song Position */
  int fresh;        /* Start, Continue or Song Position numbered the
                       next pulse */
  int rolling;
  int running_known; /* a Start, Continue or Stop was seen */
  int lost;         /* pulses stopped; freewheeling */
  double stopped_at; /* when Stop came */
} rnj_clock_midi_t;

/* The JACK transport follower (internal). */
typedef struct rnj_clock_jack_state_s {
  rnj_clock_line_t line; /* as the last position gave it */
  int seen;              /* a position came */
  int bbt;
  double updated;        /* when */
  double rolled;         /* last time it was rolling with BBT */
} rnj_clock_jack_state_t;

/* The plugin host's transport follower (internal). */
typedef struct rnj_clock_host_state_s {
  rnj_clock_line_t line; /* the host's timeline, or free time */
  double bpm;        /* quarter notes a minute at speed 1 */
  double speed;      /* the last speed reported */
  double bpb;        /* quarter notes a bar */
  int unit;          /* the host's beat unit */
  int rolling;       /* the host's transport rolls, as last reported */
  int rolled;        /* it has rolled since the clock started */
  int held;          /* stopped by the host: until it rolls, or an onset */
  double stop_beat;  /* where the host's transport stands while stopped */
} rnj_clock_host_state_t;

/* The player follower (internal). */
typedef struct rnj_clock_player_s {
  double onsets[RNJ_CLOCK_ONSETS]; /* a ring */
  int head;          /* where the next onset goes */
  int n;             /* onsets in the ring */
  int phrase;        /* of which the current phrase's */
  rnj_tempo_t last;  /* the last estimate used */
  int estimated;     /* `last` is set */
  rnj_clock_line_t line;
} rnj_clock_player_t;

typedef struct rnj_clock_stats_s {
  uint64_t pulses;      /* MIDI clock pulses taken */
  uint64_t pulses_ignored; /* a doubled connection's second pulses,
                              and pulses out of order */
  uint64_t pulses_late; /* delivered late (a burst after a stall):
                           counted, not timed */
  uint64_t pulses_lost; /* never delivered (an xrun), counted from the
                           gap they left */
  uint64_t starts;      /* MIDI Start and Continue */
  uint64_t stops;       /* MIDI Stop */
  uint64_t songpos;     /* MIDI Song Position Pointer */
  uint64_t losses;      /* MIDI clock lost */
  uint64_t relocks;     /* tempo changes the loops re-seeded for */
  uint64_t jack_positions; /* JACK positions taken */
  uint64_t jumps;       /* RNJ_CLOCK_EV_JUMP raised */
  uint64_t phrases;     /* phrase ends seen */
  uint64_t estimates;   /* player estimates used */
  uint64_t switches;    /* source changes */
  uint64_t host_positions; /* plugin host reports taken */
} rnj_clock_stats_t;

/* Where the music is at a time (rnj_clock_position). */
typedef struct rnj_clock_pos_s {
  double beat;          /* beats from the clock's origin */
  int64_t bar;          /* bar number, from 0 */
  double beat_in_bar;   /* 0 .. beats_per_bar */
  double beats_per_bar;
  double bpm;
  int rolling;
  int source;           /* rnj_clock_source_t in use */
} rnj_clock_pos_t;

typedef struct rnj_clock_s {
  rnj_clock_params_t p;
  int source;            /* in use (never RNJ_CLOCK_AUTO) */
  rnj_clock_line_t line; /* in use: what the queries read */
  rnj_clock_line_t fixed;
  rnj_clock_midi_t midi;
  rnj_clock_jack_state_t jack;
  rnj_clock_host_state_t host;
  rnj_clock_player_t player;
  unsigned events;       /* RNJ_CLOCK_EV_* not yet taken */
  double reported_spb;   /* tempo at the last RNJ_CLOCK_EV_TEMPO */
  rnj_clock_stats_t stats;
} rnj_clock_t;

/* Defaults: auto, 120 bpm, 4 beats per bar. */
RNJ_EXTERN void rnj_clock_params_default(rnj_clock_params_t *p);

/* Set up `c` (caller-allocated) with `p` at time `now`: beat 0 is at
 * `now`, at p->bpm.  Returns 0, or RNJ_EINVAL (`p` out of range; `c` is
 * then set up with the defaults).  RT-safe. */
RNJ_EXTERN int rnj_clock_init(rnj_clock_t *c, const rnj_clock_params_t *p,
                              double now);

/* New settings (a reload) at `now`: the fixed tempo and bar length change
 * without a jump in position, a new source choice applies at once.
 * Returns 0 or RNJ_EINVAL (nothing changed).  RT-safe. */
RNJ_EXTERN int rnj_clock_set_params(rnj_clock_t *c,
                                    const rnj_clock_params_t *p, double now);

/* A MIDI system message at time `t`: `status` 0xF8 (clock), 0xFA (start),
 * 0xFB (continue), 0xFC (stop) or 0xF2 (song position: `value` is the
 * position in 16th notes, 0..16383); any other status (0xF9, 0xFE, 0xFF,
 * ...) is ignored.  Pulses are smoothed whatever the source in use, so a
 * switch to MIDI finds the clock locked.  RT-safe. */
RNJ_EXTERN void rnj_clock_midi(rnj_clock_t *c, double t, int status,
                               int value);

/* The time base of the MIDI Clock's messages moved: those from now on
 * are stamped `delta` s later than the ones before would have been
 * (rnnjamd's JACK side re-sets its frame clock to the wall clock after a
 * stalled server).  The follower's times move with them, so the pulses go
 * on being counted (the step is not taken for pulses lost) and the beat
 * stays on the same pulses.  RT-safe. */
RNJ_EXTERN void rnj_clock_midi_shift(rnj_clock_t *c, double delta);

/* The JACK transport as `pos` describes it at time `t` (the engine time
 * of the frame the query was about).  RT-safe. */
RNJ_EXTERN void rnj_clock_jack(rnj_clock_t *c, double t,
                               const rnj_clock_jack_t *pos);

/* A plugin host's transport report `pos`, valid at time `t` (the engine
 * time of the frame it came with; reports must not go back in time).  A
 * start, a stop, a relocation by more than RNJ_CLOCK_HOST_ROUND or a new
 * tempo moves the host's timeline; see "host" above for free time and
 * stops.  Reports with nonsense (a tempo outside RNJ_CLOCK_MIN_BPM..
 * MAX_BPM, a non-finite position) keep what was known.  RT-safe. */
RNJ_EXTERN void rnj_clock_host(rnj_clock_t *c, double t,
                               const rnj_clock_host_t *pos);

/* The player struck a note (or a chord: every note-on may be passed) at
 * `t`.  Times must not decrease.  A host's transport that stopped the
 * clock lets it run free from `t` (see "host" above).  RT-safe. */
RNJ_EXTERN void rnj_clock_onset(rnj_clock_t *c, double t);

/* The player's phrase ended (the engine's phrase gap passed) at `now`.
 * When the player is the source in use, its onsets since the last phrase
 * end give a new tempo and beat phase (rnj_tempo_estimate, with the tempo
 * in force as the prior), taken when confident enough.  A phrase with
 * too few notes is kept and joined to the next.  Returns 1 when the
 * timeline was updated, else 0.  RT-safe (bounded: RNJ_CLOCK_ONSETS). */
RNJ_EXTERN int rnj_clock_phrase_end(rnj_clock_t *c, double now);

/* Housekeeping at `now`: notice a lost MIDI clock, a JACK server that went
 * quiet, a hold that ran out, and switch sources under auto.  Call it
 * whenever the loop wakes (the engine's tick).  Returns the time by which
 * it wants to be called again (HUGE_VAL: only when something arrives).
 * RT-safe. */
RNJ_EXTERN double rnj_clock_tick(rnj_clock_t *c, double now);

/* The RNJ_CLOCK_EV_* flags raised since the last call, cleared.
 * RT-safe. */
RNJ_EXTERN unsigned rnj_clock_take_events(rnj_clock_t *c);

/* --------------------------------------------------------- queries */
/* All RT-safe, pure reads of `c`. */

/* The beat at time `t` (the stopped position while stopped). */
RNJ_EXTERN double rnj_clock_beat_at(const rnj_clock_t *c, double t);

/* The time of beat `beat` at the current tempo. */
RNJ_EXTERN double rnj_clock_time_of(const rnj_clock_t *c, double beat);

/* The tempo in force, beats (quarter notes) per minute. */
RNJ_EXTERN double rnj_clock_bpm(const rnj_clock_t *c);

/* 1 while rolling, 0 while stopped. */
RNJ_EXTERN int rnj_clock_rolling(const rnj_clock_t *c);

/* The source in use (rnj_clock_source_t, never RNJ_CLOCK_AUTO). */
RNJ_EXTERN int rnj_clock_source(const rnj_clock_t *c);

/* Beat, bar, beat in the bar, tempo, state and source at time `t`. */
RNJ_EXTERN void rnj_clock_position(const rnj_clock_t *c, double t,
                                   rnj_clock_pos_t *pos);

/* The time of the first beat (bar line) at or after `t`: where an answer
 * with answer_start = beat (bar) begins.  While stopped: `t`. */
RNJ_EXTERN double rnj_clock_next_beat(const rnj_clock_t *c, double t);
RNJ_EXTERN double rnj_clock_next_bar(const rnj_clock_t *c, double t);

/* When an answer whose silence ended at `t` starts, for `mode`
 * (rnj_answer_start_t): t itself, or the next beat or bar line. */
RNJ_EXTERN double rnj_clock_answer_start(const rnj_clock_t *c, int mode,
                                         double t);

/* The time of the first MIDI clock pulse (1/24 beat) at or after `t`,
 * for sending clock; while stopped: HUGE_VAL. */
RNJ_EXTERN double rnj_clock_next_pulse(const rnj_clock_t *c, double t);

/* Time `t` on grid `g` through the timeline (off, or stopped:
 * unchanged). */
RNJ_EXTERN double rnj_clock_quantize(const rnj_clock_t *c,
                                     const rnj_grid_t *g, double t);

/* A note from `t_on` to `t_off` on grid `g` (rnj_grid_note through the
 * timeline; off, or stopped: unchanged). */
RNJ_EXTERN void rnj_clock_quantize_note(const rnj_clock_t *c,
                                        const rnj_grid_t *g, double t_on,
                                        double t_off, double *q_on,
                                        double *q_off);

/* The config spelling of a source ("auto", "midi", "jack", "player",
 * "fixed"); "?" when out of range.  Static strings. */
RNJ_EXTERN const char *rnj_clock_source_name(int source);

/* Parse a source choice (case-insensitive, blanks around ignored); on
 * failure RNJ_EINVAL with `err`: "clock: expected auto, midi, jack,
 * player or fixed, got 'x'".  Not RT-safe (formats `err`). */
RNJ_EXTERN int rnj_clock_parse_source(const char *s, int *source,
                                      char *err);

#ifdef __cplusplus
}
#endif
#endif
