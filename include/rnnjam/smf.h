/* Standard MIDI Files: reader and writer.
 *
 * The reader parses formats 0, 1 and 2 into a flat list of timed channel
 * and tempo events per track; it never trusts a length from the file
 * beyond what the file holds (see the RNJ_SMF_* limits) and reports
 * malformed input as "FILE: offset N: expected ...".
 * The writer turns notes into a format-1 file (tempo track + one note
 * track), 120 bpm, 480 ticks per quarter, written atomically.
 *
 * What the reader keeps: note-on, note-off (a note-on with velocity 0 is
 * stored as a note-off), program change and set-tempo.  Every other event
 * is parsed (so lengths are checked) and dropped.
 *
 * Where it is more lenient than the standard, it follows what mido (and so
 * pretty_midi) accepts:
 *   - Running status survives meta and sysex events: a data byte after
 *     them reuses the last channel status of the track.  The standard
 *     says they cancel it, but real files rely on this.
 *   - Unknown chunks are skipped by their length.  Tracks are the MTrk
 *     chunks in file order, up to the count in the header; bytes after
 *     that many tracks are ignored, and a file that ends cleanly (on a
 *     chunk boundary) before that many tracks simply has fewer.
 *   - A track without an end-of-track event ends at its chunk's end.
 *     Bytes after an end-of-track event inside the chunk are ignored.
 *   - The MThd chunk may be longer than 6 bytes; the rest is skipped.
 *   - A single-byte system real-time status (0xF8-0xFE: clock, start,
 *     stop, active sensing... recorded from a live stream) is an event of
 *     its own: its delta time counts and it is skipped, as mido reads it
 *     into a message that pretty_midi ignores.  mido refuses 0xF9 and
 *     0xFD (undefined) and takes the real-time byte as the running status
 *     (a data byte after it is then an error); here every real-time byte
 *     is skipped alike and the channel running status survives it, as
 *     the MIDI standard has it.  Files mido reads give the same events.
 *     A real-time byte inside a channel message (between its data bytes)
 *     is refused, as mido refuses it.
 */
#ifndef RNNJAM_SMF_H
#define RNNJAM_SMF_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"
#include "notes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* rnj_smf_read_file refuses larger files before reading them.  The largest
 * file of the piano corpus is well under 1 MiB. */
#define RNJ_SMF_MAX_FILE_BYTES ((size_t)64 << 20)

/* A header declaring more tracks than this is RNJ_ELIMIT (no more than
 * the declared count are ever read).  Real files have at most a few dozen;
 * the 16-bit field allows 65535.  A count larger than the file could hold
 * (8 bytes per chunk header) is RNJ_EFORMAT. */
#define RNJ_SMF_MAX_TRACKS 4096

/* Absolute ticks are 64-bit and capped here (RNJ_ELIMIT past it), which
 * keeps them exact as doubles and far from overflow whatever the input.
 * At 960 ticks a second this is over 36 years. */
#define RNJ_SMF_MAX_TICK ((int64_t)1 << 40)

/* A variable-length quantity has at most 4 bytes (28 bits) in an SMF. */
#define RNJ_SMF_MAX_VLQ_BYTES 4

typedef enum {
  RNJ_SMF_NOTE_OFF = 1, /* 8n, or 9n with velocity 0 */
  RNJ_SMF_NOTE_ON = 2,  /* 9n with velocity > 0 */
  RNJ_SMF_PROGRAM = 3,  /* Cn */
  RNJ_SMF_TEMPO = 4     /* FF 51 03 tt tt tt */
} rnj_smf_event_type_t;

typedef struct rnj_smf_event_s {
  int64_t tick;     /* absolute, from the start of the track */
  uint32_t tempo;   /* RNJ_SMF_TEMPO: microseconds per quarter (> 0) */
  uint8_t type;     /* rnj_smf_event_type_t */
  uint8_t channel;  /* 0..15 (0 for tempo) */
  uint8_t key;      /* note number, or program for RNJ_SMF_PROGRAM */
  uint8_t velocity; /* note-on/off velocity (0 otherwise) */
} rnj_smf_event_t;

typedef struct rnj_smf_track_s {
  rnj_smf_event_t *events; /* points into rnj_smf_t.events; in file order,
                              so ticks never decrease */
  size_t n;
  int64_t end_tick; /* tick of the track's last event of any kind */
} rnj_smf_track_t;

/* One segment of the tempo map: from `tick` on, a tick lasts `scale`
 * seconds; `seconds` is the time of `tick`; `tempo` is the set-tempo value
 * that made it, in microseconds per quarter (500000 for the 120 bpm start,
 * and for SMPTE files, whose time ignores tempo). */
typedef struct rnj_smf_tempo_s {
  int64_t tick;
  double seconds;
  double scale;
  uint32_t tempo;
} rnj_smf_tempo_t;

/* A parsed file.  Everything is owned by the struct (one allocation) and
 * released by rnj_smf_free; the input buffer is not referenced after
 * reading. */
typedef struct rnj_smf_s {
  int format;            /* 0, 1 or 2 */
  int declared_tracks;   /* the header's count (ntracks may be smaller) */
  int ticks_per_quarter; /* > 0, or 0 for SMPTE time */
  double smpte_fps;      /* SMPTE: 24, 25, 29.97 (code 29) or 30; else 0 */
  int ticks_per_frame;   /* SMPTE: ticks per frame; else 0 */
  rnj_smf_track_t *tracks; /* (ntracks) */
  size_t ntracks;
  rnj_smf_event_t *events; /* (nevents) all tracks' events, track by track */
  size_t nevents;
  /* (ntempo >= 1), ticks increasing.  Built the way pretty_midi builds its
   * tick scales, so that times match the tutorial's to the last bit:
   *   - only set-tempo events of track 0 count (format 0 and well-formed
   *     format 1 files keep every tempo there; format 2 has no shared
   *     timeline and gets track 0's map too);
   *   - 120 bpm until the first tempo event; tempo events at tick 0 replace
   *     the initial segment (the last one at tick 0 wins);
   *   - a later event starts a new segment only if its seconds-per-tick
   *     differs from the previous segment's;
   *   - scale = 60 / ((6e7 / tempo) * ticks_per_quarter), and each segment
   *     starts at the previous one's seconds + ticks * scale.
   * SMPTE files have one segment of 1 / (fps * ticks_per_frame) seconds;
   * their tempo events do not affect time. */
  rnj_smf_tempo_t *tempo;
  size_t ntempo;
} rnj_smf_t;

/* Parse `len` bytes at `buf` into `smf` (any previous contents are not
 * freed: pass a zeroed or freed struct).  `name` (may be NULL) is the file
 * name used in error messages: "NAME: offset N: expected ...".
 * Allocation is proportional to the events kept, never to a length read
 * from the file.  Not RT-safe; `buf` is only read during the call.
 * Returns 0, or RNJ_EFORMAT (malformed), RNJ_ELIMIT (a limit above
 * exceeded) or RNJ_ENOMEM, with `smf` left zeroed. */
RNJ_EXTERN int rnj_smf_read_mem(rnj_smf_t *smf, const uint8_t *buf,
                                size_t len, const char *name, char *err);

/* Read `path` (at most RNJ_SMF_MAX_FILE_BYTES) and parse it as above.
 * Also returns the negative errno of open/read failures. */
RNJ_EXTERN int rnj_smf_read_file(rnj_smf_t *smf, const char *path,
                                 char *err);

/* Release what a read allocated and zero `smf`.  Safe on a zeroed struct
 * and safe to call twice. */
RNJ_EXTERN void rnj_smf_free(rnj_smf_t *smf);

/* The time in seconds of absolute `tick` (>= 0) through the tempo map.
 * `hint` may be NULL; otherwise it holds a segment index (start it at 0)
 * that the call updates, which makes a run of non-decreasing ticks cost
 * O(1) each instead of a binary search.  Pure; safe from any thread on a
 * struct nobody modifies. */
RNJ_EXTERN double rnj_smf_seconds(const rnj_smf_t *smf, int64_t tick,
                                  size_t *hint);

/* ---------------------------------------------------------- tempo map
 *
 * The conversions between ticks, seconds and beats of one parsed file,
 * through its tempo map (the one above, so a note's seconds and these
 * agree to the bit).  Ticks are fractional where a time falls between
 * two; the map's last segment goes on past the file's end and its first
 * one before tick 0.  Beats are quarter notes: ticks / ticks_per_quarter,
 * tempo-free.  An SMPTE file has no quarter note: its beats are seconds * 2
 * (120 bpm) and its tempo is 120 bpm.  All are pure: safe from any thread
 * on a struct nobody modifies, and O(log segments). */

/* Seconds at a fractional `tick`; equal to rnj_smf_seconds at whole
 * ticks. */
RNJ_EXTERN double rnj_smf_seconds_at(const rnj_smf_t *smf, double tick);

/* The (fractional) tick at `seconds`: the inverse of rnj_smf_seconds_at. */
RNJ_EXTERN double rnj_smf_ticks(const rnj_smf_t *smf, double seconds);

/* Beats at `tick`: tick / ticks_per_quarter, or seconds * 2 (SMPTE). */
RNJ_EXTERN double rnj_smf_beats(const rnj_smf_t *smf, int64_t tick);

/* The (fractional) tick at `beats`: beats * ticks_per_quarter, or the tick
 * at beats / 2 seconds (SMPTE). */
RNJ_EXTERN double rnj_smf_beat_ticks(const rnj_smf_t *smf, double beats);

/* Seconds at `beats`, and beats at `seconds`, through the tempo map. */
RNJ_EXTERN double rnj_smf_beat_seconds(const rnj_smf_t *smf, double beats);
RNJ_EXTERN double rnj_smf_second_beats(const rnj_smf_t *smf,
                                       double seconds);

/* The tempo in force at `tick`, in quarter notes a minute (60 / the
 * seconds of ticks_per_quarter ticks); 120 for SMPTE files. */
RNJ_EXTERN double rnj_smf_bpm(const rnj_smf_t *smf, double tick);

/* ------------------------------------------------------------- writer */

/* The writer's timing: 480 ticks per quarter at 120 bpm, 960 ticks a
 * second.  Times past RNJ_SMF_WRITE_MAX_SECONDS (where delta times would
 * need more than 4 bytes; 279620 s is 77.7 hours) are refused. */
#define RNJ_SMF_WRITE_TICKS_PER_QUARTER 480
#define RNJ_SMF_WRITE_TICKS_PER_SECOND 960
#define RNJ_SMF_WRITE_MAX_SECONDS 279620.0

/* Beats mode: the largest tick written (delta times stay within the
 * 4 bytes of a variable-length quantity), and the tempi --tempo accepts
 * (a set-tempo event holds 24 bits of microseconds a quarter). */
#define RNJ_SMF_WRITE_MAX_TICK ((int64_t)0x0fffffff)
#define RNJ_SMF_WRITE_MIN_BPM 4.0
#define RNJ_SMF_WRITE_MAX_BPM 1000.0

typedef struct rnj_smf_write_opts_s {
  int program;  /* 0..127, General MIDI program (default 0: piano) */
  int velocity; /* 1..127, used for notes whose velocity is 0 (default 100) */
  int channel;  /* 0..15 (default 0) */
  /* Timing.  With neither (the default): 120 bpm, 480 ticks a quarter,
   * ticks from the notes' seconds.  With either: "beats mode", ticks from
   * the notes' start_beat/end_beat, tick = llround(beat * division), so
   * a beat that falls on a tick is written on it exactly. */
  const struct rnj_smf_s *tempo_map; /* borrowed, may be NULL: a file
      whose division and tempo map (its segments up to the last note-off)
      are copied; an SMPTE file gives 480 ticks a quarter at 120 bpm,
      its beats' own tempo */
  int64_t tempo_offset; /* 0, or the map's tick that is the output's
      tick 0 (>= 0): the map is copied from there, the tempo in force at
      it first, so that notes moved back by whole beats keep their tempo
      (the notes' beats are the output's; the caller moves them) */
  double bpm; /* 0, or one tempo for the whole file instead of the map's
      (RNJ_SMF_WRITE_MIN_BPM..RNJ_SMF_WRITE_MAX_BPM); the division is still
      the map's if there is one */
} rnj_smf_write_opts_t;

/* Defaults: program 0, velocity 100, channel 0, 120 bpm from seconds,
 * no offset. */
RNJ_EXTERN void rnj_smf_write_opts_init(rnj_smf_write_opts_t *opts);

/* Write `notes` (their start/end seconds, pitch and velocity) to `path` as a
 * format-1 SMF at 120 bpm and 480 ticks per quarter, or in beats mode
 * (their start_beat/end_beat) in the tempo that `opts` gives.  Atomic: a
 * temporary file in the same directory is fsynced and renamed over `path`.
 * `opts` may be NULL for the defaults.
 *
 * Track 0 holds the tempo; track 1 a program change, then the notes with
 * tick = llround(seconds * 960) (or llround(beat * division)).  A note
 * whose end tick is not after its start tick gets one tick, so it
 * survives being read back.  At equal ticks
 * note-offs come before note-ons.  Notes need not be sorted.  The note's
 * own channel and program are ignored (opts decide); MIDI cannot express
 * two overlapping notes of the same pitch, and a reader will end both at
 * the first note-off.
 * Returns 0; RNJ_EINVAL with `err` naming the option or the note index
 * (bad option, pitch > 127, NaN, negative or too large times or beats);
 * RNJ_ELIMIT for more than RNJ_NOTES_MAX notes; RNJ_ENOMEM; or the
 * negative errno of a failed write (then `path` is untouched).
 * Not RT-safe. */
RNJ_EXTERN int rnj_smf_write_notes(const char *path, const rnj_note_t *notes,
                                   size_t n,
                                   const rnj_smf_write_opts_t *opts,
                                   char *err);

#ifdef __cplusplus
}
#endif
#endif
