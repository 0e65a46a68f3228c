/* The model's continuation of a seed: the one generation loop that
 * rnnjam generate and rnnjam eval --music share, so both play the same.
 *
 * The model (net.h) is seeded with the seed's notes in its own time unit:
 * seconds for the tutorial's model, beats (the notes' ticks / ticks per
 * quarter) for a model in beats.  Each generated note (rnj_net_sample)
 * joins the context.  "window" re-runs the last seq_length notes from a
 * zero state for every prediction (what the model was trained on);
 * "stream" carries the state and costs one step per note (what rnnjamd
 * does live).
 *
 * Generated notes get both clocks: a model in seconds counts its onsets
 * from o->origin (start = previous start + step, the tutorial's sum, so
 * its files stay as they were), and a model in beats from the seed's last
 * onset, its seconds through the seed file's tempo map.
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

void gen_sampling_defaults(const rnj_net_t *net, double *pitch_temp,
                           double *time_temp, double *top_p) {
  if (rnj_net_unit(net) == RNJ_NET_SECONDS) {
    *pitch_temp = 2.0; /* the tutorial's */
    *time_temp = 1.0;  /* unused: its times are regressed */
    *top_p = 1.0;
  } else {
    /* rnnjamd's defaults ([model] temperature, time_temperature, top_p) */
    *pitch_temp = RNJ_SAMPLE_BEATS_TEMPERATURE;
    *time_temp = RNJ_SAMPLE_BEATS_TIME_TEMPERATURE;
    *top_p = RNJ_SAMPLE_BEATS_TOP_P;
  }
}

void gen_net_note(const rnj_net_t *net, const rnj_note_t *n,
                  const rnj_note_t *prev, rnj_net_note_t *m) {
  if (rnj_net_unit(net) == RNJ_NET_BEATS) {
    m->onset = n->start_beat;
    m->step = prev ? n->start_beat - prev->start_beat : 0;
    m->duration = n->end_beat - n->start_beat;
  } else {
    m->onset = n->start;
    m->step = n->step;
    m->duration = n->duration;
  }
  m->pitch = n->pitch;
  m->velocity = n->velocity;
}

/* Seconds of `beats` through the map (120 bpm without one). */
static double seconds_at(const rnj_smf_t *map, double beats) {
  return map ? rnj_smf_beat_seconds(map, beats) : beats / 2.0;
}

int gen_continue(const rnj_net_t *net, rnj_sampler_t *sampler,
                 const rnj_note_t *seed, int nseed, const gen_opts_t *o,
                 rnj_notes_t *out) {
  int seq = rnj_net_seq_length(net);
  int beats = rnj_net_unit(net) == RNJ_NET_BEATS;
  rnj_net_state_t state;
  rnj_net_dist_t y;
  rnj_net_note_t *win;
  double prev_start = o->origin;
  int first;
  long i;
  int rc = 0;

  out->n = 0;
  if (nseed < 1)
    return RNJ_EINVAL;
  /* The window is the last seq_length seed notes (fewer if the seed is
   * shorter: the model then starts from what there is). */
  if (nseed < seq)
    seq = nseed;
  first = nseed - seq;
  win = malloc((size_t)seq * sizeof *win);
  if (!win)
    return RNJ_ENOMEM;
  rnj_net_reset(net, &state);
  for (i = 0; i < seq; i++) {
    int k = first + (int)i;
    gen_net_note(net, &seed[k], k ? &seed[k - 1] : NULL, &win[i]);
    if (o->stream)
      rnj_net_feed(net, &state, &win[i]);
  }
  if (o->stream)
    rnj_net_predict(net, &state, &y);

  for (i = 0; i < o->n; i++) {
    rnj_note_t note;
    rnj_net_note_t g;
    if (!o->stream)
      rnj_net_window(net, &state, win, seq, &y);
    rnj_net_sample(net, &y, sampler, &g);
    memset(&note, 0, sizeof note);
    note.pitch = (uint8_t)g.pitch;
    note.velocity = (uint8_t)g.velocity;
    if (beats) {
      note.start_beat = g.onset;
      note.end_beat = g.onset + g.duration;
      note.start = seconds_at(o->tempo_map, note.start_beat);
      note.end = seconds_at(o->tempo_map, note.end_beat);
    } else {
      note.start = prev_start + g.step;
      note.end = note.start + g.duration;
      prev_start = note.start;
      if (o->tempo_map) {
        note.start_beat = rnj_smf_second_beats(o->tempo_map, note.start);
        note.end_beat = rnj_smf_second_beats(o->tempo_map, note.end);
      }
    }
    if ((rc = rnj_notes_push(out, &note)) < 0)
      break;
    if (o->stream) {
      rnj_net_feed(net, &state, &g);
      rnj_net_predict(net, &state, &y);
    } else {
      memmove(win, win + 1, (size_t)(seq - 1) * sizeof *win);
      win[seq - 1] = g;
    }
  }
  rnj_notes_finish(out);
  free(win);
  return rc;
}
