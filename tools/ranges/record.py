"""Records torch's `arange` and `linspace` bit for bit, for autograd-core/tests/ranges.rs
(`factory.rs` computes their values the way torch 2.15's CPU kernels do).

    /work/torch-venv/bin/python tools/ranges/record.py > autograd-core/tests/fixtures/ranges.json

Cases: seeded random float ranges (float32 and float64 `arange` with float steps, and
`linspace` of 2 to 400 points), ranges past torch's parallel grain (32768 elements, recorded
with 2 threads: each thread's part starts its own vector runs), and int64 `arange` with float
arguments (torch truncates start and step but counts with the floats). Arguments are written
as Python's repr (a string: a JSON reader need not round 17 digits correctly; serde_json does
not). Values are base64 of
little-endian floats (int64 as integers), or for ranges of more than 4096 elements the CRC-32
of those bytes.
"""
import base64
import json
import random
import sys
import zlib

import torch

SEED = 1215
THREADS = 2


BIG = 4096


def values(t):
    """base64 of the values; for ranges past BIG elements their CRC-32 instead (a small fixture)."""
    data = t.contiguous().numpy().tobytes()
    if t.numel() > BIG:
        return {"crc32": zlib.crc32(data)}
    return {"values": base64.b64encode(data).decode()}


def main():
    torch.set_num_threads(THREADS)
    rng = random.Random(SEED)
    cases = []

    def arange(start, end, step, dtype):
        t = torch.arange(start, end, step, dtype=dtype)
        cases.append({"fn": "arange", "start": repr(start), "end": repr(end), "step": repr(step), "dtype": str(dtype)[6:],
                      "len": t.numel(), **values(t)})

    def linspace(start, end, steps):
        t = torch.linspace(start, end, steps)
        cases.append({"fn": "linspace", "start": repr(start), "end": repr(end), "steps": steps, "dtype": "float32",
                      "len": t.numel(), **values(t)})

    for dtype in (torch.float32, torch.float64):
        arange(0.1, 7.3, 0.7, dtype)
        arange(0, 1, 0.1, dtype)
        for _ in range(60):
            start = round(rng.uniform(-5, 5), rng.randint(1, 4))
            step = round(rng.uniform(0.01, 1), rng.randint(2, 4)) * rng.choice([1, -1])
            n = rng.randint(1, 300)
            arange(start, start + step * n, step, dtype)
        # past the grain: each of the two threads starts its own runs
        arange(0.1, 0.1 + 0.37 * 70001, 0.37, dtype)
        arange(-2.3, -2.3 + 0.013 * 100003, 0.013, dtype)
    for start, end, step in [(0.5, 2, 0.5), (1, 2.5, 0.3), (0.0, 1.0, 0.25), (-3.7, 4.2, 1.5)]:
        arange(start, end, step, torch.int64)
    for start, end, steps in [(0.0, 1.0, 1), (1.0, 0.0, 1), (0.0, 1.0, 7), (-3.0, 3.0, 100), (3.14159, -2.71828, 100),
                              (1e-3, 7.77, 33), (0.0, 1.0, 1000)]:
        linspace(start, end, steps)
    for _ in range(60):
        linspace(round(rng.uniform(-10, 10), 3), round(rng.uniform(-10, 10), 3), rng.randint(2, 400))
    json.dump({"torch": torch.__version__, "threads": THREADS,
               "command": "python tools/ranges/record.py > autograd-core/tests/fixtures/ranges.json",
               "cases": cases}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
