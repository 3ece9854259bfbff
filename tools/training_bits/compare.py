"""Trains small models full batch with torch and with autograd-core, the same steps on the same
random data (torch's generator, which autograd-core repeats bit for bit), and compares every
parameter and the last loss bit for bit: a check that a whole training run, forward, backward
and update, gives torch's numbers, not only each op on its own. A dev-time tool (needs torch):

    /path/to/torch-venv/bin/python tools/training_bits/compare.py [--threads T] [MODEL ...]

MODEL: lr (linear regression, 1000 x 3, 100 steps), mlp-relu (2 -> 16 -> 1 with ReLU, 1000
samples, 50 steps), mlp-tanh (the same with tanh and a sine target). Both sides run on
--threads threads (default 2, torch's default on a 2-core machine). The Rust half is
autograd-core/examples/training_bits.rs.

mlp-tanh is expected to differ: torch's float32 `sin` and `tanh` are oneMKL's vector math,
whose last bits are its own; autograd-core's keep the C library's (see issue notes).
"""
import argparse
import os
import struct
import subprocess
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def bits(t):
    return " ".join("%08x" % struct.unpack("<I", struct.pack("<f", v))[0] for v in t.detach().flatten().tolist())


def train(name, params, steps, lr, loss):
    lines = []
    for _ in range(steps):
        last = loss()
        last.backward()
        with torch.no_grad():
            for _, p in params:
                p.sub_(p.grad * lr)
                p.grad.zero_()
    for param, p in params:
        lines.append(f"{name} {param} {bits(p)}")
    lines.append(f"{name} loss {bits(last)}")
    return lines


def torch_run(model):
    torch.manual_seed(0)
    if model == "lr":
        x = torch.randn(1000, 3)
        y = x @ torch.tensor([[1.5], [-2.0], [0.7]]) + torch.randn(1000, 1) * 0.1
        w = torch.zeros(3, 1).requires_grad_(True)
        b = torch.zeros(1).requires_grad_(True)
        return train("lr", [("w", w), ("b", b)], 100, 0.1, lambda: (x @ w + b - y).pow(2).mean())
    tanh = model == "mlp-tanh"
    x = torch.randn(1000, 2)
    z = x @ torch.tensor([[1.0], [-1.0]])
    y = z.sin() if tanh else z.pow(2)
    w1 = (torch.randn(2, 16) * 0.5).requires_grad_(True)
    b1 = torch.zeros(16).requires_grad_(True)
    w2 = (torch.randn(16, 1) * 0.5).requires_grad_(True)
    b2 = torch.zeros(1).requires_grad_(True)

    def loss():
        pre = x @ w1 + b1
        h = pre.tanh() if tanh else pre.relu()
        return (h @ w2 + b2 - y).pow(2).mean()

    return train(model, [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)], 50, 0.05, loss)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("models", nargs="*", default=["lr", "mlp-relu", "mlp-tanh"])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    for model in args.models:
        ours = subprocess.run(
            ["cargo", "run", "-q", "--release", "-p", "autograd-core", "--example", "training_bits", "--", model],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.splitlines()
        theirs = torch_run(model)
        for o, t in zip(ours, theirs):
            name = " ".join(t.split()[:2])
            ov, tv = o.split()[2:], t.split()[2:]
            same = sum(a == b for a, b in zip(ov, tv))
            first = next(((a, b) for a, b in zip(ov, tv) if a != b), None)
            print(f"{name}: {same} of {len(tv)} values identical"
                  + (f" (first that differs: ours {first[0]}, torch {first[1]})" if first else ""))
        print(f"{model} on {args.threads} thread(s): {'identical to torch' if ours == theirs else 'differs from torch'}")


if __name__ == "__main__":
    main()
