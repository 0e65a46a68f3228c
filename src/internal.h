/* Internals shared by the library's files; never installed, never exported.
 */
#ifndef RNNJAM_INTERNAL_H
#define RNNJAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "rnnjam/err.h"

/* All library allocation goes through these (see alloc.h). */
void *rnj__malloc(size_t size);
void *rnj__calloc(size_t count, size_t size);
void *rnj__realloc(void *ptr, size_t size);
void rnj__free(void *ptr);

/* model.c: give `model` (initialised) the layout of `kind` and `hidden`:
 * its table, sizes and tensor pointers, keeping its block when the size
 * is the same, else a new zeroed one.  Metadata and seq_length are left
 * alone.  Returns 0, RNJ_EINVAL or RNJ_ENOMEM (then `model` is as it
 * was). */
struct rnj_model_s;
int rnj__model_adopt(struct rnj_model_s *model, int kind, int hidden);

/* Read the whole of `path` into a new buffer (free with rnj__free).
 * Files larger than `max_bytes` are refused with RNJ_ELIMIT before any
 * allocation.  A NUL byte is appended (not counted in *len) so text
 * parsers can use the buffer directly. */
int rnj__read_file(const char *path, size_t max_bytes, uint8_t **buf,
                   size_t *len, char *err);

/* Write the `iovcnt` pieces to `path` atomically: a temporary file beside
 * it, written in full, fsynced, renamed over `path`, then the directory
 * fsynced.  On any failure the temporary file is removed and `path` is
 * left as it was. */
int rnj__write_atomic(const char *path, const struct iovec *iov, int iovcnt,
                      char *err);

/* The same protocol for a writer that writes the file itself (fluidsynth's
 * file renderer): rnj__atomic_begin creates an empty temporary file beside
 * `path` (mode 0600) and puts its name in `tmp` (tmp_len bytes);
 * rnj__atomic_commit fsyncs it, gives it the umask's mode, renames it over
 * `path` and fsyncs the directory, or removes it on failure;
 * rnj__atomic_abort removes it.  Each returns 0 or -errno with `err`. */
int rnj__atomic_begin(const char *path, char *tmp, size_t tmp_len,
                      char *err);
int rnj__atomic_commit(const char *tmp, const char *path, char *err);
void rnj__atomic_abort(const char *tmp);

/* sample.c: rnj_sample_categorical with the uniform number `u` in [0, 1)
 * given (the v2 kernels have their own vector versions of it, lstm2_kern.h).
 * RT-safe. */
int rnj__sample_draw(const float *logits, int n, float temperature,
                     double u);

/* seq.c: turn one sequencer event into the daemon's event (no ALSA call
 * unless it announces a new port that "auto" or a listed name wants).
 * out->time is the event's real-time stamp, or -1 when it has none (the
 * caller then uses the queue's clock).  Split from rnj_seq_read so the
 * input path can be fuzzed without a sequencer. */
struct snd_seq_event;
struct rnj_seq_s;
struct rnj_seq_event_s;
void rnj__seq_decode(struct rnj_seq_s *seq,
                     const struct snd_seq_event *ev,
                     struct rnj_seq_event_s *out);

/* jack.c: the daemon's events in the `n` bytes of one JACK MIDI event
 * (time, src_* left 0): note-on/off and control changes, song position,
 * and every system real-time byte wherever it stands, also between the
 * bytes of another message, which then completes as if it were not
 * there.  Writes at most `max` events to `out`; returns how many there
 * are (more than `max`: the rest were dropped).  RT-safe, bounded by n.
 * Split out so the parser can be tested without a JACK server. */
int rnj__jack_midi_parse(const uint8_t *buf, size_t n,
                         struct rnj_seq_event_s *out, int max);

/* tempo.c: the interval clusters of `m` sorted event times (Dixon's
 * first step): their centres (s) and counts, at most `max` of them;
 * returns how many there are.  For tests/test-tempo.c. */
int rnj__tempo_clusters(const double *ev, int m, double *centre,
                        double *count, int max);

#endif
