#!/bin/sh
# rnnjamd on JACK, with no ALSA at all (midi = jack): its own JACK server
# (dummy driver, 48 kHz, 64 frames), started after rnnjamd so the daemon
# must find it; a test client plays calls into rnnjamd's JACK MIDI input
# and records its audio and MIDI outputs (tests/jack-client.c: answers are
# audible, silence before them, every note-on has its note-off, latency
# figures); tests/jack-rt.c counts allocations, locks and I/O inside the
# process callback while it runs; then the server is killed and
# restarted at 44.1 kHz, and rnnjamd must reconnect (with its synth
# rebuilt for the new rate), stay silent (nothing stuck) and answer
# again; restarted once more with its soundfont gone, it must go on
# without sound (MIDI answers) and get it back on SIGHUP once the file is
# back; SIGTERM ends it cleanly; a second instance renders the player's
# notes (render = all).
# Timings are printed as FIGURE lines, asserted only loosely.
#
# SKIPs (77) with the reason when jackd or a General MIDI soundfont is
# missing.  RNJ_JACK_CALLS (default 6) sets the number of calls and
# RNJ_JACK_SOAK (default 5) the seconds of continuous play whose xruns
# and process-callback times are reported.
set -u
S=${RNJ_SRCDIR:-.}
B=${RNJ_BUILDDIR:-.}
D=${RNJ_TEST_DATA:-$S/tests/data}
CALLS=${RNJ_JACK_CALLS:-6}
SOAK=${RNJ_JACK_SOAK:-5}
GAP=20

command -v jackd >/dev/null 2>&1 \
  || { echo "SKIP: jackd not installed (Debian: jackd2)"; exit 77; }
command -v jack_lsp >/dev/null 2>&1 \
  || { echo "SKIP: jack_lsp not installed (Debian: jackd2)"; exit 77; }
SF=
for f in /usr/share/sounds/sf2/TimGM6mb.sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2 \
         /usr/share/sounds/sf2/default-GM.sf2; do
  [ -r "$f" ] && { SF=$f; break; }
done
[ -n "$SF" ] || { echo "SKIP: no soundfont in /usr/share/sounds/sf2" \
  "(Debian: timgm6mb-soundfont)"; exit 77; }

RNJD="$B/rnnjamd"
CLIENT="$B/tests/jack-client"
[ -x "$RNJD" ] || { echo "ERROR: $RNJD not built"; exit 99; }
[ -x "$CLIENT" ] || { echo "ERROR: $CLIENT not built"; exit 99; }
W=$(mktemp -d "${TMPDIR:-/tmp}/rnj-jack.XXXXXX") || exit 99
SERVER=rnj-test-$$
NAME=rnjt$$
export JACK_DEFAULT_SERVER=$SERVER
JPID=
PID=
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

cleanup() {
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$JPID" ] && kill -TERM "$JPID" 2>/dev/null && wait "$JPID" 2>/dev/null
  rm -rf "$W"
  # the server's shared memory, by its name (the registry is shared)
  rm -rf /dev/shm/jack_"$SERVER"_* /dev/shm/jack_sem.*_"$SERVER"_* 2>/dev/null
}
trap cleanup EXIT

# Real-time scheduling where this user may use it: without it a loaded
# machine makes the 1.3 ms periods miss their deadlines (xruns).
RT=--no-realtime
if command -v chrt >/dev/null 2>&1 && chrt -f 1 true 2>/dev/null; then
  RT="-R -P 20"
fi

# start_jackd [RATE]: 1 if the server does not come up
start_jackd() {
  # shellcheck disable=SC2086
  jackd $RT -d dummy -r "${1:-48000}" -p 64 >>"$W/jackd.log" 2>&1 &
  JPID=$!
  for _ in $(seq 50); do
    jack_lsp >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# wait_ports N: until rnnjamd's audio port exists, at most N tenths of s
wait_ports() {
  for _ in $(seq "$1"); do
    jack_lsp 2>/dev/null | grep -qx "$NAME:left" && return 0
    sleep 0.1
  done
  return 1
}

# wait_logn PATTERN COUNT N: until the daemon's log has COUNT lines with
# PATTERN, at most N tenths of s; wait_log PATTERN N: one such line
wait_logn() {
  for _ in $(seq "$3"); do
    [ "$(grep -c "$1" "$W/daemon.log")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
wait_log() { wait_logn "$1" 1 "$2"; }

stats_field() { # the last stats line's FIELD value: stats_field xruns
  grep "stats (" "$W/daemon.log" | tail -1 | sed -n "s/.* $1 \([0-9.]*\).*/\1/p"
}

# --- started without a server: it runs, says so, and waits.  Its
# soundfont is a copy, to be taken away later.
cp "$SF" "$W/gm.sf2" || exit 99
"$RNJD" --checkpoint="$D/ref-model.safetensors" --midi=jack \
  --client-name="$NAME" --soundfont="$W/gm.sf2" --phrase-gap=$GAP \
  --answer-length=3 --max-step=150 --min-duration=100 --max-duration=200 \
  --random-seed=5 --jack-connect-in=none --answer-start=gap --quantize=off \
  2>"$W/daemon.log" &
PID=$!
sleep 1
if kill -0 "$PID" 2>/dev/null && grep -q "JACK: .*no JACK server running.*retrying" "$W/daemon.log"; then
  ok "no server at start: rnnjamd runs and retries"
else
  fail "no server at start: $(cat "$W/daemon.log")"
fi
if grep -q "ALSA:" "$W/daemon.log"; then
  fail "midi = jack opened the ALSA sequencer"
fi

# A machine where jackd itself cannot run (no shared memory, say) has
# nothing to test against.
if ! start_jackd; then
  echo "SKIP: jackd $RT -d dummy does not start here: $(tail -3 "$W/jackd.log")"
  exit 77
fi
echo "jackd $RT -d dummy -r 48000 -p 64 (server $SERVER)"
# the log line comes once the connections are made
if wait_ports 100 && wait_log "JACK: connected" 50; then
  ok "connected once the server appeared"
else
  fail "no ports 10 s after the server started: $(cat "$W/daemon.log")"
fi
jack_lsp -c 2>/dev/null >"$W/ports"
if grep -A2 "^$NAME:left\$" "$W/ports" | grep -q "^ *system:playback_1\$" \
    && grep -A2 "^$NAME:right\$" "$W/ports" | grep -q "^ *system:playback_2\$"; then
  ok "autoconnect: left and right on system:playback_1 and _2"
else
  fail "autoconnect: $(cat "$W/ports")"
fi
grep -qx "$NAME:in" "$W/ports" && grep -qx "$NAME:out" "$W/ports" \
  && ok "JACK MIDI ports in and out" || fail "no JACK MIDI ports: $(cat "$W/ports")"

# --- the real-time rules, counted in the running process callback
"$B/tests/jack-rt" "$SF" >"$W/rt.out" 2>&1
rrc=$?
cat "$W/rt.out"
if [ $rrc -eq 0 ]; then
  ok "process callback: no allocation, lock or I/O"
elif [ $rrc -eq 77 ]; then
  echo "note: allocation count not run: $(head -1 "$W/rt.out")"
else
  fail "jack-rt exit $rrc"
fi

# --- calls and answers
"$CLIENT" "$NAME" $GAP "respond:$CALLS" silence:0.5 >"$W/client1.out" 2>&1
crc=$?
cat "$W/client1.out"
[ $crc -eq 0 ] && ok "answers audible, on time, note-ons paired" \
  || fail "jack-client (calls) exit $crc"

# --- continuous play: xruns and the process callback's time
kill -USR1 "$PID"; sleep 0.3
x0=$(stats_field xruns)
"$CLIENT" "$NAME" $GAP cc:72:127 "soak:$SOAK" cc:72:0 wait:1 \
  >"$W/client2.out" 2>&1
crc=$?
cat "$W/client2.out"
[ $crc -eq 0 ] && ok "continuous play, then back to respond: note-ons paired" \
  || fail "jack-client (continuous) exit $crc"
kill -USR1 "$PID"; sleep 0.3
x1=$(stats_field xruns)
echo "FIGURE continuous_${SOAK}s xruns $((${x1:-0} - ${x0:-0})) (jackd $RT, 48000 Hz, 64 frames)"
grep "stats (SIGUSR1)" "$W/daemon.log" | tail -1 | grep -o "process p50 [^,]*" \
  | sed 's/^/FIGURE rnnjamd_/'

# --- the server dies and comes back
kill -KILL "$JPID"; wait "$JPID" 2>/dev/null; JPID=
sleep 1
if wait_log "JACK: the server went away" 30 && kill -0 "$PID" 2>/dev/null; then
  ok "server killed: rnnjamd noticed and runs on"
else
  fail "server killed: $(tail -5 "$W/daemon.log")"
fi
rm -rf /dev/shm/jack_"$SERVER"_* /dev/shm/jack_sem.*_"$SERVER"_* 2>/dev/null
# back at another rate: the synth must be rebuilt for it
start_jackd 44100 || { echo "ERROR: jackd did not start again:" \
  "$(tail -5 "$W/jackd.log")"; exit 99; }
if wait_ports 150 && wait_log "(reconnected)" 50; then
  ok "reconnected to the restarted server"
else
  fail "no reconnection: $(tail -5 "$W/daemon.log")"
fi
grep -q "loaded at 44100 Hz" "$W/daemon.log" \
  && ok "the synth was rebuilt for the server's new rate (44100 Hz)" \
  || fail "no synth at 44100 Hz: $(tail -5 "$W/daemon.log")"
"$CLIENT" "$NAME" $GAP silence:1 respond:2 >"$W/client3.out" 2>&1
crc=$?
cat "$W/client3.out"
[ $crc -eq 0 ] && ok "after reconnecting: silent, then answers again" \
  || fail "jack-client (after reconnecting) exit $crc"

# --- the soundfont disappears (a drive pulled out): the next server, at
# another rate again, needs a synth that cannot load.  Audio goes off with
# the file named, MIDI answers on; put back, SIGHUP loads it and the
# audio ports come back.
mv "$W/gm.sf2" "$W/gm.away"
kill -KILL "$JPID"; wait "$JPID" 2>/dev/null; JPID=
wait_logn "JACK: the server went away" 2 30 \
  || fail "second server kill not noticed: $(tail -3 "$W/daemon.log")"
rm -rf /dev/shm/jack_"$SERVER"_* /dev/shm/jack_sem.*_"$SERVER"_* 2>/dev/null
start_jackd 48000 || { echo "ERROR: jackd did not start a third time:" \
  "$(tail -5 "$W/jackd.log")"; exit 99; }
if wait_logn "audio off: soundfont .*gm.sf2: No such file" 1 150; then
  ok "soundfont gone: $(grep "audio off: " "$W/daemon.log" | tail -1)"
else
  fail "soundfont gone: no 'audio off' naming it: $(tail -5 "$W/daemon.log")"
fi
if wait_logn "(reconnected)" 2 50 && kill -0 "$PID" 2>/dev/null; then
  ok "reconnected without sound (MIDI ports only)"
else
  fail "no MIDI-only reconnection: $(tail -5 "$W/daemon.log")"
fi
jack_lsp 2>/dev/null | grep -qx "$NAME:left" \
  && fail "audio ports registered with no synth"
RNJ_JACK_PORT_LEFT=system:capture_1 RNJ_JACK_PORT_RIGHT=system:capture_2 \
  "$CLIENT" "$NAME" $GAP midi:2 >"$W/client5.out" 2>&1
crc=$?
cat "$W/client5.out"
[ $crc -eq 0 ] && ok "audio off: MIDI still answers, note-ons paired" \
  || fail "jack-client (MIDI only) exit $crc"
mv "$W/gm.away" "$W/gm.sf2"
kill -HUP "$PID"
if wait_logn "loaded at 48000 Hz" 2 150 && wait_ports 100; then
  ok "soundfont back, SIGHUP: loaded again and the audio ports are back"
else
  fail "soundfont back, SIGHUP: $(tail -5 "$W/daemon.log")"
fi
"$CLIENT" "$NAME" $GAP silence:1 respond:2 >"$W/client6.out" 2>&1
crc=$?
cat "$W/client6.out"
[ $crc -eq 0 ] && ok "audio back: silent, then answers heard again" \
  || fail "jack-client (audio back) exit $crc"

# --- SIGTERM
kill -TERM "$PID"
wait "$PID"
drc=$?
PID=
[ $drc -eq 0 ] && ok "rnnjamd exit 0 after SIGTERM" || fail "rnnjamd exit $drc"
grep -q "stopping, all notes off" "$W/daemon.log" && ok "SIGTERM logged" \
  || fail "no stop line"
echo "--- daemon log"
cat "$W/daemon.log"
grep "stats (exit)" "$W/daemon.log" | grep -o "jack: .*" | sed 's/^/FIGURE exit /'

# --- render = all: the player's notes are heard at once (a gap too long
# for any answer to come), and no audio ports get connected
"$RNJD" --checkpoint="$D/ref-model.safetensors" --midi=jack \
  --client-name="$NAME" --soundfont="$SF" --render=all --phrase-gap=60000 \
  --autoconnect=none --jack-connect-in=none 2>"$W/all.log" &
PID=$!
if wait_ports 100; then
  jack_lsp -c 2>/dev/null >"$W/ports"
  grep -A1 "^$NAME:left\$" "$W/ports" | grep -q "^ " \
    && fail "autoconnect=none connected $NAME:left" \
    || ok "autoconnect=none: audio left unconnected"
  "$CLIENT" "$NAME" $GAP notes:3 >"$W/client4.out" 2>&1
  crc=$?
  cat "$W/client4.out"
  [ $crc -eq 0 ] && ok "render=all: the player's notes are heard" \
    || fail "jack-client (render=all) exit $crc"
else
  fail "render=all: no ports: $(cat "$W/all.log")"
fi
kill -TERM "$PID"
wait "$PID"
PID=

if [ $fails -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
exit 0
