"""Records autograd-core/tests/fixtures/gemm_order.json: torch's bits for matrix products
(and dots) that exercise every summation order in autograd-core/src/ops/gemm_order.rs (blocked cuts
R1/R2 for float32 and float64, the small-batch `x @ w.t()` kernels, the one-row and
one-column kernels, 1x1 dots, products with one term and signed zeros, `dot` long and short).

A dev-time tool (needs torch; not part of ./test.sh):

    /path/to/torch-venv/bin/python tools/gemm_order/record_fixture.py [--kernels avx2]

MKL picks its kernels by the CPU. Run plainly on an Intel processor with AVX-512, it records
`gemm_order.json` (the orders of `MklKernels::Avx512`); with `--kernels avx2`, on an AMD
processor, it records `gemm_order_avx2.json`: float32 products in the parts of MKL's AVX2
kernels that autograd-core follows (`MklKernels::Avx2`: the blocked kernel, and the small
kernels' chains of rounded products), on one thread and on two. Each refuses another CPU.

The inputs come from a generator the Rust test repeats (splitmix64, see `values` below), so
the fixture holds only each product's shape, layout and a 64-bit FNV-1a hash of its output
bytes (row-major, little-endian), plus its first elements for a readable failure.
torch runs with one thread: MKL's order with several threads can split long sums between
threads (measured: 2 threads, K >= 800 with small M or N), which we do not follow.
"""
import json
import platform
import sys
from pathlib import Path

import torch

MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


ZEROS = [-1.0, -0.5, -0.0, 0.0, 0.0, 0.5, 1.0]


def values(seed, count, dtype, dist):
    """`count` values: 'uniform' in [-1, 1) on a 2^-23 (float32) or 2^-52 (float64) grid;
    'zeros' from ZEROS (many signed zeros)."""
    state = seed
    out = []
    for _ in range(count):
        state, z = splitmix64(state)
        if dist == "zeros":
            out.append(ZEROS[z % len(ZEROS)])
        elif dtype == "float32":
            out.append(((z >> 40) - (1 << 23)) / float(1 << 23))
        else:
            out.append(((z >> 11) - (1 << 52)) / float(1 << 52))
    return out


def fnv1a(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


# (m, k, n, layout, dist), each in float32 and float64: layout "none" (a @ b), "bt" (a @ w.t()), "at"
# (w.t() @ b), "both"
CASES = [
    (64, 300, 64, "none", "uniform"),
    (64, 600, 48, "none", "uniform"),
    (40, 1000, 30, "none", "uniform"),
    (200, 1000, 200, "none", "uniform"),
    (192, 769, 192, "none", "uniform"),
    (191, 769, 192, "none", "uniform"),
    (256, 512, 256, "none", "uniform"),
    (3, 50, 7, "none", "uniform"),
    (2, 900, 5, "none", "uniform"),
    (8, 300, 20, "bt", "uniform"),
    (4, 50, 3, "bt", "uniform"),
    (9, 70, 2, "bt", "uniform"),
    (5, 20, 30, "bt", "uniform"),
    (64, 785, 128, "bt", "uniform"),
    (64, 900, 256, "bt", "uniform"),
    (3, 100, 9, "bt", "uniform"),
    (5, 6, 7, "bt", "uniform"),
    (16, 1000, 50, "bt", "uniform"),
    (300, 64, 200, "at", "uniform"),
    (70, 500, 33, "at", "uniform"),
    (20, 400, 30, "both", "uniform"),
    (8, 900, 200, "both", "uniform"),
    (37, 100, 1, "none", "uniform"),
    (38, 45, 1, "none", "uniform"),
    (39, 17, 1, "none", "uniform"),
    (40, 33, 1, "bt", "uniform"),
    (50, 70, 1, "at", "uniform"),
    (1, 100, 40, "none", "uniform"),
    (1, 77, 20, "bt", "uniform"),
    (1, 30, 10, "at", "uniform"),
    (1, 50, 1, "none", "uniform"),
    (1, 50, 1, "bt", "uniform"),
    (1, 50, 1, "at", "uniform"),
    (5, 1, 7, "none", "zeros"),
    (1, 1, 6, "none", "zeros"),
    (6, 1, 1, "bt", "zeros"),
    (9, 40, 1, "none", "zeros"),
    (1, 40, 33, "none", "zeros"),
    (10, 50, 12, "none", "zeros"),
    (12, 300, 3, "bt", "zeros"),
    (20, 30, 1, "bt", "zeros"),
]

# torch.dot of two k-vectors (stored as a 1 x k and a k x 1 matrix), float32 and float64:
# every accumulator count (1, 2, 4) with whole vectors and tails; then dots shorter than a
# vector (rounded products added, from lanes of +0), with signed zeros too
DOTS = [(k, "uniform") for k in (16, 24, 33, 48, 70, 100, 131, 300, 1000)] + [
    (k, "uniform") for k in range(2, 16) for _ in range(3)
] + [(k, "zeros") for k in (1, 3, 6, 12)]


# Products with one column on torch's two threads, where MKL's matrix-vector kernels may split
# the sums: on both sides of each bound in gemm_order.rs's `two_thread_split`. A transposed
# (`x.t() @ v`): halves of K (k 256 float32 / (m + 64) k 17600 float64, the 41-69 rows band
# below k = 1000, 1001 rows); A row-major: rows (m k 8192, m (k + 288) 41700; float32) or,
# for long rows, halves; and products with one output row (columns for rows)
TWO_THREADS = [(m, k, 1, "at", "uniform") for m, k in (
    (8, 255), (8, 256), (3, 262), (3, 263), (50, 999), (50, 1000), (40, 300), (41, 300),
    (69, 300), (70, 300), (1001, 300), (1002, 300), (200, 1200), (1, 600))] + [
    (m, k, 1, "none", "uniform") for m, k in (
        (1021, 8), (1025, 8), (106, 96), (109, 96), (51, 512), (53, 512), (9, 4096), (10, 4096),
        (421, 99))] + [
    # one output row: the same bounds with n for m (b row-major: halves; b transposed: columns)
    (1, k, n, layout, "uniform") for k, n, layout in (
        (255, 8, "none"), (256, 8, "none"), (244, 8, "at"), (245, 8, "at"), (999, 56, "none"),
        (1000, 56, "none"), (96, 106, "bt"), (96, 109, "bt"), (563, 49, "both"), (563, 50, "both"))] + [
    # A row-major with few long rows: halves of K (float32 k 20000 for m <= 200 with
    # m (k + 288) 41700; float64 k 10000 for m <= 100, one row k 17536), and one output row
    # of the same kernels
    (m, k, 1, "none", "uniform") for m, k in (
        (3, 19999), (3, 20000), (200, 20000), (201, 20000), (2, 20561), (2, 20562), (1, 41411), (1, 41412),
        (2, 9999), (2, 10000), (100, 10000), (101, 10000), (1, 17535), (1, 17536))] + [
    (1, 30000, 5, "bt", "uniform")]


# MKL's AVX2 kernels (float32): the blocked kernel (m >= 4, n >= 12; every layout; up to 384
# one block or two halves, beyond blocks of 192 and the remainder last; the same on two
# threads) on both sides of its bounds and cuts, and the small kernels' chains of rounded
# products (m or n small, b not a transposed row-major matrix), with signed zeros and
# one-term products
AVX2_CASES = [
    (4, 50, 12, "none", "uniform"), (4, 50, 12, "bt", "uniform"), (4, 50, 12, "at", "uniform"),
    (4, 50, 12, "both", "uniform"), (64, 300, 64, "none", "uniform"), (40, 1000, 30, "none", "uniform"),
    (200, 1000, 200, "none", "uniform"), (17, 513, 33, "none", "uniform"), (33, 191, 65, "bt", "uniform"),
    (33, 192, 65, "bt", "uniform"), (33, 193, 65, "at", "uniform"), (64, 785, 128, "bt", "uniform"),
    (300, 64, 200, "at", "uniform"), (20, 400, 30, "both", "uniform"), (8, 900, 200, "both", "uniform"),
    (100, 384, 13, "none", "uniform"), (5, 2, 12, "at", "uniform"),
    (12, 383, 12, "none", "uniform"), (20, 257, 40, "bt", "uniform"), (7, 384, 13, "at", "uniform"),
    (3, 5, 17, "none", "uniform"), (2, 300, 64, "none", "uniform"), (3, 300, 64, "at", "uniform"),
    (3, 300, 12, "none", "uniform"), (30, 100, 3, "none", "uniform"), (100, 50, 8, "at", "uniform"),
    (8, 40, 8, "none", "uniform"), (8, 40, 8, "both", "uniform"), (3, 17, 5, "both", "uniform"),
    (2, 2, 2, "none", "uniform"), (64, 1000, 2, "at", "uniform"), (2, 1000, 100, "both", "uniform"),
    (10, 50, 12, "none", "zeros"), (9, 40, 3, "none", "zeros"), (3, 30, 20, "at", "zeros"),
    (5, 1, 13, "none", "zeros"), (3, 1, 3, "none", "zeros"), (6, 1, 16, "bt", "zeros"),
]
AVX2_TWO_THREADS = [
    (64, 1000, 64, "none", "uniform"), (256, 1600, 256, "at", "uniform"), (16, 2000, 16, "bt", "uniform"),
    (100, 800, 50, "none", "uniform"), (59, 1008, 396, "none", "uniform"), (512, 512, 512, "both", "uniform"),
    (3, 2000, 40, "none", "uniform"), (50, 1500, 3, "at", "uniform"),
]


def product(seed, m, k, n, layout, dtype, dist, threads):
    """One fixture entry: torch's `a @ b` on `threads` threads."""
    torch.set_num_threads(threads)
    tdt = getattr(torch, dtype)
    ta, tb = layout in ("at", "both"), layout in ("bt", "both")
    a_shape = (k, m) if ta else (m, k)
    b_shape = (n, k) if tb else (k, n)
    a = torch.tensor(values(seed, m * k, dtype, dist), dtype=tdt).reshape(a_shape)
    b = torch.tensor(values(seed ^ 0x5555, k * n, dtype, dist), dtype=tdt).reshape(b_shape)
    c = (a.t() if ta else a) @ (b.t() if tb else b)
    data = c.contiguous().numpy().tobytes()
    return {
        "m": m, "k": k, "n": n, "layout": layout, "dtype": dtype, "dist": dist, "seed": seed,
        "threads": threads, "fnv1a": f"{fnv1a(data):016x}",
        "head": [repr(v) for v in c.flatten()[:4].tolist()],
    }


def main():
    if sys.argv[1:] == ["--kernels", "avx2"]:
        return main_avx2()
    if sys.argv[1:]:
        raise SystemExit("usage: record_fixture.py [--kernels avx2]")
    if "avx512f" not in cpu_flags() or "GenuineIntel" not in cpu_field("vendor_id"):
        raise SystemExit("record_fixture.py: gemm_order.json is recorded on an Intel CPU with AVX-512")
    out = []
    seed = 1
    for m, k, n, layout, dist in CASES:
        for dtype in ("float32", "float64"):
            seed += 1
            out.append(product(seed, m, k, n, layout, dtype, dist, 1))
    torch.set_num_threads(1)
    for k, dist in DOTS:
        for dtype in ("float32", "float64"):
            seed += 1
            tdt = getattr(torch, dtype)
            a = torch.tensor(values(seed, k, dtype, dist), dtype=tdt)
            b = torch.tensor(values(seed ^ 0x5555, k, dtype, dist), dtype=tdt)
            c = torch.dot(a, b).reshape(1)
            out.append({
                "fn": "dot", "m": 1, "k": k, "n": 1, "layout": "none", "dtype": dtype, "dist": dist,
                "seed": seed, "fnv1a": f"{fnv1a(c.numpy().tobytes()):016x}", "head": [repr(v) for v in c.tolist()],
            })
    for m, k, n, layout, dist in TWO_THREADS:
        for dtype in ("float32", "float64"):
            seed += 1
            out.append(product(seed, m, k, n, layout, dtype, dist, 2))
    write_fixture("gemm_order.json", "", out)


def main_avx2():
    if "AuthenticAMD" not in cpu_field("vendor_id"):
        raise SystemExit("record_fixture.py --kernels avx2: measured on AMD processors only")
    out = []
    seed = 5000
    for cases, threads in ((AVX2_CASES, 1), (AVX2_TWO_THREADS, 2)):
        for m, k, n, layout, dist in cases:
            seed += 1
            out.append(product(seed, m, k, n, layout, "float32", dist, threads))
    write_fixture("gemm_order_avx2.json", " --kernels avx2", out)


def write_fixture(name, options, out):
    """autograd-core/tests/fixtures/<name>: the cases and where they were recorded."""
    doc = {
        "source": "tools/gemm_order/record_fixture.py%s, torch %s, 1 thread (2 where a case says so), %s (%s)" % (
            options, torch.__version__, platform.processor() or platform.machine(), cpu_name()),
        "cases": out,
    }
    path = Path(__file__).resolve().parents[2] / "autograd-core/tests/fixtures" / name
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(out)} products -> {path}", file=sys.stderr)


def cpu_field(key):
    try:
        for line in open("/proc/cpuinfo"):
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return ""


def cpu_flags():
    return cpu_field("flags").split()


def cpu_name():
    if not cpu_field("model name"):
        return "unknown CPU"
    return "%s, family %s model %s" % (cpu_field("model name"), cpu_field("cpu family"), cpu_field("model"))


if __name__ == "__main__":
    main()
