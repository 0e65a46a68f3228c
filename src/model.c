/* The parameter block and its tensor table (see model.h for the layout). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
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

static void point(rnj_model_t *m) {
  float **slots[RNJ_MODEL_NTENSORS] = {
      &m->kernel,      &m->recurrent_kernel, &m->bias,
      &m->pitch_kernel, &m->pitch_bias,      &m->step_kernel,
      &m->step_bias,   &m->duration_kernel,  &m->duration_bias};
  int i;
  for (i = 0; i < RNJ_MODEL_NTENSORS; i++)
    *slots[i] = m->params + tensors[i].offset;
}

int rnj_model_init(rnj_model_t *model) {
  char buf[32];
  memset(model, 0, sizeof *model);
  model->params = rnj__calloc(RNJ_MODEL_NPARAMS, sizeof(float));
  if (!model->params)
    return RNJ_ENOMEM;
  point(model);
  model->seq_length = RNJ_MODEL_SEQ_LENGTH;
  rnj_model_set_meta(model, "format", RNJ_MODEL_FORMAT);
  snprintf(buf, sizeof buf, "%d", RNJ_MODEL_SEQ_LENGTH);
  rnj_model_set_meta(model, "seq_length", buf);
  snprintf(buf, sizeof buf, "%d", RNJ_MODEL_HIDDEN);
  rnj_model_set_meta(model, "hidden", buf);
  snprintf(buf, sizeof buf, "%d", (int)RNJ_MODEL_PITCH_SCALE);
  rnj_model_set_meta(model, "pitch_scale", buf);
  return 0;
}

void rnj_model_free(rnj_model_t *model) {
  rnj__free(model->params);
  memset(model, 0, sizeof *model);
}

void rnj_model_copy(rnj_model_t *dst, const rnj_model_t *src) {
  float *keep = dst->params;
  memcpy(keep, src->params, RNJ_MODEL_NPARAMS * sizeof(float));
  memcpy(dst->meta, src->meta, sizeof dst->meta);
  dst->n_meta = src->n_meta;
  dst->seq_length = src->seq_length;
  dst->params = keep;
  point(dst);
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
