#!/bin/sh
# The user unit run as a user runs it: `systemctl --user enable --now
# rnnjamd` under a real systemd user manager must bring rnnjamd up
# (Type=notify: "active" only once it said READY), `reload` must reach it
# (SIGHUP, same process, no restart), `stop` must end it, and its sandbox
# (the seccomp filter) must never kill it.  The unit is the built one,
# with ExecStart pointing at the built rnnjamd and the shipped model named
# in a drop-in, as a user would write one.
#
# A user manager needs a machine booted with systemd and a cgroup tree to
# manage, which this test does not take from the developer's own session:
# it runs inside seqvm (a throw-away VM, the kernel sequencer too), where it
# mounts cgroup2 and starts `systemd --user` itself.  SKIPs (77) with the
# reason where seqvm or systemd is missing.
set -u
S=${RNJ_SRCDIR:-.}
B=${RNJ_BUILDDIR:-.}

command -v systemctl >/dev/null 2>&1 && [ -x /lib/systemd/systemd ] || {
  echo "SKIP: systemd not installed (Debian package systemd)"
  exit 77
}
U="$B/systemd/user/rnnjamd.service"
[ -f "$U" ] || { echo "ERROR: $U not built"; exit 99; }
[ -x "$B/rnnjamd" ] || { echo "ERROR: $B/rnnjamd not built"; exit 99; }

if [ -z "${SEQVM:-}" ]; then
  VM=${RNJ_SEQVM:-$S/../shared/tools/seqvm}
  [ -x "$VM" ] || {
    echo "SKIP: a systemd user manager is only started inside seqvm, and" \
      "there is none ($VM)"
    exit 77
  }
  why=$("$VM" --check 2>&1) || {
    echo "SKIP: seqvm cannot run: $why"
    exit 77
  }
  src=$(cd "$S" && pwd)
  bld=$(cd "$B" && pwd)
  share=
  case $src in
    /tmp/* | /var/tmp/* | /dev/shm/* | /run/*) share="--rw $src" ;;
  esac
  cd "$B" || exit 99
  for attempt in 1 2; do
    # shellcheck disable=SC2086
    "$VM" --timeout 300 $share -- env RNJ_SRCDIR="$src" RNJ_BUILDDIR="$bld" \
      sh "$src/tests/test-user-unit.sh"
    rc=$?
    [ $rc -ne 125 ] && exit $rc
  done
  echo "SKIP: seqvm could not start the VM twice (exit 125)"
  exit 77
fi

# --- inside the VM (its root file system is a throw-away overlay)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
sc() { timeout 60 systemctl --user "$@"; }

# the user manager's prerequisites: "booted with systemd", a cgroup tree,
# a runtime dir; and systemctl must not mind seqvm's chroot
mkdir -p /run/systemd/system
[ -f /sys/fs/cgroup/cgroup.controllers ] ||
  mount -t cgroup2 none /sys/fs/cgroup || exit 99
export XDG_RUNTIME_DIR=/run/user/$(id -u) SYSTEMD_IGNORE_CHROOT=1
mkdir -p -m 700 "$XDG_RUNTIME_DIR"

# the built unit where a user manager reads units, and a drop-in
mkdir -p /etc/systemd/user/rnnjamd.service.d
sed "s|^ExecStart=.*|ExecStart=$B/rnnjamd|" "$U" \
  >/etc/systemd/user/rnnjamd.service
cat >/etc/systemd/user/rnnjamd.service.d/model.conf <<EOF
[Service]
Environment=RNNJAM_MODEL=$S/models/default.safetensors
EOF

/lib/systemd/systemd --user >/tmp/manager.log 2>&1 &
SD=$!
trap 'kill $SD 2>/dev/null' EXIT
for _ in $(seq 300); do
  [ -S "$XDG_RUNTIME_DIR/systemd/private" ] && break
  sleep 0.2
done
[ -S "$XDG_RUNTIME_DIR/systemd/private" ] || {
  echo "ERROR: systemd --user did not come up: $(tail -5 /tmp/manager.log)"
  exit 99
}

if sc enable --now rnnjamd 2>&1; then
  ok "systemctl --user enable --now rnnjamd"
else
  fail "systemctl --user enable --now rnnjamd: $(sc status rnnjamd \
    --no-pager 2>&1 | tail -8)"
fi
state=$(sc is-active rnnjamd)
status=$(sc show -P StatusText rnnjamd)
pid=$(sc show -P MainPID rnnjamd)
[ "$state" = active ] && ok "active (READY=1 sent), status: $status" ||
  fail "is-active: $state"
if sc reload rnnjamd; then
  sleep 2
  pid2=$(sc show -P MainPID rnnjamd)
  restarts=$(sc show -P NRestarts rnnjamd)
  [ "$pid2" = "$pid" ] && [ "$restarts" = 0 ] &&
    [ "$(sc is-active rnnjamd)" = active ] &&
    ok "reload: the same process ($pid) reloaded, no restart" ||
    fail "reload: pid $pid -> $pid2, restarts $restarts"
else
  fail "systemctl --user reload rnnjamd"
fi
sc stop rnnjamd && [ "$(sc is-active rnnjamd)" = inactive ] &&
  ok "stop: inactive, result $(sc show -P Result rnnjamd)" ||
  fail "stop: $(sc is-active rnnjamd)"
sc disable rnnjamd 2>&1 | tail -1
# seccomp kills are audited by the kernel (type 1326)
if dmesg 2>/dev/null | grep 'type=1326' | grep -q 'comm="rnnjamd"'; then
  fail "the seccomp filter killed rnnjamd:" \
    "$(dmesg | grep 'type=1326' | tail -1)"
else
  ok "no system call of rnnjamd's was refused with a kill"
fi
[ $fails -eq 0 ]
