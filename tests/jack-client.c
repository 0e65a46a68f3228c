/* jack-client: a player and a recorder for rnnjamd on JACK.
 *
 * usage: jack-client DAEMON GAP_MS STEP...
 *
 * Two JACK clients in one process: "rnj-tx" plays into DAEMON:in (JACK
 * MIDI) and "rnj-rx" records DAEMON:left, DAEMON:right and DAEMON:out.
 * Two, not one, so that the graph runs tx -> DAEMON -> rx within one
 * period with no feedback edge: every time below is a frame on JACK's
 * one frame clock, which both clients share.  Steps, in order:
 *
 *   respond:N   N calls of one note (200 ms); for each, the answer's
 *               first note-on on DAEMON:out and its first audible sample
 *               (|x| > 0.001) are measured from the call's note-off plus
 *               the gap; the audio is silent (render = generated) from
 *               the call's note-on until then, and audible after
 *   midi:N      N calls judged on DAEMON:out alone (its audio off:
 *               name other audio ports with RNJ_JACK_PORT_LEFT/_RIGHT)
 *   notes:N     N notes whose sound should follow at once (rnnjamd
 *               with render = all, or another synth): from each note-on
 *               to the first sample of its voice
 *   silence:S   the audio stays silent for S seconds (nothing stuck)
 *   soak:S      record S seconds and report notes, level and the
 *               recorder's own view of the period (no assertion)
 *   cc:N:V      send control change N with value V
 *   wait:S      sleep S seconds
 *
 * At the end every note-on recorded from DAEMON:out must have had exactly
 * one note-off (no stray note-off, no note-on over a sounding pitch, none
 * left sounding).  Figures are printed as "FIGURE name value"; a broken
 * property prints "FAIL ..." and the exit status is 1; 99 when JACK or the
 * daemon's ports are not there.  Timing is reported, and asserted only
 * within bounds no noisy machine should miss.  An xrun may drop a
 * period's MIDI between clients or run the daemon a period late, so the
 * properties that can break that way (pairs, MIDI timing) are judged only
 * when no xrun happened meanwhile, and otherwise reported as a NOTE.
 * RNJ_JACK_PORT_IN, _OUT, _LEFT and _RIGHT name other ports to measure
 * (e.g. fluidsynth's own JACK clients).
 *
 * The process callbacks only copy into preallocated arrays (per-period
 * audio peaks and the MIDI events) and read a ring the main thread fills.
 */
#include <errno.h>
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/ringbuffer.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOUD 0.001f   /* -60 dBFS: "non-silent" */
/* -100 dBFS: where a voice has started, well above fluidsynth's resting
 * offset (1e-8) and the dead reverb of the answer before; below LOUD it
 * leaves out the instrument's own attack, which is the soundfont's. */
#define START 0.00001f
#define MAX_SECONDS 600
#define MAX_MIDI 200000
#define NOTE_LEN 0.2  /* s, a call's note */

typedef struct {
  jack_nframes_t frame; /* first frame of the period */
  float peak;
  double sumsq;
  int first_loud;  /* offset of the first |x| > LOUD, or -1 */
  int first_start; /* offset of the first |x| > START, or -1 */
} per_t;

typedef struct {
  jack_nframes_t frame;
  unsigned char st;
  unsigned char d1;
  unsigned char d2;
} mev_t;

static jack_client_t *tx;
static jack_client_t *rx;
static jack_port_t *tx_out;
static jack_port_t *rx_l;
static jack_port_t *rx_r;
static jack_port_t *rx_midi;
static jack_ringbuffer_t *send_rb;
static per_t *pers;
static long maxpers;
static long npers; /* written by rx's callback, read by main */
static mev_t *mevs;
static long nmevs;
static jack_nframes_t rate;
static jack_nframes_t period;
static int fails;
static volatile sig_atomic_t server_gone;
static long xruns; /* seen by rx, from JACK's notification thread */
static mev_t pending_send;
static int have_pending;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  printf("FAIL ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
  fails++;
}

/* ------------------------------------------------------------ callbacks */

static int tx_process(jack_nframes_t n, void *arg) {
  void *buf = jack_port_get_buffer(tx_out, n);
  jack_nframes_t start = jack_last_frame_time(tx);
  (void)arg;
  jack_midi_clear_buffer(buf);
  for (;;) {
    jack_nframes_t at;
    jack_midi_data_t *p;
    if (!have_pending) {
      if (jack_ringbuffer_read_space(send_rb) < sizeof pending_send)
        break;
      jack_ringbuffer_read(send_rb, (char *)&pending_send,
                           sizeof pending_send);
      have_pending = 1;
    }
    /* frame differences are taken modulo 2^32, as JACK's counter wraps */
    if ((int32_t)(pending_send.frame - (start + n)) >= 0)
      break;
    at = (int32_t)(pending_send.frame - start) < 0
             ? 0
             : pending_send.frame - start;
    p = jack_midi_event_reserve(buf, at, 3);
    if (p) {
      p[0] = pending_send.st;
      p[1] = pending_send.d1;
      p[2] = pending_send.d2;
    }
    have_pending = 0;
  }
  return 0;
}

static int rx_process(jack_nframes_t n, void *arg) {
  float *l = jack_port_get_buffer(rx_l, n);
  float *r = jack_port_get_buffer(rx_r, n);
  void *mbuf = jack_port_get_buffer(rx_midi, n);
  jack_nframes_t start = jack_last_frame_time(rx);
  uint32_t count = jack_midi_get_event_count(mbuf);
  long k = __atomic_load_n(&npers, __ATOMIC_RELAXED);
  long m = __atomic_load_n(&nmevs, __ATOMIC_RELAXED);
  uint32_t i;
  (void)arg;
  if (k < maxpers) {
    per_t *p = &pers[k];
    p->frame = start;
    p->peak = 0;
    p->sumsq = 0;
    p->first_loud = -1;
    p->first_start = -1;
    for (i = 0; i < n; i++) {
      float a = fabsf(l[i]) > fabsf(r[i]) ? fabsf(l[i]) : fabsf(r[i]);
      if (a > p->peak)
        p->peak = a;
      if (a > LOUD && p->first_loud < 0)
        p->first_loud = (int)i;
      if (a > START && p->first_start < 0)
        p->first_start = (int)i;
      p->sumsq += (double)l[i] * l[i] + (double)r[i] * r[i];
    }
    __atomic_store_n(&npers, k + 1, __ATOMIC_RELEASE);
  }
  for (i = 0; i < count && m < MAX_MIDI; i++) {
    jack_midi_event_t ev;
    if (jack_midi_event_get(&ev, mbuf, i) != 0 || ev.size < 3)
      continue;
    mevs[m].frame = start + ev.time;
    mevs[m].st = ev.buffer[0];
    mevs[m].d1 = ev.buffer[1];
    mevs[m].d2 = ev.buffer[2];
    m++;
  }
  __atomic_store_n(&nmevs, m, __ATOMIC_RELEASE);
  return 0;
}

static int on_xrun(void *arg) {
  (void)arg;
  __atomic_fetch_add(&xruns, 1, __ATOMIC_RELAXED);
  return 0;
}

static long xrun_count(void) {
  return __atomic_load_n(&xruns, __ATOMIC_RELAXED);
}

static void on_shutdown(void *arg) {
  (void)arg;
  server_gone = 1;
}

/* ------------------------------------------------------------ helpers */

static void sleep_s(double s) {
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  nanosleep(&ts, NULL);
}

static void send_at(jack_nframes_t frame, int st, int d1, int d2) {
  mev_t e;
  e.frame = frame;
  e.st = (unsigned char)st;
  e.d1 = (unsigned char)d1;
  e.d2 = (unsigned char)d2;
  while (jack_ringbuffer_write_space(send_rb) < sizeof e)
    sleep_s(0.001);
  jack_ringbuffer_write(send_rb, (const char *)&e, sizeof e);
}

static jack_nframes_t now_frame(void) { return jack_frame_time(tx); }

/* Frames as signed distance a - b. */
static long fdiff(jack_nframes_t a, jack_nframes_t b) {
  return (long)(int32_t)(a - b);
}

/* First frame above LOUD (start = 0) or START (start = 1) at or after
 * `from`, within `within` frames; sets *found. */
static jack_nframes_t first_loud(jack_nframes_t from, long within, int start,
                                 int *found) {
  long n = __atomic_load_n(&npers, __ATOMIC_ACQUIRE);
  long i;
  *found = 0;
  for (i = 0; i < n; i++) {
    const per_t *p = &pers[i];
    jack_nframes_t f;
    int first = start ? p->first_start : p->first_loud;
    if (fdiff(p->frame + period, from) <= 0 || first < 0)
      continue;
    if (fdiff(p->frame, from) > within)
      break;
    f = p->frame + (jack_nframes_t)first;
    if (fdiff(f, from) < 0) {
      /* the period straddles `from`: look at its part after it only by
       * peak; rare, and then `from` itself is reported */
      f = from;
    }
    *found = 1;
    return f;
  }
  return 0;
}

/* Peak and RMS of the audio recorded in [a, b). */
static void level(jack_nframes_t a, jack_nframes_t b, float *peak,
                  double *rms) {
  long n = __atomic_load_n(&npers, __ATOMIC_ACQUIRE);
  double s = 0;
  long frames = 0;
  long i;
  *peak = 0;
  for (i = 0; i < n; i++) {
    const per_t *p = &pers[i];
    if (fdiff(p->frame, a) < 0 || fdiff(p->frame + period, b) > 0)
      continue;
    if (p->peak > *peak)
      *peak = p->peak;
    s += p->sumsq;
    frames += period;
  }
  *rms = frames ? sqrt(s / (2.0 * frames)) : 0;
}

/* The first note-on from the daemon at or after `from`. */
static int first_note_on(jack_nframes_t from, jack_nframes_t *at) {
  long n = __atomic_load_n(&nmevs, __ATOMIC_ACQUIRE);
  long i;
  for (i = 0; i < n; i++)
    if ((mevs[i].st & 0xF0) == 0x90 && mevs[i].d2 > 0 &&
        fdiff(mevs[i].frame, from) >= 0) {
      *at = mevs[i].frame;
      return 1;
    }
  return 0;
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a;
  long y = *(const long *)b;
  return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------ steps */

/* A property that lost periods can break (an xrun may drop a period's
 * MIDI between clients, or run the daemon a period late) is judged only
 * when JACK ran cleanly meanwhile; otherwise it is reported as such. */
static void judge(long xr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void judge(long xr, const char *fmt, ...) {
  va_list ap;
  printf(xr ? "NOTE (not judged: %ld xrun(s) meanwhile) " : "FAIL ", xr);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  if (!xr)
    fails++;
}

/* The pitch of the daemon's note-on at frame `at`. */
static int pitch_at(jack_nframes_t at) {
  long n = __atomic_load_n(&nmevs, __ATOMIC_ACQUIRE);
  long i;
  for (i = 0; i < n; i++)
    if (mevs[i].frame == at && (mevs[i].st & 0xF0) == 0x90)
      return mevs[i].d1;
  return -1;
}

/* `calls` calls of one note; each answer's first note-on on DAEMON:out
 * and, with `audio`, its sound, timed from the call's note-off plus the
 * gap.  Without `audio` (the daemon's sound is off) the recorded ports
 * are not judged. */
static void step_respond(int calls, int gap_ms, int audio) {
  const char *what = audio ? "respond" : "midi";
  long *lat_a = calloc((size_t)calls, sizeof *lat_a);
  long *lat_m = calloc((size_t)calls, sizeof *lat_m);
  long *lat_s = calloc((size_t)calls, sizeof *lat_s);
  long gapf = (long)gap_ms * (long)rate / 1000;
  int got = 0;
  int c;
  for (c = 0; c < calls && !server_gone; c++) {
    jack_nframes_t on = now_frame() + rate / 10;
    jack_nframes_t off = on + (jack_nframes_t)(NOTE_LEN * rate);
    jack_nframes_t due = off + (jack_nframes_t)gapf;
    jack_nframes_t fa = 0;
    jack_nframes_t fs = 0;
    jack_nframes_t fm = 0;
    long x0 = xrun_count();
    long xr;
    int pitch = 60 + (c * 5) % 12;
    int found;
    float peak;
    double rms = 0;
    send_at(on, 0x90, pitch, 90);
    send_at(off, 0x80, pitch, 0);
    /* the answer (a few short notes), its release and its reverb */
    sleep_s(0.1 + NOTE_LEN + gap_ms / 1000.0 + 2.5);
    xr = xrun_count() - x0;
    if (audio) {
      level(on, due - 2 * period, &peak, &rms);
      if (peak > LOUD)
        fail("respond %d: sound (peak %.4f) before the answer was due", c,
             peak);
      fa = first_loud(off, (long)rate, 0, &found);
      if (!found) {
        /* An xrun can drop the call's note-off between the clients: the
         * daemon then still hears a key held and rightly waits. */
        judge(xr, "respond %d: no audio within 1 s after the gap", c);
        continue;
      }
      fs = first_loud(off, (long)rate, 1, &found);
    }
    if (!first_note_on(off, &fm)) {
      judge(xr, "%s %d: no note-on on the MIDI output", what, c);
      continue;
    }
    if (audio) {
      level(fa, fa + rate / 5, &peak, &rms);
      printf("FIGURE respond_call %d: answer pitch %d; beyond the gap: MIDI "
             "out %ld frames, voice start %ld, -60 dBFS %ld (%.3f ms); "
             "answer RMS %.4f; xruns %ld\n", c, pitch_at(fm),
             fdiff(fm, due), fdiff(fs, due), fdiff(fa, due),
             fdiff(fa, due) * 1e3 / rate, rms, xr);
      if (rms < 0.003)
        fail("respond %d: answer too quiet (RMS %.5f)", c, rms);
    } else {
      printf("FIGURE midi_call %d: answer pitch %d, MIDI out %ld frames "
             "beyond the gap; xruns %ld\n", c, pitch_at(fm), fdiff(fm, due),
             xr);
    }
    /* Generous bounds: the loop has the whole gap to react, and the
     * instrument's attack is the soundfont's.  MIDI out is placed at its
     * frame; the synth at the nearest 64-frame block. */
    if (fdiff(fm, due) > (long)rate / 100 || fdiff(fm, due) < -(long)period)
      judge(xr, "%s %d: MIDI note-on %ld frames from when it was due", what,
            c, fdiff(fm, due));
    if (audio && (fdiff(fs, due) > (long)rate / 20 || fdiff(fs, due) < -64))
      judge(xr, "respond %d: audio starts %ld frames from when it was due",
            c, fdiff(fs, due));
    lat_a[got] = fdiff(fa, due);
    lat_m[got] = fdiff(fm, due);
    lat_s[got] = fdiff(fs, due);
    got++;
  }
  /* Xruns excuse a call, never all of them. */
  if (!got && calls > 0 && !server_gone)
    fail("%s: none of %d calls was answered", what, calls);
  if (got) {
    qsort(lat_a, (size_t)got, sizeof *lat_a, cmp_long);
    qsort(lat_m, (size_t)got, sizeof *lat_m, cmp_long);
    qsort(lat_s, (size_t)got, sizeof *lat_s, cmp_long);
    printf("FIGURE latency_beyond_gap_ms (n=%d, period %u frames = %.3f ms)"
           "\n", got, period, period * 1e3 / rate);
    printf("FIGURE   midi_out_note_on  min %.3f p50 %.3f max %.3f\n",
           lat_m[0] * 1e3 / rate, lat_m[got / 2] * 1e3 / rate,
           lat_m[got - 1] * 1e3 / rate);
    if (audio) {
      printf("FIGURE   audio_voice_start min %.3f p50 %.3f max %.3f\n",
             lat_s[0] * 1e3 / rate, lat_s[got / 2] * 1e3 / rate,
             lat_s[got - 1] * 1e3 / rate);
      printf("FIGURE   audio_minus_60dBFS min %.3f p50 %.3f max %.3f\n",
             lat_a[0] * 1e3 / rate, lat_a[got / 2] * 1e3 / rate,
             lat_a[got - 1] * 1e3 / rate);
    }
  }
  free(lat_a);
  free(lat_m);
  free(lat_s);
}

/* Notes straight to the synth (rnnjamd with render = all and a long gap,
 * or another synth): from the note-on on the input to the first sample. */
static void step_notes(int n) {
  long *lat = calloc((size_t)n, sizeof *lat);
  int got = 0;
  int c;
  for (c = 0; c < n && !server_gone; c++) {
    jack_nframes_t on = now_frame() + rate / 10 + (jack_nframes_t)c * 7;
    jack_nframes_t fs;
    int pitch = 60 + (c * 5) % 12;
    int found;
    send_at(on, 0x90, pitch, 100);
    send_at(on + rate / 4, 0x80, pitch, 0);
    sleep_s(0.1 + 2.0);
    /* from a period before: a synth that plays early shows as < 0 */
    fs = first_loud(on - period, (long)rate / 5, 1, &found);
    if (!found) {
      fail("notes %d: no audio within 0.2 s of the note-on", c);
      continue;
    }
    lat[got++] = fdiff(fs, on);
    printf("FIGURE note %d pitch %d: voice start %ld frames after the "
           "note-on\n", c, pitch, fdiff(fs, on));
  }
  if (got) {
    qsort(lat, (size_t)got, sizeof *lat, cmp_long);
    printf("FIGURE note_in_to_voice_start_ms min %.3f p50 %.3f max %.3f "
           "(n=%d; frames %ld..%ld)\n", lat[0] * 1e3 / rate,
           lat[got / 2] * 1e3 / rate, lat[got - 1] * 1e3 / rate, got,
           lat[0], lat[got - 1]);
  }
  free(lat);
}

static void step_silence(double s) {
  jack_nframes_t a = now_frame();
  float peak;
  double rms;
  sleep_s(s);
  level(a, a + (jack_nframes_t)(s * rate) - period, &peak, &rms);
  printf("FIGURE silence %.1f s peak %.6f rms %.7f\n", s, peak, rms);
  if (peak > LOUD)
    fail("silence: peak %.4f over %.1f s (a note left sounding?)", peak, s);
}

static void step_soak(double s) {
  jack_nframes_t a = now_frame();
  long m0 = __atomic_load_n(&nmevs, __ATOMIC_ACQUIRE);
  long m1;
  long ons = 0;
  long i;
  float peak;
  double rms;
  sleep_s(s);
  m1 = __atomic_load_n(&nmevs, __ATOMIC_ACQUIRE);
  for (i = m0; i < m1; i++)
    ons += (mevs[i].st & 0xF0) == 0x90 && mevs[i].d2 > 0;
  level(a, a + (jack_nframes_t)(s * rate) - period, &peak, &rms);
  printf("FIGURE soak %.1f s: note-ons %ld, audio peak %.3f rms %.4f\n", s,
         ons, peak, rms);
}

/* Every note-on has one note-off; nothing left on. */
static void check_pairs(void) {
  long n = __atomic_load_n(&nmevs, __ATOMIC_ACQUIRE);
  int on[16][128];
  long ons = 0;
  long offs = 0;
  long i;
  int ch;
  int p;
  memset(on, 0, sizeof on);
  for (i = 0; i < n; i++) {
    int type = mevs[i].st & 0xF0;
    ch = mevs[i].st & 15;
    p = mevs[i].d1 & 127;
    if (type == 0x90 && mevs[i].d2 > 0) {
      if (on[ch][p])
        judge(xrun_count(), "pairs: note-on %d over a sounding one "
              "(frame %u)", p, mevs[i].frame);
      on[ch][p]++;
      ons++;
    } else if (type == 0x80 || type == 0x90) {
      if (!on[ch][p])
        judge(xrun_count(), "pairs: stray note-off %d (frame %u)", p,
              mevs[i].frame);
      else
        on[ch][p]--;
      offs++;
    }
  }
  for (ch = 0; ch < 16; ch++)
    for (p = 0; p < 128; p++)
      if (on[ch][p])
        judge(xrun_count(), "pairs: note %d on channel %d never ended", p,
              ch + 1);
  printf("FIGURE midi_out note-ons %ld note-offs %ld; xruns seen %ld\n",
         ons, offs, xrun_count());
}

/* ------------------------------------------------------------ main */

static jack_client_t *open_client(const char *name) {
  jack_status_t st;
  jack_client_t *c = jack_client_open(name, JackNoStartServer, &st);
  if (!c) {
    printf("ERROR: jack_client_open(%s): status 0x%x\n", name, st);
    exit(99);
  }
  jack_on_shutdown(c, on_shutdown, NULL);
  return c;
}

static void port_name(char *buf, size_t len, const char *env,
                      const char *client, const char *port) {
  const char *e = getenv(env);
  if (e && *e)
    snprintf(buf, len, "%s", e);
  else
    snprintf(buf, len, "%s:%s", client, port);
}

static void link_or_die(const char *a, const char *b) {
  int rc = jack_connect(rx, a, b);
  if (rc != 0 && rc != EEXIST) {
    printf("ERROR: jack_connect(%s, %s): %d\n", a, b, rc);
    exit(99);
  }
}

int main(int argc, char **argv) {
  char a[320];
  char b[320];
  const char *daemon;
  int gap_ms;
  int i;

  if (argc < 4) {
    fprintf(stderr, "usage: jack-client DAEMON GAP_MS STEP...\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  daemon = argv[1];
  gap_ms = atoi(argv[2]);
  tx = open_client("rnj-tx");
  rx = open_client("rnj-rx");
  rate = jack_get_sample_rate(rx);
  period = jack_get_buffer_size(rx);
  maxpers = (long)MAX_SECONDS * rate / period + 1;
  pers = calloc((size_t)maxpers, sizeof *pers);
  mevs = calloc(MAX_MIDI, sizeof *mevs);
  send_rb = jack_ringbuffer_create(4096 * sizeof(mev_t));
  if (!pers || !mevs || !send_rb) {
    printf("ERROR: out of memory\n");
    return 99;
  }
  tx_out = jack_port_register(tx, "out", JACK_DEFAULT_MIDI_TYPE,
                              JackPortIsOutput, 0);
  rx_l = jack_port_register(rx, "left", JACK_DEFAULT_AUDIO_TYPE,
                            JackPortIsInput, 0);
  rx_r = jack_port_register(rx, "right", JACK_DEFAULT_AUDIO_TYPE,
                            JackPortIsInput, 0);
  rx_midi = jack_port_register(rx, "midi", JACK_DEFAULT_MIDI_TYPE,
                               JackPortIsInput, 0);
  if (!tx_out || !rx_l || !rx_r || !rx_midi) {
    printf("ERROR: jack_port_register failed\n");
    return 99;
  }
  jack_set_process_callback(tx, tx_process, NULL);
  jack_set_process_callback(rx, rx_process, NULL);
  jack_set_xrun_callback(rx, on_xrun, NULL);
  if (jack_activate(tx) || jack_activate(rx)) {
    printf("ERROR: jack_activate failed\n");
    return 99;
  }
  /* Other synths can be measured the same way by naming their ports
   * (RNJ_JACK_PORT_OUT=none when there is no MIDI output). */
  port_name(a, sizeof a, "RNJ_JACK_PORT_IN", daemon, "in");
  link_or_die("rnj-tx:out", a);
  port_name(a, sizeof a, "RNJ_JACK_PORT_OUT", daemon, "out");
  if (strcmp(a, "none") != 0)
    link_or_die(a, "rnj-rx:midi");
  port_name(a, sizeof a, "RNJ_JACK_PORT_LEFT", daemon, "left");
  link_or_die(a, "rnj-rx:left");
  port_name(b, sizeof b, "RNJ_JACK_PORT_RIGHT", daemon, "right");
  link_or_die(b, "rnj-rx:right");
  printf("FIGURE jack %u Hz, %u frames a period (%.3f ms)\n", rate, period,
         period * 1e3 / rate);
  /* let the graph settle (connections take effect at the next cycle) */
  sleep_s(0.3);

  for (i = 3; i < argc && !server_gone; i++) {
    const char *s = argv[i];
    if (strncmp(s, "respond:", 8) == 0) {
      step_respond(atoi(s + 8), gap_ms, 1);
    } else if (strncmp(s, "midi:", 5) == 0) {
      step_respond(atoi(s + 5), gap_ms, 0);
    } else if (strncmp(s, "notes:", 6) == 0) {
      step_notes(atoi(s + 6));
    } else if (strncmp(s, "silence:", 8) == 0) {
      step_silence(atof(s + 8));
    } else if (strncmp(s, "soak:", 5) == 0) {
      step_soak(atof(s + 5));
    } else if (strncmp(s, "wait:", 5) == 0) {
      sleep_s(atof(s + 5));
    } else if (strncmp(s, "cc:", 3) == 0) {
      int cc = 0;
      int v = 0;
      if (sscanf(s + 3, "%d:%d", &cc, &v) != 2) {
        printf("ERROR: bad step %s\n", s);
        return 2;
      }
      send_at(now_frame() + rate / 20, 0xB0, cc & 127, v & 127);
      sleep_s(0.1);
    } else {
      printf("ERROR: unknown step %s\n", s);
      return 2;
    }
  }
  if (server_gone) {
    fail("the JACK server went away during the steps");
  } else {
    /* whatever was still sounding has had time to end */
    sleep_s(0.2);
    check_pairs();
  }

  jack_client_close(tx);
  jack_client_close(rx);
  jack_ringbuffer_free(send_rb);
  free(pers);
  free(mevs);
  printf("%d failure(s)\n", fails);
  return fails ? 1 : 0;
}
