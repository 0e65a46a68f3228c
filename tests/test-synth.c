/* synth: the soundfont search and its messages, the live synth, and
 * offline rendering to WAV (header, rate, length, sound where the notes
 * are and silence where they are not, nothing left behind by a failure).
 * SKIPs where no soundfont is installed. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rnnjam/smf.h"
#include "rnnjam/synth.h"
#include "test.h"

static char tmpdir[512];
static char soundfont[1024];

/* ------------------------------------------------------------- WAV */

typedef struct wav_s {
  int format;   /* 1 = PCM */
  int channels;
  int rate;
  int bits;
  int16_t *pcm; /* interleaved */
  size_t frames;
} wav_t;

static uint32_t le32(const uint8_t *p) {
  return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static int le16(const uint8_t *p) { return p[0] | p[1] << 8; }

/* Parse a RIFF WAVE file's fmt and data chunks; fails the test on a bad
 * header. */
static void wav_read(const char *path, wav_t *w) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long len;
  size_t pos = 12;
  int have_fmt = 0;
  memset(w, 0, sizeof *w);
  ASSERT(f != NULL);
  fseek(f, 0, SEEK_END);
  len = ftell(f);
  fseek(f, 0, SEEK_SET);
  ASSERT(len >= 44);
  buf = malloc((size_t)len);
  ASSERT(buf != NULL);
  ASSERT_EQ(fread(buf, 1, (size_t)len, f), len);
  fclose(f);
  ASSERT(memcmp(buf, "RIFF", 4) == 0);
  ASSERT(memcmp(buf + 8, "WAVE", 4) == 0);
  ASSERT_EQ(le32(buf + 4), len - 8);
  while (pos + 8 <= (size_t)len) {
    uint32_t size = le32(buf + pos + 4);
    ASSERT(pos + 8 + size <= (size_t)len);
    if (memcmp(buf + pos, "fmt ", 4) == 0) {
      w->format = le16(buf + pos + 8);
      w->channels = le16(buf + pos + 10);
      w->rate = (int)le32(buf + pos + 12);
      w->bits = le16(buf + pos + 22);
      have_fmt = 1;
    } else if (memcmp(buf + pos, "data", 4) == 0) {
      ASSERT(have_fmt);
      ASSERT_EQ(w->channels, 2);
      ASSERT_EQ(w->bits, 16);
      w->frames = size / 4;
      w->pcm = malloc(size ? size : 1);
      ASSERT(w->pcm != NULL);
      memcpy(w->pcm, buf + pos + 8, size);
    }
    pos += 8 + size + (size & 1);
  }
  ASSERT(w->pcm != NULL);
  free(buf);
}

/* RMS of both channels over frames [a, b), full scale = 1. */
static double wav_rms(const wav_t *w, size_t a, size_t b) {
  double s = 0;
  size_t i;
  if (b > w->frames)
    b = w->frames;
  if (b <= a)
    return 0;
  for (i = 2 * a; i < 2 * b; i++) {
    double x = w->pcm[i] / 32768.0;
    s += x * x;
  }
  return sqrt(s / (double)(2 * (b - a)));
}

/* The first frame whose sample exceeds `level` (full scale 1). */
static size_t wav_first_sound(const wav_t *w, double level) {
  size_t i;
  for (i = 0; i < 2 * w->frames; i++)
    if (fabs(w->pcm[i] / 32768.0) > level)
      return i / 2;
  return w->frames;
}

/* Nothing but `keep` in the scratch directory: no temporary files. */
static int dir_entries(void) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  int n = 0;
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  closedir(d);
  return n;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* ------------------------------------------------------------ tests */

static void test_find(void) {
  char out[1024];
  char err[RNJ_ERR_LEN];
  char junk[600];
  const char *missing[] = {"/nonexistent/a.sf2", "/nonexistent/b.sf2"};
  const char *mixed[2];
  FILE *f;

  ASSERT(rnj_synth_find_soundfont("/nonexistent/x.sf2", NULL, 0, out,
                                  sizeof out, err) == -ENOENT);
  ASSERT_CONTAINS(err, "soundfont /nonexistent/x.sf2: No such file");

  ASSERT(rnj_synth_find_soundfont(NULL, missing, 2, out, sizeof out, err) <
         0);
  ASSERT_CONTAINS(err, "no usable soundfont: tried /nonexistent/a.sf2 (No "
                       "such file or directory), /nonexistent/b.sf2");
  ASSERT_CONTAINS(err, "timgm6mb-soundfont");

  snprintf(junk, sizeof junk, "%s/junk.sf2", tmpdir);
  f = fopen(junk, "w");
  ASSERT(f != NULL);
  fputs("this is not a soundfont at all", f);
  fclose(f);
  ASSERT_EQ(rnj_synth_find_soundfont(junk, NULL, 0, out, sizeof out, err),
            RNJ_EFORMAT);
  ASSERT_CONTAINS(err, "not a SoundFont");
  /* an unusable first candidate is passed over */
  mixed[0] = junk;
  mixed[1] = soundfont;
  ASSERT_OK(rnj_synth_find_soundfont("", mixed, 2, out, sizeof out, err));
  ASSERT_STR_EQ(out, soundfont);
  /* a SoundFont cut short (a broken download) */
  f = fopen(junk, "wb");
  ASSERT(f != NULL);
  fwrite("RIFF\0\1\0\0sfbkLIST\4\0\0\0INFO", 1, 24, f);
  fclose(f);
  ASSERT_EQ(rnj_synth_find_soundfont(junk, NULL, 0, out, sizeof out, err),
            RNJ_EFORMAT);
  ASSERT_CONTAINS(err, "truncated: 24 bytes, its header says 264");
  /* whole by its header but empty inside: the loader refuses it with
   * fluidsynth's reason */
  f = fopen(junk, "wb");
  ASSERT(f != NULL);
  fwrite("RIFF\20\0\0\0sfbkLIST\4\0\0\0INFO", 1, 24, f);
  fclose(f);
  ASSERT_OK(rnj_synth_find_soundfont(junk, NULL, 0, out, sizeof out, err));
  {
    rnj_synth_t s;
    int saved = dup(2);
    int rc;
    /* libinstpatch, fluidsynth's DLS loader, reports this file on stderr
     * through glib, which no fluidsynth setting silences */
    ASSERT(freopen("/dev/null", "w", stderr) != NULL);
    rc = rnj_synth_init(&s, junk, 48000, 0.2, 0, err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ASSERT(rc < 0);
    ASSERT_CONTAINS(err, "fluidsynth cannot load it");
    ASSERT(s.synth == NULL);
    rnj_synth_free(&s);
  }
  unlink(junk);
  /* gone since it was found (a drive pulled out): named as such */
  {
    rnj_synth_t s;
    ASSERT(rnj_synth_init(&s, junk, 48000, 0.2, 0, err) == -ENOENT);
    ASSERT_CONTAINS(err, junk);
    ASSERT_CONTAINS(err, "No such file or directory");
    ASSERT(s.synth == NULL);
    rnj_synth_free(&s);
  }
}

/* Energy of `blocks` blocks of 64 frames. */
static double render_energy(rnj_synth_t *s, int blocks) {
  float l[64];
  float r[64];
  double e = 0;
  int i;
  int k;
  for (k = 0; k < blocks; k++) {
    ASSERT_OK(rnj_synth_write(s, 64, l, r));
    for (i = 0; i < 64; i++)
      e += l[i] * l[i] + r[i] * r[i];
  }
  return e;
}

/* The live synth: silence, a note, and after rnj_synth_silence only the
 * reverb's dying tail. */
static void test_live(void) {
  rnj_synth_t s;
  char err[RNJ_ERR_LEN];
  float l[64];
  float r[64];
  double held;
  double after;
  int i;
  memset(&s, 0, sizeof s);
  ASSERT_EQ(rnj_synth_init(&s, soundfont, 100, 0.2, 0, err), RNJ_EINVAL);
  ASSERT_OK(rnj_synth_init(&s, soundfont, 48000, 0.2, 0, err));
  /* fluidsynth's output rests at a tiny offset, not at exact zero */
  ASSERT_OK(rnj_synth_write(&s, 64, l, r));
  for (i = 0; i < 64; i++)
    ASSERT(fabsf(l[i]) < 1e-6f && fabsf(r[i]) < 1e-6f);
  rnj_synth_midi(&s, 0x90, 60, 100);
  ASSERT(render_energy(&s, 100) > 1e-3);
  held = render_energy(&s, 10);
  ASSERT(held > 1e-5);
  rnj_synth_silence(&s);
  render_energy(&s, 400);
  after = render_energy(&s, 10);
  ASSERT(after < held / 100);
  rnj_synth_free(&s);
  rnj_synth_free(&s);
}

/* Four notes from 0.5 s to 2.0 s, as a file and as notes (beats at
 * 120 bpm). */
static const rnj_note_t phrase[] = {
    {0.5, 0.9, 0, 0.4, 60, 100, 0, 0, 1.0, 1.8},
    {0.9, 1.3, 0, 0.4, 64, 100, 0, 0, 1.8, 2.6},
    {1.3, 1.7, 0, 0.4, 67, 100, 0, 0, 2.6, 3.4},
    {1.7, 2.0, 0, 0.3, 72, 100, 0, 0, 3.4, 4.0},
};
#define NPHRASE (sizeof phrase / sizeof phrase[0])

static void check_phrase_wav(const char *path, int rate,
                             const rnj_render_info_t *info, double tail) {
  wav_t w;
  size_t first;
  wav_read(path, &w);
  ASSERT_EQ(w.format, 1);
  ASSERT_EQ(w.rate, rate);
  ASSERT_EQ(w.frames, info->frames);
  ASSERT_NEAR(info->seconds, (double)w.frames / rate, 1e-9);
  /* the music and its release, never more than the tail allows */
  ASSERT(info->music_seconds >= 2.0 - 1e-6);
  ASSERT(info->music_seconds <= 2.0 + 0.01);
  ASSERT(w.frames >= (size_t)(2.0 * rate));
  ASSERT(w.frames <= (size_t)((2.0 + tail) * rate) + 128);
  /* silence before the first note (fluidsynth dithers its 16-bit output:
   * about one LSB, 3e-5, of noise), sound during the phrase */
  ASSERT(wav_rms(&w, 0, (size_t)(0.45 * rate)) < 1e-4);
  ASSERT(wav_rms(&w, (size_t)(0.5 * rate), (size_t)(2.0 * rate)) > 3e-3);
  first = wav_first_sound(&w, 2e-4);
  ASSERT(first >= (size_t)(0.49 * rate));
  ASSERT(first <= (size_t)(0.52 * rate));
  free(w.pcm);
}

static void test_render_midi(void) {
  char mid[600];
  char wav[600];
  char err[RNJ_ERR_LEN];
  rnj_render_opts_t o;
  rnj_render_info_t info;
  wav_t a;
  wav_t b;
  size_t i;
  size_t differ = 0;

  snprintf(mid, sizeof mid, "%s/phrase.mid", tmpdir);
  snprintf(wav, sizeof wav, "%s/phrase.wav", tmpdir);
  ASSERT_OK(rnj_smf_write_notes(mid, phrase, NPHRASE, NULL, err));
  rnj_render_opts_init(&o);
  o.soundfont = soundfont;
  o.sample_rate = 22050;
  o.max_tail = 1.5;
  ASSERT_OK(rnj_synth_render_midi(mid, wav, &o, &info, err));
  ASSERT_STR_EQ(info.soundfont, soundfont);
  check_phrase_wav(wav, 22050, &info, 1.5);
  wav_read(wav, &a);

  /* a forced program changes the sound, not the timing */
  o.program = 40; /* violin */
  ASSERT_OK(rnj_synth_render_midi(mid, wav, &o, &info, err));
  check_phrase_wav(wav, 22050, &info, 1.5);
  wav_read(wav, &b);
  for (i = 0; i < 2 * (a.frames < b.frames ? a.frames : b.frames); i++)
    differ += a.pcm[i] != b.pcm[i];
  ASSERT(differ > a.frames / 4);
  free(a.pcm);
  free(b.pcm);
  unlink(mid);
  unlink(wav);
  ASSERT_EQ(dir_entries(), 0);
}

static void test_render_notes(void) {
  char wav[600];
  char err[RNJ_ERR_LEN];
  rnj_render_opts_t o;
  rnj_render_info_t info;
  rnj_note_t bad = phrase[0];
  snprintf(wav, sizeof wav, "%s/notes.wav", tmpdir);
  rnj_render_opts_init(&o);
  o.soundfont = soundfont;
  o.sample_rate = 48000;
  o.max_tail = 2.0;
  ASSERT_OK(rnj_synth_render_notes(phrase, NPHRASE, 90, wav, &o, &info,
                                   err));
  check_phrase_wav(wav, 48000, &info, 2.0);
  unlink(wav);
  bad.end = bad.start - 1;
  ASSERT_EQ(rnj_synth_render_notes(&bad, 1, 90, wav, &o, &info, err),
            RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 0: expected 0 <= start <= end");
  ASSERT(!exists(wav));
  ASSERT_EQ(dir_entries(), 0);
}

/* Failures name the culprit and leave nothing: no WAV, no temporary. */
static void test_failures(void) {
  char mid[600];
  char wav[600];
  char nodir[600];
  char err[RNJ_ERR_LEN];
  rnj_render_opts_t o;
  FILE *f;

  snprintf(mid, sizeof mid, "%s/p.mid", tmpdir);
  snprintf(wav, sizeof wav, "%s/p.wav", tmpdir);
  snprintf(nodir, sizeof nodir, "%s/nodir/p.wav", tmpdir);
  ASSERT_OK(rnj_smf_write_notes(mid, phrase, NPHRASE, NULL, err));
  rnj_render_opts_init(&o);

  o.soundfont = "/nonexistent/missing.sf2";
  ASSERT(rnj_synth_render_midi(mid, wav, &o, NULL, err) < 0);
  ASSERT_CONTAINS(err, "soundfont /nonexistent/missing.sf2: No such file");
  ASSERT(!exists(wav));

  o.soundfont = soundfont;
  ASSERT(rnj_synth_render_midi(mid, nodir, &o, NULL, err) < 0);
  ASSERT_CONTAINS(err, "nodir/p.wav: cannot create a temporary file");

  o.sample_rate = 100;
  ASSERT_EQ(rnj_synth_render_midi(mid, wav, &o, NULL, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "sample rate");
  o.sample_rate = 44100;

  f = fopen(mid, "w");
  ASSERT(f != NULL);
  fputs("MThd but not really a MIDI file", f);
  fclose(f);
  ASSERT(rnj_synth_render_midi(mid, wav, &o, NULL, err) < 0);
  ASSERT_CONTAINS(err, "p.mid");
  ASSERT(!exists(wav));

  /* an existing WAV is left as it was by a failed render */
  f = fopen(wav, "w");
  ASSERT(f != NULL);
  fputs("old", f);
  fclose(f);
  ASSERT(rnj_synth_render_midi(mid, wav, &o, NULL, err) < 0);
  {
    char buf[8] = {0};
    f = fopen(wav, "r");
    ASSERT(f != NULL);
    ASSERT_EQ(fread(buf, 1, sizeof buf, f), 3);
    fclose(f);
    ASSERT_STR_EQ(buf, "old");
  }
  unlink(wav);
  unlink(mid);
  ASSERT_EQ(dir_entries(), 0);
}

/* The disk fills up while the WAV is written (the file-size limit makes
 * write() fail with EFBIG once SIGXFSZ is ignored; libsndfile says nothing
 * of it): a clear error, the old WAV intact, no temporary left.  The limit
 * is lowered in this process rather than in a child: fluidsynth's worker
 * threads, started by the tests before, do not survive a fork. */
static void test_full_disk(void) {
  char mid[600];
  char wav[600];
  char err[RNJ_ERR_LEN];
  char buf[8] = {0};
  struct rlimit old;
  struct rlimit low;
  rnj_render_opts_t o;
  void (*was)(int);
  FILE *f;
  int rc;

  snprintf(mid, sizeof mid, "%s/full.mid", tmpdir);
  snprintf(wav, sizeof wav, "%s/full.wav", tmpdir);
  ASSERT_OK(rnj_smf_write_notes(mid, phrase, NPHRASE, NULL, err));
  f = fopen(wav, "w");
  ASSERT(f != NULL);
  fputs("old", f);
  fclose(f);
  rnj_render_opts_init(&o);
  o.soundfont = soundfont;
  o.sample_rate = 22050;

  ASSERT_OK(getrlimit(RLIMIT_FSIZE, &old));
  low = old;
  low.rlim_cur = 32768; /* the phrase needs about 400 KB */
  was = signal(SIGXFSZ, SIG_IGN);
  ASSERT_OK(setrlimit(RLIMIT_FSIZE, &low));
  rc = rnj_synth_render_midi(mid, wav, &o, NULL, err);
  ASSERT_OK(setrlimit(RLIMIT_FSIZE, &old));
  signal(SIGXFSZ, was);
  printf("full disk: %d %s\n", rc, err);
  ASSERT(rc < 0);
  ASSERT_CONTAINS(err, wav);
  ASSERT_CONTAINS(err, "writ");

  f = fopen(wav, "r");
  ASSERT(f != NULL);
  ASSERT_EQ(fread(buf, 1, sizeof buf, f), 3);
  fclose(f);
  ASSERT_STR_EQ(buf, "old");
  unlink(wav);
  unlink(mid);
  ASSERT_EQ(dir_entries(), 0);
}

int main(void) {
  /* TimGM6mb first: it loads in a tenth of the time of FluidR3_GM. */
  const char *prefer[] = {"/usr/share/sounds/sf2/TimGM6mb.sf2",
                          "/usr/share/sounds/sf2/FluidR3_GM.sf2",
                          "/usr/share/sounds/sf2/default-GM.sf2"};
  char err[RNJ_ERR_LEN];
  snprintf(tmpdir, sizeof tmpdir, "%s/rnj-synth.XXXXXX", test_tmp_dir());
  ASSERT(mkdtemp(tmpdir) != NULL);
  if (rnj_synth_find_soundfont(NULL, prefer, 3, soundfont, sizeof soundfont,
                               err) < 0) {
    rmdir(tmpdir);
    SKIP("%s", err);
  }
  test_find();
  test_live();
  test_render_midi();
  test_render_notes();
  test_failures();
  test_full_disk();
  ASSERT_OK(rmdir(tmpdir));
  printf("ok: synth (soundfont %s)\n", soundfont);
  return 0;
}
