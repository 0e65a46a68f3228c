/* net_new: building a model for inference, loading one, releasing it.
 *
 * Not RT-safe (allocates, reads files); what runs a built model is in
 * net.c.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "net_impl.h"
#include "rnnjam/ckpt.h"

#define ALIGN 64

/* The v2 model: one block holding alignment slack, the packed weights
 * and the struct.  The half-precision kernel cannot hold a weight of
 * 65520 or more (it would become infinite): asked for, that is
 * RNJ_ELIMIT; picked by AUTO, the float AVX-512 kernel runs instead. */
static int new_v2(rnj_net_t **out, const rnj_model_t *model,
                  rnj_kernel_t kernel) {
  const rnj__lstm2_kern_t *kern = rnj__lstm2_kern_find(kernel);
  size_t bytes;
  uint8_t *mem;
  uint8_t *w;
  rnj_net_t *net;
  if (!kern)
    return RNJ_ENOSYS;
  if (kern->format == RNJ__V2_F16 && !rnj__lstm2_f16_fits(model)) {
    if (kernel != RNJ_KERNEL_AUTO)
      return RNJ_ELIMIT;
    kern = rnj__lstm2_kern_find(RNJ_KERNEL_AVX512);
    if (!kern)
      return RNJ_ENOSYS;
  }
  bytes = rnj__lstm2_pack_bytes(model->hidden, kern->format);
  mem = rnj__malloc(ALIGN + bytes + sizeof *net);
  if (!mem)
    return RNJ_ENOMEM;
  w = mem + (ALIGN - (uintptr_t)mem % ALIGN) % ALIGN;
  /* bytes is a multiple of 64: the struct after it is aligned */
  net = (rnj_net_t *)(w + bytes);
  memset(net, 0, sizeof *net);
  rnj__lstm2_pack(&net->pack, w, model, kern->format);
  net->kern = kern;
  net->mem = mem;
  net->unit = RNJ_NET_BEATS;
  *out = net;
  return 0;
}

int rnj_net_new(rnj_net_t **out, const rnj_model_t *model,
                rnj_kernel_t kernel) {
  rnj_net_t *net = NULL;
  int rc;
  *out = NULL;
  if (!model || !model->params ||
      (unsigned)kernel > (unsigned)RNJ_KERNEL_AVX512_F16)
    return RNJ_EINVAL;
  if (model->kind == RNJ_MODEL_V2) {
    rc = new_v2(&net, model, kernel);
    if (rc < 0)
      return rc;
  } else if (model->kind == RNJ_MODEL_TUTORIAL) {
    net = rnj__calloc(1, sizeof *net);
    if (!net)
      return RNJ_ENOMEM;
    rc = rnj_lstm_new(&net->lstm, model, kernel);
    if (rc < 0) {
      rnj__free(net);
      return rc;
    }
    net->unit = RNJ_NET_SECONDS;
  } else {
    return RNJ_EINVAL;
  }
  net->kind = model->kind;
  net->hidden = model->hidden;
  net->seq_length = model->seq_length > 0 ? model->seq_length
                                          : RNJ_MODEL_SEQ_LENGTH;
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
  if (net->mem) { /* v2: the struct lives in the block */
    rnj__free(net->mem);
    return;
  }
  rnj_lstm_delete(net->lstm);
  rnj__free(net);
}
