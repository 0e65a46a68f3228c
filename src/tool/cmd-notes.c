/* rnnjam notes: placeholder until it lands. */
#include "tool.h"
int cmd_notes(int argc, char **argv) {
  tool_error("notes: not yet");
  return 1;
}
