#!/bin/sh
# The systemd units as systemd reads them: `systemd-analyze verify` accepts
# both, and the system unit's exposure score (systemd-analyze security) is
# at most 2.0.  ExecStart points at the built rnnjamd, since verify checks
# that the command exists, and MANPATH at the built man pages, since it
# checks that each Documentation= page exists.  SKIP where systemd-analyze
# is not installed.
set -u
B=${RNJ_BUILDDIR:-.}
SA=$(command -v systemd-analyze) || {
  echo "SKIP: systemd-analyze not installed (Debian package systemd)"
  exit 77
}
T=$(mktemp -d "${TMPDIR:-/tmp}/rnj-units.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
fails=0
mkdir -p "$T/system" "$T/user" "$T/run" "$T/man/man5" "$T/man/man8"
chmod 700 "$T/run"
for m in rnnjamd.8 rnnjamd.conf.5; do
  [ -f "$B/man/$m" ] || { echo "ERROR: $B/man/$m not built"; exit 99; }
  cp "$B/man/$m" "$T/man/man${m##*.}/"
done
export MANPATH="$T/man"
for u in system user; do
  src="$B/systemd/rnnjamd.service"
  [ $u = user ] && src="$B/systemd/user/rnnjamd.service"
  [ -f "$src" ] || { echo "ERROR: $src not built"; exit 99; }
  sed "s|^ExecStart=.*|ExecStart=$(cd "$B" && pwd)/rnnjamd|" "$src" \
    >"$T/$u/rnnjamd.service"
done
if "$SA" verify "$T/system/rnnjamd.service" >"$T/out" 2>&1; then
  echo "ok: system unit verifies"
else
  echo "FAIL: systemd-analyze verify (system): $(cat "$T/out")"
  fails=$((fails + 1))
fi
if XDG_RUNTIME_DIR="$T/run" "$SA" --user verify "$T/user/rnnjamd.service" \
    >"$T/out" 2>&1; then
  echo "ok: user unit verifies"
else
  echo "FAIL: systemd-analyze verify (user): $(cat "$T/out")"
  fails=$((fails + 1))
fi
"$SA" security --offline=yes "$T/system/rnnjamd.service" >"$T/sec" 2>&1
score=$(sed -n 's/.*exposure level for rnnjamd.service: \([0-9.]*\).*/\1/p' \
  "$T/sec")
echo "FIGURE system unit exposure $score"
XDG_RUNTIME_DIR="$T/run" "$SA" --user security --offline=yes \
  "$T/user/rnnjamd.service" 2>&1 \
  | sed -n 's/.*exposure level for rnnjamd.service: \([0-9.]*\).*/\1/p' \
  | sed 's/^/FIGURE user unit exposure /'
if [ -z "$score" ]; then
  echo "FAIL: no exposure score: $(tail -3 "$T/sec")"
  fails=$((fails + 1))
elif awk "BEGIN { exit !($score <= 2.0) }"; then
  echo "ok: exposure $score <= 2.0"
else
  echo "FAIL: exposure $score > 2.0"
  grep "✗" "$T/sec"
  fails=$((fails + 1))
fi
[ $fails -eq 0 ]
