"""Which K blocks torch's blocked matrix product uses on two threads, over a grid of M x N at
one K (boundary probe, `lib.probe_boundaries`, on torch's own products with 2 threads).
Printed per cell, for K = 1000: R = [384, 692] (the one-thread R1 cuts), W = [384, 768] (R2's
whole blocks), H = [250, 500, 750] (K split in two halves of 500, each cut by R1); any other
cut list is printed as is, `x` where rows disagreed. A dev-time tool (needs torch):

    /path/to/torch-venv/bin/python tools/gemm_order/two_thread_blocks.py K none|at|bt|both M,N,...
"""
import sys, time, torch
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from lib import probe_boundaries
torch.set_num_threads(2)
K = int(sys.argv[1]); op = None if sys.argv[2] == 'none' else sys.argv[2]
sizes = [int(v) for v in sys.argv[3].split(',')]
def cls(b):
    return {str([384, 692]): 'R', str([384, 768]): 'W', str([250, 500, 750]): 'H'}.get(str(b), str(b))
t = time.time()
print("K", K, sys.argv[2], "rows m \\ cols n", sizes)
for m in sizes:
    row = []
    for n in sizes:
        b, cons, odd = probe_boundaries(m, n, K, op=op)
        row.append(cls(b) if cons else 'x')
    print("%4d " % m + " ".join(row), flush=True)
print("secs", time.time() - t)
