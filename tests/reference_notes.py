#!/usr/bin/python3
"""Reference notes for tests/test-notes.c, from mido alone.

pretty_midi (what the tutorial uses) reads a file with mido and then applies
its own rules for tempo and notes.  This script applies the same rules on
top of mido, written out independently of the C reader, so the C test can
check src/notes.c against them on real corpus files:

  - tick scales from track 0's set_tempo events only: 120 bpm to start; an
    event at tick 0 replaces the first scale; a later one adds a segment if
    its scale differs from the last; time = segment start time +
    (tick - segment tick) * scale, each segment starting where the previous
    one ends;
  - per track, program per channel (0 at first); note_on (velocity > 0)
    opens (tick, velocity) on (channel, pitch); a note_off (or note_on with
    velocity 0) closes every open note of that key started on an earlier
    tick; notes started on this tick stay open only when older ones were
    closed too, otherwise the key is cleared;
  - instruments are (program at the note-off, channel, track), in order of
    their first closed note; channel 9 is drums;
  - all instruments: every non-drum note sorted by (start, pitch, end);
    instrument N: its notes sorted by start (Python's sort is stable);
  - step = start - previous start (0 first), duration = end - start;
  - beats (what rnnjam adds to pretty_midi's notes) = tick / ticks_per_beat
    of the note's start and end, exactly (Python's true division of two
    integers rounds once, like C's (double)tick / tpq).  The corpus has no
    SMPTE-division file, and mido gives none a ticks_per_beat, so this
    script does not handle them.

Usage (with Debian's python3-mido):
  /usr/bin/python3 tests/reference_notes.py CORPUS_DIR OUT_DIR
      writes the reference CSVs for the files in FILES into OUT_DIR
      (tests/data);
  /usr/bin/python3 tests/reference_notes.py --dump CORPUS_DIR
      prints every note of every corpus file (all instruments), one line
      each: "relpath pitch start end start_beat end_beat", for a
      whole-corpus comparison (rnnjam notes --beats prints the same
      columns).

  /usr/bin/python3 tests/reference_notes.py --compare CORPUS_DIR RNNJAM
      runs `RNNJAM notes --beats --exact` on every corpus file and compares
      each note with this script's: the same count and pitches, seconds
      within 1e-9 s, beats equal to the bit.  Prints the largest
      differences; exits 1 on any mismatch.

Each CSV keeps the first LIMIT notes in full precision plus the count and
the sums of all starts and ends, in seconds and in beats, so it stays a few
KB however long the piece.
"""
import collections
import os
import sys

import mido

LIMIT = 400

# (corpus-relative path, instrument or None for all non-drum instruments)
FILES = [
    # A note-on and its note-off on the same tick with nothing older open:
    # pretty_midi drops it (the corpus's "zero-length note").  375 tempos.
    ("piano-midi-de/Mussorgsky/muss_6.mid", None),
    ("piano-midi-de/Mussorgsky/muss_6.mid", 0),
    # The notes_to_keep case (a key closed and reopened on one tick while
    # an older note is open), 1659 tempos, hands on two tracks.
    ("piano-midi-de/Ravel/ravel_miroirs_1.mid", None),
    ("piano-midi-de/Ravel/ravel_miroirs_1.mid", 1),
    # One note-off closing two overlapping notes of a pitch, 22 times.
    ("piano-midi-de/Schumann/scn16_6.mid", None),
    # Voices on channels 0, 2, 3, 4, 5: six instruments.
    ("piano-midi-de/Bach/bach_846.mid", None),
    ("piano-midi-de/Bach/bach_846.mid", 3),
    # A folk tune: 1024 ticks per quarter, no tempo event (120 bpm), two
    # notes sounding together once.
    ("nottingham-melody/reelsd-g1.mid", None),
]


def tick_scales(mid):
    res = mid.ticks_per_beat
    scales = [(0, 60.0 / (120.0 * res))]
    tick = 0
    for msg in mid.tracks[0]:
        tick += msg.time
        if msg.type != "set_tempo":
            continue
        scale = 60.0 / ((6e7 / msg.tempo) * res)
        if tick == 0:
            scales = [(0, scale)]
        elif scale != scales[-1][1]:
            scales.append((tick, scale))
    # Seconds at the start of each segment, accumulated segment by segment.
    out = []
    seconds = 0.0
    for k, (t, s) in enumerate(scales):
        if k:
            pt, ps = scales[k - 1]
            seconds = seconds + ps * (t - pt)
        out.append((t, seconds, s))
    return out


def make_clock(segments):
    ticks = [t for t, _, _ in segments]

    def seconds(tick):
        # last segment whose tick <= tick
        lo, hi = 0, len(ticks)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ticks[mid] <= tick:
                lo = mid
            else:
                hi = mid
        t, s0, scale = segments[lo]
        return s0 + scale * (tick - t)

    return seconds


def instruments(mid):
    """[(program, channel, track,
       [(start, end, pitch, velocity, start_beat, end_beat)])]"""
    seconds = make_clock(tick_scales(mid))
    res = mid.ticks_per_beat
    insts = collections.OrderedDict()
    for ti, track in enumerate(mid.tracks):
        program = [0] * 16
        open_notes = {}
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "program_change":
                program[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append(
                    (tick, msg.velocity))
            elif msg.type in ("note_on", "note_off"):
                key = (msg.channel, msg.note)
                if key not in open_notes:
                    continue
                older = [o for o in open_notes[key] if o[0] != tick]
                same = [o for o in open_notes[key] if o[0] == tick]
                for start, vel in older:
                    ik = (program[msg.channel], msg.channel, ti)
                    insts.setdefault(ik, []).append(
                        (seconds(start), seconds(tick), msg.note, vel,
                         start / res, tick / res))
                if older and same:
                    open_notes[key] = same
                else:
                    del open_notes[key]
    return [(p, c, t, v) for (p, c, t), v in insts.items()]


def notes(path, instrument=None):
    mid = mido.MidiFile(path)
    insts = instruments(mid)
    if instrument is None:
        ns = [n for p, c, t, v in insts if c != 9 for n in v]
        ns = sorted(ns, key=lambda n: (n[0], n[2], n[1]))
    else:
        ns = sorted(insts[instrument][3], key=lambda n: n[0])
    out = []
    prev = None
    for start, end, pitch, _, start_beat, end_beat in ns:
        step = 0.0 if prev is None else start - prev
        out.append((pitch, start, end, step, end - start, start_beat,
                    end_beat))
        prev = start
    return out


def csv_name(rel, instrument):
    base = os.path.splitext(os.path.basename(rel))[0]
    mode = "all" if instrument is None else "inst%d" % instrument
    return "notes-%s-%s.csv" % (base, mode)


def write_csv(corpus, rel, instrument, out_dir):
    ns = notes(os.path.join(corpus, rel), instrument)
    sum_start = 0.0
    sum_end = 0.0
    sum_start_beat = 0.0
    sum_end_beat = 0.0
    for n in ns:
        sum_start += n[1]
        sum_end += n[2]
        sum_start_beat += n[5]
        sum_end_beat += n[6]
    path = os.path.join(out_dir, csv_name(rel, instrument))
    with open(path, "w") as f:
        f.write("# written by tests/reference_notes.py from mido %s\n"
                % mido.__version__)
        f.write("# file %s\n" % rel)
        f.write("# instrument %d\n"
                % (-1 if instrument is None else instrument))
        f.write("# count %d sum_start %r sum_end %r\n"
                % (len(ns), sum_start, sum_end))
        f.write("# beats sum_start %r sum_end %r\n"
                % (sum_start_beat, sum_end_beat))
        f.write("pitch,start,end,step,duration,start_beat,end_beat\n")
        for n in ns[:LIMIT]:
            f.write("%d,%r,%r,%r,%r,%r,%r\n" % n)
    print("%s: %d notes" % (path, len(ns)))


def corpus_files(corpus):
    for d, _, fs in sorted(os.walk(corpus)):
        for f in sorted(fs):
            if f.lower().endswith(".mid"):
                yield os.path.relpath(os.path.join(d, f), corpus)


def compare(corpus, rnnjam):
    """The whole corpus, C (rnnjam notes) against this script."""
    import subprocess
    files = 0
    total = 0
    bad = 0
    max_sec = 0.0
    max_beat = 0.0
    for rel in corpus_files(corpus):
        path = os.path.join(corpus, rel)
        ref = notes(path)
        out = subprocess.run([rnnjam, "notes", "--beats", "--exact", path],
                             check=True, capture_output=True, text=True)
        rows = [r.split(",") for r in out.stdout.splitlines()[1:]]
        files += 1
        total += len(ref)
        if len(rows) != len(ref):
            print("MISMATCH %s: %d notes, reference %d"
                  % (rel, len(rows), len(ref)))
            bad += 1
            continue
        for i, (r, c) in enumerate(zip(ref, rows)):
            pitch = int(c[0])
            t = [float(x) for x in c[1:]]
            sec = max(abs(t[0] - r[1]), abs(t[1] - r[2]))
            beat = max(abs(t[4] - r[5]), abs(t[5] - r[6]))
            max_sec = max(max_sec, sec)
            max_beat = max(max_beat, beat)
            if pitch != r[0] or sec > 1e-9 or beat != 0:
                print("MISMATCH %s note %d: %s, reference %r"
                      % (rel, i, ",".join(c), r))
                bad += 1
                break
    print("FIGURE corpus files %d notes %d mismatched files %d"
          % (files, total, bad))
    print("FIGURE max abs difference seconds %.3g beats %.3g"
          % (max_sec, max_beat))
    return 1 if bad else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--compare":
        return compare(argv[2], argv[3])
    if len(argv) == 3 and argv[1] == "--dump":
        for rel in corpus_files(argv[2]):
            for p, s, e, _, _, sb, eb in notes(os.path.join(argv[2], rel)):
                print("%s %d %r %r %r %r" % (rel, p, s, e, sb, eb))
        return 0
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    for rel, instrument in FILES:
        write_csv(argv[1], rel, instrument, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
