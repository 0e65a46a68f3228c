/* smf: the reader on hand-made files of every format and feature, the
 * tempo map, every kind of malformed file (refused with a message that
 * names the file, the byte offset and what was expected, and without
 * allocating anything), and the writer (bytes, round trip, validation).
 *
 * Files are built byte by byte with tests/midi-bytes.h.  Offsets in the
 * expected messages count from the file start: MThd is bytes 0-13, the
 * first chunk header 14-21, its first event starts at 22.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "midi-bytes.h"
#include "rnnjam/alloc.h"
#include "rnnjam/notes.h"
#include "rnnjam/smf.h"
#include "test.h"

static char err[RNJ_ERR_LEN];
static char dir[1024];

/* ------------------------------------------------ counting allocator */

static long live;
static long nallocs;
static size_t largest;

static void note_alloc(size_t n) {
  nallocs++;
  if (n > largest)
    largest = n;
}

static void *c_malloc(size_t n) {
  void *p = malloc(n);
  if (p) {
    live++;
    note_alloc(n);
  }
  return p;
}

static void *c_realloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q) {
    if (!p)
      live++;
    note_alloc(n);
  }
  return q;
}

static void *c_calloc(size_t c, size_t n) {
  void *p = calloc(c, n);
  if (p) {
    live++;
    note_alloc(c * n);
  }
  return p;
}

static void c_free(void *p) {
  if (p)
    live--;
  free(p);
}

/* ------------------------------------------------------------ helpers */

static int read_mb(rnj_smf_t *smf, const mb_t *m) {
  err[0] = 0;
  return rnj_smf_read_mem(smf, m->b, m->n, "t.mid", err);
}

static void check_event(const rnj_smf_event_t *e, int64_t tick, int type,
                        int channel, int key, int velocity) {
  ASSERT_EQ(e->tick, tick);
  ASSERT_EQ(e->type, type);
  ASSERT_EQ(e->channel, channel);
  ASSERT_EQ(e->key, key);
  ASSERT_EQ(e->velocity, velocity);
}

/* A file that must be refused with `code`, a message naming "bad.mid",
 * "offset N: expected " and `what`, no allocation and a zeroed struct. */
static void expect_bad(const uint8_t *b, size_t n, int code, size_t offset,
                       const char *what) {
  rnj_smf_t smf;
  char want[64];
  long before = nallocs;
  int rc;

  memset(&smf, 0x5a, sizeof smf);
  err[0] = 0;
  rc = rnj_smf_read_mem(&smf, b, n, "bad.mid", err);
  if (rc != code)
    FAIL("expected %d, got %d (%s)", code, rc, err);
  snprintf(want, sizeof want, "bad.mid: offset %zu: expected ", offset);
  ASSERT_CONTAINS(err, want);
  ASSERT_CONTAINS(err, what);
  ASSERT_EQ(nallocs, before);
  ASSERT(smf.tracks == NULL && smf.events == NULL && smf.tempo == NULL);
  ASSERT_EQ(smf.ntracks, 0);
  rnj_smf_free(&smf);
}

static void expect_bad_mb(const mb_t *m, int code, size_t offset,
                          const char *what) {
  expect_bad(m->b, m->n, code, offset, what);
}

/* A one-track format-1 file whose track holds `events` (hex, with delta
 * times), without end-of-track: for the malformed-track cases. */
static void one_track(mb_t *m, const char *events) {
  mb_init(m);
  mb_header(m, 1, 1, 480);
  mb_track(m);
  mb_hex(m, events);
  mb_close(m);
}

/* --------------------------------------------------------- the formats */

static void test_format0(void) {
  mb_t m;
  rnj_smf_t smf;
  const rnj_smf_event_t *e;

  mb_init(&m);
  mb_header(&m, 0, 1, 96);
  mb_track(&m);
  mb_ev(&m, 0, "FF 03 04 4E 61 6D 65"); /* track name, dropped */
  mb_ev(&m, 0, "FF 51 03 0F 42 40");    /* 1,000,000 us a quarter */
  mb_ev(&m, 0, "C1 21");
  mb_ev(&m, 0, "90 3C 64");
  mb_ev(&m, 0, "91 40 50");
  mb_ev(&m, 96, "80 3C 40");
  mb_ev(&m, 200, "81 40 00");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.format, 0);
  ASSERT_EQ(smf.declared_tracks, 1);
  ASSERT_EQ(smf.ticks_per_quarter, 96);
  ASSERT_EQ(smf.ntracks, 1);
  ASSERT_EQ(smf.nevents, 6);
  ASSERT_EQ(smf.tracks[0].n, 6);
  ASSERT_EQ(smf.tracks[0].end_tick, 296);
  e = smf.tracks[0].events;
  check_event(&e[0], 0, RNJ_SMF_TEMPO, 0, 0, 0);
  ASSERT_EQ(e[0].tempo, 1000000);
  check_event(&e[1], 0, RNJ_SMF_PROGRAM, 1, 0x21, 0);
  check_event(&e[2], 0, RNJ_SMF_NOTE_ON, 0, 60, 100);
  check_event(&e[3], 0, RNJ_SMF_NOTE_ON, 1, 64, 80);
  check_event(&e[4], 96, RNJ_SMF_NOTE_OFF, 0, 60, 64);
  check_event(&e[5], 296, RNJ_SMF_NOTE_OFF, 1, 64, 0);
  /* 60 bpm: a quarter (96 ticks) is a second */
  ASSERT_NEAR(rnj_smf_seconds(&smf, 96, NULL), 1.0, 1e-12);
  rnj_smf_free(&smf);
  rnj_smf_free(&smf); /* twice is fine */
  mb_free(&m);
}

static void test_format1(void) {
  mb_t m;
  rnj_smf_t smf;

  mb_init(&m);
  mb_header(&m, 1, 3, 480);
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 07 A1 20");
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 10, "90 3C 64");
  mb_ev(&m, 470, "80 3C 00");
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 5, "92 30 10");
  mb_ev(&m, 5, "82 30 10");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.format, 1);
  ASSERT_EQ(smf.ntracks, 3);
  ASSERT_EQ(smf.nevents, 5);
  ASSERT_EQ(smf.tracks[0].n, 1);
  ASSERT_EQ(smf.tracks[1].n, 2);
  ASSERT_EQ(smf.tracks[2].n, 2);
  /* each track's ticks count from its own start */
  check_event(&smf.tracks[1].events[0], 10, RNJ_SMF_NOTE_ON, 0, 60, 100);
  check_event(&smf.tracks[1].events[1], 480, RNJ_SMF_NOTE_OFF, 0, 60, 0);
  check_event(&smf.tracks[2].events[0], 5, RNJ_SMF_NOTE_ON, 2, 48, 16);
  check_event(&smf.tracks[2].events[1], 10, RNJ_SMF_NOTE_OFF, 2, 48, 16);
  ASSERT(smf.tracks[1].events == smf.events + 1);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 480, NULL), 0.5, 1e-12);
  rnj_smf_free(&smf);
  mb_free(&m);
}

static void test_format2(void) {
  mb_t m;
  rnj_smf_t smf;

  mb_init(&m);
  mb_header(&m, 2, 2, 480);
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 0F 42 40"); /* 60 bpm */
  mb_ev(&m, 0, "90 3C 64");
  mb_ev(&m, 480, "80 3C 00");
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 03 D0 90"); /* 240 bpm: not track 0, no effect */
  mb_ev(&m, 0, "90 3E 64");
  mb_ev(&m, 960, "80 3E 00");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.format, 2);
  ASSERT_EQ(smf.ntracks, 2);
  ASSERT_EQ(smf.tracks[0].n, 3);
  ASSERT_EQ(smf.tracks[1].n, 3);
  ASSERT_EQ(smf.tracks[1].events[0].type, RNJ_SMF_TEMPO);
  ASSERT_EQ(smf.ntempo, 1);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 960, NULL), 2.0, 1e-12);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* ----------------------------------------------- events and statuses */

static void test_running_status(void) {
  mb_t m;
  rnj_smf_t smf;
  const rnj_smf_event_t *e;

  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "93 3C 64");
  mb_ev(&m, 10, "3E 65"); /* note-on, running status */
  mb_ev(&m, 10, "3C 00"); /* note-on velocity 0 */
  mb_ev(&m, 0, "C3 07");
  mb_ev(&m, 0, "08"); /* program change, running status: one byte */
  mb_ev(&m, 5, "83 3E 40");
  mb_ev(&m, 5, "3E 41");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.tracks[0].n, 7);
  e = smf.tracks[0].events;
  check_event(&e[0], 0, RNJ_SMF_NOTE_ON, 3, 60, 100);
  check_event(&e[1], 10, RNJ_SMF_NOTE_ON, 3, 62, 101);
  check_event(&e[2], 20, RNJ_SMF_NOTE_OFF, 3, 60, 0);
  check_event(&e[3], 20, RNJ_SMF_PROGRAM, 3, 7, 0);
  check_event(&e[4], 20, RNJ_SMF_PROGRAM, 3, 8, 0);
  check_event(&e[5], 25, RNJ_SMF_NOTE_OFF, 3, 62, 64);
  check_event(&e[6], 30, RNJ_SMF_NOTE_OFF, 3, 62, 65);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* System real-time bytes recorded into a track (a MIDI Clock with its
 * start and stop, active sensing) are skipped, their delta times count,
 * and the running status survives them (see smf.h). */
static void test_realtime_bytes(void) {
  static const char *const rt[] = {"F8", "F9", "FA", "FB", "FC", "FD", "FE"};
  mb_t m;
  mb_t plain;
  rnj_smf_t smf;
  rnj_smf_t ref;
  rnj_notes_t a;
  rnj_notes_t b;
  const rnj_smf_event_t *e;
  size_t i;

  mb_init(&m);
  mb_header(&m, 1, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "FA");
  mb_ev(&m, 0, "92 3C 64");
  for (i = 0; i < 7; i++)
    mb_ev(&m, 10, rt[i]); /* 70 ticks of real-time bytes */
  mb_ev(&m, 10, "3C 00"); /* running status: note-on, velocity 0 */
  mb_ev(&m, 0, "F8");
  mb_ev(&m, 20, "3E 50"); /* running status again */
  mb_ev(&m, 0, "FC");
  mb_ev(&m, 40, "82 3E 00");
  mb_ev(&m, 5, "FE");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.tracks[0].n, 4);
  e = smf.tracks[0].events;
  check_event(&e[0], 0, RNJ_SMF_NOTE_ON, 2, 60, 100);
  check_event(&e[1], 80, RNJ_SMF_NOTE_OFF, 2, 60, 0);
  check_event(&e[2], 100, RNJ_SMF_NOTE_ON, 2, 62, 80);
  check_event(&e[3], 140, RNJ_SMF_NOTE_OFF, 2, 62, 0);
  ASSERT_EQ(smf.tracks[0].end_tick, 145);

  /* the notes are those of the file without the real-time bytes (their
   * delta times moved to the next event) */
  mb_init(&plain);
  mb_header(&plain, 1, 1, 480);
  mb_track(&plain);
  mb_ev(&plain, 0, "92 3C 64");
  mb_ev(&plain, 80, "3C 00");
  mb_ev(&plain, 20, "3E 50");
  mb_ev(&plain, 40, "82 3E 00");
  mb_end(&plain);
  ASSERT_OK(read_mb(&ref, &plain));
  rnj_notes_init(&a);
  rnj_notes_init(&b);
  ASSERT_OK(rnj_notes_from_smf(&a, &smf, RNJ_NOTES_ALL_INSTRUMENTS, err));
  ASSERT_OK(rnj_notes_from_smf(&b, &ref, RNJ_NOTES_ALL_INSTRUMENTS, err));
  ASSERT_EQ(a.n, 2);
  ASSERT_EQ(a.n, b.n);
  for (i = 0; i < a.n; i++) {
    ASSERT_EQ(a.v[i].pitch, b.v[i].pitch);
    ASSERT_NEAR(a.v[i].start, b.v[i].start, 0);
    ASSERT_NEAR(a.v[i].end, b.v[i].end, 0);
  }
  rnj_notes_free(&a);
  rnj_notes_free(&b);
  rnj_smf_free(&ref);
  rnj_smf_free(&smf);
  mb_free(&plain);
  mb_free(&m);
}

/* Tolerated as mido does (see smf.h): a meta event keeps the channel
 * running status. */
static void test_running_status_after_meta(void) {
  mb_t m;
  rnj_smf_t smf;
  const rnj_smf_event_t *e;

  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "95 3C 64");
  mb_ev(&m, 0, "FF 01 02 68 69"); /* text "hi" */
  mb_ev(&m, 0, "FF 51 03 07 A1 20");
  mb_ev(&m, 7, "3C 00");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.tracks[0].n, 3);
  e = smf.tracks[0].events;
  check_event(&e[0], 0, RNJ_SMF_NOTE_ON, 5, 60, 100);
  ASSERT_EQ(e[1].type, RNJ_SMF_TEMPO);
  check_event(&e[2], 7, RNJ_SMF_NOTE_OFF, 5, 60, 0);
  rnj_smf_free(&smf);
  mb_free(&m);
}

static void test_running_status_after_sysex(void) {
  mb_t m;
  rnj_smf_t smf;
  const rnj_smf_event_t *e;

  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "96 3C 64");
  mb_ev(&m, 1, "F0 05 7E 7F 09 01 F7"); /* GM on */
  mb_ev(&m, 1, "3D 64");
  mb_ev(&m, 1, "F7 02 F3 01"); /* escape: arbitrary bytes, even status */
  mb_ev(&m, 1, "3E 64");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.tracks[0].n, 3);
  e = smf.tracks[0].events;
  check_event(&e[0], 0, RNJ_SMF_NOTE_ON, 6, 60, 100);
  check_event(&e[1], 2, RNJ_SMF_NOTE_ON, 6, 61, 100);
  check_event(&e[2], 4, RNJ_SMF_NOTE_ON, 6, 62, 100);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* F0 and F7 payloads are skipped by their lengths even when they hold
 * bytes that look like events, including a long (2-byte) length. */
static void test_sysex_skipped(void) {
  mb_t m;
  rnj_smf_t smf;
  int i;

  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "F0 03 90 3C 64");
  mb_ev(&m, 0, "F7 03 90 3D 64");
  mb_ev(&m, 0, "F0");
  mb_vlq(&m, 200);
  for (i = 0; i < 200; i++)
    mb_byte(&m, i % 2 ? 0x90 : 0xff);
  mb_ev(&m, 3, "90 40 01");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.tracks[0].n, 1);
  check_event(&smf.tracks[0].events[0], 3, RNJ_SMF_NOTE_ON, 0, 64, 1);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* Polyphonic pressure, control change and pitch bend take 2 data bytes,
 * channel pressure 1; a miscount would misread the note after them. */
static void test_other_channel_events(void) {
  mb_t m;
  rnj_smf_t smf;
  const rnj_smf_event_t *e;

  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "A0 3C 10");
  mb_ev(&m, 0, "B0 40 7F");
  mb_ev(&m, 0, "40 00"); /* control change, running status */
  mb_ev(&m, 0, "D0 20");
  mb_ev(&m, 0, "21"); /* channel pressure, running status */
  mb_ev(&m, 0, "E0 00 40");
  mb_ev(&m, 1, "90 3C 64");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.tracks[0].n, 1);
  e = smf.tracks[0].events;
  check_event(&e[0], 1, RNJ_SMF_NOTE_ON, 0, 60, 100);
  rnj_smf_free(&smf);
  mb_free(&m);
}

static void test_unknown_chunk_skipped(void) {
  mb_t m;
  rnj_smf_t smf;

  mb_init(&m);
  mb_header(&m, 1, 2, 480);
  /* before, between and after the tracks; the payload looks like a track */
  mb_hex(&m, "58 46 49 48 00 00 00 04 00 90 3C 64");
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 07 A1 20");
  mb_end(&m);
  mb_hex(&m, "4A 55 4E 4B 00 00 00 00");
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 64");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ntracks, 2);
  ASSERT_EQ(smf.tracks[0].n, 1);
  ASSERT_EQ(smf.tracks[0].events[0].type, RNJ_SMF_TEMPO);
  ASSERT_EQ(smf.tracks[1].n, 1);
  ASSERT_EQ(smf.tracks[1].events[0].type, RNJ_SMF_NOTE_ON);
  rnj_smf_free(&smf);
  mb_free(&m);
}

static void test_velocity0_is_note_off(void) {
  mb_t m;
  rnj_smf_t smf;

  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "9F 3C 01");
  mb_ev(&m, 4, "9F 3C 00");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  check_event(&smf.tracks[0].events[0], 0, RNJ_SMF_NOTE_ON, 15, 60, 1);
  check_event(&smf.tracks[0].events[1], 4, RNJ_SMF_NOTE_OFF, 15, 60, 0);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* ---------------------------------------------------------- tolerance */

static void test_tolerated(void) {
  mb_t m;
  rnj_smf_t smf;

  /* a longer MThd; fewer tracks than declared */
  mb_init(&m);
  mb_hex(&m, "4D 54 68 64 00 00 00 08 00 01 00 02 01 E0 AB CD");
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 64");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ticks_per_quarter, 480);
  ASSERT_EQ(smf.declared_tracks, 2);
  ASSERT_EQ(smf.ntracks, 1);
  ASSERT_EQ(smf.tracks[0].n, 1);
  rnj_smf_free(&smf);
  mb_free(&m);

  /* no end-of-track; bytes after the declared tracks are not read */
  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 64");
  mb_ev(&m, 9, "80 3C 64");
  mb_close(&m);
  mb_track(&m);
  mb_hex(&m, "FF FF FF FF FF");
  mb_close(&m);
  mb_hex(&m, "00 01 02");
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ntracks, 1);
  ASSERT_EQ(smf.tracks[0].n, 2);
  ASSERT_EQ(smf.tracks[0].end_tick, 9);
  rnj_smf_free(&smf);
  mb_free(&m);

  /* whatever follows end-of-track inside the chunk is ignored */
  one_track(&m, "00 90 3C 64 00 FF 2F 00 FF FF FF FF FF 00 3C");
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.tracks[0].n, 1);
  rnj_smf_free(&smf);
  mb_free(&m);

  /* zero tracks, an empty track */
  mb_init(&m);
  mb_header(&m, 1, 0, 480);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ntracks, 0);
  ASSERT_EQ(smf.ntempo, 1);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 960, NULL), 1.0, 1e-12);
  rnj_smf_free(&smf);
  mb_free(&m);
  one_track(&m, "");
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ntracks, 1);
  ASSERT_EQ(smf.tracks[0].n, 0);
  ASSERT(smf.tracks[0].events == NULL);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* ----------------------------------------------------------- tempo map */

static void test_tempo_map(void) {
  mb_t m;
  rnj_smf_t smf;

  mb_init(&m);
  mb_header(&m, 1, 2, 480);
  mb_track(&m);
  mb_ev(&m, 960, "FF 51 03 0F 42 40");  /* tick 960: 60 bpm */
  mb_ev(&m, 40, "FF 51 03 0F 42 40");   /* 1000: same tempo, no segment */
  mb_ev(&m, 920, "FF 51 03 03 D0 90");  /* 1920: 240 bpm */
  mb_end(&m);
  mb_track(&m);
  mb_ev(&m, 100, "FF 51 03 01 00 00"); /* track 1: ignored */
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ntempo, 3);
  ASSERT_EQ(smf.tempo[1].tick, 960);
  ASSERT_EQ(smf.tempo[2].tick, 1920);
  /* 120 bpm before the first tempo event */
  ASSERT_NEAR(rnj_smf_seconds(&smf, 0, NULL), 0.0, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 480, NULL), 0.5, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 960, NULL), 1.0, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 1440, NULL), 2.0, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 1920, NULL), 3.0, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 2400, NULL), 3.25, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 1920 + 480 * 1000, NULL),
              3.0 + 250.0, 1e-9);
  rnj_smf_free(&smf);
  mb_free(&m);

  /* tempo events at tick 0 replace the 120 bpm start; the last wins */
  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 0F 42 40");
  mb_ev(&m, 0, "FF 51 03 0B 71 B0"); /* 750,000: 80 bpm */
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ntempo, 1);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 480, NULL), 0.75, 1e-12);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* The public tempo map: ticks, seconds and beats both ways, and the tempo
 * in force, on the map of test_tempo_map (120, then 60 from tick 960, then
 * 240 from tick 1920, at 480 ticks a quarter). */
static void test_tempo_conversions(void) {
  static const double ticks[] = {-240, 0, 1, 479.5, 960, 1000, 1919.25,
                                 1920, 2400, 1e6};
  mb_t m;
  rnj_smf_t smf;
  size_t i;

  mb_init(&m);
  mb_header(&m, 1, 1, 480);
  mb_track(&m);
  mb_ev(&m, 960, "FF 51 03 0F 42 40");
  mb_ev(&m, 40, "FF 51 03 0F 42 40");
  mb_ev(&m, 920, "FF 51 03 03 D0 90");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.tempo[0].tempo, 500000);
  ASSERT_EQ(smf.tempo[1].tempo, 1000000);
  ASSERT_EQ(smf.tempo[2].tempo, 250000);

  /* whole ticks: the very bits of rnj_smf_seconds */
  for (i = 0; i < 3000; i += 7)
    ASSERT(rnj_smf_seconds_at(&smf, (double)i) ==
           rnj_smf_seconds(&smf, (int64_t)i, NULL));
  ASSERT_NEAR(rnj_smf_seconds_at(&smf, 1440.5), 2.0 + 0.5 / 480, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds_at(&smf, -240), -0.25, 1e-12);
  /* seconds -> ticks inverts it, in every segment and past the ends */
  for (i = 0; i < sizeof ticks / sizeof ticks[0]; i++)
    ASSERT_NEAR(rnj_smf_ticks(&smf, rnj_smf_seconds_at(&smf, ticks[i])),
                ticks[i], 1e-6);
  ASSERT_NEAR(rnj_smf_ticks(&smf, 3.25), 2400, 1e-9);

  /* beats are tempo-free */
  ASSERT(rnj_smf_beats(&smf, 1920) == 4.0);
  ASSERT(rnj_smf_beats(&smf, 1000) == 1000.0 / 480);
  ASSERT(rnj_smf_beat_ticks(&smf, 2.5) == 1200.0);
  ASSERT_NEAR(rnj_smf_beat_seconds(&smf, 2.5), 1.5, 1e-12); /* 1 + 0.5 */
  ASSERT_NEAR(rnj_smf_beat_seconds(&smf, 5.0), 3.25, 1e-12);
  ASSERT_NEAR(rnj_smf_second_beats(&smf, 3.25), 5.0, 1e-12);
  ASSERT_NEAR(rnj_smf_second_beats(&smf, 0.25), 0.5, 1e-12);

  /* the tempo in force */
  ASSERT_NEAR(rnj_smf_bpm(&smf, 0), 120, 0);
  ASSERT_NEAR(rnj_smf_bpm(&smf, 959.9), 120, 0);
  ASSERT_NEAR(rnj_smf_bpm(&smf, 960), 60, 0);
  ASSERT_NEAR(rnj_smf_bpm(&smf, 1919), 60, 0);
  ASSERT_NEAR(rnj_smf_bpm(&smf, 1920), 240, 0);
  ASSERT_NEAR(rnj_smf_bpm(&smf, 1e9), 240, 0);
  ASSERT_NEAR(rnj_smf_bpm(&smf, -5), 120, 0);
  rnj_smf_free(&smf);
  mb_free(&m);

  /* SMPTE: 25 fps x 40 ticks, a tick a millisecond; beats at 120 bpm
   * whatever the tempo events say */
  mb_init(&m);
  mb_header(&m, 1, 1, 0xE728);
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 0F 42 40");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_NEAR(rnj_smf_beats(&smf, 1500), 3.0, 1e-12);
  ASSERT_NEAR(rnj_smf_beat_ticks(&smf, 3.0), 1500, 1e-9);
  ASSERT_NEAR(rnj_smf_beat_seconds(&smf, 3.0), 1.5, 1e-12);
  ASSERT_NEAR(rnj_smf_second_beats(&smf, 1.5), 3.0, 1e-12);
  ASSERT_NEAR(rnj_smf_ticks(&smf, 0.25), 250, 1e-9);
  ASSERT_NEAR(rnj_smf_bpm(&smf, 100), 120, 0);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* The hint gives the same bits as the binary search, in any tick order. */
static void test_seconds_hint(void) {
  mb_t m;
  rnj_smf_t smf;
  size_t hint = 0;
  unsigned x = 12345;
  int64_t tick = 0;
  int i;

  mb_init(&m);
  mb_header(&m, 0, 1, 480);
  mb_track(&m);
  for (i = 0; i < 200; i++) {
    char ev[64];
    unsigned tempo = 300000 + (unsigned)i * 1111;
    snprintf(ev, sizeof ev, "FF 51 03 %02X %02X %02X", tempo >> 16,
             (tempo >> 8) & 0xff, tempo & 0xff);
    mb_ev(&m, (uint32_t)(1 + i % 7), ev);
    if (i % 10 == 0)
      mb_ev(&m, 0, ev); /* the same tempo twice: a dropped segment */
  }
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ntempo, 201);
  for (i = 0; i < 5000; i++) {
    double a;
    double b;
    x = x * 1103515245u + 12345u;
    tick = i % 3 ? tick + (x >> 16) % 5 : (int64_t)((x >> 8) % 1000);
    a = rnj_smf_seconds(&smf, tick, &hint);
    b = rnj_smf_seconds(&smf, tick, NULL);
    ASSERT(a == b);
    ASSERT(hint < smf.ntempo);
  }
  rnj_smf_free(&smf);
  mb_free(&m);
}

static void test_smpte(void) {
  mb_t m;
  rnj_smf_t smf;

  /* -25 fps, 40 ticks a frame: a tick is a millisecond, tempo or not */
  mb_init(&m);
  mb_header(&m, 1, 1, 0xE728);
  mb_track(&m);
  mb_ev(&m, 0, "FF 51 03 0F 42 40");
  mb_ev(&m, 100, "FF 51 03 03 D0 90");
  mb_ev(&m, 1400, "90 3C 64");
  mb_end(&m);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.ticks_per_quarter, 0);
  ASSERT_EQ(smf.ticks_per_frame, 40);
  ASSERT_NEAR(smf.smpte_fps, 25.0, 0);
  ASSERT_EQ(smf.ntempo, 1);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 1500, NULL), 1.5, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 40, NULL), 0.04, 1e-12);
  rnj_smf_free(&smf);
  mb_free(&m);

  /* -29 is 30 drop-frame: 29.97 frames a second */
  mb_init(&m);
  mb_header(&m, 1, 0, 0xE302);
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_NEAR(smf.smpte_fps, 30000.0 / 1001.0, 1e-12);
  ASSERT_NEAR(rnj_smf_seconds(&smf, 60000, NULL), 1001.0, 1e-9);
  rnj_smf_free(&smf);
  mb_free(&m);
}

/* ------------------------------------------------------ malformed files */

static void test_bad_header(void) {
  static const uint8_t text[] = "This is not a MIDI file at all.\n";
  mb_t m;

  expect_bad((const uint8_t *)"", 0, RNJ_EFORMAT, 0, "empty");
  expect_bad(text, sizeof text - 1, RNJ_EFORMAT, 0, "\"MThd\"");
  expect_bad((const uint8_t *)"MTh", 3, RNJ_EFORMAT, 0, "\"MThd\"");
  expect_bad((const uint8_t *)"MThd\0\0", 6, RNJ_EFORMAT, 4,
             "header length, the file ends at offset 6");

  mb_init(&m); /* truncated MThd */
  mb_hex(&m, "4D 54 68 64 00 00 00 06 00 01 00");
  expect_bad_mb(&m, RNJ_EFORMAT, 8,
                "6 header bytes, the file ends at offset 11");
  mb_free(&m);

  mb_init(&m); /* MThd length < 6 */
  mb_hex(&m, "4D 54 68 64 00 00 00 04 00 01 00 01");
  expect_bad_mb(&m, RNJ_EFORMAT, 4, "header length >= 6, got 4");
  mb_free(&m);

  mb_init(&m);
  mb_header(&m, 3, 0, 480);
  expect_bad_mb(&m, RNJ_EFORMAT, 8, "format 0, 1 or 2, got 3");
  mb_free(&m);

  mb_init(&m);
  mb_header(&m, 1, 0, 0);
  expect_bad_mb(&m, RNJ_EFORMAT, 12, "time division > 0");
  mb_free(&m);

  mb_init(&m); /* -26 fps */
  mb_header(&m, 1, 0, 0xE628);
  expect_bad_mb(&m, RNJ_EFORMAT, 12, "-24, -25, -29 or -30, got -26");
  mb_free(&m);

  mb_init(&m); /* 0 ticks per frame */
  mb_header(&m, 1, 0, 0xE700);
  expect_bad_mb(&m, RNJ_EFORMAT, 13, "ticks per frame > 0");
  mb_free(&m);
}

static void test_absurd_track_count(void) {
  mb_t m;
  int i;

  /* 60000 tracks declared, room for 2 chunk headers */
  mb_init(&m);
  mb_header(&m, 1, 60000, 480);
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 64");
  mb_end(&m);
  expect_bad_mb(&m, RNJ_EFORMAT, 10, "at most 2 tracks in a 30-byte file, "
                                     "header says 60000");
  mb_free(&m);

  /* plausible for the size, but past RNJ_SMF_MAX_TRACKS */
  mb_init(&m);
  mb_header(&m, 1, RNJ_SMF_MAX_TRACKS + 1, 480);
  for (i = 0; i <= RNJ_SMF_MAX_TRACKS; i++) {
    mb_track(&m);
    mb_close(&m);
  }
  expect_bad_mb(&m, RNJ_ELIMIT, 10, "RNJ_SMF_MAX_TRACKS");
  mb_free(&m);
}

static void test_bad_chunks(void) {
  mb_t m;

  mb_init(&m); /* truncated chunk header after a good track */
  mb_header(&m, 1, 2, 480);
  mb_track(&m);
  mb_ev(&m, 0, "90 3C 64");
  mb_end(&m);
  mb_hex(&m, "4D 54 72 6B 00");
  expect_bad_mb(&m, RNJ_EFORMAT, 30,
                "8-byte chunk header, the file ends at offset 35");
  mb_free(&m);

  mb_init(&m); /* chunk length past the end of the file */
  mb_header(&m, 1, 1, 480);
  mb_hex(&m, "4D 54 72 6B 00 00 10 00 00 90 3C 64");
  expect_bad_mb(&m, RNJ_EFORMAT, 18, "chunk length <= 4 (the bytes left), "
                                     "got 4096");
  mb_free(&m);

  mb_init(&m); /* an unknown chunk's length is checked too */
  mb_header(&m, 1, 1, 480);
  mb_hex(&m, "58 58 58 58 FF FF FF FF 00");
  expect_bad_mb(&m, RNJ_EFORMAT, 18, "chunk length <= 1");
  mb_free(&m);
}

static void test_bad_events(void) {
  mb_t m;

  one_track(&m, "FF FF FF FF 00 90 3C 64"); /* 5-byte VLQ */
  expect_bad_mb(&m, RNJ_EFORMAT, 22,
                "variable-length quantity of at most 4 bytes");
  mb_free(&m);

  one_track(&m, "00 90 3C 64 81"); /* VLQ cut by the track's end */
  expect_bad_mb(&m, RNJ_EFORMAT, 27,
                "variable-length quantity, the track ends at offset 27");
  mb_free(&m);

  one_track(&m, "00 3C 64"); /* data byte, no running status yet */
  expect_bad_mb(&m, RNJ_EFORMAT, 23,
                "status byte (no running status yet), got data byte 0x3C");
  mb_free(&m);

  one_track(&m, "00 90 3C 90 40"); /* status where a data byte belongs */
  expect_bad_mb(&m, RNJ_EFORMAT, 25, "data byte (< 0x80) of event 0x90, "
                                     "got 0x90");
  mb_free(&m);

  one_track(&m, "00 90 3C"); /* event cut by the track's end */
  expect_bad_mb(&m, RNJ_EFORMAT, 24, "2 data bytes of event 0x90");
  mb_free(&m);

  one_track(&m, "00 90 3C 64 00"); /* delta time, then nothing */
  expect_bad_mb(&m, RNJ_EFORMAT, 27, "an event after the delta time");
  mb_free(&m);

  one_track(&m, "00 FF 01 10 61 62"); /* meta longer than the track */
  expect_bad_mb(&m, RNJ_EFORMAT, 26, "16 bytes of meta event 0x01, the "
                                     "track has 2 left");
  mb_free(&m);

  one_track(&m, "00 FF"); /* meta without a type */
  expect_bad_mb(&m, RNJ_EFORMAT, 24, "meta event type");
  mb_free(&m);

  one_track(&m, "00 F0 05 7E 7F"); /* sysex longer than the track */
  expect_bad_mb(&m, RNJ_EFORMAT, 25, "5 bytes of sysex, the track has 2");
  mb_free(&m);

  one_track(&m, "00 FF 51 03 00 00 00"); /* tempo 0 */
  expect_bad_mb(&m, RNJ_EFORMAT, 26, "tempo > 0");
  mb_free(&m);

  one_track(&m, "00 FF 51 02 07 A1"); /* short tempo */
  expect_bad_mb(&m, RNJ_EFORMAT, 26, "3 bytes of tempo, got 2");
  mb_free(&m);

  one_track(&m, "00 90 3C 64 00 F2 00 00"); /* song position: refused */
  expect_bad_mb(&m, RNJ_EFORMAT, 27, "real-time (0xF8-0xFE) status byte, "
                                     "got 0xF2");
  mb_free(&m);

  one_track(&m, "00 90 F8 3C 64"); /* a real-time byte inside a message */
  expect_bad_mb(&m, RNJ_EFORMAT, 24, "a data byte (< 0x80) of event 0x90, "
                                     "got 0xF8");
  mb_free(&m);
}

/* 4097 deltas of 2^28 - 1 ticks pass RNJ_SMF_MAX_TICK. */
static void test_tick_limit(void) {
  mb_t m;
  int i;

  mb_init(&m);
  mb_header(&m, 1, 1, 480);
  mb_track(&m);
  for (i = 0; i < 4097; i++)
    mb_ev(&m, 0x0FFFFFFF, "FF 01 00");
  mb_close(&m);
  expect_bad_mb(&m, RNJ_ELIMIT, 22 + 4096 * 7 + 4, "RNJ_SMF_MAX_TICK");
  mb_free(&m);
}

/* Allocations follow the events kept, never a declared length. */
static void test_allocation_bound(void) {
  mb_t m;
  rnj_smf_t smf;
  int i;

  mb_init(&m);
  mb_header(&m, 1, 2, 480);
  mb_track(&m);
  for (i = 0; i < 1000; i++)
    mb_ev(&m, 0, i % 2 ? "3C 00" : "90 3C 64");
  mb_end(&m);
  mb_hex(&m, "4D 54 72 6B 00 00 00 00");
  largest = 0;
  ASSERT_OK(read_mb(&smf, &m));
  ASSERT_EQ(smf.nevents, 1000);
  /* 16,000 bytes of events from a 3,534-byte file */
  ASSERT(largest <= 8 * m.n);
  ASSERT(largest >= 1000 * sizeof(rnj_smf_event_t));
  rnj_smf_free(&smf);
  mb_free(&m);
}

static void test_read_file(void) {
  char path[1200];
  rnj_smf_t smf;
  mb_t m;
  FILE *f;
  int fd;
  int rc;

  snprintf(path, sizeof path, "%s/missing.mid", dir);
  rc = rnj_smf_read_file(&smf, path, err);
  ASSERT_EQ(rc, -ENOENT);
  ASSERT_CONTAINS(err, path);
  ASSERT(smf.tracks == NULL);

  /* a sparse file one byte past the limit: refused before reading */
  snprintf(path, sizeof path, "%s/huge.mid", dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT(fd >= 0);
  ASSERT_OK(ftruncate(fd, (off_t)RNJ_SMF_MAX_FILE_BYTES + 1));
  close(fd);
  largest = 0;
  rc = rnj_smf_read_file(&smf, path, err);
  ASSERT_EQ(rc, RNJ_ELIMIT);
  ASSERT_CONTAINS(err, path);
  ASSERT(largest < 4096);
  unlink(path);

  /* a good file; errors inside it name the path */
  one_track(&m, "00 90 3C 64 10 80 3C 00");
  snprintf(path, sizeof path, "%s/good.mid", dir);
  f = fopen(path, "wb");
  ASSERT(f && fwrite(m.b, 1, m.n, f) == m.n);
  fclose(f);
  ASSERT_OK(rnj_smf_read_file(&smf, path, err));
  ASSERT_EQ(smf.nevents, 2);
  rnj_smf_free(&smf);
  f = fopen(path, "wb");
  ASSERT(f && fwrite(m.b, 1, m.n - 1, f) == m.n - 1);
  fclose(f);
  ASSERT_EQ(rnj_smf_read_file(&smf, path, err), RNJ_EFORMAT);
  ASSERT_CONTAINS(err, path);
  ASSERT_CONTAINS(err, ": offset 18: expected a chunk length");
  unlink(path);
  mb_free(&m);
}

/* ------------------------------------------------------------- writer */

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *b;
  long n;
  ASSERT(f);
  ASSERT_OK(fseek(f, 0, SEEK_END));
  n = ftell(f);
  rewind(f);
  b = malloc((size_t)n + 1);
  ASSERT(b && fread(b, 1, (size_t)n, f) == (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static rnj_note_t mknote(int pitch, double start, double end, int vel) {
  rnj_note_t n;
  memset(&n, 0, sizeof n);
  n.pitch = (uint8_t)pitch;
  n.start = start;
  n.end = end;
  n.velocity = (uint8_t)vel;
  return n;
}

static void test_write_bytes(void) {
  /* MThd: format 1, 2 tracks, 480; tempo track; note track */
  static const uint8_t want[] = {
      0x4D, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 1, 0, 2, 0x01, 0xE0,
      0x4D, 0x54, 0x72, 0x6B, 0, 0, 0, 11,
      0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, 0x00, 0xFF, 0x2F, 0x00,
      0x4D, 0x54, 0x72, 0x6B, 0, 0, 0, 17,
      0x00, 0xC2, 0x05,             /* program 5, channel 2 */
      0x81, 0x70, 0x92, 0x3C, 0x50, /* 240 ticks: note-on 60, vel 80 */
      0x83, 0x60, 0x82, 0x3C, 0x40, /* 480 later: note-off */
      0x00, 0xFF, 0x2F, 0x00};
  rnj_smf_write_opts_t o;
  rnj_note_t n = mknote(60, 0.25, 0.75, 80);
  char path[1200];
  uint8_t *got;
  size_t len;

  rnj_smf_write_opts_init(&o);
  ASSERT_EQ(o.program, 0);
  ASSERT_EQ(o.velocity, 100);
  ASSERT_EQ(o.channel, 0);
  o.program = 5;
  o.channel = 2;
  snprintf(path, sizeof path, "%s/bytes.mid", dir);
  ASSERT_OK(rnj_smf_write_notes(path, &n, 1, &o, err));
  got = slurp(path, &len);
  ASSERT_EQ(len, sizeof want);
  ASSERT(memcmp(got, want, len) == 0);
  free(got);
  unlink(path);
}

static void test_write_round_trip(void) {
  rnj_note_t in[6];
  rnj_notes_t out;
  rnj_smf_write_opts_t o;
  char path[1200];
  /* expected order after reading: by (start, pitch, end) */
  static const int order[6] = {1, 0, 2, 3, 5, 4};
  size_t i;

  in[0] = mknote(64, 0.0, 0.5, 90);
  in[1] = mknote(60, 0.0, 1.0001, 0); /* velocity 0: the default */
  in[2] = mknote(67, 0.3333333, 0.6666667, 127);
  in[3] = mknote(60, 1.0001, 1.5, 1);   /* right after the first 60 */
  in[4] = mknote(72, 2.71828, 3.14159, 33);
  in[5] = mknote(0, 2.0, 2.0, 50); /* zero length: gets one tick */
  rnj_smf_write_opts_init(&o);
  o.program = 40;
  o.channel = 3;
  o.velocity = 77;
  snprintf(path, sizeof path, "%s/round.mid", dir);
  ASSERT_OK(rnj_smf_write_notes(path, in, 6, &o, err));

  rnj_notes_init(&out);
  ASSERT_OK(rnj_notes_from_file(&out, path, RNJ_NOTES_ALL_INSTRUMENTS, err));
  ASSERT_EQ(out.n, 6);
  for (i = 0; i < 6; i++) {
    const rnj_note_t *a = &out.v[i];
    const rnj_note_t *b = &in[order[i]];
    double end = b->end > b->start ? b->end : b->start + 1.0 / 960;
    ASSERT_EQ(a->pitch, b->pitch);
    ASSERT_NEAR(a->start, b->start, 1.0 / 960);
    ASSERT_NEAR(a->end, end, 1.0 / 960);
    ASSERT(a->end > a->start);
    ASSERT_EQ(a->velocity, b->velocity ? b->velocity : 77);
    ASSERT_EQ(a->program, 40);
    ASSERT_EQ(a->channel, 3);
  }
  rnj_notes_free(&out);

  /* At tick 960 the first 60 ends and the second starts: the note-off
   * must come first, or a synth would cut the new note at once (the
   * reader above would not notice: it keeps a same-tick note-on). */
  {
    rnj_smf_t smf;
    const rnj_smf_track_t *t;
    size_t k = 0;
    ASSERT_OK(rnj_smf_read_file(&smf, path, err));
    ASSERT_EQ(smf.ntracks, 2);
    t = &smf.tracks[1];
    while (k < t->n && t->events[k].tick < 960)
      k++;
    ASSERT(k + 1 < t->n);
    check_event(&t->events[k], 960, RNJ_SMF_NOTE_OFF, 3, 60, 64);
    check_event(&t->events[k + 1], 960, RNJ_SMF_NOTE_ON, 3, 60, 1);
    rnj_smf_free(&smf);
  }

  /* no notes: a valid file with nothing to play */
  ASSERT_OK(rnj_smf_write_notes(path, NULL, 0, NULL, err));
  rnj_notes_init(&out);
  ASSERT_OK(rnj_notes_from_file(&out, path, RNJ_NOTES_ALL_INSTRUMENTS, err));
  ASSERT_EQ(out.n, 0);
  rnj_notes_free(&out);
  unlink(path);
}

static void test_write_invalid(void) {
  rnj_note_t n[3];
  rnj_smf_write_opts_t o;
  char path[1200];
  struct stat st;

  snprintf(path, sizeof path, "%s/invalid.mid", dir);
  n[0] = mknote(60, 0, 1, 0);
  n[1] = mknote(61, 1, 2, 0);
  n[2] = mknote(62, 2, 3, 0);

  rnj_smf_write_opts_init(&o);
  o.program = 128;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "program 128: expected 0..127");
  rnj_smf_write_opts_init(&o);
  o.velocity = 0;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "velocity 0: expected 1..127");
  rnj_smf_write_opts_init(&o);
  o.channel = 16;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "channel 16: expected 0..15");

  n[2].start = NAN;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, NULL, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 2: start nan s");
  n[2].start = 2;
  n[1].end = -0.5;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, NULL, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 1: end -0.5 s");
  n[1].end = INFINITY;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, NULL, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 1: end inf s");
  n[1].end = RNJ_SMF_WRITE_MAX_SECONDS + 1;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, NULL, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 1: end");
  n[1].end = 2;
  n[0].pitch = 128;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, NULL, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 0: pitch 128");
  n[0].pitch = 60;
  n[0].velocity = 200;
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, NULL, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 0: velocity 200");
  n[0].velocity = 0;
  /* the count is checked before any note is looked at */
  ASSERT_EQ(rnj_smf_write_notes(path, n, RNJ_NOTES_MAX + 1, NULL, err),
            RNJ_ELIMIT);
  ASSERT(stat(path, &st) < 0 && errno == ENOENT);

  /* a failed write leaves nothing behind */
  snprintf(path, sizeof path, "%s/no-such-dir/x.mid", dir);
  ASSERT_EQ(rnj_smf_write_notes(path, n, 3, NULL, err), -ENOENT);
  ASSERT_CONTAINS(err, path);
}

/* Beats mode: the notes' beats on the ticks of the tempo map's file, in
 * its division and its tempo (copied up to the last note-off), or at one
 * given tempo; an SMPTE map gives 480 ticks at 120 bpm. */
static void test_write_beats(void) {
  static const double beats[][2] = {
      {0.5, 1.0}, {1.75, 2.5}, {2.0, 2.0}, {3.0 + 1.0 / 3, 4.5}};
  rnj_note_t in[4];
  rnj_notes_t out;
  rnj_smf_write_opts_t o;
  rnj_smf_t map;
  rnj_smf_t back;
  char path[1200];
  mb_t m;
  size_t i;

  /* 96 ticks a quarter: 120 bpm, 60 from beat 1, 240 from beat 2, 100
   * from beat 50 (after the last note: not copied) */
  mb_init(&m);
  mb_header(&m, 1, 1, 96);
  mb_track(&m);
  mb_ev(&m, 96, "FF 51 03 0F 42 40");
  mb_ev(&m, 96, "FF 51 03 03 D0 90");
  mb_ev(&m, 96 * 48, "FF 51 03 09 27 C0");
  mb_end(&m);
  ASSERT_OK(read_mb(&map, &m));
  ASSERT_EQ(map.ntempo, 4);
  for (i = 0; i < 4; i++) {
    in[i] = mknote(60 + (int)i, 0, 0, 90);
    in[i].start_beat = beats[i][0];
    in[i].end_beat = beats[i][1];
  }
  snprintf(path, sizeof path, "%s/beats.mid", dir);
  rnj_smf_write_opts_init(&o);
  ASSERT(o.tempo_map == NULL && o.bpm == 0);
  o.tempo_map = &map;
  ASSERT_OK(rnj_smf_write_notes(path, in, 4, &o, err));

  ASSERT_OK(rnj_smf_read_file(&back, path, err));
  ASSERT_EQ(back.ticks_per_quarter, 96);
  ASSERT_EQ(back.ntempo, 3);
  for (i = 0; i < 3; i++) {
    ASSERT_EQ(back.tempo[i].tick, map.tempo[i].tick);
    ASSERT_EQ(back.tempo[i].tempo, map.tempo[i].tempo);
  }
  /* every onset on its tick: 48, 168, 192, 320 */
  {
    static const int64_t on[] = {48, 168, 192, 320};
    const rnj_smf_track_t *t = &back.tracks[1];
    size_t k = 0;
    for (i = 0; i < t->n; i++)
      if (t->events[i].type == RNJ_SMF_NOTE_ON)
        ASSERT_EQ(t->events[i].tick, on[k++]);
    ASSERT_EQ(k, 4);
  }
  rnj_smf_free(&back);
  rnj_notes_init(&out);
  ASSERT_OK(rnj_notes_from_file(&out, path, RNJ_NOTES_ALL_INSTRUMENTS, err));
  ASSERT_EQ(out.n, 4);
  for (i = 0; i < 4; i++) {
    /* seconds as the map's file would have them */
    ASSERT(out.v[i].start ==
           rnj_smf_seconds_at(&map, llround(beats[i][0] * 96)));
    ASSERT_NEAR(out.v[i].start_beat, beats[i][0], 0.5 / 96);
  }
  ASSERT(out.v[2].end_beat == 2.0 + 1.0 / 96); /* zero length: one tick */
  rnj_notes_free(&out);

  /* the map from beat 1.5 on (tick 144): 60 bpm at 0, 240 from 48 */
  o.tempo_offset = 144;
  ASSERT_OK(rnj_smf_write_notes(path, in, 4, &o, err));
  ASSERT_OK(rnj_smf_read_file(&back, path, err));
  ASSERT_EQ(back.ntempo, 2);
  ASSERT_EQ(back.tempo[0].tempo, 1000000);
  ASSERT_EQ(back.tempo[1].tick, 48);
  ASSERT_EQ(back.tempo[1].tempo, 250000);
  rnj_smf_free(&back);
  /* from exactly a tempo change (tick 192): it starts the map */
  o.tempo_offset = 192;
  ASSERT_OK(rnj_smf_write_notes(path, in, 4, &o, err));
  ASSERT_OK(rnj_smf_read_file(&back, path, err));
  ASSERT_EQ(back.ntempo, 1);
  ASSERT_EQ(back.tempo[0].tempo, 250000);
  rnj_smf_free(&back);
  o.tempo_offset = -1;
  ASSERT_EQ(rnj_smf_write_notes(path, in, 4, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "tempo offset -1 ticks");
  o.tempo_offset = 0;

  /* one tempo instead of the map, in its division */
  o.bpm = 90;
  ASSERT_OK(rnj_smf_write_notes(path, in, 4, &o, err));
  ASSERT_OK(rnj_smf_read_file(&back, path, err));
  ASSERT_EQ(back.ticks_per_quarter, 96);
  ASSERT_EQ(back.ntempo, 1);
  ASSERT_NEAR(rnj_smf_bpm(&back, 0), 90, 1e-4);
  ASSERT_NEAR(rnj_smf_seconds(&back, 192, NULL), 2 * 60.0 / 90, 1e-6);
  rnj_smf_free(&back);
  rnj_smf_free(&map);
  mb_free(&m);

  /* an SMPTE map: 480 ticks a quarter at 120 bpm (its beats' tempo) */
  mb_init(&m);
  mb_header(&m, 1, 1, 0xE728);
  mb_track(&m);
  mb_end(&m);
  ASSERT_OK(read_mb(&map, &m));
  rnj_smf_write_opts_init(&o);
  o.tempo_map = &map;
  ASSERT_OK(rnj_smf_write_notes(path, in, 4, &o, err));
  ASSERT_OK(rnj_smf_read_file(&back, path, err));
  ASSERT_EQ(back.ticks_per_quarter, 480);
  ASSERT_EQ(back.ntempo, 1);
  ASSERT_EQ(back.tempo[0].tempo, 500000);
  rnj_smf_free(&back);

  /* bad beats and tempi are named */
  in[1].start_beat = NAN;
  ASSERT_EQ(rnj_smf_write_notes(path, in, 4, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 1: start nan beats");
  in[1].start_beat = -1;
  ASSERT_EQ(rnj_smf_write_notes(path, in, 4, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 1: start -1 beats");
  in[1].start_beat = 1;
  in[3].end_beat = (double)RNJ_SMF_WRITE_MAX_TICK;
  ASSERT_EQ(rnj_smf_write_notes(path, in, 4, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "note 3: end");
  in[3].end_beat = 4;
  o.bpm = 2000;
  ASSERT_EQ(rnj_smf_write_notes(path, in, 4, &o, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "tempo 2000 bpm: expected 4..1000");
  o.bpm = -3;
  ASSERT_EQ(rnj_smf_write_notes(path, in, 4, &o, err), RNJ_EINVAL);
  rnj_smf_free(&map);
  mb_free(&m);
  unlink(path);
}

/* The whole of a small file, or NULL. */
static char *slurp_small(const char *path, size_t *n) {
  char *b = malloc(65536);
  int fd = open(path, O_RDONLY);
  ssize_t r;
  ASSERT(b != NULL);
  if (fd < 0) {
    free(b);
    return NULL;
  }
  r = read(fd, b, 65536);
  close(fd);
  ASSERT(r >= 0 && r < 65536);
  *n = (size_t)r;
  return b;
}

/* A disk that fills up while a .mid is written (the file-size limit makes
 * write() fail with EFBIG once SIGXFSZ is ignored): a clear error, the old
 * file intact, no temporary left. */
static void test_write_full_disk(void) {
  char path[1200];
  rnj_note_t n[2000];
  char *old;
  char *now;
  size_t on;
  size_t nn;
  pid_t pid;
  int status;
  int i;
  DIR *d;
  struct dirent *e;

  snprintf(path, sizeof path, "%s/full.mid", dir);
  for (i = 0; i < 2000; i++)
    n[i] = mknote(40 + i % 40, i * 0.1, i * 0.1 + 0.05, 0);
  ASSERT_OK(rnj_smf_write_notes(path, n, 10, NULL, err));
  old = slurp_small(path, &on);
  ASSERT(old != NULL);
  fflush(stdout);
  pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {4096, 4096};
    int rc;
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
      _exit(2);
    /* about 16 KB: past the limit */
    rc = rnj_smf_write_notes(path, n, 2000, NULL, err);
    printf("full disk: %d %s\n", rc, err);
    fflush(stdout);
    free(old); /* a leak checker also judges the child's exit */
    _exit(rc == -EFBIG && strstr(err, path) && strstr(err, "write") ? 0
                                                                      : 1);
  }
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  now = slurp_small(path, &nn);
  ASSERT(now != NULL);
  ASSERT_EQ(nn, on);
  ASSERT(memcmp(now, old, on) == 0);
  d = opendir(dir);
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp."))
      FAIL("temporary %s left behind", e->d_name);
  closedir(d);
  free(old);
  free(now);
  unlink(path);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s/test-smf.XXXXXX", test_tmp_dir());
  if (!mkdtemp(dir))
    FAIL("mkdtemp(%s): %s", dir, strerror(errno));
  ASSERT_OK(rnj_replace_allocator(c_malloc, c_realloc, c_calloc, c_free));

  test_format0();
  test_format1();
  test_format2();
  test_running_status();
  test_running_status_after_meta();
  test_running_status_after_sysex();
  test_realtime_bytes();
  test_sysex_skipped();
  test_other_channel_events();
  test_unknown_chunk_skipped();
  test_velocity0_is_note_off();
  test_tolerated();
  test_tempo_map();
  test_tempo_conversions();
  test_seconds_hint();
  test_smpte();
  test_bad_header();
  test_absurd_track_count();
  test_bad_chunks();
  test_bad_events();
  test_tick_limit();
  test_allocation_bound();
  test_read_file();
  test_write_bytes();
  test_write_round_trip();
  test_write_invalid();
  test_write_beats();
  test_write_full_disk();

  ASSERT_EQ(live, 0);
  rmdir(dir);
  return 0;
}
