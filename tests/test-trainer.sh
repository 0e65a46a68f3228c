#!/bin/sh
# rnnjam-train as a user runs it: --help, a short run of each arch on
# copies of the seed phrase (no corpus needed), the checkpoint it writes
# loading in rnnjam, its log, and the one-line errors on bad options.
set -u
B=${RNJ_BUILDDIR:-.}
S=${RNJ_SRCDIR:-.}
TRAIN="$B/rnnjam-train"
RNJ="$B/rnnjam"
SEED="$S/models/seed.mid"
T=$(mktemp -d "${TMPDIR:-/tmp}/rnj-trainer.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# expect_fail NAME EXIT-CODE PATTERN CMD...: fails with that code and one
# line on stderr matching PATTERN
expect_fail() {
  name=$1 code=$2 pat=$3
  shift 3
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$name: exit $rc, expected $code ($(head -c 300 "$T/err"))"
  elif [ "$(wc -l <"$T/err")" -ne 1 ]; then
    fail "$name: $(wc -l <"$T/err") lines on stderr: $(head -c 300 "$T/err")"
  elif ! grep -q -- "$pat" "$T/err"; then
    fail "$name: stderr lacks '$pat': $(head -c 300 "$T/err")"
  else
    ok "$name"
  fi
}

[ -x "$TRAIN" ] || { echo "ERROR: $TRAIN not built"; exit 99; }
[ -x "$RNJ" ] || { echo "ERROR: $RNJ not built"; exit 99; }
[ -f "$SEED" ] || { echo "ERROR: $SEED missing"; exit 99; }
for f in a b c d; do cp "$SEED" "$T/$f.mid"; done

# --- help
"$TRAIN" --help >"$T/help" || fail "--help exits 0"
for w in "--arch A" "v2 (default) or tutorial" "--clip-norm X" \
         "--transpose LO:HI" "--hidden N"; do
  grep -q -- "$w" "$T/help" && ok "--help names '$w'" \
    || fail "--help lacks '$w'"
done

# --- bad options: one line each, before any data is read
expect_fail "bad --arch" 1 "--arch: 'v3' (expected v2 or tutorial)" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --arch v3
expect_fail "bad --transpose" 1 "--transpose: '5:-6' (expected LO:HI" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --transpose 5:-6
expect_fail "bad --transpose (not a range)" 1 "--transpose: 'x' (expected" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --transpose x
expect_fail "--transpose past 48" 1 "--transpose: '-60:0' (expected" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --transpose=-60:0
expect_fail "--transpose on the tutorial arch" 1 \
  "the tutorial arch has no transposition" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --arch tutorial --transpose -2:2
expect_fail "negative --clip-norm" 1 "--clip-norm: '-1' (expected a norm" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --clip-norm -1
expect_fail "bad --clip-norm" 1 "--clip-norm: 'big' is not a number" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --clip-norm big
expect_fail "bad --hidden" 1 "hidden: 20 (expected a multiple of 16" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --hidden 20
expect_fail "--hidden on the tutorial arch" 1 "tutorial arch has 128" \
  "$TRAIN" "$T" --out "$T/x.safetensors" --arch tutorial --hidden 64

# --- v2, the default: a short run, its checkpoint and log
if "$TRAIN" "$T" --out "$T/v2.safetensors" --log "$T/v2.jsonl" \
    --epochs 2 --batch 4 --hidden 16 --threads 2 --val-split 0.25 \
    >"$T/v2.out" 2>"$T/v2.err"; then
  ok "v2 run"
else
  fail "v2 run: $(cat "$T/v2.err")"
fi
grep -q "model: v2, hidden 16" "$T/v2.out" && ok "v2 is the default" \
  || fail "v2 default: $(head -5 "$T/v2.out")"
[ "$(wc -l <"$T/v2.jsonl")" -eq 2 ] && ok "v2 log: a line an epoch" \
  || fail "v2 log: $(cat "$T/v2.jsonl")"
v='"train_velocity": [0-9.e-]*, .*"val_velocity": [0-9.e-]*, '
grep -q "$v"'.*"grad_norm": [0-9.e-]*' "$T/v2.jsonl" && ok "v2 log: each head's loss and the gradient norm" \
  || fail "v2 log: $(head -1 "$T/v2.jsonl")"
"$RNJ" inspect "$T/v2.safetensors" >"$T/inspect" 2>&1 \
  || fail "inspect v2: $(cat "$T/inspect")"
for w in "rnnjam-lstm-v2, hidden 16" "arch: v2" "transpose: -6:5" \
         "clip_norm: 1" "train_loss_velocity"; do
  grep -q -- "$w" "$T/inspect" && ok "v2 checkpoint: '$w'" \
    || fail "v2 checkpoint lacks '$w'"
done
# a finished run resumes to nothing; one with other options is refused
"$TRAIN" "$T" --out "$T/v2.safetensors" --epochs 2 --batch 4 --hidden 16 \
  --threads 2 --val-split 0.25 --resume >"$T/out" 2>&1 \
  && grep -q "nothing to do" "$T/out" && ok "v2 resume of a finished run" \
  || fail "v2 resume: $(cat "$T/out")"
expect_fail "v2 resume with another transposition" 1 \
  "saved with a different transpose" \
  "$TRAIN" "$T" --out "$T/v2.safetensors" --epochs 3 --batch 4 --hidden 16 \
  --threads 2 --val-split 0.25 --resume --transpose=-3:3

# --- the tutorial arch, as before
if "$TRAIN" "$T" --arch tutorial --out "$T/tut.safetensors" --epochs 1 \
    --batch 4 --threads 1 --val-split 0.25 >"$T/tut.out" 2>"$T/tut.err"
then
  ok "tutorial run"
else
  fail "tutorial run: $(cat "$T/tut.err")"
fi
"$RNJ" inspect "$T/tut.safetensors" 2>&1 | grep -q "rnnjam-lstm-v1" \
  && ok "tutorial checkpoint is v1" || fail "tutorial checkpoint"

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
