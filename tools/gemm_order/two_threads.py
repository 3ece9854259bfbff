"""What torch's second thread changes in a product's sums (torch 2.15, oneMKL, this CPU).

For a product with one output column, two candidate two-thread orders are compared with
torch's own two-thread result, using torch's one-thread products of the parts:

- `halves`: K cut at ceil(K/2), each half summed on its own (the one-thread order of the
  half), the second half's sums added to the first's (`x.t() @ v`, A column-major);
- `rows`: the rows cut at ceil(M/2), each part a product of its own (`A @ v`, A row-major).

Each probe prints `1` (torch's two-thread result equals its one-thread result and not the
split one), `2` (the split one and not the one-thread one), `=` (both: the split changes no
bit there) or `?` (neither). Several seeds are tried until one decides.

    /path/to/torch-venv/bin/python tools/gemm_order/two_threads.py halves|rows|row-halves|row-cols

(`row-halves`, `row-cols`: the same two splits for a product with one output row, x @ w.)

Each mode checks points on both sides of the bounds autograd-core follows (`two_thread_split`
in src/ops/gemm_order.rs; README.md says how the row bound was narrowed).
"""
import sys

import torch


def verdict(product, split):
    """`product()` on torch's two threads against its one-thread result and `split()` (one
    thread, the parts)."""
    torch.set_num_threads(2)
    two = product()
    torch.set_num_threads(1)
    same_one, same_split = torch.equal(two, product()), torch.equal(two, split())
    return {(True, False): "1", (False, True): "2", (True, True): "="}.get((same_one, same_split), "?")


def state(kind, m, k, dtype, seed):
    """One probe of `kind` at m x k (for the one-row kinds, m is the output's length n)."""
    g = torch.Generator().manual_seed(seed * 1000003 + m * 7919 + k)
    if kind.startswith("row-"):
        # one output row, x @ w with w (k x n) row-major or stored transposed: its transpose
        # w.t() @ x.t() is the one-column case
        n = m
        x = torch.rand(1, k, generator=g, dtype=dtype) - 0.5
        if kind == "row-halves":
            w = torch.rand(k, n, generator=g, dtype=dtype) - 0.5
            k0 = (k + 1) // 2
            return verdict(lambda: x @ w, lambda: x[:, :k0] @ w[:k0] + x[:, k0:] @ w[k0:])
        w = (torch.rand(n, k, generator=g, dtype=dtype) - 0.5).t()
        n0 = (n + 1) // 2
        return verdict(lambda: x @ w, lambda: torch.cat([x @ w[:, :n0], x @ w[:, n0:]], 1))
    if kind == "halves":
        a = (torch.rand(k, m, generator=g, dtype=dtype) - 0.5).t()
    else:
        a = torch.rand(m, k, generator=g, dtype=dtype) - 0.5
    x = torch.rand(k, generator=g, dtype=dtype) - 0.5
    if kind == "halves":
        k0 = (k + 1) // 2
        return verdict(lambda: torch.mv(a, x), lambda: torch.mv(a[:, :k0], x[:k0]) + torch.mv(a[:, k0:], x[k0:]))
    m0 = (m + 1) // 2
    return verdict(lambda: torch.mv(a, x), lambda: torch.cat([torch.mv(a[:m0], x), torch.mv(a[m0:], x)]))


def decided(kind, m, k, dtype):
    for seed in range(4):
        s = state(kind, m, k, dtype, seed)
        if s != "=":
            return s
    return "="


def line(kind, title, dtype, points):
    print(title, " ".join(f"{m}x{k}:{decided(kind, m, k, dtype)}" for m, k in points), flush=True)


def main():
    kind = sys.argv[1]
    f32, f64 = torch.float32, torch.float64
    if kind == "halves":
        # float32: from K = 256 on
        line(kind, "f32 K bound", f32, [(m, k) for m in (1, 8, 100) for k in (254, 255, 256, 257)])
        # float64: from (m + 64) K >= 17600 on (and K >= 128)
        line(kind, "f64 K bound", f64, [(1, 270), (1, 271), (8, 244), (8, 245), (40, 169), (40, 170),
                                        (16, 219), (16, 220), (100, 127), (100, 128), (400, 128)])
        # 41..69 rows: not below K = 1000 (MKL splits the rows: no bit changes)
        for dtype in (f32, f64):
            line(kind, f"{dtype} band", dtype, [(m, 512) for m in (40, 41, 69, 70)]
                 + [(56, k) for k in (999, 1000)])
            # at most 1001 rows
            line(kind, f"{dtype} rows bound", dtype, [(m, 512) for m in (1000, 1001, 1002, 1100)])
    elif kind == "row-halves":
        # x @ w, w row-major: as `halves` with N (here the first number) for M
        line(kind, "f32", f32, [(8, 255), (8, 256), (40, 512), (41, 512), (69, 512), (70, 512),
                                (56, 999), (56, 1000), (1001, 512), (1002, 512)])
        line(kind, "f64", f64, [(1, 270), (1, 271), (8, 244), (8, 245), (100, 127), (100, 128)])
    elif kind == "row-cols":
        # x @ w.t(): as `rows` with N for M
        line(kind, "f32", f32, [(1021, 8), (1025, 8), (106, 96), (109, 96), (49, 563), (50, 563),
                                (9, 4096), (10, 4096)])
    else:
        # float32 `A @ v`: the rows split from M K >= 8192 and M (K + 288) >= 41700 on (a
        # split changes no bit where ceil(M/2) is a multiple of 4, so those M are skipped)
        for k, ms in [(8, (1021, 1025)), (64, (126, 129)), (96, (106, 109)), (102, (106, 107)),
                      (170, (90, 91, 92)), (256, (76, 77)), (563, (49, 50)), (4096, (9, 10))]:
            line(kind, f"f32 K={k}", f32, [(m, k) for m in ms])


if __name__ == "__main__":
    main()
