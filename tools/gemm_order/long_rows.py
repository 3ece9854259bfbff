"""Where torch's matrix-vector products with a row-major A (`A @ v`, `mm` with one output
column, and `x @ w.t()` with one output row) split the shared dimension K between two threads.

    /work/torch-venv/bin/python tools/gemm_order/long_rows.py grid float32
    /work/torch-venv/bin/python tools/gemm_order/long_rows.py k-bound float32 3,4,8,64 8192 24576
    /work/torch-venv/bin/python tools/gemm_order/long_rows.py m-bound float32 20000,40000 128 256
    /work/torch-venv/bin/python tools/gemm_order/long_rows.py one-row float64 15000 19999
    /work/torch-venv/bin/python tools/gemm_order/long_rows.py mm-one-by-one

Each product is classified by comparing torch's result on 2 threads with one-thread products:
"1" the one-thread result, "H" the two halves of K (first ceil(K/2) terms, the rest) each on
one thread and added, "R" the rows cut at ceil(M/2), "?" none of these. `k-bound` and
`m-bound` bisect for the first K (last M) where "H" holds; `one-row` repeats each probe with
10 seeds (one output value can equal the one-thread one by chance). Results are in README.md
("Two threads").
"""
import sys

import torch


def classify(a, v, product=torch.mv):
    torch.set_num_threads(2)
    y2 = product(a, v)
    torch.set_num_threads(1)
    y1 = product(a, v)
    m, k = a.shape
    if torch.equal(y1, y2):
        return "1"
    k0 = (k + 1) // 2
    if torch.equal(product(a[:, :k0], v[:k0]) + product(a[:, k0:], v[k0:].contiguous()), y2):
        return "H"
    m0 = (m + 1) // 2
    if torch.equal(torch.cat([product(a[:m0], v), product(a[m0:], v)]), y2):
        return "R"
    return "?"


def first_true(lo, hi, holds):
    """The least n in (lo, hi] with holds(n), for holds false at lo, true at hi and from its
    first true on (bisection)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
    return hi


def probe(m, k, dtype, seed=0):
    torch.manual_seed(m * 100003 + k + 7919 * seed)
    return classify(torch.randn(m, k, dtype=dtype), torch.randn(k, dtype=dtype))


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "mm-one-by-one":
        # `mm` of one row by one column: halves of K from where?
        for dtype in (torch.float32, torch.float64):
            for k in (128, 255, 256, 270, 271, 300, 1000, 20000):
                seen = set()
                for seed in range(8):
                    torch.manual_seed(k + 31 * seed)
                    a, b = torch.randn(1, k, dtype=dtype), torch.randn(k, 1, dtype=dtype)
                    seen.add(classify(a, b, torch.mm))
                print(dtype, k, "".join(sorted(seen)), flush=True)
        return
    dtype = getattr(torch, args[0])
    if mode == "grid":
        ms = [1, 2, 3, 4, 5, 8, 12, 16, 24, 32, 64, 128]
        print("k\\m " + " ".join(f"{m:>3}" for m in ms))
        for k in (1000, 4096, 8192, 12000, 16384, 20000, 24576, 32768, 50000):
            print(f"{k:>6} " + " ".join(f"{probe(m, k, dtype):>3}" for m in ms), flush=True)
    elif mode == "k-bound":
        for m in map(int, args[1].split(",")):
            k = first_true(int(args[2]), int(args[3]), lambda k: probe(m, k, dtype) == "H")
            print(f"m = {m}: halves from k = {k}", flush=True)
    elif mode == "m-bound":
        for k in map(int, args[1].split(",")):
            # (the first m past the last that halves)
            m = first_true(int(args[2]), int(args[3]), lambda m: probe(m, k, dtype) != "H") - 1
            print(f"k = {k}: halves up to m = {m}", flush=True)
    elif mode == "one-row":
        halves = lambda k: any(probe(1, k, dtype, seed) == "H" for seed in range(10))
        print(f"one row: halves from k = {first_true(int(args[1]), int(args[2]), halves)}", flush=True)


if __name__ == "__main__":
    main()
