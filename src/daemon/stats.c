/* rnnjamd's statistics and reports.
 *
 * The event path only counts and stores (timing_add, counters in the
 * engine and the ALSA and JACK sides) and, when it noticed something a
 * person should read, starts the `deferred` timer (stats_defer): the log
 * lines and the STATUS are written from there, on the next loop
 * iteration, never from inside an event.  The stats line gathers every
 * part's counters, periodically, on SIGUSR1 and at exit.
 *
 * This file touches only its stats_t; it reads the engine's counters and
 * asks the ALSA and JACK sides and the clock for theirs.
 */
#include <stdio.h>

#include "stats.h"

void stats_status(stats_t *s) {
  char clock[128];
  beat_describe(s->beat, clock, sizeof clock);
  notify("STATUS=%s mode, model %s; %llu notes in, %llu out; %s",
         rnj_mode_name(s->engine->p.mode), s->conf->checkpoint,
         (unsigned long long)s->engine->stats.notes_in,
         (unsigned long long)s->engine->stats.notes_out, clock);
}

void stats_log(stats_t *s, const char *when) {
  const rnj_engine_stats_t *es = &s->engine->stats;
  const rnj_engine_t *e = s->engine;
  alsa_counts_t ac;
  char jack[512];
  char clock[512];
  double p50, p99, max, t50, t99, tmax;
  uint64_t n = timing_report(&s->t_note, s->scratch, &p50, &p99, &max);
  uint64_t nt = timing_report(&s->t_tick, s->scratch, &t50, &t99, &tmax);
  alsa_counts(s->alsa, &ac);
  audio_stats(s->audio, s->scratch, jack, sizeof jack);
  beat_stats(s->beat, clock, sizeof clock);
  logm(RNJ_LOG_INFO,
       "stats (%s): rss %ld kB; events in %llu, notes in %llu, fed %llu, "
       "out %llu; answers %llu, interrupted %llu; dropped: inflight %llu, "
       "sched %llu, overlap %llu, out errors %llu+%llu, input lost %llu, "
       "keys timed out %llu; "
       "note handler p50 %.2f us p99 %.2f us max %.1f us (n=%llu); "
       "tick p50 %.2f us p99 %.2f us max %.1f us (n=%llu); "
       "engine: state %d, keys down %d, inflight %d, call %d, queued %d; "
       "read errors %llu (last %d); %s; %s",
       when, rss_kb(),
       (unsigned long long)(ac.events_in + audio_events_in(s->audio)),
       (unsigned long long)es->notes_in, (unsigned long long)es->notes_fed,
       (unsigned long long)es->notes_out, (unsigned long long)es->answers,
       (unsigned long long)es->interruptions,
       (unsigned long long)es->dropped_inflight,
       (unsigned long long)es->dropped_sched,
       (unsigned long long)es->skipped_overlap,
       (unsigned long long)es->out_errors,
       (unsigned long long)ac.out_errors, (unsigned long long)ac.lost,
       (unsigned long long)es->keys_timed_out, p50, p99, max,
       (unsigned long long)n, t50, t99, tmax, (unsigned long long)nt,
       (int)e->st, e->sounding, e->in_n, e->call_notes, e->sched_n,
       (unsigned long long)ac.read_errors, ac.last_read_error, jack, clock);
}

static void on_deferred(uv_timer_t *t) {
  stats_t *s = t->data;
  if (s->engine->p.mode != s->reported_mode) {
    s->reported_mode = s->engine->p.mode;
    logm(RNJ_LOG_INFO, "mode: %s", rnj_mode_name(s->reported_mode));
    stats_status(s);
  }
  alsa_report(s->alsa);
}

void stats_defer(stats_t *s) {
  if (!uv_is_active((uv_handle_t *)&s->deferred))
    uv_timer_start(&s->deferred, on_deferred, 0, 0);
}

void stats_mode_reported(stats_t *s) { s->reported_mode = s->engine->p.mode; }

static void on_periodic(uv_timer_t *t) {
  stats_t *s = t->data;
  stats_log(s, "periodic");
  stats_status(s);
}

void stats_start(stats_t *s, uv_loop_t *loop, const rnj_engine_t *engine,
                 const rnj_conf_t *conf, alsa_t *alsa, audio_t *audio,
                 const beat_t *beat) {
  s->engine = engine;
  s->beat = beat;
  s->conf = conf;
  s->alsa = alsa;
  s->audio = audio;
  s->reported_mode = engine->p.mode;
  uv_timer_init(loop, &s->deferred);
  uv_timer_init(loop, &s->periodic);
  s->deferred.data = s->periodic.data = s;
  if (conf->stats_interval_s > 0)
    uv_timer_start(&s->periodic, on_periodic,
                   conf->stats_interval_s * 1000u,
                   conf->stats_interval_s * 1000u);
}

static void close_cb(uv_handle_t *h) { (void)h; }

void stats_stop(stats_t *s) {
  uv_close((uv_handle_t *)&s->deferred, close_cb);
  uv_close((uv_handle_t *)&s->periodic, close_cb);
}
