#!/usr/bin/python3
"""PyTorch's latency for what rnj_lstm_step and rnj_lstm_window do.

The yardstick for rnnjam's inference: the tutorial's network as
torch.nn.LSTM(3, 128) plus three Linear heads, batch 1, one thread.

  stream: one step with carried (h, c), the heads, softmax(logits / T) and
          torch.multinomial for the pitch (what the daemon does per note);
  window: the 25-note window from a zero state, heads on the last step.

Prints one JSON object with p50/p99 in microseconds.  Run with a Python that
has PyTorch (Debian: python3-torch); the BLAS behind libblas.so.3 matters
(OpenBLAS is the fair setting).  Not a test: nothing is asserted.

    /usr/bin/python3 tests/bench_torch.py [--steps N] [--windows N]
"""

import argparse
import json
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--windows", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--temperature", type=float, default=2.0)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 128, batch_first=True)
    pitch = torch.nn.Linear(128, 128)
    step = torch.nn.Linear(128, 1)
    duration = torch.nn.Linear(128, 1)
    clock = time.perf_counter

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

    sp50, sp99 = percentiles(stream)
    wp50, wp99 = percentiles(window)
    print(json.dumps({
        "torch": torch.__version__,
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
