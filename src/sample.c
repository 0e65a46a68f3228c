/* sample: placeholder until the module lands. */
#include "internal.h"
#include "rnnjam/sample.h"
