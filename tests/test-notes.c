/* notes: each of pretty_midi's rules on a hand-made file, then real corpus
 * files against tests/data/notes-*.csv, written by tests/reference_notes.py
 * (pretty_midi's rules on top of mido).
 *
 * Hand-made files use 480 ticks per quarter and, unless a test sets a
 * tempo, 120 bpm: 960 ticks a second, so tick t is t / 960 seconds.
 */
#include <errno.h>
#include <unistd.h>

#include "midi-bytes.h"
#include "rnnjam/alloc.h"
#include "rnnjam/notes.h"
#include "rnnjam/smf.h"
#include "test.h"

static char err[RNJ_ERR_LEN];

/* ------------------------------------------------ counting allocator */

static long live;

static void *c_malloc(size_t n) {
  void *p = malloc(n);
  if (p)
    live++;
  return p;
}

static void *c_realloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q && !p)
    live++;
  return q;
}

static void *c_calloc(size_t c, size_t n) {
  void *p = calloc(c, n);
  if (p)
    live++;
  return p;
}

static void c_free(void *p) {
  if (p)
    live--;
  free(p);
}

/* ------------------------------------------------------------ helpers */

/* Parse `m` and take the notes of `instrument`; returns the code. */
static int take(const mb_t *m, int instrument, rnj_notes_t *out) {
  rnj_smf_t smf;
  int rc;
  err[0] = 0;
  ASSERT_OK(rnj_smf_read_mem(&smf, m->b, m->n, "t.mid", err));
  rc = rnj_notes_from_smf(out, &smf, instrument, err);
  rnj_smf_free(&smf);
  return rc;
}

static void check_note(const rnj_note_t *n, int pitch, int64_t start,
                       int64_t end, int velocity) {
  ASSERT_EQ(n->pitch, pitch);
  ASSERT_NEAR(n->start, start / 960.0, 1e-12);
  ASSERT_NEAR(n->end, end / 960.0, 1e-12);
  /* beats are ticks / 480, exactly */
  ASSERT(n->start_beat == start / 480.0);
  ASSERT(n->end_beat == end / 480.0);
  ASSERT_EQ(n->velocity, velocity);
}

/* A format-1 file: an empty tempo track, then the caller's tracks. */
static void start_file(mb_t *m, int ntracks) {
  mb_init(m);
  mb_header(m, 1, ntracks, 480);
  mb_track(m);
  mb_end(m);
}

/* ------------------------------------------------------ tempo and time */

static void test_tempo_only_from_track0(void) {
  mb_t m;
  rnj_notes_t n;

  mb_init(&m);
  mb_header(&m, 1, 2, 480);
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 0F 42 40"); /* 60 bpm */
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 03 D0 90"); /* 240 bpm in track 1: ignored */
  mb_ev(&m, 0, "90 3C 64");
  mb_ev(&m, 480, "80 3C 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 1);
  ASSERT_NEAR(n.v[0].end, 1.0, 1e-12); /* a quarter at 60 bpm */
  rnj_notes_free(&n);
  mb_free(&m);
}

static void test_120bpm_before_first_tempo(void) {
  mb_t m;
  rnj_notes_t n;

  mb_init(&m);
  mb_header(&m, 1, 2, 480);
  mb_track(&m);
  mb_ev(&m, 960, "FF 51 03 0F 42 40"); /* 60 bpm from tick 960 */
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 480, "90 3C 64");
  mb_ev(&m, 960, "80 3C 00"); /* tick 1440 */
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 1);
  ASSERT_NEAR(n.v[0].start, 0.5, 1e-12);
  ASSERT_NEAR(n.v[0].end, 2.0, 1e-12); /* 1 s at 120, then 1 s at 60 */
  rnj_notes_free(&n);
  mb_free(&m);
}

/* Beats are ticks / ticks per quarter whatever the tempo, and whatever
 * the division. */
static void test_beats_tempo_free(void) {
  mb_t m;
  rnj_notes_t n;

  mb_init(&m);
  mb_header(&m, 1, 2, 96);
  mb_track(&m);
  mb_ev(&m, 96, "FF 51 03 0F 42 40");  /* 60 bpm from beat 1 */
  mb_ev(&m, 96, "FF 51 03 03 D0 90");  /* 240 bpm from beat 2 */
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 48, "90 3C 64");  /* beat 0.5, 0.25 s */
  mb_ev(&m, 120, "90 3E 64"); /* beat 1.75, 0.5 + 0.75 s */
  mb_ev(&m, 72, "80 3C 00");  /* beat 2.5, 1.5 + 0.125 s */
  mb_ev(&m, 0, "80 3E 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 2);
  ASSERT(n.v[0].start_beat == 0.5 && n.v[0].end_beat == 2.5);
  ASSERT(n.v[1].start_beat == 1.75 && n.v[1].end_beat == 2.5);
  ASSERT_NEAR(n.v[0].start, 0.25, 1e-12);
  ASSERT_NEAR(n.v[1].start, 1.25, 1e-12);
  ASSERT_NEAR(n.v[1].end, 1.625, 1e-12);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* SMPTE time has no quarter note: beats are seconds * 2 (120 bpm). */
static void test_beats_smpte(void) {
  mb_t m;
  rnj_notes_t n;

  mb_init(&m);
  mb_header(&m, 0, 1, 0xE728); /* 25 fps x 40: a tick is 1 ms */
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 0F 42 40"); /* 60 bpm: no effect on SMPTE time */
  mb_ev(&m, 250, "90 3C 64");
  mb_ev(&m, 500, "80 3C 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 1);
  ASSERT_NEAR(n.v[0].start, 0.25, 1e-12);
  ASSERT_NEAR(n.v[0].start_beat, 0.5, 1e-12);
  ASSERT_NEAR(n.v[0].end_beat, 1.5, 1e-12);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* --------------------------------------------------- opening, closing */

static void test_note_off_closes_all_earlier(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 0A");
  mb_ev(&m, 100, "90 3C 14");
  mb_ev(&m, 100, "90 3C 1E");
  mb_ev(&m, 100, "80 3C 00"); /* tick 300: closes all three */
  mb_ev(&m, 100, "80 3C 00"); /* tick 400: nothing left to close */
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, 0, &n));
  ASSERT_EQ(n.n, 3);
  check_note(&n.v[0], 60, 0, 300, 10);
  check_note(&n.v[1], 60, 100, 300, 20);
  check_note(&n.v[2], 60, 200, 300, 30);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* A note opened and closed on the same tick with nothing older open is
 * lost: the key is simply cleared. */
static void test_same_tick_note_dropped(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 100, "90 3C 64");
  mb_ev(&m, 0, "80 3C 00");
  mb_ev(&m, 100, "90 3C 65"); /* the key works again afterwards */
  mb_ev(&m, 100, "80 3C 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 1);
  check_note(&n.v[0], 60, 200, 300, 101);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* With an older note open, the same-tick note survives the note-off
 * (pretty_midi's notes_to_keep) and a later note-off ends it. */
static void test_same_tick_note_kept(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 0A");
  mb_ev(&m, 100, "90 3C 14"); /* tick 100: a new strike ... */
  mb_ev(&m, 0, "80 3C 00");   /* ... then the note-off of the old one */
  mb_ev(&m, 100, "80 3C 00"); /* tick 200 */
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 2);
  check_note(&n.v[0], 60, 0, 100, 10);
  check_note(&n.v[1], 60, 100, 200, 20);
  rnj_notes_free(&n);
  mb_free(&m);
}

static void test_unclosed_dropped(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 64"); /* never closed */
  mb_ev(&m, 0, "90 3E 64");
  mb_ev(&m, 100, "90 3E 00");
  mb_ev(&m, 0, "91 40 64"); /* closed only on another channel */
  mb_ev(&m, 100, "80 40 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 1);
  check_note(&n.v[0], 62, 0, 100, 100);
  rnj_notes_free(&n);
  mb_free(&m);
}

static void test_stray_note_off_ignored(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 50, "80 3C 00"); /* nothing open */
  mb_ev(&m, 50, "90 3C 64");
  mb_ev(&m, 0, "81 3C 00"); /* channel 1: a different key */
  mb_ev(&m, 100, "80 3C 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 1);
  check_note(&n.v[0], 60, 100, 200, 100);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* Open notes belong to their track: a note-off in another track does not
 * close them. */
static void test_tracks_independent(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 3);
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 64");
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 100, "80 3C 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 0);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* --------------------------------------------------------- instruments */

/* An instrument is (program at the note-off, channel, track); they are
 * numbered by their first closed note, not their first note-on. */
static void test_instruments(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 3);
  mb_track(&m);
  mb_ev(&m, 0, "91 30 64");   /* channel 1, closed last: instrument 1 */
  mb_ev(&m, 0, "90 3C 64");   /* channel 0, program 0 at its note-on */
  mb_ev(&m, 50, "C0 05");     /* program 5 before its note-off */
  mb_ev(&m, 50, "80 3C 00");  /* tick 100: instrument 0 = (5, ch 0, t 1) */
  mb_ev(&m, 0, "90 3E 64");
  mb_ev(&m, 100, "80 3E 00"); /* tick 200: instrument 0 again */
  mb_ev(&m, 100, "81 30 00"); /* tick 300: instrument 1 = (0, ch 1, t 1) */
  mb_end(&m);
  mb_track(&m); /* same program and channel, other track: instrument 2 */
  mb_ev(&m, 0, "C0 05");
  mb_ev(&m, 0, "90 40 64");
  mb_ev(&m, 10, "80 40 00");
  mb_end(&m);

  rnj_notes_init(&n);
  ASSERT_OK(take(&m, 0, &n));
  ASSERT_EQ(n.n, 2);
  check_note(&n.v[0], 60, 0, 100, 100);
  check_note(&n.v[1], 62, 100, 200, 100);
  ASSERT_EQ(n.v[0].program, 5);
  ASSERT_EQ(n.v[0].channel, 0);
  ASSERT_OK(take(&m, 1, &n));
  ASSERT_EQ(n.n, 1);
  check_note(&n.v[0], 48, 0, 300, 100);
  ASSERT_EQ(n.v[0].program, 0);
  ASSERT_EQ(n.v[0].channel, 1);
  ASSERT_OK(take(&m, 2, &n));
  ASSERT_EQ(n.n, 1);
  check_note(&n.v[0], 64, 0, 10, 100);
  ASSERT_EQ(n.v[0].program, 5);

  ASSERT_EQ(take(&m, 3, &n), RNJ_ENOTFOUND);
  ASSERT_CONTAINS(err, "instrument 3: not found, the file has 3 "
                       "instruments");
  ASSERT_EQ(n.n, 0);
  ASSERT_EQ(take(&m, -2, &n), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "instrument -2");
  rnj_notes_free(&n);
  mb_free(&m);

  /* no notes, no instruments */
  start_file(&m, 1);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 0);
  ASSERT_EQ(take(&m, 0, &n), RNJ_ENOTFOUND);
  ASSERT_CONTAINS(err, "the file has 0 instruments");
  rnj_notes_free(&n);
  mb_free(&m);
}

/* Channel 9 (MIDI channel 10) is left out of the merge but still counts
 * as an instrument index. */
static void test_drums(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 0, "99 24 64");  /* kick */
  mb_ev(&m, 0, "90 3C 64");
  mb_ev(&m, 10, "89 24 00"); /* instrument 0: drums */
  mb_ev(&m, 10, "80 3C 00"); /* instrument 1: piano */
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 1);
  check_note(&n.v[0], 60, 0, 20, 100);
  ASSERT_OK(take(&m, 0, &n));
  ASSERT_EQ(n.n, 1);
  check_note(&n.v[0], 36, 0, 10, 100);
  ASSERT_EQ(n.v[0].channel, 9);
  ASSERT_OK(take(&m, 1, &n));
  ASSERT_EQ(n.n, 1);
  ASSERT_EQ(n.v[0].pitch, 60);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* ------------------------------------------------------------- sorting */

static void test_merge_sort(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 3);
  mb_track(&m);
  mb_ev(&m, 0, "90 40 01");   /* (0, 64, 100) */
  mb_ev(&m, 0, "90 3C 02");   /* (0, 60, 200) */
  mb_ev(&m, 50, "90 28 03");  /* (50, 40, 60) */
  mb_ev(&m, 10, "80 28 00");
  mb_ev(&m, 40, "80 40 00");
  mb_ev(&m, 100, "80 3C 00");
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 0, "91 3C 04"); /* (0, 60, 100), another instrument */
  mb_ev(&m, 100, "81 3C 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 4);
  check_note(&n.v[0], 60, 0, 100, 4);
  check_note(&n.v[1], 60, 0, 200, 2);
  check_note(&n.v[2], 64, 0, 100, 1);
  check_note(&n.v[3], 40, 50, 60, 3);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* One instrument: sorted by start only, equal starts in closing order
 * (Python's stable sort), where the merge would order them by pitch. */
static void test_instrument_stable_sort(void) {
  mb_t m;
  rnj_notes_t n;
  int i;

  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 0, "90 48 01");   /* B: start 0 */
  mb_ev(&m, 100, "90 46 02"); /* A: start 100, pitch 70, closed first */
  mb_ev(&m, 0, "90 3C 03");   /* C: start 100, pitch 60 */
  mb_ev(&m, 50, "80 46 00");
  mb_ev(&m, 50, "80 48 00");
  mb_ev(&m, 100, "80 3C 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, 0, &n));
  ASSERT_EQ(n.n, 3);
  check_note(&n.v[0], 72, 0, 200, 1);
  check_note(&n.v[1], 70, 100, 150, 2);
  check_note(&n.v[2], 60, 100, 300, 3);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.v[1].pitch, 60);
  ASSERT_EQ(n.v[2].pitch, 70);
  rnj_notes_free(&n);
  mb_free(&m);

  /* many equal starts: long enough for the sort's merge passes */
  start_file(&m, 2);
  mb_track(&m);
  for (i = 0; i < 300; i++) {
    char ev[32];
    snprintf(ev, sizeof ev, "90 %02X %02X", 20 + i % 80, 1 + i % 120);
    mb_ev(&m, i % 3 ? 0 : 1, ev);
  }
  for (i = 0; i < 300; i++) {
    char ev[32];
    snprintf(ev, sizeof ev, "80 %02X 00", 99 - i % 80);
    mb_ev(&m, 1, ev);
  }
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, 0, &n));
  ASSERT(n.n > 200);
  for (i = 1; i < (int)n.n; i++) {
    ASSERT(n.v[i - 1].start <= n.v[i].start);
    if (n.v[i - 1].start == n.v[i].start)
      ASSERT(n.v[i - 1].end <= n.v[i].end); /* closing order */
  }
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  for (i = 1; i < (int)n.n; i++) {
    const rnj_note_t *a = &n.v[i - 1];
    const rnj_note_t *b = &n.v[i];
    ASSERT(a->start < b->start ||
           (a->start == b->start &&
            (a->pitch < b->pitch ||
             (a->pitch == b->pitch && a->end <= b->end))));
  }
  rnj_notes_free(&n);
  mb_free(&m);
}

static void test_step_duration(void) {
  mb_t m;
  rnj_notes_t n;

  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 960, "90 3C 64");  /* 1.0 s */
  mb_ev(&m, 480, "90 3E 64");  /* 1.5 s */
  mb_ev(&m, 0, "90 40 64");    /* 1.5 s */
  mb_ev(&m, 240, "80 3E 00");  /* 1.75 s */
  mb_ev(&m, 240, "80 3C 00");  /* 2.0 s */
  mb_ev(&m, 960, "80 40 00");  /* 3.0 s */
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 3);
  ASSERT_NEAR(n.v[0].step, 0.0, 0);
  ASSERT_NEAR(n.v[0].duration, 1.0, 1e-12);
  ASSERT_NEAR(n.v[1].step, 0.5, 1e-12);
  ASSERT_NEAR(n.v[1].duration, 0.25, 1e-12);
  ASSERT_NEAR(n.v[2].step, 0.0, 1e-12);
  ASSERT_NEAR(n.v[2].duration, 1.5, 1e-12);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* The corpus's layout: right and left hand on tracks 1 and 2, both on
 * channel 0 and program 0 (two instruments), both kept and interleaved. */
static void test_two_hand_tracks(void) {
  mb_t m;
  rnj_notes_t n;
  static const int pitch[6] = {72, 48, 74, 50, 76, 52};
  int i;

  start_file(&m, 3);
  mb_track(&m);
  mb_ev(&m, 0, "FF 03 05 52 69 67 68 74");
  mb_ev(&m, 0, "90 48 50");
  mb_ev(&m, 200, "48 00");
  mb_ev(&m, 0, "4A 50");
  mb_ev(&m, 200, "4A 00");
  mb_ev(&m, 0, "4C 50");
  mb_ev(&m, 200, "4C 00");
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 0, "FF 03 04 4C 65 66 74");
  mb_ev(&m, 100, "90 30 40");
  mb_ev(&m, 200, "30 00");
  mb_ev(&m, 0, "32 40");
  mb_ev(&m, 200, "32 00");
  mb_ev(&m, 0, "34 40");
  mb_ev(&m, 200, "34 00");
  mb_end(&m);
  rnj_notes_init(&n);
  ASSERT_OK(take(&m, RNJ_NOTES_ALL_INSTRUMENTS, &n));
  ASSERT_EQ(n.n, 6);
  for (i = 0; i < 6; i++) {
    ASSERT_EQ(n.v[i].pitch, pitch[i]);
    ASSERT_NEAR(n.v[i].start, i * 100 / 960.0, 1e-12);
    ASSERT_NEAR(n.v[i].step, i ? 100 / 960.0 : 0.0, 1e-12);
  }
  ASSERT_OK(take(&m, 1, &n));
  ASSERT_EQ(n.n, 3);
  ASSERT_EQ(n.v[0].pitch, 48);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* ------------------------------------------------------ the list itself */

static void test_list(void) {
  rnj_notes_t n;
  rnj_note_t x;
  int i;

  rnj_notes_init(&n);
  memset(&x, 0, sizeof x);
  for (i = 0; i < 1000; i++) {
    x.start = i * 0.25;
    x.end = x.start + (i % 4) * 0.125;
    x.pitch = (uint8_t)(i % 128);
    ASSERT_OK(rnj_notes_push(&n, &x));
  }
  ASSERT_EQ(n.n, 1000);
  ASSERT(n.cap >= 1000);
  rnj_notes_finish(&n);
  ASSERT_NEAR(n.v[0].step, 0, 0);
  ASSERT_NEAR(n.v[999].step, 0.25, 0);
  ASSERT_NEAR(n.v[7].duration, 0.375, 0);
  ASSERT_EQ(n.v[555].pitch, 555 % 128);
  rnj_notes_free(&n);
  rnj_notes_free(&n);
  ASSERT(n.v == NULL && n.n == 0 && n.cap == 0);
}

static void test_from_file_errors(void) {
  char path[1100];
  rnj_notes_t n;
  mb_t m;
  FILE *f;
  int rc;

  rnj_notes_init(&n);
  snprintf(path, sizeof path, "%s/test-notes-missing.mid", test_tmp_dir());
  rc = rnj_notes_from_file(&n, path, RNJ_NOTES_ALL_INSTRUMENTS, err);
  ASSERT_EQ(rc, -ENOENT);
  ASSERT_CONTAINS(err, path);

  snprintf(path, sizeof path, "%s/test-notes.%d.mid", test_tmp_dir(),
           (int)getpid());
  start_file(&m, 2);
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 64");
  mb_ev(&m, 10, "80 3C 00");
  mb_end(&m);
  f = fopen(path, "wb");
  ASSERT(f && fwrite(m.b, 1, m.n, f) == m.n);
  fclose(f);
  ASSERT_OK(rnj_notes_from_file(&n, path, 0, err));
  ASSERT_EQ(n.n, 1);
  ASSERT_EQ(rnj_notes_from_file(&n, path, 1, err), RNJ_ENOTFOUND);
  ASSERT_CONTAINS(err, path);
  ASSERT_CONTAINS(err, "the file has 1 instrument");
  ASSERT_EQ(n.n, 0);

  /* The note track's first event: delta at 34, status at 35.  A data
   * byte there has no running status to use. */
  ASSERT_EQ(m.b[35], 0x90);
  m.b[35] = 0x3C;
  f = fopen(path, "wb");
  ASSERT(f && fwrite(m.b, 1, m.n, f) == m.n);
  fclose(f);
  rc = rnj_notes_from_file(&n, path, RNJ_NOTES_ALL_INSTRUMENTS, err);
  ASSERT_EQ(rc, RNJ_EFORMAT);
  ASSERT_CONTAINS(err, path);
  ASSERT_CONTAINS(err, ": offset 35: expected a status byte");
  ASSERT_EQ(n.n, 0);
  remove(path);
  rnj_notes_free(&n);
  mb_free(&m);
}

/* ------------------------------------------------ real files vs mido */

#define REF_LIMIT 400

typedef struct {
  int pitch;
  double start, end, step, duration, start_beat, end_beat;
} ref_row_t;

static const char *const refs[] = {
    "notes-muss_6-all.csv",        "notes-muss_6-inst0.csv",
    "notes-ravel_miroirs_1-all.csv", "notes-ravel_miroirs_1-inst1.csv",
    "notes-scn16_6-all.csv",       "notes-bach_846-all.csv",
    "notes-bach_846-inst3.csv",    "notes-reelsd-g1-all.csv",
};

static void check_reference(const char *corpus, const char *csv) {
  static ref_row_t rows[REF_LIMIT];
  char path[2048];
  char line[512];
  char file[512] = "";
  int instrument = -2;
  size_t count = 0;
  size_t nrows = 0;
  double sum_start = NAN;
  double sum_end = NAN;
  double sum_start_beat = NAN;
  double sum_end_beat = NAN;
  double s0 = 0;
  double s1 = 0;
  double b0 = 0;
  double b1 = 0;
  rnj_notes_t n;
  FILE *f;
  size_t i;

  snprintf(path, sizeof path, "%s/%s", test_data_dir(), csv);
  f = fopen(path, "r");
  if (!f)
    FAIL("%s: %s", path, strerror(errno));
  while (fgets(line, sizeof line, f)) {
    ref_row_t *r = &rows[nrows];
    if (sscanf(line, "# file %511s", file) == 1 ||
        sscanf(line, "# instrument %d", &instrument) == 1 ||
        sscanf(line, "# count %zu sum_start %lf sum_end %lf", &count,
               &sum_start, &sum_end) == 3 ||
        sscanf(line, "# beats sum_start %lf sum_end %lf", &sum_start_beat,
               &sum_end_beat) == 2 ||
        line[0] == '#' || line[0] == 'p')
      continue;
    ASSERT(nrows < REF_LIMIT);
    ASSERT_EQ(sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf,%lf", &r->pitch,
                     &r->start, &r->end, &r->step, &r->duration,
                     &r->start_beat, &r->end_beat),
              7);
    nrows++;
  }
  fclose(f);
  ASSERT(file[0] && instrument >= -1 && !isnan(sum_end) &&
         !isnan(sum_end_beat));
  ASSERT_EQ(nrows, count < REF_LIMIT ? count : REF_LIMIT);

  snprintf(path, sizeof path, "%s/%s", corpus, file);
  rnj_notes_init(&n);
  if (rnj_notes_from_file(&n, path, instrument, err) < 0)
    FAIL("%s: %s", csv, err);
  if (n.n != count)
    FAIL("%s: %zu notes, the reference has %zu", csv, n.n, count);
  for (i = 0; i < nrows; i++) {
    const rnj_note_t *a = &n.v[i];
    const ref_row_t *r = &rows[i];
    if (a->pitch != r->pitch || fabs(a->start - r->start) > 1e-6 ||
        fabs(a->end - r->end) > 1e-6 || fabs(a->step - r->step) > 1e-6 ||
        fabs(a->duration - r->duration) > 1e-6)
      FAIL("%s: note %zu: got (%d, %.9f, %.9f, %.9f, %.9f), reference "
           "(%d, %.9f, %.9f, %.9f, %.9f)",
           csv, i, a->pitch, a->start, a->end, a->step, a->duration,
           r->pitch, r->start, r->end, r->step, r->duration);
    /* Both sides divide the same two integers once: equal bits, and
     * "%r" prints doubles exactly. */
    if (a->start_beat != r->start_beat || a->end_beat != r->end_beat)
      FAIL("%s: note %zu: beats (%.17g, %.17g), reference (%.17g, %.17g)",
           csv, i, a->start_beat, a->end_beat, r->start_beat, r->end_beat);
  }
  for (i = 0; i < n.n; i++) {
    s0 += n.v[i].start;
    s1 += n.v[i].end;
    b0 += n.v[i].start_beat;
    b1 += n.v[i].end_beat;
  }
  ASSERT_NEAR(s0, sum_start, 1e-6);
  ASSERT_NEAR(s1, sum_end, 1e-6);
  ASSERT_NEAR(b0, sum_start_beat, 1e-6);
  ASSERT_NEAR(b1, sum_end_beat, 1e-6);
  rnj_notes_free(&n);
}

int main(void) {
  const char *corpus;
  size_t i;

  ASSERT_OK(rnj_replace_allocator(c_malloc, c_realloc, c_calloc, c_free));

  test_tempo_only_from_track0();
  test_120bpm_before_first_tempo();
  test_beats_tempo_free();
  test_beats_smpte();
  test_note_off_closes_all_earlier();
  test_same_tick_note_dropped();
  test_same_tick_note_kept();
  test_unclosed_dropped();
  test_stray_note_off_ignored();
  test_tracks_independent();
  test_instruments();
  test_drums();
  test_merge_sort();
  test_instrument_stable_sort();
  test_step_duration();
  test_two_hand_tracks();
  test_list();
  test_from_file_errors();
  ASSERT_EQ(live, 0);

  /* Everything above ran; only the comparison with real files needs the
   * corpus, and its absence is reported as a skip. */
  corpus = test_corpus_dir();
  if (!corpus)
    SKIP("the MIDI corpus is absent ($RNJ_MIDI_CORPUS): the synthetic "
         "cases passed, the %zu reference files were not checked",
         sizeof refs / sizeof refs[0]);
  for (i = 0; i < sizeof refs / sizeof refs[0]; i++)
    check_reference(corpus, refs[i]);
  ASSERT_EQ(live, 0);
  return 0;
}
