#!/usr/bin/python3
"""PyTorch reference for the v2 model (rnnjam-lstm-v2) and its training.

A from-scratch implementation of docs' v2 contract: notes in beats (by
pretty_midi's rules, tests/reference_notes.py), the encoding (pitch one-hot,
log1p of step and duration in beats, beat phase one-hot, velocity bin
one-hot), windows of seq_length notes and the note after them,
transposition augmentation, the LSTM with its four categorical heads, the
loss CE(pitch) + 0.5 (CE(step) + CE(duration) + CE(velocity)), Keras'
initialisation, global grad-norm clipping and Keras' Adam (epsilon outside
the bias correction, as rnj_train_step).  Weights are kept in Keras' layout
([IN, 4H] kernels, gates i, f, c, o) and written in the checkpoint layout
rnnjam loads.

  case   the deterministic small case for the C tests, computed in float64:
         a v2 checkpoint of hidden 16 (the weights), two short "files" of
         notes, windows with their transpositions, the loss of each head
         and the gradient of every tensor.  Writes into tests/data:
           ref-train-v2.safetensors  the weights
           ref-train-v2.txt          notes, windows, losses, norms
           ref-train-v2-grad.f32     the gradient of the mean loss, float32
                                     little-endian, in parameter order
  bench  training windows/s (forward, backward, clipping, Adam) at a given
         thread count, batch 64, seq 25, hidden 128, OpenBLAS: the
         denominator of the C trainer's speed target.  Two formulations are
         timed: "dense" (torch.nn.LSTM over the 186 one-hot inputs, what a
         PyTorch user writes) and "gather" (the one-hot rows looked up and
         summed, then the cell in a Python loop); the faster is the fair one.
  train  train a model on MIDI files and write a checkpoint rnnjam loads
         (--out), with a JSON-lines log of the losses of each head.
  parity rnnjam-train --arch v2 and this script on the same files, initial
         weights (--dump-data, --dump-init), shuffles and transpositions
         (the C trainer's RNG streams, reimplemented): per-epoch losses of
         each head side by side; exit 1 if a final loss differs by more
         than 5%.

Needs Debian's python3-torch, python3-numpy and python3-mido (run it with
/usr/bin/python3), from the top of the source tree.  Not a test: the C
tests read what `case` wrote.

  tests/reference_train_v2.py case [--out-dir tests/data]
  tests/reference_train_v2.py bench [--threads 1] [--files N] \\
      [--rnnjam ./rnnjam] MIDI...
  tests/reference_train_v2.py parity --trainer ./rnnjam-train \\
      --corpus DIR [--files 20] [--epochs 3]
  tests/reference_train_v2.py train MIDI... --epochs 2 --out X.safetensors
      [--files N] [--lr 0.002] [--clip-norm 1] [--transpose=-6:5]
      [--hidden 128] [--log X.jsonl]
(argparse needs --transpose=LO:HI when LO is negative.)
"""
import argparse
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_notes  # noqa: E402  (pretty_midi's rules, in beats)
import reference_train  # noqa: E402  (the C trainer's RNG and shuffle)

# ------------------------------------------------------------- encoding

FORMAT = "rnnjam-lstm-v2"
PITCHES = 128
PHASES = 24
VELOCITY_BINS = 32
IN = PITCHES + 2 + PHASES + VELOCITY_BINS  # 186
ROW_STEP = 128
ROW_DUR = 129
ROW_PHASE = 130
ROW_VEL = 154
TIME_CLAMP = 64.0  # beats; log1p(64) bounds the time inputs
STEP_CENTRES = [k / 24.0 for k in range(97)] + [6.0]
DUR_CENTRES = [(k + 1) / 24.0 for k in range(96)] + [5.0, 6.0, 8.0, 10.0,
                                                     12.0, 16.0]
# Coarse duration bins: boundaries at the geometric means of neighbours.
DUR_BOUNDS = [math.sqrt(a * b) for a, b in zip(DUR_CENTRES[96:],
                                               DUR_CENTRES[97:])]
HEADS = [("pitch", PITCHES), ("step", len(STEP_CENTRES)),
         ("duration", len(DUR_CENTRES)), ("velocity", VELOCITY_BINS)]
HEAD_WEIGHTS = {"pitch": 1.0, "step": 0.5, "duration": 0.5, "velocity": 0.5}
LOW, HIGH = 21, 108  # the piano: transposition keeps every pitch in here


def llround(x):
    """C's llround: halves away from zero (Python's round() is banker's)."""
    a = abs(x)
    r = math.floor(a)
    if a - r >= 0.5:
        r += 1
    return int(-r if x < 0 else r)


def step_bin(s):
    k = llround(max(s, 0.0) * 24.0)
    return k if k <= 96 else 97


def duration_bin(d):
    d = max(d, 0.0)
    k = llround(d * 24.0)
    if k < 1:
        k = 1
    if k <= 96:
        return k - 1
    for i, b in enumerate(DUR_BOUNDS):
        if d <= b:
            return 96 + i
    return 101


def velocity_bin(v):
    return min(max(v, 0), 127) // 4


def phase_of(start_beat):
    return llround(start_beat * 24.0) % 24  # Python's % is non-negative


def time_input(x):
    return math.log1p(min(max(x, 0.0), TIME_CLAMP))


def encode(notes):
    """Notes (pitch, velocity, start_beat, end_beat) of one file, in the
    model's order -> per-note arrays: the inputs and the targets."""
    n = len(notes)
    e = {k: np.zeros(n, np.int64) for k in
         ("pitch", "phase", "vbin", "step_bin", "dur_bin")}
    e["s"] = np.zeros(n, np.float64)
    e["d"] = np.zeros(n, np.float64)
    prev = None
    for i, (p, v, sb, eb) in enumerate(notes):
        step = 0.0 if prev is None else sb - prev
        dur = eb - sb
        prev = sb
        e["pitch"][i] = p
        e["phase"][i] = phase_of(sb)
        e["vbin"][i] = velocity_bin(v)
        e["step_bin"][i] = step_bin(step)
        e["dur_bin"][i] = duration_bin(dur)
        e["s"][i] = time_input(step)
        e["d"][i] = time_input(dur)
    return e


def bins_meta():
    return {"format": FORMAT, "time_unit": "beats", "phases": str(PHASES),
            "step_bins": ",".join("%.9g" % c for c in STEP_CENTRES),
            "duration_bins": ",".join("%.9g" % c for c in DUR_CENTRES),
            "velocity_bins": str(VELOCITY_BINS)}


# ------------------------------------------------------------------ data

class Data:
    """Every file's encoded notes, concatenated; windows by first note."""

    def __init__(self, files, seq):
        parts = [encode(ns) for ns in files]
        self.seq = seq
        keys = parts[0].keys() if parts else []
        self.a = {k: np.concatenate([p[k] for p in parts]) for k in keys}
        self.first = np.cumsum([0] + [len(ns) for ns in files])

    @classmethod
    def from_arrays(cls, a, first, seq):
        """Already encoded notes (rnnjam-train --dump-data)."""
        d = cls([], seq)
        d.a = a
        d.first = np.asarray(first)
        return d

    def windows(self, file_ids):
        w = []
        for f in file_ids:
            lo, hi = self.first[f], self.first[f + 1]
            w.extend(range(lo, hi - self.seq))
        return np.array(w, np.int64)


def shifts_for(pitch_rows, lo, hi, u):
    """Per window: k uniform in [lo, hi] narrowed so that every pitch of
    the window (its seq_length + 1 notes) stays in 21..108; k = 0 when the
    window's own range does not fit or nothing is left.  `u` in [0, 1)."""
    pmin = pitch_rows.min(1)
    pmax = pitch_rows.max(1)
    a = np.maximum(lo, LOW - pmin)
    b = np.minimum(hi, HIGH - pmax)
    ok = (pmin >= LOW) & (pmax <= HIGH) & (a <= b)
    k = a + np.floor(u * (b - a + 1)).astype(np.int64)
    return np.where(ok, k, 0)


def batch_tensors(data, starts, shifts, dtype):
    """Inputs (indices and time values) and targets of windows `starts`,
    pitches shifted by `shifts`."""
    seq = data.seq
    idx = starts[:, None] + np.arange(seq + 1)
    pitch = data.a["pitch"][idx] + shifts[:, None]
    x = {"pitch": torch.from_numpy(pitch[:, :seq]),
         "phase": torch.from_numpy(data.a["phase"][idx[:, :seq]]),
         "vbin": torch.from_numpy(data.a["vbin"][idx[:, :seq]]),
         "s": torch.from_numpy(data.a["s"][idx[:, :seq]]).to(dtype),
         "d": torch.from_numpy(data.a["d"][idx[:, :seq]]).to(dtype)}
    t = idx[:, seq]
    y = {"pitch": torch.from_numpy(pitch[:, seq]),
         "step": torch.from_numpy(data.a["step_bin"][t]),
         "duration": torch.from_numpy(data.a["dur_bin"][t]),
         "velocity": torch.from_numpy(data.a["vbin"][t])}
    return x, y


def dense_inputs(x, dtype):
    """The (B, T, 186) input rows with their one-hots, for nn.LSTM."""
    b, t = x["pitch"].shape
    out = torch.zeros(b, t, IN, dtype=dtype)
    hot = torch.stack([x["pitch"], ROW_PHASE + x["phase"],
                       ROW_VEL + x["vbin"]], 2)
    out.scatter_(2, hot, 1.0)
    out[:, :, ROW_STEP] = x["s"]
    out[:, :, ROW_DUR] = x["d"]
    return out


# ----------------------------------------------------------------- model

def tensor_table(hidden):
    g = 4 * hidden
    t = [("lstm.kernel", (IN, g)), ("lstm.recurrent_kernel", (hidden, g)),
         ("lstm.bias", (g,))]
    for name, n in HEADS:
        t += [(name + ".kernel", (hidden, n)), (name + ".bias", (n,))]
    return t


def keras_init(hidden, gen):
    """Keras' initialisers: glorot-uniform kernels, orthogonal recurrent
    kernel, zero biases, forget-gate bias 1 (unit_forget_bias)."""
    def glorot(fan_in, fan_out):
        lim = math.sqrt(6.0 / (fan_in + fan_out))
        return (torch.rand(fan_in, fan_out, generator=gen,
                           dtype=torch.float64) * 2 - 1) * lim

    g = 4 * hidden
    w = {"lstm.kernel": glorot(IN, g)}
    a = torch.randn(g, hidden, generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    w["lstm.recurrent_kernel"] = q.T.contiguous()
    b = torch.zeros(g, dtype=torch.float64)
    b[hidden:2 * hidden] = 1.0
    w["lstm.bias"] = b
    for name, n in HEADS:
        w[name + ".kernel"] = glorot(hidden, n)
        w[name + ".bias"] = torch.zeros(n, dtype=torch.float64)
    return w


class DenseModel(torch.nn.Module):
    """nn.LSTM over the 186 input rows (one-hots as a dense input)."""

    def __init__(self, w, hidden, dtype):
        super().__init__()
        self.hidden = hidden
        self.lstm = torch.nn.LSTM(IN, hidden, batch_first=True, dtype=dtype)
        self.heads = torch.nn.ModuleDict(
            {n: torch.nn.Linear(hidden, k, dtype=dtype) for n, k in HEADS})
        with torch.no_grad():
            # One Keras bias; PyTorch's second stays zero and frozen, or
            # Adam would move the sum twice as fast.
            self.lstm.bias_hh_l0.zero_()
            self.lstm.bias_hh_l0.requires_grad_(False)
            self.load_keras(w)

    @torch.no_grad()
    def load_keras(self, w):
        # PyTorch's gate order i, f, g, o is Keras' i, f, c, o.
        self.lstm.weight_ih_l0.copy_(w["lstm.kernel"].T)
        self.lstm.weight_hh_l0.copy_(w["lstm.recurrent_kernel"].T)
        self.lstm.bias_ih_l0.copy_(w["lstm.bias"])
        for n, _ in HEADS:
            self.heads[n].weight.copy_(w[n + ".kernel"].T)
            self.heads[n].bias.copy_(w[n + ".bias"])

    def keras(self, grad=False):
        """Weights (or their gradients) by checkpoint name, Keras layout."""
        def get(p):
            return (p.grad if grad else p).detach()
        w = {"lstm.kernel": get(self.lstm.weight_ih_l0).T,
             "lstm.recurrent_kernel": get(self.lstm.weight_hh_l0).T,
             "lstm.bias": get(self.lstm.bias_ih_l0)}
        for n, _ in HEADS:
            w[n + ".kernel"] = get(self.heads[n].weight).T
            w[n + ".bias"] = get(self.heads[n].bias)
        return {k: v.contiguous() for k, v in w.items()}

    def forward(self, x):
        dtype = self.lstm.weight_ih_l0.dtype
        out, _ = self.lstm(dense_inputs(x, dtype))
        h = out[:, -1]
        return {n: self.heads[n](h) for n, _ in HEADS}


class GatherModel(torch.nn.Module):
    """The one-hot rows looked up and summed (as the C trainer does), then
    the LSTM cell step by step; parameters in Keras' layout directly."""

    def __init__(self, w, hidden, dtype):
        super().__init__()
        self.hidden = hidden
        self.p = torch.nn.ParameterDict(
            {k.replace(".", "_"): torch.nn.Parameter(v.to(dtype).clone())
             for k, v in w.items()})

    def keras(self, grad=False):
        out = {}
        for name, _ in tensor_table(self.hidden):
            t = self.p[name.replace(".", "_")]
            out[name] = (t.grad if grad else t).detach()
        return out

    def forward(self, x):
        p = self.p
        k = p["lstm_kernel"]
        gx = (k[x["pitch"]] + k[ROW_PHASE + x["phase"]] +
              k[ROW_VEL + x["vbin"]] + x["s"][..., None] * k[ROW_STEP] +
              x["d"][..., None] * k[ROW_DUR] + p["lstm_bias"])
        b, t = x["pitch"].shape
        hd = self.hidden
        h = gx.new_zeros(b, hd)
        c = gx.new_zeros(b, hd)
        r = p["lstm_recurrent_kernel"]
        for s in range(t):
            z = gx[:, s] + h @ r
            i = torch.sigmoid(z[:, :hd])
            f = torch.sigmoid(z[:, hd:2 * hd])
            g = torch.tanh(z[:, 2 * hd:3 * hd])
            o = torch.sigmoid(z[:, 3 * hd:])
            c = f * c + i * g
            h = o * torch.tanh(c)
        return {n: h @ p[n + "_kernel"] + p[n + "_bias"] for n, _ in HEADS}


def head_losses(out, y):
    ce = {n: torch.nn.functional.cross_entropy(out[n], y[n])
          for n, _ in HEADS}
    total = sum(HEAD_WEIGHTS[n] * ce[n] for n, _ in HEADS)
    return total, ce


def clip_grad_norm(params, clip):
    """Global norm over every gradient; scaled by clip / norm above clip
    (no epsilon).  Returns the norm before clipping."""
    norm = math.sqrt(sum(float((p.grad.double() ** 2).sum())
                         for p in params))
    if clip > 0 and norm > clip:
        for p in params:
            p.grad.mul_(clip / norm)
    return norm


class KerasAdam:
    """TF's ApplyAdam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
    p -= lr_t m / (sqrt(v) + eps)."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-7):
        self.p = list(params)
        self.m = [torch.zeros_like(p) for p in self.p]
        self.v = [torch.zeros_like(p) for p in self.p]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0

    def zero_grad(self):
        for p in self.p:
            p.grad = None

    @torch.no_grad()
    def step(self):
        self.t += 1
        t = self.t
        lr_t = self.lr * (1 - self.b2 ** t) ** 0.5 / (1 - self.b1 ** t)
        for p, m, v in zip(self.p, self.m, self.v):
            g = p.grad
            m.add_((g - m) * (1 - self.b1))
            v.add_((g * g - v) * (1 - self.b2))
            p.sub_(lr_t * m / (v.sqrt() + self.eps))


def make_model(kind, w, hidden, dtype):
    return (DenseModel if kind == "dense" else GatherModel)(w, hidden, dtype)


def trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


# ----------------------------------------------------------- checkpoints

def write_safetensors(path, w, hidden, meta):
    """The checkpoint layout: tensors in table order, F32, contiguous;
    string metadata; header padded with spaces to 8 bytes; atomic."""
    header = {"__metadata__": dict(meta)}
    blobs = []
    off = 0
    for name, shape in tensor_table(hidden):
        a = np.ascontiguousarray(w[name].detach().cpu().numpy(),
                                 dtype="<f4")
        assert a.shape == shape, (name, a.shape, shape)
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        a = np.frombuffer(blob[8 + n + b:8 + n + e], dtype="<f4")
        out[name] = torch.from_numpy(a.reshape(t["shape"]).astype(np.float64))
    return out, meta


def model_meta(hidden, seq):
    m = bins_meta()
    m["seq_length"] = str(seq)
    m["hidden"] = str(hidden)
    return m


# ------------------------------------------------------------------ case

CASE_HIDDEN = 16
CASE_SEQ = 6
CASE_TPQ = 480
CASE_SEED = 20240


def case_files():
    """Two files of notes (pitch, velocity, start_tick, end_tick) at 480
    ticks a beat, chosen to reach every edge of the encoding: chords (step
    0), phases rounding up at .5 (tick 10 is 0.5/24 beat), steps over 4
    beats (bin 97) and over 64 (clamped input), durations under 1/48 beat
    (bin 0), of exactly 4 beats (bin 95) and in each coarse bin,
    velocities 1, 3, 4 and 127, pitches 21 and 108.  The targets reach
    step bins 0, 1, 24, 95 (3.9375 beats: a half rounded up) and 97, and
    duration bins 0, 11, 47, 95, 96, 98 and 101."""
    a = [(60, 80, 0, 480), (64, 80, 0, 470), (67, 1, 10, 20),
         (72, 3, 250, 2170), (21, 4, 490, 2890), (76, 127, 960, 4000),
         (74, 100, 970, 1930), (108, 64, 2410, 5050),
         (55, 90, 4850, 12000), (62, 33, 4850, 4860),
         (59, 70, 40000, 50000), (67, 71, 40480, 44320),
         (64, 72, 40960, 41200)]
    b = [(45, 50, 30, 270), (52, 60, 270, 510), (57, 70, 510, 520),
         (61, 127, 990, 3870), (64, 2, 1230, 1470), (69, 40, 3630, 5710),
         (57, 88, 3630, 5550), (61, 96, 4110, 4115), (64, 101, 6000, 6240),
         (70, 110, 6000, 8400)]
    return [a, b]


def case_windows(files, seq):
    """(file, first note index in the file, shift) of each window; each
    shift is one the augmentation could draw (pitches stay in 21..108)."""
    return [(0, 0, 0), (0, 3, 0), (0, 4, 0), (0, 6, -6), (0, 5, -2),
            (1, 0, -3), (1, 1, 2), (1, 2, 4), (1, 3, 5)]


def case_compute(w, files, wins, dtype, kind="dense"):
    notes = [[(p, v, s / CASE_TPQ, e / CASE_TPQ) for p, v, s, e in f]
             for f in files]
    data = Data(notes, CASE_SEQ)
    starts = np.array([data.first[f] + i for f, i, _ in wins], np.int64)
    shifts = np.array([k for _, _, k in wins], np.int64)
    x, y = batch_tensors(data, starts, shifts, dtype)
    model = make_model(kind, w, CASE_HIDDEN, dtype)
    total, ce = head_losses(model(x), y)
    total.backward()
    g = model.keras(grad=True)
    return total, ce, g, data, x, y


def cmd_case(a):
    torch.manual_seed(CASE_SEED)
    gen = torch.Generator().manual_seed(CASE_SEED)
    w = keras_init(CASE_HIDDEN, gen)
    # Non-zero biases and a livelier recurrent kernel than the initial
    # ones, so that every term of the forward pass is exercised.
    for name, t in w.items():
        if name.endswith(".bias"):
            t += (torch.rand(t.shape, generator=gen,
                             dtype=torch.float64) - 0.5) * 0.2
    # The case's weights are what the file holds: float32.
    w = {k: v.float().double() for k, v in w.items()}
    files = case_files()
    wins = case_windows(files, CASE_SEQ)
    for f, i, k in wins:
        assert i + CASE_SEQ < len(files[f])
        ps = [n[0] + k for n in files[f][i:i + CASE_SEQ + 1]]
        assert LOW <= min(ps) and max(ps) <= HIGH
    total, ce, g, data, x, y = case_compute(w, files, wins, torch.float64)
    t2, ce2, g2, *_ = case_compute(w, files, wins, torch.float64, "gather")
    t32, ce32, g32, *_ = case_compute(w, files, wins, torch.float32)
    norm = math.sqrt(sum(float((v ** 2).sum()) for v in g.values()))

    os.makedirs(a.out_dir, exist_ok=True)
    ckpt = os.path.join(a.out_dir, "ref-train-v2.safetensors")
    meta = model_meta(CASE_HIDDEN, CASE_SEQ)
    meta["note"] = "weights of the trainer's reference case"
    write_safetensors(ckpt, w, CASE_HIDDEN, meta)
    gpath = os.path.join(a.out_dir, "ref-train-v2-grad.f32")
    with open(gpath, "wb") as f:
        for name, _ in tensor_table(CASE_HIDDEN):
            f.write(np.ascontiguousarray(g[name].numpy(), "<f4").tobytes())

    def rel(p, q):
        return float((p - q).norm() / q.norm()) if q.norm() > 0 else 0.0

    txt = os.path.join(a.out_dir, "ref-train-v2.txt")
    with open(txt, "w") as f:
        f.write("# written by tests/reference_train_v2.py case (torch %s)\n"
                "# weights: ref-train-v2.safetensors; gradient of the mean "
                "loss:\n# ref-train-v2-grad.f32 (float32, parameter order)."
                "\n# Computed in float64; loss = CE(pitch) + 0.5 (CE(step) "
                "+ CE(duration)\n# + CE(velocity)), mean over the windows."
                "\n" % torch.__version__)
        f.write("hidden %d\nseq_length %d\nticks_per_quarter %d\n" % (
            CASE_HIDDEN, CASE_SEQ, CASE_TPQ))
        for k, ns in enumerate(files):
            f.write("file %d %d\n" % (k, len(ns)))
            for n in ns:
                f.write("note %d %d %d %d\n" % n)
        f.write("# window FILE FIRST SHIFT (pitches of inputs and target "
                "+ SHIFT)\n")
        for win in wins:
            f.write("window %d %d %d\n" % win)
        f.write("# targets: pitch step_bin duration_bin velocity_bin\n")
        for b in range(len(wins)):
            f.write("target %d %d %d %d\n" % tuple(
                int(y[n][b]) for n, _ in HEADS))
        f.write("loss_total %.17g\n" % float(total))
        for n, _ in HEADS:
            f.write("loss_%s %.17g\n" % (n, float(ce[n])))
        f.write("grad_norm %.17g\n" % norm)
        for name, _ in tensor_table(CASE_HIDDEN):
            f.write("grad_norm_of %s %.17g\n" % (name, float(g[name].norm())))
        f.write("# the same in float32 (PyTorch's nn.LSTM), relative to "
                "the above:\n")
        f.write("# f32_loss_rel %.3g\n" % abs(float(t32) / float(total) - 1))
        f.write("# f32_grad_rel_max %.3g\n" % max(
            rel(g32[k].double(), g[k]) for k in g))
        f.write("# the gather formulation in float64: loss %.3g, grad "
                "%.3g\n" % (abs(float(t2) / float(total) - 1),
                            max(rel(g2[k], g[k]) for k in g)))
    for p in (ckpt, gpath, txt):
        print("%s: %d bytes" % (p, os.path.getsize(p)))
    print("loss %.6f (pitch %.4f step %.4f duration %.4f velocity %.4f), "
          "grad norm %.4f" % (float(total), *(float(ce[n]) for n, _ in HEADS),
                              norm))
    return 0


# ---------------------------------------------------------------- corpus

def midi_files(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                out += [os.path.join(root, f) for f in names
                        if f.lower().endswith((".mid", ".midi"))]
        else:
            out.append(p)
    return sorted(out)


def pick(files, n, seed):
    if n and n < len(files):
        files = list(files)
        random.Random(seed).shuffle(files)
        files = sorted(files[:n])
    return files


def load_notes(paths, log=print):
    out = []
    names = []
    t0 = time.time()
    for path in paths:
        try:
            ns = reference_notes.notes_beats(path)
        except Exception as e:  # a bad file is skipped, as rnnjam-train
            log("skipped %s: %s" % (path, e))
            continue
        out.append([(p, v, sb, eb) for p, v, _, _, sb, eb in ns])
        names.append(path)
    log("%d files, %d notes read in %.1f s" % (
        len(out), sum(len(x) for x in out), time.time() - t0))
    return out, names


def synthetic_notes(n_files, n_notes, seed):
    """Random notes in beats, for timing without a corpus."""
    r = np.random.default_rng(seed)
    files = []
    for _ in range(n_files):
        start = np.cumsum(r.choice([0, 0.25, 0.5, 1.0], n_notes))
        dur = r.choice([0.25, 0.5, 1.0, 2.0], n_notes)
        pitch = r.integers(40, 90, n_notes)
        vel = r.integers(30, 110, n_notes)
        files.append([(int(p), int(v), float(s), float(s + d))
                      for p, v, s, d in zip(pitch, vel, start, dur)])
    return files


# ----------------------------------------------------------------- train

def evaluate(model, data, starts, batch, dtype):
    sums = {n: 0.0 for n, _ in HEADS}
    with torch.no_grad():
        for i in range(0, len(starts), batch):
            s = starts[i:i + batch]
            x, y = batch_tensors(data, s, np.zeros(len(s), np.int64), dtype)
            _, ce = head_losses(model(x), y)
            for n, _ in HEADS:
                sums[n] += float(ce[n]) * len(s)
    out = {n: v / max(len(starts), 1) for n, v in sums.items()}
    out["total"] = sum(HEAD_WEIGHTS[n] * out[n] for n, _ in HEADS)
    return out


def parse_range(s):
    lo, hi = (int(v) for v in s.split(":"))
    if lo > hi:
        raise argparse.ArgumentTypeError("%s: expected LO:HI with LO <= HI"
                                         % s)
    return lo, hi


def train_loop(model, data, train, val, a, log, max_batches=0, replay=None):
    """Epochs of shuffled full batches with transpositions, clipping and
    Keras' Adam.  `replay` (parity with rnnjam-train) gives each epoch's
    order and each window's shift as the C trainer draws them; without it
    numpy draws them."""
    dtype = torch.float32
    opt = KerasAdam(trainable(model), a.lr)
    rng = np.random.default_rng(a.seed)
    nb = len(train) // a.batch
    if max_batches:
        nb = min(nb, max_batches)
    curve = []
    for epoch in range(a.epochs):
        order = (replay.order(train, epoch) if replay else
                 rng.permutation(train))
        sums = {n: 0.0 for n, _ in HEADS}
        sums["total"] = 0.0
        norms = []
        t0 = time.perf_counter()
        for b in range(nb):
            s = order[b * a.batch:(b + 1) * a.batch]
            idx = s[:, None] + np.arange(data.seq + 1)
            if replay:
                k = replay.shifts(data, s, epoch)
            else:
                k = shifts_for(data.a["pitch"][idx], a.transpose[0],
                               a.transpose[1], rng.random(len(s)))
            x, y = batch_tensors(data, s, k, dtype)
            total, ce = head_losses(model(x), y)
            opt.zero_grad()
            total.backward()
            norms.append(clip_grad_norm(opt.p, a.clip_norm))
            opt.step()
            sums["total"] += float(total)
            for n, _ in HEADS:
                sums[n] += float(ce[n])
        dt = time.perf_counter() - t0
        tr = {n: v / max(nb, 1) for n, v in sums.items()}
        va = evaluate(model, data, val, 256, dtype) if len(val) else None
        rec = {"epoch": epoch + 1, "train": tr, "val": va,
               "grad_norm_median": float(np.median(norms)) if norms else 0,
               "clipped": float(np.mean(np.array(norms) > a.clip_norm))
               if norms and a.clip_norm > 0 else 0.0,
               "windows_per_s": nb * a.batch / dt, "seconds": dt}
        curve.append(rec)
        log("epoch %d  train %.4f (pitch %.4f step %.4f dur %.4f vel %.4f)"
            "%s  |g| %.2f  %.0f win/s" % (
                epoch + 1, tr["total"], tr["pitch"], tr["step"],
                tr["duration"], tr["velocity"],
                "  val %.4f (pitch %.4f)" % (va["total"], va["pitch"])
                if va else "", rec["grad_norm_median"],
                rec["windows_per_s"]))
        if getattr(a, "log_path", None):
            with open(a.log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
    return curve


def cmd_train(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    files = pick(midi_files(a.inputs), a.files, a.seed)
    notes, names = load_notes(files)
    data = Data(notes, a.seq)
    order = list(range(len(notes)))
    random.Random(a.seed).shuffle(order)
    n_val = int(round(a.val_split * len(order))) if len(order) > 1 else 0
    val_files = sorted(order[:n_val])
    train = data.windows(sorted(order[n_val:]))
    val = data.windows(val_files)
    print("%d training windows, %d validation windows (%d files)" % (
        len(train), len(val), n_val))
    gen = torch.Generator().manual_seed(a.seed)
    w = keras_init(a.hidden, gen)
    model = make_model(a.model, w, a.hidden, torch.float32)
    if a.log:
        open(a.log, "w").close()
    a.log_path = a.log
    curve = train_loop(model, data, train, val, a, print, a.max_batches)
    if a.out:
        meta = model_meta(a.hidden, a.seq)
        last = curve[-1]
        meta.update({
            "arch": "v2", "trainer": "tests/reference_train_v2.py (torch %s)"
            % torch.__version__, "epochs": str(a.epochs), "lr": "%g" % a.lr,
            "batch": str(a.batch), "seed": str(a.seed),
            "clip_norm": "%g" % a.clip_norm,
            "transpose": "%d:%d" % a.transpose,
            "train_loss": "%.6f" % last["train"]["total"]})
        if last["val"]:
            meta["val_loss"] = "%.6f" % last["val"]["total"]
            meta["val_pitch"] = "%.6f" % last["val"]["pitch"]
        write_safetensors(a.out, model.keras(), a.hidden, meta)
        print("wrote %s" % a.out)
    return 0


# ---------------------------------------------------------------- parity

MASK = (1 << 64) - 1
STREAM_TRANSPOSE = 1 << 63


class CReplay:
    """The C trainer's draws (src/train/data.c): each epoch's shuffle of
    the training windows (reference_train.epoch_order) and each window's
    transposition, a xoshiro256** stream per (epoch, window) narrowed as
    rnj_train_shift narrows it."""

    def __init__(self, seed, lo, hi):
        self.seed, self.lo, self.hi = seed, lo, hi

    def order(self, train, epoch):
        return reference_train.epoch_order(train, self.seed, epoch)

    def shift(self, pitches, window, epoch):
        lo, hi = self.lo, self.hi
        if lo == 0 and hi == 0:
            return 0
        pmin, pmax = int(pitches.min()), int(pitches.max())
        if pmin < LOW or pmax > HIGH:
            return 0
        lo = max(lo, LOW - pmin)
        hi = min(hi, HIGH - pmax)
        if lo > hi:
            return 0
        stream = STREAM_TRANSPOSE | ((epoch & 0xffffffff) << 32) | window
        r = reference_train.Xoshiro(self.seed, stream)
        return lo + r.below(hi - lo + 1)

    def shifts(self, data, starts, epoch):
        idx = starts[:, None] + np.arange(data.seq + 1)
        rows = data.a["pitch"][idx]
        return np.array([self.shift(rows[i], int(w), epoch)
                         for i, w in enumerate(starts)], np.int64)


def read_c_data(path, seq):
    """rnnjam-train --arch v2 --dump-data: the notes as the C trainer
    encoded them, and its split by file."""
    cols = {k: [] for k in ("file", "val", "pitch", "phase", "vbin",
                            "step_bin", "dur_bin", "s", "d")}
    with open(path) as f:
        head = next(f).strip()
        assert head.startswith("file,split,pitch,phase"), head
        for line in f:
            v = line.rstrip("\n").split(",")
            cols["file"].append(int(v[0]))
            cols["val"].append(v[1] == "val")
            for k, x in zip(("pitch", "phase", "vbin", "step_bin",
                             "dur_bin"), v[2:7]):
                cols[k].append(int(x))
            cols["s"].append(float(v[7]))
            cols["d"].append(float(v[8]))
    files = np.array(cols["file"])
    a = {k: np.array(cols[k], np.int64) for k in
         ("pitch", "phase", "vbin", "step_bin", "dur_bin")}
    a["s"] = np.array(cols["s"], np.float64)
    a["d"] = np.array(cols["d"], np.float64)
    first = [0]
    for i in range(1, len(files)):
        if files[i] != files[i - 1]:
            first.append(i)
    first.append(len(files))
    data = Data.from_arrays(a, first, seq)
    val = [k for k in range(len(first) - 1) if cols["val"][first[k]]]
    train = [k for k in range(len(first) - 1) if not cols["val"][first[k]]]
    return data, data.windows(train), data.windows(val)


def cmd_parity(a):
    """rnnjam-train --arch v2 and this script on the same files, initial
    weights, shuffles and transpositions: per-epoch losses side by side."""
    files = reference_train.pick_files(a.corpus, a.files, a.seed)
    work = a.workdir or tempfile.mkdtemp(prefix="rnnjam-parity-v2-")
    os.makedirs(work, exist_ok=True)
    data_csv = os.path.join(work, "data.csv")
    init = os.path.join(work, "init.safetensors")
    opts = ["--arch", "v2", "--seed", str(a.seed), "--seq-length",
            str(a.seq), "--val-split", str(a.val_split), "--hidden",
            str(a.hidden), "--lr", str(a.lr), "--clip-norm",
            str(a.clip_norm), "--transpose=%d:%d" % a.transpose,
            "--batch", str(a.batch)]
    print("%d files from %s (seed %d), work in %s" % (len(files), a.corpus,
                                                      a.seed, work))
    subprocess.run([a.trainer, *files, *opts, "--dump-data", data_csv,
                    "--dump-init", init], check=True,
                   stdout=subprocess.DEVNULL)
    logp = os.path.join(work, "c.jsonl")
    t0 = time.time()
    subprocess.run([a.trainer, *files, *opts, "--out",
                    os.path.join(work, "c.safetensors"), "--epochs",
                    str(a.epochs), "--patience", "0", "--threads",
                    str(a.threads), "--log", logp], check=True,
                   stdout=subprocess.DEVNULL)
    tc = time.time() - t0
    with open(logp) as f:
        c = [json.loads(line) for line in f if line.strip()]
    torch.set_num_threads(a.threads)
    data, train, val = read_c_data(data_csv, a.seq)
    w, _ = read_safetensors(init)
    model = make_model("dense", w, a.hidden, torch.float32)
    t0 = time.time()
    t = train_loop(model, data, train, val, a, print,
                   replay=CReplay(a.seed, *a.transpose))
    tt = time.time() - t0
    heads = ["loss"] + [n for n, _ in HEADS]
    print("\nepoch  what   " + "  ".join("%-17s" % h for h in heads))
    worst = 0.0
    most = 0.0
    for ce, te in zip(c, t):
        for what, key in (("train", "train"), ("val", "val")):
            cells = []
            for h in heads:
                cv = ce["%s_%s" % (key, h)]
                tv = te[key]["total" if h == "loss" else h]
                cells.append("%.4f/%.4f" % (cv, tv))
                if h != "velocity":  # ~1e-4 nats on one-velocity folk
                    most = max(most, abs(cv / tv - 1))
            print("%5d  %-5s  %s" % (ce["epoch"], what,
                                     "  ".join("%-17s" % x for x in cells)))
    for key in ("train", "val"):
        d = c[-1]["%s_loss" % key] / t[-1][key]["total"] - 1
        worst = max(worst, abs(d))
        print("final %s loss: C %.4f, torch %.4f (%+.2f%%)" % (
            key, c[-1]["%s_loss" % key], t[-1][key]["total"], 100 * d))
    print("largest relative difference, every epoch and head but "
          "velocity: %.2g" % most)
    print("wall time: C %.0f s, torch %.0f s" % (tc, tt))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"files": files, "c": c, "torch": t}, f, indent=1)
    return 0 if worst <= 0.05 else 1


# ----------------------------------------------------------------- bench

def blas_in_use():
    """The BLAS this process mapped (torch links libblas.so.3, whose
    Debian alternative decides: OpenBLAS is the fair setting)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "unknown"
    for name in ("openblas", "blis", "mkl", "atlas"):
        if name in maps:
            return name
    return "reference BLAS"


def bench_child(a):
    """One timed run (in a child, whose thread environment is set)."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.inputs:
        notes, _ = load_notes(pick(midi_files(a.inputs), a.files, a.seed),
                              log=lambda s: None)
    else:
        notes = synthetic_notes(40, 400, a.seed)
    data = Data(notes, a.seq)
    train = data.windows(range(len(notes)))
    gen = torch.Generator().manual_seed(a.seed)
    model = make_model(a.model, keras_init(a.hidden, gen), a.hidden,
                       torch.float32)
    a.epochs = 1
    a.log_path = None
    # Warm-up (allocator, OpenBLAS buffers), then the timed batches.
    train_loop(model, data, train, np.array([], np.int64), a,
               lambda s: None, max_batches=a.warmup)
    curve = train_loop(model, data, train, np.array([], np.int64), a,
                       lambda s: None, max_batches=a.batches)
    print(json.dumps({"windows_per_s": curve[0]["windows_per_s"],
                      "blas": blas_in_use()}))
    return 0


def cmd_bench(a):
    env = dict(os.environ)
    # Debian's torch calls OpenBLAS through libblas.so.3, whose pthread
    # build would otherwise start a thread per core; passive OpenMP waits
    # are its best setting on two shared cores (see reference_train.py).
    env["OPENBLAS_NUM_THREADS"] = str(a.threads)
    env["OMP_NUM_THREADS"] = str(a.threads)
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    res = {}
    models = ["dense", "gather"] if a.model == "both" else [a.model]
    for rep in range(a.repeats):
        for m in models:
            cmd = [sys.executable, os.path.abspath(__file__), "_bench",
                   "--model", m, "--threads", str(a.threads),
                   "--batches", str(a.batches), "--warmup", str(a.warmup),
                   "--batch", str(a.batch), "--seq", str(a.seq),
                   "--hidden", str(a.hidden), "--files", str(a.files),
                   "--transpose=%d:%d" % a.transpose,
                   "--clip-norm", str(a.clip_norm)] + a.inputs
            r = subprocess.run(cmd, env=env, check=True, capture_output=True,
                               text=True)
            child = json.loads(r.stdout.strip().splitlines()[-1])
            wps = child["windows_per_s"]
            blas = child["blas"]
            res.setdefault(m, []).append(wps)
            print("repeat %d, %s, %d thread%s: %.0f windows/s" % (
                rep + 1, m, a.threads, "" if a.threads == 1 else "s", wps),
                flush=True)
        if a.rnnjam:
            # The C trainer on the same files, between the torch runs: on a
            # shared machine only ratios measured together mean anything.
            files = pick(midi_files(a.inputs), a.files, a.seed)
            r = subprocess.run([a.rnnjam, "bench", "--train", *files,
                                "--batches", str(a.batches), "--threads",
                                str(a.threads), "--json"], check=True,
                               capture_output=True, text=True)
            for e in json.loads(r.stdout)["results"]:
                if e.get("arch", "tutorial") == "v2":
                    res.setdefault("rnnjam", []).append(e["windows_per_s"])
                    print("repeat %d, rnnjam-train v2: %.0f windows/s" % (
                        rep + 1, e["windows_per_s"]), flush=True)
    med = {m: float(np.median(v)) for m, v in res.items()}
    best = max((m for m in med if m != "rnnjam"), key=med.get)
    out = {"threads": a.threads, "batch": a.batch, "seq": a.seq,
           "hidden": a.hidden, "median_windows_per_s": med,
           "best": best, "windows_per_s": med[best], "blas": blas,
           "torch": torch.__version__}
    if "rnnjam" in med:
        # Each repeat's ratio, measured minutes apart at most: the median
        # of those is steadier than the ratio of the medians.
        pairs = [c / t for c, t in zip(res["rnnjam"], res[best])]
        out["ratio_rnnjam_to_torch"] = float(np.median(pairs))
        print("medians: rnnjam %.0f, torch (%s) %.0f windows/s; ratio per "
              "repeat %s, median %.2f" % (
                  med["rnnjam"], best, med[best],
                  " ".join("%.2f" % x for x in pairs),
                  out["ratio_rnnjam_to_torch"]))
    print(json.dumps(out))
    return 0


# ------------------------------------------------------------------ main

def add_training_args(s, epochs, models=("dense", "gather"),
                      model="dense"):
    s.add_argument("inputs", nargs="*", help="MIDI files or folders")
    s.add_argument("--files", type=int, default=0,
                   help="use N files of the inputs (a seeded choice)")
    s.add_argument("--epochs", type=int, default=epochs)
    s.add_argument("--batch", type=int, default=64)
    s.add_argument("--seq", type=int, default=25)
    s.add_argument("--hidden", type=int, default=128)
    s.add_argument("--lr", type=float, default=0.002)
    s.add_argument("--clip-norm", type=float, default=1.0)
    s.add_argument("--transpose", type=parse_range, default=(-6, 5))
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--model", choices=models, default=model,
                   help="the nn.LSTM formulation or the row lookup")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("case", help="write the C tests' reference case")
    s.add_argument("--out-dir", default="tests/data")
    s = sub.add_parser("train", help="train on MIDI files")
    add_training_args(s, 2)
    s.add_argument("--val-split", type=float, default=0.1)
    s.add_argument("--out", help="checkpoint to write (safetensors)")
    s.add_argument("--log", help="JSON lines, one per epoch")
    s.add_argument("--max-batches", type=int, default=0,
                   help="stop each epoch after N batches")
    s = sub.add_parser("bench", help="training windows/s")
    add_training_args(s, 1, ("dense", "gather", "both"), "both")
    s.add_argument("--rnnjam", help="also time `rnnjam bench --train` (v2) "
                   "on the same files, alternating")
    s.add_argument("--batches", type=int, default=60)
    s.add_argument("--warmup", type=int, default=5)
    s.add_argument("--repeats", type=int, default=3)
    s = sub.add_parser("parity", help="against rnnjam-train --arch v2")
    add_training_args(s, 3)
    s.add_argument("--trainer", required=True, help="rnnjam-train")
    s.add_argument("--corpus", required=True, help="a folder of MIDI files")
    s.add_argument("--val-split", type=float, default=0.1)
    s.add_argument("--workdir")
    s.add_argument("--json", help="write both curves here")
    s = sub.add_parser("_bench")
    add_training_args(s, 1)
    s.add_argument("--batches", type=int, default=60)
    s.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    return {"case": cmd_case, "train": cmd_train, "bench": cmd_bench,
            "parity": cmd_parity, "_bench": bench_child}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
