/* ckpt: a saved model loads back bit for bit with its metadata, saving is
 * deterministic and atomic, and every kind of broken file is refused with
 * a message that names the file and the exact fault.
 *
 * Broken files are made from a good one: its header is parsed with jansson,
 * changed, and written back with the (possibly changed) data section.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rnnjam/alloc.h"
#include "rnnjam/ckpt.h"
#include "rnnjam/encoding.h"
#include "rnnjam/model.h"
#include "test.h"

static char dir[1024];
static char err[RNJ_ERR_LEN];

/* The good checkpoint, split into header and data section. */
static json_t *good_hdr;
static uint8_t *good_data;
static size_t good_data_len;
static uint8_t *good_file;
static size_t good_file_len;

/* ------------------------------------------------ counting allocator */

static long live;

static void *c_malloc(size_t n) {
  void *p = malloc(n);
  if (p)
    live++;
  return p;
}

static void *c_calloc(size_t c, size_t n) {
  void *p = calloc(c, n);
  if (p)
    live++;
  return p;
}

static void *c_realloc(void *q, size_t n) {
  void *p = realloc(q, n);
  if (p && !q)
    live++;
  return p;
}

static void c_free(void *p) {
  if (p)
    live--;
  free(p);
}

/* ------------------------------------------------------------ files */

static const char *at(const char *name) {
  static char buf[4][1200];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *b;
  long n;
  ASSERT(f != NULL);
  ASSERT(fseek(f, 0, SEEK_END) == 0);
  n = ftell(f);
  ASSERT(n >= 0);
  rewind(f);
  b = malloc((size_t)n + 1);
  ASSERT(b != NULL);
  ASSERT_EQ(fread(b, 1, (size_t)n, f), n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void spit(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  ASSERT_EQ(fwrite(b, 1, n, f), n);
  ASSERT(fclose(f) == 0);
}

static void put_le64(uint8_t *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* Writes a checkpoint from raw header text (no padding) and data. */
static void write_raw(const char *name, const char *hdr, size_t hlen,
                      const uint8_t *data, size_t dlen) {
  uint8_t *b = malloc(8 + hlen + dlen + 1);
  ASSERT(b != NULL);
  put_le64(b, hlen);
  memcpy(b + 8, hdr, hlen);
  if (dlen)
    memcpy(b + 8 + hlen, data, dlen);
  spit(at(name), b, 8 + hlen + dlen);
  free(b);
}

/* Writes a checkpoint from a header object (takes it) and data. */
static void write_json(const char *name, json_t *hdr, const uint8_t *data,
                       size_t dlen) {
  char *s = json_dumps(hdr, JSON_COMPACT);
  ASSERT(s != NULL);
  write_raw(name, s, strlen(s), data, dlen);
  free(s);
  json_decref(hdr);
}

static int count_temp_files(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp."))
      n++;
  closedir(d);
  return n;
}

static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  char sub[2048];
  if (!d) {
    unlink(path);
    return;
  }
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    remove_tree(sub);
  }
  closedir(d);
  rmdir(path);
}

/* ----------------------------------------------------------- models */

/* Deterministic values spread over the float range, plus the awkward
 * ones (-0, a subnormal, the extremes) that must survive bit for bit. */
static void fill(rnj_model_t *m, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  size_t i;
  for (i = 0; i < RNJ_MODEL_NPARAMS; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    m->params[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 4.0f;
  }
  m->params[0] = -0.0f;
  m->params[1] = FLT_MIN / 8.0f;
  m->params[2] = FLT_MAX;
  m->params[RNJ_MODEL_NPARAMS - 1] = -FLT_MAX;
}

static void set_bits(uint8_t *data, size_t float_index, uint32_t bits) {
  uint8_t *p = data + 4 * float_index;
  p[0] = (uint8_t)bits;
  p[1] = (uint8_t)(bits >> 8);
  p[2] = (uint8_t)(bits >> 16);
  p[3] = (uint8_t)(bits >> 24);
}

/* ---------------------------------------------------- failure cases */

/* Loading `name` fails with `code`; err names the path and contains the
 * needles; the model is left untouched and nothing leaks. */
static void expect_fail(const char *name, int code, const char *n1,
                        const char *n2) {
  rnj_model_t m;
  long before = live;
  const char *path = at(name);
  int rc;

  printf("case %s\n", name);
  fflush(stdout);
  ASSERT_OK(rnj_model_init(&m));
  m.params[7] = 42.0f;
  rc = rnj_ckpt_load(&m, path, err);
  printf("  -> %d %s\n", rc, err);
  ASSERT_EQ(rc, code);
  ASSERT_CONTAINS(err, path);
  ASSERT_CONTAINS(err, n1);
  if (n2)
    ASSERT_CONTAINS(err, n2);
  ASSERT(m.params[7] == 42.0f);
  ASSERT_EQ(m.n_meta, 4);
  ASSERT_EQ(m.seq_length, RNJ_MODEL_SEQ_LENGTH);
  rnj_model_free(&m);
  ASSERT_EQ(live, before);
  err[0] = 0;
}

/* A fresh copy of the good header and of the data section. */
static json_t *hdr(void) { return json_deep_copy(good_hdr); }

static uint8_t *data(size_t extra) {
  uint8_t *d = malloc(good_data_len + extra);
  ASSERT(d != NULL);
  memcpy(d, good_data, good_data_len);
  return d;
}

static json_t *entry(json_t *h, const char *tensor) {
  json_t *e = json_object_get(h, tensor);
  ASSERT(e != NULL);
  return e;
}

static json_int_t begin_of(json_t *h, const char *tensor) {
  return json_integer_value(
      json_array_get(json_object_get(entry(h, tensor), "data_offsets"), 0));
}

static void set_offsets(json_t *h, const char *tensor, json_int_t b,
                        json_int_t e) {
  ASSERT_OK(json_object_set_new(entry(h, tensor), "data_offsets",
                                json_pack("[II]", b, e)));
}

static void set_meta(json_t *h, const char *key, json_t *v) {
  ASSERT_OK(json_object_set_new(json_object_get(h, "__metadata__"), key, v));
}

/* One header change, written with the good data. */
static void bad_header(const char *name, json_t *h, int code,
                       const char *n1, const char *n2) {
  write_json(name, h, good_data, good_data_len);
  expect_fail(name, code, n1, n2);
}

static void test_bytes(void) {
  uint8_t b[16] = {0};
  uint8_t *f;
  int fd;

  spit(at("empty"), "", 0);
  expect_fail("empty", RNJ_EFORMAT, "0 bytes, too short", "at least 8");
  spit(at("short"), "\x10\0\0\0\0", 5);
  expect_fail("short", RNJ_EFORMAT, "5 bytes, too short", NULL);
  memcpy(b + 8, "{}      ", 8);
  spit(at("hlen-zero"), b, 16);
  expect_fail("hlen-zero", RNJ_EFORMAT, "header length is 0", NULL);

  f = malloc(good_file_len);
  ASSERT(f != NULL);
  memcpy(f, good_file, good_file_len);
  put_le64(f, (uint64_t)1 << 40);
  spit(at("hlen-huge"), f, good_file_len);
  expect_fail("hlen-huge", RNJ_ELIMIT, "header length is 1099511627776",
              "at most 1048576");
  /* bigger than the limit but within the file: the bound still holds */
  put_le64(f, RNJ_CKPT_HEADER_MAX + 1);
  spit(at("hlen-over"), f, good_file_len);
  expect_fail("hlen-over", RNJ_ELIMIT, "header length is 1048577", NULL);
  put_le64(f, good_file_len - 8 + 1);
  spit(at("hlen-eof"), f, good_file_len);
  expect_fail("hlen-eof", RNJ_EFORMAT, "runs past the end of the file",
              NULL);
  free(f);

  /* cut in half: the header is whole, the data is not */
  spit(at("half"), good_file, good_file_len / 2);
  expect_fail("half", RNJ_EFORMAT, "past the end of the data section",
              "truncated");

  expect_fail("does-not-exist", -ENOENT, "No such file", NULL);

  /* a huge file is refused before anything is allocated for it */
  fd = open(at("huge"), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  ASSERT(fd >= 0);
  ASSERT_OK(ftruncate(fd, (off_t)RNJ_CKPT_FILE_MAX + 1));
  close(fd);
  expect_fail("huge", RNJ_ELIMIT, "more than the limit", NULL);
  unlink(at("huge"));
}

static void test_json(void) {
  static const char bad[] = "{\"__metadata__\": {\"format\": }  ";
  static const char arr[] = "[1, 2, 3]";
  static const char dup[] =
      "{\"__metadata__\":{},\"__metadata__\":{}}";
  static const char utf[] = "{\"__metadata__\":{\"x\":\"\xff\"}}";

  write_raw("bad-json", bad, sizeof bad - 1, good_data, good_data_len);
  expect_fail("bad-json", RNJ_EFORMAT, "not valid JSON", "line 1, column");
  write_raw("not-object", arr, sizeof arr - 1, NULL, 0);
  expect_fail("not-object", RNJ_EFORMAT, "not a JSON object", NULL);
  write_raw("dup-key", dup, sizeof dup - 1, NULL, 0);
  expect_fail("dup-key", RNJ_EFORMAT, "not valid JSON", "duplicate");
  write_raw("bad-utf8", utf, sizeof utf - 1, NULL, 0);
  expect_fail("bad-utf8", RNJ_EFORMAT, "not valid JSON", NULL);
}

static void test_meta(void) {
  json_t *h;
  char key[16];
  char *longv;
  int i;

  h = hdr();
  json_object_del(h, "__metadata__");
  bad_header("meta-missing", h, RNJ_EFORMAT, "no \"__metadata__\"", NULL);
  h = hdr();
  ASSERT_OK(json_object_set_new(h, "__metadata__", json_string("x")));
  bad_header("meta-string", h, RNJ_EFORMAT, "__metadata__ is \"x\"",
             "expected an object");
  h = hdr();
  set_meta(h, "hidden", json_integer(128));
  bad_header("meta-int", h, RNJ_EFORMAT, "__metadata__.hidden is 128",
             "expected a string");
  h = hdr();
  set_meta(h, "format", json_string("rnnjam-lstm-v3"));
  bad_header("meta-format", h, RNJ_EFORMAT,
             "__metadata__.format is \"rnnjam-lstm-v3\"",
             "expected \"rnnjam-lstm-v1\" or \"rnnjam-lstm-v2\"");
  /* a tutorial file that calls itself v2 lacks what v2 must say */
  h = hdr();
  set_meta(h, "format", json_string("rnnjam-lstm-v2"));
  bad_header("meta-format-v2", h, RNJ_EFORMAT,
             "__metadata__.time_unit is missing", "expected \"beats\"");
  h = hdr();
  json_object_del(json_object_get(h, "__metadata__"), "format");
  bad_header("meta-no-format", h, RNJ_EFORMAT,
             "__metadata__.format is missing", NULL);
  h = hdr();
  set_meta(h, "hidden", json_string("256"));
  bad_header("meta-hidden", h, RNJ_EFORMAT,
             "__metadata__.hidden is \"256\"", "expected \"128\"");
  h = hdr();
  set_meta(h, "pitch_scale", json_string("127"));
  bad_header("meta-pitch-scale", h, RNJ_EFORMAT,
             "__metadata__.pitch_scale is \"127\"", "expected \"128\"");
  h = hdr();
  set_meta(h, "seq_length", json_string("0"));
  bad_header("meta-seq-0", h, RNJ_EFORMAT, "seq_length is \"0\"",
             "integer in 1..10000");
  h = hdr();
  set_meta(h, "seq_length", json_string("10001"));
  bad_header("meta-seq-big", h, RNJ_EFORMAT, "seq_length is \"10001\"",
             NULL);
  h = hdr();
  set_meta(h, "seq_length", json_string("25x"));
  bad_header("meta-seq-text", h, RNJ_EFORMAT, "seq_length is \"25x\"",
             NULL);
  h = hdr();
  json_object_del(json_object_get(h, "__metadata__"), "seq_length");
  bad_header("meta-seq-missing", h, RNJ_EFORMAT, "seq_length is missing",
             NULL);

  /* bounded by the model's table: an error, never a silent cut */
  h = hdr();
  for (i = 0; i < RNJ_MODEL_META_MAX; i++) {
    snprintf(key, sizeof key, "extra%d", i);
    set_meta(h, key, json_string("v"));
  }
  {
    char want[64];
    snprintf(want, sizeof want, "expected at most %d", RNJ_MODEL_META_MAX);
    bad_header("meta-too-many", h, RNJ_ELIMIT, "entries", want);
  }
  longv = malloc(RNJ_MODEL_META_VALUE_LEN + 1);
  ASSERT(longv != NULL);
  memset(longv, 'a', RNJ_MODEL_META_VALUE_LEN);
  longv[RNJ_MODEL_META_VALUE_LEN] = 0;
  h = hdr();
  set_meta(h, "note", json_string(longv));
  snprintf(key, sizeof key, "note is %d", RNJ_MODEL_META_VALUE_LEN);
  bad_header("meta-long-value", h, RNJ_ELIMIT, key, "at most");
  longv[RNJ_MODEL_META_KEY_LEN] = 0;
  h = hdr();
  set_meta(h, longv, json_string("v"));
  bad_header("meta-long-key", h, RNJ_ELIMIT, "is 64 bytes", "at most 63");
  free(longv);
}

static void test_tensors(void) {
  json_t *h;
  json_int_t b;

  h = hdr();
  json_object_del(h, "pitch.bias");
  bad_header("missing-tensor", h, RNJ_EFORMAT,
             "tensor \"pitch.bias\" is missing", NULL);
  h = hdr();
  ASSERT_OK(json_object_set(h, "bogus.kernel", entry(h, "step.bias")));
  bad_header("extra-tensor", h, RNJ_EFORMAT,
             "unknown tensor \"bogus.kernel\"", NULL);
  h = hdr();
  ASSERT_OK(json_object_set_new(h, "step.bias", json_pack("[i]", 1)));
  bad_header("entry-array", h, RNJ_EFORMAT, "tensor \"step.bias\" is [1]",
             "expected an object");
  h = hdr();
  ASSERT_OK(json_object_set_new(entry(h, "step.bias"), "scale",
                                json_integer(1)));
  bad_header("entry-field", h, RNJ_EFORMAT, "unknown field \"scale\"",
             NULL);
  h = hdr();
  ASSERT_OK(json_object_set_new(entry(h, "pitch.kernel"), "dtype",
                                json_string("F16")));
  bad_header("dtype-f16", h, RNJ_EFORMAT,
             "tensor \"pitch.kernel\": dtype is \"F16\"",
             "expected \"F32\"");
  h = hdr();
  json_object_del(entry(h, "pitch.kernel"), "dtype");
  bad_header("dtype-missing", h, RNJ_EFORMAT, "dtype is missing", NULL);

  h = hdr();
  ASSERT_OK(json_object_set_new(entry(h, "lstm.recurrent_kernel"), "shape",
                                json_pack("[ii]", 128, 511)));
  bad_header("shape-wrong", h, RNJ_ESHAPE,
             "tensor \"lstm.recurrent_kernel\": shape is [128,511]",
             "expected [128,512]");
  h = hdr();
  ASSERT_OK(json_object_set_new(entry(h, "lstm.kernel"), "shape",
                                json_pack("[ii]", 512, 3)));
  bad_header("shape-transposed", h, RNJ_ESHAPE, "shape is [512,3]",
             "expected [3,512]");
  h = hdr();
  ASSERT_OK(json_object_set_new(entry(h, "lstm.bias"), "shape",
                                json_pack("[ii]", 1, 512)));
  bad_header("shape-rank", h, RNJ_ESHAPE, "shape is [1,512]",
             "expected [512]");
  h = hdr();
  ASSERT_OK(json_object_set_new(entry(h, "lstm.bias"), "shape",
                                json_pack("[s]", "512")));
  bad_header("shape-string", h, RNJ_EFORMAT, "shape is [\"512\"]", NULL);

  /* data_offsets */
  h = hdr();
  b = begin_of(h, "duration.bias");
  set_offsets(h, "duration.bias", b + 8, b + 12);
  bad_header("offsets-past-end", h, RNJ_EFORMAT,
             "tensor \"duration.bias\": data_offsets",
             "past the end of the data section");
  h = hdr();
  b = begin_of(h, "step.bias");
  set_offsets(h, "step.bias", b, b + 8);
  bad_header("offsets-length", h, RNJ_EFORMAT, "span 8 bytes",
             "expected 4 = 4 * 1 floats");
  h = hdr();
  b = begin_of(h, "step.bias");
  set_offsets(h, "step.bias", b + 4, b);
  bad_header("offsets-reversed", h, RNJ_EFORMAT, "end before they begin",
             NULL);
  h = hdr();
  set_offsets(h, "step.bias", -4, 0);
  bad_header("offsets-negative", h, RNJ_EFORMAT, "data_offsets is [-4,0]",
             "two non-negative integers");
  h = hdr();
  ASSERT_OK(json_object_set_new(entry(h, "step.bias"), "data_offsets",
                                json_pack("[fi]", 0.0, 4)));
  bad_header("offsets-real", h, RNJ_EFORMAT, "two non-negative integers",
             NULL);
  h = hdr();
  ASSERT_OK(json_object_set_new(entry(h, "step.bias"), "data_offsets",
                                json_pack("[iii]", 0, 4, 8)));
  bad_header("offsets-three", h, RNJ_EFORMAT, "two non-negative integers",
             NULL);
  h = hdr();
  b = begin_of(h, "pitch.kernel");
  set_offsets(h, "pitch.bias", b, b + 4 * RNJ_MODEL_PITCHES);
  bad_header("overlap", h, RNJ_EFORMAT,
             "\"pitch.kernel\" [", "and \"pitch.bias\"");
}

static void test_data(void) {
  const rnj_tensor_info_t *t = rnj_model_tensors();
  json_t *h;
  uint8_t *d;
  json_int_t b;

  /* a gap: the last tensor moved 4 bytes on, 4 bytes inserted before it */
  h = hdr();
  b = begin_of(h, "duration.bias");
  set_offsets(h, "duration.bias", b + 4, b + 8);
  d = data(4);
  memcpy(d + b + 4, good_data + b, 4);
  write_json("gap", h, d, good_data_len + 4);
  expect_fail("gap", RNJ_EFORMAT, "belong to no tensor", "without gaps");
  free(d);

  d = data(4);
  memset(d + good_data_len, 0, 4);
  write_json("trailing", hdr(), d, good_data_len + 4);
  expect_fail("trailing", RNJ_EFORMAT, "4 trailing bytes", NULL);
  free(d);

  d = data(0);
  set_bits(d, t[3].offset + 1234, 0x7fc00000u);
  write_json("nan", hdr(), d, good_data_len);
  expect_fail("nan", RNJ_EFORMAT,
              "tensor \"pitch.kernel\" element 1234 (row 9, column 82) is "
              "NaN",
              "expected finite");
  free(d);

  d = data(0);
  set_bits(d, t[6].offset, 0xff800000u);
  write_json("inf", hdr(), d, good_data_len);
  expect_fail("inf", RNJ_EFORMAT, "tensor \"step.bias\" element 0 is -Inf",
              NULL);
  free(d);
}

/* ------------------------------------------------------- good paths */

static void assert_same_model(const rnj_model_t *a, const rnj_model_t *b) {
  int i;
  ASSERT(memcmp(a->params, b->params, RNJ_MODEL_NPARAMS * sizeof(float)) ==
         0);
  ASSERT_EQ(a->seq_length, b->seq_length);
  ASSERT_EQ(a->n_meta, b->n_meta);
  for (i = 0; i < a->n_meta; i++)
    ASSERT_STR_EQ(rnj_model_get_meta(b, a->meta[i].key), a->meta[i].value);
}

static void test_round_trip(void) {
  rnj_model_t m;
  rnj_model_t m2;
  uint8_t *a;
  uint8_t *b;
  size_t alen;
  size_t blen;
  uint64_t hlen;
  size_t i;

  ASSERT_OK(rnj_model_init(&m));
  ASSERT_OK(rnj_model_init(&m2));
  fill(&m, 1);
  ASSERT_OK(rnj_model_set_meta(&m, "trainer", "test-ckpt"));
  ASSERT_OK(rnj_model_set_meta(&m, "comment", "caf\xc3\xa9 \xe2\x99\xaa"));
  ASSERT_OK(rnj_ckpt_save(&m, at("a.safetensors"), err));
  ASSERT_OK(rnj_model_set_meta(&m2, "stale", "must go"));
  ASSERT_OK(rnj_ckpt_load(&m2, at("a.safetensors"), err));
  assert_same_model(&m, &m2);
  ASSERT(rnj_model_get_meta(&m2, "stale") == NULL);
  ASSERT(signbit(m2.params[0]) && m2.params[0] == 0.0f);

  /* m2 holds the metadata in another order: the bytes do not depend on
   * it, nor on anything but the model */
  ASSERT_OK(rnj_ckpt_save(&m2, at("b.safetensors"), err));
  a = slurp(at("a.safetensors"), &alen);
  b = slurp(at("b.safetensors"), &blen);
  ASSERT_EQ(alen, blen);
  ASSERT(memcmp(a, b, alen) == 0);
  free(b);

  /* layout: padded header, then the params in table order, LE */
  hlen = get_le64(a);
  ASSERT_EQ((8 + hlen) % 8, 0);
  ASSERT_EQ(alen, 8 + hlen + 4 * (uint64_t)RNJ_MODEL_NPARAMS);
  ASSERT_EQ(a[8], '{');
  for (i = 0; i < RNJ_MODEL_NPARAMS; i++) {
    uint32_t u;
    const uint8_t *p = a + 8 + hlen + 4 * i;
    memcpy(&u, &m.params[i], 4);
    ASSERT_EQ(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24, u);
  }

  /* from memory, with the name in messages */
  fill(&m2, 2);
  ASSERT_OK(rnj_ckpt_load_mem(&m2, a, alen, "mem", err));
  assert_same_model(&m, &m2);
  ASSERT_EQ(rnj_ckpt_load_mem(&m2, a, 7, "mem-name", err), RNJ_EFORMAT);
  ASSERT_CONTAINS(err, "mem-name: ");

  /* keep the good file's parts for the failure cases */
  good_file = a;
  good_file_len = alen;
  good_hdr = json_loadb((const char *)a + 8, hlen, 0, NULL);
  ASSERT(good_hdr != NULL);
  good_data = a + 8 + hlen;
  good_data_len = alen - 8 - hlen;

  /* seq_length is written from the field and read back into it */
  m.seq_length = 50;
  ASSERT_OK(rnj_ckpt_save(&m, at("seq50.safetensors"), err));
  ASSERT_OK(rnj_ckpt_load(&m2, at("seq50.safetensors"), err));
  ASSERT_EQ(m2.seq_length, 50);
  ASSERT_STR_EQ(rnj_model_get_meta(&m2, "seq_length"), "50");
  rnj_model_free(&m);
  rnj_model_free(&m2);
}

/* What other writers may do and the format allows: no padding, any key
 * order, metadata last, pitch_scale as a float. */
static void test_tolerated(void) {
  const rnj_tensor_info_t *t = rnj_model_tensors();
  rnj_model_t m;
  rnj_model_t ref;
  json_t *h = json_object();
  json_t *md = json_deep_copy(json_object_get(good_hdr, "__metadata__"));
  int i;

  for (i = RNJ_MODEL_NTENSORS - 1; i >= 0; i--)
    ASSERT_OK(json_object_set(h, t[i].name, entry(good_hdr, t[i].name)));
  ASSERT_OK(json_object_set_new(md, "pitch_scale", json_string("128.0")));
  ASSERT_OK(json_object_set_new(h, "__metadata__", md));
  write_json("tolerated", h, good_data, good_data_len);
  ASSERT_OK(rnj_model_init(&m));
  ASSERT_OK(rnj_model_init(&ref));
  ASSERT_OK(rnj_ckpt_load(&ref, at("a.safetensors"), err));
  ASSERT_OK(rnj_ckpt_load(&m, at("tolerated"), err));
  ASSERT(memcmp(m.params, ref.params, RNJ_MODEL_NPARAMS * sizeof(float)) ==
         0);
  ASSERT_STR_EQ(rnj_model_get_meta(&m, "pitch_scale"), "128.0");
  rnj_model_free(&m);
  rnj_model_free(&ref);
}

static void test_save(void) {
  rnj_model_t m;
  rnj_model_t m2;
  uint8_t *before;
  uint8_t *after;
  size_t blen;
  size_t alen;
  struct stat st;
  const char *p = at("over.safetensors");
  const char *nodir = at("no-such-dir/x.safetensors");

  ASSERT_OK(rnj_model_init(&m));
  ASSERT_OK(rnj_model_init(&m2));

  /* into a directory that does not exist: a clear error, nothing made */
  ASSERT_EQ(rnj_ckpt_save(&m, nodir, err), -ENOENT);
  ASSERT_CONTAINS(err, nodir);
  ASSERT_CONTAINS(err, "No such file");
  ASSERT(stat(at("no-such-dir"), &st) < 0 && errno == ENOENT);

  /* over an existing checkpoint: replaced whole, no temporaries left */
  fill(&m, 3);
  ASSERT_OK(rnj_ckpt_save(&m, p, err));
  fill(&m, 4);
  ASSERT_OK(rnj_ckpt_save(&m, p, err));
  ASSERT_OK(rnj_ckpt_load(&m2, p, err));
  assert_same_model(&m, &m2);
  ASSERT_EQ(count_temp_files(), 0);
  before = slurp(p, &blen);

  /* refused before writing: a NaN, or metadata load would reject */
  m.params[RNJ_MODEL_NPARAMS - 2] = NAN;
  ASSERT_EQ(rnj_ckpt_save(&m, p, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, p);
  ASSERT_CONTAINS(err, "not saved: tensor \"duration.kernel\" element 127");
  ASSERT_CONTAINS(err, "is NaN");
  fill(&m, 4);
  ASSERT_OK(rnj_model_set_meta(&m, "format", "something-else"));
  ASSERT_EQ(rnj_ckpt_save(&m, p, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "not saved: __metadata__.format");
  ASSERT_OK(rnj_model_set_meta(&m, "format", RNJ_MODEL_FORMAT));
  m.seq_length = 0;
  ASSERT_EQ(rnj_ckpt_save(&m, p, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "seq_length is \"0\"");
  m.seq_length = RNJ_MODEL_SEQ_LENGTH;
  ASSERT_OK(rnj_model_set_meta(&m, "bad", "\xff"));
  ASSERT_EQ(rnj_ckpt_save(&m, p, err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "not valid UTF-8");
  after = slurp(p, &alen);
  ASSERT_EQ(alen, blen);
  ASSERT(memcmp(before, after, alen) == 0);
  free(after);
  ASSERT_EQ(count_temp_files(), 0);

  /* fails after the temporary exists (a file cannot replace a non-empty
   * directory): the temporary is removed */
  ASSERT_OK(mkdir(at("subdir"), 0755));
  spit(at("subdir/keep"), "x", 1);
  fill(&m2, 5);
  ASSERT(rnj_ckpt_save(&m2, at("subdir"), err) < 0);
  ASSERT_CONTAINS(err, at("subdir"));
  ASSERT_CONTAINS(err, "rename");
  ASSERT_EQ(count_temp_files(), 0);

  free(before);
  rnj_model_free(&m);
  rnj_model_free(&m2);
}


/* ------------------------------------------------------------ v2 */

/* The v2 good file (hidden 48), split like the tutorial's. */
static json_t *good2_hdr;
static uint8_t *good2_file;
static uint8_t *good2_data;
static size_t good2_data_len;

static void fill_n(float *p, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  size_t i;
  for (i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 4.0f;
  }
}

static void bad_v2(const char *name, json_t *h, int code, const char *n1,
                   const char *n2) {
  write_json(name, h, good2_data, good2_data_len);
  expect_fail(name, code, n1, n2);
}

/* A v2 model saves and loads back bit for bit, at two sizes; a model of
 * one kind loads a file of the other (its block changes size); the layout
 * is the one ENCODING.md gives. */
static void test_v2_round_trip(void) {
  static const int hs[2] = {128, 48};
  rnj_model_t m;
  rnj_model_t m2;
  size_t len;
  uint64_t hlen;
  int k;

  ASSERT_EQ(rnj_model_init_kind(&m, RNJ_MODEL_V2, 40), RNJ_EINVAL);
  ASSERT_EQ(rnj_model_init_kind(&m, RNJ_MODEL_V2, 528), RNJ_EINVAL);
  ASSERT_EQ(rnj_model_init_kind(&m, RNJ_MODEL_TUTORIAL, 64), RNJ_EINVAL);
  ASSERT_EQ(rnj_model_init_kind(&m, 7, 128), RNJ_EINVAL);
  ASSERT_OK(rnj_model_init(&m2)); /* a tutorial model to load into */
  for (k = 0; k < 2; k++) {
    int h = hs[k];
    char name[64];
    uint8_t *f;
    ASSERT_OK(rnj_model_init_kind(&m, RNJ_MODEL_V2, h));
    ASSERT_EQ(m.nparams, (size_t)186 * 4 * h + (size_t)h * 4 * h + 4 * h +
                             (size_t)h * 360 + 360);
    if (h == 128)
      ASSERT_EQ(m.nparams, RNJ_MODEL_V2_NPARAMS);
    ASSERT(m.velocity_bias == m.params + m.nparams - 32);
    fill_n(m.params, m.nparams, 10 + (uint32_t)h);
    ASSERT_OK(rnj_model_set_meta(&m, "trainer", "test-ckpt"));
    snprintf(name, sizeof name, "v2-%d.safetensors", h);
    ASSERT_OK(rnj_ckpt_save(&m, at(name), err));
    if (rnj_ckpt_load(&m2, at(name), err) != 0)
      FAIL("%s", err);
    ASSERT_EQ(m2.kind, RNJ_MODEL_V2);
    ASSERT_EQ(m2.hidden, h);
    ASSERT_EQ(m2.input, 186);
    ASSERT_EQ(m2.nparams, m.nparams);
    ASSERT_EQ(m2.ntensors, 11);
    ASSERT(memcmp(m.params, m2.params, m.nparams * sizeof(float)) == 0);
    ASSERT(m2.velocity_kernel == m2.params + m2.tensors[9].offset);
    ASSERT_STR_EQ(rnj_model_get_meta(&m2, "format"), "rnnjam-lstm-v2");
    ASSERT_STR_EQ(rnj_model_get_meta(&m2, "trainer"), "test-ckpt");
    f = slurp(at(name), &len);
    hlen = get_le64(f);
    ASSERT_EQ(len, 8 + hlen + 4 * (uint64_t)m.nparams);
    if (h == 48) {
      good2_file = f;
      good2_hdr = json_loadb((const char *)f + 8, hlen, 0, NULL);
      ASSERT(good2_hdr != NULL);
      good2_data = f + 8 + hlen;
      good2_data_len = len - 8 - hlen;
    } else {
      free(f);
    }
    rnj_model_free(&m);
  }
  /* back to the tutorial's kind: the pointers follow the new block */
  ASSERT_OK(rnj_ckpt_load(&m2, at("a.safetensors"), err));
  ASSERT_EQ(m2.kind, RNJ_MODEL_TUTORIAL);
  ASSERT_EQ(m2.nparams, RNJ_MODEL_NPARAMS);
  ASSERT(m2.velocity_kernel == NULL);
  ASSERT(m2.duration_bias == m2.params + RNJ_MODEL_NPARAMS - 1);
  rnj_model_free(&m2);

  /* the metadata must describe the model being saved */
  ASSERT_OK(rnj_model_init_kind(&m, RNJ_MODEL_V2, 48));
  ASSERT_OK(rnj_model_set_meta(&m, "hidden", "64"));
  ASSERT_EQ(rnj_ckpt_save(&m, at("x.safetensors"), err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "not saved: __metadata__ describes");
  ASSERT_CONTAINS(err, "hidden 48");
  ASSERT_OK(rnj_model_set_meta(&m, "hidden", "48"));
  ASSERT_OK(rnj_model_set_meta(&m, "format", RNJ_MODEL_FORMAT));
  ASSERT_EQ(rnj_ckpt_save(&m, at("x.safetensors"), err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "not saved: __metadata__.hidden is \"48\"");
  rnj_model_free(&m);
  ASSERT_OK(rnj_model_init(&m));
  ASSERT_OK(rnj_model_set_meta(&m, "format", RNJ_MODEL_V2_FORMAT));
  ASSERT_EQ(rnj_ckpt_save(&m, at("x.safetensors"), err), RNJ_EINVAL);
  ASSERT_CONTAINS(err, "time_unit is missing");
  rnj_model_free(&m);
}

/* Every v2 key, shape and value is checked, and named when wrong. */
static void test_v2_refused(void) {
  char bins[2048];
  json_t *h;
  uint8_t *d;
  json_int_t b;
  static const struct {
    const char *key;
    const char *value;
    const char *n1;
    const char *n2;
  } meta[] = {
      {"hidden", "40", "__metadata__.hidden is \"40\"",
       "multiple of 16 in 16..512"},
      {"hidden", "0", "hidden is \"0\"", NULL},
      {"hidden", "528", "hidden is \"528\"", NULL},
      {"hidden", "64", "tensor \"lstm.kernel\": shape is [186,192]",
       "expected [186,256]"},
      {"time_unit", "seconds", "__metadata__.time_unit is \"seconds\"",
       "expected \"beats\""},
      {"phases", "16", "__metadata__.phases is \"16\"", "expected \"24\""},
      {"velocity_bins", "16", "__metadata__.velocity_bins is \"16\"",
       "expected \"32\""},
      {"step_bins", "0,1,2", "__metadata__.step_bins bin 1 is 1",
       "expected 0.0416666667"},
      {"step_bins", "", "__metadata__.step_bins has 0 bins",
       "expected 98"},
      {"step_bins", "0,0.0416666667,x", "step_bins value 2 is not a number",
       NULL},
      {"step_bins", "0,", "step_bins ends in a comma", NULL},
      {"duration_bins", "0.0416666667",
       "__metadata__.duration_bins has 1 bins", "expected 102"},
  };
  size_t i;

  for (i = 0; i < sizeof meta / sizeof meta[0]; i++) {
    char name[32];
    h = json_deep_copy(good2_hdr);
    set_meta(h, meta[i].key, json_string(meta[i].value));
    snprintf(name, sizeof name, "v2-meta-%zu", i);
    bad_v2(name, h, strstr(meta[i].n1, "shape") ? RNJ_ESHAPE : RNJ_EFORMAT,
           meta[i].n1, meta[i].n2);
  }
  h = json_deep_copy(good2_hdr);
  json_object_del(json_object_get(h, "__metadata__"), "duration_bins");
  bad_v2("v2-no-duration-bins", h, RNJ_EFORMAT,
         "__metadata__.duration_bins is missing", "bin centres");
  /* the bins' last centre wrong: the coarse "over 4 beats" bin */
  rnj_encoding_step_bins_str(bins, sizeof bins);
  ASSERT(strcmp(bins + strlen(bins) - 2, ",6") == 0);
  bins[strlen(bins) - 1] = '8';
  h = json_deep_copy(good2_hdr);
  set_meta(h, "step_bins", json_string(bins));
  bad_v2("v2-step-bin-97", h, RNJ_EFORMAT, "step_bins bin 97 is 8",
         "expected 6");
  /* a writer's float32 rounding is not another bin */
  h = json_deep_copy(good2_hdr);
  rnj_encoding_duration_bins_str(bins, sizeof bins);
  ASSERT(strncmp(bins, "0.0416666667,", 13) == 0);
  memcpy(bins, "0.0416666679", 12);
  set_meta(h, "duration_bins", json_string(bins));
  write_json("v2-float32-bins", h, good2_data, good2_data_len);
  {
    rnj_model_t m;
    ASSERT_OK(rnj_model_init(&m));
    if (rnj_ckpt_load(&m, at("v2-float32-bins"), err) != 0)
      FAIL("%s", err);
    ASSERT_EQ(m.kind, RNJ_MODEL_V2);
    rnj_model_free(&m);
  }

  h = json_deep_copy(good2_hdr);
  json_object_del(h, "velocity.kernel");
  bad_v2("v2-no-velocity", h, RNJ_EFORMAT,
         "tensor \"velocity.kernel\" is missing",
         "all 11 tensors of rnnjam-lstm-v2");
  h = json_deep_copy(good2_hdr);
  ASSERT_OK(json_object_set_new(entry(h, "step.kernel"), "shape",
                                json_pack("[ii]", 48, 97)));
  bad_v2("v2-step-shape", h, RNJ_ESHAPE, "shape is [48,97]",
         "expected [48,98]");
  /* a tutorial tensor in a v2 file */
  h = json_deep_copy(good2_hdr);
  ASSERT_OK(json_object_set(h, "bogus", entry(h, "velocity.bias")));
  bad_v2("v2-extra", h, RNJ_EFORMAT, "unknown tensor \"bogus\"",
         "11 tensors of rnnjam-lstm-v2");
  /* non-finite in the last tensor; offsets past the end */
  h = json_deep_copy(good2_hdr);
  b = begin_of(h, "velocity.bias");
  d = malloc(good2_data_len);
  ASSERT(d != NULL);
  memcpy(d, good2_data, good2_data_len);
  set_bits(d, (size_t)b / 4 + 31, 0x7f800000u);
  write_json("v2-inf", h, d, good2_data_len);
  expect_fail("v2-inf", RNJ_EFORMAT,
              "tensor \"velocity.bias\" element 31 is +Inf", NULL);
  free(d);
  {
    size_t n = (size_t)(good2_data - good2_file) + good2_data_len / 2;
    spit(at("v2-half"), good2_file, n);
  }
  expect_fail("v2-half", RNJ_EFORMAT, "past the end of the data section",
              NULL);
}

/* ------------------------------------------------------------ faults */

#define KILL_ROUNDS 40

/* A child saves version after version of a model over one path until it
 * is killed (SIGKILL: no handler runs, as with the OOM killer); the
 * parent kills it at a random moment after its first save, round after
 * round.  After every kill the file loads and is one whole version of
 * that round (its number is params[3]), and at most the one temporary
 * being written is left over, which the next save removes. */
static void test_kill_during_save(void) {
  const char *p = at("killed.safetensors");
  rnj_model_t base;
  rnj_model_t got;
  unsigned seed = 12345;
  struct timespec t0;
  struct timespec t1;
  long save_us;
  int round;
  int with_temp = 0;
  int newest = -1;

  ASSERT_OK(rnj_model_init(&base));
  ASSERT_OK(rnj_model_init(&got));
  fill(&base, 31);
  base.params[3] = -1.0f;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ASSERT_OK(rnj_ckpt_save(&base, p, err));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  /* How long one save takes here (with its fsyncs; much longer under
   * valgrind): the kills are spread over a few of them. */
  save_us = (t1.tv_sec - t0.tv_sec) * 1000000L +
            (t1.tv_nsec - t0.tv_nsec) / 1000 + 1;
  for (round = 0; round < KILL_ROUNDS; round++) {
    int status;
    int temps;
    int ready[2];
    char c;
    size_t i;
    pid_t pid;
    ASSERT_EQ(pipe(ready), 0);
    fflush(stdout);
    pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
      int k;
      close(ready[0]);
      for (k = 0;; k++) {
        base.params[3] = (float)(round * 100000 + k);
        if (rnj_ckpt_save(&base, p, err) < 0) {
          fprintf(stderr, "child: %s\n", err);
          _exit(3);
        }
        if (k == 0 && write(ready[1], "s", 1) != 1)
          _exit(4);
      }
    }
    close(ready[1]);
    /* after the child's first save (a fork can be slow to get going,
     * under valgrind above all), then within its next three */
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    usleep((useconds_t)(rand_r(&seed) % (3 * save_us)));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    if (rnj_ckpt_load(&got, p, err) != 0)
      FAIL("round %d: after SIGKILL: %s", round, err);
    /* one of this round's versions (its first save was complete) */
    ASSERT(got.params[3] >= (float)(round * 100000));
    ASSERT(got.params[3] < (float)((round + 1) * 100000));
    ASSERT(got.params[3] == floorf(got.params[3]));
    newest = (int)got.params[3];
    for (i = 0; i < RNJ_MODEL_NPARAMS; i++)
      if (i != 3 && memcmp(&got.params[i], &base.params[i], 4) != 0)
        FAIL("round %d: params[%zu] differs from every saved version",
             round, i);
    temps = count_temp_files();
    ASSERT(temps <= 1);
    with_temp += temps;
  }
  /* the dead writer's temporary goes with the next save */
  ASSERT_OK(rnj_ckpt_save(&base, p, err));
  ASSERT_EQ(count_temp_files(), 0);
  printf("kill during save: %d kills, %d left a temporary; the last found "
         "version %d (one save: %ld us)\n", KILL_ROUNDS, with_temp, newest,
         save_us);
  unlink(p);
  rnj_model_free(&base);
  rnj_model_free(&got);
}

/* In a child (the limit and the mount stay there): save `m` over `p`,
 * which must fail with `want` and leave `p` as `old` (`n` bytes), with no
 * temporary left.  Returns the exit status for the parent. */
static int full_disk_child(const rnj_model_t *m, const char *p,
                           const uint8_t *old, size_t n, int want) {
  char e[RNJ_ERR_LEN];
  uint8_t *now;
  size_t len;
  int rc = rnj_ckpt_save(m, p, e);
  if (rc != want) {
    fprintf(stderr, "save: %d (%s), expected %d\n", rc, e, want);
    return 1;
  }
  if (!strstr(e, p) || !strstr(e, "write")) {
    fprintf(stderr, "unclear message: %s\n", e);
    return 1;
  }
  printf("full disk: %s\n", e);
  fflush(stdout); /* the child leaves with _exit */
  now = slurp(p, &len);
  if (len != n || memcmp(now, old, n) != 0) {
    fprintf(stderr, "%s changed by the failed save\n", p);
    return 1;
  }
  free(now);
  return count_temp_files() == 0 ? 0 : 1;
}

static int wait_child(pid_t pid) {
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* A disk that fills up mid-write: the old checkpoint stays whole and no
 * temporary is left.  The file-size limit (write() fails with EFBIG once
 * SIGXFSZ is ignored) works for anyone; a real full file system (ENOSPC,
 * a 512 KiB tmpfs in a private mount namespace) needs root and is said to
 * be skipped otherwise. */
static void test_full_disk(void) {
  const char *p = at("full.safetensors");
  rnj_model_t m;
  uint8_t *old;
  size_t n;
  pid_t pid;
  int rc;

  ASSERT_OK(rnj_model_init(&m));
  fill(&m, 41);
  ASSERT_OK(rnj_ckpt_save(&m, p, err));
  old = slurp(p, &n);
  fill(&m, 42);

  fflush(stdout); /* or the children print it again */
  pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {100000, 100000};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
      _exit(2);
    rc = full_disk_child(&m, p, old, n, -EFBIG);
    /* a leak checker (make valgrind-unit) also judges the child's exit */
    free(old);
    rnj_model_free(&m);
    _exit(rc);
  }
  ASSERT_EQ(wait_child(pid), 0);

  pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    const char *mnt = at("tmpfs");
    char q[1200];
    uint8_t *small;
    size_t sn;
    free(old);
    /* (the private mount's type and source are ignored; "none" rather
     * than NULL keeps valgrind quiet) */
    if (mkdir(mnt, 0700) != 0 || unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=512k") != 0) {
      printf("full disk (ENOSPC on tmpfs): skipped: %s\n",
             strerror(errno));
      fflush(stdout);
      rnj_model_free(&m);
      _exit(77);
    }
    snprintf(q, sizeof q, "%s/full.safetensors", mnt);
    if (rnj_ckpt_save(&m, q, err) != 0)
      _exit(2);
    small = slurp(q, &sn);
    /* a second model does not fit beside the first */
    fill(&m, 43);
    rc = full_disk_child(&m, q, small, sn, -ENOSPC);
    if (rc == 0) {
      /* what the full disk did not break: space freed, saving works */
      unlink(q);
      rc = rnj_ckpt_save(&m, q, err) == 0 ? 0 : 1;
    }
    free(small);
    rnj_model_free(&m);
    _exit(rc);
  }
  rc = wait_child(pid);
  ASSERT(rc == 0 || rc == 77);
  rmdir(at("tmpfs"));

  free(old);
  unlink(p);
  rnj_model_free(&m);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s/test-ckpt.XXXXXX", test_tmp_dir());
  if (!mkdtemp(dir))
    FAIL("mkdtemp(%s): %s", dir, strerror(errno));
  ASSERT_OK(rnj_replace_allocator(c_malloc, c_realloc, c_calloc, c_free));

  test_round_trip();
  test_tolerated();
  test_bytes();
  test_json();
  test_meta();
  test_tensors();
  test_data();
  test_v2_round_trip();
  test_v2_refused();
  test_save();
  test_kill_during_save();
  test_full_disk();

  ASSERT_EQ(live, 0);
  json_decref(good_hdr);
  free(good_file);
  json_decref(good2_hdr);
  free(good2_file);
  remove_tree(dir);
  return 0;
}
