/* rnnjamd's reload (SIGHUP): a new configuration and model, built on
 * libuv's worker thread and handed to the daemon on the loop.  See
 * reload.c. */
#ifndef RNNJAMD_RELOAD_H
#define RNNJAMD_RELOAD_H

#include <uv.h>

#include "rnnjam/conf.h"
#include "rnnjam/engine.h"
#include "rnnjam/net.h"
#include "rnnjam/sample.h"
#include "settings.h"

typedef struct reload_s reload_t;

/* Called on the loop with a reload that was built and checked.  It owns
 * r->new_net from then on (and sets it to NULL). */
typedef void (*reload_apply_cb)(void *ctx, reload_t *r);

/* Only reload.c touches these fields but the results, which the apply
 * callback reads. */
struct reload_s {
  /* borrowed */
  uv_loop_t *loop;
  const options_t *opt;
  const rnj_conf_t *conf;     /* the running configuration */
  const rnj_engine_t *engine; /* for the refusal's STATUS */
  reload_apply_cb apply;
  void *ctx;

  uv_work_t work;
  int running;

  /* results, filled by the worker and checked on the loop */
  rnj_conf_t new_conf;   /* with what cannot change while running kept */
  rnj_net_t *new_net;    /* the model, of any kind */
  int new_seq_length;
  rnj_sampler_t sampler; /* from new_conf (its RNG is not used) */
  int rc;
  char err[RNJ_ERR_LEN];
};

void reload_init(reload_t *r, uv_loop_t *loop, const options_t *opt,
                 const rnj_conf_t *conf, const rnj_engine_t *engine,
                 reload_apply_cb apply, void *ctx);
/* Start a reload unless one runs (SIGHUP).  Tells the service manager
 * RELOADING=1 now and READY=1 when it is over, applied or refused. */
void reload_start(reload_t *r);

#endif
