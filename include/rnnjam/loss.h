/* The tutorial's loss for one prediction:
 *   total = 0.05 * CE(pitch) + mse_pp(step) + mse_pp(duration)
 *   mse_pp(y, p) = (y - p)^2 + 10 * max(-p, 0)
 * CE is the sparse softmax cross-entropy of the pitch logits.  Means over
 * windows are taken by the caller (eval) or the trainer's batched code.
 */
#ifndef RNNJAM_LOSS_H
#define RNNJAM_LOSS_H

#include "common.h"
#include "lstm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RNJ_LOSS_PITCH_WEIGHT 0.05
#define RNJ_LOSS_STEP_WEIGHT 1.0
#define RNJ_LOSS_DURATION_WEIGHT 1.0
#define RNJ_LOSS_NEG_PENALTY 10.0

typedef struct rnj_loss_s {
  double total;    /* weighted sum */
  double pitch;    /* cross-entropy (unweighted) */
  double step;     /* mse_pp */
  double duration; /* mse_pp */
  double velocity; /* the v2 model's CE of its velocity head (train.h);
                      0 for the tutorial's */
} rnj_loss_t;

/* mse with positive pressure, for one value. */
RNJ_EXTERN double rnj_loss_mse_pp(double y, double p);

/* The loss of `out` against the true next note. */
RNJ_EXTERN void rnj_loss_note(const rnj_lstm_out_t *out, int pitch,
                              double step, double duration, rnj_loss_t *loss);

#ifdef __cplusplus
}
#endif
#endif
