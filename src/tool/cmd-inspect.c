/* rnnjam inspect: placeholder until it lands. */
#include "tool.h"
int cmd_inspect(int argc, char **argv) {
  tool_error("inspect: not yet");
  return 1;
}
