/* The rnnjam LV2 plugin's instance, shared by its two halves:
 * plugin.c (instantiation, state, the worker: the host's other threads)
 * and run.c (run and work_response: the audio thread).
 *
 * The model path and the seed change only through the worker: run() and
 * restore() ask for a change, work() makes it (loads the model) and records
 * it in `saved` for save(), and work_response() installs it between two
 * blocks.  `saved` has a lock that only the non-audio threads take.
 */
#ifndef RNNJAM_LV2_PLUGIN_H
#define RNNJAM_LV2_PLUGIN_H

#include <pthread.h>
#include <stdint.h>

#include <lv2/atom/atom.h>
#include <lv2/atom/forge.h>
#include <lv2/core/lv2.h>
#include <lv2/log/logger.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>

#include "jam.h"

#define RNJ_LV2_URI "urn:rnnjam:lv2"
#define RNJ_LV2_MODEL RNJ_LV2_URI "#model"
#define RNJ_LV2_SEED RNJ_LV2_URI "#seed"

/* Port indices, as in rnnjam.ttl. */
enum {
  PORT_IN = 0,
  PORT_OUT = 1,
  PORT_TEMPERATURE = 2,
  PORT_MODE = 3,
  PORT_LENGTH = 4,
  PORT_GAP = 5,
  PORT_QUANTIZE = 6,
  PORT_CHANNEL = 7,
  PORT_THRU = 8,
  PORT_PANIC = 9,
  PORT_COUNT = 10
};

/* Messages to the worker and its answers (plain bytes through the host's
 * ring, so no more than a path and a few numbers). */
enum { MSG_LOAD = 1, MSG_FREE = 2 };
typedef struct plugin_msg_s {
  uint32_t kind;
  uint32_t has_path;
  uint32_t has_seed;
  uint32_t pad;
  int64_t seed;
  jam_model_t *model;      /* MSG_FREE */
  char path[JAM_PATH_MAX]; /* MSG_LOAD: only has_path ? strlen+1 sent */
} plugin_msg_t;

typedef struct plugin_reply_s {
  jam_model_t *model; /* NULL: none loaded */
  uint32_t has_seed;
  uint32_t pad;
  int64_t seed;
} plugin_reply_t;

typedef struct plugin_uris_s {
  LV2_URID atom_Path;
  LV2_URID atom_String;
  LV2_URID atom_Int;
  LV2_URID atom_Long;
  LV2_URID atom_Float;
  LV2_URID atom_Double;
  LV2_URID atom_URID;
  LV2_URID atom_Object;
  LV2_URID atom_Blank;
  LV2_URID midi_Event;
  LV2_URID time_Position;
  LV2_URID time_bar;
  LV2_URID time_barBeat;
  LV2_URID time_beat;
  LV2_URID time_beatUnit;
  LV2_URID time_beatsPerBar;
  LV2_URID time_beatsPerMinute;
  LV2_URID time_speed;
  LV2_URID patch_Set;
  LV2_URID patch_Get;
  LV2_URID patch_property;
  LV2_URID patch_value;
  LV2_URID model;
  LV2_URID seed;
} plugin_uris_t;

typedef struct plugin_s {
  /* host features */
  LV2_URID_Map *map;
  LV2_Worker_Schedule *schedule; /* NULL: the host has no worker */
  LV2_Log_Logger logger;
  plugin_uris_t u;
  LV2_Atom_Forge forge;

  /* ports */
  const LV2_Atom_Sequence *in;
  LV2_Atom_Sequence *out;
  const float *ctl[PORT_COUNT]; /* the control ports by index */

  /* the audio thread's */
  jam_t jam;
  float panic_last; /* the trigger acts on its rising edge */
  int notify;       /* tell the host the model and seed (patch:Set) */
  uint64_t refused; /* changes asked for without a worker to make them */

  /* the other threads': what save() stores */
  pthread_mutex_t lock;
  int lock_ok;
  char saved_path[JAM_PATH_MAX]; /* "" = no model */
  int64_t saved_seed;
  jam_model_t *models; /* every model this instance holds, for cleanup */
} plugin_t;

/* plugin.c */
void plugin_map_uris(plugin_uris_t *u, LV2_URID_Map *map);
LV2_Worker_Status plugin_work(LV2_Handle h, LV2_Worker_Respond_Function
                              respond, LV2_Worker_Respond_Handle rh,
                              uint32_t size, const void *data);

/* run.c: the audio thread */
void plugin_run(LV2_Handle h, uint32_t n);
LV2_Worker_Status plugin_work_response(LV2_Handle h, uint32_t size,
                                       const void *data);
/* The controls as the ports hold them now (defaults where unconnected). */
void plugin_read_controls(const plugin_t *self, jam_controls_t *c);

#endif
