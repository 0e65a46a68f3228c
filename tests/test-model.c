/* model: the tensor tables match the Keras layouts and the parameter
 * counts of both kinds, and metadata behaves. */
#include "rnnjam/encoding.h"
#include "rnnjam/err.h"
#include "rnnjam/model.h"
#include "test.h"

/* The v2 layout of ENCODING.md, at a few sizes; copies between kinds. */
static void check_v2(void) {
  static const char *names[11] = {
      "lstm.kernel",     "lstm.recurrent_kernel", "lstm.bias",
      "pitch.kernel",    "pitch.bias",            "step.kernel",
      "step.bias",       "duration.kernel",       "duration.bias",
      "velocity.kernel", "velocity.bias"};
  static const int hs[4] = {16, 48, 128, 512};
  char want[2048];
  rnj_model_t m;
  rnj_model_t t;
  int k;
  for (k = 0; k < 4; k++) {
    int h = hs[k];
    int cols[11] = {4 * h, 4 * h, 0, 128, 0, 98, 0, 102, 0, 32, 0};
    int rows[11] = {186, h, 4 * h, h, 128, h, 98, h, 102, h, 32};
    size_t total = 0;
    int i;
    ASSERT_OK(rnj_model_init_kind(&m, RNJ_MODEL_V2, h));
    ASSERT_EQ(m.kind, RNJ_MODEL_V2);
    ASSERT_EQ(m.hidden, h);
    ASSERT_EQ(m.input, RNJ_ENCODING_INPUT);
    ASSERT_EQ(m.ntensors, 11);
    for (i = 0; i < 11; i++) {
      const rnj_tensor_info_t *e = &m.tensors[i];
      ASSERT_STR_EQ(e->name, names[i]);
      ASSERT_EQ(e->ndim, cols[i] ? 2 : 1);
      ASSERT_EQ(e->shape[0], rows[i]);
      if (cols[i])
        ASSERT_EQ(e->shape[1], cols[i]);
      ASSERT_EQ(e->offset, total);
      ASSERT_EQ(e->count, (size_t)rows[i] * (cols[i] ? cols[i] : 1));
      total += e->count;
    }
    ASSERT_EQ(m.nparams, total);
    if (h == 128)
      ASSERT_EQ(total, 207720); /* ENCODING.md's count */
    ASSERT(m.kernel == m.params);
    ASSERT(m.recurrent_kernel == m.params + m.tensors[1].offset);
    ASSERT(m.step_kernel == m.params + m.tensors[5].offset);
    ASSERT(m.velocity_kernel == m.params + m.tensors[9].offset);
    ASSERT(m.velocity_bias == m.params + total - 32);
    /* the metadata a v2 checkpoint must carry */
    ASSERT_STR_EQ(rnj_model_get_meta(&m, "format"), "rnnjam-lstm-v2");
    snprintf(want, sizeof want, "%d", h);
    ASSERT_STR_EQ(rnj_model_get_meta(&m, "hidden"), want);
    ASSERT_STR_EQ(rnj_model_get_meta(&m, "seq_length"), "25");
    ASSERT_STR_EQ(rnj_model_get_meta(&m, "time_unit"), "beats");
    ASSERT_STR_EQ(rnj_model_get_meta(&m, "phases"), "24");
    ASSERT_STR_EQ(rnj_model_get_meta(&m, "velocity_bins"), "32");
    rnj_encoding_step_bins_str(want, sizeof want);
    ASSERT_STR_EQ(rnj_model_get_meta(&m, "step_bins"), want);
    rnj_encoding_duration_bins_str(want, sizeof want);
    ASSERT_STR_EQ(rnj_model_get_meta(&m, "duration_bins"), want);
    ASSERT(rnj_model_get_meta(&m, "pitch_scale") == NULL);

    /* copy into a tutorial model: its block takes the v2 size, and back */
    m.params[total - 1] = 3.0f;
    ASSERT_OK(rnj_model_init(&t));
    ASSERT_OK(rnj_model_copy(&t, &m));
    ASSERT_EQ(t.kind, RNJ_MODEL_V2);
    ASSERT_EQ(t.nparams, total);
    ASSERT(t.velocity_bias[31] == 3.0f);
    ASSERT(t.params != m.params);
    rnj_model_free(&m);
    ASSERT_OK(rnj_model_init(&m));
    ASSERT_OK(rnj_model_copy(&t, &m));
    ASSERT_EQ(t.kind, RNJ_MODEL_TUTORIAL);
    ASSERT_EQ(t.nparams, RNJ_MODEL_NPARAMS);
    ASSERT(t.velocity_kernel == NULL);
    ASSERT(t.duration_bias == t.params + RNJ_MODEL_NPARAMS - 1);
    rnj_model_free(&t);
    rnj_model_free(&m);
  }
  /* sizes the contract does not allow */
  ASSERT_EQ(rnj_model_init_kind(&m, RNJ_MODEL_V2, 0), RNJ_EINVAL);
  ASSERT_EQ(rnj_model_init_kind(&m, RNJ_MODEL_V2, 8), RNJ_EINVAL);
  ASSERT_EQ(rnj_model_init_kind(&m, RNJ_MODEL_V2, 136), RNJ_EINVAL);
  ASSERT_EQ(rnj_model_init_kind(&m, RNJ_MODEL_V2, 528), RNJ_EINVAL);
  ASSERT_EQ(rnj_model_init_kind(&m, RNJ_MODEL_TUTORIAL, 256), RNJ_EINVAL);
  ASSERT_EQ(rnj_model_init_kind(&m, 0, 128), RNJ_EINVAL);
  ASSERT(m.params == NULL);
  rnj_model_free(&m);
  ASSERT_STR_EQ(rnj_model_format(RNJ_MODEL_TUTORIAL), "rnnjam-lstm-v1");
  ASSERT_STR_EQ(rnj_model_format(RNJ_MODEL_V2), "rnnjam-lstm-v2");
  ASSERT(rnj_model_format(3) == NULL);
}

int main(void) {
  const rnj_tensor_info_t *t = rnj_model_tensors();
  rnj_model_t m;
  rnj_model_t m2;
  size_t total = 0;
  int i;
  char key[32];

  for (i = 0; i < RNJ_MODEL_NTENSORS; i++) {
    size_t count = (size_t)t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);
    ASSERT_EQ(t[i].count, count);
    ASSERT_EQ(t[i].offset, total); /* contiguous, in order */
    total += t[i].count;
  }
  ASSERT_EQ(total, 84354);
  ASSERT_EQ(RNJ_MODEL_NPARAMS, 84354);
  ASSERT_STR_EQ(t[0].name, "lstm.kernel");
  ASSERT_EQ(t[0].shape[0], 3);
  ASSERT_EQ(t[0].shape[1], 512);
  ASSERT_STR_EQ(t[1].name, "lstm.recurrent_kernel");
  ASSERT_STR_EQ(t[8].name, "duration.bias");

  ASSERT_OK(rnj_model_init(&m));
  ASSERT_EQ(m.kind, RNJ_MODEL_TUTORIAL);
  ASSERT_EQ(m.hidden, 128);
  ASSERT_EQ(m.input, 3);
  ASSERT_EQ(m.nparams, RNJ_MODEL_NPARAMS);
  ASSERT_EQ(m.ntensors, RNJ_MODEL_NTENSORS);
  ASSERT(memcmp(m.tensors, t, RNJ_MODEL_NTENSORS * sizeof *t) == 0);
  ASSERT(m.velocity_kernel == NULL && m.velocity_bias == NULL);
  ASSERT(m.kernel == m.params);
  ASSERT(m.duration_bias == m.params + RNJ_MODEL_NPARAMS - 1);
  ASSERT(m.pitch_kernel == m.params + t[3].offset);
  ASSERT_EQ(m.seq_length, 25);
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "format"), "rnnjam-lstm-v1");
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "seq_length"), "25");
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "hidden"), "128");
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "pitch_scale"), "128");
  ASSERT(rnj_model_get_meta(&m, "nope") == NULL);
  ASSERT_OK(rnj_model_set_meta(&m, "format", "x"));
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "format"), "x");

  /* the table is bounded */
  for (i = 0; i < RNJ_MODEL_META_MAX; i++) {
    snprintf(key, sizeof key, "k%d", i);
    if (rnj_model_set_meta(&m, key, "v") != 0)
      break;
  }
  ASSERT_EQ(m.n_meta, RNJ_MODEL_META_MAX);
  ASSERT_EQ(rnj_model_set_meta(&m, "one-more", "v"), RNJ_ELIMIT);

  /* copy keeps dst's own block */
  m.params[1234] = 5.0f;
  ASSERT_OK(rnj_model_init(&m2));
  ASSERT_OK(rnj_model_copy(&m2, &m));
  ASSERT(m2.params != m.params);
  ASSERT(m2.params[1234] == 5.0f);
  ASSERT(m2.kernel == m2.params);
  ASSERT_STR_EQ(rnj_model_get_meta(&m2, "format"), "x");

  rnj_model_free(&m);
  rnj_model_free(&m);  /* twice is fine */
  rnj_model_free(&m2);
  check_v2();
  return 0;
}
