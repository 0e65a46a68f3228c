#!/bin/sh
# The plugin in a real host: jalv (console, headless) on a named JACK dummy
# server, played and recorded by tests/lv2-client, with klick as the
# transport's timebase master at 100 bpm.
#   1. respond, quantize 1/16: a 16-note phrase gets an answer, every
#      onset on the 16th grid of the transport to one frame;
#   2. continuous: the transport stops while notes sound (every one ends
#      in that period, none starts while stopped), rolls again (the
#      answers resume), and a preset changes the model while it plays
#      (jalv's "preset" command; no stuck note);
#   3. state: a state saved by a lilv host (lv2-host state) is loaded by
#      jalv -l twice, each time a new jalv: the same model and controls,
#      and the same answer, note for note, to the same phrase.
# SKIPs (77) with the reason when jackd, jalv or klick are missing, or in
# a sanitizer build (jalv cannot load an AddressSanitizer-built plugin).
set -u
B=${RNJ_BUILDDIR:-.}
S=${RNJ_SRCDIR:-.}
[ "${RNJ_LV2:-yes}" = yes ] || { echo "SKIP: configured with --disable-lv2"; exit 77; }
case ${RNJ_SANITIZED:-} in
  *sanitize*) echo "SKIP: sanitizer build: jalv cannot load a plugin" \
    "built with AddressSanitizer"; exit 77 ;;
esac
for c in jackd:jackd2 jack_lsp:jackd2 jalv:jalv klick:klick; do
  command -v "${c%%:*}" >/dev/null 2>&1 ||
    { echo "SKIP: ${c%%:*} not installed (Debian: ${c#*:})"; exit 77; }
done
[ -x "$B/tests/lv2-host" ] ||
  { echo "SKIP: no lilv to write a state (Debian: liblilv-dev)"; exit 77; }
CLIENT=$B/tests/lv2-client
[ -x "$CLIENT" ] || { echo "ERROR: $CLIENT not built"; exit 99; }
[ -f "$B/lv2-build/rnnjam.lv2/rnnjam.so" ] || { echo "ERROR: no plugin bundle"; exit 99; }

W=$(mktemp -d "${TMPDIR:-/tmp}/rnj-lv2.XXXXXX") || exit 99
SERVER=rnj-lv2-$$
export JACK_DEFAULT_SERVER=$SERVER
JPID=
KPID=
JALV=
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cleanup() {
  exec 3>&- 2>/dev/null
  for p in $JALV $KPID $JPID; do
    kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  rm -rf "$W"
  rm -rf /dev/shm/jack_"$SERVER"_* /dev/shm/jack_sem.*_"$SERVER"_* 2>/dev/null
}
trap cleanup EXIT

# Real-time scheduling where this user may have it (see test-jack.sh), and
# periods of 21 ms: a busy machine then misses fewer (the plugin places
# its notes at their frame whatever the period).
RT=--no-realtime
if command -v chrt >/dev/null 2>&1 && chrt -f 1 true 2>/dev/null; then
  RT="-R -P 20"
fi
# shellcheck disable=SC2086
jackd $RT -d dummy -r 48000 -p 1024 >"$W/jackd.log" 2>&1 &
JPID=$!
i=0
until jack_lsp >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 50 ] || ! kill -0 "$JPID" 2>/dev/null; then
    echo "SKIP: jackd $RT -d dummy does not start here: $(tail -3 "$W/jackd.log")"
    exit 77
  fi
  sleep 0.1
done
echo "jackd $RT -d dummy -r 48000 -p 1024 (server $SERVER)"

# the preset swaps to the other kind of model (v2)
MODEL2=$S/tests/data/ref-v2-h128.safetensors
# A preset that only changes the model: jalv's "preset URI" restores it
# into the running plugin (threadSafeRestore: through the state worker).
mkdir -p "$W/presets/rnnjam-test.lv2"
cat >"$W/presets/rnnjam-test.lv2/manifest.ttl" <<EOF
@prefix lv2: <http://lv2plug.in/ns/lv2core#> .
@prefix pset: <http://lv2plug.in/ns/ext/presets#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix state: <http://lv2plug.in/ns/ext/state#> .
<urn:rnnjam:test#swap>
	a pset:Preset ;
	lv2:appliesTo <urn:rnnjam:lv2> ;
	rdfs:label "swap" ;
	state:state [
		<urn:rnnjam:lv2#model> <file://$MODEL2>
	] .
EOF
LV2_PATH="$B/lv2-build:$W/presets:${LV2_PATH:-$HOME/.lv2:/usr/local/lib/lv2:/usr/lib/lv2}"
RNNJAM_MODEL=$S/models/default.safetensors
RNJ_LV2_MODEL2=$MODEL2
export LV2_PATH RNNJAM_MODEL RNJ_LV2_MODEL2

# start_jalv NAME ARGS...: jalv as client NAME, its commands from fd 3
start_jalv() {
  n=$1
  shift
  rm -f "$W/$n.in"
  mkfifo "$W/$n.in" || exit 99
  jalv -x -n "$n" "$@" urn:rnnjam:lv2 <"$W/$n.in" >"$W/$n.log" 2>&1 &
  JALV=$!
  exec 3>"$W/$n.in"
  i=0
  until jack_lsp 2>/dev/null | grep -qx "$n:in"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$JALV" 2>/dev/null; then
      echo "ERROR: jalv did not come up:"; cat "$W/$n.log"; exit 99
    fi
    sleep 0.1
  done
}
stop_jalv() {
  exec 3>&-
  i=0
  while kill -0 "$JALV" 2>/dev/null && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  kill -TERM "$JALV" 2>/dev/null
  wait "$JALV" 2>/dev/null
  JALV=
}

klick -T -n rnjklick 100 >"$W/klick.log" 2>&1 &
KPID=$!
sleep 0.5

echo "== 1. respond, quantize 1/16, klick -T at 100 bpm"
start_jalv rnja -c channel=2
"$CLIENT" rnja 2 roll phrase grid:100 || fail "respond on the grid"
stop_jalv

echo "== 2. continuous: stop, roll again, a model changed while playing"
start_jalv rnjb -c channel=2 -c mode=1
"$CLIENT" rnjb 2 roll record:3 stop start record:6 halt &
CPID=$!
sleep 11
echo "preset urn:rnnjam:test#swap" >&3
wait $CPID || fail "continuous, stop and model change"
stop_jalv
grep 'rnnjam: model' "$W/rnjb.log"
grep -q "rnnjam: model $MODEL2" "$W/rnjb.log" ||
  fail "jalv's preset did not change the model: $(tail -5 "$W/rnjb.log")"
kill -TERM "$KPID" 2>/dev/null && wait "$KPID" 2>/dev/null
KPID=

echo "== 3. state saved by a lilv host, restored by jalv -l, twice"
mkdir "$W/state"
# The state's model is the tutorial's (seconds): a model that counts in
# beats (v2) takes each note's beat phase from the plugin's clock, which
# without a rolling transport starts when jalv does, so two runs would
# hear the same call at another phase.
RNJ_LV2_MODEL2=$S/models/tutorial.safetensors \
  "$B/tests/lv2-host" state "$W/state" >"$W/state.log" 2>&1 ||
  { cat "$W/state.log"; fail "lv2-host state"; }
# restored_run N: a new jalv restores the state and answers the phrase
restored_run() {
  start_jalv rnjc$1 -l "$W/state"
  "$CLIENT" rnjc$1 3 phrase record:8 dump:"$W/answer$1.txt" ||
    fail "restored run $1"
  stop_jalv
  for want in 'channel = 3' 'quantize = 0' 'length = 12' 'gap = 400' \
      'thru = 0' 'temperature = 0.8' "rnnjam: model $W/state/"; do
    grep -q "$want" "$W/rnjc$1.log" ||
      fail "restored run $1: jalv shows no '$want'"
  done
}
# An xrun can move the call's own notes by a period, and then the answer's
# timing with them: up to five runs for two without xruns.
clean=
for run in 1 2 3 4 5; do
  restored_run $run
  if grep -q '^# xruns 0$' "$W/answer$run.txt"; then
    clean="$clean $run"
  else
    echo "NOTE: run $run had xruns ($(head -1 "$W/answer$run.txt")): not compared"
  fi
  [ "$(echo $clean | wc -w)" -ge 2 ] && break
done
# shellcheck disable=SC2086
set -- $clean
a=$W/answer1.txt
b=$W/answer2.txt
[ $# -ge 2 ] && { a=$W/answer$1.txt; b=$W/answer$2.txt; }
echo "FIGURE state: answer events after two restores:" \
  "$(grep -vc '^#' "$a") and $(grep -vc '^#' "$b")"
if [ "$(grep -vc '^#' "$a")" -eq 0 ]; then
  fail "no answer after the restore"
elif cmp -s "$a" "$b"; then
  echo "ok: the same answer (frames, pitches, velocities) in two runs"
elif [ $# -ge 2 ]; then
  paste "$a" "$b" | head -30
  fail "the restored plugin answered differently after a restart"
else
  # the call itself moved, and a model that hears beat phases answers
  # another call: lv2-host's state check (test-lv2.sh) stands for this
  echo "NOTE: xruns in all but $# of 5 runs: the answers are not compared"
fi

echo "$fails failure(s)"
[ $fails -eq 0 ]
