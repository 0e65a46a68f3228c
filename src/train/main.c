/* rnnjam-train: placeholder until the trainer lands (issue 5). */
#include <stdio.h>
int main(void) {
  fprintf(stderr, "rnnjam-train: not yet\n");
  return 1;
}
