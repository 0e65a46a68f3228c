/* notes: placeholder until the module lands. */
#include "internal.h"
#include "rnnjam/notes.h"
