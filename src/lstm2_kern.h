/* Private to the v2 model's inference (lstm2*.c, net.c, net_new.c): the
 * packed weight layout and the kernel table.  Never installed.
 *
 * The layout follows the tutorial's (lstm_kern.h): the 4H gate columns
 * are cut into H/16 panels of 64 (the i, f, c, o gates of 16 units), so
 * one panel's sums update those units' c and h while still in registers.
 * A panel's rows follow the step's dense inputs v = (h0 .. h(H-1), 1, s,
 * d): the H recurrent rows, the bias as the row multiplied by 1, then the
 * rows of log1p(step) and log1p(duration).  The one-hot inputs (pitch,
 * beat phase, velocity bin) are not multiplied at all: each picks one row
 * of a lookup table, which is added to the panel's sums (three rows of 64
 * per panel and step, instead of 184 multiplications by mostly zero).  The
 * heads are one product over (h, 1) with 384 columns in 6 panels: pitch
 * (128), step (98), duration (102), velocity (32), then 24 zero columns,
 * so the logits land in the order of rnj_net_dist_t.logits.
 */
#ifndef RNNJAM_LSTM2_KERN_H
#define RNNJAM_LSTM2_KERN_H

#include <stddef.h>

#include "lstm_kern.h"
#include "rnnjam/lstm.h"
#include "rnnjam/model.h"
#include "rnnjam/net.h"

#define RNJ__V2_UNITS 16                  /* hidden units per panel */
#define RNJ__V2_W (4 * RNJ__V2_UNITS)     /* 64 columns per panel */
#define RNJ__V2_DENSE 3                   /* rows after h: 1, s, d */
/* Lookup rows: pitch 0..127, phase 128..151, velocity bin 152..183. */
#define RNJ__V2_LOOKUP_PHASE RNJ_ENCODING_PITCHES
#define RNJ__V2_LOOKUP_VELOCITY (RNJ__V2_LOOKUP_PHASE + RNJ_ENCODING_PHASES)
#define RNJ__V2_LOOKUP \
  (RNJ__V2_LOOKUP_VELOCITY + RNJ_ENCODING_VELOCITY_BINS) /* 184 */
#define RNJ__V2_HEAD_PANELS (RNJ_NET_LOGITS / RNJ__V2_W)  /* 6 */

typedef struct rnj__lstm2_pack_s {
  int hidden;          /* H */
  int panels;          /* H / 16 */
  const float *gates;  /* (panels, H + 3, 64), 64-byte aligned */
  const float *lookup; /* (panels, 184, 64), 64-byte aligned */
  const float *heads;  /* (6, H + 1, 64), 64-byte aligned */
} rnj__lstm2_pack_t;

typedef struct rnj__lstm2_kern_s {
  rnj_kernel_t id;
  /* One step: v (H + 3, 64-byte aligned) = (h_old, 1, s, d); `rows` the
   * three lookup rows (pitch, phase, velocity); c (H) is updated in place
   * and the new h (H) written to h (not overlapping v). */
  void (*cell)(const rnj__lstm2_pack_t *p, const float *v, const int *rows,
               float *c, float *h);
  /* All four heads on h (H): 384 logits (the last 24 zero) to out. */
  void (*heads)(const rnj__lstm2_pack_t *p, const float *h, float *out);
  /* A bin of n (1..128) logits at `temperature`, by the uniform u in
   * [0, 1): rnj_sample_categorical's rules (rnj__sample_draw is the
   * portable one), in the kernel's vectors.  RT-safe. */
  int (*draw)(const float *logits, int n, float temperature, double u);
} rnj__lstm2_kern_t;

extern const rnj__lstm2_kern_t rnj__lstm2_kern_portable;
#ifdef RNJ__HAVE_X86_KERNELS
/* In lstm_avx2.c and lstm_avx512.c, beside the tutorial's kernels whose
 * product and vector functions they share. */
extern const rnj__lstm2_kern_t rnj__lstm2_kern_avx2;
extern const rnj__lstm2_kern_t rnj__lstm2_kern_avx512;
#endif

/* Floats the packed weights of a model with `hidden` units take. */
size_t rnj__lstm2_pack_floats(int hidden);

/* Pack the v2 `model` into `dst` (rnj__lstm2_pack_floats of them, 64-byte
 * aligned) and point `p` into it. */
void rnj__lstm2_pack(rnj__lstm2_pack_t *p, float *dst,
                     const rnj_model_t *model);

/* The v2 kernel for `kernel` (RNJ_KERNEL_AUTO: the best there is), or
 * NULL when it is not compiled in or the CPU lacks it. */
const rnj__lstm2_kern_t *rnj__lstm2_kern_find(rnj_kernel_t kernel);

#endif
