/* The model's continuation of a seed: the one generation loop that
 * rnnjam generate and rnnjam eval --music share, so both play the same.
 *
 * The model is seeded with the seed's notes; each generated note (pitch
 * sampled, step and duration clamped at 0) joins the context.  "window"
 * re-runs the last seq_length notes from a zero state for every prediction
 * (what the model was trained on); "stream" carries (h, c) and costs one
 * LSTM step per note (what rnnjamd does live).
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

int gen_continue(const rnj_lstm_t *lstm, int seq, rnj_sampler_t *sampler,
                 const rnj_note_t *seed, const gen_opts_t *o,
                 rnj_notes_t *out) {
  rnj_lstm_state_t state;
  rnj_lstm_out_t y;
  float *win;
  double prev_start = o->origin;
  long i;
  int rc = 0;

  out->n = 0;
  win = malloc((size_t)seq * RNJ_MODEL_INPUT * sizeof *win);
  if (!win)
    return RNJ_ENOMEM;
  rnj_lstm_reset(&state);
  for (i = 0; i < seq; i++) {
    const rnj_note_t *n = &seed[i];
    rnj_lstm_input(win + i * RNJ_MODEL_INPUT, n->pitch, n->step, n->duration);
    if (o->stream)
      rnj_lstm_step(lstm, &state, win + i * RNJ_MODEL_INPUT,
                    i == seq - 1 ? &y : NULL);
  }
  for (i = 0; i < o->n; i++) {
    rnj_note_t note;
    int pitch;
    float step;
    float duration;
    if (!o->stream)
      rnj_lstm_window(lstm, win, seq, &y);
    rnj_sample_note(sampler, &y, &pitch, &step, &duration);
    memset(&note, 0, sizeof note);
    note.pitch = (uint8_t)pitch;
    note.start = prev_start + step;
    note.end = note.start + duration;
    prev_start = note.start;
    if ((rc = rnj_notes_push(out, &note)) < 0)
      break;
    if (o->stream) {
      float x[RNJ_MODEL_INPUT];
      rnj_lstm_input(x, pitch, step, duration);
      rnj_lstm_step(lstm, &state, x, &y);
    } else {
      memmove(win, win + RNJ_MODEL_INPUT,
              (size_t)(seq - 1) * RNJ_MODEL_INPUT * sizeof *win);
      rnj_lstm_input(win + (seq - 1) * RNJ_MODEL_INPUT, pitch, step,
                     duration);
    }
  }
  rnj_notes_finish(out);
  free(win);
  return rc;
}
