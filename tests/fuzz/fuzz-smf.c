/* Fuzz target: the Standard MIDI File reader and the note extraction.
 *
 * Any bytes go through rnj_smf_read_mem; a file that parses is turned into
 * notes twice (all instruments merged, and one instrument chosen by the
 * input), and what comes out is checked against the promises of smf.h and
 * notes.h: times finite, notes in start order, no negative duration,
 * ticks within the track.  A broken promise aborts, which the fuzzer
 * reports like a crash.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnjam/notes.h"
#include "rnnjam/smf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "fuzz-smf: %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
      abort();                                                              \
    }                                                                       \
  } while (0)

static void check_smf(const rnj_smf_t *smf) {
  size_t i;
  size_t j;
  size_t total = 0;
  size_t hint = 0;
  double prev = 0;
  CHECK(smf->format >= 0 && smf->format <= 2);
  CHECK(smf->ntracks <= (size_t)smf->declared_tracks);
  CHECK(smf->ntempo >= 1);
  for (i = 0; i < smf->ntracks; i++) {
    const rnj_smf_track_t *t = &smf->tracks[i];
    int64_t last = 0;
    for (j = 0; j < t->n; j++) {
      CHECK(t->events[j].tick >= last);
      CHECK(t->events[j].tick <= t->end_tick);
      CHECK(t->events[j].channel < 16);
      CHECK(t->events[j].key < 128);
      last = t->events[j].tick;
    }
    total += t->n;
  }
  CHECK(total == smf->nevents);
  /* Time never runs backwards through the tempo map. */
  for (i = 0; i < smf->ntempo; i++) {
    double s = rnj_smf_seconds(smf, smf->tempo[i].tick, &hint);
    CHECK(isfinite(s) && s >= prev);
    prev = s;
  }
}

static void check_notes(const rnj_notes_t *n) {
  size_t i;
  for (i = 0; i < n->n; i++) {
    const rnj_note_t *x = &n->v[i];
    CHECK(isfinite(x->start) && isfinite(x->end));
    CHECK(x->start >= 0);
    CHECK(x->duration >= 0);
    CHECK(x->pitch < 128 && x->channel < 16 && x->program < 128);
    CHECK(i == 0 || x->step >= 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rnj_smf_t smf;
  rnj_notes_t notes;
  char err[RNJ_ERR_LEN];
  int rc;

  rc = rnj_smf_read_mem(&smf, data, size, "fuzz.mid", err);
  if (rc < 0) {
    CHECK(rc == RNJ_EFORMAT || rc == RNJ_ELIMIT);
    CHECK(err[0] != '\0');
    CHECK(smf.tempo == NULL && smf.nevents == 0);
    return 0;
  }
  check_smf(&smf);
  rnj_notes_init(&notes);
  rc = rnj_notes_from_smf(&notes, &smf, RNJ_NOTES_ALL_INSTRUMENTS, err);
  CHECK(rc == 0 || rc == RNJ_ELIMIT);
  if (rc == 0)
    check_notes(&notes);
  /* One instrument, picked by the file's last byte, so both sort paths
   * and the "not found" message run. */
  rc = rnj_notes_from_smf(&notes, &smf, size ? data[size - 1] % 4 : 0, err);
  CHECK(rc == 0 || rc == RNJ_ENOTFOUND || rc == RNJ_ELIMIT);
  if (rc == 0)
    check_notes(&notes);
  rnj_notes_free(&notes);
  rnj_smf_free(&smf);
  return 0;
}
