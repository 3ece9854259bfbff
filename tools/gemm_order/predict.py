"""Predicted MKL (oneMKL 2024.2, AVX-512 machine, 1 thread) float32 summation order for torch matmul.
layout: op=None (A@B, both contiguous), 'bt' (A @ Bt.t(), Bt contiguous (N,K)), 'at' (At.t() @ B),
'both' (At.t() @ Bt.t()).
predict(M,N,K,op) -> ('blocked', blocks)  : every C[i,j] = blocked sequential-FMA sum with those K-blocks
                  or ('tree', f)          : f(i,j) -> typed tree for C[i,j]
                  or ('unknown', reason)"""
import typed as T
from lib import rule_blocks, rule_blocks_big

def predict(M, N, K, op=None):
    tA = op in ('at', 'both'); tB = op in ('bt', 'both')
    if M == 1 and N == 1:
        return ('tree', lambda i, j: T.seq(K))
    if N == 1:
        if tA:  return ('tree', lambda i, j: T.gemvN_col_tree(M, K, i))
        return ('tree', lambda i, j: T.dot_row_tree(M, K, i))
    if M == 1:
        if tB:  return ('tree', lambda i, j: T.dot_row_tree(N, K, j))
        return ('tree', lambda i, j: T.gemvN_col_tree(N, K, j))
    # M, N >= 2
    if op in (None, 'at'):
        big = M >= 192 and N >= 192
    elif op == 'bt':
        if M <= 15:
            if K >= 24 * M:
                return ('tree', lambda i, j: T.tn16(K))
            if bt_small_dot(M, N, K):
                return ('tree', lambda i, j: T.dotcore(list(range(K)), two_acc_min=(32 if i % 2 == 0 else 10**9)))
            return ('blocked', [K])
        big = N >= 192
    else:  # both
        if M <= 7 and (N >= 100 or (M < N and K <= N)):
            return ('unknown', "A.t()@B.t() with M<=7 and (N>=100 or M<N and K<=N): not modelled")
        big = N >= 192 and M >= 8
    return ('blocked', rule_blocks_big(K) if big else rule_blocks(K))


def bt_small_dot(M, N, K):
    """x @ W.t() with 2<=M<=15 and K<24*M: does MKL use the k-vectorised dot kernel (else sequential)?"""
    if N == 2: return True
    if N == 3: return M <= 10
    if 4 <= N <= 11: return M < N and K <= N
    return False


def predict64(M, N, K, op=None):
    """float64 (dgemm) counterpart of predict()."""
    tA = op in ('at', 'both'); tB = op in ('bt', 'both')
    if M == 1 and N == 1:
        return ('blocked', [K])
    if N == 1:
        if tA: return ('blocked', [K])                                   # sequential
        return ('tree', lambda i, j: T.dotcore8(list(range(K))))
    if M == 1:
        if tB: return ('tree', lambda i, j: T.dotcore8(list(range(K))))
        return ('blocked', [K])
    if op is None and M == 2:
        return ('blocked', [K])
    if op in (None, 'at'):
        return ('blocked', rule_blocks_big(K) if (M >= 192 and N >= 192) else rule_blocks(K))
    if op == 'bt' and M <= 3:
        return ('tree', lambda i, j: T.tn8(K))
    if op == 'bt' and 4 <= M < N <= 7 and K <= N:
        return ('tree', lambda i, j: T.hreduce(list(range(K)) + [None] * (8 - K)))
    if op == 'both' and M <= 7 and (N >= 192 or K <= N):
        return ('unknown', 'A.t()@B.t() with small M (not modelled)')
    if K <= N or (M >= 192 and N >= 192):
        return ('blocked', rule_blocks_big(K))
    return ('blocked', rule_blocks(K, 192))
