#!/usr/bin/python3
"""Reference vectors for the LSTM step, window, heads, loss and the RNG.

Run with a Python that has PyTorch and numpy (Debian: python3-torch,
python3-numpy) from the top of the source tree:

    /usr/bin/python3 tests/reference.py

It writes, into tests/data/:

  ref-model.safetensors  a checkpoint with random weights (fixed seed), in
                         the exact format of ckpt.h; its data section is the
                         RNJ_MODEL_NPARAMS parameters as float32 in table
                         order, so a test can also read it without a loader
  ref-lstm.f64           the reference values, float64 little-endian, these
                         arrays one after the other (N = 40 notes, W = 3
                         windows of 25 starting at notes 0, 7 and 14):
                           inputs   (N, 3)   (pitch/128, step, duration)
                           h        (N, 128) stream mode, after each step
                           c        (N, 128)
                           out      (N, 130) heads after each step:
                                             128 logits, step, duration
                           win_out  (W, 130) heads of each window, from a
                                             zero state
                           win_loss (W, 4)   total, CE(pitch), mse_pp(step),
                                             mse_pp(duration) of each window
                                             against the note after it
  ref-lstm.txt           how far PyTorch's own float32 run is from the
                         float64 reference (for judging tolerances)
  ref-rng.txt            splitmix64 / xoshiro256** outputs for a few seeds

and for the v2 model ("rnnjam-lstm-v2", docs: include/rnnjam/encoding.h),
at two sizes H = 128 and H = 48:

  ref-v2-hH.safetensors  a v2 checkpoint with random weights, the
                         metadata a v2 loader checks, params in table order
  ref-v2-hH.f64          float64 little-endian, one after the other
                         (N = 40 notes, W = 3 windows of 25 at 0, 7, 14):
                           notes    (N, 5)   onset, step, duration (beats),
                                             pitch, velocity
                           bins     (N, 4)   phase, step bin, duration bin,
                                             velocity bin (the encoding,
                                             computed here independently)
                           h        (N, H)   stream mode, after each step
                           c        (N, H)
                           out      (N, 360) the four heads' logits after
                                             each step: pitch 128, step 98,
                                             duration 102, velocity 32
                           win_out  (W, 360) heads of each window
                           win_loss (W, 5)   total, CE of pitch, step,
                                             duration, velocity against the
                                             note after the window
  ref-v2.txt             PyTorch float32 against float64, for both sizes

The v2 input is built as the contract says, as a dense vector (one-hot
rows included) fed to torch.nn.LSTM(186, H): the reference multiplies by
the zeros the C code skips, so it checks the row lookup too.

The model is TensorFlow's tutorial network mapped onto torch.nn.LSTM:
weight_ih = kernel.T and weight_hh = recurrent_kernel.T (Keras' gate order
i, f, c, o is PyTorch's i, f, g, o), bias_ih = bias, bias_hh = 0; each
Dense head is a Linear with weight = kernel.T.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch

HIDDEN = 128
GATES = 4 * HIDDEN
PITCHES = 128
SEQ = 25
N_NOTES = 40
WINDOW_STARTS = (0, 7, 14)

# Checkpoint table: name, shape (Keras layout), in the order of model.h.
TABLE = [
    ("lstm.kernel", (3, GATES)),
    ("lstm.recurrent_kernel", (HIDDEN, GATES)),
    ("lstm.bias", (GATES,)),
    ("pitch.kernel", (HIDDEN, PITCHES)),
    ("pitch.bias", (PITCHES,)),
    ("step.kernel", (HIDDEN, 1)),
    ("step.bias", (1,)),
    ("duration.kernel", (HIDDEN, 1)),
    ("duration.bias", (1,)),
]
NPARAMS = 84354

MASK64 = (1 << 64) - 1


def make_weights(rng):
    """Random weights about the size of a trained model's.

    Uniform, on a grid of 1/4096 so every value is exact in float32 (the
    float64 reference then uses the very weights the C code gets)."""

    def uni(shape, scale):
        w = rng.uniform(-scale, scale, size=shape)
        return np.round(w * 4096.0) / 4096.0

    w = {}
    w["lstm.kernel"] = uni((3, GATES), 0.6)
    w["lstm.recurrent_kernel"] = uni((HIDDEN, GATES), 0.12)
    bias = uni((GATES,), 0.2)
    bias[HIDDEN:2 * HIDDEN] += 1.0  # Keras' unit_forget_bias
    w["lstm.bias"] = bias
    w["pitch.kernel"] = uni((HIDDEN, PITCHES), 0.4)
    w["pitch.bias"] = uni((PITCHES,), 0.2)
    w["step.kernel"] = uni((HIDDEN, 1), 0.15)
    w["step.bias"] = uni((1,), 0.1)
    w["duration.kernel"] = uni((HIDDEN, 1), 0.15)
    w["duration.bias"] = uni((1,), 0.1)
    for name, shape in TABLE:
        assert w[name].shape == shape, name
        assert np.all(w[name].astype(np.float32) == w[name])
    return w


def make_notes(rng):
    """40 notes as the tutorial feeds them: (pitch/128, step, duration).

    Steps include zeros (chords), as real corpora do."""
    pitch = rng.integers(36, 96, size=N_NOTES)
    step = rng.uniform(0.0, 0.5, size=N_NOTES)
    step[rng.uniform(size=N_NOTES) < 0.25] = 0.0
    duration = rng.uniform(0.0, 1.0, size=N_NOTES)
    x = np.stack([pitch / 128.0, step, duration], axis=1)
    # The C side feeds float32 inputs: make them exact in float32 too.
    return x.astype(np.float32).astype(np.float64), pitch


def write_safetensors(path, w):
    header = {}
    offset = 0
    for name, shape in TABLE:
        nbytes = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header["__metadata__"] = {"format": "rnnjam-lstm-v1", "seq_length": "25",
                              "hidden": "128", "pitch_scale": "128"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    data = b"".join(w[name].astype("<f4").tobytes() for name, _ in TABLE)
    assert len(data) == NPARAMS * 4
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


class Net(torch.nn.Module):
    def __init__(self, w, dtype):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, HIDDEN, batch_first=True)
        self.pitch = torch.nn.Linear(HIDDEN, PITCHES)
        self.step = torch.nn.Linear(HIDDEN, 1)
        self.duration = torch.nn.Linear(HIDDEN, 1)
        t = lambda a: torch.tensor(np.ascontiguousarray(a))
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(t(w["lstm.kernel"].T))
            self.lstm.weight_hh_l0.copy_(t(w["lstm.recurrent_kernel"].T))
            self.lstm.bias_ih_l0.copy_(t(w["lstm.bias"]))
            self.lstm.bias_hh_l0.zero_()
            for head in ("pitch", "step", "duration"):
                lin = getattr(self, head)
                lin.weight.copy_(t(w[head + ".kernel"].T))
                lin.bias.copy_(t(w[head + ".bias"]))
        self.to(dtype)

    def heads(self, h):
        """h (B, 128) -> (B, 130): logits, step, duration."""
        return torch.cat([self.pitch(h), self.step(h), self.duration(h)], 1)


def run(net, x, dtype):
    """Stream mode (one step at a time, carried state) and the windows."""
    xs = torch.tensor(x, dtype=dtype)
    hs, cs, outs = [], [], []
    state = None
    with torch.no_grad():
        for t in range(N_NOTES):
            y, state = net.lstm(xs[t].view(1, 1, 3), state)
            h, c = state
            hs.append(h[0, 0].clone())
            cs.append(c[0, 0].clone())
            outs.append(net.heads(y[:, -1])[0])
        wins = []
        for s in WINDOW_STARTS:
            y, _ = net.lstm(xs[s:s + SEQ].view(1, SEQ, 3))
            wins.append(net.heads(y[:, -1])[0])
    f = lambda l: torch.stack(l).double().numpy()
    return f(hs), f(cs), f(outs), f(wins)


def loss_parts(out, pitch, step, duration):
    """The tutorial's loss for one prediction, in float64."""
    logits = torch.tensor(out[:PITCHES]).view(1, -1)
    ce = torch.nn.functional.cross_entropy(logits,
                                           torch.tensor([int(pitch)])).item()

    def mse_pp(y, p):
        return (y - p) ** 2 + 10.0 * max(-p, 0.0)

    s = mse_pp(step, out[PITCHES])
    d = mse_pp(duration, out[PITCHES + 1])
    return [0.05 * ce + s + d, ce, s, d]


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


def xoshiro_outputs(seed, n):
    st = seed
    s = []
    for _ in range(4):
        st, v = splitmix64(st)
        s.append(v)
    out = []
    for _ in range(n):
        out.append((rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64)
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


def main():
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    rng = np.random.default_rng(20240611)
    w = make_weights(rng)
    x, pitch = make_notes(rng)
    write_safetensors(os.path.join(data, "ref-model.safetensors"), w)

    torch.set_num_threads(1)
    h, c, out, win = run(Net(w, torch.float64), x, torch.float64)
    h32, c32, out32, win32 = run(Net(w, torch.float32), x, torch.float32)

    losses = []
    for k, s in enumerate(WINDOW_STARTS):
        t = s + SEQ
        losses.append(loss_parts(win[k], pitch[t], x[t, 1], x[t, 2]))
    # Window from note 0 is the stream after 25 steps: a self-check.
    assert np.allclose(win[0], out[SEQ - 1], rtol=0, atol=1e-12)

    arrays = [x, h, c, out, win, np.array(losses)]
    blob = b"".join(a.astype("<f8").tobytes() for a in arrays)
    with open(os.path.join(data, "ref-lstm.f64"), "wb") as f:
        f.write(blob)

    with open(os.path.join(data, "ref-lstm.txt"), "w") as f:
        f.write("# PyTorch float32 vs the float64 reference (ref-lstm.f64)\n")
        f.write("# name max_abs_err max_rel_err(floor 0.1) max_abs_value\n")
        for name, a, b in (("h", h32, h), ("c", c32, c), ("out", out32, out),
                           ("win_out", win32, win)):
            err = np.abs(a - b)
            rel = err / np.maximum(np.abs(b), 0.1)
            f.write("%s %.3g %.3g %.3g\n" % (name, err.max(), rel.max(),
                                             np.abs(b).max()))
        f.write("# win_loss total ce step duration\n")
        for s, l in zip(WINDOW_STARTS, losses):
            f.write("window %d: %s\n" % (s, " ".join("%.9g" % v for v in l)))

    with open(os.path.join(data, "ref-rng.txt"), "w") as f:
        f.write("# seed, then the first 8 xoshiro256** outputs after\n"
                "# seeding its state with splitmix64(seed) four times\n")
        for seed in (0, 1, 42, 0xDEADBEEFCAFEF00D):
            vals = xoshiro_outputs(seed, 8)
            f.write("%d %s\n" % (seed, " ".join("%d" % v for v in vals)))

    sys.stdout.write(open(os.path.join(data, "ref-lstm.txt")).read())


# ------------------------------------------------------------------ v2

V2_IN = 186
V2_SEQ = 25
STEP_BINS = 98
DUR_BINS = 102
VEL_BINS = 32
V2_OUT = 128 + STEP_BINS + DUR_BINS + VEL_BINS  # 360


def step_centres():
    return [k / 24.0 for k in range(97)] + [6.0]


def dur_centres():
    return [(k + 1) / 24.0 for k in range(96)] + [5.0, 6.0, 8.0, 10.0,
                                                   12.0, 16.0]


def llround(x):
    """C's llround: halves away from zero (Python's round is to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def step_bin(s):
    k = llround(max(s, 0.0) * 24)
    return k if k <= 96 else 97


def dur_bin(d):
    k = llround(max(d, 0.0) * 24)
    k = max(k, 1)
    if k <= 96:
        return k - 1
    coarse = [5.0, 6.0, 8.0, 10.0, 12.0, 16.0]
    for i in range(5):
        if d <= math.sqrt(coarse[i] * coarse[i + 1]):
            return 96 + i
    return 101


def vel_bin(v):
    return min(max(v, 0), 127) // 4


def phase(onset):
    return llround(onset * 24) % 24  # Python's % is the non-negative mod


def v2_table(h):
    g = 4 * h
    return [
        ("lstm.kernel", (V2_IN, g)),
        ("lstm.recurrent_kernel", (h, g)),
        ("lstm.bias", (g,)),
        ("pitch.kernel", (h, 128)),
        ("pitch.bias", (128,)),
        ("step.kernel", (h, STEP_BINS)),
        ("step.bias", (STEP_BINS,)),
        ("duration.kernel", (h, DUR_BINS)),
        ("duration.bias", (DUR_BINS,)),
        ("velocity.kernel", (h, VEL_BINS)),
        ("velocity.bias", (VEL_BINS,)),
    ]


def v2_weights(rng, h):
    """Random weights of a trained model's size, on a 1/4096 grid (exact
    in float32); the recurrent scale shrinks with H as Keras' init does."""

    def uni(shape, scale):
        w = rng.uniform(-scale, scale, size=shape)
        return np.round(w * 4096.0) / 4096.0

    g = 4 * h
    w = {}
    w["lstm.kernel"] = uni((V2_IN, g), 0.5)
    w["lstm.recurrent_kernel"] = uni((h, g), 1.4 / math.sqrt(h))
    bias = uni((g,), 0.2)
    bias[h:2 * h] += 1.0  # unit_forget_bias
    w["lstm.bias"] = bias
    for name, n in (("pitch", 128), ("step", STEP_BINS),
                    ("duration", DUR_BINS), ("velocity", VEL_BINS)):
        w[name + ".kernel"] = uni((h, n), 0.4)
        w[name + ".bias"] = uni((n,), 0.2)
    for name, shape in v2_table(h):
        assert w[name].shape == shape, name
        assert np.all(w[name].astype(np.float32) == w[name])
    return w


def v2_notes(rng):
    """40 notes in beats: chords (step 0), the grid and off it (so the
    phase rounds both ways), a step over 4 beats, durations from a tick to
    past 16 beats, velocities 1..127.  Exact in float32."""
    notes = []
    onset = 3.0 + 5.0 / 24
    for i in range(N_NOTES):
        u = rng.uniform()
        if i == 0:
            step = 0.0
        elif u < 0.25:
            step = 0.0
        elif u < 0.85:
            step = rng.integers(1, 25) / 24.0
        elif u < 0.95:
            step = rng.integers(1, 200) / 48.0 + rng.uniform(-0.01, 0.01)
        else:
            step = rng.uniform(4.1, 9.0)
        onset += step
        v = rng.uniform()
        if v < 0.7:
            dur = rng.integers(1, 97) / 24.0
        elif v < 0.9:
            dur = rng.uniform(0.0, 4.0)
        else:
            dur = rng.uniform(4.0, 20.0)
        f = lambda x: float(np.float32(x))
        notes.append((f(onset), f(step), f(dur), int(rng.integers(21, 109)),
                      int(rng.integers(1, 128))))
    return notes


def v2_input(note):
    onset, step, dur, pitch, vel = note
    x = np.zeros(V2_IN)
    x[pitch] = 1.0
    # the C side feeds float32(log1p(.)) of the clamped beats
    x[128] = float(np.float32(math.log1p(min(max(step, 0.0), 64.0))))
    x[129] = float(np.float32(math.log1p(min(max(dur, 0.0), 64.0))))
    x[130 + phase(onset)] = 1.0
    x[154 + vel_bin(vel)] = 1.0
    return x


def write_v2_safetensors(path, w, h):
    table = v2_table(h)
    header = {}
    offset = 0
    for name, shape in table:
        nbytes = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header["__metadata__"] = {
        "format": "rnnjam-lstm-v2", "seq_length": str(V2_SEQ),
        "hidden": str(h), "time_unit": "beats", "phases": "24",
        "step_bins": ",".join("%.9g" % c for c in step_centres()),
        "duration_bins": ",".join("%.9g" % c for c in dur_centres()),
        "velocity_bins": str(VEL_BINS)}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    data = b"".join(w[name].astype("<f4").tobytes() for name, _ in table)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


class NetV2(torch.nn.Module):
    def __init__(self, w, h, dtype):
        super().__init__()
        self.lstm = torch.nn.LSTM(V2_IN, h, batch_first=True)
        self.heads = torch.nn.ModuleList(
            [torch.nn.Linear(h, n) for n in (128, STEP_BINS, DUR_BINS,
                                              VEL_BINS)])
        t = lambda a: torch.tensor(np.ascontiguousarray(a))
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(t(w["lstm.kernel"].T))
            self.lstm.weight_hh_l0.copy_(t(w["lstm.recurrent_kernel"].T))
            self.lstm.bias_ih_l0.copy_(t(w["lstm.bias"]))
            self.lstm.bias_hh_l0.zero_()
            for lin, name in zip(self.heads, ("pitch", "step", "duration",
                                              "velocity")):
                lin.weight.copy_(t(w[name + ".kernel"].T))
                lin.bias.copy_(t(w[name + ".bias"]))
        self.to(dtype)

    def out(self, h):
        return torch.cat([lin(h) for lin in self.heads], 1)


def run_v2(net, xs, dtype):
    x = torch.tensor(np.stack(xs), dtype=dtype)
    hs, cs, outs, wins = [], [], [], []
    state = None
    with torch.no_grad():
        for t in range(N_NOTES):
            y, state = net.lstm(x[t].view(1, 1, V2_IN), state)
            hs.append(state[0][0, 0].clone())
            cs.append(state[1][0, 0].clone())
            outs.append(net.out(y[:, -1])[0])
        for s in WINDOW_STARTS:
            y, _ = net.lstm(x[s:s + V2_SEQ].view(1, V2_SEQ, V2_IN))
            wins.append(net.out(y[:, -1])[0])
    f = lambda l: torch.stack(l).double().numpy()
    return f(hs), f(cs), f(outs), f(wins)


def v2_loss(out, note):
    onset, step, dur, pitch, vel = note
    ce = lambda lo, hi, k: torch.nn.functional.cross_entropy(
        torch.tensor(out[lo:hi]).view(1, -1), torch.tensor([k])).item()
    a = 128
    b = a + STEP_BINS
    c = b + DUR_BINS
    parts = [ce(0, a, pitch), ce(a, b, step_bin(step)),
             ce(b, c, dur_bin(dur)), ce(c, V2_OUT, vel_bin(vel))]
    return [parts[0] + 0.5 * (parts[1] + parts[2] + parts[3])] + parts


def main_v2(data):
    lines = ["# v2: PyTorch float32 vs the float64 reference",
             "# H name max_abs_err max_rel_err(floor 0.1) max_abs_value"]
    for h, seed in ((128, 20250101), (48, 20250102)):
        rng = np.random.default_rng(seed)
        w = v2_weights(rng, h)
        notes = v2_notes(rng)
        write_v2_safetensors(
            os.path.join(data, "ref-v2-h%d.safetensors" % h), w, h)
        xs = [v2_input(n) for n in notes]
        hh, cc, out, win = run_v2(NetV2(w, h, torch.float64), xs,
                                  torch.float64)
        h32, c32, out32, win32 = run_v2(NetV2(w, h, torch.float32), xs,
                                        torch.float32)
        assert np.allclose(win[0], out[V2_SEQ - 1], rtol=0, atol=1e-12)
        losses = [v2_loss(win[k], notes[s + V2_SEQ])
                  for k, s in enumerate(WINDOW_STARTS)]
        bins = [(phase(n[0]), step_bin(n[1]), dur_bin(n[2]), vel_bin(n[4]))
                for n in notes]
        arrays = [np.array(notes, dtype=np.float64),
                  np.array(bins, dtype=np.float64), hh, cc, out, win,
                  np.array(losses)]
        blob = b"".join(a.astype("<f8").tobytes() for a in arrays)
        with open(os.path.join(data, "ref-v2-h%d.f64" % h), "wb") as f:
            f.write(blob)
        for name, a, b in (("h", h32, hh), ("c", c32, cc),
                           ("out", out32, out), ("win_out", win32, win)):
            err = np.abs(a - b)
            rel = err / np.maximum(np.abs(b), 0.1)
            lines.append("%d %s %.3g %.3g %.3g" % (h, name, err.max(),
                                                   rel.max(),
                                                   np.abs(b).max()))
        for s, l in zip(WINDOW_STARTS, losses):
            lines.append("%d window %d: %s" % (h, s, " ".join(
                "%.9g" % v for v in l)))
    with open(os.path.join(data, "ref-v2.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    sys.stdout.write(open(os.path.join(data, "ref-v2.txt")).read())


if __name__ == "__main__":
    main()
    main_v2(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
