#!/usr/bin/env python3
"""Writes `autograd-core/tests/fixtures/py_float_repr.json`: CPython's `repr(float)` of a seeded
mix of numbers, for `tests/py_float_repr.rs` (our `py_float_repr` must print the same text).

    python3 tools/py_float_repr/record.py

The mix is what `.item()` and `print` of a Python float meet in the notebooks: float32 values
widened to float64 (what `.item()` of a float32 tensor returns; their exact decimal expansions
are short, so two shortest candidates are often exactly as near, and CPython takes the even
one), float64 values of every magnitude, whole numbers, powers of two and of ten around the
switch to exponent form (1e-4 and 1e16). No torch needed: CPython alone defines the text.
"""
import json
import math
import os
import platform
import random
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "autograd-core", "tests",
                   "fixtures", "py_float_repr.json")


def widened_f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def values(seed):
    rng = random.Random(seed)
    out = []
    for _ in range(3000):  # float32 values, as .item() gives them
        out.append(widened_f32(rng.uniform(-1, 1) * 10 ** rng.uniform(-8, 12)))
    for _ in range(1000):  # float32 bit patterns, any finite one
        bits = rng.getrandbits(32)
        v = struct.unpack("<f", struct.pack("<I", bits))[0]
        if math.isfinite(v):
            out.append(v)
    for _ in range(2000):  # float64 of every magnitude
        out.append(rng.uniform(-1, 1) * 10 ** rng.uniform(-30, 30))
    for _ in range(500):  # float64 bit patterns
        v = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(v):
            out.append(v)
    out += [float(n) for n in range(-20, 21)] + [2.0 ** e for e in range(-60, 70)]
    for e in range(-6, 19):
        for m in (1.0, 1.5, 9.999999):
            out += [m * 10.0 ** e, -m * 10.0 ** e, math.nextafter(m * 10.0 ** e, 0), math.nextafter(m * 10.0 ** e, math.inf)]
    out += [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308, 0.1, 0.2, 0.30000000000000004]
    return out


def main():
    seed = 20261205
    cases = [["%016x" % struct.unpack("<Q", struct.pack("<d", v))[0], repr(v)] for v in values(seed)]
    doc = {
        "made_by": "python3 tools/py_float_repr/record.py",
        "python": platform.python_implementation() + " " + platform.python_version(),
        "seed": seed,
        "cases": cases,
    }
    # one case a line: [IEEE bits in hex, repr]
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"})[:-1]
    lines = ",\n".join(json.dumps(c) for c in cases)
    with open(OUT, "w") as f:
        f.write(head + ', "cases": [\n' + lines + "\n]}\n")
    print(f"{len(cases)} cases -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
