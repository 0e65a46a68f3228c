/* Fuzz target: the checkpoint (safetensors) loader.
 *
 * The first byte of an input says how to build the file from the rest:
 *   bit 0 clear: the rest is the whole file;
 *   bit 0 set:   the rest is the 8-byte length and the JSON header, and a
 *                data section of finite floats follows, with a NaN
 *                (bit 1) or an Inf (bit 2) in it, or its last float cut
 *                short (bit 3); bits 4-5 choose its size: the tutorial
 *                model's, or a v2 model's with hidden 16, 48 or 128.
 * A real checkpoint is 330 KiB or more, almost all of it data; the second
 * form lets the fuzzer work on the header alone (a few hundred bytes, many
 * times faster) and still reach the loads that succeed.
 *
 * ckpt.h promises that the model changes only when the whole file is
 * valid, so a refused input must leave the layout, parameters and metadata
 * exactly as they were; an accepted one must hold only finite numbers, a
 * window length in range and the layout its format names.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnjam/ckpt.h"
#include "rnnjam/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "fuzz-ckpt: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                              \
    }                                                                       \
  } while (0)

/* Data section sizes, floats: the tutorial's, v2 with hidden 16, 48, 128
 * (186*4H + H*4H + 4H + H*360 + 360). */
static const size_t counts[4] = {RNJ_MODEL_NPARAMS, 19112, 62760,
                                 RNJ_MODEL_V2_NPARAMS};
#define DATA_BYTES (RNJ_MODEL_V2_NPARAMS * 4)
/* Room for the longest header the loader accepts, and its length. */
#define HEAD_MAX (8 + (size_t)RNJ_CKPT_HEADER_MAX)

static rnj_model_t model;
static rnj_model_t before;
/* The second form's file ends at the end of this buffer: the data is
 * written once, and each input's header is copied in just before it. */
static uint8_t *file;
static int ready;

/* Float `i` of the data section (host order: the loader reads
 * little-endian, as are the machines this runs on). */
static void put_normal(uint8_t *data, size_t i) {
  float v = (float)(i % 97) * 0.01f - 0.5f;
  memcpy(data + 4 * i, &v, 4);
}

static size_t poked[2];
static int npoked;

/* The file for the second form; its length in *len.  Call unpoke() after
 * using it. */
static const uint8_t *with_data(const uint8_t *head, size_t n, unsigned how,
                                size_t *len) {
  static const uint32_t bad[2] = {0x7fc00000u, 0x7f800000u}; /* NaN, Inf */
  static const size_t mult[2] = {7919u, 104729u};
  uint8_t *data = file + HEAD_MAX;
  size_t count = counts[(how >> 4) & 3];
  int k;
  if (n > HEAD_MAX)
    n = HEAD_MAX;
  memcpy(data - n, head, n);
  npoked = 0;
  for (k = 0; k < 2; k++) {
    if (!(how & (2u << k)))
      continue;
    /* at a place the header's length decides */
    poked[npoked] = (n * mult[k]) % count;
    memcpy(data + 4 * poked[npoked], &bad[k], 4);
    npoked++;
  }
  *len = n + 4 * count - (how & 8 ? 1 : 0);
  return data - n;
}

static void unpoke(void) {
  while (npoked > 0)
    put_normal(file + HEAD_MAX, poked[--npoked]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[RNJ_ERR_LEN];
  const uint8_t *buf;
  size_t len;
  size_t i;
  int rc;

  if (!ready) {
    /* A recognisable state that a refused load must not touch. */
    CHECK(rnj_model_init(&model) == 0);
    CHECK(rnj_model_init(&before) == 0);
    for (i = 0; i < RNJ_MODEL_NPARAMS; i++)
      before.params[i] = (float)i;
    before.seq_length = 7;
    CHECK(rnj_model_copy(&model, &before) == 0);
    file = malloc(HEAD_MAX + DATA_BYTES);
    CHECK(file);
    for (i = 0; i < RNJ_MODEL_V2_NPARAMS; i++)
      put_normal(file + HEAD_MAX, i);
    ready = 1;
  }

  if (size == 0)
    return 0;
  if (data[0] & 1) {
    buf = with_data(data + 1, size - 1, data[0], &len);
  } else {
    buf = data + 1;
    len = size - 1;
  }
  rc = rnj_ckpt_load_mem(&model, buf, len, "fuzz.safetensors", err);
  unpoke();
  if (rc < 0) {
    CHECK(rc == RNJ_EFORMAT || rc == RNJ_ELIMIT || rc == RNJ_ESHAPE);
    CHECK(err[0] != '\0');
    CHECK(model.kind == before.kind && model.nparams == before.nparams);
    CHECK(memcmp(model.params, before.params,
                 RNJ_MODEL_NPARAMS * sizeof(float)) == 0);
    CHECK(model.n_meta == before.n_meta);
    CHECK(memcmp(model.meta, before.meta, sizeof model.meta) == 0);
    CHECK(model.seq_length == 7);
    return 0;
  }
  CHECK(rc == 0);
  for (i = 0; i < model.nparams; i++)
    CHECK(isfinite(model.params[i]));
  CHECK(model.seq_length >= 1 &&
        model.seq_length <= RNJ_CKPT_SEQ_LENGTH_MAX);
  CHECK(model.n_meta >= 4 && model.n_meta <= RNJ_MODEL_META_MAX);
  CHECK(strcmp(rnj_model_get_meta(&model, "format"),
               rnj_model_format(model.kind)) == 0);
  CHECK(model.tensors[model.ntensors - 1].offset +
            model.tensors[model.ntensors - 1].count ==
        model.nparams);
  if (data[0] & 1) /* the data section's size was chosen */
    CHECK(model.nparams == counts[(data[0] >> 4) & 3]);
  CHECK(rnj_model_copy(&model, &before) == 0); /* for the next input */
  return 0;
}
