/* The tutorial's loss for one prediction (see loss.h).  Computed in double:
 * eval sums it over hundreds of thousands of windows. */
#include <math.h>

#include "rnnjam/loss.h"

double rnj_loss_mse_pp(double y, double p) {
  double d = y - p;
  return d * d + RNJ_LOSS_NEG_PENALTY * (p < 0 ? -p : 0.0);
}

void rnj_loss_note(const rnj_lstm_out_t *out, int pitch, double step,
                   double duration, rnj_loss_t *loss) {
  double max = out->logits[0];
  double sum = 0;
  int i;
  for (i = 1; i < RNJ_MODEL_PITCHES; i++)
    if (out->logits[i] > max)
      max = out->logits[i];
  for (i = 0; i < RNJ_MODEL_PITCHES; i++)
    sum += exp((double)out->logits[i] - max);
  /* log-sum-exp minus the true logit: stable for large logits. */
  loss->pitch = max + log(sum) - (double)out->logits[pitch];
  loss->step = rnj_loss_mse_pp(step, out->step);
  loss->duration = rnj_loss_mse_pp(duration, out->duration);
  loss->velocity = 0;
  loss->total = RNJ_LOSS_PITCH_WEIGHT * loss->pitch +
                RNJ_LOSS_STEP_WEIGHT * loss->step +
                RNJ_LOSS_DURATION_WEIGHT * loss->duration;
}
