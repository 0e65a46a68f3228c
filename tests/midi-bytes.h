/* Hand-made MIDI files for the smf and notes tests.
 *
 * Bytes are written as hex text ("90 3C 64") so a test reads like the
 * file it builds:
 *
 *   mb_t m;
 *   mb_init(&m);
 *   mb_header(&m, 1, 2, 480);
 *   mb_track(&m);
 *   mb_ev(&m, 0, "FF 51 03 07 A1 20");
 *   mb_end(&m);            (end-of-track, then the chunk length is set)
 *   ...
 *   mb_free(&m);
 */
#ifndef RNNJAM_TEST_MIDI_BYTES_H
#define RNNJAM_TEST_MIDI_BYTES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint8_t *b;
  size_t n;
  size_t cap;
  size_t track_at; /* offset of the open MTrk chunk */
} mb_t;

static inline void mb_init(mb_t *m) { memset(m, 0, sizeof *m); }

static inline void mb_free(mb_t *m) {
  free(m->b);
  memset(m, 0, sizeof *m);
}

static inline void mb_byte(mb_t *m, unsigned v) {
  if (m->n == m->cap) {
    m->cap = m->cap ? 2 * m->cap : 256;
    m->b = realloc(m->b, m->cap);
    if (!m->b) {
      fprintf(stderr, "midi-bytes: out of memory\n");
      exit(99);
    }
  }
  m->b[m->n++] = (uint8_t)v;
}

/* Whitespace-separated hex pairs. */
static inline void mb_hex(mb_t *m, const char *hex) {
  while (*hex) {
    char *end;
    unsigned long v;
    if (*hex == ' ') {
      hex++;
      continue;
    }
    v = strtoul(hex, &end, 16);
    if (end == hex || v > 0xff) {
      fprintf(stderr, "midi-bytes: bad hex \"%s\"\n", hex);
      exit(99);
    }
    mb_byte(m, (unsigned)v);
    hex = end;
  }
}

static inline void mb_be32(mb_t *m, uint32_t v) {
  mb_byte(m, v >> 24);
  mb_byte(m, (v >> 16) & 0xff);
  mb_byte(m, (v >> 8) & 0xff);
  mb_byte(m, v & 0xff);
}

static inline void mb_vlq(mb_t *m, uint32_t v) {
  uint8_t tmp[5];
  int n = 0;
  do {
    tmp[n++] = v & 0x7f;
    v >>= 7;
  } while (v);
  while (n-- > 0)
    mb_byte(m, tmp[n] | (n ? 0x80 : 0));
}

/* MThd with length 6. */
static inline void mb_header(mb_t *m, int format, int ntracks, int division) {
  mb_hex(m, "4D 54 68 64 00 00 00 06");
  mb_byte(m, (unsigned)format >> 8);
  mb_byte(m, (unsigned)format & 0xff);
  mb_byte(m, (unsigned)ntracks >> 8);
  mb_byte(m, (unsigned)ntracks & 0xff);
  mb_byte(m, ((unsigned)division >> 8) & 0xff);
  mb_byte(m, (unsigned)division & 0xff);
}

/* Open an MTrk chunk (its length is set by mb_end/mb_close). */
static inline void mb_track(mb_t *m) {
  m->track_at = m->n;
  mb_hex(m, "4D 54 72 6B 00 00 00 00");
}

/* One event: delta time, then the event bytes. */
static inline void mb_ev(mb_t *m, uint32_t delta, const char *hex) {
  mb_vlq(m, delta);
  mb_hex(m, hex);
}

/* Set the open chunk's length to what was written after its header. */
static inline void mb_close(mb_t *m) {
  uint32_t len = (uint32_t)(m->n - m->track_at - 8);
  m->b[m->track_at + 4] = (uint8_t)(len >> 24);
  m->b[m->track_at + 5] = (uint8_t)(len >> 16);
  m->b[m->track_at + 6] = (uint8_t)(len >> 8);
  m->b[m->track_at + 7] = (uint8_t)len;
}

/* End-of-track, then close the chunk. */
static inline void mb_end(mb_t *m) {
  mb_ev(m, 0, "FF 2F 00");
  mb_close(m);
}

#endif
