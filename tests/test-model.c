/* model: the tensor table matches the Keras layout and the parameter count,
 * and metadata behaves. */
#include "rnnjam/err.h"
#include "rnnjam/model.h"
#include "test.h"

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
  rnj_model_copy(&m2, &m);
  ASSERT(m2.params != m.params);
  ASSERT(m2.params[1234] == 5.0f);
  ASSERT(m2.kernel == m2.params);
  ASSERT_STR_EQ(rnj_model_get_meta(&m2, "format"), "x");

  rnj_model_free(&m);
  rnj_model_free(&m);  /* twice is fine */
  rnj_model_free(&m2);
  return 0;
}
