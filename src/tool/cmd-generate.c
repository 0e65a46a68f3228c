/* rnnjam generate: placeholder until it lands. */
#include "tool.h"
int cmd_generate(int argc, char **argv) {
  tool_error("generate: not yet");
  return 1;
}
