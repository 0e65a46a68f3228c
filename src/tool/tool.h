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
  double origin; /* seconds: the onset the first generated step counts
                    from */
} gen_opts_t;

/* Continue the `seq` notes at `seed` (their pitch, step and duration feed
 * the model) with o->n notes drawn by `sampler` into `out` (replaced;
 * step and duration filled in).  Returns 0 or RNJ_ENOMEM. */
int gen_continue(const rnj_lstm_t *lstm, int seq, rnj_sampler_t *sampler,
                 const rnj_note_t *seed, const gen_opts_t *o,
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

/* Load a checkpoint and build its inference object; prints the error. */
int load_model(const char *path, rnj_model_t *model, rnj_lstm_t **lstm,
               rnj_kernel_t kernel);

#endif
