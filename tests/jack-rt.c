/* jack-rt: the real-time rules of rnj_jack's process callback, checked
 * while it runs.
 *
 * usage: jack-rt SOUNDFONT      (with a JACK server running)
 *
 * This program defines malloc, calloc, realloc, free, the pthread mutex
 * and condition calls and the file descriptor I/O calls, and wraps
 * jack_set_process_callback, so that whatever the process callback (and
 * everything it calls: fluidsynth, libjack) does on its thread while it
 * runs is counted.  It then drives every path of the callback for two
 * seconds: scheduled notes through the ring, cancels, note-offs now,
 * all-notes-off, program and channel changes, the player's notes, MIDI
 * Clock, Start and Stop out and their cancel, MIDI input (our own MIDI
 * output, clock included, looped into our input), and the transport
 * query (the transport started, relocated and stopped meanwhile).
 * Passes when the callback ran, made sound and MIDI, reported transport
 * positions, and counted no allocation, no lock and no I/O.  The wake-up
 * the daemon uses (uv_async_send, one eventfd write) is not part of
 * rnj_jack and is left out here.
 * Exit 0 pass, 1 fail, 77 under AddressSanitizer, 99 no server.
 */
#include <dlfcn.h>
#include <jack/jack.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rnnjam/jack.h"
#include "rnnjam/synth.h"

/* AddressSanitizer owns malloc: counting it here would fight it. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

#ifdef SANITIZED
int main(void) {
  printf("SKIP: built with AddressSanitizer, which owns malloc\n");
  return 77;
}
#else

/* ---------------------------------------------------------- the counters */

static __thread int in_callback;
static long n_alloc;
static long n_lock;
static long n_io;
static long n_calls;

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void __libc_free(void *);

void *malloc(size_t n) {
  if (in_callback)
    __atomic_fetch_add(&n_alloc, 1, __ATOMIC_RELAXED);
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (in_callback)
    __atomic_fetch_add(&n_alloc, 1, __ATOMIC_RELAXED);
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (in_callback)
    __atomic_fetch_add(&n_alloc, 1, __ATOMIC_RELAXED);
  return __libc_realloc(p, n);
}
void free(void *p) {
  if (in_callback && p)
    __atomic_fetch_add(&n_alloc, 1, __ATOMIC_RELAXED);
  __libc_free(p);
}

/* The next definition of `name` (libc's), looked up once. */
#define REAL(ret, name, ...)                                                  \
  static ret (*real_##name)(__VA_ARGS__);                                     \
  if (!real_##name)                                                           \
    *(void **)&real_##name = dlsym(RTLD_NEXT, #name)

int pthread_mutex_lock(pthread_mutex_t *m) {
  REAL(int, pthread_mutex_lock, pthread_mutex_t *);
  if (in_callback)
    __atomic_fetch_add(&n_lock, 1, __ATOMIC_RELAXED);
  return real_pthread_mutex_lock(m);
}
int pthread_mutex_trylock(pthread_mutex_t *m) {
  REAL(int, pthread_mutex_trylock, pthread_mutex_t *);
  if (in_callback)
    __atomic_fetch_add(&n_lock, 1, __ATOMIC_RELAXED);
  return real_pthread_mutex_trylock(m);
}
int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  REAL(int, pthread_cond_wait, pthread_cond_t *, pthread_mutex_t *);
  if (in_callback)
    __atomic_fetch_add(&n_lock, 1, __ATOMIC_RELAXED);
  return real_pthread_cond_wait(c, m);
}
ssize_t write(int fd, const void *b, size_t n) {
  REAL(ssize_t, write, int, const void *, size_t);
  if (in_callback)
    __atomic_fetch_add(&n_io, 1, __ATOMIC_RELAXED);
  return real_write(fd, b, n);
}
ssize_t read(int fd, void *b, size_t n) {
  REAL(ssize_t, read, int, void *, size_t);
  if (in_callback)
    __atomic_fetch_add(&n_io, 1, __ATOMIC_RELAXED);
  return real_read(fd, b, n);
}
int usleep(useconds_t us) {
  REAL(int, usleep, useconds_t);
  if (in_callback)
    __atomic_fetch_add(&n_io, 1, __ATOMIC_RELAXED);
  return real_usleep(us);
}
int nanosleep(const struct timespec *a, struct timespec *b) {
  REAL(int, nanosleep, const struct timespec *, struct timespec *);
  if (in_callback)
    __atomic_fetch_add(&n_io, 1, __ATOMIC_RELAXED);
  return real_nanosleep(a, b);
}

/* ------------------------------------------------- the callback's wrapper */

static JackProcessCallback inner;

static int counted(jack_nframes_t n, void *arg) {
  int rc;
  in_callback = 1;
  rc = inner(n, arg);
  in_callback = 0;
  __atomic_fetch_add(&n_calls, 1, __ATOMIC_RELAXED);
  return rc;
}

int jack_set_process_callback(jack_client_t *c, JackProcessCallback cb,
                              void *arg) {
  REAL(int, jack_set_process_callback, jack_client_t *, JackProcessCallback,
       void *);
  inner = cb;
  return real_jack_set_process_callback(c, counted, arg);
}

/* ------------------------------------------------------------------ main */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void pause_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  REAL(int, nanosleep, const struct timespec *, struct timespec *);
  real_nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  rnj_jack_t j;
  rnj_jack_opts_t o;
  rnj_synth_t synth;
  rnj_seq_event_t ev;
  rnj_clock_jack_t pos;
  double tp;
  long positions = 0;
  char err[RNJ_ERR_LEN];
  char out[300];
  char in[300];
  double t0;
  long events = 0;
  int fails = 0;
  int i;
  int rc;

  if (argc != 2) {
    fprintf(stderr, "usage: jack-rt SOUNDFONT\n");
    return 2;
  }
  memset(&synth, 0, sizeof synth);
  memset(&o, 0, sizeof o);
  o.name = "rnj-rt";
  o.midi = 1;
  o.synth = &synth;
  o.channel = 0;
  o.render_player = 1;
  o.transport = 1;
  if (rnj_jack_init(&j, &o, err) < 0) {
    printf("ERROR: %s\n", err);
    return 99;
  }
  /* as rnnjamd does: learn the rate, build the synth for it, connect */
  rc = rnj_jack_connect(&j, err);
  if (rc == RNJ_EINVAL && j.rate > 0) {
    if (rnj_synth_init(&synth, argv[1], j.rate, 0.2, 0, err) < 0) {
      printf("ERROR: %s\n", err);
      return 99;
    }
    rc = rnj_jack_connect(&j, err);
  }
  if (rc < 0) {
    printf("ERROR: %s\n", err);
    return 99;
  }
  snprintf(out, sizeof out, "%s:out", j.actual_name);
  snprintf(in, sizeof in, "%s:in", j.actual_name);
  /* our output into our input: the input path gets events too */
  rnj_jack_connect_ports(&j, "none", out, "none", err);
  rnj_jack_set_offset(&j, 0);
  jack_transport_start((jack_client_t *)j.client);

  t0 = now_s();
  for (i = 0; now_s() - t0 < 2.0; i++) {
    double t = now_s() + 0.01;
    rnj_jack_note(&j, t, t + 0.05, 48 + i % 36, 90);
    rnj_jack_note(&j, t + 0.002, t + 0.2, 60 + i % 24, 70);
    if (i % 7 == 3)
      rnj_jack_cancel(&j);
    if (i % 7 == 4)
      rnj_jack_note_off_now(&j, 60 + i % 24);
    if (i % 11 == 5)
      rnj_jack_all_off(&j);
    if (i % 13 == 6)
      rnj_jack_program(&j, i % 8);
    if (i % 17 == 7)
      rnj_jack_channel(&j, i % 2);
    rnj_jack_player(&j, t, 0x90, 40 + i % 10, 80);
    rnj_jack_player(&j, t + 0.03, 0x80, 40 + i % 10, 0);
    rnj_jack_player(&j, t, 0xB0, 64, i % 2 ? 127 : 0);
    rnj_jack_realtime(&j, t, 0xF8);
    rnj_jack_realtime(&j, t + 0.004, 0xF8);
    if (i % 9 == 2)
      rnj_jack_realtime(&j, t, 0xFA);
    if (i % 9 == 6)
      rnj_jack_realtime(&j, -1.0, 0xFC);
    if (i % 19 == 8)
      rnj_jack_cancel_realtime(&j);
    if (i % 97 == 50)
      jack_transport_locate((jack_client_t *)j.client,
                            (jack_nframes_t)(i * 480));
    if (i % 131 == 100)
      jack_transport_stop((jack_client_t *)j.client);
    if (i % 131 == 110)
      jack_transport_start((jack_client_t *)j.client);
    while (rnj_jack_read(&j, &ev))
      events++;
    while (rnj_jack_read_transport(&j, &tp, &pos))
      positions++;
    pause_ms(3);
  }
  jack_transport_stop((jack_client_t *)j.client);
  rnj_jack_all_off(&j);
  rnj_jack_drain(&j, 4, 500);
  while (rnj_jack_read(&j, &ev))
    events++;

  printf("FIGURE rt_callback periods %ld, allocations %ld, locks %ld, "
         "I/O or sleeps %ld; input events %ld; transport positions %ld; "
         "xruns %llu\n",
         n_calls, n_alloc, n_lock, n_io, events, positions,
         (unsigned long long)j.xruns);
  if (n_calls < 100) {
    printf("FAIL: the process callback ran %ld times in 2 s\n", n_calls);
    fails++;
  }
  if (n_alloc || n_lock || n_io) {
    printf("FAIL: the process callback allocated, locked or did I/O\n");
    fails++;
  }
  if (events == 0) {
    printf("FAIL: no MIDI came back through the input\n");
    fails++;
  }
  if (positions < 10) {
    printf("FAIL: %ld transport positions in 2 s\n", positions);
    fails++;
  }
  rnj_jack_free(&j);
  rnj_synth_free(&synth);
  return fails ? 1 : 0;
}
#endif
