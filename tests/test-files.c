/* files: recursive, sorted, filtered collection of MIDI files. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rnnjam/files.h"
#include "test.h"

static char root[1024];

static void touch(const char *rel) {
  char p[2048];
  FILE *f;
  snprintf(p, sizeof p, "%s/%s", root, rel);
  f = fopen(p, "w");
  ASSERT(f != NULL);
  fclose(f);
}

static void mkd(const char *rel) {
  char p[2048];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  ASSERT(mkdir(p, 0755) == 0);
}

int main(void) {
  rnj_files_t files;
  char err[RNJ_ERR_LEN];
  char arg[2048];
  char *args[2];
  char link_path[2048];

  snprintf(root, sizeof root, "%s/rnj-files-XXXXXX", test_tmp_dir());
  ASSERT(mkdtemp(root) != NULL);
  mkd("b");
  mkd("a");
  mkd("a/deep");
  touch("z.mid");
  touch("b/one.MID");
  touch("a/two.midi");
  touch("a/deep/three.mid");
  touch("a/notes.txt");
  touch("a/.hidden.mid");
  /* a link back up must not loop */
  snprintf(link_path, sizeof link_path, "%s/a/deep/up", root);
  ASSERT(symlink(root, link_path) == 0);

  rnj_files_init(&files);
  snprintf(arg, sizeof arg, "%s/", root); /* trailing slash is folded */
  args[0] = arg;
  ASSERT_OK(rnj_files_collect(&files, args, 1, err));
  ASSERT_EQ(files.n, 4);
  ASSERT_CONTAINS(files.paths[0], "/a/deep/three.mid");
  ASSERT_CONTAINS(files.paths[1], "/a/two.midi");
  ASSERT_CONTAINS(files.paths[2], "/b/one.MID");
  ASSERT_CONTAINS(files.paths[3], "/z.mid");
  ASSERT(strstr(files.paths[3], "//") == NULL);

  /* a named file is taken whatever its name */
  snprintf(arg, sizeof arg, "%s/a/notes.txt", root);
  ASSERT_OK(rnj_files_collect(&files, args, 1, err));
  ASSERT_EQ(files.n, 5);
  rnj_files_free(&files);
  rnj_files_free(&files);

  /* a missing path names itself */
  snprintf(arg, sizeof arg, "%s/missing", root);
  ASSERT_EQ(rnj_files_collect(&files, args, 1, err), -ENOENT);
  ASSERT_CONTAINS(err, "/missing");
  rnj_files_free(&files);
  return 0;
}
