/* Checkpoints: the model in a safetensors file.
 *
 * Layout (the safetensors format): an 8-byte little-endian length N, N bytes
 * of JSON header, then the data section, which holds the tensors of
 * model.h (nine for rnnjam-lstm-v1, eleven for rnnjam-lstm-v2) as raw
 * little-endian F32.  The writer pads the header with spaces
 * so that the data starts at a multiple of 8, as safetensors writers do.
 *
 * The loader trusts nothing: every length is checked against the bytes that
 * are really there before it is used, and every field of the header against
 * what model.h expects, so a broken or foreign file gives one message naming
 * the field and the expected value.  The model is touched only after the
 * whole file has passed.  The metadata's "format" decides the kind, and
 * "hidden" the sizes every tensor must have; a v2 file must also carry the
 * encoding's constants (time unit, phases, the bin centres), so a model
 * trained for other bins is refused rather than played wrong.  It is
 * stricter than safetensors where a lenient reading could load the wrong
 * thing: only the tensors of the kind (no extras), no unknown fields in an
 * entry, no duplicate keys.  Header padding is accepted but not required.
 *
 * JSON goes through jansson.  Its internal allocations use jansson's own
 * allocator, not rnj__malloc: swapping jansson's is process-global and would
 * change it for the whole application.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"
#include "rnnjam/ckpt.h"
#include "rnnjam/encoding.h"

#define F32_EXP_MASK 0x7f800000u
#define F32_FRAC_MASK 0x007fffffu

/* Where the offsets of one tensor point, for the overlap check. */
typedef struct {
  uint64_t begin;
  uint64_t end;
  int tensor;
} span_t;

/* ---------------------------------------------------------------- bytes */

static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static void put_le64(uint8_t *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Host <-> little-endian for a float's bits (its own inverse). */
static uint32_t le32(uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return __builtin_bswap32(v);
#else
  return v;
#endif
}

/* Checked on the bits rather than with isfinite() so that the test holds
 * under -ffast-math too. */
static const char *nonfinite(uint32_t bits) {
  if ((bits & F32_EXP_MASK) != F32_EXP_MASK)
    return NULL;
  if (bits & F32_FRAC_MASK)
    return "NaN";
  return (bits >> 31) ? "-Inf" : "+Inf";
}

/* Finds the first NaN or Inf in `count` floats at `p` (little-endian bytes
 * when `le`, host floats otherwise); returns its name and sets *at. */
static const char *find_nonfinite(const void *p, size_t count, int le,
                                  size_t *at) {
  const uint8_t *b = p;
  size_t i;
  for (i = 0; i < count; i++) {
    uint32_t u;
    const char *what;
    memcpy(&u, b + 4 * i, 4);
    what = nonfinite(le ? le32(u) : u);
    if (what) {
      *at = i;
      return what;
    }
  }
  return NULL;
}

/* "element 1234 (row 9, column 82)" for 2-D tensors, "element 3" else. */
static void where(const rnj_tensor_info_t *t, size_t i, char *out,
                  size_t n) {
  if (t->ndim == 2)
    snprintf(out, n, "element %zu (row %zu, column %zu)", i,
             i / (size_t)t->shape[1], i % (size_t)t->shape[1]);
  else
    snprintf(out, n, "element %zu", i);
}

/* ----------------------------------------------------------- messages */

/* A JSON value, compact and ASCII, cut to fit `out`, for messages. */
static const char *show(const json_t *v, char *out, size_t n) {
  size_t k;
  if (!v) {
    snprintf(out, n, "missing");
    return out;
  }
  k = json_dumpb(v, out, n - 1, JSON_COMPACT | JSON_ENCODE_ANY |
                                    JSON_ENSURE_ASCII);
  if (k == 0) {
    snprintf(out, n, "?");
  } else if (k > n - 1) {
    out[n - 1] = 0;
    if (n > 4)
      memcpy(out + n - 4, "...", 3);
  } else {
    out[k] = 0;
  }
  return out;
}

static void shape_str(const rnj_tensor_info_t *t, char *out, size_t n) {
  if (t->ndim == 2)
    snprintf(out, n, "[%d,%d]", t->shape[0], t->shape[1]);
  else
    snprintf(out, n, "[%d]", t->shape[0]);
}

/* ----------------------------------------------------------- metadata */

/* A whole-string decimal integer (no spaces, no '+'). */
static int parse_long(const char *s, long *out) {
  char *end;
  if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' &&
                                       s[1] <= '9')))
    return -1;
  errno = 0;
  *out = strtol(s, &end, 10);
  return (errno || *end) ? -1 : 0;
}

static int meta_int(const char *name, const char *key, const char *v,
                    long lo, long hi, long *out, char *err) {
  if (parse_long(v, out) < 0 || *out < lo || *out > hi) {
    if (lo == hi)
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s: __metadata__.%s is \"%s\" (expected \"%ld\")",
                        name, key, v, lo);
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.%s is \"%s\" (expected an integer "
                      "in %ld..%ld)",
                      name, key, v, lo, hi);
  }
  return 0;
}

/* What the metadata says about the layout. */
typedef struct {
  int kind;
  int hidden;
  int seq_length;
  int n_meta;
} meta_info_t;

/* __metadata__.`key` must be the string `want`. */
static int meta_exact(json_t *md, const char *name, const char *key,
                      const char *want, char *err) {
  char buf[64];
  const char *s = json_string_value(json_object_get(md, key));
  if (!s || strcmp(s, want) != 0)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.%s is %s (expected \"%s\")", name,
                      key, show(json_object_get(md, key), buf, sizeof buf),
                      want);
  return 0;
}

/* __metadata__.`key` must list the n bin centres (comma-separated
 * numbers); a writer's own rounding (float32, fewer digits) is allowed,
 * another bin is not. */
static int meta_bins(json_t *md, const char *name, const char *key,
                     double (*centre)(int), int n, char *err) {
  const char *s = json_string_value(json_object_get(md, key));
  const char *p = s;
  int i;
  if (!s)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.%s is missing (expected the %d bin "
                      "centres of %s)",
                      name, key, n, RNJ_MODEL_V2_FORMAT);
  for (i = 0; *p; i++) {
    char *end;
    double v;
    double c;
    errno = 0;
    v = strtod(p, &end);
    if (end == p || errno || (*end && *end != ','))
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s: __metadata__.%s value %d is not a number "
                        "(expected comma-separated numbers)",
                        name, key, i);
    if (*end == ',' && !end[1])
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s: __metadata__.%s ends in a comma (expected "
                        "comma-separated numbers)",
                        name, key);
    if (i < n) {
      c = centre(i);
      if (!(fabs(v - c) <= 1e-6 * (c > 1 ? c : 1)))
        return rnj_errorf(err, RNJ_EFORMAT,
                          "%s: __metadata__.%s bin %d is %.9g (expected "
                          "%.9g: the bins of %s)",
                          name, key, i, v, c, RNJ_MODEL_V2_FORMAT);
    }
    p = *end ? end + 1 : end;
  }
  if (i != n)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.%s has %d bins (expected %d)", name,
                      key, i, n);
  return 0;
}

/* The tutorial model's own keys. */
static int check_meta_v1(json_t *md, const char *name, meta_info_t *info,
                         char *err) {
  const char *s;
  long l;
  double d;
  char *end;
  int rc;
  s = json_string_value(json_object_get(md, "hidden"));
  if (!s)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.hidden is missing (expected \"%d\")",
                      name, RNJ_MODEL_HIDDEN);
  rc = meta_int(name, "hidden", s, RNJ_MODEL_HIDDEN, RNJ_MODEL_HIDDEN, &l,
                err);
  if (rc < 0)
    return rc;
  /* A trainer may write the scale as a float ("128.0"); the value is what
   * must match, since pitch is fed as pitch / pitch_scale. */
  s = json_string_value(json_object_get(md, "pitch_scale"));
  if (!s)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.pitch_scale is missing (expected "
                      "\"%g\")",
                      name, (double)RNJ_MODEL_PITCH_SCALE);
  errno = 0;
  d = strtod(s, &end);
  if (!*s || *end || errno || d != (double)RNJ_MODEL_PITCH_SCALE)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.pitch_scale is \"%s\" (expected "
                      "\"%g\")",
                      name, s, (double)RNJ_MODEL_PITCH_SCALE);
  info->kind = RNJ_MODEL_TUTORIAL;
  info->hidden = RNJ_MODEL_HIDDEN;
  return 0;
}

/* The v2 model's: its size and the encoding it was trained with. */
static int check_meta_v2(json_t *md, const char *name, meta_info_t *info,
                         char *err) {
  char want[16];
  const char *s;
  long l;
  int rc;
  s = json_string_value(json_object_get(md, "hidden"));
  if (!s || parse_long(s, &l) < 0 || l < RNJ_MODEL_V2_HIDDEN_MIN ||
      l > RNJ_MODEL_V2_HIDDEN_MAX || l % 16 != 0) {
    char buf[64];
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.hidden is %s (expected a multiple "
                      "of 16 in %d..%d)",
                      name, show(json_object_get(md, "hidden"), buf,
                                 sizeof buf),
                      RNJ_MODEL_V2_HIDDEN_MIN, RNJ_MODEL_V2_HIDDEN_MAX);
  }
  rc = meta_exact(md, name, "time_unit", "beats", err);
  if (rc < 0)
    return rc;
  snprintf(want, sizeof want, "%d", RNJ_ENCODING_PHASES);
  rc = meta_exact(md, name, "phases", want, err);
  if (rc < 0)
    return rc;
  rc = meta_bins(md, name, "step_bins", rnj_encoding_step_centre,
                 RNJ_ENCODING_STEP_BINS, err);
  if (rc < 0)
    return rc;
  rc = meta_bins(md, name, "duration_bins", rnj_encoding_duration_centre,
                 RNJ_ENCODING_DURATION_BINS, err);
  if (rc < 0)
    return rc;
  snprintf(want, sizeof want, "%d", RNJ_ENCODING_VELOCITY_BINS);
  rc = meta_exact(md, name, "velocity_bins", want, err);
  if (rc < 0)
    return rc;
  info->kind = RNJ_MODEL_V2;
  info->hidden = (int)l;
  return 0;
}

/* Checks the "__metadata__" object `md` and copies it to meta[] (file
 * order); *info gets the kind, size and window length it describes.
 * Shared by load and save, so save never writes what load would refuse.
 * `name` starts every message. */
static int check_meta(json_t *md, const char *name, rnj_model_meta_t *meta,
                      meta_info_t *info, char *err) {
  const char *key;
  json_t *v;
  const char *s;
  char buf[64];
  long l;
  int n = 0;
  int rc;

  if (!md)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: header has no \"__metadata__\" (expected an "
                      "object of strings with \"format\":\"%s\")",
                      name, RNJ_MODEL_FORMAT);
  if (!json_is_object(md))
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__ is %s (expected an object of "
                      "strings)",
                      name, show(md, buf, sizeof buf));
  if (json_object_size(md) > RNJ_MODEL_META_MAX)
    return rnj_errorf(err, RNJ_ELIMIT,
                      "%s: __metadata__ has %zu entries (expected at most "
                      "%d)",
                      name, json_object_size(md), RNJ_MODEL_META_MAX);
  json_object_foreach(md, key, v) {
    if (!json_is_string(v))
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s: __metadata__.%s is %s (expected a string)", name,
                        key, show(v, buf, sizeof buf));
    if (strlen(key) >= RNJ_MODEL_META_KEY_LEN)
      return rnj_errorf(err, RNJ_ELIMIT,
                        "%s: __metadata__ key \"%.32s...\" is %zu bytes "
                        "(expected at most %d)",
                        name, key, strlen(key), RNJ_MODEL_META_KEY_LEN - 1);
    if (json_string_length(v) >= RNJ_MODEL_META_VALUE_LEN)
      return rnj_errorf(err, RNJ_ELIMIT,
                        "%s: __metadata__.%s is %zu bytes (expected at most "
                        "%d)",
                        name, key, json_string_length(v),
                        RNJ_MODEL_META_VALUE_LEN - 1);
    /* A NUL inside would silently cut the copy; jansson only lets one in
     * with JSON_ALLOW_NUL, but say so rather than rely on it. */
    if (strlen(json_string_value(v)) != json_string_length(v))
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s: __metadata__.%s contains a NUL byte", name, key);
    memcpy(meta[n].key, key, strlen(key) + 1);
    memcpy(meta[n].value, json_string_value(v), json_string_length(v) + 1);
    n++;
  }

  s = json_string_value(json_object_get(md, "format"));
  if (s && strcmp(s, RNJ_MODEL_FORMAT) == 0)
    rc = check_meta_v1(md, name, info, err);
  else if (s && strcmp(s, RNJ_MODEL_V2_FORMAT) == 0)
    rc = check_meta_v2(md, name, info, err);
  else
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "%s: __metadata__.format is %s (expected \"%s\" or "
                    "\"%s\")",
                    name, show(json_object_get(md, "format"), buf, sizeof buf),
                    RNJ_MODEL_FORMAT, RNJ_MODEL_V2_FORMAT);
  if (rc < 0)
    return rc;
  s = json_string_value(json_object_get(md, "seq_length"));
  if (!s)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: __metadata__.seq_length is missing (expected an "
                      "integer in 1..%d)",
                      name, RNJ_CKPT_SEQ_LENGTH_MAX);
  rc = meta_int(name, "seq_length", s, 1, RNJ_CKPT_SEQ_LENGTH_MAX, &l, err);
  if (rc < 0)
    return rc;
  info->seq_length = (int)l;
  info->n_meta = n;
  return 0;
}

/* ------------------------------------------------------------ tensors */

static int is_uint(const json_t *v) {
  return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* Checks one header entry against table entry `t` and the data section
 * size; fills *sp with its byte range. */
static int check_tensor(json_t *e, const rnj_tensor_info_t *t,
                        const char *name, uint64_t data_len, span_t *sp,
                        char *err) {
  const char *key;
  json_t *v;
  json_t *dtype;
  json_t *shape;
  json_t *offs;
  char buf[64];
  char want[32];
  uint64_t begin;
  uint64_t end;
  uint64_t bytes = 4 * (uint64_t)t->count;
  int d;

  if (!json_is_object(e))
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\" is %s (expected an object with "
                      "dtype, shape and data_offsets)",
                      name, t->name, show(e, buf, sizeof buf));
  json_object_foreach(e, key, v) {
    if (strcmp(key, "dtype") && strcmp(key, "shape") &&
        strcmp(key, "data_offsets"))
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s: tensor \"%s\" has an unknown field \"%s\" "
                        "(expected only dtype, shape and data_offsets)",
                        name, t->name, key);
  }

  dtype = json_object_get(e, "dtype");
  if (!json_is_string(dtype) || strcmp(json_string_value(dtype), "F32"))
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\": dtype is %s (expected \"F32\")",
                      name, t->name, show(dtype, buf, sizeof buf));

  shape = json_object_get(e, "shape");
  shape_str(t, want, sizeof want);
  if (!json_is_array(shape))
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\": shape is %s (expected %s)", name,
                      t->name, show(shape, buf, sizeof buf), want);
  for (d = 0; d < (int)json_array_size(shape); d++)
    if (!is_uint(json_array_get(shape, (size_t)d)))
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s: tensor \"%s\": shape is %s (expected %s, "
                        "non-negative integers)",
                        name, t->name, show(shape, buf, sizeof buf), want);
  if ((int)json_array_size(shape) != t->ndim)
    return rnj_errorf(err, RNJ_ESHAPE,
                      "%s: tensor \"%s\": shape is %s (expected %s)", name,
                      t->name, show(shape, buf, sizeof buf), want);
  for (d = 0; d < t->ndim; d++)
    if (json_integer_value(json_array_get(shape, (size_t)d)) !=
        t->shape[d])
      return rnj_errorf(err, RNJ_ESHAPE,
                        "%s: tensor \"%s\": shape is %s (expected %s)", name,
                        t->name, show(shape, buf, sizeof buf), want);

  offs = json_object_get(e, "data_offsets");
  if (!json_is_array(offs) || json_array_size(offs) != 2 ||
      !is_uint(json_array_get(offs, 0)) || !is_uint(json_array_get(offs, 1)))
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\": data_offsets is %s (expected two "
                      "non-negative integers [begin,end])",
                      name, t->name, show(offs, buf, sizeof buf));
  begin = (uint64_t)json_integer_value(json_array_get(offs, 0));
  end = (uint64_t)json_integer_value(json_array_get(offs, 1));
  if (end < begin)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\": data_offsets [%llu,%llu] end "
                      "before they begin (expected begin <= end)",
                      name, t->name, (unsigned long long)begin,
                      (unsigned long long)end);
  if (end - begin != bytes)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\": data_offsets [%llu,%llu] span %llu "
                      "bytes (expected %llu = 4 * %zu floats)",
                      name, t->name, (unsigned long long)begin,
                      (unsigned long long)end,
                      (unsigned long long)(end - begin),
                      (unsigned long long)bytes, t->count);
  if (end > data_len)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\": data_offsets [%llu,%llu] run past "
                      "the end of the data section (expected end <= %llu; "
                      "file truncated?)",
                      name, t->name, (unsigned long long)begin,
                      (unsigned long long)end, (unsigned long long)data_len);
  sp->begin = begin;
  sp->end = end;
  return 0;
}

/* The tensors must tile the data section exactly: sorted by begin, each
 * starts where the previous one ended, and the last ends at the end of the
 * data.  safetensors itself refuses holes and trailing bytes (the buffer
 * must be "entirely indexed"); for us unindexed bytes can only mean a
 * file that was written wrong or spliced, so they are an error too. */
static int check_tiling(span_t *sp, const rnj_tensor_info_t *t, int nt,
                        uint64_t data_len, const char *name, char *err) {
  uint64_t at = 0;
  int i;
  int j;

  for (i = 1; i < nt; i++) {
    span_t s = sp[i];
    for (j = i; j > 0 && sp[j - 1].begin > s.begin; j--)
      sp[j] = sp[j - 1];
    sp[j] = s;
  }
  for (i = 0; i < nt; i++) {
    if (sp[i].begin < at)
      return rnj_errorf(
          err, RNJ_EFORMAT,
          "%s: tensors \"%s\" [%llu,%llu] and \"%s\" [%llu,%llu] overlap "
          "(expected disjoint data_offsets)",
          name, t[sp[i - 1].tensor].name,
          (unsigned long long)sp[i - 1].begin,
          (unsigned long long)sp[i - 1].end, t[sp[i].tensor].name,
          (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end);
    if (sp[i].begin > at)
      return rnj_errorf(err, RNJ_EFORMAT,
                        "%s: data bytes %llu..%llu belong to no tensor "
                        "(expected the tensors to cover the data section "
                        "without gaps)",
                        name, (unsigned long long)at,
                        (unsigned long long)sp[i].begin);
    at = sp[i].end;
  }
  if (at != data_len)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: %llu trailing bytes after the last tensor "
                      "(expected the data section to end at byte %llu)",
                      name, (unsigned long long)(data_len - at),
                      (unsigned long long)at);
  return 0;
}

/* ---------------------------------------------------------------- load */

int rnj_ckpt_load_mem(rnj_model_t *model, const uint8_t *buf, size_t len,
                      const char *name, char *err) {
  rnj_tensor_info_t t[RNJ_MODEL_TENSORS_MAX];
  rnj_model_meta_t meta[RNJ_MODEL_META_MAX];
  span_t sp[RNJ_MODEL_TENSORS_MAX];
  meta_info_t info;
  json_error_t jerr;
  json_t *root;
  json_t *e;
  const char *key;
  const char *format;
  const uint8_t *data;
  uint64_t hlen;
  uint64_t data_len;
  char at[96];
  size_t nparams;
  int nt;
  int rc;
  int i;
  size_t k;

  if (!name)
    name = "(memory)";
  if (!model || !model->params)
    return rnj_errorf(err, RNJ_EINVAL, "%s: model is not initialised",
                      name);
  if (len < 8)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: file is %zu bytes, too short for a safetensors "
                      "header (expected at least 8)",
                      name, len);
  hlen = get_le64(buf);
  if (hlen == 0)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: header length is 0 (expected a JSON header)",
                      name);
  if (hlen > RNJ_CKPT_HEADER_MAX)
    return rnj_errorf(err, RNJ_ELIMIT,
                      "%s: header length is %llu bytes (expected at most "
                      "%u)",
                      name, (unsigned long long)hlen, RNJ_CKPT_HEADER_MAX);
  if (hlen > len - 8)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: header length %llu runs past the end of the file "
                      "(expected at most %zu; file truncated?)",
                      name, (unsigned long long)hlen, len - 8);
  data = buf + 8 + hlen;
  data_len = len - 8 - hlen;

  /* Duplicate keys would make "which tensor is it" ambiguous. */
  root = json_loadb((const char *)buf + 8, (size_t)hlen,
                    JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return rnj_errorf(err, RNJ_EFORMAT,
                      "%s: header is not valid JSON: %s (line %d, column "
                      "%d)",
                      name, jerr.text, jerr.line, jerr.column);
  if (!json_is_object(root)) {
    rc = rnj_errorf(err, RNJ_EFORMAT,
                    "%s: header is not a JSON object (expected {...})",
                    name);
    goto out;
  }

  rc = check_meta(json_object_get(root, "__metadata__"), name, meta, &info,
                  err);
  if (rc < 0)
    goto out;
  /* The metadata decides which tensors, of which shapes, must be there. */
  rc = rnj_model_layout(info.kind, info.hidden, t, &nt, &nparams);
  if (rc < 0)
    goto out;
  format = rnj_model_format(info.kind);

  for (i = 0; i < nt; i++) {
    e = json_object_get(root, t[i].name);
    if (!e) {
      rc = rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\" is missing (expected all %d "
                      "tensors of %s)",
                      name, t[i].name, nt, format);
      goto out;
    }
  }
  json_object_foreach(root, key, e) {
    if (strcmp(key, "__metadata__") == 0)
      continue;
    for (i = 0; i < nt; i++)
      if (strcmp(key, t[i].name) == 0)
        break;
    if (i == nt) {
      rc = rnj_errorf(err, RNJ_EFORMAT,
                      "%s: unknown tensor \"%s\" (expected only the %d "
                      "tensors of %s)",
                      name, key, nt, format);
      goto out;
    }
  }
  for (i = 0; i < nt; i++) {
    sp[i].tensor = i;
    rc = check_tensor(json_object_get(root, t[i].name), &t[i], name,
                      data_len, &sp[i], err);
    if (rc < 0)
      goto out;
  }
  rc = check_tiling(sp, t, nt, data_len, name, err);
  if (rc < 0)
    goto out;

  /* check_tiling sorted sp; find each tensor's range again by index. */
  for (i = 0; i < nt; i++) {
    const span_t *s = NULL;
    const char *what;
    int j;
    for (j = 0; j < nt; j++)
      if (sp[j].tensor == i)
        s = &sp[j];
    what = find_nonfinite(data + s->begin, t[i].count, 1, &k);
    if (what) {
      where(&t[i], k, at, sizeof at);
      rc = rnj_errorf(err, RNJ_EFORMAT,
                      "%s: tensor \"%s\" %s is %s (expected finite values)",
                      name, t[i].name, at, what);
      goto out;
    }
  }

  /* All checks passed: only now does the model change, first to the
   * file's layout (a new block only when the size differs). */
  rc = rnj__model_adopt(model, info.kind, info.hidden);
  if (rc < 0) {
    rc = rnj_errorf(err, rc, "%s: %s model of %zu parameters: %s", name,
                    format, nparams, rnj_strerror(rc));
    goto out;
  }
  for (i = 0; i < nt; i++) {
    const span_t *s = NULL;
    float *dst = model->params + t[i].offset;
    int j;
    for (j = 0; j < nt; j++)
      if (sp[j].tensor == i)
        s = &sp[j];
    for (k = 0; k < t[i].count; k++) {
      uint32_t u;
      memcpy(&u, data + s->begin + 4 * k, 4);
      u = le32(u);
      memcpy(&dst[k], &u, 4);
    }
  }
  memset(model->meta, 0, sizeof model->meta);
  memcpy(model->meta, meta, (size_t)info.n_meta * sizeof meta[0]);
  model->n_meta = info.n_meta;
  model->seq_length = info.seq_length;
  rc = 0;

out:
  json_decref(root);
  return rc;
}

int rnj_ckpt_load(rnj_model_t *model, const char *path, char *err) {
  uint8_t *buf;
  size_t len;
  int rc;

  rc = rnj__read_file(path, RNJ_CKPT_FILE_MAX, &buf, &len, err);
  if (rc < 0)
    return rc;
  rc = rnj_ckpt_load_mem(model, buf, len, path, err);
  rnj__free(buf);
  return rc;
}

/* ---------------------------------------------------------------- save */

/* json_object_set_new that reports failure (it steals `v` either way). */
static int put(json_t *obj, const char *key, json_t *v) {
  return (v && json_object_set_new(obj, key, v) == 0) ? 0 : -1;
}

/* Builds the header object for `model` into *out.  Returns 0, RNJ_EINVAL
 * (metadata load would refuse) or RNJ_ENOMEM. */
static int build_header(const rnj_model_t *model, const char *path,
                        json_t **out, char *err) {
  const rnj_tensor_info_t *t = model->tensors;
  rnj_model_meta_t meta[RNJ_MODEL_META_MAX];
  char prefix[PATH_MAX + 16];
  char num[32];
  meta_info_t info;
  json_t *root;
  json_t *md;
  json_t *e;
  uint64_t off = 0;
  int rc;
  int i;

  *out = NULL;
  root = json_object();
  if (!root)
    goto fail_nomem;
  md = json_object();
  if (put(root, "__metadata__", md) < 0)
    goto fail_nomem;
  if (model->n_meta > RNJ_MODEL_META_MAX) {
    rc = rnj_errorf(err, RNJ_EINVAL,
                    "%s: not saved: model has %d metadata entries "
                    "(expected at most %d)",
                    path, model->n_meta, RNJ_MODEL_META_MAX);
    goto fail;
  }
  for (i = 0; i < model->n_meta; i++) {
    const rnj_model_meta_t *m = &model->meta[i];
    if (json_object_get(md, m->key)) {
      rc = rnj_errorf(err, RNJ_EINVAL,
                      "%s: not saved: metadata key \"%s\" appears twice",
                      path, m->key);
      goto fail;
    }
    /* jansson refuses strings that are not UTF-8. */
    if (put(md, m->key, json_string(m->value)) < 0) {
      rc = rnj_errorf(err, RNJ_EINVAL,
                      "%s: not saved: metadata \"%.64s\" is not valid "
                      "UTF-8",
                      path, m->key);
      goto fail;
    }
  }
  /* The field is what the code uses; the string follows it. */
  snprintf(num, sizeof num, "%d", model->seq_length);
  if (put(md, "seq_length", json_string(num)) < 0)
    goto fail_nomem;
  snprintf(prefix, sizeof prefix, "%s: not saved", path);
  if (check_meta(md, prefix, meta, &info, err) < 0) {
    rc = RNJ_EINVAL;
    goto fail;
  }
  /* The metadata must describe this model, or the file would not load. */
  if (info.kind != model->kind || info.hidden != model->hidden) {
    rc = rnj_errorf(err, RNJ_EINVAL,
                    "%s: __metadata__ describes a %s model with hidden "
                    "%d (expected %s, hidden %d: the model's own)",
                    prefix, rnj_model_format(info.kind), info.hidden,
                    rnj_model_format(model->kind), model->hidden);
    goto fail;
  }

  for (i = 0; i < model->ntensors; i++) {
    json_t *shape;
    json_t *offs;
    int d;
    /* Each new value goes into its parent at once, so one decref of root
     * frees everything on any failure; the pointers stay borrowed. */
    e = json_object();
    if (put(root, t[i].name, e) < 0 ||
        put(e, "dtype", json_string("F32")) < 0)
      goto fail_nomem;
    shape = json_array();
    if (put(e, "shape", shape) < 0)
      goto fail_nomem;
    offs = json_array();
    if (put(e, "data_offsets", offs) < 0)
      goto fail_nomem;
    for (d = 0; d < t[i].ndim; d++)
      if (json_array_append_new(shape, json_integer(t[i].shape[d])) < 0)
        goto fail_nomem;
    if (json_array_append_new(offs, json_integer((json_int_t)off)) < 0)
      goto fail_nomem;
    off += 4 * (uint64_t)t[i].count;
    if (json_array_append_new(offs, json_integer((json_int_t)off)) < 0)
      goto fail_nomem;
  }
  *out = root;
  return 0;

fail_nomem:
  rc = rnj_errorf(err, RNJ_ENOMEM,
                  "%s: building the JSON header: out of memory", path);
fail:
  json_decref(root);
  return rc;
}

int rnj_ckpt_save(const rnj_model_t *model, const char *path, char *err) {
  const rnj_tensor_info_t *t;
  const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
  struct iovec iov[2];
  json_t *root;
  uint8_t *hdr;
  float *swapped = NULL;
  size_t n;
  size_t padded;
  size_t k;
  char at[96];
  int rc;
  int i;

  if (!model || !model->params || !rnj_model_format(model->kind))
    return rnj_errorf(err, RNJ_EINVAL, "%s: not saved: model is not "
                                       "initialised", path);
  t = model->tensors;
  for (i = 0; i < model->ntensors; i++) {
    const char *what = find_nonfinite(model->params + t[i].offset,
                                      t[i].count, 0, &k);
    if (what) {
      where(&t[i], k, at, sizeof at);
      return rnj_errorf(err, RNJ_EINVAL,
                        "%s: not saved: tensor \"%s\" %s is %s (expected "
                        "finite values)",
                        path, t[i].name, at, what);
    }
  }

  rc = build_header(model, path, &root, err);
  if (rc < 0)
    return rc;
  n = json_dumpb(root, NULL, 0, flags);
  if (n == 0) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "%s: json_dumpb: cannot encode the "
                                     "header", path);
    goto out_json;
  }
  /* Spaces up to a multiple of 8 so the F32 data is aligned in the file,
   * which lets readers map it directly; JSON ignores them. */
  padded = (n + 7) & ~(size_t)7;
  hdr = rnj__malloc(8 + padded);
  if (!hdr) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", path);
    goto out_json;
  }
  put_le64(hdr, padded);
  if (json_dumpb(root, (char *)hdr + 8, n, flags) != n) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "%s: json_dumpb: cannot encode the "
                                     "header", path);
    goto out_hdr;
  }
  memset(hdr + 8 + n, ' ', padded - n);

  iov[0].iov_base = hdr;
  iov[0].iov_len = 8 + padded;
  iov[1].iov_len = model->nparams * sizeof(float);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  swapped = rnj__malloc(model->nparams * sizeof(float));
  if (!swapped) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", path);
    goto out_hdr;
  }
  for (k = 0; k < model->nparams; k++) {
    uint32_t u;
    memcpy(&u, &model->params[k], 4);
    u = le32(u);
    memcpy(&swapped[k], &u, 4);
  }
  iov[1].iov_base = swapped;
#else
  /* Table order is the order of params, so the block goes out as is. */
  iov[1].iov_base = (void *)model->params;
#endif
  rc = rnj__write_atomic(path, iov, 2, err);
  rnj__free(swapped);
out_hdr:
  rnj__free(hdr);
out_json:
  json_decref(root);
  return rc;
}
