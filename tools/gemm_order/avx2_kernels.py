"""MKL's AVX2 kernels (what torch's float32 `mm` runs on an AMD processor), probed on this CPU
with one thread (two with --threads 2). A dev-time tool (needs torch):

    python avx2_kernels.py cuts                 # the blocked kernel's cuts of K (boundary probe)
    python avx2_kernels.py map K [none,bt,...]  # which (M, N) sum as the blocked kernel
    python avx2_kernels.py small                # the small kernels against a chain of rounded products

`map` prints B where every element of a random product equals the blocked emulation (fma
chains over blocks cut as `avx2_cuts`, the blocks added in turn), o where at least half do, .
otherwise. `small` prints, for products outside the blocked region, the fraction of elements
equal to one chain of rounded products from +0 (and the rows and columns of the others).
"""
import sys

import numpy as np
import torch

from lib import blocks_from_boundaries, emulate_f32, matmul, probe_boundaries

SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 17, 20, 24, 32, 48, 64, 100, 192, 300]


def avx2_cuts(K, kc=192):
    """Up to kc one block; up to 2 kc two halves (an odd K's last term a block of its own);
    beyond, blocks of kc and the remainder last (autograd-core's `avx2_cuts`)."""
    if K <= kc:
        return [K]
    if K <= 2 * kc:
        return [K // 2, K // 2] + ([1] if K % 2 else [])
    return [kc] * (K // kc) + ([K % kc] if K % kc else [])


def rounded_chain(A, B):
    acc = np.zeros((A.shape[0], B.shape[1]), np.float32)
    for k in range(A.shape[1]):
        acc = acc + np.outer(A[:, k], B[k]).astype(np.float32)
    return acc


def cuts():
    for K in (100, 192, 193, 195, 200, 300, 384, 385, 450, 513, 576, 577, 700, 769, 1000, 2000):
        for op in (None, 'bt', 'at', 'both'):
            bnd, consistent, _ = probe_boundaries(64, 64, K, op=op)
            seen = blocks_from_boundaries(K, bnd)
            # (the probe cannot see a last block of one term: it shows as part of the one before)
            want = avx2_cuts(K)
            if want[-1] == 1:
                want = want[:-2] + [want[-2] + 1]
            print(K, op or 'none', seen, 'as predicted' if seen == want else 'PREDICTED %s' % want,
                  '' if consistent else 'inconsistent rows')


def region_map(K, ops):
    g = torch.Generator().manual_seed(K)
    for opn in ops:
        op = None if opn == 'none' else opn
        print('K', K, opn, '(rows M, columns N:', ' '.join(map(str, SIZES)) + ')')
        for M in SIZES:
            row = []
            for N in SIZES:
                A = torch.randn(M, K, generator=g); B = torch.randn(K, N, generator=g)
                C = matmul(A, B, op).numpy()
                f = (emulate_f32(A.numpy(), B.numpy(), avx2_cuts(K)) == C).mean()
                row.append('B' if f == 1 else ('o' if f >= 0.5 else '.'))
            print('%4d' % M, ' '.join(row), flush=True)


def small():
    g = torch.Generator().manual_seed(3)
    for (M, N, K) in [(8, 8, 40), (2, 64, 40), (64, 2, 40), (3, 3, 40), (2, 100, 300), (30, 3, 100),
                      (100, 8, 50), (3, 64, 300), (3, 12, 300), (2, 2, 2), (3, 5, 17),
                      (8, 11, 300), (8, 10, 300), (3, 30, 300), (16, 11, 300)]:
        for opn in ('none', 'bt', 'at', 'both'):
            op = None if opn == 'none' else opn
            A = torch.randn(M, K, generator=g); B = torch.randn(K, N, generator=g)
            C = matmul(A, B, op).numpy()
            same = rounded_chain(A.numpy(), B.numpy()) == C
            bad = np.argwhere(~same)
            print(M, N, K, opn, 'rounded chain %.3f' % same.mean(),
                  '' if same.all() else 'others in rows %s columns %s' % (
                      sorted(set(bad[:, 0].tolist()))[:8], sorted(set(bad[:, 1].tolist()))[:8]), flush=True)


if __name__ == '__main__':
    threads = 2 if '--threads' in sys.argv and sys.argv[sys.argv.index('--threads') + 1] == '2' else 1
    args = [a for i, a in enumerate(sys.argv[1:]) if a != '--threads' and sys.argv[i] != '--threads']
    torch.set_num_threads(threads)
    if args[:1] == ['cuts']:
        cuts()
    elif args[:1] == ['map']:
        region_map(int(args[1]), (args[2] if len(args) > 2 else 'none,bt,at,both').split(','))
    elif args[:1] == ['small']:
        small()
    else:
        raise SystemExit(__doc__)
