"""Which K blocks torch's blocked matrix product uses on two threads, over a grid of M x N at
one K (boundary probe, `lib.probe_boundaries`, on torch's own products with 2 threads).
Printed per cell: R (the one-thread R1 cuts), W (R2's whole blocks), H (K split in two
halves, each cut by R2: at K = 1600 the cuts are [384, 768, 800, 1184, 1568]); several letters where those coincide at this K; any other cut list as
is, `x` where rows disagreed. A dev-time tool (needs torch):

    /path/to/torch-venv/bin/python tools/gemm_order/two_thread_blocks.py K none|at|bt|both M,N,...
"""
import sys, time, torch
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from lib import probe_boundaries, rule_blocks, rule_blocks_big
torch.set_num_threads(2)
K = int(sys.argv[1]); op = None if sys.argv[2] == 'none' else sys.argv[2]
sizes = [int(v) for v in sys.argv[3].split(',')]
def cls(b):
    def cuts(blocks):
        out, pos = [], 0
        for blk in blocks[:-1]:
            pos += blk
            out.append(pos)
        return probe_visible_cuts(out)
    k0 = (K + 1) // 2
    names = {"R": cuts(rule_blocks(K)), "W": cuts(rule_blocks_big(K)),
             "H": cuts(rule_blocks_big(k0) + rule_blocks_big(K - k0))}
    found = [name for name, c in names.items() if c == list(b)]
    return "".join(found) if found else str(b)


def probe_visible_cuts(c):
    # the probe cannot see a cut at K - 1
    return [x for x in c if x < K - 1]


t = time.time()
print("K", K, sys.argv[2], "rows m \\ cols n", sizes)
for m in sizes:
    row = []
    for n in sizes:
        b, cons, odd = probe_boundaries(m, n, K, op=op)
        row.append(cls(b) if cons else 'x')
    print("%4d " % m + " ".join(row), flush=True)
print("secs", time.time() - t)
