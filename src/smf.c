/* smf: Standard MIDI File reader and writer.
 *
 * The reader makes two passes over the bytes with the same scanner: the
 * first validates everything and counts the events worth keeping, the
 * second stores them into arrays allocated once at the exact size.  So a
 * file's lengths and counts are never used to size an allocation before
 * the bytes behind them have been seen, there is no per-event malloc, and
 * a malformed file costs one pass.  Every read is bounds-checked against
 * the current chunk; errors name the absolute byte offset.
 *
 * The writer builds the whole file in one buffer (its size is known from
 * the note count) and hands it to rnj__write_atomic.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"
#include "rnnjam/smf.h"

/* ------------------------------------------------------------- reader */

typedef struct {
  const uint8_t *buf;
  size_t len;
  const char *name;
  char *err;
} src_t;

typedef struct {
  int format;
  int declared;
  int tpq;
  double fps;
  int tpf;
  size_t tracks_off; /* first byte after MThd */
} header_t;

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

/* "NAME: offset N: expected ..." with code `code`. */
__attribute__((format(printf, 4, 5))) static int
expected(const src_t *s, int code, size_t off, const char *fmt, ...) {
  char what[RNJ_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return rnj_errorf(s->err, code, "%s: offset %zu: expected %s",
                    s->name ? s->name : "(memory)", off, what);
}

static int read_header(const src_t *s, header_t *h) {
  const uint8_t *b = s->buf;
  uint32_t hlen;
  unsigned division;
  size_t room;

  if (s->len == 0)
    return expected(s, RNJ_EFORMAT, 0,
                    "\"MThd\" (a Standard MIDI File), the file is empty");
  if (s->len < 4 || memcmp(b, "MThd", 4) != 0)
    return expected(s, RNJ_EFORMAT, 0,
                    "\"MThd\" (a Standard MIDI File), got something else");
  if (s->len < 8)
    return expected(s, RNJ_EFORMAT, 4,
                    "a 4-byte header length, the file ends at offset %zu",
                    s->len);
  hlen = be32(b + 4);
  if (hlen < 6)
    return expected(s, RNJ_EFORMAT, 4, "a header length >= 6, got %u",
                    (unsigned)hlen);
  if (hlen > s->len - 8)
    return expected(s, RNJ_EFORMAT, 8,
                    "%u header bytes, the file ends at offset %zu",
                    (unsigned)hlen, s->len);
  h->format = (int)be16(b + 8);
  if (h->format > 2)
    return expected(s, RNJ_EFORMAT, 8, "format 0, 1 or 2, got %d",
                    h->format);
  h->declared = (int)be16(b + 10);
  division = be16(b + 12);
  h->tpq = 0;
  h->fps = 0;
  h->tpf = 0;
  if (division == 0)
    return expected(s, RNJ_EFORMAT, 12, "a time division > 0, got 0");
  if (division & 0x8000) {
    /* SMPTE: the high byte is minus the frame rate, two's complement. */
    int code = 256 - (int)(division >> 8);
    h->tpf = (int)(division & 0xff);
    if (code != 24 && code != 25 && code != 29 && code != 30)
      return expected(s, RNJ_EFORMAT, 12,
                      "SMPTE frames per second -24, -25, -29 or -30, got "
                      "-%d",
                      code);
    if (h->tpf == 0)
      return expected(s, RNJ_EFORMAT, 13, "SMPTE ticks per frame > 0");
    /* -29 is 30 drop-frame, i.e. 30000/1001 frames a second. */
    h->fps = code == 29 ? 30000.0 / 1001.0 : code;
  } else {
    h->tpq = (int)division;
  }
  h->tracks_off = 8 + (size_t)hlen;
  /* Each track needs at least its 8-byte chunk header. */
  room = (s->len - h->tracks_off) / 8;
  if ((size_t)h->declared > room)
    return expected(s, RNJ_EFORMAT, 10,
                    "at most %zu tracks in a %zu-byte file, header says %d",
                    room, s->len, h->declared);
  if (h->declared > RNJ_SMF_MAX_TRACKS)
    return expected(s, RNJ_ELIMIT, 10,
                    "at most %d tracks (RNJ_SMF_MAX_TRACKS), header says %d",
                    RNJ_SMF_MAX_TRACKS, h->declared);
  return 0;
}

/* A variable-length quantity at *p, inside [*p, end). */
static int read_vlq_long(const src_t *s, size_t *p, size_t end,
                         uint32_t *v) {
  size_t start = *p;
  uint32_t x = 0;
  int i;
  for (i = 0; i < RNJ_SMF_MAX_VLQ_BYTES; i++) {
    uint8_t c;
    if (*p >= end)
      return expected(s, RNJ_EFORMAT, *p,
                      "a variable-length quantity, the track ends at offset "
                      "%zu",
                      end);
    c = s->buf[(*p)++];
    x = x << 7 | (c & 0x7f);
    if (!(c & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return expected(s, RNJ_EFORMAT, start,
                  "a variable-length quantity of at most %d bytes",
                  RNJ_SMF_MAX_VLQ_BYTES);
}

/* Most delta times are one byte; keep that path inline. */
static inline int read_vlq(const src_t *s, size_t *p, size_t end,
                           uint32_t *v) {
  if (*p < end && !(s->buf[*p] & 0x80)) {
    *v = s->buf[(*p)++];
    return 0;
  }
  return read_vlq_long(s, p, end, v);
}

/* Scan the events in [start, end).  With `out` NULL only validate and
 * count the events kept; otherwise also store them there.  `*n` gets the
 * count, `*ntempo` how many of them are tempo events, `*end_tick` the
 * tick of the last event. */
static int scan_track(const src_t *s, size_t start, size_t end,
                      rnj_smf_event_t *out, size_t *n, size_t *ntempo,
                      int64_t *end_tick) {
  const uint8_t *b = s->buf;
  size_t p = start;
  size_t kept = 0;
  size_t tempos = 0;
  int64_t tick = 0;
  unsigned status = 0; /* running channel status; 0 = none yet */
  int rc;

  while (p < end) {
    uint32_t delta = 0;
    unsigned c;
    rnj_smf_event_t ev;

    if ((rc = read_vlq(s, &p, end, &delta)) < 0)
      return rc;
    tick += delta;
    if (tick > RNJ_SMF_MAX_TICK)
      return expected(s, RNJ_ELIMIT, p,
                      "at most %lld ticks from the track start "
                      "(RNJ_SMF_MAX_TICK)",
                      (long long)RNJ_SMF_MAX_TICK);
    if (p >= end)
      return expected(s, RNJ_EFORMAT, p,
                      "an event after the delta time, the track ends at "
                      "offset %zu",
                      end);
    c = b[p];
    memset(&ev, 0, sizeof ev);
    ev.tick = tick;

    if (c == 0xff) {
      uint32_t mlen = 0;
      unsigned type;
      size_t at;
      if (end - p < 2)
        return expected(s, RNJ_EFORMAT, p + 1,
                        "a meta event type, the track ends at offset %zu",
                        end);
      type = b[p + 1];
      p += 2;
      if ((rc = read_vlq(s, &p, end, &mlen)) < 0)
        return rc;
      at = p;
      if (mlen > end - p)
        return expected(s, RNJ_EFORMAT, at,
                        "%u bytes of meta event 0x%02X, the track has %zu "
                        "left",
                        (unsigned)mlen, type, end - p);
      p += mlen;
      if (type == 0x2f)
        break; /* end of track: whatever follows in the chunk is not ours */
      if (type == 0x51) {
        uint32_t tempo;
        if (mlen < 3)
          return expected(s, RNJ_EFORMAT, at,
                          "3 bytes of tempo, got %u", (unsigned)mlen);
        tempo = (uint32_t)b[at] << 16 | (uint32_t)b[at + 1] << 8 | b[at + 2];
        if (tempo == 0)
          return expected(s, RNJ_EFORMAT, at,
                          "a tempo > 0 microseconds per quarter");
        ev.type = RNJ_SMF_TEMPO;
        ev.tempo = tempo;
        if (out)
          out[kept] = ev;
        kept++;
        tempos++;
      }
      continue;
    }
    if (c == 0xf0 || c == 0xf7) {
      uint32_t slen = 0;
      p++;
      if ((rc = read_vlq(s, &p, end, &slen)) < 0)
        return rc;
      if (slen > end - p)
        return expected(s, RNJ_EFORMAT, p,
                        "%u bytes of sysex, the track has %zu left",
                        (unsigned)slen, end - p);
      p += slen;
      continue; /* running status deliberately kept (see smf.h) */
    }
    if (c >= 0xf8) {
      /* A system real-time byte (a MIDI Clock recorded with the notes):
       * one byte, skipped; its delta time counts, the running status is
       * kept (see smf.h). */
      p++;
      continue;
    }
    if (c >= 0xf0)
      return expected(s, RNJ_EFORMAT, p,
                      "a channel, meta (0xFF), sysex (0xF0, 0xF7) or "
                      "real-time (0xF8-0xFE) status byte, got 0x%02X",
                      c);
    if (c & 0x80) {
      status = c;
      p++;
    } else if (!status) {
      return expected(s, RNJ_EFORMAT, p,
                      "a status byte (no running status yet), got data "
                      "byte 0x%02X",
                      c);
    }
    {
      /* Program change and channel pressure carry one data byte. */
      size_t nd = (status & 0xe0) == 0xc0 ? 1 : 2;
      size_t i;
      if (end - p < nd)
        return expected(s, RNJ_EFORMAT, p,
                        "%zu data bytes of event 0x%02X, the track ends at "
                        "offset %zu",
                        nd, status, end);
      for (i = 0; i < nd; i++)
        if (b[p + i] & 0x80)
          return expected(s, RNJ_EFORMAT, p + i,
                          "a data byte (< 0x80) of event 0x%02X, got 0x%02X",
                          status, b[p + i]);
      ev.channel = (uint8_t)(status & 0x0f);
      ev.key = b[p];
      switch (status >> 4) {
      case 0x8:
        ev.type = RNJ_SMF_NOTE_OFF;
        ev.velocity = b[p + 1];
        break;
      case 0x9:
        ev.velocity = b[p + 1];
        ev.type = ev.velocity ? RNJ_SMF_NOTE_ON : RNJ_SMF_NOTE_OFF;
        break;
      case 0xc:
        ev.type = RNJ_SMF_PROGRAM;
        break;
      default:
        break;
      }
      p += nd;
      if (ev.type) {
        if (out)
          out[kept] = ev;
        kept++;
      }
    }
  }
  *n = kept;
  *ntempo = tempos;
  *end_tick = tick;
  return 0;
}

/* Walk the chunks after MThd.  Pass 1 (`smf->tracks` NULL) counts
 * tracks, events and the first track's tempo events; pass 2 fills the
 * arrays pass 1 sized. */
static int scan_chunks(const src_t *s, const header_t *h, rnj_smf_t *smf,
                       size_t *ntracks, size_t *nevents, size_t *ntempo0) {
  size_t off = h->tracks_off;
  size_t found = 0;
  size_t total = 0;
  int rc;

  *ntempo0 = 0;
  while (found < (size_t)h->declared && off < s->len) {
    uint32_t clen;
    if (s->len - off < 8)
      return expected(s, RNJ_EFORMAT, off,
                      "an 8-byte chunk header, the file ends at offset %zu",
                      s->len);
    clen = be32(s->buf + off + 4);
    if (clen > s->len - off - 8)
      return expected(s, RNJ_EFORMAT, off + 4,
                      "a chunk length <= %zu (the bytes left), got %u",
                      s->len - off - 8, (unsigned)clen);
    if (memcmp(s->buf + off, "MTrk", 4) == 0) {
      rnj_smf_event_t *out = smf->tracks ? smf->events + total : NULL;
      size_t n = 0;
      size_t ntempo = 0;
      int64_t end_tick = 0;
      rc = scan_track(s, off + 8, off + 8 + clen, out, &n, &ntempo,
                      &end_tick);
      if (rc < 0)
        return rc;
      if (found == 0)
        *ntempo0 = ntempo;
      if (smf->tracks) {
        smf->tracks[found].events = n ? out : NULL;
        smf->tracks[found].n = n;
        smf->tracks[found].end_tick = end_tick;
      }
      total += n;
      found++;
    }
    off += 8 + (size_t)clen;
  }
  *ntracks = found;
  *nevents = total;
  return 0;
}

/* pretty_midi's tick scales from track 0 (see rnj_smf_t.tempo) into
 * smf->tempo, which has room for one more segment than track 0 has
 * tempo events. */
static void build_tempo_map(rnj_smf_t *smf) {
  const rnj_smf_track_t *t0 = smf->ntracks ? &smf->tracks[0] : NULL;
  rnj_smf_tempo_t *seg = smf->tempo;
  size_t n = 1;
  size_t i;

  seg[0].tick = 0;
  seg[0].seconds = 0;
  seg[0].tempo = 500000;
  if (!smf->ticks_per_quarter) {
    seg[0].scale = 1.0 / (smf->smpte_fps * smf->ticks_per_frame);
  } else {
    double res = smf->ticks_per_quarter;
    seg[0].scale = 60.0 / (120.0 * res);
    for (i = 0; t0 && i < t0->n; i++) {
      const rnj_smf_event_t *e = &t0->events[i];
      double scale;
      if (e->type != RNJ_SMF_TEMPO)
        continue;
      /* The same operations as pretty_midi, so that the equality test
       * below drops exactly the segments it drops. */
      scale = 60.0 / ((6e7 / (double)e->tempo) * res);
      if (e->tick == 0) {
        seg[0].scale = scale;
        seg[0].tempo = e->tempo;
        n = 1;
      } else if (scale != seg[n - 1].scale) {
        seg[n].tick = e->tick;
        seg[n].scale = scale;
        seg[n].tempo = e->tempo;
        n++;
      }
    }
    for (i = 1; i < n; i++)
      seg[i].seconds = seg[i - 1].seconds +
                       (double)(seg[i].tick - seg[i - 1].tick) *
                           seg[i - 1].scale;
  }
  smf->ntempo = n;
}

int rnj_smf_read_mem(rnj_smf_t *smf, const uint8_t *buf, size_t len,
                     const char *name, char *err) {
  src_t s = {buf, len, name, err};
  header_t h;
  size_t ntracks;
  size_t nevents;
  size_t ntempo0;
  size_t n2;
  size_t e2;
  size_t t2;
  int rc;

  memset(smf, 0, sizeof *smf);
  if ((rc = read_header(&s, &h)) < 0)
    return rc;
  if ((rc = scan_chunks(&s, &h, smf, &ntracks, &nevents, &ntempo0)) < 0)
    return rc;
  smf->format = h.format;
  smf->declared_tracks = h.declared;
  smf->ticks_per_quarter = h.tpq;
  smf->smpte_fps = h.fps;
  smf->ticks_per_frame = h.tpf;
  /* One block: the tempo map, the tracks, the events (all 8-byte
   * aligned).  Fewer, larger blocks keep glibc from returning and
   * refetching memory between files, which costs page faults. */
  smf->tempo = rnj__malloc((1 + ntempo0) * sizeof *smf->tempo +
                           ntracks * sizeof *smf->tracks +
                           nevents * sizeof *smf->events);
  if (!smf->tempo) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory",
                    name ? name : "(memory)");
    memset(smf, 0, sizeof *smf);
    return rc;
  }
  smf->tracks = (rnj_smf_track_t *)(smf->tempo + 1 + ntempo0);
  smf->events = (rnj_smf_event_t *)(smf->tracks + ntracks);
  if (ntracks) {
    /* The same bytes passed the first pass; checked all the same. */
    if ((rc = scan_chunks(&s, &h, smf, &n2, &e2, &t2)) < 0) {
      rnj_smf_free(smf);
      return rc;
    }
  } else {
    smf->tracks = NULL;
  }
  if (!nevents)
    smf->events = NULL;
  smf->ntracks = ntracks;
  smf->nevents = nevents;
  build_tempo_map(smf);
  return 0;
}

int rnj_smf_read_file(rnj_smf_t *smf, const char *path, char *err) {
  uint8_t *buf;
  size_t len;
  int rc;

  memset(smf, 0, sizeof *smf);
  rc = rnj__read_file(path, RNJ_SMF_MAX_FILE_BYTES, &buf, &len, err);
  if (rc < 0)
    return rc;
  rc = rnj_smf_read_mem(smf, buf, len, path, err);
  rnj__free(buf);
  return rc;
}

void rnj_smf_free(rnj_smf_t *smf) {
  rnj__free(smf->tempo); /* the block that also holds tracks and events */
  memset(smf, 0, sizeof *smf);
}

/* Largest k >= lo with seg[k].tick <= tick (seg[lo].tick <= tick). */
static size_t find_segment(const rnj_smf_tempo_t *seg, size_t n, size_t lo,
                           int64_t tick) {
  size_t hi = n;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (seg[mid].tick <= tick)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

double rnj_smf_seconds(const rnj_smf_t *smf, int64_t tick, size_t *hint) {
  const rnj_smf_tempo_t *seg = smf->tempo;
  size_t n = smf->ntempo;
  size_t k = hint ? *hint : 0;

  if (!n)
    return 0;
  /* Non-decreasing ticks stay in the hinted segment or move to the next;
   * anything else takes the binary search. */
  if (k < n && seg[k].tick <= tick) {
    if (k + 1 < n && seg[k + 1].tick <= tick)
      k++;
    if (k + 1 < n && seg[k + 1].tick <= tick)
      k = find_segment(seg, n, k, tick);
  } else {
    k = find_segment(seg, n, 0, tick);
  }
  if (hint)
    *hint = k;
  return seg[k].seconds + (double)(tick - seg[k].tick) * seg[k].scale;
}

/* ---------------------------------------------------------- tempo map */

/* The segment holding fractional `tick` (the first one before tick 0). */
static const rnj_smf_tempo_t *segment_at(const rnj_smf_t *smf, double tick) {
  const rnj_smf_tempo_t *seg = smf->tempo;
  size_t lo = 0;
  size_t hi = smf->ntempo;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if ((double)seg[mid].tick <= tick)
      lo = mid;
    else
      hi = mid;
  }
  return &seg[lo];
}

double rnj_smf_seconds_at(const rnj_smf_t *smf, double tick) {
  const rnj_smf_tempo_t *g;
  if (!smf->ntempo)
    return 0;
  g = segment_at(smf, tick);
  /* The same expression as rnj_smf_seconds, so whole ticks agree to the
   * bit: (tick - g->tick) is exact for ticks below 2^53. */
  return g->seconds + (tick - (double)g->tick) * g->scale;
}

double rnj_smf_ticks(const rnj_smf_t *smf, double seconds) {
  const rnj_smf_tempo_t *seg = smf->tempo;
  size_t lo = 0;
  size_t hi = smf->ntempo;
  if (!hi)
    return 0;
  /* Segment starts are increasing in seconds as in ticks. */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (seg[mid].seconds <= seconds)
      lo = mid;
    else
      hi = mid;
  }
  return (double)seg[lo].tick + (seconds - seg[lo].seconds) / seg[lo].scale;
}

double rnj_smf_beats(const rnj_smf_t *smf, int64_t tick) {
  if (!smf->ticks_per_quarter)
    return rnj_smf_seconds(smf, tick, NULL) * 2.0;
  return (double)tick / smf->ticks_per_quarter;
}

double rnj_smf_beat_ticks(const rnj_smf_t *smf, double beats) {
  if (!smf->ticks_per_quarter)
    return rnj_smf_ticks(smf, beats / 2.0);
  return beats * smf->ticks_per_quarter;
}

double rnj_smf_beat_seconds(const rnj_smf_t *smf, double beats) {
  if (!smf->ticks_per_quarter)
    return beats / 2.0;
  return rnj_smf_seconds_at(smf, rnj_smf_beat_ticks(smf, beats));
}

double rnj_smf_second_beats(const rnj_smf_t *smf, double seconds) {
  if (!smf->ticks_per_quarter)
    return seconds * 2.0;
  return rnj_smf_ticks(smf, seconds) / smf->ticks_per_quarter;
}

double rnj_smf_bpm(const rnj_smf_t *smf, double tick) {
  if (!smf->ticks_per_quarter || !smf->ntempo)
    return 120.0;
  return 6e7 / (double)segment_at(smf, tick)->tempo;
}

/* ------------------------------------------------------------- writer */

typedef struct {
  int64_t tick;
  uint32_t index; /* the note's index: ties keep the caller's order */
  uint8_t on;
  uint8_t pitch;
  uint8_t velocity;
} wev_t;

static int wev_cmp(const void *a, const void *b) {
  const wev_t *x = a;
  const wev_t *y = b;
  if (x->tick != y->tick)
    return x->tick < y->tick ? -1 : 1;
  /* Offs first: a note repeated right after itself must not be ended by
   * its predecessor's note-off. */
  if (x->on != y->on)
    return x->on < y->on ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static size_t put_vlq(uint8_t *p, uint32_t v) {
  uint8_t tmp[5];
  size_t n = 0;
  size_t i;
  do {
    tmp[n++] = v & 0x7f;
    v >>= 7;
  } while (v);
  for (i = 0; i < n; i++)
    p[i] = (uint8_t)(tmp[n - 1 - i] | (i + 1 < n ? 0x80 : 0));
  return n;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

void rnj_smf_write_opts_init(rnj_smf_write_opts_t *opts) {
  opts->program = 0;
  opts->velocity = 100;
  opts->channel = 0;
  opts->tempo_map = NULL;
  opts->tempo_offset = 0;
  opts->bpm = 0;
}

static int check_time(const char *path, size_t i, const char *what,
                      double t, char *err) {
  if (!(t >= 0 && t <= RNJ_SMF_WRITE_MAX_SECONDS))
    return rnj_errorf(err, RNJ_EINVAL,
                      "%s: note %zu: %s %g s: expected a time in 0..%g s",
                      path, i, what, t, RNJ_SMF_WRITE_MAX_SECONDS);
  return 0;
}

static int check_beat(const char *path, size_t i, const char *what,
                      double b, int division, char *err) {
  double max = (double)RNJ_SMF_WRITE_MAX_TICK / division;
  if (!(b >= 0 && b <= max))
    return rnj_errorf(err, RNJ_EINVAL,
                      "%s: note %zu: %s %g beats: expected 0..%g beats",
                      path, i, what, b, max);
  return 0;
}

/* The tempo track's events: the map's segments from the one in force at
 * the output's tick 0 (the map's tick `offset`) up to `until` (later ones
 * change nothing that is written), moved back by `offset`; or one tempo.
 * Returns the count. */
static size_t tempo_events(const rnj_smf_write_opts_t *o, int64_t until,
                           int64_t *tick, uint32_t *tempo) {
  const rnj_smf_t *m = o->tempo_map;
  int64_t off = o->tempo_offset;
  size_t n = 0;
  size_t i;
  if (o->bpm > 0 || !m || !m->ticks_per_quarter || !m->ntempo) {
    tick[0] = 0;
    tempo[0] = o->bpm > 0 ? (uint32_t)llround(6e7 / o->bpm) : 500000;
    return 1;
  }
  for (i = 0; i < m->ntempo; i++) {
    int64_t t = m->tempo[i].tick - off;
    if (t > until)
      break;
    if (t <= 0) /* in force at tick 0, unless a later one is too */
      n = 0;
    tick[n] = t > 0 ? t : 0;
    tempo[n++] = m->tempo[i].tempo;
  }
  return n;
}

int rnj_smf_write_notes(const char *path, const rnj_note_t *notes, size_t n,
                        const rnj_smf_write_opts_t *opts, char *err) {
  rnj_smf_write_opts_t o;
  struct iovec iov;
  wev_t *ev;
  uint8_t *out = NULL;
  uint8_t *p;
  uint8_t *track;
  int64_t *tt = NULL;
  uint32_t *tv = NULL;
  size_t nt = 0;
  size_t i;
  size_t cap;
  int64_t last = 0;
  int64_t end_tick = 0;
  unsigned status = 0;
  int beats;
  int division = RNJ_SMF_WRITE_TICKS_PER_QUARTER;
  int rc;

  if (opts)
    o = *opts;
  else
    rnj_smf_write_opts_init(&o);
  if (o.program < 0 || o.program > 127)
    return rnj_errorf(err, RNJ_EINVAL, "%s: program %d: expected 0..127",
                      path, o.program);
  if (o.velocity < 1 || o.velocity > 127)
    return rnj_errorf(err, RNJ_EINVAL, "%s: velocity %d: expected 1..127",
                      path, o.velocity);
  if (o.channel < 0 || o.channel > 15)
    return rnj_errorf(err, RNJ_EINVAL, "%s: channel %d: expected 0..15",
                      path, o.channel);
  if (o.bpm != 0 && !(o.bpm >= RNJ_SMF_WRITE_MIN_BPM &&
                      o.bpm <= RNJ_SMF_WRITE_MAX_BPM))
    return rnj_errorf(err, RNJ_EINVAL, "%s: tempo %g bpm: expected %g..%g",
                      path, o.bpm, RNJ_SMF_WRITE_MIN_BPM,
                      RNJ_SMF_WRITE_MAX_BPM);
  if (n > RNJ_NOTES_MAX)
    return rnj_errorf(err, RNJ_ELIMIT,
                      "%s: %zu notes: expected at most %zu (RNJ_NOTES_MAX)",
                      path, n, (size_t)RNJ_NOTES_MAX);
  if (o.tempo_offset < 0 || o.tempo_offset > RNJ_SMF_MAX_TICK)
    return rnj_errorf(err, RNJ_EINVAL,
                      "%s: tempo offset %lld ticks: expected 0..%lld", path,
                      (long long)o.tempo_offset,
                      (long long)RNJ_SMF_MAX_TICK);
  beats = o.tempo_map || o.bpm > 0;
  if (o.tempo_map && o.tempo_map->ticks_per_quarter)
    division = o.tempo_map->ticks_per_quarter;
  for (i = 0; i < n; i++) {
    if (beats) {
      if ((rc = check_beat(path, i, "start", notes[i].start_beat, division,
                           err)) < 0 ||
          (rc = check_beat(path, i, "end", notes[i].end_beat, division,
                           err)) < 0)
        return rc;
    } else if ((rc = check_time(path, i, "start", notes[i].start, err)) <
                   0 ||
               (rc = check_time(path, i, "end", notes[i].end, err)) < 0) {
      return rc;
    }
    if (notes[i].pitch > 127)
      return rnj_errorf(err, RNJ_EINVAL,
                        "%s: note %zu: pitch %u: expected 0..127", path, i,
                        notes[i].pitch);
    if (notes[i].velocity > 127)
      return rnj_errorf(err, RNJ_EINVAL,
                        "%s: note %zu: velocity %u: expected 0..127 (0: "
                        "use the default)",
                        path, i, notes[i].velocity);
  }

  ev = n ? rnj__malloc(2 * n * sizeof *ev) : NULL;
  if (n && !ev)
    goto fail_nomem;
  for (i = 0; i < n; i++) {
    int64_t on;
    int64_t off;
    uint8_t vel =
        notes[i].velocity ? notes[i].velocity : (uint8_t)o.velocity;
    if (beats) {
      on = llround(notes[i].start_beat * division);
      off = llround(notes[i].end_beat * division);
    } else {
      on = llround(notes[i].start * RNJ_SMF_WRITE_TICKS_PER_SECOND);
      off = llround(notes[i].end * RNJ_SMF_WRITE_TICKS_PER_SECOND);
    }
    if (off <= on)
      off = on + 1;
    end_tick = off > end_tick ? off : end_tick;
    ev[2 * i] = (wev_t){on, (uint32_t)i, 1, notes[i].pitch, vel};
    ev[2 * i + 1] = (wev_t){off, (uint32_t)i, 0, notes[i].pitch, 64};
  }
  if (n)
    qsort(ev, 2 * n, sizeof *ev, wev_cmp);

  /* The tempo track: at most one event per segment of the map. */
  cap = o.tempo_map && o.tempo_map->ntempo ? o.tempo_map->ntempo : 1;
  tt = rnj__malloc(cap * sizeof *tt);
  tv = rnj__malloc(cap * sizeof *tv);
  if (!tt || !tv)
    goto fail_nomem;
  nt = tempo_events(&o, end_tick, tt, tv);

  /* Header, tempo track (per event a 4-byte delta and 6 bytes), note
   * track header, program change, per note event at most a 4-byte delta
   * + status + 2 data bytes, the two end-of-tracks. */
  cap = 14 + 8 + nt * 10 + 4 + 8 + 3 + 2 * n * 7 + 4;
  out = rnj__malloc(cap);
  if (!out)
    goto fail_nomem;
  p = out;
  memcpy(p, "MThd\0\0\0\6\0\1\0\2", 12);
  p[12] = (uint8_t)(division >> 8);
  p[13] = (uint8_t)(division & 0xff);
  p += 14;
  memcpy(p, "MTrk", 4);
  p += 8; /* length patched below */
  for (i = 0; i < nt; i++) {
    p += put_vlq(p, (uint32_t)(tt[i] - (i ? tt[i - 1] : 0)));
    *p++ = 0xff;
    *p++ = 0x51;
    *p++ = 3;
    *p++ = (uint8_t)(tv[i] >> 16);
    *p++ = (uint8_t)(tv[i] >> 8);
    *p++ = (uint8_t)tv[i];
  }
  *p++ = 0;
  *p++ = 0xff;
  *p++ = 0x2f;
  *p++ = 0;
  put_be32(out + 18, (uint32_t)(p - out - 22));
  track = p;
  memcpy(p, "MTrk", 4);
  p += 8; /* length patched below */
  *p++ = 0;
  *p++ = (uint8_t)(0xc0 | o.channel);
  *p++ = (uint8_t)o.program;
  for (i = 0; i < 2 * n; i++) {
    unsigned st = (ev[i].on ? 0x90u : 0x80u) | (unsigned)o.channel;
    p += put_vlq(p, (uint32_t)(ev[i].tick - last));
    last = ev[i].tick;
    if (st != status)
      *p++ = (uint8_t)st;
    status = st;
    *p++ = ev[i].pitch;
    *p++ = ev[i].velocity;
  }
  *p++ = 0;
  *p++ = 0xff;
  *p++ = 0x2f;
  *p++ = 0;
  put_be32(track + 4, (uint32_t)(p - track - 8));

  iov.iov_base = out;
  iov.iov_len = (size_t)(p - out);
  rc = rnj__write_atomic(path, &iov, 1, err);
  goto done;

fail_nomem:
  rc = rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", path);
done:
  rnj__free(ev);
  rnj__free(tt);
  rnj__free(tv);
  rnj__free(out);
  return rc;
}
