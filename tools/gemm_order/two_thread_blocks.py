"""Which K blocks torch's blocked matrix product uses on two threads, over a grid of M x N at
one K (boundary probe, `lib.probe_boundaries`, on torch's own products with 2 threads).
Printed per cell: R (the one-thread R1 cuts), W (R2's whole blocks), H (K split in two
halves, each cut by R2: at K = 1600 the cuts are [384, 768, 800, 1184, 1568]); several
letters where those coincide at this K; any other cut list as is, `x` where rows disagreed.
A dev-time tool (needs torch):

    /path/to/torch-venv/bin/python tools/gemm_order/two_thread_blocks.py K none|at|bt|both M,N,...
"""
import sys
import time

import torch

from lib import blocks_from_boundaries, probe_boundaries, probe_visible, rule_blocks, rule_blocks_big


def label(k, boundaries):
    """The names of the candidate block lists the probed boundaries give."""
    k0 = (k + 1) // 2
    candidates = {"R": rule_blocks(k), "W": rule_blocks_big(k),
                  "H": rule_blocks_big(k0) + rule_blocks_big(k - k0)}
    seen = probe_visible(blocks_from_boundaries(k, boundaries))
    found = [name for name, blocks in candidates.items() if probe_visible(blocks) == seen]
    return "".join(found) if found else str(boundaries)


def main():
    torch.set_num_threads(2)
    k = int(sys.argv[1])
    op = None if sys.argv[2] == "none" else sys.argv[2]
    sizes = [int(v) for v in sys.argv[3].split(",")]
    start = time.time()
    print("K", k, sys.argv[2], "rows m \\ cols n", sizes)
    for m in sizes:
        row = []
        for n in sizes:
            boundaries, consistent, _ = probe_boundaries(m, n, k, op=op)
            row.append(label(k, boundaries) if consistent else "x")
        print("%4d " % m + " ".join(row), flush=True)
    print("secs", round(time.time() - start, 1))


if __name__ == "__main__":
    main()
