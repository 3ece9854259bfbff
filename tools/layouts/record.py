"""Records torch's reductions, softmax and matrix products over non-contiguous layouts, bit
for bit, for autograd-core/tests/layouts.rs.

    /work/torch-venv/bin/python tools/layouts/record.py > autograd-core/tests/fixtures/layouts.json
    /work/torch-venv/bin/python tools/layouts/record.py --seed 5 > /tmp/fresh.json   # then
    LAYOUTS_FIXTURE=/tmp/fresh.json cargo test -p autograd-core --test layouts

torch lays a reduction out as its TensorIterator does (dims ordered by the input's strides,
neighbours merged) and picks its kernel from that layout, so `x.t().norm()`, `x.expand(..)
.prod()` or `x.permute(..).softmax(0)` add up in another order than the same values made
contiguous. Each case: a seeded `torch.randn` base (sometimes scaled), a chain of views
(transpose, permute, unsqueeze + expand, narrow, unsqueeze), one op, the op's values and the
base's gradient of `(out * 1.0).sum()` (None where torch gives none); and large cases (past
torch's grain of 32768 elements, where reductions of everything and softmax split over the
threads). Values are base64 of little-endian floats (see tests/fixture_bits), or past 4096
elements their CRC-32. Recorded on 2 threads of an Intel Xeon with
AVX-512 (MKL's kernel set for the products; the test selects the same).
"""
import argparse
import base64
import json
import random
import sys
import zlib

import torch

SEED = 1206
THREADS = 2
SHAPES = [[9, 5], [17, 3], [4, 33], [3, 4, 5], [2, 20, 3], [40, 2], [6, 6], [5, 1, 19]]
OPS = ["sum", "mean", "prod", "var", "std", "norm", "norm", "norm", "softmax", "log_softmax", "cumsum",
       "sigmoid", "mul", "mm"]


BIG = 4096
# past torch's grain (32768 elements): reductions of everything split over the threads, and
# softmax's positions with them (shape, layout)
LARGE = [([40000], []), ([300, 200], []), ([200, 300], [["transpose", 0, 1]]),
         ([20000], [["unsqueeze", 0], ["expand", [3, 20000]]]), ([70001], [["narrow", 0, 1, 69999]]),
         ([3, 17000], [["transpose", 0, 1]]), ([2, 40000], [])]
LARGE_OPS = ["sum", "mean", "prod", "norm", "norm", "var", "std", "sum_dim", "norm_dim", "softmax", "log_softmax"]


def values(t):
    """base64 of the values; past BIG elements their CRC-32 instead (a small fixture)."""
    data = t.detach().contiguous().reshape(-1).numpy().tobytes()
    if t.numel() > BIG:
        return {"crc32": zlib.crc32(data)}
    return base64.b64encode(data).decode()


def layouts(r, shape):
    n = len(shape)
    out = [[]]
    if n >= 2:
        out += [[["transpose", 0, n - 1]], [["transpose", 0, 1]], [["permute", list(reversed(range(n)))]]]
    out += [[["unsqueeze", 0], ["expand", [3] + shape]], [["unsqueeze", n], ["expand", shape + [2]]]]
    d = r.randrange(n)
    if shape[d] > 2:
        out += [[["narrow", d, 1, shape[d] - 2]]]
    out += [[["unsqueeze", r.randrange(n + 1)]]]
    return out


def apply(t, layout):
    for op in layout:
        if op[0] == "transpose":
            t = t.transpose(op[1], op[2])
        elif op[0] == "permute":
            t = t.permute(*op[1])
        elif op[0] == "unsqueeze":
            t = t.unsqueeze(op[1])
        elif op[0] == "expand":
            t = t.expand(*op[1])
        elif op[0] == "narrow":
            t = t.narrow(op[1], op[2], op[3])
    return t


def run(t, f, dim, keepdim, p):
    if f in ("sum", "mean", "prod", "var", "std"):
        return getattr(t, f)() if dim is None else getattr(t, f)(dim, keepdim=keepdim)
    if f == "norm":
        return t.norm(p=p) if dim is None else t.norm(p=p, dim=dim, keepdim=keepdim)
    if f in ("softmax", "log_softmax", "cumsum"):
        return getattr(t, f)(dim)
    if f == "sigmoid":
        return t.sigmoid()
    if f == "mul":
        return t * t
    if f == "mm":
        m = t.reshape(t.shape[0], -1)
        return m.t() @ m
    raise ValueError(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=SEED, help="another seed: fresh cases for LAYOUTS_FIXTURE=...")
    master = ap.parse_args().seed
    torch.set_num_threads(THREADS)
    r = random.Random(master)
    cases = []
    for shape in SHAPES:
        for layout in layouts(r, shape):
            for dtype in ["float32", "float64"]:
                for _ in range(4):
                    seed = r.randrange(10000)
                    scale = r.choice([100.0, 0.01, 1000.0]) if r.random() < 0.3 else None
                    torch.manual_seed(seed)
                    base = torch.randn(*shape, dtype=getattr(torch, dtype))
                    if scale is not None:
                        base = base * scale
                    base.requires_grad_()
                    t = apply(base, layout)
                    f = r.choice(OPS)
                    dim = None if r.random() < 0.4 and f not in ("softmax", "log_softmax", "cumsum") \
                        else r.randrange(t.dim())
                    keepdim = r.random() < 0.3
                    p = r.choice([2.0, 2.0, 1.0, 3.0, float("inf"), 0.0]) if f == "norm" else None
                    out = run(t, f, dim, keepdim, p)
                    (out * 1.0).sum().backward()
                    cases.append({"seed": seed, "shape": shape, "dtype": dtype, "scale": scale, "layout": layout,
                                  "op": f, "dim": dim, "keepdim": keepdim, "p": None if p is None else repr(p),
                                  "out": values(out), "out_shape": list(out.shape),
                                  "grad": None if base.grad is None else values(base.grad)})
    for shape, layout in LARGE:
        for dtype in ["float32", "float64"]:
            for f in LARGE_OPS:
                seed = r.randrange(10000)
                torch.manual_seed(seed)
                base = torch.randn(*shape, dtype=getattr(torch, dtype))
                # a product of many values stays finite near 1
                scale = 0.01 if f == "prod" else None
                if scale is not None:
                    base = 1 + base * scale
                base.requires_grad_()
                t = apply(base, layout)
                dim = r.randrange(t.dim()) if f in ("sum_dim", "norm_dim", "softmax", "log_softmax") else None
                p = r.choice([2.0, 1.0, 3.0]) if f.startswith("norm") else None
                op = {"sum_dim": "sum", "norm_dim": "norm"}.get(f, f)
                out = run(t, op, dim, False, p)
                (out * 1.0).sum().backward()
                cases.append({"seed": seed, "shape": shape, "dtype": dtype, "scale": scale, "near_one": scale is not None,
                              "layout": layout, "op": op, "dim": dim, "keepdim": False,
                              "p": None if p is None else repr(p), "out": values(out), "out_shape": list(out.shape),
                              "grad": values(base.grad)})
    json.dump({"torch": torch.__version__, "threads": THREADS, "seed": master,
               "command": "python tools/layouts/record.py > autograd-core/tests/fixtures/layouts.json",
               "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
