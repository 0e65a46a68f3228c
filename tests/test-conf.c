/* conf: defaults, every value type, the one-line messages with file and
 * line, layering of files, and the shipped rnnjamd.conf. */
#include <errno.h>
#include <unistd.h>

#include "rnnjam/clock.h"
#include "rnnjam/conf.h"
#include "rnnjam/grid.h"
#include "rnnjam/sample.h"
#include "test.h"

static const char *load(rnj_conf_t *c, const char *text, char *err) {
  static char msg[RNJ_ERR_LEN];
  int rc = rnj_conf_load_mem(c, text, strlen(text), "t.conf", err);
  snprintf(msg, sizeof msg, "%d", rc);
  return msg;
}

static void test_defaults(void) {
  rnj_conf_t c;
  char err[RNJ_ERR_LEN];
  rnj_conf_defaults(&c, "/x/default.safetensors");
  ASSERT_STR_EQ(c.checkpoint, "/x/default.safetensors");
  ASSERT_EQ(c.mode, RNJ_MODE_RESPOND);
  ASSERT_EQ(c.phrase_gap_ms, 500);
  ASSERT_EQ(c.channel, 1);
  ASSERT_STR_EQ(c.connect_in, "auto");
  /* The shipped model's sampling (sample.h). */
  ASSERT_NEAR(c.temperature, RNJ_SAMPLE_BEATS_TEMPERATURE, 0);
  ASSERT_NEAR(c.time_temperature, RNJ_SAMPLE_BEATS_TIME_TEMPERATURE, 0);
  ASSERT_OK(rnj_conf_check(&c, err));
  /* no checkpoint at all is caught by the check, not by parsing */
  rnj_conf_defaults(&c, NULL);
  ASSERT_EQ(rnj_conf_check(&c, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "checkpoint");
}

static void test_values(void) {
  rnj_conf_t c;
  char err[RNJ_ERR_LEN];
  rnj_conf_defaults(&c, "m");
  ASSERT_OK(rnj_conf_set(&c, NULL, "mode", "continuous", err));
  ASSERT_EQ(c.mode, RNJ_MODE_CONTINUOUS);
  ASSERT_OK(rnj_conf_set(&c, "play", "mode", "Respond", err));
  ASSERT_EQ(c.mode, RNJ_MODE_RESPOND);
  ASSERT_OK(rnj_conf_set(&c, NULL, "phrase_gap", "750", err));
  ASSERT_EQ(c.phrase_gap_ms, 750);
  ASSERT_OK(rnj_conf_set(&c, NULL, "answer_length", "call", err));
  ASSERT_EQ(c.answer_length, 0);
  ASSERT_OK(rnj_conf_set(&c, NULL, "answer_length", "12", err));
  ASSERT_EQ(c.answer_length, 12);
  ASSERT_EQ(c.velocity, RNJ_VELOCITY_MODEL); /* the default */
  ASSERT_OK(rnj_conf_set(&c, NULL, "velocity", "follow", err));
  ASSERT_EQ(c.velocity, 0);
  ASSERT_OK(rnj_conf_set(&c, "midi", "velocity", "Model", err));
  ASSERT_EQ(c.velocity, RNJ_VELOCITY_MODEL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "velocity", "128", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "'model', 'follow' or a velocity 1..127");
  ASSERT_OK(rnj_conf_set(&c, NULL, "velocity", "follow", err));
  ASSERT_NEAR(c.time_temperature, 0.5, 0);
  ASSERT_OK(rnj_conf_set(&c, "model", "time_temperature", "0.25", err));
  ASSERT_NEAR(c.time_temperature, 0.25, 0);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "time_temperature", "0", err),
            RNJ_EINVAL);
  ASSERT_NEAR(c.top_p, RNJ_SAMPLE_BEATS_TOP_P, 0);
  ASSERT_OK(rnj_conf_set(&c, NULL, "top_p", "0.75", err));
  ASSERT_NEAR(c.top_p, 0.75, 0);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "top_p", "1.5", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "0.01..1");
  ASSERT_NEAR(c.tempo, 120, 0);
  ASSERT_OK(rnj_conf_set(&c, "time", "tempo", "96.5", err));
  ASSERT_NEAR(c.tempo, 96.5, 0);
  ASSERT_EQ(rnj_conf_set(&c, "time", "tempo", "10", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "beats per minute");
  ASSERT_OK(rnj_conf_set(&c, NULL, "velocity", "90", err));
  ASSERT_EQ(c.velocity, 90);
  ASSERT_OK(rnj_conf_set(&c, NULL, "cc_panic", "off", err));
  ASSERT_EQ(c.cc_panic, RNJ_CC_OFF);
  ASSERT_OK(rnj_conf_set(&c, NULL, "cc_panic", "0", err));
  ASSERT_EQ(c.cc_panic, 0);
  ASSERT_OK(rnj_conf_set(&c, NULL, "cc_channel", "all", err));
  ASSERT_EQ(c.cc_channel, 0);
  ASSERT_OK(rnj_conf_set(&c, NULL, "cc_channel", "10", err));
  ASSERT_EQ(c.cc_channel, 10);
  ASSERT_OK(rnj_conf_set(&c, NULL, "temperature", "1.5", err));
  ASSERT_NEAR(c.temperature, 1.5, 0);
  ASSERT_OK(rnj_conf_set(&c, NULL, "random_seed", "18446744073709551615",
                         err));
  ASSERT(c.random_seed == UINT64_MAX);
  ASSERT_OK(rnj_conf_set(&c, NULL, "context", "window", err));
  ASSERT_EQ(c.context, RNJ_CONTEXT_WINDOW);
  ASSERT_OK(rnj_conf_set(&c, NULL, "log_level", "debug", err));
  ASSERT_EQ(c.log_level, RNJ_LOG_DEBUG);
  ASSERT_OK(rnj_conf_set(&c, NULL, "connect_in", "20:0, Keystation", err));
  ASSERT_STR_EQ(c.connect_in, "20:0, Keystation");
  ASSERT_OK(rnj_conf_set(&c, NULL, "seed_midi", "", err));
  ASSERT_STR_EQ(c.seed_midi, "");
}

/* A bad value names the key, what was expected and what was given, and
 * leaves the configuration as it was. */
static void test_bad_values(void) {
  rnj_conf_t c;
  rnj_conf_t before;
  char err[RNJ_ERR_LEN];
  rnj_conf_defaults(&c, "m");
  before = c;
  ASSERT_EQ(rnj_conf_set(&c, NULL, "phrase_gap", "soon", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "phrase_gap: expected a whole number of "
                       "milliseconds 0..60000, got 'soon'");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "phrase_gap", "-1", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "phrase_gap", "60001", err), RNJ_EINVAL);
  {
    rnj_conf_t z = c; /* 0 is valid: an echo, answered at the release */
    ASSERT_OK(rnj_conf_set(&z, NULL, "phrase_gap", "0", err));
    ASSERT_EQ(z.phrase_gap_ms, 0);
  }
  ASSERT_EQ(rnj_conf_set(&c, NULL, "phrase_gap", "500ms", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "channel", "0", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "channel: expected a MIDI channel 1..16");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "channel", "all", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "mode", "loud", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "'respond' or 'continuous'");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "temperature", "0", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "temperature", "nan", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "velocity", "128", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "random_seed", "-1", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "client_name", "a:b", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "connect_in", "", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "cc_mode", "200", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "loudness", "1", err), RNJ_ENOTFOUND);
  ASSERT_CONTAINS(err, "unknown key 'loudness'");
  ASSERT_EQ(rnj_conf_set(&c, "midi", "mode", "respond", err),
            RNJ_ENOTFOUND);
  ASSERT_CONTAINS(err, "expected it in [play]");
  ASSERT(memcmp(&c, &before, sizeof c) == 0);
}

/* [time]: defaults, the clock's and the grid's words, and the messages. */
static void test_time(void) {
  rnj_conf_t c;
  rnj_conf_t before;
  char err[RNJ_ERR_LEN];
  rnj_conf_defaults(&c, "m");
  ASSERT_EQ(c.clock, RNJ_CLOCK_AUTO);
  ASSERT_NEAR(c.tempo, 120.0, 0);
  ASSERT_EQ(c.beats_per_bar, 4);
  ASSERT_EQ(c.quantize, RNJ_GRID_16);
  ASSERT_EQ(c.swing, 0);
  ASSERT_EQ(c.answer_start, RNJ_ANSWER_BEAT);
  ASSERT_EQ(c.clock_out, 0);
  ASSERT_OK(rnj_conf_set(&c, "time", "clock", "MIDI", err));
  ASSERT_EQ(c.clock, RNJ_CLOCK_MIDI);
  ASSERT_OK(rnj_conf_set(&c, NULL, "clock", "fixed", err));
  ASSERT_EQ(c.clock, RNJ_CLOCK_FIXED);
  ASSERT_OK(rnj_conf_set(&c, NULL, "tempo", "97.5", err));
  ASSERT_NEAR(c.tempo, 97.5, 0);
  ASSERT_OK(rnj_conf_set(&c, NULL, "beats_per_bar", "7", err));
  ASSERT_EQ(c.beats_per_bar, 7);
  ASSERT_OK(rnj_conf_set(&c, NULL, "quantize", "1/8t", err));
  ASSERT_EQ(c.quantize, RNJ_GRID_8T);
  ASSERT_OK(rnj_conf_set(&c, NULL, "quantize", "off", err));
  ASSERT_EQ(c.quantize, RNJ_GRID_OFF);
  ASSERT_OK(rnj_conf_set(&c, NULL, "swing", "33%", err));
  ASSERT_EQ(c.swing, 33);
  ASSERT_OK(rnj_conf_set(&c, NULL, "answer_start", "bar", err));
  ASSERT_EQ(c.answer_start, RNJ_ANSWER_BAR);
  ASSERT_OK(rnj_conf_set(&c, NULL, "clock_out", "on", err));
  ASSERT_EQ(c.clock_out, 1);
  ASSERT_OK(rnj_conf_set(&c, NULL, "clock_out", "no", err));
  ASSERT_EQ(c.clock_out, 0);

  before = c;
  ASSERT_EQ(rnj_conf_set(&c, NULL, "clock", "wall", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "clock: expected 'auto', 'midi', 'jack', 'player' "
                       "or 'fixed', got 'wall'");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "tempo", "19", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "tempo: expected a tempo in beats per minute");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "tempo", "481", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "beats_per_bar", "0", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "quantize", "1/32", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "quantize: expected 'off', '1/4', '1/8', '1/16', "
                       "'1/8t' or '1/16t', got '1/32'");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "swing", "76", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "swing: expected a percentage 0..75, got '76'");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "swing", "-1", err), RNJ_EINVAL);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "answer_start", "now", err),
            RNJ_EINVAL);
  ASSERT_CONTAINS(err, "'gap', 'beat' or 'bar'");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "clock_out", "maybe", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "clock_out: expected 'on' or 'off', got 'maybe'");
  ASSERT_EQ(rnj_conf_set(&c, "play", "quantize", "1/8", err),
            RNJ_ENOTFOUND);
  ASSERT_CONTAINS(err, "expected it in [time]");
  ASSERT(memcmp(&c, &before, sizeof c) == 0);
}

static void test_file(void) {
  rnj_conf_t c;
  char err[RNJ_ERR_LEN];
  const char *good =
      "; comment\n"
      "# another\n"
      "[play]\n"
      "mode = continuous\n"
      "phrase_gap = 800 ; inline comment\n"
      "\n"
      "[midi]\n"
      "channel=3\n";
  rnj_conf_defaults(&c, "m");
  ASSERT_STR_EQ(load(&c, good, err), "0");
  ASSERT_EQ(c.mode, RNJ_MODE_CONTINUOUS);
  ASSERT_EQ(c.phrase_gap_ms, 800);
  ASSERT_EQ(c.channel, 3);
  ASSERT_EQ(c.velocity, RNJ_VELOCITY_MODEL); /* untouched keys keep theirs */

  /* a bad value: file, line and the expectation */
  rnj_conf_defaults(&c, "m");
  ASSERT_STR_EQ(load(&c, "[play]\nmode = respond\n\nphrase_gap = x\n", err),
                "-1001");
  ASSERT_CONTAINS(err, "t.conf:4: phrase_gap: expected a whole number");

  /* a line inih cannot parse */
  ASSERT_STR_EQ(load(&c, "[play]\nmode respond\n", err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:2: expected '[section]', 'key = value'");
  ASSERT_STR_EQ(load(&c, "[play\nmode = respond\n", err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:1:");

  /* the first error wins, whichever kind it is */
  ASSERT_STR_EQ(load(&c, "[play]\nmode = x\nbroken\n", err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:2: mode:");
  ASSERT_STR_EQ(load(&c, "[play]\nbroken\nmode = x\n", err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:2: expected");

  /* keys outside a section, in the wrong section, unknown */
  ASSERT_STR_EQ(load(&c, "mode = respond\n", err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:1: 'mode' outside a section");
  ASSERT_STR_EQ(load(&c, "[midi]\n\n\nmode = respond\n", err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:4: key 'mode' in section [midi]");
  ASSERT_STR_EQ(load(&c, "[play]\nspeed = 2\n", err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:2: unknown key 'speed'");

  /* CRLF line ends, no final newline */
  rnj_conf_defaults(&c, "m");
  ASSERT_STR_EQ(load(&c, "[play]\r\nphrase_gap = 900\r\nmode = continuous",
                     err), "0");
  ASSERT_EQ(c.phrase_gap_ms, 900);
  ASSERT_EQ(c.mode, RNJ_MODE_CONTINUOUS);
}

static void test_long_line(void) {
  rnj_conf_t c;
  char err[RNJ_ERR_LEN];
  char text[2000];
  char path[600];
  memset(path, 'a', sizeof path - 1);
  path[sizeof path - 1] = '\0';
  snprintf(text, sizeof text, "[model]\nseed_midi = %s\n[play]\nmode = z\n",
           path);
  rnj_conf_defaults(&c, "m");
  ASSERT_STR_EQ(load(&c, text, err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:2: line too long");
  /* the numbering after it is still right */
  snprintf(text, sizeof text, "# %s\n[play]\nmode = z\n", path);
  ASSERT_STR_EQ(load(&c, text, err), "-1001");
  ASSERT_CONTAINS(err, "t.conf:1: line too long");
}

static void test_cross_checks(void) {
  rnj_conf_t c;
  char err[RNJ_ERR_LEN];
  rnj_conf_defaults(&c, "m");
  c.pitch_min = 80;
  c.pitch_max = 60;
  ASSERT_EQ(rnj_conf_check(&c, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "pitch_min 80 > pitch_max 60");
  rnj_conf_defaults(&c, "m");
  c.min_duration_ms = 500;
  c.max_duration_ms = 100;
  ASSERT_EQ(rnj_conf_check(&c, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "min_duration");
}

/* Real files: missing, layered, and the one we install. */
static void test_files_on_disk(void) {
  rnj_conf_t c;
  char err[RNJ_ERR_LEN];
  char path[4096];
  FILE *f;
  const char *src = getenv("RNJ_SRCDIR");
  size_t n;
  size_t i;
  const rnj_conf_option_t *opts = rnj_conf_options(&n);

  snprintf(path, sizeof path, "%s/rnj-conf-%d.conf", test_tmp_dir(),
           (int)getpid());
  rnj_conf_defaults(&c, "m");
  ASSERT_EQ(rnj_conf_load(&c, "/nonexistent/rnnjamd.conf", err), -ENOENT);
  f = fopen(path, "w");
  ASSERT(f);
  fputs("[play]\nphrase_gap = 321\n", f);
  fclose(f);
  ASSERT_OK(rnj_conf_load(&c, path, err));
  f = fopen(path, "w");
  ASSERT(f);
  fputs("[midi]\nchannel = 9\n", f);
  fclose(f);
  ASSERT_OK(rnj_conf_load(&c, path, err));
  ASSERT_EQ(c.phrase_gap_ms, 321); /* the first layer survives */
  ASSERT_EQ(c.channel, 9);
  unlink(path);

  /* The shipped file parses as it is; with every "; key = value" line
   * uncommented it gives exactly the defaults (so the values it shows are
   * true), and it shows every option the table knows. */
  if (!src)
    src = ".";
  snprintf(path, sizeof path, "%s/etc/rnnjam/rnnjamd.conf", src);
  {
    rnj_conf_t d;
    static char buf[65536];
    static char uncommented[65536];
    size_t len;
    char *line;
    char *save = NULL;
    size_t o = 0;
    rnj_conf_defaults(&c, "m");
    rnj_conf_defaults(&d, "m");
    ASSERT_OK(rnj_conf_load(&c, path, err));
    ASSERT(memcmp(&c, &d, sizeof c) == 0);
    f = fopen(path, "r");
    ASSERT(f);
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    for (i = 0; i < n; i++) {
      char key[128];
      snprintf(key, sizeof key, "; %s =", opts[i].key);
      ASSERT_CONTAINS(buf, key);
    }
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
      if (strncmp(line, "; ", 2) == 0)
        line += 2;
      o += (size_t)snprintf(uncommented + o, sizeof uncommented - o, "%s\n",
                            line);
    }
    ASSERT_OK(rnj_conf_load_mem(&c, uncommented, o, path, err));
    ASSERT_STR_EQ(c.checkpoint,
                  "/usr/share/rnnjam/models/default.safetensors");
    memset(c.checkpoint, 0, sizeof c.checkpoint);
    c.checkpoint[0] = 'm';
    ASSERT(memcmp(&c, &d, sizeof c) == 0);
  }
}

/* The JACK and sound options: defaults, words, and their messages. */
static void test_sound(void) {
  rnj_conf_t c;
  char err[RNJ_ERR_LEN];
  rnj_conf_defaults(&c, "m");
  ASSERT_EQ(c.transport, RNJ_MIDI_ALSA);
  ASSERT_EQ(c.audio, RNJ_AUDIO_JACK);
  ASSERT_EQ(c.render, RNJ_RENDER_GENERATED);
  ASSERT_STR_EQ(c.soundfont, "");
  ASSERT_STR_EQ(c.autoconnect, "auto");
  ASSERT_STR_EQ(c.jack_connect_in, "auto");
  ASSERT_STR_EQ(c.jack_connect_out, "none");
  ASSERT_OK(rnj_conf_set(&c, NULL, "midi", "jack", err));
  ASSERT_EQ(c.transport, RNJ_MIDI_JACK);
  ASSERT_OK(rnj_conf_set(&c, "midi", "midi", "Both", err));
  ASSERT_EQ(c.transport, RNJ_MIDI_BOTH);
  ASSERT_STR_EQ(rnj_transport_name(c.transport), "both");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "midi", "usb", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "midi: expected 'alsa', 'jack' or 'both', got 'usb'");
  ASSERT_OK(rnj_conf_set(&c, "audio", "audio", "none", err));
  ASSERT_EQ(c.audio, RNJ_AUDIO_NONE);
  ASSERT_STR_EQ(rnj_audio_name(c.audio), "none");
  ASSERT_EQ(rnj_conf_set(&c, "midi", "audio", "jack", err), RNJ_ENOTFOUND);
  ASSERT_CONTAINS(err, "expected it in [audio]");
  ASSERT_OK(rnj_conf_set(&c, NULL, "render", "all", err));
  ASSERT_EQ(c.render, RNJ_RENDER_ALL);
  ASSERT_STR_EQ(rnj_render_name(c.render), "all");
  ASSERT_OK(rnj_conf_set(&c, NULL, "program", "11", err));
  ASSERT_EQ(c.program, 11);
  ASSERT_EQ(rnj_conf_set(&c, NULL, "program", "128", err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "program: expected a program number 0..127");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "gain", "11", err), RNJ_EINVAL);
  ASSERT_OK(rnj_conf_set(&c, NULL, "soundfont", "/x/y.sf2", err));
  ASSERT_STR_EQ(c.soundfont, "/x/y.sf2");
  ASSERT_OK(rnj_conf_set(&c, NULL, "autoconnect",
                         "system:playback_3, system:playback_4", err));
  ASSERT_STR_EQ(c.autoconnect, "system:playback_3, system:playback_4");
  ASSERT_EQ(rnj_conf_set(&c, NULL, "autoconnect", "", err), RNJ_EINVAL);
}

int main(void) {
  test_defaults();
  test_sound();
  test_values();
  test_bad_values();
  test_time();
  test_file();
  test_long_line();
  test_cross_checks();
  test_files_on_disk();
  printf("conf: ok\n");
  return 0;
}
