/* Checkpoints: the model's tensors in a safetensors file.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON header,
 * then raw little-endian F32 data.  The header maps each tensor name of
 * model.h to {"dtype":"F32","shape":[...],"data_offsets":[begin,end]} and
 * holds "__metadata__" (string -> string) with at least "format",
 * "seq_length" and "hidden", and by format:
 *   "rnnjam-lstm-v1" (the tutorial's): "pitch_scale" (128);
 *   "rnnjam-lstm-v2": "time_unit" ("beats"), "phases" ("24"),
 *     "step_bins" and "duration_bins" (the bin centres in beats,
 *     comma-separated), "velocity_bins" ("32"); "hidden" a multiple of 16
 *     in 16..512.
 *
 * Loading validates everything and reports exactly what is wrong; saving is
 * atomic (temporary file in the same directory, fsync, rename, fsync of the
 * directory), so a crash never leaves a half-written file under the name.
 */
#ifndef RNNJAM_CKPT_H
#define RNNJAM_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest JSON header accepted (bytes): bounds the allocation made from a
 * length read out of the file. */
#define RNJ_CKPT_HEADER_MAX (1u << 20)

/* Largest checkpoint file rnj_ckpt_load reads (bytes).  A tutorial model is
 * about 330 KiB, the largest v2 model (hidden 512) about 7 MiB; the bound
 * refuses a huge or wrong file before allocating. */
#define RNJ_CKPT_FILE_MAX (64u << 20)

/* Accepted range of the "seq_length" metadata (window length in notes). */
#define RNJ_CKPT_SEQ_LENGTH_MAX 10000

/* Load the checkpoint at `path` into an initialised `model` (rnj_model_init
 * or rnj_model_init_kind, of any kind): the file's kind and size (the
 * model's block is reallocated when its size differs), every parameter,
 * model->meta (all "__metadata__" entries, in file order) and
 * model->seq_length.  Nothing in `model` changes unless the whole file is
 * valid.  On failure `err` says "PATH: what is wrong (expected ...)".
 * Returns 0, a negative errno (open/read), RNJ_ELIMIT (file, header or
 * metadata too large), RNJ_ESHAPE (a tensor's shape) or RNJ_EFORMAT
 * (anything else).  Not RT-safe (reads a file, allocates). */
RNJ_EXTERN int rnj_ckpt_load(rnj_model_t *model, const char *path, char *err);

/* The same from the `len` bytes at `buf` (borrowed, not kept); `name`
 * (may be NULL) stands for the path in messages. */
RNJ_EXTERN int rnj_ckpt_load_mem(rnj_model_t *model, const uint8_t *buf,
                                 size_t len, const char *name, char *err);

/* Write `model` (tensors and all metadata) atomically to `path`.  The
 * "seq_length" entry is written from model->seq_length.  The same model
 * always gives the same bytes.  Refuses (RNJ_EINVAL, nothing written) a
 * model that rnj_ckpt_load would reject: a NaN or Inf parameter, or
 * metadata that is missing, wrong, too large or of another kind or size
 * than the model.  Otherwise returns 0,
 * RNJ_ENOMEM or a negative errno with `err` naming the failing call. */
RNJ_EXTERN int rnj_ckpt_save(const rnj_model_t *model, const char *path,
                             char *err);

#ifdef __cplusplus
}
#endif
#endif
