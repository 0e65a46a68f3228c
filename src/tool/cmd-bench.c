/* rnnjam bench: placeholder until it lands. */
#include "tool.h"
int cmd_bench(int argc, char **argv) {
  tool_error("bench: not yet");
  return 1;
}
