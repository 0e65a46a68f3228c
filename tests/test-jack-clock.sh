#!/bin/sh
# rnnjamd in musical time on JACK, with the clients a musician would use:
# klick -T as the JACK timebase master playing a tempo map (100 bpm, then
# 140), jack_midi_clock turning the transport into MIDI Clock, and
# jack_transport stopping, starting and relocating it.  rnnjamd plays
# continuously with quantize = 1/16; tests/jack-clock.c records its notes,
# the clock and the transport and judges them:
#
#   midi       clock = midi, jack_midi_clock into rnnjam:in: onsets within
#              1 ms of the pulses' own 16th grid, >= 99 % before and after
#              the tempo change; the first beat after the change reported
#   jitter     the same with jack_midi_clock -J 10, which adds its jitter
#              to each interval, so the pulses wander from any grid: no
#              follower placing notes 50 ms ahead can be within the
#              issue's 2 ms of them (p99), and the judge asserts instead
#              that rnnjamd's p99 is within 1.5 times (+ 0.5 ms) that of
#              the best possible follower on the same pulses, and that
#              90 % of the onsets are within 5 ms (a pulse miscounted
#              puts every later onset a pulse, 18 ms, off); the figures
#              against a grid fitted over a beat either side are
#              printed with their own best
#   jack       clock = jack, no MIDI Clock: the transport's own grid, as
#              for midi
#   stops-midi, stops-jack
#              the transport stopped, started again and relocated while
#              rnnjamd follows it (MIDI Clock with Stop, Continue and Song
#              Position; or the transport itself): no note-on while
#              stopped, none left sounding, the first onset after each
#              restart on a beat
#   auto       clock = auto: the player's tempo, then the JACK transport
#              once it rolls, then MIDI Clock once jack_midi_clock is
#              connected, then the transport again when it is not: one
#              log line for each source taking over, one for the lost
#              MIDI Clock
#   out        clock = fixed at 123 bpm, clock_out = on: the MIDI Clock on
#              rnnjam:out is at 123 bpm within 0.5 %, as measured by the
#              recorder's fit and by x42's jack_mclk_dump following it
#
# The dummy driver here runs late often (xruns; see docs/robustness.md):
# onsets near an xrun are not judged, and each scenario says how many.
# SKIPs (77) with the reason when a client is missing.  RNJ_CLOCK_TESTS
# (default: all of the above) picks scenarios, RNJ_CLOCK_FLAGS adds flags
# to rnnjamd's, RNJ_CLOCK_DUMP=FILE keeps the midi and jitter runs'
# recordings (FILE.midi, FILE.jitter; jack-clock --replay judges them
# again).
set -u
S=${RNJ_SRCDIR:-.}
B=${RNJ_BUILDDIR:-.}
# Its figures are timing to the millisecond: not beside an emulated VM
# (test-daemon, test-pipewire and test-service run seqvm, two busy
# vCPUs), which in a parallel make check once cost it its grid.  It takes
# their lock, so it waits for a VM to finish and none starts meanwhile.
if [ -z "${RNJ_SEQVM_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
  RNJ_SEQVM_LOCKED=1 exec flock "${TMPDIR:-/tmp}/rnnjam-seqvm.lock" \
    sh "$0" "$@"
fi
D=${RNJ_TEST_DATA:-$S/tests/data}
TESTS=${RNJ_CLOCK_TESTS:-midi jitter jack stops-midi stops-jack auto out}

for t in jackd jack_lsp jack_transport jack_midi_clock jack_mclk_dump klick
do
  command -v $t >/dev/null 2>&1 || {
    echo "SKIP: $t not installed (Debian: jackd2, jack-midi-clock, klick)"
    exit 77
  }
done
RNJD="$B/rnnjamd"
JC="$B/tests/jack-clock"
[ -x "$RNJD" ] || { echo "ERROR: $RNJD not built"; exit 99; }
[ -x "$JC" ] || { echo "ERROR: $JC not built"; exit 99; }
W=$(mktemp -d "${TMPDIR:-/tmp}/rnj-jclock.XXXXXX") || exit 99
SERVER=rnj-clock-$$
NAME=rnjc$$
export JACK_DEFAULT_SERVER=$SERVER
JPID=
PIDS=
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

stop_all() {
  for p in $PIDS; do
    kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  PIDS=
}
cleanup() {
  stop_all
  [ -n "$JPID" ] && kill -TERM "$JPID" 2>/dev/null && wait "$JPID" 2>/dev/null
  rm -rf "$W"
  rm -rf /dev/shm/jack_"$SERVER"_* /dev/shm/jack_sem.*_"$SERVER"_* 2>/dev/null
}
trap cleanup EXIT

# Real-time scheduling where this user may use it (fewer xruns).
RT=--no-realtime
if command -v chrt >/dev/null 2>&1 && chrt -f 1 true 2>/dev/null; then
  RT="-R -P 20"
fi
# shellcheck disable=SC2086
jackd $RT -d dummy -r 48000 -p 256 >"$W/jackd.log" 2>&1 &
JPID=$!
up=0
for _ in $(seq 50); do
  jack_lsp >/dev/null 2>&1 && { up=1; break; }
  sleep 0.1
done
[ $up -eq 1 ] || { echo "ERROR: jackd did not start: $(cat "$W/jackd.log")"
  exit 99; }

# wait_port PORT: until it exists, at most 5 s
wait_port() {
  for _ in $(seq 50); do
    jack_lsp 2>/dev/null | grep -qx "$1" && return 0
    sleep 0.1
  done
  echo "ERROR: no JACK port $1"
  return 1
}
# transport CMD...: jack_transport's commands, one per argument
transport() {
  for c in "$@"; do echo "$c"; done | jack_transport >/dev/null 2>&1
}
bg() { "$@" & PIDS="$PIDS $!"; }

# daemon NAME CLOCK [FLAGS...]: rnnjamd on JACK MIDI, continuous, 1/16.
# The test model's steps are bounded so that it plays about a 16th at a
# time: many onsets to judge.
daemon() {
  tag=$1
  shift
  bg "$RNJD" --checkpoint="$D/ref-model.safetensors" --midi=jack \
    --audio=none --client-name=$NAME --jack-connect-in=none \
    --mode=continuous --quantize=1/16 --random-seed=5 --max-step=150 \
    --max-duration=300 --log-level=debug "$@" ${RNJ_CLOCK_FLAGS:-} \
    2>"$W/$tag.daemon.log"
  wait_port $NAME:out
}

# klick MAP: klick as timebase master playing the tempo map MAP (from
# its start when the transport rolls)
klick_map() {
  printf "$1" >"$W/map.txt"
  bg klick -T -f "$W/map.txt"
  wait_port klick:out
  transport stop "locate 0"
}

# judge TAG SECONDS CLOCK_PORT CHECKS...: the recorder started, the
# transport rolled, the recording judged
judge() {
  tag=$1
  secs=$2
  cport=$3
  shift 3
  "$JC" $NAME:out "$cport" "$secs" "$@" >"$W/$tag.out" 2>&1 &
  jc=$!
  for _ in $(seq 50); do
    grep -q ready "$W/$tag.out" 2>/dev/null && break
    sleep 0.1
  done
  transport play
  [ -n "${SCRIPT:-}" ] && sh -c "$SCRIPT"
  wait $jc
  rc=$?
  sed "s/^/[$tag] /" "$W/$tag.out"
  return $rc
}

# The map: 4 bars at 100 bpm (9.6 s), then 4 at 140 (6.9 s).
MAP='4 4/4 100\n4 4/4 140\n'
MAP_SECS=16.4

for t in $TESTS; do
  echo "=== $t"
  case $t in
  midi | jitter)
    J=
    extra="${RNJ_CLOCK_DUMP:+dump=$RNJ_CLOCK_DUMP.$t}"
    if [ $t = jitter ]; then
      J="-J 10"
      # A sanitizer build runs rnnjamd two to three times slower, and its
      # loop then follows the jittered pulses less closely (0.88 of the
      # onsets within 5 ms, seen): there the share is printed, and the
      # run is judged against the best possible follower alone.
      min=0.9
      case ${RNJ_SANITIZED:-} in
        *sanitize*)
          min=0
          echo "note: sanitizer build: the jitter run's share within 5 ms" \
            "is printed, not judged"
          ;;
      esac
      extra="$extra tol=5 min=$min best=1.5 learn"
    fi
    klick_map "$MAP"
    # shellcheck disable=SC2086
    bg jack_midi_clock $J
    wait_port jack_midi_clock:mclk_out
    daemon $t --clock=midi
    jack_connect jack_midi_clock:mclk_out $NAME:in
    # shellcheck disable=SC2086
    if judge $t $MAP_SECS jack_midi_clock:mclk_out grid=midi $extra; then
      ok "$t: answers on the MIDI Clock's 16th grid"
    else
      fail "$t: see above"
    fi
    ;;
  jack)
    klick_map "$MAP"
    daemon $t --clock=jack
    if judge $t $MAP_SECS none grid=jack; then
      ok "jack: answers on the transport's 16th grid"
    else
      fail "jack: see above"
    fi
    ;;
  stops-midi | stops-jack)
    klick_map '64 4/4 120\n'
    if [ $t = stops-midi ]; then
      # Song Position, then Continue half a second later (not two)
      bg jack_midi_clock -d 0.5
      wait_port jack_midi_clock:mclk_out
      daemon $t --clock=midi
      jack_connect jack_midi_clock:mclk_out $NAME:in
    else
      daemon $t --clock=jack
    fi
    # play 3 s, stop 1.5 s, play 3 s, relocate to bar 9 while rolling
    # (768000 frames = 16 s = 32 beats), play 3 s, stop
    SCRIPT="sleep 3; echo stop | jack_transport >/dev/null 2>&1; sleep 1.5;
      echo play | jack_transport >/dev/null 2>&1; sleep 3;
      echo 'locate 768000' | jack_transport >/dev/null 2>&1; sleep 3;
      echo stop | jack_transport >/dev/null 2>&1"
    if [ $t = stops-midi ]; then
      checks="stops=midi"
      cport=jack_midi_clock:mclk_out
    else
      checks=stops
      cport=none
    fi
    if judge $t 12 $cport $checks; then
      ok "$t: stopped, resumed on the beat, nothing left sounding"
    else
      fail "$t: see above"
    fi
    SCRIPT=
    ;;
  auto)
    klick_map '16 4/4 100\n'
    bg jack_midi_clock
    wait_port jack_midi_clock:mclk_out
    daemon $t --clock=auto
    transport play
    sleep 1.5
    jack_connect jack_midi_clock:mclk_out $NAME:in
    sleep 1.5
    jack_disconnect jack_midi_clock:mclk_out $NAME:in
    sleep 1.5
    L="$W/$t.daemon.log"
    n_jack=$(grep -c "clock: JACK transport takes over at 100.0 bpm" "$L")
    n_midi=$(grep -c "clock: MIDI Clock takes over at 100.0 bpm" "$L")
    n_lost=$(grep -c "clock: MIDI Clock lost" "$L")
    echo "FIGURE auto: JACK transport took over $n_jack time(s), MIDI" \
      "Clock $n_midi, MIDI Clock lost $n_lost"
    if grep -q "clock: the player's tempo at 120.0 bpm (clock = auto" "$L" \
        && [ "$n_jack" -eq 2 ] && [ "$n_midi" -eq 1 ] && [ "$n_lost" -eq 1 ]
    then
      ok "auto: player, JACK, MIDI Clock, JACK again; one line each"
    else
      fail "auto: $(grep "clock:" "$L" | grep -v "position\|bpm$" | head -8)"
    fi
    ;;
  out)
    daemon $t --clock=fixed --tempo=123 --clock-out=on
    bg jack_mclk_dump -b 1 >"$W/mclk.txt" 2>&1
    wait_port jack_mclk_dump:mclk_in
    jack_connect $NAME:out jack_mclk_dump:mclk_in
    if judge $t 10 $NAME:out tempo=123 pct=0.5; then
      ok "out: rnnjamd's MIDI Clock at 123 bpm"
    else
      fail "out: see above"
    fi
    # jack_mclk_dump's own estimates (its DLL's filtered tempo, one a
    # pulse): their median over the second half, once it has settled
    tr '\r' '\n' <"$W/mclk.txt" | sed -n 's/.*flt: *\([0-9.]*\).*/\1/p' \
      >"$W/flt.txt"
    half=$(($(wc -l <"$W/flt.txt") / 2))
    bpm=$(tail -n "$half" "$W/flt.txt" | sort -n \
          | awk '{v[NR]=$1} END{if (NR) print v[int((NR+1)/2)]}')
    echo "FIGURE out: jack_mclk_dump follows at ${bpm:-nothing} bpm" \
      "(the median of its last $half estimates)"
    if [ -n "$bpm" ] && awk "BEGIN{d=$bpm/123-1; exit !(d<0.005 && d>-0.005)}"
    then
      ok "out: a second client (jack_mclk_dump) measures 123 bpm within 0.5 %"
    else
      fail "out: jack_mclk_dump measured '${bpm:-nothing}' bpm"
    fi
    ;;
  *)
    echo "ERROR: unknown scenario $t"
    exit 99
    ;;
  esac
  stop_all
  transport stop "locate 0"
  grep "clock: \|stats (exit)" "$W/$t.daemon.log" | grep -v "position moved" \
    | sed "s/^/[$t] /" | tail -4
done

if [ $fails -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
exit 0
