/* The model's parameters, for either kind of model rnnjam knows.
 *
 * Tensors are kept exactly in the checkpoint's (Keras) layout, row-major, in
 * one contiguous block of `nparams` floats that rnj_model_t owns, in the
 * order of its tensor table.  Gate order along the 4*hidden axis is
 * i, f, c, o (Keras).
 *
 * The tutorial's model ("rnnjam-lstm-v1"), H = 128:
 *   lstm.kernel            (3, 512)     input -> gates
 *   lstm.recurrent_kernel  (128, 512)   h -> gates
 *   lstm.bias              (512)
 *   pitch.kernel           (128, 128)   h -> pitch logits
 *   pitch.bias             (128)
 *   step.kernel            (128, 1)
 *   step.bias              (1)
 *   duration.kernel        (128, 1)
 *   duration.bias          (1)
 * The inputs of one note are (pitch / pitch_scale, step, duration), in
 * seconds.
 *
 * The v2 model ("rnnjam-lstm-v2"), H a multiple of 16 from 16 to 512
 * (encoding.h says what the rows and bins mean):
 *   lstm.kernel            (186, 4H)
 *   lstm.recurrent_kernel  (H, 4H)
 *   lstm.bias              (4H)
 *   pitch.kernel (H, 128)     pitch.bias (128)
 *   step.kernel (H, 98)       step.bias (98)
 *   duration.kernel (H, 102)  duration.bias (102)
 *   velocity.kernel (H, 32)   velocity.bias (32)
 *
 * This is the immutable side (llama2.c's TransformerWeights); inference
 * builds its own packed copy (net.h), and what a step mutates lives in the
 * caller's state.
 */
#ifndef RNNJAM_MODEL_H
#define RNNJAM_MODEL_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The tutorial's model.  These stay its constants; a model of either kind
 * carries its own sizes (kind, hidden, input, nparams, tensors). */
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

/* The v2 model. */
#define RNJ_MODEL_V2_FORMAT "rnnjam-lstm-v2"
#define RNJ_MODEL_V2_INPUT 186
#define RNJ_MODEL_V2_HIDDEN 128 /* the default */
#define RNJ_MODEL_V2_HIDDEN_MIN 16
#define RNJ_MODEL_V2_HIDDEN_MAX 512 /* and a multiple of 16 */
#define RNJ_MODEL_V2_NTENSORS 11
/* 186*512 + 128*512 + 512 + 128*(128+98+102+32) + (128+98+102+32) */
#define RNJ_MODEL_V2_NPARAMS 207720 /* at the default hidden */

/* Most tensors of any kind. */
#define RNJ_MODEL_TENSORS_MAX 11

typedef enum {
  RNJ_MODEL_TUTORIAL = 1, /* rnnjam-lstm-v1 */
  RNJ_MODEL_V2 = 2        /* rnnjam-lstm-v2 */
} rnj_model_kind_t;

/* Metadata entries a model holds: a v2 checkpoint's own eight, and what
 * rnnjam-train records of a run (34 in all for v2). */
#define RNJ_MODEL_META_MAX 48
#define RNJ_MODEL_META_KEY_LEN 64
/* Room for the v2 bin centres (about 1,200 bytes each). */
#define RNJ_MODEL_META_VALUE_LEN 2048

typedef struct rnj_model_meta_s {
  char key[RNJ_MODEL_META_KEY_LEN];
  char value[RNJ_MODEL_META_VALUE_LEN];
} rnj_model_meta_t;

/* One tensor of the table: its checkpoint name, shape and place. */
typedef struct rnj_tensor_info_s {
  const char *name; /* e.g. "lstm.kernel" */
  int ndim;         /* 1 or 2 */
  int shape[2];
  size_t offset; /* in floats, from the start of params */
  size_t count;  /* number of floats */
} rnj_tensor_info_t;

typedef struct rnj_model_s {
  float *params; /* (nparams) owned block; the pointers below point into
                    it, in the order of the tensor table */
  float *kernel;           /* (input, 4H) */
  float *recurrent_kernel; /* (H, 4H) */
  float *bias;             /* (4H) */
  float *pitch_kernel;     /* (H, 128) */
  float *pitch_bias;       /* (128) */
  float *step_kernel;      /* (H, 1) tutorial, (H, 98) v2 */
  float *step_bias;        /* (1) or (98) */
  float *duration_kernel;  /* (H, 1) or (H, 102) */
  float *duration_bias;    /* (1) or (102) */
  int seq_length;          /* window length the model was trained on */
  /* Free-form string metadata from the checkpoint (format, seq_length,
   * hidden, and the kind's own keys, and whatever the trainer recorded). */
  rnj_model_meta_t meta[RNJ_MODEL_META_MAX];
  int n_meta;
  /* The layout of this instance (set by init, changed only by a load of
   * a checkpoint of another kind or size). */
  int kind;                /* rnj_model_kind_t */
  int hidden;              /* H */
  int input;               /* rows of lstm.kernel: 3 or 186 */
  size_t nparams;          /* floats in params */
  int ntensors;            /* 9 or 11 */
  rnj_tensor_info_t tensors[RNJ_MODEL_TENSORS_MAX];
  float *velocity_kernel;  /* (H, 32), v2 only (else NULL) */
  float *velocity_bias;    /* (32), v2 only */
} rnj_model_t;

/* The tutorial model's table of its RNJ_MODEL_NTENSORS tensors, in order.
 * Static.  (A model of any kind has its own in model->tensors.) */
RNJ_EXTERN const rnj_tensor_info_t *rnj_model_tensors(void);

/* A tutorial model: allocate the parameter block (zeroed), point the
 * tensors into it and set the default metadata (format, seq_length,
 * hidden, pitch_scale).  Returns 0 or RNJ_ENOMEM.  `model` is
 * caller-allocated. */
RNJ_EXTERN int rnj_model_init(rnj_model_t *model);

/* The same for a model of `kind` with `hidden` units (the tutorial's must
 * be 128; v2: a multiple of 16 in 16..512).  The default metadata of v2:
 * format, seq_length, hidden, time_unit, phases, step_bins, duration_bins
 * and velocity_bins, as a v2 checkpoint must carry them.  Returns 0,
 * RNJ_EINVAL (kind or hidden) or RNJ_ENOMEM. */
RNJ_EXTERN int rnj_model_init_kind(rnj_model_t *model, int kind,
                                   int hidden);

/* Release the block.  Safe on a zeroed or already-freed model. */
RNJ_EXTERN void rnj_model_free(rnj_model_t *model);

/* Copy all parameters, metadata and the layout of `src` into an
 * initialised `dst` (its block is reallocated when the layouts differ).
 * Returns 0, or RNJ_ENOMEM with `dst` unchanged. */
RNJ_EXTERN int rnj_model_copy(rnj_model_t *dst, const rnj_model_t *src);

/* The layout a model of `kind` and `hidden` has: its tensor table (up to
 * RNJ_MODEL_TENSORS_MAX entries, names static) into `tensors`, the count
 * into *ntensors and the parameter count into *nparams.  Returns 0 or
 * RNJ_EINVAL (as rnj_model_init_kind). */
RNJ_EXTERN int rnj_model_layout(int kind, int hidden,
                                rnj_tensor_info_t *tensors, int *ntensors,
                                size_t *nparams);

/* The kind's format string ("rnnjam-lstm-v1", "rnnjam-lstm-v2"), or NULL.
 * Static. */
RNJ_EXTERN const char *rnj_model_format(int kind);

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
