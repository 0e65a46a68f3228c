/* jam-model: loading a model for the plugin, off the audio thread.
 *
 * Any kind of model (net.h): the checkpoint is read, checked and built
 * for inference as rnnjamd does it; only the built form is kept.
 */
#include <stdlib.h>
#include <string.h>

#include "jam.h"
#include "rnnjam/err.h"

int jam_model_load(jam_model_t **out, const char *path, char *err) {
  jam_model_t *m;
  int rc;
  *out = NULL;
  if (strlen(path) >= JAM_PATH_MAX)
    return rnj_errorf(err, RNJ_ELIMIT, "%.64s...: path longer than %d bytes",
                      path, JAM_PATH_MAX - 1);
  m = calloc(1, sizeof *m);
  if (!m)
    return rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", path);
  rc = rnj_net_load(&m->net, path, RNJ_KERNEL_AUTO, err);
  if (rc < 0) {
    free(m);
    return rc;
  }
  memcpy(m->path, path, strlen(path) + 1);
  *out = m;
  return 0;
}

void jam_model_free(jam_model_t *m) {
  if (!m)
    return;
  rnj_net_delete(m->net);
  free(m);
}
