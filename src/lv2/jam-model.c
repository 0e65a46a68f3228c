/* jam-model: loading a model for the plugin, off the audio thread.
 *
 * The same steps as rnnjamd's: the checkpoint is read and checked, then
 * packed for the SIMD step; only the packed weights are kept.
 */
#include <stdlib.h>
#include <string.h>

#include "jam.h"
#include "rnnjam/ckpt.h"
#include "rnnjam/err.h"

int jam_model_load(jam_model_t **out, const char *path, char *err) {
  rnj_model_t model;
  jam_model_t *m;
  int rc;
  *out = NULL;
  if (strlen(path) >= JAM_PATH_MAX)
    return rnj_errorf(err, RNJ_ELIMIT, "%.64s...: path longer than %d bytes",
                      path, JAM_PATH_MAX - 1);
  m = calloc(1, sizeof *m);
  if (!m)
    return rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", path);
  memset(&model, 0, sizeof model);
  rc = rnj_model_init(&model);
  if (rc < 0) {
    rnj_errorf(err, rc, "%s: %s", path, rnj_strerror(rc));
    goto fail;
  }
  rc = rnj_ckpt_load(&model, path, err);
  if (rc < 0)
    goto fail;
  rc = rnj_lstm_new(&m->lstm, &model, RNJ_KERNEL_AUTO);
  if (rc < 0) {
    rnj_errorf(err, rc, "%s: building the model: %s", path,
               rnj_strerror(rc));
    goto fail;
  }
  m->seq_length =
      model.seq_length > 0 ? model.seq_length : RNJ_MODEL_SEQ_LENGTH;
  memcpy(m->path, path, strlen(path) + 1);
  rnj_model_free(&model);
  *out = m;
  return 0;
fail:
  rnj_model_free(&model);
  free(m);
  return rc;
}

void jam_model_free(jam_model_t *m) {
  if (!m)
    return;
  rnj_lstm_delete(m->lstm);
  free(m);
}
