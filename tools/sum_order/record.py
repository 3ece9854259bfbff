"""Records torch's float sums, bit for bit, for autograd-core/tests/sum_order.rs.

Random tensors (float32 and float64) of many shapes and three layouts (contiguous, the first
two dims transposed, a size-1 dim expanded), summed over every dim, over pairs of dims and
over everything, plus `mean`. Each tensor is `torch.randn` after
`torch.manual_seed(case number)`, which autograd-core reproduces bit for bit, so only the
results are stored: their exact bit patterns (hex), compared as bits, not printed digits.

    /work/torch-venv/bin/python tools/sum_order/record.py \
        > autograd-core/tests/fixtures/sum_order.json
"""
import itertools
import json
import struct
import sys

import torch

SHAPES = [
    (1,), (5,), (15,), (16,), (17,), (31,), (64,), (65,), (100,), (257,), (1000,), (4099,), (30000,),
    (3, 5), (7, 33), (64, 17), (17, 64), (130, 3), (5, 100), (33, 70), (100, 80),
    (2, 3, 40), (16, 16, 16), (4, 1, 70), (3, 70, 5), (9, 2, 33),
    # past torch's 32768-element grain (split between threads) and rows longer than the
    # cascade's first level
    (200, 300), (70, 1000), (1000, 70), (32, 32, 33),
]


def bits(t):
    fmt = "<f" if t.dtype == torch.float32 else "<d"
    code = "<I" if t.dtype == torch.float32 else "<Q"
    return [format(struct.unpack(code, struct.pack(fmt, v))[0], "x") for v in t.flatten().tolist()]


def main():
    cases = []
    for dtype in (torch.float32, torch.float64):
        for shape in SHAPES:
            for layout in ("contiguous", "transposed", "expanded"):
                if layout == "transposed":
                    if len(shape) < 2:
                        continue
                    base_shape = (shape[1], shape[0]) + shape[2:]
                elif layout == "expanded":
                    if len(shape) < 2:
                        continue
                    base_shape = (1,) + shape[1:]
                else:
                    base_shape = shape
                seed = len(cases)
                torch.manual_seed(seed)
                base = torch.randn(base_shape, dtype=dtype)
                x = base.transpose(0, 1) if layout == "transposed" else base.expand(shape) if layout == "expanded" else base
                assert tuple(x.shape) == shape
                results = []
                reductions = [None] + [(d,) for d in range(len(shape))] + list(itertools.combinations(range(len(shape)), 2))
                if len(shape) == 3:
                    reductions.append((0, 1, 2))
                for dims in reductions:
                    for keepdim in (False,):  # keepdim changes the shape only
                        s = x.sum() if dims is None else x.sum(dims, keepdim)
                        m = x.mean() if dims is None else x.mean(dims, keepdim)
                        results.append({
                            "dims": None if dims is None else list(dims),
                            "keepdim": keepdim,
                            "sum_shape": list(s.shape),
                            "sum": bits(s),
                            "mean": bits(m),
                        })
                cases.append({
                    "seed": seed,
                    "dtype": str(dtype).replace("torch.", ""),
                    "base_shape": list(base_shape),
                    "layout": layout,
                    "shape": list(shape),
                    "results": results,
                })
    json.dump({
        "about": "torch's float sums and means, bit for bit (hex of the IEEE bits), recorded with "
                 f"torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}) by "
                 "`tools/sum_order/record.py`; read by autograd-core/tests/sum_order.rs",
        "cases": cases,
    }, sys.stdout)


if __name__ == "__main__":
    main()
