"""Which operations torch.dot's kernel (oneMKL's dot) uses for the terms it adds one at a time:
a fused multiply-add onto the lane, or the product rounded first and then added.

The tree of the dot (which terms meet where) comes from the FPRev probes (README.md); the
probes cannot tell an fma from a rounded product added. Here both typings of that tree are
evaluated exactly (typed.py) on random dots and compared with torch's result, per K.

    /path/to/torch-venv/bin/python tools/gemm_order/dot_typing.py f32|f64

Prints, per K, how many of 400 dots each typing matches bit for bit.
"""
import sys

import numpy as np
import torch

from typed import A, F, evaluate, evaluate64


def dot_tree(k, lanes, rounded, float32):
    """torch.dot's tree over k terms (autograd-core's `torch_dot`), the terms after a lane's
    first one added by fma, or (`rounded`) as rounded products."""
    step = A if rounded else F
    if float32 and k < 4:
        tree = None
        for p in range(k):
            tree = step(tree, p)
        return tree
    width = lanes
    while width > k and width > 1:
        width //= 2
    count = 4 if k >= 4 * width else 2 if k >= 2 * width else 1
    acc = [[None] * width for _ in range(count)]
    pos = 0
    for group in (4, 2, 1):
        if group > count:
            continue
        while k - pos >= group * width:
            for v in range(group):
                for lane in range(width):
                    acc[v][lane] = F(acc[v][lane], pos + v * width + lane)
            pos += group * width
    for lane in range(k - pos):
        acc[0][lane] = step(acc[0][lane], pos + lane)

    def add(p, q):
        return [A(x, y) for x, y in zip(p, q)]

    c = acc[0] if count == 1 else add(acc[0], acc[1]) if count == 2 else add(
        add(acc[0], acc[1]), add(acc[2], acc[3]))
    while len(c) > (4 if float32 else 1):
        half = len(c) // 2
        c = [A(c[i], c[i + half]) for i in range(half)]
    if len(c) == 4:
        return A(A(c[0], c[1]), A(c[2], c[3]))
    return c[0]


def main():
    torch.set_num_threads(1)
    float32 = sys.argv[1] == "f32"
    lanes = 16 if float32 else 8
    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(5)
    trials = 400
    for k in list(range(2, 17)) + [17, 19, 23, 31, 33, 37, 47, 63, 65, 71]:
        x = rng.standard_normal((trials, k)).astype(dtype)
        y = rng.standard_normal((trials, k)).astype(dtype)
        want = np.array([torch.dot(torch.from_numpy(x[t]), torch.from_numpy(y[t])).item()
                         for t in range(trials)])
        matched = {}
        for rounded in (False, True):
            tree = dot_tree(k, lanes, rounded, float32)
            if float32:
                products = [x[:, p].astype(np.float64) * y[:, p].astype(np.float64) for p in range(k)]
                got = evaluate(tree, products).astype(np.float64)
            else:
                got = evaluate64(tree, x.T, y.T)
            matched["rounded products" if rounded else "fma"] = int((got == want).sum())
        print(k, matched, flush=True)


if __name__ == "__main__":
    main()
