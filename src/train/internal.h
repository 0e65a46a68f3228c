/* The trainer's internals: what the files of src/train/ share, and nothing
 * outside them sees (never installed, never exported).  Names that cross
 * files are rnj__train_*; each file keeps the rest static.
 *
 * The files, by job (each opens with its own paragraph):
 *   data.c    the data set, the split by file, each epoch's shuffle.
 *   train.c   (for now) everything else.
 */
#ifndef RNNJAM_TRAIN_INTERNAL_H
#define RNNJAM_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../internal.h"
#include "rnnjam/sample.h"
#include "rnnjam/train.h"

/* The tutorial model's sizes, short, as every shape comment uses them. */
#define H RNJ_MODEL_HIDDEN
#define G RNJ_MODEL_GATES
#define P RNJ_MODEL_PITCHES

/* ------------------------------------------------------------------ RNG */

/* xoshiro256** seeded through splitmix64.  Every stream is derived from
 * (seed, stream id) alone, so nothing but the seed needs saving to replay
 * one; tests/reference_train.py reimplements this to shuffle identically.
 * Streams: the initial weights, the split of the files, and one per
 * epoch's shuffle (STREAM_EPOCH + epoch). */
#define RNJ__TRAIN_STREAM_INIT 1
#define RNJ__TRAIN_STREAM_SPLIT 2
#define RNJ__TRAIN_STREAM_EPOCH 1000

static inline void rnj__train_rng_seed(rnj_rng_t *r, uint64_t seed,
                                       uint64_t stream) {
  rnj_rng_seed(r, seed ^ (stream * 0xd1342543de82ef95ull));
}

#endif
