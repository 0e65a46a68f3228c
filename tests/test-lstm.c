/* placeholder until the module lands */
#include "test.h"
int main(void) { SKIP("not written yet"); }
