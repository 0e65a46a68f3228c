/* Recursive collection of MIDI files (see files.h).  Symbolic links to
 * folders are not followed, so a link cycle cannot make the walk endless. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "internal.h"
#include "rnnjam/files.h"

void rnj_files_init(rnj_files_t *files) { memset(files, 0, sizeof *files); }

void rnj_files_free(rnj_files_t *files) {
  size_t i;
  for (i = 0; i < files->n; i++)
    rnj__free(files->paths[i]);
  rnj__free(files->paths);
  memset(files, 0, sizeof *files);
}

static int push(rnj_files_t *files, const char *path, char *err) {
  char *copy;
  size_t len;
  if (files->n >= RNJ_FILES_MAX)
    return rnj_errorf(err, RNJ_ELIMIT, "%s: more than %d MIDI files", path,
                      RNJ_FILES_MAX);
  if (files->n == files->cap) {
    size_t cap = files->cap ? files->cap * 2 : 64;
    char **p = rnj__realloc(files->paths, cap * sizeof *p);
    if (!p)
      return rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", path);
    files->paths = p;
    files->cap = cap;
  }
  len = strlen(path) + 1;
  copy = rnj__malloc(len);
  if (!copy)
    return rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", path);
  memcpy(copy, path, len);
  files->paths[files->n++] = copy;
  return 0;
}

static int is_midi_name(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && (!strcasecmp(dot, ".mid") || !strcasecmp(dot, ".midi"));
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(rnj_files_t *files, const char *dir, int depth, char *err) {
  struct dirent **ents = NULL;
  char path[4096];
  int n;
  int i;
  int rc = 0;

  if (depth > RNJ_FILES_MAX_DEPTH)
    return rnj_errorf(err, RNJ_ELIMIT, "%s: folders nested deeper than %d",
                      dir, RNJ_FILES_MAX_DEPTH);
  n = scandir(dir, &ents, NULL, alphasort);
  if (n < 0)
    return rnj_errorf(err, -errno, "%s: cannot read folder: %s", dir,
                      strerror(errno));
  for (i = 0; i < n; i++) {
    const char *name = ents[i]->d_name;
    struct stat st;
    if (rc == 0 && name[0] != '.') {
      if (snprintf(path, sizeof path, "%s/%s", dir, name) >=
          (int)sizeof path) {
        rc = rnj_errorf(err, -ENAMETOOLONG, "%s/%s: path too long", dir,
                        name);
      } else if (lstat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
          rc = walk(files, path, depth + 1, err);
        else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) &&
                 is_midi_name(name))
          rc = push(files, path, err);
      }
    }
    free(ents[i]); /* scandir allocates with malloc */
  }
  free(ents);
  return rc;
}

int rnj_files_collect(rnj_files_t *files, char *const *args, int nargs,
                      char *err) {
  int i;
  for (i = 0; i < nargs; i++) {
    struct stat st;
    size_t first = files->n;
    int rc;
    if (stat(args[i], &st) < 0)
      return rnj_errorf(err, -errno, "%s: %s", args[i], strerror(errno));
    if (S_ISDIR(st.st_mode)) {
      /* trailing slashes would double up in the joined paths */
      char dir[4096];
      size_t len = strlen(args[i]);
      if (len >= sizeof dir)
        return rnj_errorf(err, -ENAMETOOLONG, "%s: path too long", args[i]);
      memcpy(dir, args[i], len + 1);
      while (len > 1 && dir[len - 1] == '/')
        dir[--len] = 0;
      rc = walk(files, dir, 0, err);
      if (rc < 0)
        return rc;
      /* alphasort orders each folder; sorting the whole subtree makes the
       * order independent of the locale and of how folders interleave */
      qsort(files->paths + first, files->n - first, sizeof(char *), cmp_str);
    } else {
      rc = push(files, args[i], err);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}
