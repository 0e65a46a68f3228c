#!/bin/sh
# rnnjamd's side of systemd's Type=notify protocol, as systemd sees it:
# tests/notify-listen binds the socket named in NOTIFY_SOCKET and records
# every message.  rnnjamd runs with midi = jack and no JACK server (it
# keeps retrying), so neither a sequencer nor JACK is needed.  Checked:
# READY=1 with a STATUS naming the mode and the model at start;
# WATCHDOG=1 at half of WATCHDOG_USEC; SIGHUP gives RELOADING=1 (with
# MONOTONIC_USEC) and READY=1 only after the reload, also when a corrupt
# checkpoint is refused (with a STATUS saying so) and the watchdog keeps
# going; STOPPING=1 on SIGTERM; no watchdog when WATCHDOG_PID names
# another process.
set -u
S=${RNJ_SRCDIR:-.}
B=${RNJ_BUILDDIR:-.}
D=${RNJ_TEST_DATA:-$S/tests/data}
RNJD="$B/rnnjamd"
LISTEN="$B/tests/notify-listen"
[ -x "$RNJD" ] || { echo "ERROR: $RNJD not built"; exit 99; }
[ -x "$LISTEN" ] || { echo "ERROR: $LISTEN not built"; exit 99; }
W=$(mktemp -d "${TMPDIR:-/tmp}/rnj-notify.XXXXXX") || exit 99
PID=
LPID=
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
cleanup() {
  [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
  [ -n "$LPID" ] && kill -KILL "$LPID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
# No JACK server may answer: a name no server has.
export JACK_DEFAULT_SERVER=rnj-notify-none-$$
export JACK_NO_START_SERVER=1

cp "$D/ref-model.safetensors" "$W/model.safetensors" || exit 99

# listen SECONDS: start the listener and wait until it is bound
listen() {
  "$LISTEN" "$W/notify.sock" "$1" >"$W/msgs" 2>&1 &
  LPID=$!
  for _ in $(seq 50); do
    grep -q '^listening' "$W/msgs" && return 0
    sleep 0.1
  done
  echo "ERROR: notify-listen did not start: $(cat "$W/msgs")"
  exit 99
}

# has PATTERN: the messages so far contain PATTERN (extended regex)
has() { grep -Eq "$1" "$W/msgs"; }
count() { grep -Ec "$1" "$W/msgs"; }
# line_of PATTERN: the first message's line number matching PATTERN, or 0
line_of() { n=$(grep -En "$1" "$W/msgs" | head -1 | cut -d: -f1); echo "${n:-0}"; }

listen 20
NOTIFY_SOCKET="$W/notify.sock" WATCHDOG_USEC=400000 \
  "$RNJD" --checkpoint="$W/model.safetensors" --midi=jack --audio=none \
  --mode=respond 2>"$W/daemon.log" &
PID=$!
sleep 1.5
if has ' READY=1\|STATUS=respond mode, model [^ ]*model\.safetensors'; then
  ok "READY=1 with STATUS (mode and model) at start"
else
  fail "no READY=1 with STATUS at start: $(cat "$W/msgs") / $(cat "$W/daemon.log")"
fi
w=$(count 'WATCHDOG=1')
# 1.5 s at one message per 200 ms, minus start-up
if [ "$w" -ge 4 ]; then
  ok "watchdog: $w WATCHDOG=1 in 1.5 s (WATCHDOG_USEC 400 ms)"
else
  fail "watchdog: $w WATCHDOG=1 in 1.5 s: $(cat "$W/msgs")"
fi

# A good reload: RELOADING=1, then READY=1 after it finished.
kill -HUP "$PID"
sleep 1
r=$(line_of 'RELOADING=1\|MONOTONIC_USEC=[0-9]+$')
if [ "$r" -gt 0 ] && tail -n +"$r" "$W/msgs" | grep -q ' READY=1$'; then
  ok "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1"
else
  fail "SIGHUP: $(cat "$W/msgs")"
fi
if grep -q "reloaded: model" "$W/daemon.log"; then
  ok "the reload was done"
else
  fail "no reload in the log: $(cat "$W/daemon.log")"
fi

# A corrupt checkpoint: refused, READY=1 again, STATUS says so.
n0=$(wc -l <"$W/msgs")
head -c 1000 "$D/ref-model.safetensors" >"$W/model.safetensors"
kill -HUP "$PID"
sleep 1
tail -n +"$((n0 + 1))" "$W/msgs" >"$W/after"
if grep -q 'RELOADING=1' "$W/after" &&
   grep -q 'READY=1|STATUS=reload refused' "$W/after"; then
  ok "a corrupt checkpoint: refused, READY=1 with a STATUS saying so"
else
  fail "a corrupt checkpoint: $(cat "$W/after") / $(tail -3 "$W/daemon.log")"
fi
if grep -q 'WATCHDOG=1' "$W/after" && kill -0 "$PID" 2>/dev/null; then
  ok "still running, watchdog still going"
else
  fail "after the refused reload: $(cat "$W/after")"
fi

kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
sleep 0.2
if [ $rc -eq 0 ] && [ "$(tail -1 "$W/msgs" | cut -d' ' -f2-)" = "STOPPING=1" ]; then
  ok "SIGTERM: STOPPING=1 last, exit 0"
else
  fail "SIGTERM: exit $rc, last message $(tail -1 "$W/msgs")"
fi
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
LPID=

# WATCHDOG_PID naming another process: that process is watched, not us.
cp "$D/ref-model.safetensors" "$W/model.safetensors"
listen 20
NOTIFY_SOCKET="$W/notify.sock" WATCHDOG_USEC=200000 WATCHDOG_PID=1 \
  "$RNJD" --checkpoint="$W/model.safetensors" --midi=jack --audio=none \
  2>"$W/daemon2.log" &
PID=$!
sleep 1
if has ' READY=1' && ! has 'WATCHDOG=1'; then
  ok "WATCHDOG_PID of another process: ready, no watchdog"
else
  fail "WATCHDOG_PID=1: $(cat "$W/msgs")"
fi
kill -TERM "$PID"
wait "$PID"
PID=

[ $fails -eq 0 ] || exit 1
