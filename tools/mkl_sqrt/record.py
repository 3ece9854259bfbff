"""Records torch's `sqrt` bit for bit, for autograd-core/tests/mkl_sqrt.rs (`ops/mkl_sqrt.rs`
reproduces MKL's square root as torch runs it on an Intel processor with AVX-512).

    /work/torch-venv/bin/python tools/mkl_sqrt/record.py > autograd-core/tests/fixtures/mkl_sqrt.json

Run it on such a processor (the script refuses elsewhere: MKL computes other bits there).
For each dtype the fixture holds inputs and torch's results (base64 of little-endian
values): the inputs in [1, 4) where torch's root differs from IEEE's correctly rounded one
(every such float32 in [1, 4) thinned to one in `KEEP`; for float64 the first ones among
seeded random inputs), seeded random inputs of every magnitude, the lowest binades and
subnormals (where MKL scales the input first), the highest binades, and the special values.
"""
import base64
import json
import platform
import sys

import numpy as np
import torch

KEEP = 80
SEED = 2015


def cpu_model():
    info = {}
    for line in open("/proc/cpuinfo"):
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return "%s, family %s model %s" % (info.get("model name"), info.get("cpu family"), info.get("model"))


def flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return line.split()
    return []


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def section(x, note):
    y = torch.from_numpy(x).sqrt().numpy()
    with np.errstate(invalid="ignore"):
        ieee = np.sqrt(x)
        differ = int(((y != ieee) & ~(np.isnan(y) & np.isnan(ieee))).sum())
    return {"dtype": str(x.dtype), "count": len(x), "differ_from_ieee": differ, "note": note,
            "input": b64(x), "torch": b64(y)}


def float32(rng):
    bits = np.arange(0x3F800000, 0x40800000, dtype=np.uint32)
    x = bits.view(np.float32)
    low = np.flatnonzero(torch.from_numpy(x).sqrt().numpy() != np.sqrt(x))[::KEEP]
    parts = [
        x[low],
        rng.integers(0x00800000, 0x7F800000, size=1500, dtype=np.uint32).view(np.float32),
        rng.integers(0, 32 << 23, size=1500, dtype=np.uint32).view(np.float32),
        rng.integers(0x7E000000, 0x7F800000, size=300, dtype=np.uint32).view(np.float32),
        np.array([0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xBF800000, 0x80000001,
                  0x00000001, 0x00800000, 0x7F7FFFFF, 0x01800000, 0x01FFFFFF, 0x02000000, 27 << 23, (27 << 23) - 1],
                 dtype=np.uint32).view(np.float32),
    ]
    return np.concatenate(parts)


def float64(rng):
    x = rng.uniform(1.0, 4.0, size=400_000)
    low = np.flatnonzero(torch.from_numpy(x).sqrt().numpy() != np.sqrt(x))[:1200]
    parts = [
        x[low],
        rng.integers(0x0010000000000000, 0x7FF0000000000000, size=1500, dtype=np.uint64).view(np.float64),
        rng.integers(0, 90 << 52, size=1500, dtype=np.uint64).view(np.float64),
        rng.integers(2040 << 52, 0x7FF0000000000000, size=300, dtype=np.uint64).view(np.float64),
        np.array([0, 1 << 63, 0x7FF0 << 48, 0xFFF0 << 48, 0x7FF8 << 48, 0xBFF0 << 48, (1 << 63) + 1, 1, 2, 3,
                  1 << 52, 0x7FEFFFFFFFFFFFFF, 64 << 52, (64 << 52) - 1, 0x3FE0000000000000],
                 dtype=np.uint64).view(np.float64),
    ]
    return np.concatenate(parts)


def main():
    if "avx512f" not in flags() or "GenuineIntel" not in open("/proc/cpuinfo").read():
        sys.exit("record.py: needs an Intel processor with AVX-512 (MKL's bits differ elsewhere)")
    rng = np.random.default_rng(SEED)
    out = {
        "source": "torch %s `torch.from_numpy(x).sqrt()` on %s (%s); recorded by "
                  "tools/mkl_sqrt/record.py" % (torch.__version__, cpu_model(), platform.machine()),
        "command": "/work/torch-venv/bin/python tools/mkl_sqrt/record.py > autograd-core/tests/fixtures/mkl_sqrt.json",
        "float32": section(float32(rng), "every 80th float32 in [1, 4) whose torch root is not IEEE's, "
                           "1500 random normal, 1500 below 2^-95 (subnormals included), 300 in the top "
                           "binades, specials"),
        "float64": section(float64(rng), "the first 1200 of 400000 random inputs in [1, 4) whose torch root "
                           "is not IEEE's, 1500 random normal, 1500 below 2^-933, 300 in the top binades, "
                           "specials"),
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
