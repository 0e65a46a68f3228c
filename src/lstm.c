/* lstm: placeholder until the module lands. */
#include "internal.h"
#include "rnnjam/lstm.h"
