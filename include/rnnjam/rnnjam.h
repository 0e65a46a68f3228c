/* rnnjam: everything in one include. */
#ifndef RNNJAM_H
#define RNNJAM_H

#include "rnnjam/common.h"
#include "rnnjam/err.h"
#include "rnnjam/alloc.h"
#include "rnnjam/files.h"
#include "rnnjam/model.h"
#include "rnnjam/encoding.h"
#include "rnnjam/smf.h"
#include "rnnjam/notes.h"
#include "rnnjam/music.h"
#include "rnnjam/ckpt.h"
#include "rnnjam/conf.h"
#include "rnnjam/tempo.h"
#include "rnnjam/grid.h"
#include "rnnjam/clock.h"
#include "rnnjam/engine.h"
#include "rnnjam/seq.h"
#include "rnnjam/lstm.h"
#include "rnnjam/sample.h"
#include "rnnjam/net.h"
#include "rnnjam/plot.h"
#include "rnnjam/loss.h"
#include "rnnjam/train.h"
#include "rnnjam/synth.h"
#include "rnnjam/jack.h"

#endif
