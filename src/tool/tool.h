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
