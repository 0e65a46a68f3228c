/* notes: a parsed MIDI file's notes, the way pretty_midi finds them.
 *
 * The tutorial builds its training set with pretty_midi, so a model
 * trained here must see the very same notes.  pretty_midi's rules
 * (PrettyMIDI._load_tempo_changes and _load_instruments), reproduced here:
 *
 *   - Time comes from the tempo map of track 0 (rnj_smf_t.tempo); beats
 *     are ticks / ticks per quarter (rnj_smf_beats).
 *   - Each track is read on its own, with the program of each of the 16
 *     channels starting at 0 and set by program changes.
 *   - A note-on (velocity > 0) opens a note on its (channel, pitch); a key
 *     may hold several open notes.
 *   - A note-off (or a note-on with velocity 0) on a key with open notes
 *     closes every one of them opened on an earlier tick, in the order
 *     they were opened.  Those opened on this very tick stay open only if
 *     some older note was closed too; otherwise the key is emptied and they
 *     are lost.  A note-off on a key with nothing open is ignored; notes
 *     never closed are dropped.
 *   - A closed note belongs to the instrument (program of its channel at
 *     the note-off, channel, track).  Instruments are numbered in the order
 *     their first note closes; channel 9 is the drum kit.
 *
 * The output: every non-drum note merged and sorted by (start, pitch, end)
 * (ties keep instrument order, then closing order), or one instrument's
 * notes stable-sorted by start, as the tutorial's midi_to_notes does.
 * Limits: RNJ_NOTES_MAX notes.  Nothing is allocated per event: open
 * notes live in a pool sized by the largest track's note-on count, and
 * closed notes in an array sized by the file's note-on count (each note
 * needs one), both in one block with the sort's scratch space.
 */
#include <string.h>

#include "internal.h"
#include "rnnjam/notes.h"
#include "rnnjam/smf.h"

#define NKEYS (16 * 128) /* (channel, pitch) or (channel, program) */
#define DRUM_CHANNEL 9

void rnj_notes_init(rnj_notes_t *notes) { memset(notes, 0, sizeof *notes); }

void rnj_notes_free(rnj_notes_t *notes) {
  rnj__free(notes->v);
  memset(notes, 0, sizeof *notes);
}

/* Make room for `want` notes in all. */
static int reserve(rnj_notes_t *notes, size_t want) {
  size_t cap;
  rnj_note_t *v;
  if (want <= notes->cap)
    return 0;
  if (want > RNJ_NOTES_MAX)
    return RNJ_ELIMIT;
  cap = notes->cap ? notes->cap : 256;
  while (cap < want)
    cap *= 2;
  if (cap > RNJ_NOTES_MAX)
    cap = RNJ_NOTES_MAX;
  v = rnj__realloc(notes->v, cap * sizeof *v);
  if (!v)
    return RNJ_ENOMEM;
  notes->v = v;
  notes->cap = cap;
  return 0;
}

int rnj_notes_push(rnj_notes_t *notes, const rnj_note_t *note) {
  int rc = reserve(notes, notes->n + 1);
  if (rc < 0)
    return rc;
  notes->v[notes->n++] = *note;
  return 0;
}

void rnj_notes_finish(rnj_notes_t *notes) {
  size_t i;
  for (i = 0; i < notes->n; i++) {
    rnj_note_t *x = &notes->v[i];
    x->step = i ? x->start - notes->v[i - 1].start : 0;
    x->duration = x->end - x->start;
  }
}

/* ---------------------------------------------------------- extraction */

/* Notes are kept and sorted in ticks: seconds grow strictly with ticks
 * (every segment's seconds per tick is > 0), so (start, pitch, end) in
 * ticks is pretty_midi's order in seconds, and integer compares are
 * cheaper.  Seconds and beats are computed once, for the notes kept. */
typedef struct {
  int64_t start; /* ticks */
  int64_t end;
  uint32_t inst; /* index into the instrument table */
  uint8_t pitch;
  uint8_t velocity;
} rec_t;

typedef struct {
  int64_t tick;
  int32_t next; /* next open note of the same key, or -1 */
  uint8_t velocity;
} open_t;

typedef struct {
  uint8_t program;
  uint8_t channel;
} inst_t;

typedef struct {
  rec_t *v;
  size_t n;
  size_t cap;
  inst_t *inst;
  size_t ninst;
  size_t inst_cap;
} found_t;

static int grow(void **p, size_t *cap, size_t want, size_t size,
                size_t max) {
  size_t c = *cap ? *cap : 256;
  void *q;
  if (want <= *cap)
    return 0;
  if (want > max)
    return RNJ_ELIMIT;
  while (c < want)
    c *= 2;
  if (c > max)
    c = max;
  q = rnj__realloc(*p, c * size);
  if (!q)
    return RNJ_ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

/* Close the notes of one key at `tick` (see the rules above). */
static int note_off(found_t *f, open_t *pool, int32_t *head, int32_t *tail,
                    int32_t *inst_of, const uint8_t *program, int key,
                    int64_t tick) {
  int32_t i = head[key];
  int32_t keep_head = -1;
  int32_t keep_tail = -1;
  size_t closed = 0;
  int ch = key / 128;
  int rc;

  while (i >= 0) {
    int32_t next = pool[i].next;
    if (pool[i].tick == tick) {
      pool[i].next = -1;
      if (keep_tail >= 0)
        pool[keep_tail].next = i;
      else
        keep_head = i;
      keep_tail = i;
    } else {
      int ik = ch * 128 + program[ch];
      rec_t *r;
      if (inst_of[ik] < 0) {
        rc = grow((void **)&f->inst, &f->inst_cap, f->ninst + 1,
                  sizeof *f->inst, (size_t)INT32_MAX);
        if (rc < 0)
          return rc;
        f->inst[f->ninst].program = program[ch];
        f->inst[f->ninst].channel = (uint8_t)ch;
        inst_of[ik] = (int32_t)f->ninst++;
      }
      if (f->n == f->cap)
        return RNJ_ELIMIT; /* cap is the note-on count or RNJ_NOTES_MAX */
      r = &f->v[f->n++];
      r->start = pool[i].tick;
      r->end = tick;
      r->inst = (uint32_t)inst_of[ik];
      r->pitch = (uint8_t)(key % 128);
      r->velocity = pool[i].velocity;
      closed++;
    }
    i = next;
  }
  if (closed && keep_head >= 0) {
    head[key] = keep_head;
    tail[key] = keep_tail;
  } else {
    head[key] = -1;
    tail[key] = -1;
  }
  return 0;
}

static int read_track(found_t *f, const rnj_smf_track_t *t, open_t *pool) {
  int32_t head[NKEYS];
  int32_t tail[NKEYS];
  int32_t inst_of[NKEYS]; /* (channel, program) -> instrument */
  uint8_t program[16];
  int32_t npool = 0;
  size_t j;
  int rc;

  /* Most tracks of real files hold only text or pedal events; without a
   * note-on a track cannot make a note. */
  for (j = 0; j < t->n && t->events[j].type != RNJ_SMF_NOTE_ON; j++)
    ;
  if (j == t->n)
    return 0;
  memset(head, 0xff, sizeof head);
  memset(tail, 0xff, sizeof tail);
  memset(inst_of, 0xff, sizeof inst_of);
  memset(program, 0, sizeof program);
  for (j = 0; j < t->n; j++) {
    const rnj_smf_event_t *e = &t->events[j];
    int key = e->channel * 128 + e->key;
    switch (e->type) {
    case RNJ_SMF_PROGRAM:
      program[e->channel] = e->key;
      break;
    case RNJ_SMF_NOTE_ON:
      pool[npool].tick = e->tick;
      pool[npool].next = -1;
      pool[npool].velocity = e->velocity;
      if (tail[key] >= 0)
        pool[tail[key]].next = npool;
      else
        head[key] = npool;
      tail[key] = npool++;
      break;
    case RNJ_SMF_NOTE_OFF:
      if (head[key] < 0)
        break;
      rc = note_off(f, pool, head, tail, inst_of, program, key, e->tick);
      if (rc < 0)
        return rc;
      break;
    default:
      break;
    }
  }
  return 0;
}

static inline int by_start(const rec_t *a, const rec_t *b) {
  return (a->start > b->start) - (a->start < b->start);
}

/* (start, pitch, end), then instrument order; closing order by stability.
 */
static inline int by_start_pitch_end(const rec_t *a, const rec_t *b) {
  if (a->start != b->start)
    return a->start < b->start ? -1 : 1;
  if (a->pitch != b->pitch)
    return a->pitch < b->pitch ? -1 : 1;
  if (a->end != b->end)
    return a->end < b->end ? -1 : 1;
  return (a->inst > b->inst) - (a->inst < b->inst);
}

typedef int (*rec_cmp)(const rec_t *a, const rec_t *b);

#define RUN 32 /* insertion-sorted before merging; notes come nearly sorted */

/* Stable sort of v (n) by cmp; `tmp` holds n recs.  Always inlined so
 * that each caller gets the comparator inlined: the sort is a good part of
 * the extraction time. */
static inline __attribute__((always_inline)) void
stable_sort(rec_t *v, rec_t *tmp, size_t n, rec_cmp cmp) {
  rec_t *src = v;
  rec_t *dst = tmp;
  size_t width;
  size_t lo;

  for (lo = 0; lo < n; lo += RUN) {
    size_t hi = lo + RUN < n ? lo + RUN : n;
    size_t i;
    for (i = lo + 1; i < hi; i++) {
      rec_t x = v[i];
      size_t j = i;
      /* `> 0`: equal elements never pass each other. */
      while (j > lo && cmp(&v[j - 1], &x) > 0) {
        v[j] = v[j - 1];
        j--;
      }
      v[j] = x;
    }
  }
  for (width = RUN; width < n; width *= 2) {
    rec_t *swap;
    for (lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t a = lo;
      size_t b = mid;
      size_t k = lo;
      /* `<= 0` takes the left run first on ties: that is the stability. */
      while (a < mid && b < hi)
        dst[k++] = cmp(&src[a], &src[b]) <= 0 ? src[a++] : src[b++];
      while (a < mid)
        dst[k++] = src[a++];
      while (b < hi)
        dst[k++] = src[b++];
    }
    swap = src;
    src = dst;
    dst = swap;
  }
  if (src != v)
    memcpy(v, src, n * sizeof *v);
}

static void sort_merged(rec_t *v, rec_t *tmp, size_t n) {
  stable_sort(v, tmp, n, by_start_pitch_end);
}

static void sort_by_start(rec_t *v, rec_t *tmp, size_t n) {
  stable_sort(v, tmp, n, by_start);
}

static int extract(rnj_notes_t *notes, const rnj_smf_t *smf, int instrument,
                   const char *name, char *err) {
  const char *nm = name ? name : "notes";
  found_t f;
  void *block = NULL;
  open_t *pool = NULL;
  rec_t *tmp = NULL;
  size_t cap;
  size_t maxon = 0;
  size_t total_on = 0;
  size_t hint_start = 0;
  size_t hint_end = 0;
  size_t i;
  size_t n;
  int rc;

  memset(&f, 0, sizeof f);
  notes->n = 0;
  if (instrument < RNJ_NOTES_ALL_INSTRUMENTS)
    return rnj_errorf(err, RNJ_EINVAL,
                      "%s: instrument %d: expected an index >= 0", nm,
                      instrument);
  for (i = 0; i < smf->ntracks; i++) {
    const rnj_smf_track_t *t = &smf->tracks[i];
    size_t on = 0;
    size_t j;
    for (j = 0; j < t->n; j++)
      on += t->events[j].type == RNJ_SMF_NOTE_ON;
    if (on > maxon)
      maxon = on;
    total_on += on;
  }
  /* The pool is indexed by int32; a track that large is far past any
   * file rnj_smf_read_file accepts. */
  if (maxon > (size_t)INT32_MAX) {
    rc = rnj_errorf(err, RNJ_ELIMIT, "%s: %zu note-ons in one track", nm,
                    maxon);
    goto done;
  }
  /* One block for the open-note pool, the notes (each needs a note-on,
   * so the note-on count bounds them) and the sort's scratch.  Separate
   * blocks made glibc return and refetch memory between files: over the
   * corpus, one block has 40% fewer page faults and 25% less CPU. */
  cap = total_on < RNJ_NOTES_MAX ? total_on : RNJ_NOTES_MAX;
  if (total_on) {
    block = rnj__malloc(maxon * sizeof *pool + 2 * cap * sizeof *f.v);
    if (!block)
      goto fail_nomem;
    pool = block;
    f.v = (rec_t *)(pool + maxon);
    f.cap = cap;
    tmp = f.v + cap;
  }
  for (i = 0; i < smf->ntracks; i++) {
    rc = read_track(&f, &smf->tracks[i], pool);
    if (rc == RNJ_ENOMEM)
      goto fail_nomem;
    if (rc < 0) {
      rc = rnj_errorf(err, rc, "%s: more than %zu notes (RNJ_NOTES_MAX)",
                      nm, (size_t)RNJ_NOTES_MAX);
      goto done;
    }
  }

  if (instrument >= 0 && (size_t)instrument >= f.ninst) {
    rc = rnj_errorf(err, RNJ_ENOTFOUND,
                    "%s: instrument %d: not found, the file has %zu "
                    "instrument%s",
                    nm, instrument, f.ninst, f.ninst == 1 ? "" : "s");
    goto done;
  }
  /* Keep the wanted notes, in closing order, at the front of f.v. */
  n = 0;
  for (i = 0; i < f.n; i++) {
    const inst_t *in = &f.inst[f.v[i].inst];
    int want = instrument < 0 ? in->channel != DRUM_CHANNEL
                              : f.v[i].inst == (uint32_t)instrument;
    if (want)
      f.v[n++] = f.v[i];
  }
  if (n > 1) {
    if (instrument < 0)
      sort_merged(f.v, tmp, n);
    else
      sort_by_start(f.v, tmp, n);
  }
  if ((rc = reserve(notes, n)) < 0) {
    if (rc == RNJ_ENOMEM)
      goto fail_nomem;
    rc = rnj_errorf(err, rc, "%s: more than %zu notes (RNJ_NOTES_MAX)", nm,
                    (size_t)RNJ_NOTES_MAX);
    goto done;
  }
  for (i = 0; i < n; i++) {
    rnj_note_t *x = &notes->v[i];
    const inst_t *in = &f.inst[f.v[i].inst];
    /* Starts come sorted, so their hint walks forward; ends do not. */
    x->start = rnj_smf_seconds(smf, f.v[i].start, &hint_start);
    x->end = rnj_smf_seconds(smf, f.v[i].end, &hint_end);
    x->start_beat = rnj_smf_beats(smf, f.v[i].start);
    x->end_beat = rnj_smf_beats(smf, f.v[i].end);
    x->pitch = f.v[i].pitch;
    x->velocity = f.v[i].velocity;
    x->channel = in->channel;
    x->program = in->program;
  }
  notes->n = n;
  rnj_notes_finish(notes);
  rc = 0;
  goto done;

fail_nomem:
  rc = rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", nm);
done:
  rnj__free(block);
  rnj__free(f.inst);
  return rc;
}

int rnj_notes_from_smf(rnj_notes_t *notes, const struct rnj_smf_s *smf,
                       int instrument, char *err) {
  return extract(notes, smf, instrument, NULL, err);
}

int rnj_notes_from_file(rnj_notes_t *notes, const char *path,
                        int instrument, char *err) {
  rnj_smf_t smf;
  int rc;

  notes->n = 0;
  rc = rnj_smf_read_file(&smf, path, err);
  if (rc < 0)
    return rc;
  rc = extract(notes, &smf, instrument, path, err);
  rnj_smf_free(&smf);
  return rc;
}
