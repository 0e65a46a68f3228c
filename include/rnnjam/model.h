/* The model's parameters: the tutorial's LSTM(128) and its three heads.
 *
 * Tensors are kept exactly in the checkpoint's (Keras) layout, row-major, in
 * one contiguous block of RNJ_MODEL_NPARAMS floats that rnj_model_t owns.
 * Gate order along the 4*hidden axis is i, f, c, o (Keras).
 *
 *   lstm.kernel            (3, 512)     input -> gates
 *   lstm.recurrent_kernel  (128, 512)   h -> gates
 *   lstm.bias              (512)
 *   pitch.kernel           (128, 128)   h -> pitch logits
 *   pitch.bias             (128)
 *   step.kernel            (128, 1)
 *   step.bias              (1)
 *   duration.kernel        (128, 1)
 *   duration.bias          (1)
 *
 * The inputs of one note are (pitch / pitch_scale, step, duration).
 * This is the immutable side (llama2.c's TransformerWeights); what a step
 * mutates lives in rnj_lstm_state_t (lstm.h).
 */
#ifndef RNNJAM_MODEL_H
#define RNNJAM_MODEL_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RNJ_MODEL_INPUT 3
#define RNJ_MODEL_HIDDEN 128
#define RNJ_MODEL_GATES (4 * RNJ_MODEL_HIDDEN)
#define RNJ_MODEL_PITCHES 128
#define RNJ_MODEL_SEQ_LENGTH 25
#define RNJ_MODEL_PITCH_SCALE 128.0f
#define RNJ_MODEL_NTENSORS 9
/* 3*512 + 128*512 + 512 + 128*128 + 128 + 128 + 1 + 128 + 1 */
#define RNJ_MODEL_NPARAMS 84354
#define RNJ_MODEL_FORMAT "rnnjam-lstm-v1"

#define RNJ_MODEL_META_MAX 32
#define RNJ_MODEL_META_KEY_LEN 64
#define RNJ_MODEL_META_VALUE_LEN 512

typedef struct rnj_model_meta_s {
  char key[RNJ_MODEL_META_KEY_LEN];
  char value[RNJ_MODEL_META_VALUE_LEN];
} rnj_model_meta_t;

typedef struct rnj_model_s {
  float *params; /* (RNJ_MODEL_NPARAMS) owned block; the pointers below
                    point into it, in the order of the table above */
  float *kernel;           /* (3, 512) */
  float *recurrent_kernel; /* (128, 512) */
  float *bias;             /* (512) */
  float *pitch_kernel;     /* (128, 128) */
  float *pitch_bias;       /* (128) */
  float *step_kernel;      /* (128, 1) */
  float *step_bias;        /* (1) */
  float *duration_kernel;  /* (128, 1) */
  float *duration_bias;    /* (1) */
  int seq_length;          /* window length the model was trained on */
  /* Free-form string metadata from the checkpoint (format, seq_length,
   * hidden, pitch_scale and whatever the trainer recorded). */
  rnj_model_meta_t meta[RNJ_MODEL_META_MAX];
  int n_meta;
} rnj_model_t;

/* One tensor of the table: its checkpoint name, shape and place. */
typedef struct rnj_tensor_info_s {
  const char *name; /* e.g. "lstm.kernel" */
  int ndim;         /* 1 or 2 */
  int shape[2];
  size_t offset; /* in floats, from the start of params */
  size_t count;  /* number of floats */
} rnj_tensor_info_t;

/* The fixed table of the RNJ_MODEL_NTENSORS tensors, in order.  Static. */
RNJ_EXTERN const rnj_tensor_info_t *rnj_model_tensors(void);

/* Allocate the parameter block (zeroed), point the tensors into it and set
 * the default metadata (format, seq_length, hidden, pitch_scale).
 * Returns 0 or RNJ_ENOMEM.  `model` is caller-allocated. */
RNJ_EXTERN int rnj_model_init(rnj_model_t *model);

/* Release the block.  Safe on a zeroed or already-freed model. */
RNJ_EXTERN void rnj_model_free(rnj_model_t *model);

/* Copy all parameters and metadata of `src` into an initialised `dst`. */
RNJ_EXTERN void rnj_model_copy(rnj_model_t *dst, const rnj_model_t *src);

/* Set (add or replace) a metadata entry; the strings are copied, truncated
 * to the field sizes.  Returns 0 or RNJ_ELIMIT when the table is full. */
RNJ_EXTERN int rnj_model_set_meta(rnj_model_t *model, const char *key,
                                  const char *value);

/* The value of metadata `key`, or NULL.  Borrowed from `model`. */
RNJ_EXTERN const char *rnj_model_get_meta(const rnj_model_t *model,
                                          const char *key);

#ifdef __cplusplus
}
#endif
#endif
