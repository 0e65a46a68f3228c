/* synth: fluidsynth, set up once for rnnjam's two uses.
 *
 * Live (rnnjamd): a synth owned by the JACK process thread, driven by
 * rnj_synth_midi and rendered by rnj_synth_write.  fluidsynth's own
 * thread-safe API is turned off because its mutex is exactly what the
 * real-time rules forbid; the daemon instead hands events over through a
 * lock-free ring and lets the audio thread make every call.
 *
 * Offline (rnnjam render, generate --wav): fluidsynth's MIDI player on
 * its sample clock (so it runs as fast as the CPU allows, not in real
 * time) feeding its file renderer, 64 frames per block, into a temporary
 * file that is renamed over the target only once it is complete.  The
 * renderer writes the file itself (through libsndfile), so the streaming
 * form of the atomic write (rnj__atomic_*) is used instead of building a
 * possibly 100 MB image in memory.  After the music ends, blocks are
 * rendered until every voice has died out (at most max_tail seconds), so
 * the last notes keep their release.
 *
 * Limits: one soundfont; events apply at 64-frame block boundaries, as
 * fluidsynth computes audio in such blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <fluidsynth.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "rnnjam/smf.h"
#include "rnnjam/synth.h"

/* fluidsynth's internal block; the file renderer's period is set to it so
 * every process_block is one synthesis block. */
#define BLOCK 64
/* Rendering of a MIDI file goes on this long past its last event before
 * the player is stopped: its clock advances in whole milliseconds. */
#define END_MARGIN 0.01
/* fluidsynth's sample output, 16-bit stereo. */
#define WAV_BYTES_PER_FRAME 4

/* ---------------------------------------------------------------- logging */

/* The last message fluidsynth logged on this thread (errors win over
 * warnings); read back by the call that failed. */
static _Thread_local char last_msg[RNJ_ERR_LEN];
static _Thread_local int last_level;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void log_hook(int level, const char *message, void *data) {
  size_t i;
  (void)data;
  if (level > FLUID_WARN || !message)
    return;
  if (last_msg[0] && level > last_level)
    return;
  /* A bounded copy without stdio: this can run on the audio thread. */
  for (i = 0; i + 1 < sizeof last_msg && message[i] && message[i] != '\n';
       i++)
    last_msg[i] = message[i];
  last_msg[i] = '\0';
  last_level = level;
}

static void install_log(void) {
  int level;
  for (level = FLUID_PANIC; level < LAST_LOG_LEVEL; level++)
    fluid_set_log_function(level, log_hook, NULL);
}

static void log_reset(void) {
  pthread_once(&log_once, install_log);
  last_msg[0] = '\0';
  last_level = LAST_LOG_LEVEL;
}

static const char *log_last(void) {
  return last_msg[0] ? last_msg : "no reason given";
}

/* -------------------------------------------------------------- soundfont */

/* Can `path` be opened, and does it start like a SoundFont (RIFF 'sfbk'
 * whose first chunk is LIST 'INFO', and as long as its RIFF header says)?
 * Checked here because fluidsynth's loaders report a bad file only
 * through log lines, and a truncated download is a likely mistake.
 * Returns 0 or a negative code with the reason in `why`. */
static int check_soundfont(const char *path, char *why, size_t len) {
  unsigned char head[24];
  struct stat st;
  ssize_t n;
  uint64_t riff;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  int e;
  if (fd < 0) {
    e = errno;
    snprintf(why, len, "%s", strerror(e));
    return -e;
  }
  n = read(fd, head, sizeof head);
  e = errno;
  if (n >= 0 && fstat(fd, &st) < 0) {
    e = errno;
    n = -1;
  }
  close(fd);
  if (n < 0) {
    snprintf(why, len, "%s", strerror(e));
    return -e;
  }
  if (n < (ssize_t)sizeof head || memcmp(head, "RIFF", 4) != 0 ||
      memcmp(head + 8, "sfbk", 4) != 0 || memcmp(head + 12, "LIST", 4) ||
      memcmp(head + 20, "INFO", 4) != 0) {
    snprintf(why, len, "not a SoundFont (expected a RIFF 'sfbk' file)");
    return RNJ_EFORMAT;
  }
  riff = (uint64_t)head[4] | (uint64_t)head[5] << 8 |
         (uint64_t)head[6] << 16 | (uint64_t)head[7] << 24;
  if ((uint64_t)st.st_size < riff + 8) {
    snprintf(why, len, "truncated: %lld bytes, its header says %llu",
             (long long)st.st_size, (unsigned long long)(riff + 8));
    return RNJ_EFORMAT;
  }
  return 0;
}

int rnj_synth_find_soundfont(const char *path, const char *const *candidates,
                             size_t n, char *out, size_t out_len,
                             char *err) {
  static const char *const defaults[] = RNJ_SYNTH_DEFAULT_SOUNDFONTS;
  char why[128];
  char tried[RNJ_ERR_LEN];
  size_t used = 0;
  size_t i;
  int rc = RNJ_ENOTFOUND;

  if (path && path[0]) {
    rc = check_soundfont(path, why, sizeof why);
    if (rc < 0)
      return rnj_errorf(err, rc, "soundfont %s: %s", path, why);
    if (snprintf(out, out_len, "%s", path) >= (int)out_len)
      return rnj_errorf(err, RNJ_ELIMIT, "soundfont %s: path too long",
                        path);
    return 0;
  }
  if (!candidates) {
    candidates = defaults;
    n = RNJ_SYNTH_N_DEFAULT_SOUNDFONTS;
  }
  tried[0] = '\0';
  for (i = 0; i < n; i++) {
    int r = check_soundfont(candidates[i], why, sizeof why);
    if (r == 0) {
      if (snprintf(out, out_len, "%s", candidates[i]) >= (int)out_len)
        return rnj_errorf(err, RNJ_ELIMIT, "soundfont %s: path too long",
                          candidates[i]);
      return 0;
    }
    if (used < sizeof tried)
      used += (size_t)snprintf(tried + used, sizeof tried - used,
                               "%s%s (%s)", i ? ", " : "", candidates[i],
                               why);
  }
  return rnj_errorf(err, rc,
                    "no usable soundfont: tried %s (install "
                    "fluid-soundfont-gm or timgm6mb-soundfont, or name a "
                    "soundfont)", n ? tried : "nothing");
}

/* ------------------------------------------------------------ the synth */

static void select_program(fluid_synth_t *synth, int program) {
  int ch;
  for (ch = 0; ch < 16; ch++)
    if (ch != 9) /* channel 10 keeps its drum kit */
      fluid_synth_program_change(synth, ch, program);
}

/* Settings and synth; `wav_tmp` non-NULL adds the file renderer's and the
 * player's settings for an offline render. */
static int synth_create(rnj_synth_t *s, const char *soundfont, double rate,
                        double gain, int program, const char *wav_tmp,
                        char *err) {
  int rc;
  memset(s, 0, sizeof *s);
  s->sfont_id = -1;
  /* fluidsynth would only say "Failed to load SoundFont": a file that is
   * no longer there (a drive pulled out) is named as such. */
  if (access(soundfont, R_OK) < 0) {
    int e = errno;
    return rnj_errorf(err, -e, "soundfont %s: %s", soundfont, strerror(e));
  }
  log_reset();
  s->settings = new_fluid_settings();
  if (!s->settings)
    return rnj_errorf(err, RNJ_ENOMEM, "fluidsynth settings: %s",
                      log_last());
  fluid_settings_setnum(s->settings, "synth.sample-rate", rate);
  fluid_settings_setnum(s->settings, "synth.gain", gain);
  /* No mutex, no worker threads: the caller's one thread owns the synth
   * (see the top of synth.h). */
  fluid_settings_setint(s->settings, "synth.threadsafe-api", 0);
  fluid_settings_setint(s->settings, "synth.cpu-cores", 1);
  fluid_settings_setint(s->settings, "synth.dynamic-sample-loading", 0);
  if (!wav_tmp) {
    /* No reverb or chorus live: Debian's fluidsynth runs its effects in an
     * OpenMP parallel region, and libgomp allocates (a team) at every
     * fluid_synth_write_float that has an effect on: 100 allocations in
     * 100 writes with either effect, 0 with both off (tests/jack-rt.c
     * counts them).  Offline renders keep them. */
    fluid_settings_setint(s->settings, "synth.reverb.active", 0);
    fluid_settings_setint(s->settings, "synth.chorus.active", 0);
  }
  if (wav_tmp) {
    fluid_settings_setstr(s->settings, "audio.file.name", wav_tmp);
    fluid_settings_setstr(s->settings, "audio.file.type", "wav");
    fluid_settings_setstr(s->settings, "audio.file.format", "s16");
    fluid_settings_setint(s->settings, "audio.period-size", BLOCK);
    /* The player follows rendered samples, not the wall clock, so a
     * render runs as fast as the CPU allows. */
    fluid_settings_setstr(s->settings, "player.timing-source", "sample");
    /* Pinning a 142 MiB soundfont is pointless for a batch job and fails
     * under the usual RLIMIT_MEMLOCK. */
    fluid_settings_setint(s->settings, "synth.lock-memory", 0);
    /* With a forced program the player must not reset it at the start. */
    if (program >= 0)
      fluid_settings_setint(s->settings, "player.reset-synth", 0);
  }
  s->synth = new_fluid_synth(s->settings);
  if (!s->synth) {
    rc = rnj_errorf(err, RNJ_ENOMEM,
                    "fluidsynth: cannot create a synth at %g Hz: %s", rate,
                    log_last());
    goto fail_settings;
  }
  log_reset();
  s->sfont_id = fluid_synth_sfload(s->synth, soundfont, 1);
  if (s->sfont_id == FLUID_FAILED) {
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "soundfont %s: fluidsynth cannot load it: %s", soundfont,
                    log_last());
    goto fail_synth;
  }
  if (program >= 0)
    select_program(s->synth, program);
  s->sample_rate = rate;
  return 0;

fail_synth:
  delete_fluid_synth(s->synth);
  s->synth = NULL;
fail_settings:
  delete_fluid_settings(s->settings);
  s->settings = NULL;
  return rc;
}

int rnj_synth_init(rnj_synth_t *s, const char *soundfont, double sample_rate,
                   double gain, int program, char *err) {
  if (!s || !soundfont || !(sample_rate >= 8000 && sample_rate <= 384000) ||
      !(gain >= 0 && gain <= 10) || program < 0 || program > 127) {
    if (s)
      memset(s, 0, sizeof *s);
    return rnj_errorf(err, RNJ_EINVAL,
                      "synth: expected a soundfont, a rate of 8000..384000 "
                      "Hz, a gain of 0..10 and a program of 0..127");
  }
  return synth_create(s, soundfont, sample_rate, gain, program, NULL, err);
}

void rnj_synth_free(rnj_synth_t *s) {
  if (!s)
    return;
  if (s->synth)
    delete_fluid_synth(s->synth);
  if (s->settings)
    delete_fluid_settings(s->settings);
  s->synth = NULL;
  s->settings = NULL;
}

void rnj_synth_midi(rnj_synth_t *s, int status, int data1, int data2) {
  int ch = status & 15;
  data1 &= 127;
  data2 &= 127;
  switch (status & 0xF0) {
  case 0x90: /* velocity 0 is a note-off */
    if (data2 > 0)
      fluid_synth_noteon(s->synth, ch, data1, data2);
    else
      fluid_synth_noteoff(s->synth, ch, data1);
    break;
  case 0x80:
    fluid_synth_noteoff(s->synth, ch, data1);
    break;
  case 0xB0:
    fluid_synth_cc(s->synth, ch, data1, data2);
    break;
  case 0xC0:
    fluid_synth_program_change(s->synth, ch, data1);
    break;
  case 0xE0:
    fluid_synth_pitch_bend(s->synth, ch, data1 | (data2 << 7));
    break;
  default:
    break;
  }
}

void rnj_synth_silence(rnj_synth_t *s) {
  fluid_synth_all_sounds_off(s->synth, -1);
}

int rnj_synth_write(rnj_synth_t *s, int n, float *left, float *right) {
  if (fluid_synth_write_float(s->synth, n, left, 0, 1, right, 0, 1) !=
      FLUID_OK) {
    memset(left, 0, (size_t)n * sizeof *left);
    memset(right, 0, (size_t)n * sizeof *right);
    return RNJ_EIO;
  }
  return 0;
}

/* -------------------------------------------------------------- offline */

void rnj_render_opts_init(rnj_render_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->sample_rate = 44100;
  o->program = -1;
  o->gain = RNJ_SYNTH_DEFAULT_GAIN;
  o->max_tail = 5.0;
}

typedef struct render_s {
  rnj_synth_t s;
  fluid_player_t *player;
  fluid_file_renderer_t *fr;
  char tmp[PATH_MAX];
  int program;
  uint64_t frames;
} render_t;

static int check_opts(const rnj_render_opts_t *o, char *err) {
  if (o->sample_rate < 8000 || o->sample_rate > 192000)
    return rnj_errorf(err, RNJ_EINVAL,
                      "sample rate: expected 8000..192000 Hz, got %d",
                      o->sample_rate);
  if (o->program < -1 || o->program > 127)
    return rnj_errorf(err, RNJ_EINVAL,
                      "program: expected 0..127, got %d", o->program);
  if (!(o->gain >= 0 && o->gain <= 10))
    return rnj_errorf(err, RNJ_EINVAL, "gain: expected 0..10, got %g",
                      o->gain);
  if (!(o->max_tail >= 0 && o->max_tail <= 600))
    return rnj_errorf(err, RNJ_EINVAL,
                      "tail: expected 0..600 seconds, got %g", o->max_tail);
  return 0;
}

/* Find the soundfont, create the temporary file, the synth and the file
 * renderer.  On failure nothing is left behind. */
static int render_open(render_t *r, const char *wav_path,
                       const rnj_render_opts_t *o, rnj_render_info_t *info,
                       char *err) {
  int rc;
  memset(r, 0, sizeof *r);
  r->program = o->program;
  rc = rnj_synth_find_soundfont(o->soundfont, NULL, 0, info->soundfont,
                                sizeof info->soundfont, err);
  if (rc < 0)
    return rc;
  rc = rnj__atomic_begin(wav_path, r->tmp, sizeof r->tmp, err);
  if (rc < 0)
    return rc;
  rc = synth_create(&r->s, info->soundfont, o->sample_rate, o->gain,
                    o->program, r->tmp, err);
  if (rc < 0)
    goto fail_tmp;
  log_reset();
  r->fr = new_fluid_file_renderer(r->s.synth);
  if (!r->fr) {
    rc = rnj_errorf(err, RNJ_EIO, "%s: fluidsynth cannot write it: %s",
                    wav_path, log_last());
    goto fail_synth;
  }
  return 0;

fail_synth:
  rnj_synth_free(&r->s);
fail_tmp:
  rnj__atomic_abort(r->tmp);
  return rc;
}

static int render_block(render_t *r, const char *wav_path, char *err) {
  log_reset();
  if (fluid_file_renderer_process_block(r->fr) != FLUID_OK)
    return rnj_errorf(err, RNJ_EIO, "%s: writing audio failed: %s",
                      wav_path, log_last());
  r->frames += BLOCK;
  return 0;
}

/* Render until every voice has ended, at most `max_tail` seconds. */
static int render_tail(render_t *r, const char *wav_path, double max_tail,
                       char *err) {
  uint64_t left = (uint64_t)(max_tail * r->s.sample_rate);
  int rc;
  while (left >= BLOCK && fluid_synth_get_active_voice_count(r->s.synth) > 0)
  {
    rc = render_block(r, wav_path, err);
    if (rc < 0)
      return rc;
    left -= BLOCK;
  }
  return 0;
}

/* Close everything; with ok, check the file and move it into place. */
static int render_close(render_t *r, int ok, const char *wav_path,
                        rnj_render_info_t *info, char *err) {
  struct stat st;
  int rc = 0;
  /* Deleting the renderer finishes the file (libsndfile writes the WAV
   * header's sizes on close). */
  if (r->fr)
    delete_fluid_file_renderer(r->fr);
  r->fr = NULL;
  if (r->player)
    delete_fluid_player(r->player);
  r->player = NULL;
  rnj_synth_free(&r->s);
  if (!ok) {
    rnj__atomic_abort(r->tmp);
    return 0;
  }
  /* libsndfile reports a failed close to nobody: a short file (a full
   * disk) is caught here instead. */
  if (stat(r->tmp, &st) < 0 ||
      (uint64_t)st.st_size < r->frames * WAV_BYTES_PER_FRAME) {
    rnj__atomic_abort(r->tmp);
    return rnj_errorf(err, RNJ_EIO,
                      "%s: the audio written is shorter than the %llu "
                      "frames rendered (disk full?)", wav_path,
                      (unsigned long long)r->frames);
  }
  rc = rnj__atomic_commit(r->tmp, wav_path, err);
  if (rc < 0)
    return rc;
  info->frames = r->frames;
  info->seconds = (double)r->frames / r->s.sample_rate;
  return 0;
}

/* The player's handler when a program is forced: program changes on the
 * melodic channels become that program. */
static int forced_program(void *data, fluid_midi_event_t *ev) {
  render_t *r = data;
  int ch = fluid_midi_event_get_channel(ev);
  if (fluid_midi_event_get_type(ev) == 0xC0 && ch != 9)
    return fluid_synth_program_change(r->s.synth, ch, r->program);
  return fluid_synth_handle_midi_event(r->s.synth, ev);
}

/* The time of the file's last event. */
static double smf_length(const rnj_smf_t *smf) {
  int64_t end = 0;
  size_t i;
  for (i = 0; i < smf->ntracks; i++)
    if (smf->tracks[i].end_tick > end)
      end = smf->tracks[i].end_tick;
  return rnj_smf_seconds(smf, end, NULL);
}

int rnj_synth_render_midi(const char *midi_path, const char *wav_path,
                          const rnj_render_opts_t *opts,
                          rnj_render_info_t *info, char *err) {
  rnj_render_opts_t defaults;
  rnj_render_info_t dummy;
  rnj_smf_t smf;
  render_t r;
  uint8_t *buf = NULL;
  size_t len = 0;
  uint64_t music_end;
  double rate;
  int rc;

  if (!opts) {
    rnj_render_opts_init(&defaults);
    opts = &defaults;
  }
  if (!info)
    info = &dummy;
  memset(info, 0, sizeof *info);
  rc = check_opts(opts, err);
  if (rc < 0)
    return rc;
  /* rnnjam's reader first: its messages say what is wrong and where, and
   * it gives the music's length to check the player against. */
  rc = rnj__read_file(midi_path, RNJ_SMF_MAX_FILE_BYTES, &buf, &len, err);
  if (rc < 0)
    return rc;
  memset(&smf, 0, sizeof smf);
  rc = rnj_smf_read_mem(&smf, buf, len, midi_path, err);
  if (rc < 0)
    goto done_buf;
  info->music_seconds = smf_length(&smf);
  rnj_smf_free(&smf);

  rc = render_open(&r, wav_path, opts, info, err);
  if (rc < 0)
    goto done_buf;
  rate = r.s.sample_rate;
  log_reset();
  r.player = new_fluid_player(r.s.synth);
  if (!r.player) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "%s: fluidsynth player: %s", midi_path,
                    log_last());
    goto fail;
  }
  if (opts->program >= 0)
    fluid_player_set_playback_callback(r.player, forced_program, &r);
  if (fluid_player_add_mem(r.player, buf, len) != FLUID_OK ||
      fluid_player_play(r.player) != FLUID_OK) {
    rc = rnj_errorf(err, RNJ_EFORMAT, "%s: fluidsynth cannot play it: %s",
                    midi_path, log_last());
    goto fail;
  }
  /* The player keeps going for seconds after a file's last event (it
   * lets notes ring); rnnjam stops it once every event is out (the
   * player's clock has millisecond steps) and renders the release itself
   * until the voices have ended. */
  music_end = (uint64_t)ceil((info->music_seconds + END_MARGIN) * rate);
  while (fluid_player_get_status(r.player) == FLUID_PLAYER_PLAYING &&
         r.frames < music_end) {
    rc = render_block(&r, wav_path, err);
    if (rc < 0)
      goto fail;
  }
  /* A player that gave up early found something it could not read. */
  if ((double)r.frames / rate + 1.0 < info->music_seconds) {
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "%s: fluidsynth stopped after %.1f s of %.1f s: %s",
                    midi_path, (double)r.frames / rate,
                    info->music_seconds, log_last());
    goto fail;
  }
  rc = render_tail(&r, wav_path, opts->max_tail, err);
  if (rc < 0)
    goto fail;
  rc = render_close(&r, 1, wav_path, info, err);
  goto done_buf;

fail:
  render_close(&r, 0, wav_path, info, NULL);
done_buf:
  rnj__free(buf);
  return rc;
}

typedef struct ev_s {
  double t;
  uint8_t on;
  uint8_t pitch;
  uint8_t velocity;
} ev_t;

/* Time order; at one time note-offs first, so a repeated pitch sounds
 * again instead of being cut by the note before it. */
static int ev_cmp(const void *a, const void *b) {
  const ev_t *x = a;
  const ev_t *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return (int)x->on - (int)y->on;
}

int rnj_synth_render_notes(const rnj_note_t *notes, size_t n, int velocity,
                           const char *wav_path,
                           const rnj_render_opts_t *opts,
                           rnj_render_info_t *info, char *err) {
  rnj_render_opts_t o;
  rnj_render_info_t dummy;
  render_t r;
  ev_t *ev;
  size_t i;
  size_t m = 0;
  size_t next = 0;
  double min_len;
  int rc;

  if (opts)
    o = *opts;
  else
    rnj_render_opts_init(&o);
  if (o.program < 0)
    o.program = 0;
  if (!info)
    info = &dummy;
  memset(info, 0, sizeof *info);
  if (velocity < 1 || velocity > 127)
    return rnj_errorf(err, RNJ_EINVAL, "velocity: expected 1..127, got %d",
                      velocity);
  rc = check_opts(&o, err);
  if (rc < 0)
    return rc;
  for (i = 0; i < n; i++) {
    const rnj_note_t *nt = &notes[i];
    if (!isfinite(nt->start) || !isfinite(nt->end) || nt->start < 0 ||
        nt->end < nt->start || nt->end > 1e6 || nt->pitch > 127)
      return rnj_errorf(err, RNJ_EINVAL,
                        "note %zu: expected 0 <= start <= end and a pitch "
                        "0..127, got start %g, end %g, pitch %d", i,
                        nt->start, nt->end, nt->pitch);
  }
  ev = rnj__malloc((n ? n : 1) * 2 * sizeof *ev);
  if (!ev)
    return rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory for %zu notes",
                      wav_path, n);
  /* A note shorter than a block would have its note-off applied with its
   * note-on and never sound. */
  min_len = (double)BLOCK / o.sample_rate;
  for (i = 0; i < n; i++) {
    const rnj_note_t *nt = &notes[i];
    uint8_t vel = (uint8_t)(nt->velocity ? nt->velocity : velocity);
    double end = nt->end - nt->start < min_len ? nt->start + min_len
                                               : nt->end;
    ev[m++] = (ev_t){nt->start, 1, nt->pitch, vel};
    ev[m++] = (ev_t){end, 0, nt->pitch, 0};
    if (end > info->music_seconds)
      info->music_seconds = end;
  }
  qsort(ev, m, sizeof *ev, ev_cmp);

  rc = render_open(&r, wav_path, &o, info, err);
  if (rc < 0)
    goto done;
  while (next < m) {
    /* Events take effect at the block boundary nearest to their time. */
    double until = ((double)r.frames + BLOCK / 2) / r.s.sample_rate;
    while (next < m && ev[next].t < until) {
      if (ev[next].on)
        fluid_synth_noteon(r.s.synth, 0, ev[next].pitch, ev[next].velocity);
      else
        fluid_synth_noteoff(r.s.synth, 0, ev[next].pitch);
      next++;
    }
    rc = render_block(&r, wav_path, err);
    if (rc < 0)
      goto fail;
  }
  rc = render_tail(&r, wav_path, o.max_tail, err);
  if (rc < 0)
    goto fail;
  rc = render_close(&r, 1, wav_path, info, err);
  goto done;

fail:
  render_close(&r, 0, wav_path, info, NULL);
done:
  rnj__free(ev);
  return rc;
}
