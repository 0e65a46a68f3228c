/* lv2-client: a player and a recorder for the rnnjam plugin under jalv.
 *
 * usage: lv2-client PLUGIN CHANNEL STEP...
 *
 * Two JACK clients, as in jack-client.c: "rnj-lv2tx" plays into PLUGIN:in
 * and "rnj-lv2rx" records PLUGIN:out, so one period runs tx -> plugin ->
 * rx and every time is a frame on JACK's clock.  The recorder also notes
 * the transport (rolling, its frame) in each period.  The answers are the
 * note events on CHANNEL (1..16); the player plays on channel 1.  Steps:
 *
 *   phrase        16 notes (0.25 s every 0.3 s), then 4 s of listening:
 *                 the answer must come
 *   grid:BPM      every answer onset heard while the transport rolled is
 *                 on the 16th grid of BPM counted from transport frame 0
 *                 (klick -T from its start), to one frame
 *   stop          when an answer note sounds, stop the transport: every
 *                 note must end in the first stopped period, and none
 *                 start for 2 s
 *   roll          locate the transport to frame 0 and start it (klick -T
 *                 is its timebase master)
 *   start         roll the transport again; the answers must resume
 *   halt          stop the transport at frame 0 (nothing judged)
 *   record:S      listen for S seconds
 *   dump:FILE     the last phrase's answer as "frame status pitch velocity"
 *                 lines, frames from the phrase's first note-on (to compare
 *                 runs), after a line "# xruns N" (N > 0: the timing of the
 *                 call itself may have moved)
 *
 * At the end every answer note-on must have had exactly one note-off.
 * "FIGURE" lines report; "FAIL" lines and exit 1 mark a broken property;
 * 99: no JACK or no plugin ports.  Properties an xrun can break are judged
 * only when no xrun happened meanwhile (as in jack-client.c).
 */
#include <errno.h>
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/ringbuffer.h>
#include <jack/transport.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_EV 200000

typedef struct {
  jack_nframes_t frame; /* JACK frame */
  int64_t tframe;       /* transport frame, -1 while stopped */
  unsigned char st;     /* 0: a transport change, d1 = rolling */
  unsigned char d1;
  unsigned char d2;
} ev_t;

static jack_client_t *tx;
static jack_client_t *rx;
static jack_port_t *tx_out;
static jack_port_t *rx_in;
static jack_ringbuffer_t *send_rb;
static ev_t *evs;
static long nevs;
static int last_rolling = -1;
static ev_t pending;
static int have_pending;
static long xruns;
static volatile sig_atomic_t gone;
static jack_nframes_t rate;
static int fails;
static int ach; /* the answers' channel, 0..15 */
static jack_nframes_t phrase_at;

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

/* Judged only without xruns since `x0`; otherwise a NOTE. */
static void judge(long x0, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void judge(long x0, const char *fmt, ...) {
  long xr = __atomic_load_n(&xruns, __ATOMIC_RELAXED) - x0;
  va_list ap;
  printf(xr ? "NOTE (not judged: %ld xrun(s)) " : "FAIL ", xr);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  if (!xr)
    fails++;
}

static int tx_process(jack_nframes_t n, void *arg) {
  void *buf = jack_port_get_buffer(tx_out, n);
  jack_nframes_t start = jack_last_frame_time(tx);
  (void)arg;
  jack_midi_clear_buffer(buf);
  for (;;) {
    jack_midi_data_t *p;
    if (!have_pending) {
      if (jack_ringbuffer_read_space(send_rb) < sizeof pending)
        break;
      jack_ringbuffer_read(send_rb, (char *)&pending, sizeof pending);
      have_pending = 1;
    }
    if ((int32_t)(pending.frame - (start + n)) >= 0)
      break;
    p = jack_midi_event_reserve(
        buf,
        (int32_t)(pending.frame - start) < 0 ? 0 : pending.frame - start, 3);
    if (p) {
      p[0] = pending.st;
      p[1] = pending.d1;
      p[2] = pending.d2;
    }
    have_pending = 0;
  }
  return 0;
}

static int rx_process(jack_nframes_t n, void *arg) {
  void *buf = jack_port_get_buffer(rx_in, n);
  jack_nframes_t start = jack_last_frame_time(rx);
  jack_position_t pos;
  int rolling = jack_transport_query(rx, &pos) == JackTransportRolling;
  long m = __atomic_load_n(&nevs, __ATOMIC_RELAXED);
  uint32_t count = jack_midi_get_event_count(buf);
  uint32_t i;
  (void)arg;
  if (rolling != last_rolling && m < MAX_EV) {
    evs[m].frame = start;
    evs[m].tframe = rolling ? (int64_t)pos.frame : -1;
    evs[m].st = 0;
    evs[m].d1 = (unsigned char)rolling;
    m++;
    last_rolling = rolling;
  }
  for (i = 0; i < count && m < MAX_EV; i++) {
    jack_midi_event_t ev;
    if (jack_midi_event_get(&ev, buf, i) != 0 || ev.size != 3)
      continue;
    evs[m].frame = start + ev.time;
    evs[m].tframe = rolling ? (int64_t)pos.frame + ev.time : -1;
    evs[m].st = ev.buffer[0];
    evs[m].d1 = ev.buffer[1];
    evs[m].d2 = ev.buffer[2];
    m++;
  }
  __atomic_store_n(&nevs, m, __ATOMIC_RELEASE);
  return 0;
}

static int on_xrun(void *arg) {
  (void)arg;
  __atomic_fetch_add(&xruns, 1, __ATOMIC_RELAXED);
  return 0;
}

static void on_shutdown(void *arg) {
  (void)arg;
  gone = 1;
}

static void sleep_s(double s) {
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  nanosleep(&ts, NULL);
}

static long fdiff(jack_nframes_t a, jack_nframes_t b) {
  return (long)(int32_t)(a - b);
}

static void send_at(jack_nframes_t frame, int st, int d1, int d2) {
  ev_t e;
  memset(&e, 0, sizeof e);
  e.frame = frame;
  e.st = (unsigned char)st;
  e.d1 = (unsigned char)d1;
  e.d2 = (unsigned char)d2;
  while (jack_ringbuffer_write_space(send_rb) < sizeof e)
    sleep_s(0.001);
  jack_ringbuffer_write(send_rb, (const char *)&e, sizeof e);
}

static int is_answer(const ev_t *e) {
  return e->st && (e->st & 15) == ach &&
         ((e->st & 0xF0) == 0x90 || (e->st & 0xF0) == 0x80);
}

static int is_on(const ev_t *e) {
  return (e->st & 0xF0) == 0x90 && e->d2 > 0;
}

/* Answer notes sounding after event index `upto` (exclusive). */
static int sounding(long upto) {
  int on[128];
  int k = 0;
  long i;
  memset(on, 0, sizeof on);
  for (i = 0; i < upto; i++)
    if (is_answer(&evs[i]))
      on[evs[i].d1 & 127] = is_on(&evs[i]);
  for (i = 0; i < 128; i++)
    k += on[i];
  return k;
}

static long count_on(jack_nframes_t from, jack_nframes_t to) {
  long n = __atomic_load_n(&nevs, __ATOMIC_ACQUIRE);
  long k = 0;
  long i;
  for (i = 0; i < n; i++)
    if (is_answer(&evs[i]) && is_on(&evs[i]) &&
        fdiff(evs[i].frame, from) >= 0 && fdiff(evs[i].frame, to) < 0)
      k++;
  return k;
}

/* Frames since the last answer event. */
static long quiet_for(void) {
  long n = __atomic_load_n(&nevs, __ATOMIC_ACQUIRE);
  long i;
  for (i = n - 1; i >= 0; i--)
    if (is_answer(&evs[i]))
      return fdiff(jack_frame_time(rx), evs[i].frame);
  return fdiff(jack_frame_time(rx), 0);
}

static const int pitches[16] = {60, 62, 64, 65, 67, 69, 71, 72,
                                71, 69, 67, 65, 64, 62, 60, 62};

static long phrase_x0;

static void step_phrase(void) {
  jack_nframes_t at = jack_frame_time(tx) + rate / 5;
  jack_nframes_t end;
  long x0 = __atomic_load_n(&xruns, __ATOMIC_RELAXED);
  long k;
  int i;
  for (i = 0; i < 16; i++) {
    jack_nframes_t on = at + (jack_nframes_t)i * (rate * 3 / 10);
    send_at(on, 0x90, pitches[i], 90);
    send_at(on + rate / 4, 0x80, pitches[i], 0);
  }
  end = at + 15 * (rate * 3 / 10) + rate / 4;
  phrase_at = at;
  phrase_x0 = x0;
  sleep_s(0.2 + 4.75 + 4.0);
  k = count_on(end, end + 4 * rate);
  printf("FIGURE phrase: %ld answer note(s) within 4 s of the 16-note "
         "call's end\n", k);
  if (k == 0)
    judge(x0, "phrase: no answer to the 16-note call");
}

static void step_grid(double bpm) {
  long n = __atomic_load_n(&nevs, __ATOMIC_ACQUIRE);
  double per = 60.0 * rate / bpm / 4; /* frames per 16th */
  long on_grid = 0;
  long off_grid = 0;
  double worst = 0;
  long i;
  for (i = 0; i < n; i++) {
    const ev_t *e = &evs[i];
    double k;
    double d;
    if (!is_answer(e) || !is_on(e) || e->tframe < 0)
      continue;
    k = floor((double)e->tframe / per + 0.5);
    d = (double)e->tframe - k * per;
    if (fabs(d) > fabs(worst))
      worst = d;
    if (fabs(d) <= 1.0)
      on_grid++;
    else
      off_grid++;
  }
  printf("FIGURE grid: %ld of %ld answer onsets (transport rolling) within "
         "1 frame of the 1/16 grid of %.0f bpm (%.0f frames); worst %+.1f "
         "frames\n", on_grid, on_grid + off_grid, bpm, per, worst);
  if (on_grid + off_grid == 0)
    fail("grid: no answer onset heard while the transport rolled");
  if (off_grid)
    fail("grid: %ld onset(s) off the grid", off_grid);
}

static void step_stop(void) {
  long x0 = __atomic_load_n(&xruns, __ATOMIC_RELAXED);
  long n;
  long i;
  long stop_ev = -1;
  jack_nframes_t period = jack_get_buffer_size(rx);
  int before;
  double waited;
  for (waited = 0; waited < 10; waited += 0.01) {
    n = __atomic_load_n(&nevs, __ATOMIC_ACQUIRE);
    if (sounding(n) > 0)
      break;
    sleep_s(0.01);
  }
  if (waited >= 10) {
    fail("stop: no answer note sounding to stop");
    return;
  }
  jack_transport_stop(tx);
  sleep_s(2.0);
  n = __atomic_load_n(&nevs, __ATOMIC_ACQUIRE);
  for (i = 0; i < n; i++)
    if (evs[i].st == 0 && evs[i].d1 == 0)
      stop_ev = i;
  if (stop_ev < 0) {
    fail("stop: the transport never stopped");
    return;
  }
  before = sounding(stop_ev);
  /* everything in the first stopped period */
  for (i = stop_ev + 1;
       i < n && fdiff(evs[i].frame, evs[stop_ev].frame) < (long)period; i++)
    ;
  printf("FIGURE stop: %d answer note(s) sounding when the transport "
         "stopped; after its first stopped period: %d; note-ons in the "
         "next 1.9 s: %ld\n", before, sounding(i),
         count_on(evs[stop_ev].frame + period,
                  evs[stop_ev].frame + (jack_nframes_t)(1.9 * rate)));
  if (sounding(i) != 0)
    judge(x0, "stop: %d note(s) still sounding after the stop's period",
          sounding(i));
  if (count_on(evs[stop_ev].frame + period,
               evs[stop_ev].frame + (jack_nframes_t)(1.9 * rate)) != 0)
    fail("stop: notes started while the transport was stopped");
}

static void step_start(void) {
  jack_nframes_t t = jack_frame_time(tx);
  jack_transport_start(tx);
  sleep_s(3.0);
  printf("FIGURE start: %ld answer note(s) in 3 s after rolling again\n",
         count_on(t, t + 3 * rate));
  if (count_on(t, t + 3 * rate) == 0)
    fail("start: no answer after the transport rolled again");
}

static void step_roll(void) {
  jack_transport_locate(tx, 0);
  jack_transport_start(tx);
  sleep_s(0.5);
}

static void step_halt(void) {
  jack_transport_stop(tx);
  jack_transport_locate(tx, 0);
  sleep_s(0.3);
}

static void step_dump(const char *path) {
  long n = __atomic_load_n(&nevs, __ATOMIC_ACQUIRE);
  FILE *f = fopen(path, "w");
  long i;
  if (!f) {
    fail("dump: %s: %s", path, strerror(errno));
    return;
  }
  fprintf(f, "# xruns %ld\n",
          __atomic_load_n(&xruns, __ATOMIC_RELAXED) - phrase_x0);
  for (i = 0; i < n; i++)
    if (is_answer(&evs[i]) && fdiff(evs[i].frame, phrase_at) >= 0)
      fprintf(f, "%ld %02x %d %d\n", fdiff(evs[i].frame, phrase_at),
              evs[i].st, evs[i].d1, evs[i].d2);
  fclose(f);
}

/* A note-off of a pitch not yet seen starting belongs to a note that began
 * before the recorder was connected (continuous mode plays from the
 * start): not judged. */
static void check_pairs(void) {
  long n = __atomic_load_n(&nevs, __ATOMIC_ACQUIRE);
  int on[128];
  int seen[128];
  long ons = 0;
  long i;
  memset(on, 0, sizeof on);
  memset(seen, 0, sizeof seen);
  for (i = 0; i < n; i++) {
    const ev_t *e = &evs[i];
    if (!is_answer(e))
      continue;
    if (is_on(e)) {
      if (on[e->d1 & 127])
        judge(0, "pairs: note-on %d over a sounding one", e->d1);
      on[e->d1 & 127] = 1;
      seen[e->d1 & 127] = 1;
      ons++;
    } else {
      if (!on[e->d1 & 127] && seen[e->d1 & 127])
        judge(0, "pairs: stray note-off %d", e->d1);
      on[e->d1 & 127] = 0;
    }
  }
  for (i = 0; i < 128; i++)
    if (on[i])
      judge(0, "pairs: note %ld never ended", i);
  printf("FIGURE pairs: %ld answer note(s), xruns %ld\n", ons,
         __atomic_load_n(&xruns, __ATOMIC_RELAXED));
}

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

int main(int argc, char **argv) {
  char a[320];
  int i;
  if (argc < 3) {
    fprintf(stderr, "usage: lv2-client PLUGIN CHANNEL STEP...\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  ach = (atoi(argv[2]) - 1) & 15;
  tx = open_client("rnj-lv2tx");
  rx = open_client("rnj-lv2rx");
  rate = jack_get_sample_rate(rx);
  evs = calloc(MAX_EV, sizeof *evs);
  send_rb = jack_ringbuffer_create(8192 * sizeof(ev_t));
  tx_out = jack_port_register(tx, "out", JACK_DEFAULT_MIDI_TYPE,
                              JackPortIsOutput, 0);
  rx_in = jack_port_register(rx, "in", JACK_DEFAULT_MIDI_TYPE,
                             JackPortIsInput, 0);
  if (!evs || !send_rb || !tx_out || !rx_in) {
    printf("ERROR: out of memory or ports\n");
    return 99;
  }
  jack_set_process_callback(tx, tx_process, NULL);
  jack_set_process_callback(rx, rx_process, NULL);
  jack_set_xrun_callback(rx, on_xrun, NULL);
  if (jack_activate(tx) || jack_activate(rx)) {
    printf("ERROR: jack_activate failed\n");
    return 99;
  }
  snprintf(a, sizeof a, "%s:in", argv[1]);
  if (jack_connect(tx, "rnj-lv2tx:out", a) != 0) {
    printf("ERROR: jack_connect(rnj-lv2tx:out, %s)\n", a);
    return 99;
  }
  snprintf(a, sizeof a, "%s:out", argv[1]);
  if (jack_connect(rx, a, "rnj-lv2rx:in") != 0) {
    printf("ERROR: jack_connect(%s, rnj-lv2rx:in)\n", a);
    return 99;
  }
  printf("FIGURE jack %u Hz, %u frames a period\n", rate,
         jack_get_buffer_size(rx));
  sleep_s(0.3);
  for (i = 3; i < argc && !gone; i++) {
    const char *s = argv[i];
    if (!strcmp(s, "phrase"))
      step_phrase();
    else if (!strncmp(s, "grid:", 5))
      step_grid(atof(s + 5));
    else if (!strcmp(s, "stop"))
      step_stop();
    else if (!strcmp(s, "roll"))
      step_roll();
    else if (!strcmp(s, "halt"))
      step_halt();
    else if (!strcmp(s, "start"))
      step_start();
    else if (!strncmp(s, "record:", 7))
      sleep_s(atof(s + 7));
    else if (!strncmp(s, "dump:", 5))
      step_dump(s + 5);
    else {
      printf("ERROR: unknown step %s\n", s);
      return 2;
    }
  }
  if (gone) {
    fail("the JACK server went away");
  } else {
    /* an answer still playing ends by itself (respond mode): wait for
     * 3 s without an answer event (30 s at most) */
    double w;
    for (w = 0; w < 30 && quiet_for() < 3 * (long)rate; w += 0.1)
      sleep_s(0.1);
    check_pairs();
  }
  jack_client_close(tx);
  jack_client_close(rx);
  jack_ringbuffer_free(send_rb);
  free(evs);
  printf("%d failure(s)\n", fails);
  return fails ? 1 : 0;
}
