#!/bin/sh
# rnnjamd under PipeWire, as a Debian 12 desktop runs it: its own headless
# PipeWire (a null sink, its own XDG_RUNTIME_DIR and socket, no session
# manager, so the links are made by the clients, as rnnjamd's autoconnect
# does), rnnjamd started through pw-jack (pipewire-jack's libjack):
#
#  1. the JACK side: midi = jack, audio into the null sink; a JACK client
#     (tests/jack-client.c, also under pw-jack) plays calls into rnnjam:in
#     and records the sink's monitor: each answer must be audible there
#     (RMS printed as a FIGURE), silence before it, every note-on paired;
#  2. the ALSA sequencer side (only with a kernel sequencer: here inside
#     seqvm, like test-daemon.sh): midi = alsa, and PipeWire's MIDI bridge
#     (the api.alsa.seq.bridge node, which wireplumber creates on a
#     desktop) shows rnnjam:in and rnnjam:out as JACK MIDI ports; the
#     client sends the mode switch (CC 72) into rnnjam:in through the
#     bridge, and rnnjamd's notes must come back through it, paired, and
#     be audible on the sink's monitor.  Continuous play rather than
#     timed calls: in a VM without KVM, PipeWire misses wakeups and the
#     bridge's timing says nothing about rnnjamd's.
#
# SKIPs (77) with the reason when PipeWire, pipewire-jack or a General
# MIDI soundfont is missing, or when PipeWire does not start here (its log
# says why).  Part 2 SKIPs alone (a note) where there is no sequencer and
# no seqvm.
set -u
S=${RNJ_SRCDIR:-.}
B=${RNJ_BUILDDIR:-.}
GAP=200 # ms of silence before an answer: longer than a period

for c in pipewire pw-jack pw-cli; do
  command -v $c >/dev/null 2>&1 || {
    echo "SKIP: $c not installed (Debian: pipewire, pipewire-bin," \
      "pipewire-jack)"
    exit 77
  }
done
SF=
for f in /usr/share/sounds/sf2/TimGM6mb.sf2 \
         /usr/share/sounds/sf2/FluidR3_GM.sf2 \
         /usr/share/sounds/sf2/default-GM.sf2; do
  [ -r "$f" ] && { SF=$f; break; }
done
[ -n "$SF" ] || { echo "SKIP: no soundfont in /usr/share/sounds/sf2" \
  "(Debian: timgm6mb-soundfont)"; exit 77; }
RNJD="$B/rnnjamd"
CLIENT="$B/tests/jack-client"
[ -x "$RNJD" ] || { echo "ERROR: $RNJD not built"; exit 99; }
[ -x "$CLIENT" ] || { echo "ERROR: $CLIENT not built"; exit 99; }
MODEL="$S/models/default.safetensors"
[ -r "$MODEL" ] || { echo "ERROR: $MODEL missing"; exit 99; }

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# Part 2 needs the kernel's sequencer: without one, this script runs
# itself again inside seqvm for that part (the VM sees this file system,
# so the same binaries), after part 1 here.
PART=${RNJ_PW_PART:-1}
if [ -n "${SEQVM:-}" ]; then
  PART=2
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/rnj-pw.XXXXXX") || exit 99
PWPID=
PID=
cleanup() {
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$PWPID" ] && kill -TERM "$PWPID" 2>/dev/null && \
    wait "$PWPID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

# A PipeWire of its own: its runtime dir, its socket name, its config.
export XDG_RUNTIME_DIR="$W/run"
mkdir -m 700 "$XDG_RUNTIME_DIR" "$W/pw"
unset JACK_DEFAULT_SERVER PIPEWIRE_REMOTE DBUS_SESSION_BUS_ADDRESS
REMOTE=rnj-pw-$$
export PIPEWIRE_REMOTE=$REMOTE
# PipeWire's own default period, as on a desktop: 1024 frames at 48 kHz
# (21 ms).  Shorter ones lose JACK MIDI events on a loaded machine, where
# PipeWire (not rnnjamd) misses its wakeups, and pipewire-jack reports no
# xrun for that.
QUANTUM=1024
export PIPEWIRE_QUANTUM=$QUANTUM/48000
NAME=rnjpw$$

# write_conf BRIDGE: the daemon's configuration; BRIDGE=1 adds PipeWire's
# ALSA sequencer bridge (it needs /dev/snd/seq).
write_conf() {
  bridge=
  [ "$1" = 1 ] && bridge='
    { factory = spa-node-factory
      args = { factory.name = api.alsa.seq.bridge  node.name = Midi-Bridge } }'
  cat >"$W/pw/pipewire.conf" <<EOF
context.properties = {
    core.daemon = true
    core.name = $REMOTE
    link.max-buffers = 16
    default.clock.rate = 48000
    default.clock.quantum = $QUANTUM
    default.clock.min-quantum = 64
    default.clock.max-quantum = 2048
}
context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    api.alsa.*      = alsa/libspa-alsa
    support.*       = support/libspa-support
}
context.modules = [
    # real-time scheduling for the graph where this user may have it (as
    # test-jack.sh gives jackd): without it a loaded machine makes PipeWire
    # miss its wakeups, and JACK MIDI events are lost
    { name = libpipewire-module-rt
      args = { nice.level = -11  rt.prio = 20 }
      flags = [ ifexists nofail ] }
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-spa-node-factory }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-access }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-link-factory }
]
context.objects = [
    { factory = metadata  args = { metadata.name = default } }
    { factory = spa-node-factory
      args = { factory.name = support.node.driver  node.name = Dummy-Driver
               node.group = pipewire.dummy  priority.driver = 20000 } }
    { factory = adapter
      args = { factory.name = support.null-audio-sink
               node.name = rnj-sink  node.description = rnj-sink
               media.class = Audio/Sink  object.linger = true
               audio.position = [ FL FR ]
               adapter.auto-port-config = { mode = dsp  monitor = true
                                            position = preserve } } }$bridge
]
EOF
}

# start_pipewire: 1 (with its log) if it does not come up within 10 s
start_pipewire() {
  PIPEWIRE_CONFIG_DIR="$W/pw" pipewire >"$W/pw.log" 2>&1 &
  PWPID=$!
  for _ in $(seq 100); do
    if pw-jack jack_lsp 2>/dev/null | grep -q '^rnj-sink:monitor_FL$'; then
      return 0
    fi
    kill -0 "$PWPID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

# ports: the JACK ports, as pw-jack's clients see them
ports() { pw-jack jack_lsp 2>/dev/null; }

wait_log() { # PATTERN N: until the daemon's log has PATTERN, N tenths of s
  for _ in $(seq "$2"); do
    grep -q "$1" "$W/daemon.log" && return 0
    sleep 0.1
  done
  return 1
}

# start_daemon ARGS...: rnnjamd through pw-jack, its audio to the sink
start_daemon() {
  : >"$W/empty.conf"
  pw-jack "$RNJD" --config="$W/empty.conf" --checkpoint="$MODEL" \
    --client-name="$NAME" --soundfont="$SF" --phrase-gap=$GAP \
    --answer-start=gap --quantize=off \
    --autoconnect="rnj-sink:playback_FL, rnj-sink:playback_FR" \
    "$@" >"$W/daemon.log" 2>&1 &
  PID=$!
  if wait_log "JACK: connected" 150; then
    ok "rnnjamd under pw-jack: $(grep "JACK: connected" "$W/daemon.log")"
  else
    fail "rnnjamd did not connect to PipeWire's JACK: $(cat "$W/daemon.log")"
    return 1
  fi
  ports >"$W/ports"
  pw-jack jack_lsp -c 2>/dev/null >"$W/links"
  if grep -A2 "^$NAME:left\$" "$W/links" | grep -q "rnj-sink:playback_FL" &&
     grep -A2 "^$NAME:right\$" "$W/links" | grep -q "rnj-sink:playback_FR"
  then
    ok "autoconnect: $NAME:left and :right on the null sink's playback ports"
  else
    fail "autoconnect: $(cat "$W/links")"
  fi
}

stop_daemon() {
  kill -USR1 "$PID" 2>/dev/null && sleep 0.5
  grep "stats (SIGUSR1)" "$W/daemon.log" | tail -1 | \
    sed -n 's/.* events in \([0-9]*\), notes in [0-9]*, fed [0-9]*, '\
'out \([0-9]*\);.*/FIGURE rnnjamd: events in \1, notes out \2/p'
  kill -TERM "$PID" 2>/dev/null
  wait "$PID"
  rc=$?
  PID=
  [ $rc -eq 0 ] && ok "SIGTERM: rnnjamd exits 0" \
    || fail "SIGTERM: exit $rc: $(tail -3 "$W/daemon.log")"
}

# judge_client FILE RC WHAT: the client's figures and verdict
judge_client() {
  cat "$1"
  if [ "$2" -eq 0 ]; then
    ok "$3"
    sed -n 's/.*respond_call [0-9]*:.*answer RMS \([0-9.]*\).*/\1/p' "$1" |
      awk -v w="$4" '{ s = s " " $1 } END {
        if (NR) print "FIGURE " w " answer RMS on the sink monitor:" s }'
  else
    fail "$3: jack-client exit $2"
    echo "--- rnnjamd's log"
    cat "$W/daemon.log"
  fi
}

# ------------------------------------------------------------ part 1: JACK
if [ "$PART" = 1 ]; then
  write_conf 0
  if ! start_pipewire; then
    echo "SKIP: PipeWire does not start here: $(tail -5 "$W/pw.log")"
    exit 77
  fi
  v=$(pipewire --version | sed -n 's/.*libpipewire \(.*\)/\1/p' | tail -1)
  echo "PipeWire $v headless: null sink rnj-sink, socket" \
    "$XDG_RUNTIME_DIR/$REMOTE"
  start_daemon --midi=jack --jack-connect-in=none || exit 1
  grep -qx "$NAME:in" "$W/ports" && grep -qx "$NAME:out" "$W/ports" \
    && ok "JACK MIDI ports $NAME:in and :out" \
    || fail "no JACK MIDI ports: $(cat "$W/ports")"
  RNJ_JACK_PORT_LEFT=rnj-sink:monitor_FL \
  RNJ_JACK_PORT_RIGHT=rnj-sink:monitor_FR \
    pw-jack "$CLIENT" "$NAME" $GAP respond:4 silence:0.5 \
    >"$W/client1.out" 2>&1
  judge_client "$W/client1.out" $? \
    "JACK MIDI in, answers audible on the sink's monitor" jack
  stop_daemon
  kill -TERM "$PWPID" 2>/dev/null; wait "$PWPID" 2>/dev/null; PWPID=

  # part 2 where the sequencer is: here, or in seqvm
  if [ -e /dev/snd/seq ]; then
    RNJ_PW_PART=2 sh "$0"
    rc=$?
  else
    VM=${RNJ_SEQVM:-$S/../shared/tools/seqvm}
    if [ ! -x "$VM" ]; then
      echo "note: the ALSA sequencer side not run: no /dev/snd/seq and no" \
        "seqvm ($VM)"
      rc=0
    elif ! why=$("$VM" --check 2>&1); then
      echo "note: the ALSA sequencer side not run: seqvm cannot run: $why"
      rc=0
    else
      # One of these VMs at a time (make -j): each keeps a host core
      # busy, and two starve each other's timing.
      LOCK=
      command -v flock >/dev/null 2>&1 &&
        LOCK="flock ${TMPDIR:-/tmp}/rnnjam-seqvm.lock"
      src=$(cd "$S" && pwd)
      share=
      case $src in
        /tmp/* | /var/tmp/* | /dev/shm/* | /run/*) share="--rw $src" ;;
      esac
      cd "$B" || exit 99
      for attempt in 1 2; do
        # shellcheck disable=SC2086
        $LOCK "$VM" --timeout 300 $share -- \
          sh "$src/tests/test-pipewire.sh"
        rc=$?
        [ $rc -ne 125 ] && break
      done
      if [ $rc -eq 125 ] || [ $rc -eq 77 ]; then
        echo "note: the ALSA sequencer side not run (seqvm exit $rc)"
        rc=0
      fi
    fi
  fi
  [ $rc -eq 0 ] || fails=$((fails + 1))
  [ $fails -eq 0 ]
  exit
fi

# ---------------------------------------- part 2: the sequencer, the bridge
[ -e /dev/snd/seq ] || { echo "SKIP: no /dev/snd/seq"; exit 77; }
write_conf 1
if ! start_pipewire; then
  echo "SKIP: PipeWire does not start here: $(tail -5 "$W/pw.log")"
  exit 77
fi
# seeded, so that it has something to continue when switched to continuous
start_daemon --midi=alsa --connect-in=none \
  --seed-midi="$S/models/seed.mid" || exit 1
grep -q "ALSA: client" "$W/daemon.log" \
  && ok "$(grep -o "ALSA: client.*" "$W/daemon.log")" \
  || fail "no ALSA client: $(cat "$W/daemon.log")"
# the bridge's ports for rnnjam's ALSA ports: playback into rnnjam:in,
# capture from rnnjam:out
BIN=$(grep "^Midi-Bridge:$NAME:(playback_[0-9]*) in\$" "$W/ports" | head -1)
BOUT=$(grep "^Midi-Bridge:$NAME:(capture_[0-9]*) out\$" "$W/ports" | head -1)
if [ -n "$BIN" ] && [ -n "$BOUT" ]; then
  ok "PipeWire's MIDI bridge shows $NAME:in and :out as '$BIN' and '$BOUT'"
else
  fail "no bridge ports for $NAME: $(grep Midi-Bridge "$W/ports")"
  exit 1
fi
# what rnnjamd sends, as the sequencer delivers it (beside the bridge)
ASEQ=
if command -v aseqdump >/dev/null 2>&1; then
  out=$(sed -n "s/.*$NAME:out \([0-9]*:[0-9]*\)).*/\1/p" "$W/daemon.log")
  stdbuf -oL aseqdump -p "$out" >"$W/aseq.log" 2>&1 &
  ASEQ=$!
fi
RNJ_JACK_PORT_IN="$BIN" RNJ_JACK_PORT_OUT="$BOUT" \
RNJ_JACK_PORT_LEFT=rnj-sink:monitor_FL \
RNJ_JACK_PORT_RIGHT=rnj-sink:monitor_FR \
  pw-jack "$CLIENT" "$NAME" $GAP wait:2 cc:72:127 wait:0.5 cc:72:127 \
    soak:6 cc:72:0 wait:0.5 cc:72:0 wait:3 \
  >"$W/client2.out" 2>&1
crc=$?
cat "$W/client2.out"
# Pairs on the sequencer itself (rnnjamd's job, asserted), beside the
# pairs jack-client saw through the bridge (PipeWire's, reported).
seqpairs=unknown
if [ -n "$ASEQ" ]; then
  kill "$ASEQ" 2>/dev/null; wait "$ASEQ" 2>/dev/null
  # a note left sounding, or struck again while sounding, is a fault of
  # rnnjamd's; a note-off of a silent note silences nothing: counted only
  if awk '/Note (on|off)/ { match($0, /[0-9]+, note [0-9]+/);
         k = substr($0, RSTART, RLENGTH); v = $NF + 0 }
       /Note on/ && v > 0 { ons++; if (on[k]) dbl++; on[k] = 1; next }
       /Note (on|off)/ { offs++; if (!on[k]) stray++; on[k] = 0 }
       END { for (k in on) if (on[k]) stuck++;
             printf "FIGURE sequencer rnnjam:out: note-ons %d note-offs" \
               " %d; left sounding %d, struck while sounding %d, note-offs" \
               " of silent notes %d\n", ons, offs, stuck, dbl, stray
             exit stuck > 0 || dbl > 0 || !ons }' \
      "$W/aseq.log"; then
    seqpairs=ok
    ok "on the sequencer, every note-on of rnnjam:out has its note-off"
  else
    seqpairs=bad
    fail "pairs on the sequencer (above)"
  fi
fi
soak=$(grep "FIGURE soak" "$W/client2.out")
ons=$(echo "$soak" | sed -n 's/.*note-ons \([0-9]*\).*/\1/p')
rms=$(echo "$soak" | sed -n 's/.* rms \([0-9.]*\).*/\1/p')
if [ "${ons:-0}" -ge 1 ] && awk "BEGIN { exit !(${rms:-0} >= 0.003) }"; then
  ok "the mode switch (CC 72) reached rnnjam:in through the bridge, and" \
    "$ons notes came back from rnnjam:out through it, audible"
  echo "FIGURE alsa_bridge continuous play on the sink monitor: RMS $rms" \
    "over 6 s, $ons note-ons through the bridge"
else
  fail "through the bridge: ${ons:-no} note-ons back, RMS ${rms:-none} on" \
    "the sink's monitor (expected notes, and RMS >= 0.003)"
  cat "$W/daemon.log"
fi
if [ $crc -ne 0 ]; then
  # Events the bridge lost or reordered, while the sequencer saw every
  # pair whole, are PipeWire's (its bridge misses wakeups in a VM with an
  # emulated CPU): reported, not blamed on rnnjamd.  Anything else fails.
  if [ "$seqpairs" = ok ] &&
     ! grep "^FAIL" "$W/client2.out" | grep -qv "^FAIL pairs:"; then
    echo "NOTE: through PipeWire's bridge, $(grep -c "^FAIL pairs:" \
      "$W/client2.out") note event(s) lost or out of order (above); on" \
      "the sequencer every pair was whole"
  else
    fail "jack-client exit $crc"
  fi
fi
grep -q "mode: continuous" "$W/daemon.log" &&
  grep -q "mode: respond" "$W/daemon.log" &&
  ok "rnnjamd logged both mode switches (CC 72 through the bridge)" ||
  fail "mode switches not logged: $(cat "$W/daemon.log")"
stop_daemon
[ $fails -eq 0 ]
