"""Records torch's `rand` / `randn` of big tensors (past the sizes of `rng.json`, where the
vectorized Box-Muller and the thread split of the kernels matter), as a 64-bit FNV-1a hash of
the values' little-endian bytes plus the first and last values' bits:
`tests/rng_big.rs` draws the same and compares.

    /work/torch-venv/bin/python tools/rng_big/record.py > autograd-core/tests/fixtures/rng_big.json
"""
import json
import sys

import numpy as np
import torch


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    cases = []
    for fn in ["randn", "rand"]:
        for dtype in [torch.float32, torch.float64]:
            for seed, shape in [(0, [1000, 1000]), (3, [70001]), (11, [257, 129])]:
                torch.manual_seed(seed)
                t = getattr(torch, fn)(*shape, dtype=dtype).contiguous().numpy()
                flat = t.reshape(-1)
                bits = flat.view(np.uint32 if dtype == torch.float32 else np.uint64)
                cases.append({
                    "fn": fn, "dtype": str(dtype).replace("torch.", ""), "seed": seed, "shape": shape,
                    "fnv1a64": fnv1a64(flat.tobytes()), "first": f"{int(bits[0]):x}", "last": f"{int(bits[-1]):x}",
                })
                print(f"{fn} {dtype} {seed} {shape}", file=sys.stderr)
    json.dump({"torch": torch.__version__, "command": "tools/rng_big/record.py", "cases": cases},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
