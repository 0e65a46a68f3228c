/* The training data: every file's notes as the tutorial model's inputs
 * and targets, the split of the files into training and validation, each
 * epoch's order of the training windows, and a slice's windows gathered
 * into the time-major inputs the layers read.
 *
 * A window is named by the index of its first note; it never crosses a
 * file.  The split and the shuffles are functions of the seed (and the
 * epoch) alone, through their own RNG streams, so a resumed run replays
 * them exactly.  Limits: fewer than 2^32 notes in all (window starts are
 * 32-bit); the notes are kept in memory, 13 bytes each.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Uniform in [0, n): the high half of a 128-bit product.  The bias is
 * below n / 2^64, far under anything a shuffle could show. */
static uint64_t rng_below(rnj_rng_t *r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)rnj_rng_next(r) * n) >> 64);
}

static void shuffle_u32(rnj_rng_t *r, uint32_t *a, size_t n) {
  size_t i;
  for (i = n; i > 1; i--) {
    size_t j = (size_t)rng_below(r, i);
    uint32_t t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

/* ------------------------------------------------------------------ data */

void rnj_train_data_init(rnj_train_data_t *data) {
  memset(data, 0, sizeof *data);
}

void rnj_train_data_free(rnj_train_data_t *data) {
  size_t i;
  for (i = 0; i < data->n_files; i++)
    rnj__free(data->names[i]);
  rnj__free(data->names);
  rnj__free(data->first);
  rnj__free(data->x);
  rnj__free(data->pitch);
  memset(data, 0, sizeof *data);
}

/* Room for `n` more notes and one more file. */
static int data_reserve(rnj_train_data_t *d, size_t n) {
  if (d->n_notes + n >= UINT32_MAX)
    return RNJ_ELIMIT;
  if (d->n_notes + n > d->cap_notes) {
    size_t cap = d->cap_notes ? d->cap_notes : 4096;
    float *x;
    uint8_t *p;
    while (cap < d->n_notes + n)
      cap *= 2;
    x = rnj__realloc(d->x, cap * 3 * sizeof *x);
    if (!x)
      return RNJ_ENOMEM;
    d->x = x;
    p = rnj__realloc(d->pitch, cap);
    if (!p)
      return RNJ_ENOMEM;
    d->pitch = p;
    d->cap_notes = cap;
  }
  if (d->n_files + 1 >= d->cap_files) {
    size_t cap = d->cap_files ? 2 * d->cap_files : 64;
    size_t *f = rnj__realloc(d->first, (cap + 1) * sizeof *f);
    char **nm;
    if (!f)
      return RNJ_ENOMEM;
    d->first = f;
    nm = rnj__realloc(d->names, cap * sizeof *nm);
    if (!nm)
      return RNJ_ENOMEM;
    d->names = nm;
    d->cap_files = cap;
  }
  return 0;
}

static int data_push_file(rnj_train_data_t *d, size_t n, const char *name) {
  size_t len = strlen(name ? name : "");
  char *copy = rnj__malloc(len + 1);
  if (!copy)
    return RNJ_ENOMEM;
  memcpy(copy, name ? name : "", len + 1);
  d->names[d->n_files] = copy;
  d->first[d->n_files] = d->n_notes;
  d->n_notes += n;
  d->n_files++;
  d->first[d->n_files] = d->n_notes;
  return 0;
}

int rnj_train_data_add(rnj_train_data_t *data, const rnj_notes_t *notes,
                       const char *name) {
  size_t i;
  int rc = data_reserve(data, notes->n);
  if (rc)
    return rc;
  for (i = 0; i < notes->n; i++) {
    const rnj_note_t *nt = &notes->v[i];
    float *x = data->x + (data->n_notes + i) * 3;
    x[0] = (float)nt->pitch / RNJ_MODEL_PITCH_SCALE;
    x[1] = (float)nt->step;
    x[2] = (float)nt->duration;
    data->pitch[data->n_notes + i] = nt->pitch;
  }
  return data_push_file(data, notes->n, name);
}

int rnj_train_data_add_raw(rnj_train_data_t *data, const uint8_t *pitch,
                           const float *step, const float *duration,
                           size_t n, const char *name) {
  size_t i;
  int rc = data_reserve(data, n);
  if (rc)
    return rc;
  for (i = 0; i < n; i++) {
    float *x = data->x + (data->n_notes + i) * 3;
    x[0] = (float)(pitch[i] & 127) / RNJ_MODEL_PITCH_SCALE;
    x[1] = step[i];
    x[2] = duration[i];
    data->pitch[data->n_notes + i] = pitch[i] & 127;
  }
  return data_push_file(data, n, name);
}

/* ----------------------------------------------------------------- split */

void rnj_train_split_free(rnj_train_split_t *split) {
  rnj__free(split->train);
  rnj__free(split->val);
  rnj__free(split->is_val);
  memset(split, 0, sizeof *split);
}

static size_t file_windows(const rnj_train_data_t *d, size_t f, int seq) {
  size_t n = d->first[f + 1] - d->first[f];
  return n > (size_t)seq ? n - (size_t)seq : 0;
}

int rnj_train_split_init(rnj_train_split_t *split,
                         const rnj_train_data_t *data, int seq_length,
                         double val_split, uint64_t seed, char *err) {
  uint32_t *files = NULL;
  size_t n_used = 0;
  size_t n_val = 0;
  size_t f;
  size_t i;
  rnj_rng_t r;

  memset(split, 0, sizeof *split);
  if (seq_length < 1)
    return rnj_errorf(err, RNJ_EINVAL, "seq_length: %d", seq_length);
  split->is_val = rnj__calloc(data->n_files ? data->n_files : 1, 1);
  files = rnj__malloc((data->n_files ? data->n_files : 1) * sizeof *files);
  if (!split->is_val || !files)
    goto fail_nomem;
  for (f = 0; f < data->n_files; f++)
    if (file_windows(data, f, seq_length) > 0)
      files[n_used++] = (uint32_t)f;
  if (n_used == 0) {
    rnj__free(files);
    rnj_train_split_free(split);
    return rnj_errorf(err, RNJ_ENODATA,
                      "no file has more than %d notes (%zu files)",
                      seq_length, data->n_files);
  }
  if (n_used > 1 && val_split > 0) {
    n_val = (size_t)floor(val_split * (double)n_used + 0.5);
    if (n_val < 1)
      n_val = 1;
    if (n_val > n_used - 1)
      n_val = n_used - 1;
  }
  rnj__train_rng_seed(&r, seed, RNJ__TRAIN_STREAM_SPLIT);
  shuffle_u32(&r, files, n_used);
  for (i = 0; i < n_val; i++)
    split->is_val[files[i]] = 1;
  for (f = 0; f < data->n_files; f++) {
    size_t w = file_windows(data, f, seq_length);
    if (!w)
      continue;
    if (split->is_val[f]) {
      split->n_val += w;
      split->n_val_files++;
    } else {
      split->n_train += w;
      split->n_train_files++;
    }
  }
  split->train = rnj__malloc((split->n_train + 1) * sizeof *split->train);
  split->val = rnj__malloc((split->n_val + 1) * sizeof *split->val);
  if (!split->train || !split->val)
    goto fail_nomem;
  split->n_train = split->n_val = 0;
  for (f = 0; f < data->n_files; f++) {
    size_t w = file_windows(data, f, seq_length);
    for (i = 0; i < w; i++) {
      uint32_t s = (uint32_t)(data->first[f] + i);
      if (split->is_val[f])
        split->val[split->n_val++] = s;
      else
        split->train[split->n_train++] = s;
    }
  }
  rnj__free(files);
  return 0;

fail_nomem:
  rnj__free(files);
  rnj_train_split_free(split);
  return rnj_errorf(err, RNJ_ENOMEM, "split: out of memory");
}

void rnj_train_split_shuffle(const rnj_train_split_t *split, uint64_t seed,
                             int epoch, uint32_t *out) {
  rnj_rng_t r;
  memcpy(out, split->train, split->n_train * sizeof *out);
  rnj__train_rng_seed(&r, seed, RNJ__TRAIN_STREAM_EPOCH + (uint64_t)epoch);
  shuffle_u32(&r, out, split->n_train);
}

/* ---------------------------------------------------------------- gather */

void rnj__train_gather(float *x, int *yp, float *ys,
                       const rnj_train_data_t *d, const uint32_t *win,
                       size_t r, int T) {
  size_t b;
  int t;
  for (b = 0; b < r; b++) {
    size_t s = win[b];
    const float *src = d->x + s * 3;
    for (t = 0; t < T; t++)
      memcpy(x + ((size_t)t * r + b) * 3, src + (size_t)t * 3,
             3 * sizeof(float));
    yp[b] = d->pitch[s + (size_t)T];
    ys[b * 2] = d->x[(s + (size_t)T) * 3 + 1];
    ys[b * 2 + 1] = d->x[(s + (size_t)T) * 3 + 2];
  }
}
