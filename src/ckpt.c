/* ckpt: placeholder until the module lands. */
#include "internal.h"
#include "rnnjam/ckpt.h"
