"""Our matrix products against torch's, bit for bit, on random products: shapes, layouts
(a @ b, a @ w.t(), w.t() @ b, both transposed), float32 and float64, uniform or
signed-zero-heavy inputs, and mixes aimed at each of MKL's kernels; `mm`, `mv` or `bmm`.
Prints every product that differs and the count that agree. A dev-time tool (needs torch):

    /path/to/torch-venv/bin/python tools/gemm_order/compare.py [--seed S] [--count N]
        [--threads T] [--mix general|thin|one|k1|short] [--dist uniform|zeros] [--fn mm|mv|bmm]

torch and ours run with --threads (default 1; see README.md for what two threads change and
which of those changes autograd-core follows).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]


def shape(rng, mix):
    def dim():
        r = rng.random()
        if r < 0.15:
            return rng.randint(1, 4)
        if r < 0.55:
            return rng.randint(5, 64)
        if r < 0.85:
            return rng.randint(65, 400)
        return rng.randint(401, 1200)

    if mix == "short":
        return 1, rng.randint(2, 15), 1, None
    if mix == "one":
        return 1, rng.randint(2, 100), 1, None
    if mix == "k1":
        return rng.choice([1, 2, 3, 5, 16, 40]), 1, rng.choice([1, 2, 3, 5, 16, 40]), None
    if mix == "thin":
        kind = rng.choice(["smallbt", "rowdot", "colgemv", "f64thin"])
        if kind == "smallbt":
            m = rng.randint(2, 15)
            k = rng.choice([rng.randint(2, 30), rng.randint(24 * m, 24 * m + 50), rng.randint(5, 400)])
            return m, k, rng.randint(2, 40), "bt"
        if kind == "rowdot":
            return rng.randint(1, 70), rng.randint(1, 200), 1, None
        if kind == "colgemv":
            return 1, rng.randint(1, 200), rng.randint(1, 70), None
        return rng.randint(2, 10), rng.randint(2, 40), rng.randint(2, 10), None
    m, k, n = dim(), dim(), dim()
    if rng.random() < 0.1:
        m = 1
    elif rng.random() < 0.1:
        n = 1
    if m * k * n > 1.5e8:
        k = max(5, int(1.5e8 / (m * n)))
    return m, k, n, None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mix", default="general", choices=["general", "thin", "one", "k1", "short"])
    p.add_argument("--dist", default="uniform", choices=["uniform", "zeros"])
    p.add_argument("--fn", default="mm", choices=["mm", "mv", "bmm", "dot"])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    zeros = torch.tensor([-2.0, -1.0, -0.5, -0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.0])

    def values(rows, cols, dtype):
        shape = (batch, rows, cols) if batch else (rows, cols)
        if args.dist == "zeros":
            return zeros.to(dtype)[torch.randint(0, 10, shape, generator=gen)]
        return torch.randn(*shape, generator=gen, dtype=dtype)

    def t(x):
        return x.transpose(-1, -2)

    folder = Path(tempfile.mkdtemp(prefix="gemm_compare_"))
    cases, outputs = [], []
    for i in range(args.count):
        m, k, n, layout = shape(rng, args.mix)
        layout = layout or rng.choice(["none", "bt", "at", "both"])
        batch = rng.randint(2, 3) if args.fn == "bmm" else 0
        if args.fn == "mv":
            n, layout = 1, layout.replace("both", "at").replace("bt", "none")
        if args.fn == "dot":
            m, n, layout = 1, 1, "none"
        dtype = rng.choice(["f32", "f64"])
        tdt = torch.float32 if dtype == "f32" else torch.float64
        ta, tb = layout in ("at", "both"), layout in ("bt", "both")
        a = values(k, m, tdt) if ta else values(m, k, tdt)
        b = values(n, k, tdt) if tb else values(k, n, tdt)
        a.numpy().tofile(folder / f"{i}_a.bin")
        b.numpy().tofile(folder / f"{i}_b.bin")
        a, b = (t(a) if ta else a), (t(b) if tb else b)
        c = (torch.mv(a, b[:, 0]) if args.fn == "mv" else torch.dot(a[0], b[:, 0]) if args.fn == "dot"
             else torch.bmm(a, b) if batch else a @ b)
        outputs.append(c.reshape(-1).numpy() if c.dim() == 0 else c.numpy())
        cases.append(dict(m=m, k=k, n=n, op=layout, dtype=dtype, fn=args.fn, batch=batch))
    (folder / "cases.json").write_text(json.dumps(cases))
    # ours on as many threads as torch had (with two, some sums come in two halves)
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    subprocess.run(["cargo", "run", "-q", "--release", "-p", "autograd-core", "--example", "mm_bits", "--", str(folder)],
                   cwd=ROOT, check=True, env=env)
    same_count = 0
    for i, (case, want) in enumerate(zip(cases, outputs)):
        ours = np.fromfile(folder / f"{i}_ours.bin", want.dtype).reshape(want.shape)
        same = (ours.view(np.uint8) == want.view(np.uint8)).reshape(want.shape + (-1,)).all(-1)
        if same.all():
            same_count += 1
        else:
            print("differs:", case, "elements identical: %.4f" % same.mean(),
                  "largest difference: %.3g" % np.abs(ours.astype(np.float64) - want).max())
    shutil.rmtree(folder)
    print(f"{same_count} of {args.count} products identical to torch's ({args.fn}, {args.mix}, {args.dist}, "
          f"{args.threads} thread{'s' if args.threads > 1 else ''})")


if __name__ == "__main__":
    main()
