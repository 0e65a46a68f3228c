#!/usr/bin/python3
"""PyTorch's latency for what rnnjam's inference step and window do.

The yardstick for rnnjam's inference, batch 1, one thread:

  --arch tutorial (default): the tutorial's network as
          torch.nn.LSTM(3, 128) plus three Linear heads;
  --arch v2 [--hidden H]: the v2 model (include/rnnjam/encoding.h) as
          torch.nn.LSTM(186, H) on the note's input vector (one-hot pitch,
          phase and velocity bin, log1p of step and duration) plus four
          Linear heads (pitch 128, step 98, duration 102, velocity 32).

  stream: one step with carried (h, c), the heads, softmax(logits / T) and
          torch.multinomial for each categorical head (what the daemon does
          per note; v2: the time heads at --time-temperature, and the
          sampled note, its phase from its onset, fed back);
  window: the 25-note window from a zero state, heads on the last step.

Prints one JSON object with p50/p99 in microseconds.  Run with a Python that
has PyTorch (Debian: python3-torch); the BLAS behind libblas.so.3 matters
(OpenBLAS is the fair setting).  Not a test: nothing is asserted.

    /usr/bin/python3 tests/bench_torch.py [--arch tutorial|v2] [--hidden H]
                                          [--steps N] [--windows N]
"""

import argparse
import json
import math
import time

import torch


def percentiles(times):
    times = sorted(times)
    n = len(times)
    return times[n // 2] * 1e6, times[min(n - 1, n * 99 // 100)] * 1e6


def blas_in_use():
    """Which BLAS the process mapped (Debian's torch links libblas.so.3,
    whose alternative decides)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "unknown"
    for name in ("openblas", "blis", "mkl", "atlas"):
        if name in maps:
            return name
    return "reference" if "libblas.so" in maps else "unknown"


STEP_CENTRES = [k / 24.0 for k in range(97)] + [6.0]
DUR_CENTRES = [(k + 1) / 24.0 for k in range(96)] + [5.0, 6.0, 8.0, 10.0,
                                                     12.0, 16.0]


def v2_input(pitch, step, dur, onset, vel):
    """The v2 input vector of one note (ENCODING.md's rows)."""
    x = torch.zeros(1, 1, 186)
    x[0, 0, pitch] = 1.0
    x[0, 0, 128] = math.log1p(min(max(step, 0.0), 64.0))
    x[0, 0, 129] = math.log1p(min(max(dur, 0.0), 64.0))
    x[0, 0, 130 + int(math.floor(onset * 24 + 0.5)) % 24] = 1.0
    x[0, 0, 154 + min(max(vel, 0), 127) // 4] = 1.0
    return x


def bench_v2(args, clock):
    h = args.hidden
    lstm = torch.nn.LSTM(186, h, batch_first=True)
    heads = [torch.nn.Linear(h, n) for n in (128, 98, 102, 32)]
    stream = []
    with torch.inference_mode():
        note = (60, 0.25, 0.5, 0.0, 80)
        x = v2_input(*note)
        state = None
        for i in range(args.warmup + args.steps):
            t0 = clock()
            y, state = lstm(x, state)
            hh = y[:, -1]
            logits = [lin(hh) for lin in heads]
            t = (args.temperature, args.time_temperature,
                 args.time_temperature, args.time_temperature)
            k = [torch.multinomial(torch.softmax(l / tt, dim=-1), 1).item()
                 for l, tt in zip(logits, t)]
            step = STEP_CENTRES[k[1]]
            note = (k[0], step, DUR_CENTRES[k[2]], note[3] + step,
                    min(4 * k[3] + 2, 127))
            x = v2_input(*note)
            t1 = clock()
            if i >= args.warmup:
                stream.append(t1 - t0)
        window = []
        xs = torch.cat([v2_input(60 + i % 12, 0.25, 0.5, 0.25 * i, 80)
                        for i in range(25)], 1)
        for i in range(args.warmup + args.windows):
            t0 = clock()
            y, _ = lstm(xs)
            hh = y[:, -1]
            out = [lin(hh) for lin in heads]
            t1 = clock()
            if i >= args.warmup:
                window.append(t1 - t0)
            xs[0, i % 25, 128] += 1e-7 * out[1][0, 0].item()
    return stream, window


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--windows", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--arch", choices=("tutorial", "v2"), default="tutorial")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--time-temperature", type=float, default=0.5)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(1)
    clock = time.perf_counter
    if args.arch == "v2":
        stream, window = bench_v2(args, clock)
        report(args, stream, window)
        return
    lstm = torch.nn.LSTM(3, 128, batch_first=True)
    pitch = torch.nn.Linear(128, 128)
    step = torch.nn.Linear(128, 1)
    duration = torch.nn.Linear(128, 1)

    stream = []
    with torch.inference_mode():
        x = torch.tensor([[[60 / 128.0, 0.1, 0.3]]])
        state = None
        for i in range(args.warmup + args.steps):
            t0 = clock()
            y, state = lstm(x, state)
            h = y[:, -1]
            logits = pitch(h)
            s = step(h)
            d = duration(h)
            probs = torch.softmax(logits / args.temperature, dim=-1)
            p = torch.multinomial(probs, 1)
            note = (p.item(), max(0.0, s.item()), max(0.0, d.item()))
            t1 = clock()
            if i >= args.warmup:
                stream.append(t1 - t0)
            x = torch.tensor([[[note[0] / 128.0, note[1], note[2]]]])

        window = []
        xs = torch.rand(1, 25, 3)
        for i in range(args.warmup + args.windows):
            t0 = clock()
            y, _ = lstm(xs)
            h = y[:, -1]
            out = (pitch(h), step(h), duration(h))
            t1 = clock()
            if i >= args.warmup:
                window.append(t1 - t0)
            xs[0, i % 25, 1] += 1e-7 * out[1].item()
    report(args, stream, window)


def report(args, stream, window):
    sp50, sp99 = percentiles(stream)
    wp50, wp99 = percentiles(window)
    print(json.dumps({
        "torch": torch.__version__,
        "arch": args.arch,
        "hidden": args.hidden if args.arch == "v2" else 128,
        "threads": torch.get_num_threads(),
        "blas": blas_in_use(),
        "stream_step_heads_sample_p50_us": round(sp50, 2),
        "stream_step_heads_sample_p99_us": round(sp99, 2),
        "window25_p50_us": round(wp50, 2),
        "window25_p99_us": round(wp99, 2),
        "steps": args.steps,
        "windows": args.windows,
    }))


if __name__ == "__main__":
    main()
