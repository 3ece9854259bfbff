"""Compares MKL's VML from PyPI's `mkl` package with torch's own tensor ops, bit for bit: every
one of the 2^32 float32 inputs and 16 million float64 inputs of every magnitude, for exp,
log, sin, cos, tanh and sqrt (what autograd-core/src/ops/mkl_vml.rs relies on).

    /work/torch-venv/bin/python tools/mkl_vml/compare.py ~/.cache/autograd-kernel/mkl/lib/libmkl_rt.so.2 [op ...]

Prints, per op, how many results differ (NaNs of any payload count as equal). About two
minutes an op on one of our machines.
"""
import ctypes
import sys
import time

import numpy as np
import torch

# torch's mode for every VML call (aten/src/ATen/cpu/vml.h): VML_HA | VML_FTZDAZ_OFF | VML_ERRMODE_IGNORE
MODE = 0x2 | 0x140000 | 0x100
NAMES = {"exp": "Exp", "log": "Ln", "sin": "Sin", "cos": "Cos", "tanh": "Tanh", "sqrt": "Sqrt"}


def vml(lib, name):
    f = getattr(lib, name)
    f.restype = None
    f.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    return f


def differ(a, b, unsigned):
    return int(((a.view(unsigned) != b.view(unsigned)) & ~(np.isnan(a) & np.isnan(b))).sum())


def main():
    lib = ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)
    lib.MKL_Set_Threading_Layer(1)  # sequential, as autograd-core loads it
    torch.set_num_threads(1)
    chunk = 1 << 26
    for op in sys.argv[2:] or list(NAMES):
        single, double, ours = vml(lib, "vms" + NAMES[op]), vml(lib, "vmd" + NAMES[op]), getattr(torch, op)
        start, bad = time.time(), 0
        for c in range((1 << 32) // chunk):
            x = np.arange(c * chunk, (c + 1) * chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
            out = np.empty_like(x)
            single(chunk, x.ctypes.data, out.ctypes.data, MODE)
            bad += differ(out, ours(torch.from_numpy(x)).numpy(), np.uint32)
        print(f"{op} float32, all 2^32 inputs: {bad} differ ({time.time() - start:.0f} s)", flush=True)
        rng = np.random.default_rng(1)
        n = 1 << 22
        x = np.concatenate([
            rng.uniform(-30, 30, n),
            rng.standard_normal(n),
            np.exp(rng.uniform(-700, 700, n)) * rng.choice([-1, 1], n),
            rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64),  # any bit pattern
        ])
        out = np.empty_like(x)
        double(len(x), x.ctypes.data, out.ctypes.data, MODE)
        print(f"{op} float64, {len(x)} inputs: {differ(out, ours(torch.from_numpy(x)).numpy(), np.uint64)} differ", flush=True)


if __name__ == "__main__":
    main()
