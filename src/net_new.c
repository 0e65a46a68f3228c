/* net_new: building a model for inference, loading one, releasing it.
 *
 * Not RT-safe (allocates, reads files); what runs a built model is in
 * net.c.
 */
#include <string.h>

#include "internal.h"
#include "net_impl.h"
#include "rnnjam/ckpt.h"

int rnj_net_new(rnj_net_t **out, const rnj_model_t *model,
                rnj_kernel_t kernel) {
  rnj_net_t *net;
  int rc;
  *out = NULL;
  if (!model || !model->params ||
      (unsigned)kernel > (unsigned)RNJ_KERNEL_AVX512)
    return RNJ_EINVAL;
  if (model->kind != RNJ_MODEL_TUTORIAL)
    return model->kind == RNJ_MODEL_V2 ? RNJ_ENOSYS : RNJ_EINVAL;
  net = rnj__calloc(1, sizeof *net);
  if (!net)
    return RNJ_ENOMEM;
  net->kind = model->kind;
  net->hidden = model->hidden;
  net->seq_length = model->seq_length > 0 ? model->seq_length
                                          : RNJ_MODEL_SEQ_LENGTH;
  net->unit = RNJ_NET_SECONDS;
  rc = rnj_lstm_new(&net->lstm, model, kernel);
  if (rc < 0) {
    rnj__free(net);
    return rc;
  }
  *out = net;
  return 0;
}

int rnj_net_load(rnj_net_t **out, const char *path, rnj_kernel_t kernel,
                 char *err) {
  rnj_model_t model;
  int rc;
  *out = NULL;
  rc = rnj_model_init(&model);
  if (rc < 0)
    return rnj_errorf(err, rc, "%s: %s", path, rnj_strerror(rc));
  rc = rnj_ckpt_load(&model, path, err);
  if (rc == 0) {
    rc = rnj_net_new(out, &model, kernel);
    if (rc < 0)
      rnj_errorf(err, rc, "%s: building the %s model: %s", path,
                 rnj_model_format(model.kind), rnj_strerror(rc));
  }
  rnj_model_free(&model);
  return rc;
}

void rnj_net_delete(rnj_net_t *net) {
  if (!net)
    return;
  rnj_lstm_delete(net->lstm);
  rnj__free(net);
}
