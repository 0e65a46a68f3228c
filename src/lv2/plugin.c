/* rnnjam as an LV2 plugin: instantiation, state and the worker.
 *
 * Everything here runs on the host's other threads, never in run(): it may
 * allocate, read files and log.  The musical side is jam.c, the audio
 * thread's side run.c.  A model is loaded only here (instantiate, work, or
 * restore when the host offers no worker and so runs nothing meanwhile)
 * and installed between two blocks by work_response.
 *
 * The default model is $RNNJAM_MODEL, else the installed default, as for
 * every rnnjam program.  The sampling seed is part of the state: a new
 * instance draws one, a restored one plays its saved seed, so a session
 * reopened answers the same phrase with the same notes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <lv2/core/lv2_util.h>
#include <lv2/midi/midi.h>
#include <lv2/patch/patch.h>
#include <lv2/state/state.h>
#include <lv2/time/time.h>

#include "plugin.h"
#include "rnnjam/err.h"

#ifndef RNJ_PKGDATADIR
#define RNJ_PKGDATADIR "/usr/share/rnnjam"
#endif

void plugin_map_uris(plugin_uris_t *u, LV2_URID_Map *map) {
  LV2_URID (*m)(LV2_URID_Map_Handle, const char *) = map->map;
  LV2_URID_Map_Handle h = map->handle;
  u->atom_Path = m(h, LV2_ATOM__Path);
  u->atom_String = m(h, LV2_ATOM__String);
  u->atom_Int = m(h, LV2_ATOM__Int);
  u->atom_Long = m(h, LV2_ATOM__Long);
  u->atom_Float = m(h, LV2_ATOM__Float);
  u->atom_Double = m(h, LV2_ATOM__Double);
  u->atom_URID = m(h, LV2_ATOM__URID);
  u->atom_Object = m(h, LV2_ATOM__Object);
  u->atom_Blank = m(h, LV2_ATOM__Blank);
  u->midi_Event = m(h, LV2_MIDI__MidiEvent);
  u->time_Position = m(h, LV2_TIME__Position);
  u->time_bar = m(h, LV2_TIME__bar);
  u->time_barBeat = m(h, LV2_TIME__barBeat);
  u->time_beat = m(h, LV2_TIME__beat);
  u->time_beatUnit = m(h, LV2_TIME__beatUnit);
  u->time_beatsPerBar = m(h, LV2_TIME__beatsPerBar);
  u->time_beatsPerMinute = m(h, LV2_TIME__beatsPerMinute);
  u->time_speed = m(h, LV2_TIME__speed);
  u->patch_Set = m(h, LV2_PATCH__Set);
  u->patch_Get = m(h, LV2_PATCH__Get);
  u->patch_property = m(h, LV2_PATCH__property);
  u->patch_value = m(h, LV2_PATCH__value);
  u->model = m(h, RNJ_LV2_MODEL);
  u->seed = m(h, RNJ_LV2_SEED);
}

/* ------------------------------------------------------------ the models */

/* Load `path`; the instance holds the result until released. */
static jam_model_t *load(plugin_t *self, const char *path) {
  char err[RNJ_ERR_LEN];
  jam_model_t *m = NULL;
  if (jam_model_load(&m, path, err) < 0) {
    lv2_log_error(&self->logger, "rnnjam: %s\n", err);
    return NULL;
  }
  pthread_mutex_lock(&self->lock);
  m->next = self->models;
  self->models = m;
  memcpy(self->saved_path, m->path, sizeof self->saved_path);
  pthread_mutex_unlock(&self->lock);
  lv2_log_note(&self->logger, "rnnjam: model %s\n", path);
  return m;
}

static void release(plugin_t *self, const jam_model_t *m) {
  jam_model_t **p;
  if (!m)
    return;
  pthread_mutex_lock(&self->lock);
  for (p = &self->models; *p; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      break;
    }
  }
  pthread_mutex_unlock(&self->lock);
  jam_model_free((jam_model_t *)m);
}

static void save_seed(plugin_t *self, int64_t seed) {
  pthread_mutex_lock(&self->lock);
  self->saved_seed = seed;
  pthread_mutex_unlock(&self->lock);
}

/* A seed for a new instance: any 31-bit value (an atom:Int in the state). */
static int64_t new_seed(void) {
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
    r = (uint32_t)time(NULL) ^ (uint32_t)clock();
  return (int64_t)(r & 0x7fffffffu);
}

/* ------------------------------------------------------------ the worker */

LV2_Worker_Status plugin_work(LV2_Handle h, LV2_Worker_Respond_Function
                              respond, LV2_Worker_Respond_Handle rh,
                              uint32_t size, const void *data) {
  plugin_t *self = h;
  plugin_msg_t msg;
  plugin_reply_t reply;
  if (size < offsetof(plugin_msg_t, path) || size > sizeof msg)
    return LV2_WORKER_ERR_UNKNOWN;
  memset(&msg, 0, sizeof msg);
  memcpy(&msg, data, size);
  if (msg.kind == MSG_FREE) {
    release(self, msg.model);
    return LV2_WORKER_SUCCESS;
  }
  if (msg.kind != MSG_LOAD)
    return LV2_WORKER_ERR_UNKNOWN;
  memset(&reply, 0, sizeof reply);
  msg.path[sizeof msg.path - 1] = '\0';
  if (msg.has_path)
    reply.model = load(self, msg.path);
  if (msg.has_seed) {
    save_seed(self, msg.seed);
    reply.has_seed = 1;
    reply.seed = msg.seed;
  }
  if (reply.model || reply.has_seed)
    respond(rh, sizeof reply, &reply);
  return LV2_WORKER_SUCCESS;
}

/* ------------------------------------------------------------ state */

static LV2_State_Status save(LV2_Handle h, LV2_State_Store_Function store,
                             LV2_State_Handle sh, uint32_t flags,
                             const LV2_Feature *const *features) {
  plugin_t *self = h;
  LV2_State_Map_Path *map_path = NULL;
  LV2_State_Free_Path *free_path = NULL;
  char path[JAM_PATH_MAX];
  int32_t seed;
  (void)flags;
  lv2_features_query(features, LV2_STATE__mapPath, &map_path, false,
                     LV2_STATE__freePath, &free_path, false, NULL);
  pthread_mutex_lock(&self->lock);
  memcpy(path, self->saved_path, sizeof path);
  seed = (int32_t)self->saved_seed;
  pthread_mutex_unlock(&self->lock);
  if (path[0]) {
    /* the host decides how the file is referred to (a link in the
     * session, a path relative to it...) */
    char *apath = map_path
                      ? map_path->abstract_path(map_path->handle, path)
                      : NULL;
    const char *p = apath ? apath : path;
    store(sh, self->u.model, p, strlen(p) + 1, self->u.atom_Path,
          LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE);
    if (apath) {
      if (free_path)
        free_path->free_path(free_path->handle, apath);
      else
        free(apath);
    }
  }
  store(sh, self->u.seed, &seed, sizeof seed, self->u.atom_Int,
        LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE);
  return LV2_STATE_SUCCESS;
}

static LV2_State_Status restore(LV2_Handle h,
                                LV2_State_Retrieve_Function retrieve,
                                LV2_State_Handle sh, uint32_t flags,
                                const LV2_Feature *const *features) {
  plugin_t *self = h;
  LV2_State_Map_Path *map_path = NULL;
  LV2_State_Free_Path *free_path = NULL;
  LV2_Worker_Schedule *schedule = NULL;
  plugin_msg_t msg;
  const void *v;
  size_t size;
  uint32_t type;
  uint32_t vflags;
  (void)flags;
  lv2_features_query(features, LV2_STATE__mapPath, &map_path, false,
                     LV2_STATE__freePath, &free_path, false,
                     LV2_WORKER__schedule, &schedule, false, NULL);
  memset(&msg, 0, sizeof msg);
  msg.kind = MSG_LOAD;
  v = retrieve(sh, self->u.model, &size, &type, &vflags);
  if (v && size > 0 && type == self->u.atom_Path) {
    char *abs = NULL;
    const char *p = v;
    if (memchr(p, '\0', size) == NULL) {
      lv2_log_error(&self->logger, "rnnjam: state: the model path is not "
                    "a string\n");
      return LV2_STATE_ERR_BAD_TYPE;
    }
    if (map_path)
      abs = map_path->absolute_path(map_path->handle, p);
    if (abs)
      p = abs;
    if (strlen(p) < sizeof msg.path) {
      memcpy(msg.path, p, strlen(p) + 1);
      msg.has_path = 1;
    } else {
      lv2_log_error(&self->logger, "rnnjam: state: model path longer "
                    "than %d bytes\n", JAM_PATH_MAX - 1);
    }
    if (abs) {
      if (free_path)
        free_path->free_path(free_path->handle, abs);
      else
        free(abs);
    }
  } else if (v) {
    lv2_log_error(&self->logger, "rnnjam: state: the model is not an "
                  "atom:Path\n");
  }
  v = retrieve(sh, self->u.seed, &size, &type, &vflags);
  if (v && type == self->u.atom_Int && size == sizeof(int32_t)) {
    msg.seed = *(const int32_t *)v;
    msg.has_seed = 1;
  } else if (v && type == self->u.atom_Long && size == sizeof(int64_t)) {
    msg.seed = *(const int64_t *)v;
    msg.has_seed = 1;
  }
  if (!msg.has_path && !msg.has_seed)
    return LV2_STATE_SUCCESS;
  if (schedule) {
    /* run() may be running: the worker loads, work_response installs */
    uint32_t n = (uint32_t)(offsetof(plugin_msg_t, path) +
                            (msg.has_path ? strlen(msg.path) + 1 : 0));
    if (schedule->schedule_work(schedule->handle, n, &msg) !=
        LV2_WORKER_SUCCESS)
      return LV2_STATE_ERR_UNKNOWN;
    return LV2_STATE_SUCCESS;
  }
  /* No worker: the host runs nothing while it restores. */
  if (msg.has_path) {
    jam_model_t *m = load(self, msg.path);
    if (m)
      release(self, jam_set_model(&self->jam, m));
  }
  if (msg.has_seed) {
    save_seed(self, msg.seed);
    jam_reseed(&self->jam, (uint64_t)msg.seed);
  }
  self->notify = 1;
  return LV2_STATE_SUCCESS;
}

/* ------------------------------------------------------------ lifecycle */

static LV2_Handle instantiate(const LV2_Descriptor *d, double rate,
                              const char *bundle,
                              const LV2_Feature *const *features) {
  plugin_t *self;
  jam_controls_t ctl;
  const char *missing;
  const char *path;
  jam_model_t *m;
  (void)d;
  (void)bundle;
  self = calloc(1, sizeof *self);
  if (!self)
    return NULL;
  missing = lv2_features_query(features, LV2_LOG__log, &self->logger.log,
                               false, LV2_URID__map, &self->map, true,
                               LV2_WORKER__schedule, &self->schedule, false,
                               NULL);
  lv2_log_logger_set_map(&self->logger, self->map);
  if (missing) {
    lv2_log_error(&self->logger, "rnnjam: the host lacks <%s>\n", missing);
    free(self);
    return NULL;
  }
  if (pthread_mutex_init(&self->lock, NULL) != 0) {
    free(self);
    return NULL;
  }
  plugin_map_uris(&self->u, self->map);
  lv2_atom_forge_init(&self->forge, self->map);
  /* the controls' defaults (rnnjam.ttl); run() reads the ports */
  plugin_read_controls(self, &ctl);
  self->saved_seed = new_seed();
  jam_init(&self->jam, rate, &ctl, (uint64_t)self->saved_seed);
  path = getenv("RNNJAM_MODEL");
  if (!path || !*path)
    path = RNJ_PKGDATADIR "/models/default.safetensors";
  m = load(self, path);
  if (m)
    release(self, jam_set_model(&self->jam, m));
  else
    lv2_log_warning(&self->logger, "rnnjam: no model yet: it plays "
                    "nothing until one is set\n");
  return self;
}

static void connect_port(LV2_Handle h, uint32_t port, void *data) {
  plugin_t *self = h;
  if (port == PORT_IN)
    self->in = data;
  else if (port == PORT_OUT)
    self->out = data;
  else if (port < PORT_COUNT)
    self->ctl[port] = data;
}

static void activate(LV2_Handle h) {
  plugin_t *self = h;
  jam_activate(&self->jam);
  self->notify = 1;
}

static void cleanup(LV2_Handle h) {
  plugin_t *self = h;
  while (self->models) {
    jam_model_t *m = self->models;
    self->models = m->next;
    jam_model_free(m);
  }
  pthread_mutex_destroy(&self->lock);
  free(self);
}

static const void *extension_data(const char *uri) {
  static const LV2_State_Interface state = {save, restore};
  static const LV2_Worker_Interface worker = {plugin_work,
                                              plugin_work_response, NULL};
  if (!strcmp(uri, LV2_STATE__interface))
    return &state;
  if (!strcmp(uri, LV2_WORKER__interface))
    return &worker;
  return NULL;
}

static const LV2_Descriptor descriptor = {
    RNJ_LV2_URI, instantiate, connect_port, activate,
    plugin_run,  NULL,        cleanup,      extension_data};

LV2_SYMBOL_EXPORT const LV2_Descriptor *lv2_descriptor(uint32_t index) {
  return index == 0 ? &descriptor : NULL;
}
