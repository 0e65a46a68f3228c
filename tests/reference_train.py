#!/usr/bin/python3
"""PyTorch reference for rnnjam-train: parity of the losses and throughput.

Trains the tutorial's model in PyTorch on exactly what rnnjam-train trains
on, then compares.  The C trainer dumps its notes, file split and initial
weights (--dump-data, --dump-init); this script rebuilds the same windows,
replays the same per-epoch shuffle (the trainer's xoshiro256** stream,
reimplemented below) and applies Keras' Adam (epsilon outside the bias
correction, one LSTM bias), so the two runs differ only by floating-point
rounding.

  parity  N files of a corpus folder chosen by a seeded shuffle; E epochs
          of each trainer; per-epoch train and validation losses side by
          side; exit 1 if a final loss differs by more than 5%.
  bench   training windows/s of each on the same data and batch, at each
          thread count, alternating the two and repeating (the machine is
          shared: only ratios measured together mean anything).

Needs Debian's python3-torch and numpy (run with /usr/bin/python3).
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

MASK = (1 << 64) - 1
STREAM_EPOCH = 1000


# ----------------------------------------------------- the trainer's RNG

def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return x, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro:
    def __init__(self, seed, stream):
        x = seed ^ ((stream * 0xD1342543DE82EF95) & MASK)
        self.s = []
        for _ in range(4):
            x, z = splitmix64(x)
            self.s.append(z)

    def next(self):
        s = self.s
        out = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return out

    def below(self, n):
        return (self.next() * n) >> 64


def epoch_order(train, seed, epoch):
    """rnj_train_split_shuffle: Fisher-Yates from the end."""
    a = list(train)
    r = Xoshiro(seed, STREAM_EPOCH + epoch)
    for i in range(len(a), 1, -1):
        j = r.below(i)
        a[i - 1], a[j] = a[j], a[i - 1]
    return np.array(a, dtype=np.int64)


# ------------------------------------------------------------- data, init

def read_data(csv_path, seq):
    files, split, pitch, step, dur = [], [], [], [], []
    with open(csv_path) as f:
        next(f)
        for line in f:
            a = line.rstrip("\n").split(",")
            files.append(int(a[0]))
            split.append(a[1] == "val")
            pitch.append(int(a[2]))
            step.append(float(a[3]))
            dur.append(float(a[4]))
    files = np.array(files)
    x = np.stack([np.array(pitch, np.float32) / np.float32(128.0),
                  np.array(step, np.float32), np.array(dur, np.float32)], 1)
    train, val = [], []
    start = 0
    n = len(files)
    while start < n:
        end = start
        while end < n and files[end] == files[start]:
            end += 1
        w = list(range(start, end - seq)) if end - start > seq else []
        (val if split[start] else train).extend(w)
        start = end
    return (torch.from_numpy(x), torch.tensor(pitch, dtype=torch.long),
            np.array(train, np.int64), np.array(val, np.int64))


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        a = np.frombuffer(blob[8 + n + b:8 + n + e], dtype="<f4")
        out[name] = torch.from_numpy(a.reshape(t["shape"]).copy())
    return out


# ------------------------------------------------------------------ model

class Model(torch.nn.Module):
    """The tutorial's LSTM(128) and heads; weights in Keras' layout."""

    def __init__(self, w=None):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 128, batch_first=True)
        self.pitch = torch.nn.Linear(128, 128)
        self.step = torch.nn.Linear(128, 1)
        self.duration = torch.nn.Linear(128, 1)
        with torch.no_grad():
            # Keras has one LSTM bias; PyTorch adds two.  The second stays
            # zero and frozen, or Adam would move the sum twice as fast.
            self.lstm.bias_hh_l0.zero_()
            self.lstm.bias_hh_l0.requires_grad_(False)
            if w is not None:
                # PyTorch's gate order i, f, g, o is Keras' i, f, c, o.
                self.lstm.weight_ih_l0.copy_(w["lstm.kernel"].T)
                self.lstm.weight_hh_l0.copy_(w["lstm.recurrent_kernel"].T)
                self.lstm.bias_ih_l0.copy_(w["lstm.bias"])
                self.pitch.weight.copy_(w["pitch.kernel"].T)
                self.pitch.bias.copy_(w["pitch.bias"])
                self.step.weight.copy_(w["step.kernel"].T)
                self.step.bias.copy_(w["step.bias"])
                self.duration.weight.copy_(w["duration.kernel"].T)
                self.duration.bias.copy_(w["duration.bias"])

    def forward(self, x):
        out, _ = self.lstm(x)
        h = out[:, -1]
        return self.pitch(h), self.step(h)[:, 0], self.duration(h)[:, 0]


def mse_pp(y, p):
    return ((y - p) ** 2 + 10.0 * torch.clamp(-p, min=0.0)).mean()


def losses(model, x, y):
    logits, ps, pd = model(x)
    ce = torch.nn.functional.cross_entropy(logits, y[:, 0].long())
    ls = mse_pp(y[:, 1], ps)
    ld = mse_pp(y[:, 2], pd)
    return 0.05 * ce + ls + ld, ce, ls, ld


class KerasAdam:
    """TF's ApplyAdam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
    p -= lr_t m / (sqrt(v) + eps)."""

    def __init__(self, params, lr=0.005, b1=0.9, b2=0.999, eps=1e-7):
        self.p = [p for p in params if p.requires_grad]
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


class Windows:
    """All windows of the data set, built once (as tf.data's cache())."""

    def __init__(self, x, pitch, starts, seq):
        idx = torch.from_numpy(starts)[:, None] + torch.arange(seq + 1)
        self.pos = {int(s): i for i, s in enumerate(starts)}
        self.x = x[idx[:, :seq]].contiguous()
        t = idx[:, seq]
        self.y = torch.stack([pitch[t].float(), x[t, 1], x[t, 2]], 1)

    def rows(self, starts):
        return torch.tensor([self.pos[int(s)] for s in starts])


def evaluate(model, win, batch):
    sums = np.zeros(3)
    n = win.x.shape[0]
    with torch.no_grad():
        for i in range(0, n, batch):
            _, ce, ls, ld = losses(model, win.x[i:i + batch],
                                   win.y[i:i + batch])
            m = min(batch, n - i)
            sums += np.array([ce.item(), ls.item(), ld.item()]) * m
    p, s, d = sums / n
    return {"total": 0.05 * p + s + d, "pitch": p, "step": s, "duration": d}


def train_torch(data_csv, init_path, epochs, batch, seq, lr, seed, threads,
                optim="keras", max_batches=None, log=print):
    torch.set_num_threads(threads)
    x, pitch, train, val = read_data(data_csv, seq)
    model = Model(read_safetensors(init_path) if init_path else None)
    opt = (KerasAdam(model.parameters(), lr) if optim == "keras" else
           torch.optim.Adam([p for p in model.parameters()
                             if p.requires_grad], lr=lr, eps=1e-7))
    tw = Windows(x, pitch, train, seq)
    vw = Windows(x, pitch, val, seq) if len(val) else None
    nb = len(train) // batch
    if max_batches:
        nb = min(nb, max_batches)
    curve = []
    for epoch in range(epochs):
        rows = tw.rows(epoch_order(train, seed, epoch))
        sums = np.zeros(4)
        t0 = time.perf_counter()
        for b in range(nb):
            r = rows[b * batch:(b + 1) * batch]
            tot, ce, ls, ld = losses(model, tw.x[r], tw.y[r])
            opt.zero_grad()
            tot.backward()
            opt.step()
            sums += [tot.item(), ce.item(), ls.item(), ld.item()]
        dt = time.perf_counter() - t0
        tr = dict(zip(["total", "pitch", "step", "duration"], sums / nb))
        va = evaluate(model, vw, batch) if vw else None
        curve.append({"epoch": epoch + 1, "train": tr, "val": va,
                      "windows_per_s": nb * batch / dt, "seconds": dt})
        log("torch epoch %d  train %.4f (pitch %.4f step %.4f dur %.4f)%s"
            "  %.0f win/s" % (epoch + 1, tr["total"], tr["pitch"], tr["step"],
                              tr["duration"],
                              "  val %.4f" % va["total"] if va else "",
                              nb * batch / dt))
    return curve


# ------------------------------------------------------------- the C side

def pick_files(corpus, n, seed):
    files = []
    for root, _, names in os.walk(corpus):
        files += [os.path.join(root, f) for f in names
                  if f.lower().endswith((".mid", ".midi"))]
    files.sort()
    random.Random(seed).shuffle(files)
    return sorted(files[:n])


def c_dump(trainer, files, work, seed, seq, val_split):
    data = os.path.join(work, "data.csv")
    init = os.path.join(work, "init.safetensors")
    subprocess.run([trainer, *files, "--arch", "tutorial",
                    "--dump-data", data, "--dump-init", init,
                    "--seed", str(seed), "--seq-length", str(seq),
                    "--val-split", str(val_split)], check=True,
                   stdout=subprocess.DEVNULL)
    return data, init


def c_train(trainer, files, work, epochs, batch, lr, seed, seq, val_split,
            threads, tag="c", kernel="auto"):
    logp = os.path.join(work, tag + ".jsonl")
    out = os.path.join(work, tag + ".safetensors")
    subprocess.run([trainer, *files, "--arch", "tutorial", "--out", out,
                    "--epochs", str(epochs),
                    "--batch", str(batch), "--lr", str(lr), "--seed",
                    str(seed), "--seq-length", str(seq), "--val-split",
                    str(val_split), "--patience", "0", "--threads",
                    str(threads), "--kernel", kernel, "--log", logp],
                   check=True,
                   stdout=subprocess.DEVNULL)
    with open(logp) as f:
        return [json.loads(line) for line in f if line.strip()]


# ------------------------------------------------------------- commands

def cmd_parity(a):
    files = pick_files(a.corpus, a.files, a.seed)
    work = a.workdir or tempfile.mkdtemp(prefix="rnnjam-parity-")
    os.makedirs(work, exist_ok=True)
    print("%d files from %s (seed %d), work in %s" % (len(files), a.corpus,
                                                      a.seed, work))
    data, init = c_dump(a.trainer, files, work, a.seed, a.seq, a.val_split)
    t0 = time.time()
    c = c_train(a.trainer, files, work, a.epochs, a.batch, a.lr, a.seed,
                a.seq, a.val_split, a.threads)
    tc = time.time() - t0
    for e in c:
        print("C     epoch %d  train %.4f (pitch %.4f step %.4f dur %.4f)"
              "  val %.4f  %.0f win/s" % (e["epoch"], e["train_loss"],
                                          e["train_pitch"], e["train_step"],
                                          e["train_duration"], e["val_loss"],
                                          e["windows_per_s"]))
    t0 = time.time()
    t = train_torch(data, init, a.epochs, a.batch, a.seq, a.lr, a.seed,
                    a.threads)
    tt = time.time() - t0
    print("\nepoch  train C   train torch  diff    val C    val torch  diff")
    worst = 0.0
    for ce, te in zip(c, t):
        dtr = ce["train_loss"] / te["train"]["total"] - 1
        dva = ce["val_loss"] / te["val"]["total"] - 1
        print("%5d  %.4f    %.4f      %+.2f%%  %.4f   %.4f     %+.2f%%" % (
            ce["epoch"], ce["train_loss"], te["train"]["total"], 100 * dtr,
            ce["val_loss"], te["val"]["total"], 100 * dva))
    fin_tr = c[-1]["train_loss"] / t[-1]["train"]["total"] - 1
    fin_va = c[-1]["val_loss"] / t[-1]["val"]["total"] - 1
    worst = max(abs(fin_tr), abs(fin_va))
    print("final: train %+.2f%%, validation %+.2f%% (limit 5%%); wall time "
          "C %.0f s, torch %.0f s" % (100 * fin_tr, 100 * fin_va, tc, tt))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"files": files, "c": c, "torch": t}, f, indent=1)
    return 0 if worst <= 0.05 else 1


def cmd_bench(a):
    files = pick_files(a.corpus, a.files, a.seed)
    work = a.workdir or tempfile.mkdtemp(prefix="rnnjam-bench-")
    os.makedirs(work, exist_ok=True)
    data, init = c_dump(a.trainer, files, work, a.seed, a.seq, a.val_split)
    res = {}
    for rep in range(a.repeats):
        for threads in a.threads_list:
            env = dict(os.environ)
            # Debian's PyTorch calls OpenBLAS through libblas.so.3, whose
            # pthread build would otherwise use every core.
            env["OPENBLAS_NUM_THREADS"] = str(threads)
            env["OMP_NUM_THREADS"] = str(threads)
            # OpenMP's spinning workers and OpenBLAS' threads fight over
            # two cores: PyTorch ran 7x slower at 2 threads than at 1 with
            # the default policy; passive is its best configuration here.
            env["OMP_WAIT_POLICY"] = "PASSIVE"
            r = subprocess.run([sys.executable, __file__, "_torch", data, init,
                                str(a.batch), str(a.seq), str(threads),
                                str(a.batches), a.optim], env=env,
                               check=True, capture_output=True, text=True)
            wt = float(r.stdout.split()[-1])
            c = c_train(a.trainer, files, work, 1, a.batch, 0.005, a.seed,
                        a.seq, a.val_split, threads, tag="bench",
                        kernel=a.kernel)
            wc = c[-1]["windows_per_s"]
            res.setdefault(threads, []).append((wc, wt))
            print("repeat %d, %d thread%s: C %.0f win/s, torch %.0f win/s, "
                  "ratio %.2f" % (rep + 1, threads, "" if threads == 1 else
                                  "s", wc, wt, wc / wt), flush=True)
    print("\nmedians:")
    for threads, v in res.items():
        wc = float(np.median([x[0] for x in v]))
        wt = float(np.median([x[1] for x in v]))
        print("  %d thread%s: C %.0f win/s, torch %.0f win/s, C/torch %.2f "
              "(%.1f GFLOP/s at 9.83 MFLOP a window)" % (
                  threads, "" if threads == 1 else "s", wc, wt, wc / wt,
                  wc * 9.83e-3))
    if len(res) > 1 and 1 in res:
        for threads in res:
            if threads == 1:
                continue
            ratios_c = [x[0] / y[0] for x, y in zip(res[threads], res[1])]
            ratios_t = [x[1] / y[1] for x, y in zip(res[threads], res[1])]
            print("  speed-up at %d threads: C %.2fx, torch %.2fx" % (
                threads, float(np.median(ratios_c)),
                float(np.median(ratios_t))))
    return 0


def cmd_torch(argv):
    """One timed torch epoch (internal: run in a child with its env)."""
    data, init, batch, seq, threads, batches, optim = argv
    curve = train_torch(data, init, 1, int(batch), int(seq), 0.005, 42,
                        int(threads), optim=optim, max_batches=int(batches),
                        log=lambda s: None)
    print(curve[0]["windows_per_s"])
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_torch":
        return cmd_torch(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("parity", "bench"):
        s = sub.add_parser(name)
        s.add_argument("--trainer", required=True,
                       help="the rnnjam-train binary")
        s.add_argument("--corpus", required=True,
                       help="folder of MIDI files, e.g. .../piano-midi-de")
        s.add_argument("--files", type=int, default=30)
        s.add_argument("--seed", type=int, default=42)
        s.add_argument("--batch", type=int, default=64)
        s.add_argument("--seq", type=int, default=25)
        s.add_argument("--val-split", type=float, default=0.1)
        s.add_argument("--workdir")
    s = sub.choices["parity"]
    s.add_argument("--epochs", type=int, default=8)
    s.add_argument("--lr", type=float, default=0.005)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--json", help="write both curves here")
    s = sub.choices["bench"]
    s.add_argument("--threads", dest="threads_list", type=int, nargs="+",
                   default=[1, 2])
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--batches", type=int, default=0,
                   help="torch batches timed (0: a whole epoch)")
    s.add_argument("--kernel", default="auto",
                   help="rnnjam-train --kernel (auto, avx512, avx2, ...)")
    s.add_argument("--optim", choices=["keras", "torch"], default="torch",
                   help="torch's stock Adam (default) or the Keras one")
    a = p.parse_args()
    return cmd_parity(a) if a.cmd == "parity" else cmd_bench(a)


if __name__ == "__main__":
    sys.exit(main())
