/* rnnjamd's reload: SIGHUP builds the new configuration and model on
 * libuv's worker thread (loading a model takes milliseconds to seconds:
 * never on the loop) and checks them on the loop.  A model or a file that
 * fails is refused and the old one keeps playing; what cannot change while
 * running (the ports, the transport, the sound) is kept, with a warning
 * that it takes effect at the next start.  What passes is handed to the
 * daemon's apply callback, which swaps it in between two events.
 *
 * The worker reads only the options and writes only the results: the
 * running configuration is not touched off the loop.
 */
#include <stdio.h>
#include <string.h>

#include "reload.h"
#include "service.h"

static void work(uv_work_t *w) {
  reload_t *r = w->data;
  r->new_net = NULL;
  r->err[0] = '\0';
  r->rc = build_conf(&r->new_conf, r->opt, NULL, 0, r->err);
  if (r->rc < 0)
    return;
  r->rc = load_model(r->new_conf.checkpoint, &r->new_net,
                     &r->new_seq_length, r->err);
}

/* The old model and settings play on; the new model is dropped, and the
 * service manager hears the reload is over (READY=1) and why it failed. */
static void refused(reload_t *r, const char *why) {
  logm(RNJ_LOG_ERR, "reload refused: %s; still playing %s", why,
       r->conf->checkpoint);
  rnj_net_delete(r->new_net);
  r->new_net = NULL;
  notify("READY=1\nSTATUS=reload refused (%s); %s mode, model %s", why,
         rnj_mode_name(r->engine->p.mode), r->conf->checkpoint);
}

/* What takes effect only at the next start is said so, and kept. */
static void keep_fixed(rnj_conf_t *c, const rnj_conf_t *old) {
  if (strcmp(c->client_name, old->client_name) != 0 ||
      strcmp(c->connect_in, old->connect_in) != 0 ||
      strcmp(c->connect_out, old->connect_out) != 0)
    logm(RNJ_LOG_WARNING, "client_name, connect_in and connect_out take "
                          "effect at the next start");
  if (c->transport != old->transport || c->audio != old->audio ||
      c->render != old->render || c->gain != old->gain ||
      strcmp(c->soundfont, old->soundfont) != 0 ||
      strcmp(c->autoconnect, old->autoconnect) != 0 ||
      strcmp(c->jack_connect_in, old->jack_connect_in) != 0 ||
      strcmp(c->jack_connect_out, old->jack_connect_out) != 0)
    logm(RNJ_LOG_WARNING, "midi, audio, render, gain, soundfont and the "
                          "JACK connections take effect at the next start");
  snprintf(c->client_name, sizeof c->client_name, "%s", old->client_name);
  snprintf(c->connect_in, sizeof c->connect_in, "%s", old->connect_in);
  snprintf(c->connect_out, sizeof c->connect_out, "%s", old->connect_out);
  c->transport = old->transport;
  c->audio = old->audio;
  c->render = old->render;
  c->gain = old->gain;
  snprintf(c->soundfont, sizeof c->soundfont, "%s", old->soundfont);
  snprintf(c->autoconnect, sizeof c->autoconnect, "%s", old->autoconnect);
  snprintf(c->jack_connect_in, sizeof c->jack_connect_in, "%s",
           old->jack_connect_in);
  snprintf(c->jack_connect_out, sizeof c->jack_connect_out, "%s",
           old->jack_connect_out);
}

static void done(uv_work_t *w, int status) {
  reload_t *r = w->data;
  rnj_conf_t *c = &r->new_conf;
  char err[RNJ_ERR_LEN];
  r->running = 0;
  if (status < 0 || r->rc < 0) {
    refused(r, status < 0 ? uv_strerror(status) : r->err);
    return;
  }
  rnj_sampler_init(&r->sampler, 0);
  r->sampler.temperature = (float)c->temperature;
  r->sampler.time_temperature = (float)c->time_temperature;
  r->sampler.top_p = (float)c->top_p;
  r->sampler.top_k = c->top_k;
  r->sampler.pitch_min = c->pitch_min;
  r->sampler.pitch_max = c->pitch_max;
  if (rnj_sampler_check(&r->sampler, err) < 0) {
    refused(r, err);
    return;
  }
  keep_fixed(c, r->conf);
  r->apply(r->ctx, r);
  /* an apply that did not take the model frees nothing: do it here */
  rnj_net_delete(r->new_net);
  r->new_net = NULL;
}

void reload_init(reload_t *r, uv_loop_t *loop, const options_t *opt,
                 const rnj_conf_t *conf, const rnj_engine_t *engine,
                 reload_apply_cb apply, void *ctx) {
  r->loop = loop;
  r->opt = opt;
  r->conf = conf;
  r->engine = engine;
  r->apply = apply;
  r->ctx = ctx;
  r->running = 0;
  r->new_net = NULL;
}

void reload_start(reload_t *r) {
  if (r->running) {
    logm(RNJ_LOG_NOTICE, "reload already running");
    return;
  }
  /* READY=1 follows when the reload has finished, kept or refused (done):
   * systemctl reload waits for it.  MONOTONIC_USEC is what systemd's
   * notify-reload protocol asks to go with RELOADING. */
  notify("RELOADING=1\nMONOTONIC_USEC=%llu",
         (unsigned long long)(now_ns() / 1000u));
  logm(RNJ_LOG_INFO, "reloading configuration and model");
  r->running = 1;
  r->work.data = r;
  if (uv_queue_work(r->loop, &r->work, work, done) < 0) {
    r->running = 0;
    logm(RNJ_LOG_ERR, "reload could not start");
    notify("READY=1");
  }
}
