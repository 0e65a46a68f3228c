/* Replays a fuzz target's corpus without libFuzzer, so that every build
 * (gcc, the sanitizer build, valgrind) runs the seeds and the inputs that
 * once crashed.  Each argument is a file or a directory of files; with no
 * argument, $RNJ_SRCDIR/tests/fuzz/corpus/FUZZ_NAME (make check's case).
 * Exit 0 when every input ran (a failed check aborts), 77 when the corpus
 * is missing, 99 on an I/O error.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME=\"...\""
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long runs;

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;
  if (!f) {
    perror(path);
    return -1;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    perror(path);
    fclose(f);
    return -1;
  }
  /* A copy of exactly the file's size, so a read past the end is caught
   * by the sanitizers as it would be under libFuzzer. */
  buf = malloc(n ? (size_t)n : 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    perror(path);
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  runs++;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path) {
  struct stat st;
  DIR *d;
  struct dirent *e;
  char **names = NULL;
  size_t n = 0;
  size_t i;
  int rc = 0;
  if (stat(path, &st) < 0) {
    perror(path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode))
    return run_file(path);
  d = opendir(path);
  if (!d) {
    perror(path);
    return -1;
  }
  /* In name order, so that a failure reproduces the same way. */
  while ((e = readdir(d)) != NULL) {
    char **more;
    if (e->d_name[0] == '.')
      continue;
    more = realloc(names, (n + 1) * sizeof *names);
    if (!more)
      break;
    names = more;
    names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
    if (!names[n])
      break;
    sprintf(names[n], "%s/%s", path, e->d_name);
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_names);
  for (i = 0; i < n; i++) {
    if (rc == 0)
      rc = run_file(names[i]);
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  char dflt[4096];
  int i;
  if (argc < 2) {
    const char *src = getenv("RNJ_SRCDIR");
    struct stat st;
    snprintf(dflt, sizeof dflt, "%s/tests/fuzz/corpus/%s", src ? src : ".",
             FUZZ_NAME);
    if (stat(dflt, &st) < 0) {
      printf("SKIP: no corpus at %s\n", dflt);
      return 77;
    }
    if (run_path(dflt) < 0)
      return 99;
  }
  for (i = 1; i < argc; i++)
    if (run_path(argv[i]) < 0)
      return 99;
  printf("fuzz-%s: %ld inputs replayed\n", FUZZ_NAME, runs);
  return 0;
}
