/* Training: either model (model.h) on note windows, its loss and Keras'
 * Adam.
 *
 * A window is seq_length consecutive notes of one file and the note after
 * it, the target.  The tutorial arch (RNJ_MODEL_TUTORIAL) sees each note
 * as (pitch/128, step, duration) in seconds and predicts the pitch class
 * and regresses step and duration (loss.h's loss).  The v2 arch
 * (RNJ_MODEL_V2, encoding.h) sees the pitch, onset phase and velocity bin
 * as one-hot rows and log1p of step and duration in beats, and predicts
 * the pitch and the step, duration and velocity bins: loss CE(pitch) +
 * 0.5 (CE(step) + CE(duration) + CE(velocity)).  Each training window of
 * v2 is transposed by a random number of semitones (rnj_train_shift).
 * Losses are averaged over the batch; the optimiser is Keras' Adam, after
 * an optional global grad-norm clip (v2's default: 1).  Initialisation
 * follows Keras: glorot-uniform kernels, an orthogonal recurrent kernel,
 * zero biases with the LSTM's forget-gate bias at 1.
 *
 * Layers come in _forward/_backward pairs over batched matrix products
 * (own AVX-512 kernels where the CPU has them, OpenBLAS SGEMM otherwise);
 * the batch is split over the trainer's own threads, each with its own
 * gradient, summed in a fixed order, so the same seed, thread count and
 * kernel set give the same weights bit for bit.
 *
 * Objects:
 *   rnj_train_data_t   every file's notes, as model inputs and targets;
 *   rnj_train_split_t  the windows of the training and validation files;
 *   rnj_train_t        weights, gradient, Adam moments and the workers.
 * rnj_train_fit runs the epochs: shuffling, transposition, validation,
 * checkpoints, early stopping and resume.  Nothing here prints; progress
 * goes to a callback.  None of this is RT-safe: it allocates, writes files
 * and starts threads.
 */
#ifndef RNNJAM_TRAIN_H
#define RNNJAM_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"
#include "loss.h"
#include "lstm.h"
#include "model.h"
#include "notes.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RNJ_TRAIN_MAX_THREADS 64
#define RNJ_TRAIN_MAX_BATCH 65536
#define RNJ_TRAIN_MAX_SEQ_LENGTH 10000
#define RNJ_TRAIN_PATH_LEN 4096

/* v2: the learning rate of rnj_train_config_v2 (see rnnjam-train --help
 * for how it was chosen), the weight of the step, duration and velocity
 * losses against the pitch's, the widest transposition asked for, and
 * the range of pitches transposition keeps every note in (the piano). */
#define RNJ_TRAIN_V2_LR 0.002
#define RNJ_TRAIN_V2_HEAD_WEIGHT 0.5
#define RNJ_TRAIN_MAX_TRANSPOSE 48
#define RNJ_TRAIN_TRANSPOSE_LOW 21
#define RNJ_TRAIN_TRANSPOSE_HIGH 108

/* ------------------------------------------------------------ config */

typedef struct rnj_train_config_s {
  int arch;         /* RNJ_MODEL_TUTORIAL (rnj_train_config_default) or
                       RNJ_MODEL_V2 (rnj_train_config_v2) */
  int hidden;       /* LSTM units: the tutorial's 128; v2: a multiple of
                       16 in 16..512 (128) */
  int transpose_lo; /* v2: each training window's pitches (inputs and
                       target) move by k semitones, k uniform in
                       [transpose_lo, transpose_hi] narrowed so that they
                       stay in 21..108 (rnj_train_shift); (-6, 5) by
                       default, (0, 0) off.  The tutorial: (0, 0). */
  int transpose_hi;
  int epochs;       /* 50 */
  int batch;        /* 64 windows */
  int seq_length;   /* 25 notes in, the 26th predicted */
  double lr;        /* 0.005 (v2: RNJ_TRAIN_V2_LR) */
  double beta1;     /* 0.9 */
  double beta2;     /* 0.999 */
  double epsilon;   /* 1e-7, Keras' placement (see rnj_train_step) */
  double val_split; /* 0.1 of the files */
  double clip_norm; /* 0: off (the tutorial's default); v2: 1.  > 0: before
                       each
                       update the batch's gradient is scaled down to this
                       global L2 norm when it is longer */
  int patience;     /* 5 epochs without a better validation loss; 0: never
                       stop early */
  double lr_decay;  /* 0: off (the tutorial's default); v2: 0.5.  In
                       (0, 1): the learning rate is multiplied by it after
                       every lr_patience epochs in a row without a better
                       validation loss (Keras' ReduceLROnPlateau without
                       cooldown): a plateau at one rate is often a slope at
                       a smaller one */
  int lr_patience;  /* 2 epochs; >= 1 when lr_decay is on */
  uint64_t seed;    /* 42: initial weights, file split and every shuffle */
  int threads;      /* 1 */
  rnj_kernel_t kernel; /* RNJ_KERNEL_AUTO: the best the CPU has; another
                          value forces one (for tests and measurements;
                          like threads, it changes rounding) */
} rnj_train_config_t;

/* The tutorial's hyper-parameters, one thread. */
RNJ_EXTERN void rnj_train_config_default(rnj_train_config_t *cfg);

/* The v2 model's: hidden 128, lr RNJ_TRAIN_V2_LR, clip_norm 1,
 * transposition -6..5; the rest as rnj_train_config_default. */
RNJ_EXTERN void rnj_train_config_v2(rnj_train_config_t *cfg);

/* Check every field's range; `err` names the first bad one.
 * Returns 0 or RNJ_EINVAL. */
RNJ_EXTERN int rnj_train_config_check(const rnj_train_config_t *cfg,
                                      char *err);

/* -------------------------------------------------------------- data */

typedef struct rnj_train_data_s {
  float *x;        /* (n_notes, 3) model inputs: pitch/128, step, duration */
  uint8_t *pitch;  /* (n_notes) the pitch itself, the class target */
  /* The v2 model's view of each note (encoding.h), from its beats: */
  float *tin;      /* (n_notes, 2) log1p of step and duration in beats */
  uint8_t *code;   /* (n_notes, 4) onset phase, velocity bin, step bin,
                      duration bin */
  size_t n_notes;
  size_t *first;   /* (n_files + 1) index of each file's first note */
  char **names;    /* (n_files) owned copies, for messages */
  size_t n_files;
  size_t cap_notes;
  size_t cap_files;
} rnj_train_data_t;

/* Zero a data set (no allocation). */
RNJ_EXTERN void rnj_train_data_init(rnj_train_data_t *data);

/* Release everything; safe twice. */
RNJ_EXTERN void rnj_train_data_free(rnj_train_data_t *data);

/* Append one file's notes (copied; `name` is copied too), as both
 * models' inputs and targets: the tutorial's from the seconds, v2's from
 * start_beat, end_beat and the velocity (encoding.h).  Files too short for
 * a window simply contribute none.  Returns 0, RNJ_ENOMEM or RNJ_ELIMIT
 * (more than 2^32 - 1 notes in all). */
RNJ_EXTERN int rnj_train_data_add(rnj_train_data_t *data,
                                  const rnj_notes_t *notes, const char *name);

/* Append raw inputs of the tutorial model: `n` notes of (pitch, step,
 * duration); their v2 view is zeros (no beats, no velocity). */
RNJ_EXTERN int rnj_train_data_add_raw(rnj_train_data_t *data,
                                      const uint8_t *pitch, const float *step,
                                      const float *duration, size_t n,
                                      const char *name);

/* ------------------------------------------------------------- split */

/* Windows are named by the index of their first note in the data set;
 * the targets are the note seq_length after it, in the same file. */
typedef struct rnj_train_split_s {
  uint32_t *train; /* (n_train) window starts, in data order */
  size_t n_train;
  uint32_t *val;   /* (n_val) */
  size_t n_val;
  uint8_t *is_val; /* (n_files) 1 for a validation file */
  size_t n_train_files; /* files with at least one window */
  size_t n_val_files;
} rnj_train_split_t;

/* Split `data` by file: round(val_split * files) files (at least one when
 * there are two or more files and val_split > 0, at most all but one),
 * chosen by a shuffle seeded from `seed`, go to validation.  Files
 * without a window take no part.  Returns 0, RNJ_ENOMEM or RNJ_ENODATA
 * (no window at all, `err` says why). */
RNJ_EXTERN int rnj_train_split_init(rnj_train_split_t *split,
                                    const rnj_train_data_t *data,
                                    int seq_length, double val_split,
                                    uint64_t seed, char *err);

/* Release; safe twice. */
RNJ_EXTERN void rnj_train_split_free(rnj_train_split_t *split);

/* The training windows of `epoch` in their shuffled order, written to
 * `out` (n_train entries).  A function of (seed, epoch) alone, so a resumed
 * run replays exactly the order the interrupted one had. */
RNJ_EXTERN void rnj_train_split_shuffle(const rnj_train_split_t *split,
                                        uint64_t seed, int epoch,
                                        uint32_t *out);

/* ----------------------------------------------------------- trainer */

typedef struct rnj_train_impl_s rnj_train_impl_t;

typedef struct rnj_train_s {
  rnj_train_config_t cfg;
  rnj_model_t model; /* the weights being trained */
  float *grad;       /* (RNJ_MODEL_NPARAMS) the last batch's gradient of
                        the mean loss, in the model's layout */
  float *m;          /* (RNJ_MODEL_NPARAMS) Adam's first moment */
  float *v;          /* (RNJ_MODEL_NPARAMS) Adam's second moment */
  long step;         /* Adam updates done */
  double grad_norm;  /* the global L2 norm of the last gradient before
                        clipping: set by rnj_train_grad, and by an update
                        when cfg.clip_norm > 0 (else left as it was) */
  double lr_now;     /* the learning rate of the next update: cfg.lr, then
                        lowered by the fit's cfg.lr_decay */
  rnj_train_impl_t *impl; /* workers and their buffers */
} rnj_train_t;

/* Check `cfg`, allocate every buffer for batches of up to cfg->batch
 * windows of cfg->seq_length notes, start cfg->threads - 1 worker threads
 * and initialise the weights from cfg->seed (Keras' initialisers).
 * OpenBLAS is set to one thread: the trainer splits the batch itself.
 * `tr` is caller-allocated.  Returns 0, RNJ_EINVAL, RNJ_ENOMEM or a
 * negative errno (thread creation), with `err` set. */
RNJ_EXTERN int rnj_train_init(rnj_train_t *tr, const rnj_train_config_t *cfg,
                              char *err);

/* Stop the workers and release everything; safe on a zeroed trainer and
 * twice. */
RNJ_EXTERN void rnj_train_free(rnj_train_t *tr);

/* Forward and backward over the `n` windows (n <= cfg.batch): tr->grad
 * becomes the gradient of the mean loss, `loss` (may be NULL) its value
 * before any update.  Returns 0 or RNJ_EINVAL. */
RNJ_EXTERN int rnj_train_grad(rnj_train_t *tr, const rnj_train_data_t *data,
                              const uint32_t *windows, size_t n,
                              rnj_loss_t *loss);

/* One Adam update from tr->grad, as Keras (and TF's ApplyAdam) does it:
 *   t += 1,  lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
 *   m += (g - m) (1 - beta1),  v += (g^2 - v) (1 - beta2)
 *   p -= lr_t m / (sqrt(v) + epsilon)
 * (epsilon outside the bias correction, unlike PyTorch's Adam).  With
 * cfg.clip_norm > 0, tr->grad is first scaled by clip_norm / |g| when its
 * global norm |g| is larger (tr->grad_norm = |g|). */
RNJ_EXTERN void rnj_train_step(rnj_train_t *tr);

/* rnj_train_grad then rnj_train_step, in one pass over the workers. */
RNJ_EXTERN int rnj_train_batch(rnj_train_t *tr, const rnj_train_data_t *data,
                               const uint32_t *windows, size_t n,
                               rnj_loss_t *loss);

/* v2: rnj_train_grad and rnj_train_batch with window i's pitches (inputs
 * and target) moved by shifts[i] semitones (NULL: none).  RNJ_EINVAL for
 * the tutorial arch or a pitch moved out of 0..127. */
RNJ_EXTERN int rnj_train_grad_shifted(rnj_train_t *tr,
                                      const rnj_train_data_t *data,
                                      const uint32_t *windows,
                                      const int8_t *shifts, size_t n,
                                      rnj_loss_t *loss);
RNJ_EXTERN int rnj_train_batch_shifted(rnj_train_t *tr,
                                       const rnj_train_data_t *data,
                                       const uint32_t *windows,
                                       const int8_t *shifts, size_t n,
                                       rnj_loss_t *loss);

/* v2: the transposition, in semitones, of training window `window` in
 * epoch `epoch` (what rnj_train_fit applies): k uniform in
 * [cfg.transpose_lo, cfg.transpose_hi] narrowed so that every pitch of the
 * window (its seq_length + 1 notes) stays in RNJ_TRAIN_TRANSPOSE_LOW..
 * RNJ_TRAIN_TRANSPOSE_HIGH; 0 when nothing is left of the range, when the
 * window's own pitches leave it, for the tutorial arch and for a window
 * out of range.  A function of (seed, epoch, window) alone, so a resumed
 * run replays it. */
RNJ_EXTERN int rnj_train_shift(const rnj_train_t *tr,
                               const rnj_train_data_t *data, uint32_t window,
                               int epoch);

/* The mean loss over `n` windows (any n), forward only. */
RNJ_EXTERN int rnj_train_eval(rnj_train_t *tr, const rnj_train_data_t *data,
                              const uint32_t *windows, size_t n,
                              rnj_loss_t *loss);

/* The OpenBLAS kernel set in use (e.g. "SkylakeX", "Haswell").  Static. */
RNJ_EXTERN const char *rnj_train_blas(void);

/* The trainer's own kernels: "avx512" (element-wise and the per-step
 * products, OpenBLAS for the rest), "avx2" or "portable" (element-wise;
 * every product by OpenBLAS).  Static. */
RNJ_EXTERN const char *rnj_train_kernels(const rnj_train_t *tr);

/* --------------------------------------------------------------- fit */

typedef enum {
  RNJ_TRAIN_EVENT_BATCH = 0, /* after each training batch */
  RNJ_TRAIN_EVENT_EPOCH = 1  /* after an epoch's validation and saves */
} rnj_train_event_t;

typedef struct rnj_train_progress_s {
  rnj_train_event_t event;
  int epoch;            /* 0-based */
  int epochs;
  size_t batch;         /* batches of this epoch done */
  size_t batches;       /* batches per epoch */
  rnj_loss_t train;     /* mean over this epoch's batches so far */
  rnj_loss_t val;       /* EPOCH only, when has_val */
  int has_val;
  double seconds;       /* wall time of this epoch (this process's part) */
  double windows_per_s; /* training windows per second of batch time */
  double lr;
  double grad_norm;     /* the mean global norm of this epoch's gradients
                           before clipping; 0 when not clipping */
  int improved;         /* EPOCH: best so far, the checkpoint was written */
  int bad_epochs;       /* EPOCH: epochs since the best */
} rnj_train_progress_t;

typedef void (*rnj_train_progress_cb)(const rnj_train_progress_t *progress,
                                      void *arg);

typedef enum {
  RNJ_TRAIN_DONE = 0,        /* all epochs run */
  RNJ_TRAIN_EARLY_STOP = 1,  /* patience ran out; best weights restored */
  RNJ_TRAIN_INTERRUPTED = 2  /* *stop was set; state saved for resume */
} rnj_train_status_t;

typedef struct rnj_train_fit_s {
  const char *out;     /* best checkpoint (by validation loss) */
  int resume;          /* continue from the state file beside `out` */
  rnj_train_progress_cb progress; /* may be NULL */
  void *arg;
  volatile sig_atomic_t *stop; /* checked after every batch; may be NULL */
} rnj_train_fit_t;

typedef struct rnj_train_result_s {
  rnj_train_status_t status;
  int epochs_done;
  int best_epoch;       /* 0-based, -1 if none */
  double best_loss;     /* monitored: validation, or training without */
  int resumed_epoch;    /* where a resume started, -1 for a fresh run */
  size_t resumed_batch;
  size_t batch;         /* INTERRUPTED: batches done of the epoch after
                           epochs_done (0: stopped at an epoch's end) */
  size_t batches;       /* batches per epoch */
} rnj_train_result_t;

/* The companion files of checkpoint `out`: with X = `out` less a
 * ".safetensors" suffix, X.last.safetensors (the weights after the latest
 * epoch) and X.state (everything resume needs: weights, best weights,
 * Adam moments and step, epoch and batch, partial sums, best loss and
 * patience count, config and a fingerprint of the data).  Buffers of
 * RNJ_TRAIN_PATH_LEN bytes.  Returns 0 or RNJ_ELIMIT (path too long). */
RNJ_EXTERN int rnj_train_paths(const char *out, char *last, char *state);

/* Train tr->model on `split` of `data` for tr->cfg.epochs epochs, each an
 * independent shuffle of the training windows in full batches (the
 * remainder is dropped, as the tutorial's drop_remainder=True).  After
 * every epoch: validation loss, the best weights to fit->out, the latest
 * to the .last file and the state file, all written atomically, then the
 * EPOCH callback.  The monitored loss is the validation loss (the
 * training loss when there are no validation windows).  Patience runs out
 * -> the best weights are restored into tr->model.  When *fit->stop
 * becomes non-zero, the current batch finishes, the state is saved and the
 * call returns RNJ_TRAIN_INTERRUPTED in `result`.
 *
 * A fresh run writes the state file before the first batch, so a path
 * that cannot be written fails before any training.  With fit->resume the
 * state file must exist and match tr->cfg (batch, seq_length, lr, betas,
 * epsilon, val_split, seed) and the data; epochs, patience and threads may
 * differ (a different thread count changes the rounding, not the maths).
 * Metadata already in tr->model is kept; "epochs", "train_loss",
 * "val_loss" (and parts), "best_epoch", "seed", "batch", "lr" are added.
 * Returns 0 (see result->status) or a negative code with `err` set. */
RNJ_EXTERN int rnj_train_fit(rnj_train_t *tr, const rnj_train_data_t *data,
                             const rnj_train_split_t *split,
                             const rnj_train_fit_t *fit,
                             rnj_train_result_t *result, char *err);

#ifdef __cplusplus
}
#endif
#endif
