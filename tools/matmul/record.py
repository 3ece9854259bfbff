"""Records torch's `matmul` (`@`) on inputs of 1 to 4 dims, bit for bit with its graph, for
autograd-core/tests/matmul.rs.

    /work/torch-venv/bin/python tools/matmul/record.py > autograd-core/tests/fixtures/matmul.json

torch's `matmul` is not one op: by the ranks, the strides and which input requires grad it
runs `dot`, `mv`, `mm` (folding the batch dims of the larger input into its rows, transposed
when the right side is the larger), or `bmm` of both inputs expanded to their broadcast batch
shape, and wraps the result in `_unsafe_view`. The graph a teacher prints
(`grad_fn`, `next_functions`) and the last bits follow that choice. Each case: two seeded
`torch.randn` inputs (the left one sometimes transposed), which of them requires grad, the
result's bits and shape, every node of its graph (depth first, as `name` lines), and both
inputs' gradients of `(out * 1.0).sum()`, and again of `out.sum()` (whose gradient reaches the
product expanded, stride 0: torch's `mv` then sums in its own loop, not MKL's); or torch's error. Recorded on 2 threads of an Intel
Xeon with AVX-512 (the test selects MKL's AVX-512 kernel set). `bmm_layouts`: `torch.bmm` of
operands in three layouts (BMM_LAYOUTS), with signed zeros. Values: base64 of
little-endian floats (tests/fixture_bits), or past 1024 elements their CRC-32.
"""
import base64
import json
import random
import sys
import zlib

import torch

SEED = 1207
THREADS = 2
SHAPES = [
    ([3], [3]), ([2, 3], [3]), ([3], [3, 4]), ([2, 3], [3, 4]),
    ([2, 3, 4], [4]), ([2, 3, 4], [4, 5]), ([4], [2, 4, 5]), ([3, 4], [2, 4, 5]),
    ([2, 3, 4], [2, 4, 5]), ([1, 3, 4], [2, 4, 5]), ([2, 3, 4], [1, 4, 5]), ([2, 1, 3, 4], [5, 4, 2]),
    ([2, 2, 3, 4], [2, 2, 4, 5]), ([5, 3, 4], [4, 6]), ([3, 9, 17], [17, 5]), ([6, 9, 17], [17]),
    ([2, 3, 4], [3, 4, 5]), ([2, 3, 4], [2, 5, 6]), ([2, 3, 4], [5, 6]), ([3, 4], [5]), ([0, 3, 4], [4, 5]),
    # past bmm's small-product loop (k * n * m >= 400): a product per batch
    ([4, 30, 40], [4, 40, 50]), ([3, 9, 17], [3, 17, 5]), ([2, 64, 33], [33, 70]), ([5, 7, 20], [1, 20, 9]),
    ([40], [3, 40, 12]), ([16, 24], [2, 24, 30]),
    # mv with longer rows, where the order of a row's sum shows
    ([100, 100], [100]), ([37, 300], [300]), ([300], [300, 37]), ([5, 70, 30], [30]),
]


BIG = 1024


def values(t):
    """base64 of the values; past BIG elements their CRC-32 instead (a small fixture)."""
    data = t.detach().contiguous().reshape(-1).numpy().tobytes()
    if t.numel() > BIG:
        return {"crc32": zlib.crc32(data)}
    return base64.b64encode(data).decode()


def graph(fn, out, seen):
    if fn is None:
        return
    out.append(fn.name())
    if id(fn) in seen:
        return
    seen.add(id(fn))
    for child, _ in fn.next_functions:
        graph(child, out, seen)


# bmm's operands in three layouts: "contiguous"; "transposed" (each matrix column-major: stored
# [batch, cols, rows], then transpose(1, 2)); "batch_last" (stored [rows, cols, batch], then
# permute(2, 0, 1): neither way round, which torch multiplies batch by batch with addmm instead
# of its batched gemm). Signed zeros from a mask (x * (mask > 0)), so that a one-term sum
# shows whether it is the product itself or the product added to +0.
BMM_SHAPES = [(2, 100, 1, 17), (2, 20, 1, 20), (3, 30, 1, 30), (2, 40, 30, 1), (2, 64, 33, 5), (2, 3, 1, 5)]
BMM_LAYOUTS = [("contiguous", "contiguous"), ("contiguous", "batch_last"), ("batch_last", "contiguous"),
               ("transposed", "batch_last"), ("transposed", "transposed")]


def bmm_operand(batch, rows, cols, layout, dt):
    stored = {"contiguous": (batch, rows, cols), "transposed": (batch, cols, rows),
              "batch_last": (rows, cols, batch)}[layout]
    x = torch.randn(*stored, dtype=dt)
    x = x * (torch.randn(*stored, dtype=dt) > 0)
    return {"contiguous": x, "transposed": x.transpose(1, 2), "batch_last": x.permute(2, 0, 1)}[layout]


def bmm_cases(r):
    cases = []
    for b, m, k, n in BMM_SHAPES:
        for la, lb in BMM_LAYOUTS:
            for dtype in ["float32", "float64"]:
                seed = r.randrange(10000)
                torch.manual_seed(seed)
                dt = getattr(torch, dtype)
                x = bmm_operand(b, m, k, la, dt)
                y = bmm_operand(b, k, n, lb, dt)
                cases.append({"seed": seed, "shape": [b, m, k, n], "layouts": [la, lb], "dtype": dtype,
                              "out": values(torch.bmm(x, y))})
    return cases


def main():
    torch.set_num_threads(THREADS)
    r = random.Random(SEED)
    cases = []
    for sa, sb in SHAPES:
        for dtype in ["float32", "float64"]:
            for rg in [(True, False), (False, True), (True, True)]:
                for transposed in ([False, True] if len(sa) >= 2 else [False]):
                    seed = r.randrange(10000)
                    torch.manual_seed(seed)
                    dt = getattr(torch, dtype)
                    shape_a = list(sa)
                    if transposed:
                        shape_a[-1], shape_a[-2] = shape_a[-2], shape_a[-1]
                    a = torch.randn(*shape_a, dtype=dt)
                    b = torch.randn(*sb, dtype=dt)
                    a.requires_grad_(rg[0])
                    b.requires_grad_(rg[1])
                    x = a.transpose(-2, -1) if transposed else a
                    case = {"seed": seed, "a": shape_a, "b": list(sb), "transposed": transposed, "dtype": dtype,
                            "requires_grad": list(rg)}
                    try:
                        out = x @ b
                    except RuntimeError as e:
                        case["error"] = f"{type(e).__name__}: {e}"
                        cases.append(case)
                        continue
                    names = []
                    graph(out.grad_fn, names, set())
                    (out * 1.0).sum().backward()
                    case.update({"out": values(out), "out_shape": list(out.shape), "graph": names,
                                 "grad_a": None if a.grad is None else values(a.grad),
                                 "grad_b": None if b.grad is None else values(b.grad)})
                    a.grad, b.grad = None, None
                    (x @ b).sum().backward()
                    case.update({"grad_a_sum": None if a.grad is None else values(a.grad),
                                 "grad_b_sum": None if b.grad is None else values(b.grad)})
                    cases.append(case)
    json.dump({"torch": torch.__version__, "threads": THREADS, "seed": SEED,
               "command": "python tools/matmul/record.py > autograd-core/tests/fixtures/matmul.json",
               "cases": cases, "bmm_layouts": bmm_cases(r)}, sys.stdout)


if __name__ == "__main__":
    main()
