/* The rnnjam tool: one binary, one file per sub-command. */
#ifndef RNNJAM_TOOL_H
#define RNNJAM_TOOL_H

#include <stdint.h>
#include <stdio.h>

#include "rnnjam/rnnjam.h"

/* Exit codes: 0 success, 1 failure (bad input, I/O), 2 usage error. */
#define EXIT_USAGE 2

typedef int (*cmd_fn)(int argc, char **argv);

int cmd_notes(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_render(int argc, char **argv);

/* The rendering options rnnjam render and rnnjam generate --wav share
 * (their getopt values, clear of each command's own). */
enum {
  RENDER_O_SOUNDFONT = 1000,
  RENDER_O_RATE,
  RENDER_O_GAIN,
  RENDER_O_TAIL
};
/* Apply one of them to `o`: 1 if `c` was one, 0 if not, -1 on a bad value
 * (the message is printed). */
int render_option(int c, const char *arg, rnj_render_opts_t *o);

/* rnnjam bench --train (cmd-bench-train.c). */
int bench_train(char *const *args, int nargs, const int *threads,
                int nthreads, long batches, rnj_kernel_t kernel, int json);

/* rnnjam eval --music (cmd-eval-music.c). */
int eval_music(int argc, char **argv);

/* The one generation loop (gen.c): rnnjam generate and eval --music. */
typedef struct gen_opts_s {
  long n;        /* notes to generate */
  int stream;    /* 0: window mode (the tutorial's), 1: stream mode */
  double origin; /* a model in seconds: the onset (s) its first generated
                    step counts from */
  const rnj_smf_t *tempo_map; /* the seed's file (borrowed; may be NULL):
                    a model in beats gets seconds through it (else 120
                    bpm); a model in seconds gets beats through it, its
                    onsets read from the file's start */
} gen_opts_t;

/* The sampling a model gets unless told otherwise: the tutorial's model
 * pitch 2.0 (the tutorial's); a model in beats rnnjamd's defaults, pitch
 * 1.0 and time 0.5. */
void gen_sampling_defaults(const rnj_net_t *net, double *pitch_temp,
                           double *time_temp, double *top_p);

/* A note of a file as `net` hears it, in its time unit; `prev` is the one
 * before it in the file (NULL for the first: step 0). */
void gen_net_note(const rnj_net_t *net, const rnj_note_t *n,
                  const rnj_note_t *prev, rnj_net_note_t *m);

/* Continue the `nseed` notes at `seed` (consecutive notes of one file;
 * the model reads the last seq_length of them) with o->n notes drawn by
 * `sampler` into `out` (replaced; times in both clocks, see gen.c; step
 * and duration filled in).  Returns 0, RNJ_EINVAL (no seed) or
 * RNJ_ENOMEM. */
int gen_continue(const rnj_net_t *net, rnj_sampler_t *sampler,
                 const rnj_note_t *seed, int nseed, const gen_opts_t *o,
                 rnj_notes_t *out);

/* Print "rnnjam: <msg>" on stderr. */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse helpers: on a bad value they print which option and what was
 * expected, and return -1. */
int parse_int(const char *opt, const char *s, long min, long max, long *out);
int parse_u64(const char *opt, const char *s, uint64_t *out);
int parse_double(const char *opt, const char *s, double min, double max,
                 double *out);

/* --kernel auto|portable|avx2|avx512 */
int parse_kernel(const char *s, rnj_kernel_t *k);

/* The default checkpoint: $RNNJAM_MODEL, else the installed
 * $(pkgdatadir)/models/default.safetensors. */
const char *default_model_path(void);

/* Load a checkpoint (any kind) into `model` (initialised here; free with
 * rnj_model_free); prints the error. */
int load_model(const char *path, rnj_model_t *model);

/* Load a checkpoint and build it for inference (*net, release with
 * rnj_net_delete); prints the error. */
int load_net(const char *path, rnj_net_t **net, rnj_kernel_t kernel);

#endif
