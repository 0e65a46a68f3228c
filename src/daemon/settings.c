/* rnnjamd's settings: the configuration as start-up and SIGHUP build it
 * (defaults, the system file, the user's file, --demo, then the flags, so
 * a flag always wins), and the model it names.  Both run on the reload
 * worker as well as at start, so they keep no state and touch nothing
 * but their arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnjam/err.h"
#include "settings.h"

static const char *default_checkpoint(void) {
  const char *env = getenv("RNNJAM_MODEL");
  if (env && *env)
    return env;
  return RNJ_PKGDATADIR "/models/default.safetensors";
}

static void add_used(char *used, size_t len, const char *path) {
  size_t n;
  if (!used || !len)
    return;
  n = strlen(used);
  snprintf(used + n, len - n, "%s%s", n ? ", " : "", path);
}

/* A file that may be missing; any other failure is an error. */
static int load_optional(rnj_conf_t *conf, const char *path, char *used,
                         size_t used_len, char *err) {
  int rc = rnj_conf_load(conf, path, err);
  if (rc == -ENOENT)
    return 0;
  if (rc == 0)
    add_used(used, used_len, path);
  return rc;
}

int build_conf(rnj_conf_t *conf, const options_t *opt, char *used,
               size_t used_len, char *err) {
  char path[4096];
  const char *xdg = getenv("XDG_CONFIG_HOME");
  const char *home = getenv("HOME");
  int rc;
  int i;

  if (used && used_len)
    used[0] = '\0';
  rnj_conf_defaults(conf, default_checkpoint());
  if (opt->config) {
    rc = rnj_conf_load(conf, opt->config, err);
    if (rc == -ENOENT)
      return rnj_errorf(err, rc, "%s: no such file", opt->config);
    if (rc < 0)
      return rc;
    add_used(used, used_len, opt->config);
  } else {
    rc = load_optional(conf, RNJ_SYSCONFDIR "/rnnjam/rnnjamd.conf", used,
                       used_len, err);
    if (rc < 0)
      return rc;
    path[0] = '\0';
    if (xdg && *xdg)
      snprintf(path, sizeof path, "%s/rnnjam/rnnjamd.conf", xdg);
    else if (home && *home)
      snprintf(path, sizeof path, "%s/.config/rnnjam/rnnjamd.conf", home);
    if (path[0]) {
      rc = load_optional(conf, path, used, used_len, err);
      if (rc < 0)
        return rc;
    }
  }
  /* --demo: no keyboard needed, so play nonstop from the bundled phrase;
   * flags given with it still win. */
  if (opt->demo) {
    conf->mode = RNJ_MODE_CONTINUOUS;
    if (!conf->seed_midi[0])
      snprintf(conf->seed_midi, sizeof conf->seed_midi, "%s",
               RNJ_PKGDATADIR "/models/seed.mid");
  }
  for (i = 0; i < opt->nflags; i++) {
    char e[RNJ_ERR_LEN];
    rc = rnj_conf_set(conf, NULL, opt->flag_key[i], opt->flag_value[i], e);
    if (rc < 0)
      return rnj_errorf(err, rc, "--%s: %s", opt->flag_key[i], e);
  }
  return rnj_conf_check(conf, err);
}

int load_model(const char *path, rnj_net_t **out, int *seq_length,
               char *err) {
  int rc = rnj_net_load(out, path, RNJ_KERNEL_AUTO, err);
  if (rc == 0)
    *seq_length = rnj_net_seq_length(*out);
  return rc;
}
