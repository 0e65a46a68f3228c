#!/bin/sh
# The rnnjam tool as a user runs it: every sub-command's help, the happy
# paths on project-made files, and the one-line errors on bad input.
set -u
B=${RNJ_BUILDDIR:-.}
S=${RNJ_SRCDIR:-.}
D=${RNJ_TEST_DATA:-$S/tests/data}
RNJ="$B/rnnjam"
MODEL="$D/ref-model.safetensors"
SEED="$S/models/seed.mid"
T=$(mktemp -d "${TMPDIR:-/tmp}/rnj-tool.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# expect_fail NAME EXIT-CODE PATTERN CMD...: fails with that code, one line
# on stderr matching PATTERN
expect_fail() {
  name=$1 code=$2 pat=$3
  shift 3
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$name: exit $rc, expected $code ($(head -c 300 "$T/err"))"
  elif ! grep -q -- "$pat" "$T/err"; then
    fail "$name: stderr lacks '$pat': $(head -c 300 "$T/err")"
  else
    ok "$name"
  fi
}

# A MIDI file from hex: mf FILE NOTES LOW HIGH [DIVISION TEMPO] writes
# NOTES 8th notes whose pitches climb from LOW to HIGH and again, at 480
# ticks a quarter and 120 bpm, or at DIVISION (< 256) ticks a quarter and
# TEMPO microseconds a quarter (a tempo event at tick 0).
hex() { for h in "$@"; do printf "\\$(printf '%03o' "0x$h")"; done; }
mf() {
  if [ $# -gt 4 ]; then
    div=$5 tempo=$6 len=$(($2 * 8 + 4 + 7)) dt=$(printf '%02X' $(($5 / 2)))
  else
    div=480 tempo= len=$(($2 * 9 + 4)) dt='81 70'
  fi
  { hex 4D 54 68 64 00 00 00 06 00 00 00 01
    hex $(printf '%02X' $((div >> 8))) $(printf '%02X' $((div & 255)))
    hex 4D 54 72 6B
    hex 00 00 $(printf '%02X' $((len >> 8 & 255))) $(printf '%02X' $((len & 255)))
    [ -n "$tempo" ] && hex 00 FF 51 03 $(printf '%02X %02X %02X' \
      $((tempo >> 16)) $((tempo >> 8 & 255)) $((tempo & 255)))
    k=0
    while [ $k -lt "$2" ]; do
      p=$(printf '%02X' $(($3 + k % ($4 - $3 + 1))))
      hex 00 90 "$p" 40 $dt 80 "$p" 00
      k=$((k + 1))
    done
    hex 00 FF 2F 00; } >"$1"
}
[ -x "$RNJ" ] || { echo "ERROR: $RNJ not built"; exit 99; }
[ -f "$MODEL" ] || { echo "ERROR: $MODEL missing"; exit 99; }
[ -f "$SEED" ] || { echo "ERROR: $SEED missing"; exit 99; }

# --- help and version
"$RNJ" --version | grep -q '^rnnjam [0-9]' && ok version || fail version
for c in notes generate eval inspect bench render; do
  if "$RNJ" "$c" --help | grep -q "usage: rnnjam $c"; then ok "$c --help"
  else fail "$c --help"; fi
done
expect_fail "unknown command" 2 "unknown command 'frobnicate'" "$RNJ" frobnicate

# --- notes
"$RNJ" notes "$SEED" >"$T/seed.csv" || fail "notes on the seed phrase"
head -1 "$T/seed.csv" | grep -qx 'pitch,start,end,step,duration' \
  && ok "notes header" || fail "notes header: $(head -1 "$T/seed.csv")"
n=$(($(wc -l <"$T/seed.csv") - 1))
[ "$n" -ge 26 ] && ok "notes: $n notes" || fail "notes: only $n notes"
# the first note starts the piece: step 0; every row has 5 fields and
# seconds with 6 decimals
sed -n 2p "$T/seed.csv" | grep -Eq '^[0-9]+,[0-9]+\.[0-9]{6},[0-9]+\.[0-9]{6},0\.000000,[0-9]+\.[0-9]{6}$' \
  && ok "notes: first row shape" || fail "notes: first row $(sed -n 2p "$T/seed.csv")"
awk -F, 'NR > 1 && (NF != 5 || $4 < 0 || $5 <= 0) { bad = 1 } END { exit bad }' \
  "$T/seed.csv" && ok "notes: every row valid" || fail "notes: a bad row"
expect_fail "notes: missing file" 1 "nope.mid" "$RNJ" notes "$T/nope.mid"
printf 'this is not MIDI at all' >"$T/bad.mid"
expect_fail "notes: not MIDI" 1 "bad.mid" "$RNJ" notes "$T/bad.mid"
expect_fail "notes: no file" 2 "expected one MIDI file" "$RNJ" notes
expect_fail "notes: bad --instrument" 2 "--instrument" "$RNJ" notes --instrument x "$SEED"
expect_fail "notes: instrument out of range" 1 "instrument" "$RNJ" notes --instrument 99 "$SEED"

# --- notes --beats: beats beside seconds (the seed phrase is at 120 bpm,
# so a beat is half a second), the default table unchanged
"$RNJ" notes --beats --exact "$SEED" >"$T/beats.csv" || fail "notes --beats"
head -1 "$T/beats.csv" | grep -qx 'pitch,start,end,step,duration,start_beat,end_beat' \
  && ok "notes --beats header" || fail "notes --beats header: $(head -1 "$T/beats.csv")"
awk -F, 'NR > 1 { d = $6 - 2 * $2; e = $7 - 2 * $3
  if (NF != 7 || d * d > 1e-18 || e * e > 1e-18) bad = 1 } END { exit bad }' \
  "$T/beats.csv" && ok "notes --beats: beats = 2 x seconds at 120 bpm" \
  || fail "notes --beats: a row off"
[ "$(tail -n +2 "$T/beats.csv" | wc -l)" -eq "$n" ] && ok "notes --beats: every note" \
  || fail "notes --beats: row count"

# --- inspect
"$RNJ" inspect "$MODEL" >"$T/inspect" 2>&1 || fail "inspect"
grep -q '^parameters: 84354$' "$T/inspect" && ok "inspect: parameter count" \
  || fail "inspect: $(cat "$T/inspect")"
grep -q 'lstm.recurrent_kernel *\[128,512\]' "$T/inspect" && ok "inspect: shapes" \
  || fail "inspect: shapes"
grep -q 'format: rnnjam-lstm-v1' "$T/inspect" && ok "inspect: metadata" \
  || fail "inspect: metadata"
grep -q '^kind: rnnjam-lstm-v1 (the tutorial.s), hidden 128, window 25 notes$' \
  "$T/inspect" && ok "inspect: kind" || fail "inspect: $(head -3 "$T/inspect")"
head -c 100 "$MODEL" >"$T/short.safetensors"
expect_fail "inspect: truncated checkpoint" 1 "short.safetensors" "$RNJ" inspect "$T/short.safetensors"

# --- generate
"$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 50 -o "$T/a.mid" 2>"$T/err" \
  || fail "generate: $(cat "$T/err")"
"$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 50 -o "$T/b.mid" 2>/dev/null
"$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 8 --notes 50 -o "$T/c.mid" 2>/dev/null
cmp -s "$T/a.mid" "$T/b.mid" && ok "generate: same seed, same file" \
  || fail "generate: same seed gave different files"
cmp -s "$T/a.mid" "$T/c.mid" && fail "generate: different seeds, same file" \
  || ok "generate: different seeds differ"
g=$("$RNJ" notes "$T/a.mid" | tail -n +2 | wc -l)
[ "$g" -eq 50 ] && ok "generate: 50 notes read back" || fail "generate: read back $g notes"
"$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 50 --csv >"$T/gen.csv" 2>/dev/null
[ "$(tail -n +2 "$T/gen.csv" | wc -l)" -eq 50 ] && ok "generate --csv" || fail "generate --csv"
# pitches in the written file are the generated ones (stable order: by start)
cut -d, -f1 "$T/gen.csv" | tail -n +2 | sort >"$T/p1"
"$RNJ" notes "$T/a.mid" | cut -d, -f1 | tail -n +2 | sort >"$T/p2"
cmp -s "$T/p1" "$T/p2" && ok "generate: file holds the generated pitches" \
  || fail "generate: pitches differ between --csv and the file"
"$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 30 --mode stream -o "$T/s.mid" 2>/dev/null \
  && ok "generate --mode stream" || fail "generate --mode stream"
"$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 10 --include-seed --csv 2>/dev/null >"$T/inc.csv"
[ "$(tail -n +2 "$T/inc.csv" | wc -l)" -eq 35 ] && ok "generate --include-seed" \
  || fail "generate --include-seed: $(tail -n +2 "$T/inc.csv" | wc -l) notes"
"$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 200 --pitch-min 60 --pitch-max 72 --csv 2>/dev/null \
  | tail -n +2 | awk -F, '$1 < 60 || $1 > 72 { bad = 1 } END { exit bad }' \
  && ok "generate: pitch range" || fail "generate: pitch outside --pitch-min/max"
expect_fail "generate: no output" 2 "-o OUT.mid" "$RNJ" generate "$MODEL" --seed-midi "$SEED"
expect_fail "generate: bad temperature" 2 "--temperature" "$RNJ" generate "$MODEL" --seed-midi "$SEED" --temperature -1 -o "$T/x.mid"
expect_fail "generate: bad mode" 2 "--mode" "$RNJ" generate "$MODEL" --seed-midi "$SEED" --mode sideways -o "$T/x.mid"
expect_fail "generate: missing checkpoint" 1 "missing.safetensors" "$RNJ" generate "$T/missing.safetensors" --seed-midi "$SEED" -o "$T/x.mid"
expect_fail "generate: bad seed file" 1 "bad.mid" "$RNJ" generate "$MODEL" --seed-midi "$T/bad.mid" -o "$T/x.mid"
expect_fail "generate: unwritable output" 1 "nodir/out.mid" "$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 1 -o "$T/nodir/out.mid"
[ ! -e "$T/x.mid" ] && ok "generate: no file left by failures" || fail "generate: a failed run left x.mid"

# --- the shipped tutorial model: the bytes shipped as the default model
# until the v2 model replaced it (its SHA-256 recorded then), still loaded
# and played by every tool
TUT="$S/models/tutorial.safetensors"
if command -v sha256sum >/dev/null 2>&1; then
  sum=$(sha256sum "$TUT" | cut -d' ' -f1)
  [ "$sum" = 159f221977b82c49cc39b8dfde17e9ac6c449d2bccbd9f75e33c24c7044cf3ab ] \
    && ok "tutorial model: the same bytes" || fail "tutorial model: sha256 $sum"
else
  echo "note: no sha256sum, the tutorial model's bytes not checked"
fi
"$RNJ" inspect "$TUT" 2>&1 | grep -q 'rnnjam-lstm-v1' \
  && ok "tutorial model: inspect" || fail "tutorial model: inspect"
"$RNJ" generate "$TUT" --seed-midi "$SEED" --seed 1 --notes 40 --csv \
  >"$T/tut.csv" 2>"$T/err" || fail "tutorial model: generate: $(cat "$T/err")"
[ "$(($(wc -l <"$T/tut.csv") - 1))" -eq 40 ] \
  && ok "tutorial model: generate" || fail "tutorial model: $(wc -l <"$T/tut.csv") lines"

# --- a v2 model (random weights, tests/reference.py): every tool takes it
V2="$D/ref-v2-h128.safetensors"
"$RNJ" inspect "$V2" >"$T/inspect2" 2>&1 || fail "inspect v2: $(cat "$T/inspect2")"
grep -q '^kind: rnnjam-lstm-v2, hidden 128, window 25 notes$' "$T/inspect2" \
  && grep -q '^parameters: 207720$' "$T/inspect2" \
  && grep -q '^velocity.kernel *\[128,32\]' "$T/inspect2" \
  && grep -q 'step 98 bins' "$T/inspect2" \
  && ok "inspect v2" || fail "inspect v2: $(head -5 "$T/inspect2")"
"$RNJ" generate "$V2" --seed-midi "$SEED" --seed 3 --notes 60 --csv \
  >"$T/v2a.csv" 2>"$T/err" || fail "generate v2: $(cat "$T/err")"
"$RNJ" generate "$V2" --seed-midi "$SEED" --seed 3 --notes 60 --csv \
  >"$T/v2b.csv" 2>/dev/null
"$RNJ" generate "$V2" --seed-midi "$SEED" --seed 3 --notes 60 --csv \
  --mode stream >"$T/v2c.csv" 2>/dev/null
# the same seed, the same notes; the first note comes from the same 25
# seed notes in either mode
[ "$(($(wc -l <"$T/v2a.csv") - 1))" -eq 60 ] && cmp -s "$T/v2a.csv" "$T/v2b.csv" \
  && [ "$(sed -n 2p "$T/v2a.csv")" = "$(sed -n 2p "$T/v2c.csv")" ] \
  && ok "generate v2" || fail "generate v2: $(head -3 "$T/v2a.csv")"
"$RNJ" eval "$V2" "$SEED" --json >"$T/eval-v2.json" 2>"$T/err" \
  || fail "eval v2: $(cat "$T/err")"
grep -Eq '^\{"windows": [0-9]+, "loss": [0-9.e]+, "pitch": [0-9.e]+, "step": [0-9.e]+, "duration": [0-9.e]+, "velocity": [0-9.e]+\}$' \
  "$T/eval-v2.json" && ok "eval v2 --json: the cross-entropy of each head" \
  || fail "eval v2: $(cat "$T/eval-v2.json")"
"$RNJ" bench --arch v2 --hidden 32 --steps 100000 --windows 100 --json \
  >"$T/bench2.json" 2>"$T/err" && grep -q '"stream_p99_us": [0-9.]*' "$T/bench2.json" \
  && ok "bench --arch v2" || fail "bench --arch v2: $(cat "$T/err" "$T/bench2.json")"
expect_fail "bench: bad --arch" 2 "--arch: expected tutorial or v2" "$RNJ" bench --arch v3
expect_fail "bench: bad --hidden" 2 "--hidden" "$RNJ" bench --arch v2 --hidden 8
expect_fail "bench: --hidden not a multiple of 16" 1 "multiple of 16" "$RNJ" bench --arch v2 --hidden 40
expect_fail "bench: --arch and a checkpoint" 2 "no checkpoint with it" "$RNJ" bench "$V2" --arch v2

# --- generate: the tutorial's model writes the files it always wrote (the
# portable kernel's bytes; every SIMD kernel gives the same)
if command -v sha256sum >/dev/null 2>&1; then
  "$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 50 \
    --kernel portable -o "$T/pin1.mid" 2>/dev/null
  "$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 50 \
    --kernel portable --mode stream --include-seed -o "$T/pin2.mid" 2>/dev/null
  s1=$(sha256sum "$T/pin1.mid" | cut -d' ' -f1)
  s2=$(sha256sum "$T/pin2.mid" | cut -d' ' -f1)
  [ "$s1" = ee6edac3614eb07b4f28c8220f3034d79ef297f3d532264ea58532e198e74670 ] \
    && [ "$s2" = b1d0f1440570d6528f4f35afd90aed335eec193230e8397d697767d539879a2c ] \
    && ok "generate: the tutorial's files unchanged" \
    || fail "generate: the tutorial's files changed: $s1 $s2"
fi

# --- generate --quantize: every onset on the grid of the seed's tempo, to
# the tick.  on_grid FILE DIVISION UNIT_TICKS [ALLOWED]: each onset tick
# (start_beat * DIVISION) is whole and a multiple of UNIT_TICKS, or with
# ALLOWED (a list of ticks within a beat) one of them modulo DIVISION.
on_grid() {
  "$RNJ" notes --beats --exact "$1" | awk -F, -v d="$2" -v g="$3" -v a="${4:-}" '
    NR > 1 { t = $6 * d; r = int(t + 0.5); n++
      if ((t - r) * (t - r) > 1e-12) bad = 1
      else if (a == "" && r % g) bad = 1
      else if (a != "" && index(" " a " ", " " (r % d) " ") == 0) bad = 1 }
    END { exit bad || n < 10 }'
}
for q in 1/4:480 1/8:240 1/16:120 1/8t:160 1/16t:80; do
  u=${q%%:*} g=${q##*:}
  "$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 40 \
    --quantize "$u" -o "$T/q1.mid" 2>"$T/err" || fail "quantize $u: $(cat "$T/err")"
  "$RNJ" generate "$V2" --seed-midi "$SEED" --seed 7 --notes 40 \
    --quantize "$u" -o "$T/q2.mid" 2>"$T/err" || fail "quantize $u v2: $(cat "$T/err")"
  on_grid "$T/q1.mid" 480 "$g" && on_grid "$T/q2.mid" 480 "$g" \
    && ok "generate --quantize $u: every onset on the grid" \
    || fail "generate --quantize $u: an onset off the $g-tick grid"
done
# swing 50 %: the off-beat 8th half an 8th late, at 3/4 of the beat
"$RNJ" generate "$V2" --seed-midi "$SEED" --seed 7 --notes 60 --quantize 1/8 \
  --swing 50 -o "$T/sw.mid" 2>/dev/null
on_grid "$T/sw.mid" 480 0 "0 360" && ok "generate --swing 50" \
  || fail "generate --swing: $("$RNJ" notes --beats "$T/sw.mid" | head -5)"
# a seed at 100 bpm and 96 ticks a quarter: the output keeps both, so a
# beat lasts 0.6 s, and a 16th is 24 of its ticks
mf "$T/slow.mid" 40 60 72 96 600000
"$RNJ" generate "$V2" --seed-midi "$T/slow.mid" --seed 7 --notes 40 \
  --quantize 1/16 -o "$T/slow-out.mid" 2>"$T/err" || fail "slow seed: $(cat "$T/err")"
on_grid "$T/slow-out.mid" 96 24 \
  && "$RNJ" notes --beats --exact "$T/slow-out.mid" | awk -F, 'NR > 1 {
       d = $2 - 0.6 * $6; if (d * d > 1e-12) bad = 1 } END { exit bad }' \
  && ok "generate v2: the seed's division and tempo" \
  || fail "generate v2 in the seed's tempo: $("$RNJ" notes --beats "$T/slow-out.mid" | sed -n 2,4p)"
# the tutorial's model: its seconds read through the seed's tempo
"$RNJ" generate "$MODEL" --seed-midi "$T/slow.mid" --seed 7 --notes 40 \
  --quantize 1/8 -o "$T/slow-tut.mid" 2>/dev/null
on_grid "$T/slow-tut.mid" 96 48 && ok "generate --quantize: the tutorial's model in the seed's tempo" \
  || fail "generate --quantize, tutorial's model, slow seed"
# --tempo: one tempo instead of the seed's
"$RNJ" generate "$V2" --seed-midi "$T/slow.mid" --seed 7 --notes 40 \
  --tempo 150 -o "$T/fast.mid" 2>/dev/null
"$RNJ" notes --beats --exact "$T/fast.mid" | awk -F, 'NR > 1 {
  d = $2 - 0.4 * $6; if (d * d > 1e-12) bad = 1; n++ } END { exit bad || n != 40 }' \
  && ok "generate --tempo 150" || fail "generate --tempo: $(sed -n 2,3p "$T/fast.mid")"
# --include-seed: the seed's notes written on their own ticks
"$RNJ" generate "$V2" --seed-midi "$T/slow.mid" --seed 7 --notes 5 \
  --include-seed -o "$T/inc2.mid" 2>/dev/null
"$RNJ" notes --beats --exact "$T/slow.mid" | sed -n 2,26p | cut -d, -f1,6,7 >"$T/s1"
"$RNJ" notes --beats --exact "$T/inc2.mid" | sed -n 2,26p | cut -d, -f1,6,7 >"$T/s2"
cmp -s "$T/s1" "$T/s2" && ok "generate v2 --include-seed: the seed on its ticks" \
  || fail "generate v2 --include-seed: $(diff "$T/s1" "$T/s2" | head -3)"
"$RNJ" generate "$V2" --seed-midi "$SEED" --seed 7 --notes 20 --csv 2>/dev/null \
  | awk -F, 'NR == 1 && $0 != "pitch,start,end,step,duration,velocity" { bad = 1 }
             NR > 1 && ($6 < 1 || $6 > 127) { bad = 1 } END { exit bad }' \
  && ok "generate v2 --csv: the model's velocities" || fail "generate v2 --csv: velocity"
expect_fail "generate: --swing alone" 2 "only with --quantize" "$RNJ" generate "$MODEL" --seed-midi "$SEED" --swing 20 --csv
expect_fail "generate: bad --quantize" 2 "--quantize: expected off, 1/4" "$RNJ" generate "$MODEL" --seed-midi "$SEED" --quantize 1/32 --csv
expect_fail "generate: bad --swing" 2 "--swing" "$RNJ" generate "$MODEL" --seed-midi "$SEED" --quantize 1/8 --swing 90 --csv
expect_fail "generate: bad --tempo" 2 "--tempo" "$RNJ" generate "$MODEL" --seed-midi "$SEED" --tempo 0 --csv
expect_fail "generate: bad --top-p" 2 "--top-p" "$RNJ" generate "$V2" --seed-midi "$SEED" --top-p 1.5 --csv

# --- eval
"$RNJ" eval "$MODEL" "$SEED" --json >"$T/eval.json" 2>"$T/err" || fail "eval: $(cat "$T/err")"
grep -Eq '^\{"windows": [0-9]+, "loss": [-0-9.e]+, "pitch": [-0-9.e]+, "step": [-0-9.e]+, "duration": [-0-9.e]+\}$' "$T/eval.json" \
  && ok "eval --json shape" || fail "eval --json: $(cat "$T/eval.json")"
w=$(sed 's/.*"windows": \([0-9]*\).*/\1/' "$T/eval.json")
[ "$w" -eq $((n - 25)) ] && ok "eval: $w windows = notes - 25" || fail "eval: $w windows for $n notes"
cp "$SEED" "$T/dir1.mid"; mkdir "$T/sub"; cp "$SEED" "$T/sub/dir2.MID"
"$RNJ" eval "$MODEL" "$T/dir1.mid" "$T/sub" --json --threads 2 >"$T/eval2.json" 2>/dev/null
w2=$(sed 's/.*"windows": \([0-9]*\).*/\1/' "$T/eval2.json")
[ "$w2" -eq $((2 * w)) ] && ok "eval: files and folders" || fail "eval: $w2 windows from two copies"
l1=$(sed 's/.*"loss": \([^,]*\),.*/\1/' "$T/eval.json")
l2=$(sed 's/.*"loss": \([^,]*\),.*/\1/' "$T/eval2.json")
[ "$l1" = "$l2" ] && ok "eval: two copies, same mean" || fail "eval: mean $l1 vs $l2"
expect_fail "eval: no files" 2 "expected MIDI files" "$RNJ" eval "$MODEL"

# --- eval --music
mf "$T/high.mid" 60 120 125
mf "$T/short.mid" 20 60 67
"$RNJ" notes "$T/high.mid" | tail -n +2 | wc -l | grep -qx 60 \
  && ok "eval --music: made-up file reads" || fail "eval --music: made-up file"
"$RNJ" eval --music "$MODEL" "$SEED" --notes 32 --json >"$T/m1.json" 2>"$T/err" \
  || fail "eval --music: $(cat "$T/err")"
grep -q '"key": "C major"' "$T/m1.json" && ok "eval --music: the seed's key" \
  || fail "eval --music: key: $(head -c 300 "$T/m1.json")"
# the phrase's own continuation: diatonic, on the 8th grid, in tempo
c=$(grep -c '"real": {"notes": 32, "in_key": 1, "grid8": 1, "grid16": 1, "tempo_ratio": 1,' "$T/m1.json")
[ "$c" -eq 12 ] && ok "eval --music: real continuation measured in 12 keys" \
  || fail "eval --music: $c real continuations as expected"
c=$(grep -c '"model": {"notes": 32, "in_key": [0-9.]*, "grid8": [0-9.]*,' "$T/m1.json")
[ "$c" -eq 12 ] && ok "eval --music: 12 generations" || fail "eval --music: $c generations"
"$RNJ" eval --music "$MODEL" "$SEED" --notes 32 --json >"$T/m2.json" 2>/dev/null
"$RNJ" eval --music "$MODEL" "$SEED" --notes 32 --seed 2 --json >"$T/m3.json" 2>/dev/null
cmp -s "$T/m1.json" "$T/m2.json" && ok "eval --music: same seed, same figures" \
  || fail "eval --music: not repeatable"
cmp -s "$T/m1.json" "$T/m3.json" && fail "eval --music: --seed ignored" \
  || ok "eval --music: another seed, other figures"
"$RNJ" eval --music "$MODEL" "$T/dir1.mid" "$T/sub" "$T/high.mid" --notes 16 \
  >"$T/m4.txt" 2>"$T/err" || fail "eval --music: three files: $(cat "$T/err")"
grep -q '^total: 3 file(s), 33 run(s)' "$T/m4.txt" \
  && ok "eval --music: totals over files" || fail "eval --music: $(grep total "$T/m4.txt")"
grep -q 'high.mid: .* 9 of 12 transpositions' "$T/m4.txt" \
  && ok "eval --music: shifts that leave 0..127 left out" \
  || fail "eval --music: $(grep high.mid "$T/m4.txt")"
# two copies of a file get the same figures, whatever comes before them
sed -n '/dir1.mid:/,/^$/p' "$T/m4.txt" | tail -n +2 >"$T/b1"
sed -n '/dir2.MID:/,/^$/p' "$T/m4.txt" | tail -n +2 >"$T/b2"
[ -s "$T/b1" ] && cmp -s "$T/b1" "$T/b2" && ok "eval --music: a file's figures are its own" \
  || fail "eval --music: copies differ"
# a model in beats hears the same beats at any tempo, and its onsets reach
# seconds through the seed's tempo map: at 100 and 120 bpm the same notes
# at the same tempo ratio (the grid shares differ: 25 ms is a larger part
# of a faster beat)
mf "$T/at100.mid" 40 60 72 96 600000
mf "$T/at120.mid" 40 60 72 96 500000
"$RNJ" eval --music "$V2" "$T/at100.mid" --notes 24 --json 2>/dev/null \
  | grep '"shift": [-0-9]*, "model"' | sed 's/"grid[0-9]*": [0-9.]*, //g' >"$T/e100"
"$RNJ" eval --music "$V2" "$T/at120.mid" --notes 24 --json 2>/dev/null \
  | grep '"shift": [-0-9]*, "model"' | sed 's/"grid[0-9]*": [0-9.]*, //g' >"$T/e120"
[ "$(wc -l <"$T/e100")" -eq 12 ] && cmp -s "$T/e100" "$T/e120" \
  && grep -q '"real": {"notes": 15, "in_key": [0-9.]*, "tempo_ratio": 1,' "$T/e100" \
  && ok "eval --music v2: beats to seconds through the seed's tempo" \
  || fail "eval --music v2: $(diff "$T/e100" "$T/e120" | head -c 400)"
expect_fail "eval --music: no files" 2 "expected MIDI files" "$RNJ" eval --music "$MODEL"
expect_fail "eval --music: bad --notes" 2 "--notes" "$RNJ" eval --music "$MODEL" "$SEED" --notes 0
expect_fail "eval --music: too short" 1 "short.mid: 20 notes" "$RNJ" eval --music "$MODEL" "$T/short.mid"
"$RNJ" eval --music --help | grep -q 'usage: rnnjam eval --music' \
  && ok "eval --music --help" || fail "eval --music --help"

# --- bench (figures are not asserted: this machine is shared)
"$RNJ" bench "$MODEL" --steps 100000 --windows 200 --json >"$T/bench.json" 2>"$T/err" \
  || fail "bench: $(cat "$T/err")"
grep -q '"stream_p99_us": [0-9.]*' "$T/bench.json" && ok "bench --json" \
  || fail "bench: $(cat "$T/bench.json")"
"$RNJ" bench --train "$SEED" --batches 10 --threads 1,2 --json >"$T/bt.json" 2>"$T/err" \
  || fail "bench --train: $(cat "$T/err")"
grep -Eq '"threads": 1, .*"windows_per_s": [0-9]+.*"threads": 2, ' "$T/bt.json" \
  && ok "bench --train --json" || fail "bench --train: $(cat "$T/bt.json")"
expect_fail "bench --train: no data" 2 "expected MIDI files" "$RNJ" bench --train
expect_fail "bench: too few steps" 2 "--steps" "$RNJ" bench "$MODEL" --steps 10

# --- plot
# png_size FILE: "WIDTHxHEIGHT" from the PNG header (IHDR at byte 16)
png_size() {
  od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }'
}
is_png() { [ "$(od -An -c -j1 -N3 "$1" | tr -d ' ')" = PNG ]; }
if "$RNJ" plot --help | grep -q "usage: rnnjam plot"; then ok "plot --help"
else fail "plot --help"; fi
"$RNJ" plot roll "$SEED" -o "$T/roll.png" 2>"$T/err" || fail "plot roll: $(cat "$T/err")"
is_png "$T/roll.png" && [ "$(png_size "$T/roll.png")" = 1200x480 ] \
  && ok "plot roll: 1200x480 PNG" || fail "plot roll: $(png_size "$T/roll.png")"
"$RNJ" plot roll "$SEED" --compare "$T/a.mid" --seconds 5 --width 640 --height 500 \
  -o "$T/cmp.png" 2>"$T/err" || fail "plot roll --compare: $(cat "$T/err")"
[ "$(png_size "$T/cmp.png")" = 640x500 ] && ok "plot roll --compare, sized" \
  || fail "plot roll --compare: $(png_size "$T/cmp.png")"
"$RNJ" plot roll "$SEED" -o "$T/roll.svg" 2>/dev/null
grep -q '<svg' "$T/roll.svg" && ok "plot roll: SVG" || fail "plot roll: no SVG"
"$RNJ" plot dist "$T/dir1.mid" "$T/sub" --clip -o "$T/dist.png" 2>"$T/err" \
  && is_png "$T/dist.png" && ok "plot dist: files and folders" || fail "plot dist: $(cat "$T/err")"
"$RNJ" plot dist "$SEED" --compare "$T/a.mid" --step-max 1 -o "$T/dist2.png" 2>"$T/err" \
  && is_png "$T/dist2.png" && ok "plot dist --compare" || fail "plot dist --compare: $(cat "$T/err")"
printf '{"epoch": 1, "train_loss": 0.9, "val_loss": 1.0}\n{"epoch": 2, "train_loss": 0.7, "val_loss": 0.8}\n' >"$T/log.jsonl"
"$RNJ" plot loss "$T/log.jsonl" -o "$T/loss.png" 2>"$T/err" && is_png "$T/loss.png" \
  && ok "plot loss" || fail "plot loss: $(cat "$T/err")"
printf '{"lr": 0.005}\n' >"$T/nolosses.jsonl"
expect_fail "plot loss: no loss keys" 1 "nolosses.jsonl: no line has any of train_loss" \
  "$RNJ" plot loss "$T/nolosses.jsonl" -o "$T/y.png"
expect_fail "plot: unwritable output" 1 "nodir/y.png" "$RNJ" plot roll "$SEED" -o "$T/nodir/y.png"
expect_fail "plot: not .png or .svg" 2 "expected -o OUT.png or -o OUT.svg" "$RNJ" plot roll "$SEED" -o "$T/y.jpg"
expect_fail "plot: no kind" 2 "expected roll, dist or loss" "$RNJ" plot
expect_fail "plot: bad --width" 2 "--width" "$RNJ" plot roll "$SEED" --width 5 -o "$T/y.png"
expect_fail "plot roll: missing file" 1 "nope.mid" "$RNJ" plot roll "$T/nope.mid" -o "$T/y.png"
[ ! -e "$T/y.png" ] && [ -z "$(find "$T" -name '*.tmp.*')" ] \
  && ok "plot: nothing left by failures" || fail "plot: a failed run left a file"

# --- render (and generate --wav): needs a General MIDI soundfont
# wav_info FILE: "RATE FRAMES" from a canonical 44-byte WAV header
wav_info() {
  [ "$(od -An -c -j36 -N4 "$1" | tr -d ' ')" = data ] || { echo "0 0"; return; }
  od -An -tu4 -j24 -N4 "$1" | tr -d ' ' | tr '\n' ' '
  echo $(( $(od -An -tu4 -j40 -N4 "$1" | tr -d ' ') / 4 ))
}
# within A B C: A <= B <= C for decimals
within() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { exit !(a <= b && b <= c) }'; }
expect_fail "render: no files" 2 "expected IN.mid and OUT.wav" "$RNJ" render "$SEED"
expect_fail "render: bad --rate" 2 "--rate" "$RNJ" render "$SEED" "$T/r.wav" --rate 7
expect_fail "render: missing soundfont" 1 \
  "soundfont $T/none.sf2: No such file or directory" \
  "$RNJ" render "$SEED" "$T/r.wav" --soundfont "$T/none.sf2"
SF=
for f in /usr/share/sounds/sf2/TimGM6mb.sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2 \
         /usr/share/sounds/sf2/default-GM.sf2; do
  [ -r "$f" ] && { SF=$f; break; }
done
if [ -z "$SF" ]; then
  echo "note: render not run: no soundfont in /usr/share/sounds/sf2"
else
  "$RNJ" render "$SEED" "$T/seed.wav" --soundfont "$SF" --rate 22050 --tail 2 \
    2>"$T/err" || fail "render: $(cat "$T/err")"
  set -- $(wav_info "$T/seed.wav")
  music=$(sed -n 's/.*(music \([0-9.]*\) s).*/\1/p' "$T/err")
  last=$("$RNJ" notes "$SEED" | awk -F, 'NR > 1 && $3 > m { m = $3 } END { print m }')
  secs=$(awk -v f="$2" 'BEGIN { printf "%.3f", f / 22050 }')
  if [ "$1" = 22050 ] && within "$last" "$music" "$music" \
      && within "$music" "$secs" "$(awk -v m="$music" 'BEGIN { print m + 2.05 }')"; then
    ok "render: ${secs} s WAV at 22050 Hz for ${music} s of music (last note-off ${last} s)"
  else
    fail "render: rate $1, ${secs} s for music '${music}' s, last note-off ${last} s"
  fi
  "$RNJ" generate "$MODEL" --seed-midi "$SEED" --seed 7 --notes 30 -o "$T/g.mid" \
    --wav "$T/g.wav" --soundfont "$SF" --rate 16000 --tail 1 2>"$T/err" \
    || fail "generate --wav: $(cat "$T/err")"
  set -- $(wav_info "$T/g.wav")
  glast=$("$RNJ" notes "$T/g.mid" | awk -F, 'NR > 1 && $3 > m { m = $3 } END { print m }')
  gsecs=$(awk -v f="$2" 'BEGIN { printf "%.3f", f / 16000 }')
  if [ "$1" = 16000 ] && within "$(awk -v m="$glast" 'BEGIN { print m - 0.01 }')" \
      "$gsecs" "$(awk -v m="$glast" 'BEGIN { print m + 1.05 }')"; then
    ok "generate --wav: ${gsecs} s for notes ending at ${glast} s"
  else
    fail "generate --wav: rate $1, ${gsecs} s for notes ending at ${glast} s"
  fi
  expect_fail "render: unwritable output" 1 "nodir/r.wav" \
    "$RNJ" render "$SEED" "$T/nodir/r.wav" --soundfont "$SF"
  expect_fail "render: not MIDI" 1 "bad.mid" \
    "$RNJ" render "$T/bad.mid" "$T/r.wav" --soundfont "$SF"
  [ ! -e "$T/r.wav" ] && [ -z "$(find "$T" -name '*.tmp.*')" ] \
    && ok "render: nothing left by failures" || fail "render: a failed run left a file"
  # a real piece from the shared corpus, where there is one
  C=${RNJ_MIDI_CORPUS:-}
  P="$C/piano-midi-de/Chopin/chpn-p7.mid"
  if [ -n "$C" ] && [ -f "$P" ]; then
    "$RNJ" render "$P" "$T/p7.wav" --soundfont "$SF" --rate 22050 --tail 3 \
      2>"$T/err" || fail "render corpus: $(cat "$T/err")"
    set -- $(wav_info "$T/p7.wav")
    music=$(sed -n 's/.*(music \([0-9.]*\) s).*/\1/p' "$T/err")
    last=$("$RNJ" notes "$P" | awk -F, 'NR > 1 && $3 > m { m = $3 } END { print m }')
    secs=$(awk -v f="$2" 'BEGIN { printf "%.3f", f / 22050 }')
    echo "FIGURE render_corpus chpn-p7.mid music ${music} s, last note-off ${last} s, wav ${secs} s"
    if within "$last" "$music" "$(awk -v m="$last" 'BEGIN { print m + 5 }')" \
        && within "$music" "$secs" "$(awk -v m="$music" 'BEGIN { print m + 3.05 }')"; then
      ok "render: corpus piece, ${secs} s for ${music} s of music"
    else
      fail "render corpus: ${secs} s for music '${music}' s, last note-off ${last} s"
    fi
  else
    echo "note: corpus render not run (no \$RNJ_MIDI_CORPUS/piano-midi-de)"
  fi
fi

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
