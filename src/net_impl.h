/* Private to net.c and net_new.c: what a built model holds.  Never
 * installed. */
#ifndef RNNJAM_NET_IMPL_H
#define RNNJAM_NET_IMPL_H

#include "lstm2_kern.h"
#include "rnnjam/net.h"

struct rnj_net_s {
  int kind;             /* rnj_model_kind_t */
  int hidden;
  int seq_length;
  rnj_net_unit_t unit;
  rnj_lstm_t *lstm;     /* the tutorial's, else NULL */
  /* v2: the packed weights (in `mem`, with this struct) and the kernel */
  rnj__lstm2_pack_t pack;
  const rnj__lstm2_kern_t *kern;
  void *mem;
};

#endif
