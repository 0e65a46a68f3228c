/* Private to net.c and net_new.c: what a built model holds.  Never
 * installed. */
#ifndef RNNJAM_NET_IMPL_H
#define RNNJAM_NET_IMPL_H

#include "rnnjam/net.h"

struct rnj_net_s {
  int kind;             /* rnj_model_kind_t */
  int hidden;
  int seq_length;
  rnj_net_unit_t unit;
  rnj_lstm_t *lstm;     /* the tutorial's, else NULL */
};

#endif
