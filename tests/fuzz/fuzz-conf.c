/* Fuzz target: rnnjamd's configuration parser (libinih under
 * rnj_conf_load_mem) and the checks between options.
 *
 * conf.h promises "FILE:LINE: ..." for a bad line and values in range for
 * every key that was accepted; both are checked here, and a second pass
 * over the same text must give the same result (the parser keeps no state
 * between calls).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnjam/clock.h"
#include "rnnjam/conf.h"
#include "rnnjam/grid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "fuzz-conf: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                              \
    }                                                                       \
  } while (0)

static void check_ranges(const rnj_conf_t *c) {
  CHECK(memchr(c->checkpoint, 0, sizeof c->checkpoint));
  CHECK(memchr(c->seed_midi, 0, sizeof c->seed_midi));
  CHECK(memchr(c->client_name, 0, sizeof c->client_name));
  CHECK(memchr(c->connect_in, 0, sizeof c->connect_in));
  CHECK(memchr(c->connect_out, 0, sizeof c->connect_out));
  CHECK(c->client_name[0] != '\0');
  CHECK(c->context == RNJ_CONTEXT_STREAM || c->context == RNJ_CONTEXT_WINDOW);
  CHECK(c->mode == RNJ_MODE_RESPOND || c->mode == RNJ_MODE_CONTINUOUS);
  CHECK(c->temperature >= 0.01 && c->temperature <= 100.0);
  CHECK(c->time_temperature >= 0.01 && c->time_temperature <= 100.0);
  CHECK(c->top_p >= 0.01 && c->top_p <= 1.0);
  CHECK(c->top_k >= 0 && c->top_k <= 128);
  CHECK(c->pitch_min >= 0 && c->pitch_min <= 127);
  CHECK(c->pitch_max >= 0 && c->pitch_max <= 127);
  CHECK(c->channel >= 1 && c->channel <= 16);
  CHECK(c->velocity >= RNJ_VELOCITY_MODEL && c->velocity <= 127);
  CHECK(c->cc_channel >= 0 && c->cc_channel <= 16);
  CHECK(c->log_level >= RNJ_LOG_ERR && c->log_level <= RNJ_LOG_DEBUG);
  CHECK(c->cc_temperature >= RNJ_CC_OFF && c->cc_temperature <= 127);
  CHECK(c->cc_mode >= RNJ_CC_OFF && c->cc_mode <= 127);
  CHECK(c->cc_length >= RNJ_CC_OFF && c->cc_length <= 127);
  CHECK(c->cc_panic >= RNJ_CC_OFF && c->cc_panic <= 127);
  CHECK(c->phrase_gap_ms >= 0 && c->lookahead_ms > 0);
  CHECK(c->max_chord >= 1);
  /* [time]: the bounds are the clock's and the grid's own constants, as
   * src/conf.c takes them, so the two cannot drift apart again. */
  CHECK(c->clock >= RNJ_CLOCK_AUTO && c->clock <= RNJ_CLOCK_FIXED);
  CHECK(c->tempo >= RNJ_CLOCK_MIN_BPM && c->tempo <= RNJ_CLOCK_MAX_BPM);
  CHECK(c->beats_per_bar >= 1 && c->beats_per_bar <= 32);
  CHECK(c->quantize >= RNJ_GRID_OFF && c->quantize <= RNJ_GRID_16T);
  CHECK(c->swing >= 0 && c->swing <= RNJ_GRID_MAX_SWING);
  CHECK(c->answer_start >= RNJ_ANSWER_GAP &&
        c->answer_start <= RNJ_ANSWER_BAR);
  CHECK(c->clock_out == 0 || c->clock_out == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rnj_conf_t a;
  rnj_conf_t b;
  char err[RNJ_ERR_LEN];
  char err2[RNJ_ERR_LEN];
  int rc;
  int rc2;

  if (size > RNJ_CONF_FILE_MAX)
    return 0; /* rnj_conf_load refuses these before parsing */
  rnj_conf_defaults(&a, "default.safetensors");
  rnj_conf_defaults(&b, "default.safetensors");
  err[0] = err2[0] = '\0';
  rc = rnj_conf_load_mem(&a, (const char *)data, size, "fuzz.conf", err);
  rc2 = rnj_conf_load_mem(&b, (const char *)data, size, "fuzz.conf", err2);
  CHECK(rc == rc2);
  CHECK(strcmp(err, err2) == 0);
  CHECK(memcmp(&a, &b, sizeof a) == 0);
  if (rc < 0) {
    CHECK(rc == RNJ_EINVAL || rc == RNJ_ENOMEM);
    CHECK(strncmp(err, "fuzz.conf:", 10) == 0);
  } else {
    CHECK(rc == 0);
  }
  /* Lines before a bad one still count, so ranges hold either way. */
  check_ranges(&a);
  rc = rnj_conf_check(&a, err);
  CHECK(rc == 0 || (rc == RNJ_EINVAL && err[0]));
  return 0;
}
