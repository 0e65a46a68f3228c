/* rnnjamd's service plumbing: journald-style logging, sd_notify, timing.
 *
 * sd_notify is implemented here rather than linked from libsystemd: the
 * protocol is one datagram ("READY=1\nSTATUS=...") to the AF_UNIX socket
 * named in $NOTIFY_SOCKET (a leading '@' means the abstract namespace), and
 * doing it ourselves saves a library (and its share of the RSS) in a daemon
 * that runs all day.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "service.h"

int log_level_max = RNJ_LOG_INFO;
static int journal;

/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected; only
 * when that is our stderr do the "<N>" prefixes reach a reader that
 * understands them. */
void log_init(void) {
  const char *js = getenv("JOURNAL_STREAM");
  struct stat st;
  unsigned long long dev;
  unsigned long long ino;
  journal = 0;
  if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
      fstat(STDERR_FILENO, &st) == 0 && st.st_dev == (dev_t)dev &&
      st.st_ino == (ino_t)ino)
    journal = 1;
}

void logm(int level, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  int n;
  if (level > log_level_max)
    return;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (journal)
    fprintf(stderr, "<%d>%s\n", level, buf);
  else if (level <= RNJ_LOG_ERR)
    fprintf(stderr, "rnnjamd: error: %s\n", buf);
  else if (level == RNJ_LOG_WARNING)
    fprintf(stderr, "rnnjamd: warning: %s\n", buf);
  else
    fprintf(stderr, "rnnjamd: %s\n", buf);
  fflush(stderr);
}

void notify(const char *fmt, ...) {
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sa;
  socklen_t salen;
  char msg[512];
  va_list ap;
  size_t len;
  int fd;
  int n;
  if (!path || (path[0] != '/' && path[0] != '@'))
    return;
  len = strlen(path);
  if (len >= sizeof sa.sun_path)
    return;
  va_start(ap, fmt);
  n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, len);
  if (path[0] == '@')
    sa.sun_path[0] = '\0';
  salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  /* MSG_DONTWAIT: a stuck manager must not stall the loop. */
  if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
             (struct sockaddr *)&sa, salen) < 0)
    logm(RNJ_LOG_DEBUG, "sd_notify: %s", strerror(errno));
  close(fd);
}

uint64_t notify_watchdog_ms(void) {
  const char *us = getenv("WATCHDOG_USEC");
  const char *pid = getenv("WATCHDOG_PID");
  unsigned long long v;
  char *end;
  if (!us)
    return 0;
  if (pid && strtol(pid, NULL, 10) != (long)getpid())
    return 0;
  v = strtoull(us, &end, 10);
  if (*end || v == 0)
    return 0;
  return v / 1000;
}

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long rss_kb(void) {
  char line[256];
  long kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a;
  uint32_t y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

uint64_t timing_report(const timing_t *t, uint32_t *scratch, double *p50,
                       double *p99, double *max) {
  uint64_t n = t->n < TIMING_SAMPLES ? t->n : TIMING_SAMPLES;
  *p50 = *p99 = *max = 0;
  if (n == 0)
    return 0;
  memcpy(scratch, t->v, n * sizeof *scratch);
  qsort(scratch, n, sizeof *scratch, cmp_u32);
  *p50 = scratch[(n - 1) / 2] / 1000.0;
  *p99 = scratch[(n - 1) * 99 / 100] / 1000.0;
  *max = scratch[n - 1] / 1000.0;
  return n;
}
