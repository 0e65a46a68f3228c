/* The parameter block and its tensor table (see model.h for the layouts).
 *
 * The tutorial's table is a static constant (rnj_model_tensors, which the
 * trainer indexes directly); every model also carries its own copy of its
 * table, built by rnj_model_layout from its kind and hidden size, so code
 * that handles any kind (the checkpoint loader, inspect) reads that.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "rnnjam/encoding.h"
#include "rnnjam/model.h"

#define H RNJ_MODEL_HIDDEN
#define G RNJ_MODEL_GATES
#define P RNJ_MODEL_PITCHES

/* Offsets are running sums of the counts above them. */
static const rnj_tensor_info_t tensors[RNJ_MODEL_NTENSORS] = {
    {"lstm.kernel", 2, {3, G}, 0, 3 * G},
    {"lstm.recurrent_kernel", 2, {H, G}, 3 * G, H * G},
    {"lstm.bias", 1, {G, 0}, 3 * G + H * G, G},
    {"pitch.kernel", 2, {H, P}, 4 * G + H * G, H * P},
    {"pitch.bias", 1, {P, 0}, 4 * G + H * G + H * P, P},
    {"step.kernel", 2, {H, 1}, 4 * G + H * G + H * P + P, H},
    {"step.bias", 1, {1, 0}, 4 * G + H * G + H * P + P + H, 1},
    {"duration.kernel", 2, {H, 1}, 4 * G + H * G + H * P + P + H + 1, H},
    {"duration.bias", 1, {1, 0}, 4 * G + H * G + H * P + P + 2 * H + 1, 1},
};

_Static_assert(4 * G + H * G + H * P + P + 2 * H + 2 == RNJ_MODEL_NPARAMS,
               "tensor table and RNJ_MODEL_NPARAMS disagree");

const rnj_tensor_info_t *rnj_model_tensors(void) { return tensors; }

const char *rnj_model_format(int kind) {
  switch (kind) {
  case RNJ_MODEL_TUTORIAL:
    return RNJ_MODEL_FORMAT;
  case RNJ_MODEL_V2:
    return RNJ_MODEL_V2_FORMAT;
  }
  return NULL;
}

/* Appends a tensor after the previous one. */
static void add(rnj_tensor_info_t *t, int *n, size_t *at, const char *name,
                int rows, int cols) {
  rnj_tensor_info_t *e = &t[(*n)++];
  e->name = name;
  e->ndim = cols ? 2 : 1;
  e->shape[0] = rows;
  e->shape[1] = cols;
  e->offset = *at;
  e->count = (size_t)rows * (size_t)(cols ? cols : 1);
  *at += e->count;
}

int rnj_model_layout(int kind, int hidden, rnj_tensor_info_t *t,
                     int *ntensors, size_t *nparams) {
  size_t at = 0;
  int n = 0;
  int g = 4 * hidden;
  if (kind == RNJ_MODEL_TUTORIAL) {
    if (hidden != RNJ_MODEL_HIDDEN)
      return RNJ_EINVAL;
    memcpy(t, tensors, sizeof tensors);
    *ntensors = RNJ_MODEL_NTENSORS;
    *nparams = RNJ_MODEL_NPARAMS;
    return 0;
  }
  if (kind != RNJ_MODEL_V2 || hidden < RNJ_MODEL_V2_HIDDEN_MIN ||
      hidden > RNJ_MODEL_V2_HIDDEN_MAX || hidden % 16 != 0)
    return RNJ_EINVAL;
  add(t, &n, &at, "lstm.kernel", RNJ_ENCODING_INPUT, g);
  add(t, &n, &at, "lstm.recurrent_kernel", hidden, g);
  add(t, &n, &at, "lstm.bias", g, 0);
  add(t, &n, &at, "pitch.kernel", hidden, RNJ_ENCODING_PITCHES);
  add(t, &n, &at, "pitch.bias", RNJ_ENCODING_PITCHES, 0);
  add(t, &n, &at, "step.kernel", hidden, RNJ_ENCODING_STEP_BINS);
  add(t, &n, &at, "step.bias", RNJ_ENCODING_STEP_BINS, 0);
  add(t, &n, &at, "duration.kernel", hidden, RNJ_ENCODING_DURATION_BINS);
  add(t, &n, &at, "duration.bias", RNJ_ENCODING_DURATION_BINS, 0);
  add(t, &n, &at, "velocity.kernel", hidden, RNJ_ENCODING_VELOCITY_BINS);
  add(t, &n, &at, "velocity.bias", RNJ_ENCODING_VELOCITY_BINS, 0);
  *ntensors = n;
  *nparams = at;
  return 0;
}

/* Point the named tensors into m->params (the table is in file order). */
static void point(rnj_model_t *m) {
  float **slots[RNJ_MODEL_TENSORS_MAX] = {
      &m->kernel,      &m->recurrent_kernel, &m->bias,
      &m->pitch_kernel, &m->pitch_bias,      &m->step_kernel,
      &m->step_bias,   &m->duration_kernel,  &m->duration_bias,
      &m->velocity_kernel, &m->velocity_bias};
  int i;
  for (i = 0; i < RNJ_MODEL_TENSORS_MAX; i++)
    *slots[i] = i < m->ntensors ? m->params + m->tensors[i].offset : NULL;
}

static void default_meta(rnj_model_t *m) {
  char buf[RNJ_MODEL_META_VALUE_LEN];
  rnj_model_set_meta(m, "format", rnj_model_format(m->kind));
  snprintf(buf, sizeof buf, "%d", RNJ_MODEL_SEQ_LENGTH);
  rnj_model_set_meta(m, "seq_length", buf);
  snprintf(buf, sizeof buf, "%d", m->hidden);
  rnj_model_set_meta(m, "hidden", buf);
  if (m->kind == RNJ_MODEL_TUTORIAL) {
    snprintf(buf, sizeof buf, "%d", (int)RNJ_MODEL_PITCH_SCALE);
    rnj_model_set_meta(m, "pitch_scale", buf);
    return;
  }
  rnj_model_set_meta(m, "time_unit", "beats");
  snprintf(buf, sizeof buf, "%d", RNJ_ENCODING_PHASES);
  rnj_model_set_meta(m, "phases", buf);
  rnj_encoding_step_bins_str(buf, sizeof buf);
  rnj_model_set_meta(m, "step_bins", buf);
  rnj_encoding_duration_bins_str(buf, sizeof buf);
  rnj_model_set_meta(m, "duration_bins", buf);
  snprintf(buf, sizeof buf, "%d", RNJ_ENCODING_VELOCITY_BINS);
  rnj_model_set_meta(m, "velocity_bins", buf);
}

int rnj_model_init_kind(rnj_model_t *model, int kind, int hidden) {
  rnj_tensor_info_t t[RNJ_MODEL_TENSORS_MAX];
  size_t nparams;
  int ntensors;
  memset(model, 0, sizeof *model);
  if (rnj_model_layout(kind, hidden, t, &ntensors, &nparams) < 0)
    return RNJ_EINVAL;
  model->params = rnj__calloc(nparams, sizeof(float));
  if (!model->params)
    return RNJ_ENOMEM;
  memcpy(model->tensors, t, sizeof t);
  model->ntensors = ntensors;
  model->nparams = nparams;
  model->kind = kind;
  model->hidden = hidden;
  model->input = t[0].shape[0];
  point(model);
  model->seq_length = RNJ_MODEL_SEQ_LENGTH;
  default_meta(model);
  return 0;
}

int rnj_model_init(rnj_model_t *model) {
  return rnj_model_init_kind(model, RNJ_MODEL_TUTORIAL, RNJ_MODEL_HIDDEN);
}

void rnj_model_free(rnj_model_t *model) {
  rnj__free(model->params);
  memset(model, 0, sizeof *model);
}

int rnj__model_adopt(rnj_model_t *model, int kind, int hidden) {
  rnj_tensor_info_t t[RNJ_MODEL_TENSORS_MAX];
  size_t nparams;
  int ntensors;
  float *block;
  if (rnj_model_layout(kind, hidden, t, &ntensors, &nparams) < 0)
    return RNJ_EINVAL;
  if (model->params && model->nparams == nparams) {
    block = model->params;
  } else {
    block = rnj__calloc(nparams, sizeof(float));
    if (!block)
      return RNJ_ENOMEM;
    rnj__free(model->params);
  }
  model->params = block;
  memcpy(model->tensors, t, sizeof t);
  model->ntensors = ntensors;
  model->nparams = nparams;
  model->kind = kind;
  model->hidden = hidden;
  model->input = t[0].shape[0];
  point(model);
  return 0;
}

int rnj_model_copy(rnj_model_t *dst, const rnj_model_t *src) {
  int rc = rnj__model_adopt(dst, src->kind, src->hidden);
  if (rc < 0)
    return rc;
  memcpy(dst->params, src->params, src->nparams * sizeof(float));
  memcpy(dst->meta, src->meta, sizeof dst->meta);
  dst->n_meta = src->n_meta;
  dst->seq_length = src->seq_length;
  return 0;
}

int rnj_model_set_meta(rnj_model_t *model, const char *key,
                       const char *value) {
  rnj_model_meta_t *m = NULL;
  int i;
  for (i = 0; i < model->n_meta; i++)
    if (strcmp(model->meta[i].key, key) == 0)
      m = &model->meta[i];
  if (!m) {
    if (model->n_meta >= RNJ_MODEL_META_MAX)
      return RNJ_ELIMIT;
    m = &model->meta[model->n_meta++];
    snprintf(m->key, sizeof m->key, "%s", key);
  }
  snprintf(m->value, sizeof m->value, "%s", value);
  return 0;
}

const char *rnj_model_get_meta(const rnj_model_t *model, const char *key) {
  int i;
  for (i = 0; i < model->n_meta; i++)
    if (strcmp(model->meta[i].key, key) == 0)
      return model->meta[i].value;
  return NULL;
}
