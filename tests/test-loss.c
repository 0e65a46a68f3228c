/* loss: cross-entropy and mse with positive pressure, against values
 * worked out by hand. */
#include "rnnjam/loss.h"
#include "test.h"

int main(void) {
  rnj_lstm_out_t out;
  rnj_loss_t l;
  int i;

  /* mse_pp: squared error, plus 10*|p| when the prediction is negative */
  ASSERT_NEAR(rnj_loss_mse_pp(0.5, 0.25), 0.0625, 1e-15);
  ASSERT_NEAR(rnj_loss_mse_pp(0.5, -0.25), 0.5625 + 2.5, 1e-15);
  ASSERT_NEAR(rnj_loss_mse_pp(0.0, 0.0), 0.0, 1e-15);

  /* uniform logits: CE = log(128) whatever the target */
  memset(&out, 0, sizeof out);
  out.step = 0.1f;
  out.duration = -0.5f;
  rnj_loss_note(&out, 60, 0.1, 0.5, &l);
  ASSERT_NEAR(l.pitch, log(128.0), 1e-12);
  ASSERT_NEAR(l.step, 0.0, 1e-12);
  ASSERT_NEAR(l.duration, 1.0 + 5.0, 1e-6);
  ASSERT_NEAR(l.total, 0.05 * log(128.0) + l.step + l.duration, 1e-12);

  /* large logits stay finite (log-sum-exp) */
  for (i = 0; i < RNJ_MODEL_PITCHES; i++)
    out.logits[i] = 1000.0f;
  out.logits[7] = 1010.0f;
  rnj_loss_note(&out, 7, 0, 0, &l);
  ASSERT(isfinite(l.pitch));
  ASSERT_NEAR(l.pitch, log(1.0 + 127.0 * exp(-10.0)), 1e-9);
  return 0;
}
