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
 *
 * The half-precision form (RNJ__V2_F16, the avx512-f16 kernel) has the
 * same panels and the same fp32 lookup table, but stores the rows of h
 * with an even index as IEEE half precision: a panel of width w is the
 * H/2 float rows of odd h (h1, h3, ...), then its float tail rows (gates:
 * 1, s, d; heads: the bias), then the H/2 half rows of even h (h0, h2,
 * ...).  The heads' last panel is 48 columns wide (the last 40 logits and
 * 8 zero columns), not 64.  Why only half the rows: on the machines this
 * was measured on (AMD Zen 4), converting halves (vcvtph2ps) runs at 8
 * floats a cycle, no faster than float rows stream in from L2 (about
 * 31 bytes a cycle), so all-half rows gained nothing (8.5 cycles per row
 * of 64 against 8.3); one half row with each float row keeps the
 * conversion and L2 busy at once: 6.1 cycles a row, 0.75 of the bytes.
 */
#ifndef RNNJAM_LSTM2_KERN_H
#define RNNJAM_LSTM2_KERN_H

#include <stddef.h>
#include <stdint.h>

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
/* The half-precision form's last head panel: 40 logits + 8 zero columns */
#define RNJ__V2_F16_LAST_W 48

/* The packed forms (rnj__lstm2_kern_t.format). */
enum { RNJ__V2_FP32 = 0, RNJ__V2_F16 = 1 };

/* RNJ__V2_F16: is row r of a panel (h0 .. h(H-1), then the tail) stored
 * as half precision?  The rows of h with an even index are. */
#define RNJ__V2_F16_ROW(r, hidden) ((r) < (hidden) && (r) % 2 == 0)

/* RNJ__V2_F16: bytes of a panel of `w` columns with `tail` float rows
 * after h (a multiple of 64 for w = 48 or 64 and H a multiple of 16). */
static inline size_t rnj__v2_f16_panel_bytes(int hidden, int w, int tail) {
  return ((size_t)hidden / 2 * 4 + (size_t)tail * 4 +
          (size_t)hidden / 2 * 2) * (size_t)w;
}

typedef struct rnj__lstm2_pack_s {
  int hidden;          /* H */
  int panels;          /* H / 16 */
  const float *lookup; /* (panels, 184, 64), 64-byte aligned */
  /* RNJ__V2_FP32 */
  const float *gates;  /* (panels, H + 3, 64), 64-byte aligned */
  const float *heads;  /* (6, H + 1, 64), 64-byte aligned */
  /* RNJ__V2_F16: panels as above, 64-byte aligned; gate panel b at
   * b * rnj__v2_f16_panel_bytes(H, 64, 3), head panel b at b *
   * rnj__v2_f16_panel_bytes(H, 64, 1) (the last one 48 wide) */
  const unsigned char *gates16;
  const unsigned char *heads16;
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
  int format; /* RNJ__V2_FP32 or RNJ__V2_F16: the weights it reads */
} rnj__lstm2_kern_t;

extern const rnj__lstm2_kern_t rnj__lstm2_kern_portable;
#ifdef RNJ__HAVE_X86_KERNELS
/* In lstm_avx2.c and lstm_avx512.c, beside the tutorial's kernels whose
 * product and vector functions they share. */
extern const rnj__lstm2_kern_t rnj__lstm2_kern_avx2;
extern const rnj__lstm2_kern_t rnj__lstm2_kern_avx512;
extern const rnj__lstm2_kern_t rnj__lstm2_kern_avx512_f16;
#endif

/* Bytes the packed weights of a model with `hidden` units take in
 * `format` (RNJ__V2_*). */
size_t rnj__lstm2_pack_bytes(int hidden, int format);

/* 1 if every weight the half-precision form stores as a half is within
 * its range (|w| < 65520, which rounds to 65504, not to infinity). */
int rnj__lstm2_f16_fits(const rnj_model_t *model);

/* Pack the v2 `model` into `dst` (rnj__lstm2_pack_bytes of them, 64-byte
 * aligned) in `format` and point `p` into it.  RNJ__V2_F16 rounds to
 * nearest (ties to even), as F16C does. */
void rnj__lstm2_pack(rnj__lstm2_pack_t *p, void *dst,
                     const rnj_model_t *model, int format);

/* IEEE half precision, portable: round a float to the nearest half (ties
 * to even, overflow to infinity, subnormals kept, NaN quiet: F16C's
 * vcvtps2ph with round-to-nearest), and a half back to float (exact). */
uint16_t rnj__f16_from_float(float f);
float rnj__f16_to_float(uint16_t h);

/* The v2 kernel for `kernel` on a CPU with `features` (RNJ__CPU_*):
 * RNJ_KERNEL_AUTO is the best there is, explicit ones NULL when not
 * compiled in or the CPU lacks them. */
const rnj__lstm2_kern_t *rnj__lstm2_kern_pick(rnj_kernel_t kernel,
                                              unsigned features);

/* rnj__lstm2_kern_pick for this CPU. */
const rnj__lstm2_kern_t *rnj__lstm2_kern_find(rnj_kernel_t kernel);

#endif
