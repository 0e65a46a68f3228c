#!/bin/sh
# The LV2 plugin as hosts see it, without JACK: the bundle in the build tree
# (lv2-build/rnnjam.lv2) exports only lv2_descriptor; lilv's own tools list it
# with every port and no warning; sord_validate (lv2_validate) finds its
# description valid against the LV2 schemas; and lv2-host (lilv, frame-exact)
# plays it: an answer on the grid, transport stop and jump, a model swap, the
# real-time counts, state saved and restored, and a v2 model hearing the
# host's beat phase.
set -u
B=${RNJ_BUILDDIR:-.}
S=${RNJ_SRCDIR:-.}
[ "${RNJ_LV2:-yes}" = yes ] || { echo "SKIP: configured with --disable-lv2"; exit 77; }
bundle=$B/lv2-build/rnnjam.lv2
if [ ! -f "$bundle/rnnjam.so" ]; then
  echo "ERROR: no $bundle/rnnjam.so (make builds it)"
  exit 99
fi
if [ ! -x "$B/tests/lv2-host" ]; then
  echo "SKIP: no lilv to host the plugin (Debian: liblilv-dev)"
  exit 77
fi
LV2_PATH="$B/lv2-build:${LV2_PATH:-$HOME/.lv2:/usr/local/lib/lv2:/usr/lib/lv2}"
RNNJAM_MODEL=$S/models/default.safetensors
# the second model is of the other kind (v2): a swap crosses kinds
RNJ_LV2_MODEL2=$S/tests/data/ref-v2-h128.safetensors
export LV2_PATH RNNJAM_MODEL RNJ_LV2_MODEL2
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# One symbol: the library inside is hidden (its RNJ_EXTERN names too).
syms=$(nm -D --defined-only "$bundle/rnnjam.so" | awk '{print $3}' | sort -u)
echo "exported:" $syms
[ "$syms" = lv2_descriptor ] || fail "rnnjam.so exports more than lv2_descriptor"

if command -v lv2ls >/dev/null 2>&1 && command -v lv2info >/dev/null 2>&1
then
  lv2ls >"$tmp/ls" 2>"$tmp/ls.err"
  grep -qx 'urn:rnnjam:lv2' "$tmp/ls" || fail "lv2ls does not list urn:rnnjam:lv2"
  lv2info urn:rnnjam:lv2 >"$tmp/info" 2>"$tmp/info.err"
  sed -n '1,12p' "$tmp/info"
  for sym in in out temperature mode length gap quantize channel thru panic
  do
    grep -q "Symbol: *$sym\$" "$tmp/info" || fail "lv2info shows no port '$sym'"
  done
  grep -q 'Class: *MIDI' "$tmp/info" || fail "lv2info: not a MIDI plugin"
  # lilv reports what it cannot read in the bundle on stderr
  if grep -i 'rnnjam' "$tmp/ls.err" "$tmp/info.err"; then
    fail "lilv warns about the bundle"
  fi
else
  echo "NOTE: no lv2ls/lv2info (Debian: lilv-utils): not checked"
fi

if command -v lv2_validate >/dev/null 2>&1 &&
   command -v sord_validate >/dev/null 2>&1; then
  lv2_validate "$bundle/manifest.ttl" "$bundle/rnnjam.ttl" >"$tmp/val" 2>&1
  tail -1 "$tmp/val"
  grep -q '^Found 0 errors' "$tmp/val" || { cat "$tmp/val"; fail "lv2_validate"; }
else
  echo "NOTE: no lv2_validate/sord_validate (Debian: lv2-dev, sordi): not checked"
fi

"$B/tests/lv2-host" check || fail "lv2-host check"
"$B/tests/lv2-host" play || fail "lv2-host play"
"$B/tests/lv2-host" rt
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "lv2-host rt"
mkdir "$tmp/state" && "$B/tests/lv2-host" state "$tmp/state" ||
  fail "lv2-host state"
"$B/tests/lv2-host" phase || fail "lv2-host phase"
echo "$fails failure(s)"
[ $fails -eq 0 ]
