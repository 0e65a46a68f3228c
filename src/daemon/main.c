/* rnnjamd: placeholder until the daemon lands (issue 6). */
#include <stdio.h>
int main(void) {
  fprintf(stderr, "rnnjamd: not yet\n");
  return 1;
}
