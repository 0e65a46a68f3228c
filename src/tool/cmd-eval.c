/* rnnjam eval: placeholder until it lands. */
#include "tool.h"
int cmd_eval(int argc, char **argv) {
  tool_error("eval: not yet");
  return 1;
}
