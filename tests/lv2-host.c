/* lv2-host: the rnnjam LV2 plugin hosted through lilv, frame-exact.
 *
 * usage: lv2-host check | play | rt | state DIR | phase | bench
 *   (LV2_PATH must reach the bundle; RNNJAM_MODEL is the default model and
 *   RNJ_LV2_MODEL2 a second model file for the swap)
 *
 *   check  the plugin's description as lilv reads it: class, ports,
 *          features, and the writable model and seed parameters
 *   play   a 16-note phrase with the transport rolling at 100 bpm and
 *          quantize 1/16: an answer, every onset on the grid to the frame;
 *          continuous playing, a transport stop mid-block (every note ends
 *          at that frame, nothing starts until it rolls again), a jump,
 *          a model swap by patch:Set and a panic, all with well-paired
 *          notes and none left sounding
 *   rt     play with malloc, locks and I/O counted inside run() and
 *          work_response(): all must be 0 (77 under AddressSanitizer)
 *   state  a state saved to DIR, the host torn down, a new host restored
 *          from DIR (with and without a worker): the same model, seed and
 *          controls, and the same notes for the same phrase
 *   phase  a v2 model hears the host's beat phase: the same phrase at two
 *          host positions of the same bar phase, reached at other
 *          frames, answered the same; a 16th later in the bar, otherwise
 *   bench  run()'s cost per 64- and 1024-frame block at 48 kHz while
 *          playing (p50, p99, max µs) and the allocations counted
 *
 * The host's worker is synchronous: what run() schedules is worked after
 * the block and answered (work_response) before the next, as a worker
 * thread that never lags would.  Exit 0 pass, 1 fail, 77 skip, 99 error.
 */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lilv/lilv.h>
#include <lv2/atom/forge.h>
#include <lv2/atom/util.h>
#include <lv2/log/log.h>
#include <lv2/midi/midi.h>
#include <lv2/patch/patch.h>
#include <lv2/state/state.h>
#include <lv2/time/time.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

#define PLUGIN_URI "urn:rnnjam:lv2"
#define RATE 48000
#define NPORTS 10
#define BUF (1 << 16)
#define MAX_REC 200000
#define MAX_SCHED 4096
#define GRID16 7200 /* frames of a 16th at 100 bpm, 48 kHz */

static int fails;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  printf("FAIL ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fails++;
}

/* ------------------------------------------------------------ counting */

static __thread int in_rt;
static long n_alloc;
static long n_lock;
static long n_io;

#ifndef SANITIZED
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void __libc_free(void *);
void *malloc(size_t n) {
  if (in_rt)
    n_alloc++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (in_rt)
    n_alloc++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (in_rt)
    n_alloc++;
  return __libc_realloc(p, n);
}
void free(void *p) {
  if (in_rt && p)
    n_alloc++;
  __libc_free(p);
}
#define REAL(ret, name, ...)                                                  \
  static ret (*real_##name)(__VA_ARGS__);                                     \
  if (!real_##name)                                                           \
  *(void **)&real_##name = dlsym(RTLD_NEXT, #name)
int pthread_mutex_lock(pthread_mutex_t *m) {
  REAL(int, pthread_mutex_lock, pthread_mutex_t *);
  if (in_rt)
    n_lock++;
  return real_pthread_mutex_lock(m);
}
ssize_t write(int fd, const void *b, size_t n) {
  REAL(ssize_t, write, int, const void *, size_t);
  if (in_rt)
    n_io++;
  return real_write(fd, b, n);
}
ssize_t read(int fd, void *b, size_t n) {
  REAL(ssize_t, read, int, void *, size_t);
  if (in_rt)
    n_io++;
  return real_read(fd, b, n);
}
#endif

/* ------------------------------------------------------------ URIDs */

static char *uris[1024];
static LV2_URID n_uris;

static LV2_URID map_uri(LV2_URID_Map_Handle h, const char *uri) {
  LV2_URID i;
  (void)h;
  for (i = 0; i < n_uris; i++)
    if (!strcmp(uris[i], uri))
      return i + 1;
  if (n_uris == 1024)
    return 0;
  uris[n_uris] = strdup(uri);
  return ++n_uris;
}

static const char *unmap_uri(LV2_URID_Unmap_Handle h, LV2_URID u) {
  (void)h;
  return u >= 1 && u <= n_uris ? uris[u - 1] : NULL;
}

static int log_printf(LV2_Log_Handle h, LV2_URID type, const char *fmt,
                      ...) {
  va_list ap;
  int r;
  (void)h;
  printf("plugin log (%s): ", unmap_uri(NULL, type));
  va_start(ap, fmt);
  r = vprintf(fmt, ap);
  va_end(ap);
  return r;
}

static int log_vprintf(LV2_Log_Handle h, LV2_URID type, const char *fmt,
                       va_list ap) {
  (void)h;
  printf("plugin log (%s): ", unmap_uri(NULL, type));
  return vprintf(fmt, ap);
}

/* ------------------------------------------------------------ the host */

typedef struct {
  uint64_t frame;
  uint8_t st;
  uint8_t d1;
  uint8_t d2;
} rec_t;

enum { EV_MIDI, EV_POS, EV_MODEL, EV_SEED };
typedef struct {
  uint64_t frame;
  int kind;
  uint8_t msg[3];
  float speed;
  float bpm;
  double bar_beat;
  int64_t bar;
  int64_t tframe;
  int64_t seed;
  const char *path;
} sched_t;

typedef struct host_s {
  LilvWorld *world;
  const LilvPlugin *plugin;
  LilvInstance *inst;
  const LV2_Worker_Interface *worker;
  LV2_URID_Map map;
  LV2_URID_Unmap unmap;
  LV2_Worker_Schedule sched_feat;
  LV2_Log_Log log;
  LV2_Feature f_map;
  LV2_Feature f_unmap;
  LV2_Feature f_sched;
  LV2_Feature f_log;
  const LV2_Feature *features[5];
  LV2_Atom_Forge forge;
  float ctl[NPORTS];
  int64_t *in_mem;  /* 8-byte aligned atom buffers */
  int64_t *out_mem;
  uint8_t req[BUF];
  size_t req_n;
  uint8_t resp[BUF];
  size_t resp_n;
  uint64_t frame;
  rec_t *rec;
  long nrec;
  char model_seen[1024];
  int64_t seed_seen;
  sched_t sched[MAX_SCHED];
  int nsched;
  int next_sched;
  double *times; /* µs per run(), for bench */
  long ntimes;
  long maxtimes;
} host_t;

static const char *symbols[NPORTS] = {"in",       "out",     "temperature",
                                      "mode",     "length",  "gap",
                                      "quantize", "channel", "thru",
                                      "panic"};

static LV2_Worker_Status schedule(LV2_Worker_Schedule_Handle hd,
                                  uint32_t size, const void *data) {
  host_t *h = hd;
  if (h->req_n + sizeof size + size > sizeof h->req)
    return LV2_WORKER_ERR_NO_SPACE;
  memcpy(h->req + h->req_n, &size, sizeof size);
  memcpy(h->req + h->req_n + sizeof size, data, size);
  h->req_n += sizeof size + size;
  return LV2_WORKER_SUCCESS;
}

static LV2_Worker_Status respond(LV2_Worker_Respond_Handle hd, uint32_t size,
                                 const void *data) {
  host_t *h = hd;
  if (h->resp_n + sizeof size + size > sizeof h->resp)
    return LV2_WORKER_ERR_NO_SPACE;
  memcpy(h->resp + h->resp_n, &size, sizeof size);
  memcpy(h->resp + h->resp_n + sizeof size, data, size);
  h->resp_n += sizeof size + size;
  return LV2_WORKER_SUCCESS;
}

/* The worker's side (off the audio thread), then its answers delivered on
 * the audio side, as after a run(). */
static void work_all(host_t *h) {
  size_t off = 0;
  uint32_t size;
  uint8_t buf[BUF];
  size_t n = h->req_n;
  if (!h->worker)
    return;
  memcpy(buf, h->req, n);
  h->req_n = 0;
  while (off + sizeof size <= n) {
    memcpy(&size, buf + off, sizeof size);
    h->worker->work(h->inst->lv2_handle, respond, h, size,
                    buf + off + sizeof size);
    off += sizeof size + size;
  }
  n = h->resp_n;
  memcpy(buf, h->resp, n);
  h->resp_n = 0;
  in_rt = 1;
  for (off = 0; off + sizeof size <= n; off += sizeof size + size) {
    memcpy(&size, buf + off, sizeof size);
    h->worker->work_response(h->inst->lv2_handle, size,
                             buf + off + sizeof size);
  }
  in_rt = 0;
}

static LilvWorld *new_world(void) {
  LilvWorld *w = lilv_world_new();
  lilv_world_load_all(w);
  return w;
}

static int host_open(host_t *h, LilvWorld *w) {
  LilvNode *uri;
  int i;
  memset(h, 0, offsetof(host_t, sched));
  h->nsched = 0;
  h->next_sched = 0;
  h->world = w;
  uri = lilv_new_uri(w, PLUGIN_URI);
  h->plugin = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(w), uri);
  lilv_node_free(uri);
  if (!h->plugin) {
    printf("ERROR: %s not found (LV2_PATH=%s)\n", PLUGIN_URI,
           getenv("LV2_PATH") ? getenv("LV2_PATH") : "");
    return -1;
  }
  h->map.handle = NULL;
  h->map.map = map_uri;
  h->unmap.handle = NULL;
  h->unmap.unmap = unmap_uri;
  h->sched_feat.handle = h;
  h->sched_feat.schedule_work = schedule;
  h->log.handle = NULL;
  h->log.printf = log_printf;
  h->log.vprintf = log_vprintf;
  h->f_map.URI = LV2_URID__map;
  h->f_map.data = &h->map;
  h->f_unmap.URI = LV2_URID__unmap;
  h->f_unmap.data = &h->unmap;
  h->f_sched.URI = LV2_WORKER__schedule;
  h->f_sched.data = &h->sched_feat;
  h->f_log.URI = LV2_LOG__log;
  h->f_log.data = &h->log;
  h->features[0] = &h->f_map;
  h->features[1] = &h->f_unmap;
  h->features[2] = &h->f_sched;
  h->features[3] = &h->f_log;
  h->features[4] = NULL;
  h->inst = lilv_plugin_instantiate(h->plugin, RATE, h->features);
  if (!h->inst) {
    printf("ERROR: instantiating %s failed\n", PLUGIN_URI);
    return -1;
  }
  h->worker = lilv_instance_get_extension_data(h->inst, LV2_WORKER__interface);
  lv2_atom_forge_init(&h->forge, &h->map);
  h->in_mem = calloc(BUF / 8, 8);
  h->out_mem = calloc(BUF / 8, 8);
  h->rec = calloc(MAX_REC, sizeof *h->rec);
  if (!h->in_mem || !h->out_mem || !h->rec)
    return -1;
  /* the defaults lilv reads from the TTL */
  for (i = 2; i < NPORTS; i++) {
    const LilvPort *p = lilv_plugin_get_port_by_index(h->plugin, (uint32_t)i);
    LilvNode *def = NULL;
    lilv_port_get_range(h->plugin, p, &def, NULL, NULL);
    h->ctl[i] = def ? lilv_node_as_float(def) : 0;
    lilv_node_free(def);
    lilv_instance_connect_port(h->inst, (uint32_t)i, &h->ctl[i]);
  }
  lilv_instance_connect_port(h->inst, 0, h->in_mem);
  lilv_instance_connect_port(h->inst, 1, h->out_mem);
  lilv_instance_activate(h->inst);
  return 0;
}

static void host_close(host_t *h) {
  if (h->inst) {
    lilv_instance_deactivate(h->inst);
    lilv_instance_free(h->inst);
  }
  free(h->in_mem);
  free(h->out_mem);
  free(h->rec);
  h->inst = NULL;
}

static int port_index(const char *sym) {
  int i;
  for (i = 0; i < NPORTS; i++)
    if (!strcmp(symbols[i], sym))
      return i;
  return -1;
}

/* ------------------------------------------------------------ timeline */

static sched_t *add(host_t *h, uint64_t frame, int kind) {
  int i = h->nsched;
  if (h->nsched == MAX_SCHED) {
    printf("ERROR: too many scheduled events\n");
    exit(99);
  }
  /* keep the timeline sorted (stable) */
  while (i > h->next_sched && h->sched[i - 1].frame > frame) {
    h->sched[i] = h->sched[i - 1];
    i--;
  }
  memset(&h->sched[i], 0, sizeof h->sched[i]);
  h->sched[i].frame = frame;
  h->sched[i].kind = kind;
  h->nsched++;
  return &h->sched[i];
}

static void add_midi(host_t *h, uint64_t frame, int st, int d1, int d2) {
  sched_t *s = add(h, frame, EV_MIDI);
  s->msg[0] = (uint8_t)st;
  s->msg[1] = (uint8_t)d1;
  s->msg[2] = (uint8_t)d2;
}

/* The transport as jalv reports it: our frame is the transport's while it
 * rolls from frame 0 at `bpm` (4/4). */
static void add_pos(host_t *h, uint64_t frame, float speed, float bpm,
                    int64_t tframe) {
  sched_t *s = add(h, frame, EV_POS);
  double beat = (double)tframe * bpm / (60.0 * RATE);
  s->speed = speed;
  s->bpm = bpm;
  s->tframe = tframe;
  s->bar = (int64_t)floor(beat / 4);
  s->bar_beat = beat - 4.0 * (double)s->bar;
}

static const int phrase_pitches[16] = {60, 62, 64, 65, 67, 69, 71, 72,
                                       71, 69, 67, 65, 64, 62, 60, 62};

/* 16 notes of 0.25 s every 0.3 s from `at`, channel 1; returns its end. */
static uint64_t add_phrase(host_t *h, uint64_t at) {
  int i;
  for (i = 0; i < 16; i++) {
    uint64_t on = at + (uint64_t)i * (RATE * 3 / 10);
    add_midi(h, on, 0x90, phrase_pitches[i], 90);
    add_midi(h, on + RATE / 4, 0x80, phrase_pitches[i], 0);
  }
  return at + 15 * (RATE * 3 / 10) + RATE / 4;
}

static void forge_event(host_t *h, const sched_t *s, uint32_t at) {
  LV2_Atom_Forge *f = &h->forge;
  LV2_Atom_Forge_Frame fr;
  lv2_atom_forge_frame_time(f, at);
  if (s->kind == EV_MIDI) {
    lv2_atom_forge_atom(f, 3, map_uri(NULL, LV2_MIDI__MidiEvent));
    lv2_atom_forge_write(f, s->msg, 3);
  } else if (s->kind == EV_POS) {
    lv2_atom_forge_object(f, &fr, 0, map_uri(NULL, LV2_TIME__Position));
    lv2_atom_forge_key(f, map_uri(NULL, LV2_TIME__frame));
    lv2_atom_forge_long(f, s->tframe);
    lv2_atom_forge_key(f, map_uri(NULL, LV2_TIME__speed));
    lv2_atom_forge_float(f, s->speed);
    lv2_atom_forge_key(f, map_uri(NULL, LV2_TIME__barBeat));
    lv2_atom_forge_float(f, (float)s->bar_beat);
    lv2_atom_forge_key(f, map_uri(NULL, LV2_TIME__bar));
    lv2_atom_forge_long(f, s->bar);
    lv2_atom_forge_key(f, map_uri(NULL, LV2_TIME__beatUnit));
    lv2_atom_forge_int(f, 4);
    lv2_atom_forge_key(f, map_uri(NULL, LV2_TIME__beatsPerBar));
    lv2_atom_forge_float(f, 4);
    lv2_atom_forge_key(f, map_uri(NULL, LV2_TIME__beatsPerMinute));
    lv2_atom_forge_float(f, s->bpm);
    lv2_atom_forge_pop(f, &fr);
  } else {
    lv2_atom_forge_object(f, &fr, 0, map_uri(NULL, LV2_PATCH__Set));
    lv2_atom_forge_key(f, map_uri(NULL, LV2_PATCH__property));
    if (s->kind == EV_MODEL) {
      lv2_atom_forge_urid(f, map_uri(NULL, PLUGIN_URI "#model"));
      lv2_atom_forge_key(f, map_uri(NULL, LV2_PATCH__value));
      lv2_atom_forge_path(f, s->path, (uint32_t)strlen(s->path));
    } else {
      lv2_atom_forge_urid(f, map_uri(NULL, PLUGIN_URI "#seed"));
      lv2_atom_forge_key(f, map_uri(NULL, LV2_PATCH__value));
      lv2_atom_forge_int(f, (int32_t)s->seed);
    }
    lv2_atom_forge_pop(f, &fr);
  }
}

static void read_output(host_t *h) {
  const LV2_Atom_Sequence *seq = (const LV2_Atom_Sequence *)h->out_mem;
  LV2_URID midi = map_uri(NULL, LV2_MIDI__MidiEvent);
  LV2_URID set = map_uri(NULL, LV2_PATCH__Set);
  LV2_ATOM_SEQUENCE_FOREACH(seq, ev) {
    if (ev->body.type == midi && ev->body.size >= 3) {
      const uint8_t *m = (const uint8_t *)(ev + 1);
      if (h->nrec < MAX_REC) {
        h->rec[h->nrec].frame = h->frame + (uint64_t)ev->time.frames;
        h->rec[h->nrec].st = m[0];
        h->rec[h->nrec].d1 = m[1];
        h->rec[h->nrec].d2 = m[2];
        h->nrec++;
      }
    } else if (ev->body.type == map_uri(NULL, LV2_ATOM__Object)) {
      const LV2_Atom_Object *o = (const LV2_Atom_Object *)&ev->body;
      const LV2_Atom *prop = NULL;
      const LV2_Atom *val = NULL;
      if (o->body.otype != set)
        continue;
      lv2_atom_object_get(o, map_uri(NULL, LV2_PATCH__property), &prop,
                          map_uri(NULL, LV2_PATCH__value), &val, 0);
      if (!prop || !val)
        continue;
      if (((const LV2_Atom_URID *)prop)->body ==
          map_uri(NULL, PLUGIN_URI "#model"))
        snprintf(h->model_seen, sizeof h->model_seen, "%s",
                 (const char *)LV2_ATOM_BODY_CONST(val));
      else if (val->type == map_uri(NULL, LV2_ATOM__Int))
        h->seed_seen = ((const LV2_Atom_Int *)val)->body;
    }
  }
}

/* One block of n frames. */
static void block(host_t *h, uint32_t n) {
  LV2_Atom_Forge_Frame fr;
  LV2_Atom *out = (LV2_Atom *)h->out_mem;
  struct timespec a;
  struct timespec b;
  lv2_atom_forge_set_buffer(&h->forge, (uint8_t *)h->in_mem, BUF);
  lv2_atom_forge_sequence_head(&h->forge, &fr, 0);
  while (h->next_sched < h->nsched &&
         h->sched[h->next_sched].frame < h->frame + n) {
    const sched_t *s = &h->sched[h->next_sched++];
    forge_event(h, s, s->frame > h->frame ? (uint32_t)(s->frame - h->frame)
                                          : 0);
  }
  lv2_atom_forge_pop(&h->forge, &fr);
  out->size = BUF - sizeof(LV2_Atom);
  out->type = map_uri(NULL, LV2_ATOM__Chunk);
  clock_gettime(CLOCK_MONOTONIC, &a);
  in_rt = 1;
  lilv_instance_run(h->inst, n);
  in_rt = 0;
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (h->times && h->ntimes < h->maxtimes)
    h->times[h->ntimes++] =
        (double)(b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
  read_output(h);
  work_all(h);
  h->frame += n;
}

static void run_until(host_t *h, uint64_t frame, uint32_t n) {
  while (h->frame < frame)
    block(h, n);
}

/* ------------------------------------------------------------ judging */

/* Notes of channel `ch` (1..16) well paired; returns note-ons counted. */
static long check_pairs(const host_t *h, int ch, const char *what) {
  int on[128];
  long ons = 0;
  long i;
  int p;
  memset(on, 0, sizeof on);
  for (i = 0; i < h->nrec; i++) {
    const rec_t *r = &h->rec[i];
    int type = r->st & 0xF0;
    if ((r->st & 15) != ch - 1)
      continue;
    if (type == 0x90 && r->d2 > 0) {
      if (on[r->d1])
        fail("%s: note-on %d over a sounding one (frame %llu)", what, r->d1,
             (unsigned long long)r->frame);
      on[r->d1] = 1;
      ons++;
    } else if (type == 0x80 || type == 0x90) {
      if (!on[r->d1])
        fail("%s: stray note-off %d (frame %llu)", what, r->d1,
             (unsigned long long)r->frame);
      on[r->d1] = 0;
    }
  }
  for (p = 0; p < 128; p++)
    if (on[p])
      fail("%s: note %d on channel %d never ended", what, p, ch);
  return ons;
}

/* Pitches of channel `ch` sounding just before `frame`. */
static int sounding_before(const host_t *h, int ch, uint64_t frame) {
  int on[128];
  int n = 0;
  long i;
  int p;
  memset(on, 0, sizeof on);
  for (i = 0; i < h->nrec && h->rec[i].frame < frame; i++) {
    const rec_t *r = &h->rec[i];
    if ((r->st & 15) != ch - 1)
      continue;
    if ((r->st & 0xF0) == 0x90 && r->d2 > 0)
      on[r->d1] = 1;
    else if ((r->st & 0xF0) == 0x80 || (r->st & 0xF0) == 0x90)
      on[r->d1] = 0;
  }
  for (p = 0; p < 128; p++)
    n += on[p];
  return n;
}

static long count_ons(const host_t *h, int ch, uint64_t from, uint64_t to) {
  long n = 0;
  long i;
  for (i = 0; i < h->nrec; i++) {
    const rec_t *r = &h->rec[i];
    if ((r->st & 15) == ch - 1 && (r->st & 0xF0) == 0x90 && r->d2 > 0 &&
        r->frame >= from && r->frame < to)
      n++;
  }
  return n;
}

/* ------------------------------------------------------------ commands */

static int cmd_check(void) {
  LilvWorld *w = new_world();
  LilvNode *uri = lilv_new_uri(w, PLUGIN_URI);
  const LilvPlugin *p =
      lilv_plugins_get_by_uri(lilv_world_get_all_plugins(w), uri);
  LilvNode *writable = lilv_new_uri(w, LV2_PATCH__writable);
  LilvNode *range =
      lilv_new_uri(w, "http://www.w3.org/2000/01/rdf-schema#range");
  LilvNodes *params;
  const LilvPluginClass *cls;
  int have_model = 0;
  int have_seed = 0;
  uint32_t i;
  if (!p) {
    printf("FAIL %s not found\n", PLUGIN_URI);
    return 1;
  }
  cls = lilv_plugin_get_class(p);
  printf("class %s\n", lilv_node_as_uri(lilv_plugin_class_get_uri(cls)));
  if (strcmp(lilv_node_as_uri(lilv_plugin_class_get_uri(cls)),
             LV2_CORE_PREFIX "MIDIPlugin") != 0)
    fail("class is not lv2:MIDIPlugin");
  if (!lilv_plugin_verify(p))
    fail("lilv_plugin_verify");
  if (lilv_plugin_get_num_ports(p) != NPORTS)
    fail("%u ports, expected %d", lilv_plugin_get_num_ports(p), NPORTS);
  for (i = 0; i < lilv_plugin_get_num_ports(p) && i < NPORTS; i++) {
    const LilvPort *port = lilv_plugin_get_port_by_index(p, i);
    const char *sym = lilv_node_as_string(lilv_port_get_symbol(p, port));
    printf("port %u %s\n", i, sym);
    if (strcmp(sym, symbols[i]) != 0)
      fail("port %u is '%s', expected '%s'", i, sym, symbols[i]);
  }
  params = lilv_world_find_nodes(w, uri, writable, NULL);
  LILV_FOREACH(nodes, it, params) {
    const LilvNode *prm = lilv_nodes_get(params, it);
    LilvNode *r = lilv_world_get(w, prm, range, NULL);
    printf("writable %s range %s\n", lilv_node_as_uri(prm),
           r ? lilv_node_as_uri(r) : "?");
    if (!strcmp(lilv_node_as_uri(prm), PLUGIN_URI "#model") && r &&
        !strcmp(lilv_node_as_uri(r), LV2_ATOM__Path))
      have_model = 1;
    if (!strcmp(lilv_node_as_uri(prm), PLUGIN_URI "#seed") && r &&
        !strcmp(lilv_node_as_uri(r), LV2_ATOM__Int))
      have_seed = 1;
    lilv_node_free(r);
  }
  if (!have_model)
    fail("no patch:writable model with range atom:Path");
  if (!have_seed)
    fail("no patch:writable seed with range atom:Int");
  lilv_nodes_free(params);
  lilv_node_free(writable);
  lilv_node_free(range);
  lilv_node_free(uri);
  lilv_world_free(w);
  printf("%d failure(s)\n", fails);
  return fails ? 1 : 0;
}

/* The whole play scenario on one host; frames in the comments. */
static int cmd_play(int count) {
  host_t *h = calloc(1, sizeof *h);
  LilvWorld *w = new_world();
  const char *model2 = getenv("RNJ_LV2_MODEL2");
  uint64_t end;
  uint64_t t;
  long ons;
  long offgrid = 0;
  long i;
  if (!h || host_open(h, w) < 0)
    return 99;
  h->ctl[port_index("channel")] = 2; /* answers apart from the player */
  h->ctl[port_index("quantize")] = 3;
  n_alloc = n_lock = n_io = 0;

  /* 1. respond on the 16th grid of 100 bpm */
  add_pos(h, 0, 1, 100, 0);
  end = add_phrase(h, RATE / 2);
  run_until(h, 12 * RATE, 256);
  ons = count_ons(h, 2, 0, 12 * RATE);
  for (i = 0; i < h->nrec; i++) {
    const rec_t *r = &h->rec[i];
    if ((r->st & 0xF0) == 0x90 && (r->st & 15) == 1 && r->d2 > 0 &&
        r->frame % GRID16 != 0) {
      if (offgrid++ < 5)
        fail("respond: answer onset at frame %llu, %llu off the 16th grid",
             (unsigned long long)r->frame,
             (unsigned long long)(r->frame % GRID16));
    }
  }
  printf("FIGURE respond: %ld answer notes for the 16-note call, %ld off "
         "the 1/16 grid of 100 bpm (to the frame)\n", ons, offgrid);
  for (i = 0; i < h->nrec; i++)
    if ((h->rec[i].st & 15) == 1 && (h->rec[i].st & 0xF0) == 0x90) {
      printf("FIGURE respond: first answer note %.4f s after the call's "
             "last note-off (gap 0.5 s)\n",
             ((double)h->rec[i].frame - (double)end) / RATE);
      if (h->rec[i].frame < end + RATE / 2)
        fail("respond: the answer began before the gap had passed");
      break;
    }
  if (ons < 1)
    fail("respond: no answer to a 16-note call");
  if (count_ons(h, 1, 0, 12 * RATE) != 16)
    fail("thru: %ld of the call's 16 notes passed through",
         count_ons(h, 1, 0, 12 * RATE));

  /* 2. continuous, then the transport stops mid-block */
  h->ctl[port_index("mode")] = 1;
  run_until(h, 20 * RATE, 256);
  for (t = 20 * RATE; t < 40 * RATE; t += 256)
    if (sounding_before(h, 2, h->frame))
      break;
    else
      block(h, 256);
  if (!sounding_before(h, 2, h->frame))
    fail("continuous: nothing sounding to stop");
  {
    uint64_t stop = h->frame + 100;
    uint64_t roll_at;
    int sounding = sounding_before(h, 2, h->frame);
    add_pos(h, stop, 0, 100, (int64_t)stop);
    block(h, 256);
    printf("FIGURE stop: %d note(s) sounding when the transport stopped "
           "at frame %llu (mid-block); sounding after it: %d\n", sounding,
           (unsigned long long)stop, sounding_before(h, 2, stop + 1));
    if (sounding_before(h, 2, stop + 1) != 0)
      fail("stop: notes still sounding after the stop frame");
    run_until(h, h->frame + 5 * RATE, 256);
    if (count_ons(h, 2, stop, h->frame) != 0)
      fail("stop: %ld note(s) started while stopped",
           count_ons(h, 2, stop, h->frame));
    /* rolling again from where it stopped */
    roll_at = h->frame;
    add_pos(h, roll_at, 1, 100, (int64_t)stop);
    run_until(h, h->frame + 5 * RATE, 256);
    if (count_ons(h, 2, roll_at, h->frame) == 0)
      fail("stop: nothing played after the transport rolled again");

    /* 3. a jump while rolling and sounding: the transport says it is 10 s
     * further than it should be */
    for (t = 0; t < 20 * RATE / 256; t++) {
      if (sounding_before(h, 2, h->frame))
        break;
      block(h, 256);
    }
    {
      uint64_t jump = h->frame + 37;
      int64_t tf = (int64_t)stop + (int64_t)(jump - roll_at) + 10 * RATE;
      sounding = sounding_before(h, 2, h->frame);
      add_pos(h, jump, 1, 100, tf);
      block(h, 256);
      printf("FIGURE jump: %d note(s) sounding at the jump; after it: %d\n",
             sounding, sounding_before(h, 2, jump + 1));
      if (sounding_before(h, 2, jump + 1) != 0)
        fail("jump: notes still sounding after the jump frame");
      t = h->frame;
      run_until(h, h->frame + 5 * RATE, 256);
      if (count_ons(h, 2, t, h->frame) == 0)
        fail("jump: nothing played after the jump");
    }
  }

  /* 4. the model changed while playing */
  if (model2) {
    sched_t *s;
    for (t = 0; t < 20 * RATE / 256; t++) {
      if (sounding_before(h, 2, h->frame))
        break;
      block(h, 256);
    }
    s = add(h, h->frame + 11, EV_MODEL);
    s->path = model2;
    t = h->frame;
    run_until(h, h->frame + 5 * RATE, 256);
    printf("FIGURE swap: model now %s\n", h->model_seen);
    if (strcmp(h->model_seen, model2) != 0)
      fail("swap: the plugin reports model '%s', expected '%s'",
           h->model_seen, model2);
    if (count_ons(h, 2, t + RATE / 10, h->frame) == 0)
      fail("swap: nothing played after the swap");
  }

  /* 5. panic, then respond again, and all must be quiet */
  h->ctl[port_index("mode")] = 0;
  h->ctl[port_index("panic")] = 1;
  block(h, 256);
  h->ctl[port_index("panic")] = 0;
  run_until(h, h->frame + 3 * RATE, 256);
  if (sounding_before(h, 2, h->frame))
    fail("panic: notes still sounding");

  ons = check_pairs(h, 2, "answers");
  check_pairs(h, 1, "thru");
  printf("FIGURE play: %ld answer notes in %.1f s, every one paired\n", ons,
         (double)h->frame / RATE);
  if (count) {
    printf("FIGURE rt: run()+work_response(): %ld allocations, %ld locks, "
           "%ld I/O calls over %.1f s of blocks\n", n_alloc, n_lock, n_io,
           (double)h->frame / RATE);
    if (n_alloc || n_lock || n_io)
      fail("rt: run() allocated, locked or did I/O");
  }
  host_close(h);
  lilv_world_free(w);
  free(h);
  printf("%d failure(s)\n", fails);
  return fails ? 1 : 0;
}

/* ------------------------------------------------------------ state */

static const void *get_value(const char *sym, void *ud, uint32_t *size,
                             uint32_t *type) {
  host_t *h = ud;
  int i = port_index(sym);
  if (i < 2) {
    *size = *type = 0;
    return NULL;
  }
  *size = sizeof(float);
  *type = map_uri(NULL, LV2_ATOM__Float);
  return &h->ctl[i];
}

static void set_value(const char *sym, void *ud, const void *v,
                      uint32_t size, uint32_t type) {
  host_t *h = ud;
  int i = port_index(sym);
  if (i >= 2 && size == sizeof(float) &&
      type == map_uri(NULL, LV2_ATOM__Float))
    h->ctl[i] = *(const float *)v;
}

typedef struct {
  int n;
  rec_t v[4096];
} notes_t;

/* The answer to the phrase at 2 s, from a host restored (or saved). */
static void play_phrase(host_t *h, notes_t *out) {
  long i;
  long from = h->nrec;
  add_phrase(h, 2 * RATE);
  run_until(h, 14 * RATE, 256);
  out->n = 0;
  for (i = from; i < h->nrec && out->n < 4096; i++)
    if ((h->rec[i].st & 15) != 0)
      out->v[out->n++] = h->rec[i];
}

static void set_controls(host_t *h) {
  h->ctl[port_index("temperature")] = 0.8f;
  h->ctl[port_index("mode")] = 0;
  h->ctl[port_index("length")] = 12;
  h->ctl[port_index("gap")] = 400;
  h->ctl[port_index("quantize")] = 0;
  h->ctl[port_index("channel")] = 3;
  h->ctl[port_index("thru")] = 0;
}

/* Restore DIR into a new host and play the phrase: the same answer as
 * `ref`, or with `reseed` (another seed set after the restore) a
 * different one, which shows the comparison can fail. */
static int restored(const char *dir, const char *model, int with_worker,
                    int reseed, const float *want, const notes_t *ref) {
  LilvWorld *w = new_world();
  host_t *h = calloc(1, sizeof *h);
  LilvState *st;
  char path[1200];
  notes_t *got = calloc(1, sizeof *got);
  const LV2_Feature *no_worker[3];
  int i;
  if (!h || !got || host_open(h, w) < 0)
    return 99;
  snprintf(path, sizeof path, "%s/state.ttl", dir);
  st = lilv_state_new_from_file(w, &h->map, NULL, path);
  if (!st) {
    fail("state: %s not loaded", path);
    return 1;
  }
  no_worker[0] = &h->f_map;
  no_worker[1] = &h->f_log;
  no_worker[2] = NULL;
  lilv_state_restore(st, h->inst, set_value, h, 0,
                     with_worker ? h->features : no_worker);
  lilv_state_free(st);
  work_all(h);
  run_until(h, RATE, 256);
  printf("FIGURE state (%s): model %s, seed %lld\n",
         with_worker ? "restored through the worker" : "restored directly",
         h->model_seen, (long long)h->seed_seen);
  if (!strstr(h->model_seen, model) && strcmp(h->model_seen, model) != 0) {
    char a[1200];
    char *real = realpath(h->model_seen, NULL);
    char *rm = realpath(model, NULL);
    snprintf(a, sizeof a, "%s", real ? real : "");
    if (!real || !rm || strcmp(real, rm) != 0)
      fail("state: restored model '%s' is not '%s'", h->model_seen, model);
    free(real);
    free(rm);
  }
  if (reseed) {
    sched_t *s = add(h, h->frame + 10, EV_SEED);
    s->seed = 54321;
    block(h, 256);
    play_phrase(h, got);
    printf("FIGURE state: with seed 54321 instead: %d answer events, %s\n",
           got->n, got->n == ref->n && !memcmp(got->v, ref->v,
           sizeof(rec_t) * (size_t)ref->n) ? "the same" : "different");
    if (got->n == ref->n &&
        !memcmp(got->v, ref->v, sizeof(rec_t) * (size_t)ref->n))
      fail("state: another seed played the very same answer");
    goto done;
  }
  if (h->seed_seen != 12345)
    fail("state: restored seed %lld, expected 12345",
         (long long)h->seed_seen);
  for (i = 2; i < NPORTS; i++)
    if (h->ctl[i] != want[i])
      fail("state: control %s restored as %g, saved %g", symbols[i],
           h->ctl[i], want[i]);
  play_phrase(h, got);
  if (got->n != ref->n || memcmp(got->v, ref->v, sizeof(rec_t) *
                                 (size_t)ref->n) != 0) {
    fail("state: %d events after restoring, %d before, or they differ",
         got->n, ref->n);
  } else {
    printf("FIGURE state: the same %d answer events (pitch, velocity, "
           "frame) after the restore\n", got->n);
  }
done:
  host_close(h);
  lilv_world_free(w);
  free(h);
  free(got);
  return 0;
}

static int cmd_state(const char *dir) {
  const char *model2 = getenv("RNJ_LV2_MODEL2");
  LilvWorld *w = new_world();
  host_t *h = calloc(1, sizeof *h);
  notes_t *ref = calloc(1, sizeof *ref);
  LilvState *st;
  sched_t *s;
  float want[NPORTS];
  if (!model2) {
    printf("ERROR: RNJ_LV2_MODEL2 unset\n");
    return 99;
  }
  if (!h || !ref || host_open(h, w) < 0)
    return 99;
  set_controls(h);
  s = add(h, 100, EV_MODEL);
  s->path = model2;
  s = add(h, 200, EV_SEED);
  s->seed = 12345;
  run_until(h, RATE, 256);
  memcpy(want, h->ctl, sizeof want);
  st = lilv_state_new_from_instance(h->plugin, h->inst, &h->map, NULL, dir,
                                    dir, dir, get_value, h,
                                    LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE,
                                    h->features);
  if (!st || lilv_state_save(w, &h->map, &h->unmap, st, NULL, dir,
                             "state.ttl") != 0) {
    fail("state: saving to %s failed", dir);
    return 1;
  }
  lilv_state_free(st);
  printf("FIGURE state: saved to %s (model %s, seed %lld)\n", dir,
         h->model_seen, (long long)h->seed_seen);
  play_phrase(h, ref);
  printf("FIGURE state: %d answer events before the restart\n", ref->n);
  if (ref->n < 2)
    fail("state: no answer to compare");
  host_close(h);
  lilv_world_free(w);
  free(h);
  restored(dir, model2, 1, 0, want, ref);
  restored(dir, model2, 0, 0, want, ref);
  restored(dir, model2, 1, 1, want, ref);
  free(ref);
  printf("%d failure(s)\n", fails);
  return fails ? 1 : 0;
}

/* ------------------------------------------------------------ phase */

/* The v2 model (RNJ_LV2_MODEL2), seed 777, quantize off, answering the
 * 16-note phrase at frame `call` with the host's transport (100 bpm)
 * rolling from transport frame `tframe0` at frame 0: the answer, frames
 * relative to the call, into `out`. */
static void phase_run(const char *model, uint64_t call, int64_t tframe0,
                      notes_t *out) {
  LilvWorld *w = new_world();
  host_t *h = calloc(1, sizeof *h);
  sched_t *s;
  long i;
  if (!h || host_open(h, w) < 0)
    exit(99);
  h->ctl[port_index("channel")] = 2;
  h->ctl[port_index("quantize")] = 0;
  s = add(h, 0, EV_MODEL);
  s->path = model;
  s = add(h, 10, EV_SEED);
  s->seed = 777;
  add_pos(h, 0, 1, 100, tframe0);
  add_phrase(h, call);
  run_until(h, call + 14 * RATE, 256);
  out->n = 0;
  for (i = 0; i < h->nrec && out->n < 4096; i++)
    if ((h->rec[i].st & 15) == 1 && h->rec[i].frame >= call) {
      out->v[out->n] = h->rec[i];
      out->v[out->n].frame -= call;
      out->n++;
    }
  host_close(h);
  lilv_world_free(w);
  free(h);
}

/* Differences between two answers: events apart (count, status, pitch,
 * velocity) or more than one frame apart; -1 if the counts differ. */
static long answer_diff(const notes_t *a, const notes_t *b) {
  long d = 0;
  int i;
  if (a->n != b->n)
    return -1;
  for (i = 0; i < a->n; i++) {
    const rec_t *x = &a->v[i];
    const rec_t *y = &b->v[i];
    long df = (long)x->frame - (long)y->frame;
    d += x->st != y->st || x->d1 != y->d1 || x->d2 != y->d2 || df > 1 ||
         df < -1;
  }
  return d;
}

/* A v2 model hears the host's beat phase: the phrase played at bar 7 and
 * at bar 11, half a beat in both times, and 17760 frames later the second
 * time, is answered the same (pitch, velocity, frame from the call's
 * start within one); played a 16th later in the bar, it is heard at
 * another phase and answered otherwise (so the comparison can fail). */
static int cmd_phase(void) {
  const char *model2 = getenv("RNJ_LV2_MODEL2");
  notes_t *a = calloc(1, sizeof *a);
  notes_t *b = calloc(1, sizeof *b);
  notes_t *c = calloc(1, sizeof *c);
  const int64_t per_beat = 60 * RATE / 100;
  long dab;
  long dac;
  if (!model2) {
    printf("ERROR: RNJ_LV2_MODEL2 unset\n");
    return 99;
  }
  if (!a || !b || !c)
    return 99;
  /* bar 7 (from 0), beat 0.5 at the call */
  phase_run(model2, RATE / 2, 28 * per_beat + per_beat / 2 - RATE / 2, a);
  /* bar 11, beat 0.5, the call 17760 frames later */
  phase_run(model2, RATE / 2 + 17760,
            44 * per_beat + per_beat / 2 - (RATE / 2 + 17760), b);
  /* bar 7, beat 0.75 */
  phase_run(model2, RATE / 2, 28 * per_beat + 3 * per_beat / 4 - RATE / 2,
            c);
  dab = answer_diff(a, b);
  dac = answer_diff(a, c);
  printf("FIGURE phase: v2 answers of %d and %d events at bar 7 and bar 11 "
         "(the same phase, 17760 frames apart): %ld differ; a 16th later "
         "in the bar (%d events): %ld differ\n", a->n, b->n, dab, c->n,
         dac);
  if (a->n < 4)
    fail("phase: no answer to compare");
  if (dab != 0)
    fail("phase: the same call at the same bar phase answered otherwise");
  if (dac == 0)
    fail("phase: the call heard at another beat phase answered the same: "
         "the model does not hear the host's phase");
  free(a);
  free(b);
  free(c);
  printf("%d failure(s)\n", fails);
  return fails ? 1 : 0;
}

/* ------------------------------------------------------------ bench */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void bench(uint32_t n, double seconds) {
  host_t *h = calloc(1, sizeof *h);
  LilvWorld *w = new_world();
  long blocks = (long)(seconds * RATE / n);
  double first;
  uint64_t t;
  if (!h || host_open(h, w) < 0)
    exit(99);
  h->maxtimes = blocks;
  h->times = calloc((size_t)blocks, sizeof *h->times);
  h->ctl[port_index("mode")] = 1;
  h->ctl[port_index("channel")] = 2;
  add_pos(h, 0, 1, 120, 0);
  for (t = RATE / 2; t + 6 * RATE < (uint64_t)(seconds * RATE); t += 6 * RATE)
    add_phrase(h, t);
  n_alloc = n_lock = n_io = 0;
  while (h->ntimes < blocks)
    block(h, n);
  /* the first block touches the instance's memory for the first time */
  first = h->times[0];
  qsort(h->times, (size_t)h->ntimes, sizeof *h->times, cmp_double);
  printf("FIGURE run() %4u frames at %d Hz: p50 %.2f us, p99 %.2f us, "
         "p99.9 %.2f us, max %.2f us (first block %.2f us) over %ld blocks "
         "(%.0f s), %ld notes out; allocations %ld, locks %ld, I/O %ld\n",
         n, RATE, h->times[h->ntimes / 2], h->times[h->ntimes * 99 / 100],
         h->times[h->ntimes * 999 / 1000], h->times[h->ntimes - 1], first,
         h->ntimes, seconds,
         count_ons(h, 2, 0, UINT64_MAX), n_alloc, n_lock, n_io);
#ifndef SANITIZED
  if (n_alloc || n_lock || n_io)
    fail("bench: run() allocated, locked or did I/O");
#endif
  free(h->times);
  host_close(h);
  lilv_world_free(w);
  free(h);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: lv2-host check|play|rt|state DIR|phase|bench\n");
    return 2;
  }
  if (!strcmp(argv[1], "check"))
    return cmd_check();
  if (!strcmp(argv[1], "play"))
    return cmd_play(0);
  if (!strcmp(argv[1], "rt")) {
#ifdef SANITIZED
    printf("SKIP: built with AddressSanitizer, which owns malloc\n");
    return 77;
#else
    return cmd_play(1);
#endif
  }
  if (!strcmp(argv[1], "state") && argc > 2)
    return cmd_state(argv[2]);
  if (!strcmp(argv[1], "phase"))
    return cmd_phase();
  if (!strcmp(argv[1], "bench")) {
    bench(64, argc > 2 ? atof(argv[2]) : 30);
    bench(1024, argc > 2 ? atof(argv[2]) : 30);
    printf("%d failure(s)\n", fails);
    return fails ? 1 : 0;
  }
  fprintf(stderr, "lv2-host: unknown command %s\n", argv[1]);
  return 2;
}
