#!/bin/sh
# The real-time rules, checked on the compiled code: the object files whose
# functions run on the event path (the engine, the model interface net and
# what it calls: the sampler, the loss, the v2 encoding and kernels, the
# SIMD LSTM kernels; the beat clock, the quantize grid, the tempo
# estimator) must not call an allocator, a lock, a sleep, a wait, stdio or
# a file or socket function, on any path, tested or not.  The same holds
# for the LV2 plugin's audio-thread objects (run() and work_response in
# run.c, the engine glue in jam.c) when the plugin is built.  nm lists every
# function an object calls outside itself; the sampler, the clock and the
# grid may also call rnj_errorf (their set-up functions: rnj_sampler_check,
# the parsers), and the encoding snprintf (the bin centres' metadata text,
# written when a model is made).  The dynamic side (every event path run
# with a counting allocator and counted locks) is test_rt_paths in
# test-engine.c, test_rt in test-clock.c and tests/lv2-host.c's rt.
set -u
B=${RNJ_BUILDDIR:-.}
NM=${NM:-nm}
command -v "$NM" >/dev/null 2>&1 || { echo "SKIP: no $NM"; exit 77; }

FORBIDDEN='^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|rnj__(malloc|calloc|realloc|free)|pthread_.*|sem_.*|mtx_.*|cnd_.*|.*printf|puts|putchar|fputs|fputc|fwrite|fread|fflush|write|read|writev|readv|open|openat|fopen|close|fclose|syslog|.*sleep|poll|ppoll|select|pselect|epoll_.*|qsort|strdup|strndup|exit|abort|snd_.*|uv_.*|rnj_errorf)$'

fails=0
for m in engine net sample loss encoding lstm2 lstm_avx2 lstm_avx512 \
    clock grid tempo; do
  o=
  for c in "$B/src/.libs/librnnjam_core_la-$m.o" \
           "$B/src/librnnjam_core_la-$m.o"; do
    [ -f "$c" ] && { o=$c; break; }
  done
  if [ -z "$o" ]; then
    echo "ERROR: no object for src/$m.c under $B/src"
    exit 99
  fi
  allow='^$'
  # rnj_errorf: each module's one set-up function formats an error
  # (rnj_sampler_check, rnj_clock_parse_source, the grid parsers).
  case $m in sample|clock|grid) allow='^rnj_errorf$' ;; encoding) allow='^snprintf$' ;; esac
  calls=$("$NM" -u "$o" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
  bad=$(printf '%s\n' "$calls" | grep -E "$FORBIDDEN" | grep -vE "$allow")
  if [ -n "$bad" ]; then
    echo "FAIL: src/$m.c calls what the real-time rules forbid:" $bad
    fails=$((fails + 1))
  else
    echo "ok: src/$m.c calls only:" $calls
  fi
done
# The plugin's audio thread (tests/lv2-host.c counts a run dynamically).
for m in run jam; do
  o=
  for c in "$B/src/lv2/.libs/rnnjam_la-$m.o" "$B/src/lv2/rnnjam_la-$m.o"; do
    [ -f "$c" ] && { o=$c; break; }
  done
  if [ -z "$o" ]; then
    [ "${RNJ_LV2:-yes}" = no ] && continue
    echo "ERROR: no object for src/lv2/$m.c under $B/src/lv2"
    exit 99
  fi
  calls=$("$NM" -u "$o" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
  bad=$(printf '%s\n' "$calls" | grep -E "$FORBIDDEN")
  if [ -n "$bad" ]; then
    echo "FAIL: src/lv2/$m.c calls what the real-time rules forbid:" $bad
    fails=$((fails + 1))
  else
    echo "ok: src/lv2/$m.c calls only:" $calls
  fi
done
[ $fails -eq 0 ]
