/* Sound through fluidsynth: finding a soundfont, a synth ready for a
 * real-time audio thread, and offline rendering of MIDI to WAV.
 *
 * Soundfont.  A configured path is used as given; otherwise the first
 * readable one of Debian's general-MIDI soundfonts
 * (RNJ_SYNTH_DEFAULT_SOUNDFONTS).  A file is accepted when it can be
 * opened and starts like a SoundFont (a RIFF "sfbk" chunk); the message
 * for a refusal names every path tried.
 *
 * Logging.  fluidsynth prints to stderr by default; this module replaces
 * its log functions (process-wide, once) so that nothing is printed and
 * the last error or warning of the calling thread goes into the `err` of
 * the call that failed.
 *
 * Threading.  rnj_synth_init/free and the render functions are set-up
 * calls (they allocate and read files).  The functions marked RT-safe may
 * run in a JACK process callback: the synth is created with fluidsynth's
 * thread-safe API off (no mutex; one thread must own the synth while it
 * plays), one rendering core (no worker threads), and every sample loaded
 * up front, so a note-on, a control change and fluid_synth_write_float
 * neither allocate, lock nor read files.
 */
#ifndef RNNJAM_SYNTH_H
#define RNNJAM_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"
#include "notes.h"

#ifdef __cplusplus
extern "C" {
#endif

struct _fluid_hashtable_t;
struct _fluid_synth_t;

/* Where Debian's soundfont packages put their files, in order of
 * preference: fluid-soundfont-gm (142 MiB, the best), timgm6mb-soundfont
 * (6 MiB), and the alternatives link any GM package may provide. */
#define RNJ_SYNTH_DEFAULT_SOUNDFONTS                                          \
  {"/usr/share/sounds/sf2/FluidR3_GM.sf2",                                    \
   "/usr/share/sounds/sf2/TimGM6mb.sf2",                                      \
   "/usr/share/sounds/sf2/default-GM.sf2"}
#define RNJ_SYNTH_N_DEFAULT_SOUNDFONTS 3

/* fluidsynth's own default output gain; loud enough for one piano line
 * without clipping a dense chord. */
#define RNJ_SYNTH_DEFAULT_GAIN 0.2

/* Choose the soundfont.  `path` non-empty: that file, which must be
 * readable and look like a SoundFont.  `path` NULL or "": the first
 * usable file of `candidates` (n of them; NULL for the defaults above).
 * The chosen path is copied into `out` (out_len bytes).
 * Returns 0, or a negative code with `err` naming every path tried and
 * why each was refused, e.g. "no usable soundfont: tried
 * /usr/share/sounds/sf2/FluidR3_GM.sf2 (No such file or directory), ...".
 * Thread-safe. */
RNJ_EXTERN int rnj_synth_find_soundfont(const char *path,
                                        const char *const *candidates,
                                        size_t n, char *out, size_t out_len,
                                        char *err);

typedef struct rnj_synth_s {
  struct _fluid_hashtable_t *settings; /* owned */
  struct _fluid_synth_t *synth;        /* owned */
  double sample_rate;                  /* Hz */
  int sfont_id;
} rnj_synth_t;

/* Create a synth at `sample_rate` Hz with output gain `gain` (0..10),
 * load `soundfont` (a path, e.g. from rnj_synth_find_soundfont) and select
 * General MIDI `program` (0..127) on every channel but the drums (10).
 * Reverb and chorus are off: with them fluidsynth allocates in every
 * rnj_synth_write (see synth.c).  Offline renders keep them.
 * `s` is caller-allocated.  Loading reads the whole soundfont (0.1 s for
 * a 6 MiB file, seconds for 142 MiB).  Returns 0, or a negative code with
 * `err` ("soundfont X: fluidsynth cannot load it: <its message>");
 * everything acquired is released on failure.  Not RT-safe. */
RNJ_EXTERN int rnj_synth_init(rnj_synth_t *s, const char *soundfont,
                              double sample_rate, double gain, int program,
                              char *err);

/* Release the synth.  Safe on a zeroed or freed `s`. */
RNJ_EXTERN void rnj_synth_free(rnj_synth_t *s);

/* One MIDI channel message: note-on (0x9n; velocity 0 is a note-off),
 * note-off (0x8n), control change (0xBn), program change (0xCn) or pitch
 * bend (0xEn); others are ignored.  RT-safe (on the synth's one thread). */
RNJ_EXTERN void rnj_synth_midi(rnj_synth_t *s, int status, int data1,
                               int data2);

/* Silence every channel at once (no release phase).  RT-safe. */
RNJ_EXTERN void rnj_synth_silence(rnj_synth_t *s);

/* Render `n` frames into the two buffers (each n floats, overwritten).
 * fluidsynth computes audio in blocks of 64 frames and applies events at
 * block boundaries.  Returns 0, or RNJ_EIO when fluidsynth fails (the
 * buffers are then zeroed).  RT-safe. */
RNJ_EXTERN int rnj_synth_write(rnj_synth_t *s, int n, float *left,
                               float *right);

/* ------------------------------------------------------------ offline */

typedef struct rnj_render_opts_s {
  const char *soundfont; /* a path, or NULL/"" for the default search */
  int sample_rate;       /* Hz, 8000..192000 (default 44100) */
  int program;           /* -1: the file's own programs; else 0..127 for
                            every channel but the drums (default -1) */
  double gain;           /* default RNJ_SYNTH_DEFAULT_GAIN */
  double max_tail;       /* s of release after the music ends, at most
                            (rendering stops earlier once every voice has
                            ended; default 5) */
} rnj_render_opts_t;

typedef struct rnj_render_info_s {
  char soundfont[1024]; /* the soundfont used */
  uint64_t frames;      /* frames written */
  double seconds;       /* frames / sample_rate */
  double music_seconds; /* length of the music itself (the last event) */
} rnj_render_info_t;

/* Defaults as above. */
RNJ_EXTERN void rnj_render_opts_init(rnj_render_opts_t *o);

/* Render the Standard MIDI File `midi_path` to a 16-bit stereo WAV at
 * `wav_path` through fluidsynth's MIDI player and file renderer.  The
 * file is checked with rnnjam's own reader first (a bad file is reported
 * as "FILE: offset N: ..."); the WAV is written beside its final name and
 * renamed over it only when complete (fsynced), so a failure or a kill
 * never leaves a partial file under `wav_path`.  `opts` may be NULL;
 * `info` may be NULL.  Returns 0 or a negative code with `err`.
 * Not RT-safe; single-threaded (one render at a time per process, since
 * fluidsynth's log hook is process-wide). */
RNJ_EXTERN int rnj_synth_render_midi(const char *midi_path,
                                     const char *wav_path,
                                     const rnj_render_opts_t *opts,
                                     rnj_render_info_t *info, char *err);

/* The same for `n` notes (start/end seconds, pitch; velocity 0 means
 * `velocity`), played on channel 1 with opts->program (-1: piano).  Note
 * events land on the nearest 64-frame block boundary (0.7 ms at 44.1 kHz
 * at most).  Returns as above; RNJ_EINVAL for a note with a bad time or
 * pitch. */
RNJ_EXTERN int rnj_synth_render_notes(const rnj_note_t *notes, size_t n,
                                      int velocity, const char *wav_path,
                                      const rnj_render_opts_t *opts,
                                      rnj_render_info_t *info, char *err);

#ifdef __cplusplus
}
#endif
#endif
