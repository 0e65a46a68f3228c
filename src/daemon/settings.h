/* rnnjamd's settings: the command line, the configuration it builds from
 * the files, and the model it loads.  Start-up (main.c) and a reload's
 * worker (reload.c) both build through here.  No state of its own. */
#ifndef RNNJAMD_SETTINGS_H
#define RNNJAMD_SETTINGS_H

#include <stddef.h>

#include "rnnjam/conf.h"
#include "rnnjam/net.h"

#define MAX_FLAGS 128

typedef struct options_s {
  const char *config;   /* --config FILE, or NULL for the usual files */
  int demo;
  int check_config;
  int nflags;
  const char *flag_key[MAX_FLAGS]; /* "phrase_gap" */
  const char *flag_value[MAX_FLAGS];
} options_t;

/* Build the configuration as at start-up: defaults, files, --demo, flags,
 * then the cross-checks.  `used` (may be NULL) receives the files read.
 * Returns 0, or < 0 with `err`.  Thread-safe (runs in the reload worker). */
int build_conf(rnj_conf_t *conf, const options_t *opt, char *used,
               size_t used_len, char *err);

/* Load the checkpoint into a new model (*out, of any kind), reporting its
 * window length.  Not RT-safe; thread-safe. */
int load_model(const char *path, rnj_net_t **out, int *seq_length,
               char *err);

#endif
