/* notify-listen SOCKET SECONDS: what systemd's side of sd_notify sees.
 *
 * Binds a datagram socket at SOCKET (a path), then for SECONDS prints
 * every message received on one line, newlines shown as '|', each
 * prefixed with the milliseconds since start.  Prints "listening" once
 * bound, so the test knows when to start the daemon.  Used by
 * test-notify.sh. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  struct sockaddr_un sa;
  struct pollfd p;
  double t0, end;
  char buf[1024];
  int fd;
  if (argc != 3) {
    fprintf(stderr, "usage: notify-listen SOCKET SECONDS\n");
    return 2;
  }
  if (strlen(argv[1]) >= sizeof sa.sun_path) {
    fprintf(stderr, "notify-listen: %s: path too long\n", argv[1]);
    return 2;
  }
  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  strcpy(sa.sun_path, argv[1]);
  unlink(argv[1]);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    perror("notify-listen: bind");
    return 1;
  }
  printf("listening\n");
  fflush(stdout);
  t0 = now_ms();
  end = t0 + atof(argv[2]) * 1e3;
  for (;;) {
    double left = end - now_ms();
    ssize_t n;
    if (left <= 0)
      break;
    p.fd = fd;
    p.events = POLLIN;
    if (poll(&p, 1, (int)left + 1) <= 0)
      continue;
    n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0)
      continue;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] == '\n')
        buf[i] = '|';
    printf("%.0f %s\n", now_ms() - t0, buf);
    fflush(stdout);
  }
  close(fd);
  unlink(argv[1]);
  return 0;
}
