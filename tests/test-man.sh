#!/bin/sh
# The man pages against the programs.  rnnjamd's flags and configuration
# keys are written into rnnjamd(8) and rnnjamd.conf(5) from its option
# table at build time (man/mangen.c); rnnjam(1), rnnjam-train(1) and the
# rest of rnnjamd(8) are written by hand, so this test checks that they
# agree with what the programs print:
#   - every command "rnnjam --help" lists has a section .SS "rnnjam CMD"
#     in rnnjam(1);
#   - every long option "rnnjam CMD --help" prints is named in that
#     section, and every long option the section names is in that help
#     (with the help of a mode it names, "rnnjam CMD --MODE --help";
#     --help itself, which every command takes, is left out);
#   - the same for rnnjam-train(1) and rnnjamd(8) against their --help,
#     and every key rnnjamd knows is a key in rnnjamd.conf(5), and back;
#   - options in a page's EXAMPLES and outside rnnjam(1)'s command
#     sections may be any program's.
# A failure says which option is missing from which page and where to
# write it.  Then groff (-ww) and man must render every page with no
# warning, as lintian checks them.
set -u
S=${RNJ_SRCDIR:-.}
B=${RNJ_BUILDDIR:-.}
T=$(mktemp -d "${TMPDIR:-/tmp}/rnj-man.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for p in rnnjam rnnjam-train rnnjamd; do
  [ -x "$B/$p" ] || { echo "ERROR: $B/$p not built"; exit 99; }
done
for m in rnnjam.1 rnnjam-train.1 rnnjamd.8 rnnjamd.conf.5; do
  [ -f "$B/man/$m" ] || { echo "ERROR: $B/man/$m not built"; exit 99; }
done

# opts: the long options in a text, one per line, sorted, unique.
opts() {
  grep -o -- '--[a-z0-9][a-z0-9-]*' | sed 's/-*$//' | sort -u
}
# page_opts: like opts, for a page's text: lines that run systemctl or
# journalctl are theirs, not ours, and left out.
page_opts() {
  grep -Ev '(^|[^a-z])(systemctl|journalctl) ' | opts
}
# plain PAGE: roff source as text, without comments: "\-" is "-" and
# font changes are dropped, so "\fB\-\-seed\fR" reads "--seed".
plain() {
  sed -e '/^\.\\"/d' -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' \
    -e 's/\\(..//g' -e 's/\\&//g' "$1"
}
# section NAME FILE: the lines of a plain page from ".SS NAME" (quoted or
# not) up to the next .SS or .SH.
section() {
  awk -v want="$1" '
    /^\.S[SH] / { t = $0; sub(/^\.S[SH] +/, "", t); gsub(/"/, "", t);
                  on = ($1 == ".SS" && t == want); next }
    on { print }' "$2"
}
# outside_examples FILE, examples FILE: a plain page without its EXAMPLES
# section, and that section alone.
outside_examples() {
  awk '/^\.SH / { ex = ($0 ~ /^\.SH "?EXAMPLES"?$/); }
       !ex { print }' "$1"
}
examples() {
  awk '/^\.SH / { ex = ($0 ~ /^\.SH "?EXAMPLES"?$/); }
       ex { print }' "$1"
}
# compare WHAT HELP_OPTS PAGE_OPTS PAGE_SRC WHERE: both directions.
compare() {
  comm -23 "$2" "$3" | while read -r o; do
    echo "FAIL: $1 prints $o, but $4 does not describe it${5:+ $5}:" \
      "add it there"
  done
  comm -13 "$2" "$3" | while read -r o; do
    echo "FAIL: $4 describes $o${5:+ $5}, but $1 does not print it:" \
      "remove it from the page (or the option is missing from the help)"
  done
}

# Every program's long options: examples and cross references may use any.
: >"$T/all"
"$B/rnnjam" --help >"$T/h" 2>&1 || fail "rnnjam --help: exit $?"
opts <"$T/h" >>"$T/all"
cmds=$(sed -n '/^commands:/,/^$/ s/^  \([a-z][a-z-]*\) .*/\1/p' "$T/h")
[ -n "$cmds" ] || fail "rnnjam --help lists no commands: $(cat "$T/h")"
for c in $cmds; do
  "$B/rnnjam" "$c" --help >"$T/h.$c" 2>&1 \
    || fail "rnnjam $c --help: exit $?"
  # a mode with a help of its own ('rnnjam eval --music --help') belongs
  # to the command's section too
  : >"$T/m.$c"
  for m in $(grep -o "'rnnjam $c --[a-z-]* --help'" "$T/h.$c" |
             sed "s/'rnnjam $c \(--[a-z-]*\) --help'/\1/" | sort -u); do
    "$B/rnnjam" "$c" "$m" --help >>"$T/h.$c" 2>&1 \
      || fail "rnnjam $c $m --help: exit $?"
    printf " or 'rnnjam %s %s --help'" "$c" "$m" >>"$T/m.$c"
  done
  opts <"$T/h.$c" >>"$T/all"
done
"$B/rnnjam-train" --help >"$T/h.train" 2>&1 \
  || fail "rnnjam-train --help: exit $?"
"$B/rnnjamd" --help >"$T/h.d" 2>&1 || fail "rnnjamd --help: exit $?"
opts <"$T/h.train" >>"$T/all"
opts <"$T/h.d" >>"$T/all"
sort -u -o "$T/all" "$T/all"

# --- rnnjam(1): one section per command
SRC1=man/rnnjam.1.in
plain "$B/man/rnnjam.1" >"$T/p1"
for c in $cmds; do
  section "rnnjam $c" "$T/p1" >"$T/s.$c"
  if ! grep -q "^\.SS \"*rnnjam $c\"*\$" "$T/p1"; then
    fail "rnnjam --help lists the command '$c', but $SRC1 has no section" \
      "for it: add '.SS \"rnnjam $c\"' under COMMANDS"
    continue
  fi
  opts <"$T/h.$c" | grep -vx -- --help >"$T/ho"
  page_opts <"$T/s.$c" | grep -vx -- --help >"$T/po"
  compare "'rnnjam $c --help'$(cat "$T/m.$c")" "$T/ho" "$T/po" "$SRC1" \
    "in its section '.SS \"rnnjam $c\"'" >>"$T/fails"
done
# sections for commands that no longer exist
grep '^\.SS "*rnnjam ' "$T/p1" | sed 's/^\.SS "*rnnjam \([a-z-]*\).*/\1/' |
  while read -r c; do
    echo " $cmds " | tr '\n' ' ' | grep -q " $c " ||
      echo "FAIL: $SRC1 has a section for 'rnnjam $c', a command" \
        "'rnnjam --help' does not list: remove it"
  done >>"$T/fails"
# the rest of the page: rnnjam's own options; any program's in examples
awk '/^\.SS "*rnnjam / { skip = 1; next } /^\.S[SH] / { skip = 0 }
     !skip { print }' "$T/p1" >"$T/rest1"
page_opts <"$T/rest1" | comm -13 "$T/all" - | while read -r o; do
  echo "FAIL: $SRC1 names $o outside the command sections, which no" \
    "rnnjam program prints in its --help: remove it from the page"
done >>"$T/fails"
for o in --help --version; do
  grep -q -- "$o" "$T/rest1" ||
    echo "FAIL: $SRC1 does not describe rnnjam's own $o under OPTIONS" \
      >>"$T/fails"
done

# --- rnnjam-train(1) and rnnjamd(8): the whole page against the help
check_page() { # PROGRAM HELP PAGE SRC
  plain "$3" >"$T/pp"
  opts <"$2" >"$T/ho"
  outside_examples "$T/pp" | page_opts >"$T/po"
  compare "'$1 --help'" "$T/ho" "$T/po" "$4" "" >>"$T/fails"
  # examples may use any program's options, but only existing ones
  examples "$T/pp" | page_opts | comm -13 "$T/all" - | while read -r o; do
    echo "FAIL: $4 uses $o in EXAMPLES, which no rnnjam program prints" \
      "in its --help: change the example"
  done >>"$T/fails"
}
check_page rnnjam-train "$T/h.train" "$B/man/rnnjam-train.1" \
  man/rnnjam-train.1.in
check_page rnnjamd "$T/h.d" "$B/man/rnnjamd.8" \
  "man/rnnjamd.8.in (or man/mangen.c, for the configuration flags)"

# --- rnnjamd.conf(5): every key rnnjamd knows, and no other.  A key is
# a flag of "rnnjamd --help" listed under a [section] line.
sed -n '/^ \[[a-z_]*\]$/,$ s/^  --\([a-z0-9-]*\)=.*/\1/p' "$T/h.d" |
  tr - _ | sort -u >"$T/keys"
[ -s "$T/keys" ] || fail "no configuration keys in rnnjamd --help"
plain "$B/man/rnnjamd.conf.5" | awk '/^\.SH KEYS/ { on = 1; next }
  /^\.SH / { on = 0 } on && prev == ".TP" { print $1 } { prev = $0 }' |
  sed 's/-/_/g' | sort -u >"$T/pkeys"
comm -23 "$T/keys" "$T/pkeys" | while read -r k; do
  echo "FAIL: rnnjamd knows the key '$k', but rnnjamd.conf(5) does not" \
    "list it: rebuild the page (man/mangen.c writes the keys)"
done >>"$T/fails"
comm -13 "$T/keys" "$T/pkeys" | while read -r k; do
  echo "FAIL: rnnjamd.conf(5) lists the key '$k', which rnnjamd does not" \
    "know"
done >>"$T/fails"
grep -q "@RNJ_" "$B/man/rnnjamd.8" "$B/man/rnnjamd.conf.5" &&
  echo "FAIL: a marker @RNJ_...@ was left in a page" >>"$T/fails"

if [ -s "$T/fails" ]; then
  cat "$T/fails"
  fails=$((fails + $(wc -l <"$T/fails")))
else
  echo "ok: the pages name every long option and key of the programs" \
    "($(wc -l <"$T/all") options, $(wc -l <"$T/keys") keys), and no other"
fi

# --- rendering: as lintian does (man --warnings), and groff -ww
if ! command -v groff >/dev/null 2>&1 || ! command -v man >/dev/null 2>&1
then
  [ $fails -eq 0 ] || exit 1
  echo "SKIP: the pages agree with the programs, but groff or man is" \
    "missing to render them (Debian: groff-base, man-db)"
  exit 77
fi
for m in rnnjam.1 rnnjam-train.1 rnnjamd.8 rnnjamd.conf.5; do
  f="$B/man/$m"
  groff -ww -z -man -Tutf8 "$f" >"$T/g" 2>&1
  if [ -s "$T/g" ] || ! groff -man -Tutf8 "$f" >/dev/null 2>&1; then
    fail "groff -ww -z -man $m: $(cat "$T/g")"
  fi
  LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" \
    >/dev/null 2>"$T/w"
  if [ -s "$T/w" ]; then
    fail "man --warnings $m: $(cat "$T/w")"
  fi
  LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$f" >"$T/r" 2>"$T/w"
  if [ $? -ne 0 ] || [ ! -s "$T/r" ]; then
    fail "man -l $m: $(cat "$T/w")"
  else
    echo "ok: $m renders ($(wc -l <"$T/r") lines at 80 columns)"
  fi
done
[ $fails -eq 0 ]
