/* Whole-file reads with a size bound, and atomic writes.
 *
 * Every file rnnjam writes (checkpoints, .mid, .wav) goes through
 * rnj__write_atomic so that a crash, a kill or a full disk never leaves a
 * half-written file under the final name: the old file stays intact until
 * the rename, which POSIX makes atomic within one directory.
 *
 * A writer killed mid-write (SIGKILL, the OOM killer, a power cut) leaves
 * its temporary "NAME.tmp.XXXXXX" behind.  rnj__write_atomic holds an
 * flock on its temporary until the rename, and before writing it removes
 * the temporaries of the same NAME that nobody holds: the lock dies with
 * its process, so only a dead writer's file can be taken.  (The streaming
 * form's temporary is written by another library and not locked; it is
 * removed too if a second writer of the same NAME runs meanwhile, and that
 * writer's commit then fails with a clear error instead of racing.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int rnj__read_file(const char *path, size_t max_bytes, uint8_t **buf,
                   size_t *len, char *err) {
  struct stat st;
  uint8_t *b;
  size_t got = 0;
  int fd;
  int rc;

  *buf = NULL;
  *len = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return rnj_errorf(err, -errno, "%s: cannot open: %s", path,
                      strerror(errno));
  if (fstat(fd, &st) < 0) {
    rc = rnj_errorf(err, -errno, "%s: cannot stat: %s", path,
                    strerror(errno));
    goto fail_fd;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = rnj_errorf(err, -EISDIR, "%s: not a regular file", path);
    goto fail_fd;
  }
  if ((uint64_t)st.st_size > max_bytes) {
    rc = rnj_errorf(err, RNJ_ELIMIT,
                    "%s: file is %lld bytes, more than the limit of %zu",
                    path, (long long)st.st_size, max_bytes);
    goto fail_fd;
  }
  b = rnj__malloc((size_t)st.st_size + 1);
  if (!b) {
    rc = rnj_errorf(err, RNJ_ENOMEM, "%s: out of memory", path);
    goto fail_fd;
  }
  /* Read what fstat promised; a file that shrinks meanwhile is just
   * shorter, one that grows is cut at the size we sized the buffer for. */
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = rnj_errorf(err, -errno, "%s: read: %s", path, strerror(errno));
      rnj__free(b);
      goto fail_fd;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  b[got] = 0;
  *buf = b;
  *len = got;
  return 0;

fail_fd:
  close(fd);
  return rc;
}

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* "NAME.tmp.XXXXXX" for `base` NAME: what mkostemp makes of our template. */
static int is_temp_of(const char *entry, const char *base, size_t blen) {
  return strncmp(entry, base, blen) == 0 &&
         strncmp(entry + blen, ".tmp.", 5) == 0 &&
         strlen(entry + blen + 5) == 6;
}

/* Remove the temporaries of `path` whose writer died (see the top). */
static void remove_stale(const char *path) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t blen = strlen(base);
  struct dirent *e;
  DIR *d;
  int dfd;

  if (slash)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path + 1), path);
  else
    snprintf(dir, sizeof dir, ".");
  d = opendir(dir);
  if (!d)
    return; /* the write itself will say what is wrong */
  dfd = dirfd(d);
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    struct stat now;
    int fd;
    if (!is_temp_of(e->d_name, base, blen))
      continue;
    fd = openat(dfd, e->d_name,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      continue;
    /* Unlink only the file we locked: the name must still be it. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        fstatat(dfd, e->d_name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
        now.st_dev == st.st_dev && now.st_ino == st.st_ino)
      (void)unlinkat(dfd, e->d_name, 0);
    close(fd);
  }
  closedir(d);
}

/* Create and lock the temporary for `path`; its name into `tmp`. */
static int create_locked(const char *path, char *tmp, size_t tmp_len,
                         char *err) {
  int tries;
  for (tries = 0; tries < 8; tries++) {
    struct stat st;
    struct stat now;
    int fd;
    snprintf(tmp, tmp_len, "%s.tmp.XXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
      return rnj_errorf(err, -errno,
                        "%s: cannot create a temporary file: %s", path,
                        strerror(errno));
    /* Another writer's remove_stale may take the file between its
     * creation and our lock; then the name is gone and we start over. */
    if (flock(fd, LOCK_EX) == 0 && fstat(fd, &st) == 0 &&
        stat(tmp, &now) == 0 && now.st_dev == st.st_dev &&
        now.st_ino == st.st_ino)
      return fd;
    close(fd);
  }
  return rnj_errorf(err, -EAGAIN,
                    "%s: cannot lock a temporary file beside it", path);
}

int rnj__write_atomic(const char *path, const struct iovec *iov, int iovcnt,
                      char *err) {
  char tmp[PATH_MAX];
  char dir[PATH_MAX];
  int fd;
  int dfd;
  int rc;
  int i;

  if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
    return rnj_errorf(err, -ENAMETOOLONG, "%s: path too long", path);
  remove_stale(path);
  fd = create_locked(path, tmp, sizeof tmp, err);
  if (fd < 0)
    return fd;
  for (i = 0; i < iovcnt; i++) {
    rc = write_all(fd, iov[i].iov_base, iov[i].iov_len);
    if (rc < 0) {
      rnj_errorf(err, rc, "%s: write: %s", path, strerror(-rc));
      goto fail_tmp;
    }
  }
  /* Data must be on disk before the rename makes it visible, or a power
   * cut could leave the new name pointing at an empty file. */
  if (fsync(fd) < 0) {
    rc = rnj_errorf(err, -errno, "%s: fsync: %s", path, strerror(errno));
    goto fail_tmp;
  }
  /* mkostemp creates 0600; give the file the usual umask-based mode. */
  {
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
  }
  /* Renamed while still open, so the lock covers the file until it has
   * its name; close() cannot lose what fsync() has written, so its result
   * after the rename changes nothing. */
  if (rename(tmp, path) < 0) {
    rc = rnj_errorf(err, -errno, "%s: rename: %s", path, strerror(errno));
    goto fail_tmp;
  }
  close(fd);
  /* Make the rename itself durable. */
  snprintf(dir, sizeof dir, "%s", path);
  dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;

fail_tmp:
  unlink(tmp);
  close(fd);
  return rc;
}

int rnj__atomic_begin(const char *path, char *tmp, size_t tmp_len,
                      char *err) {
  int fd;
  if (snprintf(tmp, tmp_len, "%s.tmp.XXXXXX", path) >= (int)tmp_len)
    return rnj_errorf(err, -ENAMETOOLONG, "%s: path too long", path);
  remove_stale(path);
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    tmp[0] = '\0';
    return rnj_errorf(err, -e, "%s: cannot create a temporary file: %s",
                      path, strerror(e));
  }
  close(fd);
  return 0;
}

void rnj__atomic_abort(const char *tmp) {
  if (tmp && tmp[0])
    unlink(tmp);
}

int rnj__atomic_commit(const char *tmp, const char *path, char *err) {
  char dir[PATH_MAX];
  int fd;
  int dfd;
  int rc;
  mode_t um;

  fd = open(tmp, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    rc = rnj_errorf(err, -errno, "%s: cannot reopen %s: %s", path, tmp,
                    strerror(errno));
    goto fail;
  }
  /* As in rnj__write_atomic: the data must be on disk before the rename
   * makes it visible. */
  if (fsync(fd) < 0) {
    rc = rnj_errorf(err, -errno, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    goto fail;
  }
  um = umask(0);
  umask(um);
  (void)fchmod(fd, 0666 & ~um);
  if (close(fd) < 0) {
    rc = rnj_errorf(err, -errno, "%s: close: %s", path, strerror(errno));
    goto fail;
  }
  if (rename(tmp, path) < 0) {
    rc = rnj_errorf(err, -errno, "%s: rename: %s", path, strerror(errno));
    goto fail;
  }
  snprintf(dir, sizeof dir, "%s", path);
  dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;

fail:
  unlink(tmp);
  return rc;
}
