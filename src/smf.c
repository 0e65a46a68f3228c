/* smf: placeholder until the module lands. */
#include "internal.h"
#include "rnnjam/smf.h"
