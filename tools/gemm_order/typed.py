"""Typed summation trees.  leaf k = round(a_k*b_k);  ('f', acc, k) = fma(a_k, b_k, acc);
('a', x, y) = round(x + y).  None = empty (0).  Used to emulate MKL's gemv/dot kernels exactly."""
import sys, numpy as np
sys.setrecursionlimit(1000000)
from lib import add_f32, add_f32_64

def F(acc, k):
    return k if acc is None else ('f', acc, k)

def A(x, y):
    if x is None: return y
    if y is None: return x
    return ('a', x, y)

def untype(t):
    """typed tree -> plain binary tree (for comparison with probe-reconstructed trees)"""
    if isinstance(t, int): return t
    if t[0] == 'f': return (untype(t[1]), t[2])
    return (untype(t[1]), untype(t[2]))

def evaluate(t, P):
    """P[k] -> exact float64 products (arrays of equal shape). Returns float32 array."""
    if isinstance(t, int):
        return P[t].astype(np.float32)
    if t[0] == 'f':
        return add_f32_64(P[t[2]], evaluate(t[1], P).astype(np.float64))
    return add_f32(evaluate(t[1], P), evaluate(t[2], P))

def hreduce(lanes):
    lanes = list(lanes)
    while len(lanes) > 1:
        h = len(lanes) // 2
        lanes = [A(lanes[i], lanes[i + h]) for i in range(h)]
    return lanes[0]

def lanes_feed(lanes, ks):
    W = len(lanes)
    for idx, k in enumerate(ks):
        lanes[idx % W] = F(lanes[idx % W], k)
    return lanes

# ---------------- kernels ----------------
def seq(K, start=0):
    t = None
    for k in range(start, K): t = F(t, k)
    return t

def gemvN8(K, g0='64'):   # g0='46' was a wrong early guess, kept only for the record
    """torch M==1, N>=16, output columns j < 16*floor(N/16)   (MKL sgemm N,N,m,1)"""
    y = None
    for i in range(K // 8):
        b = 8 * i
        if y is None and g0 == '46':
            t1 = F(b + 4, b + 6)           # group 0: round(x4) then fma x6   (observed)
        else:
            t1 = F(F(y, b + 6), b + 4)
        t2 = F(b + 7, b + 5)
        t3 = A(F(b + 2, b), F(b + 3, b + 1))
        y = A(A(t1, t2), t3)
    for k in range(8 * (K // 8), K):
        y = F(y, k)
    return y

def dot4(K, main8='fma'):
    """torch N==1, rows i < 4*floor(M/4)   (MKL sgemm T,T,m,1; 4-row dot kernel).
    x0 = round(a0*b0) is put in lane 0; n=K-1 remaining k=1..K-1:
    main = 16*floor(n/16) elements: 16-lane accumulator (fma) if main>=32, else 8-lane (2 vectors) if main==16;
    reduce to scalar (halving tree) = carry.  tail = n%16 elements: 8-lane accumulator with carry in lane 0:
    first up to 8 via fma, the remaining (tail-8) elements as rounded products ADDED (mul+add); reduce."""
    n = K - 1
    main = 16 * (n // 16)
    ks = list(range(1, K))
    carry = 0
    if main:
        W = 16 if main >= 32 else 8
        lanes = [None] * W; lanes[0] = carry
        if W == 8 and main8 == 'muladd':
            for l in range(8):
                lanes[l] = A(F(lanes[l], ks[l]), ks[8 + l])
        else:
            lanes = lanes_feed(lanes, ks[:main])
        carry = hreduce(lanes)
    tk = ks[main:]
    if tk:
        lanes = [None] * 8; lanes[0] = carry
        for l in range(min(8, len(tk))):
            lanes[l] = F(lanes[l], tk[l])
        for l in range(8, len(tk)):
            lanes[l - 8] = A(lanes[l - 8], tk[l])
        carry = hreduce(lanes)
    return carry

def dot1(K, x0='add', tailmode='fma', two_acc_min=32):
    """torch N==1, the last M%4 rows (single-row dot kernel): x0 added last.
    n=K-1 elements k=1..K-1: if n>=two_acc_min: two 16-lane accumulators a,b over 32-element iterations
    (a gets k..k+15, b gets k+16..k+31), c=a+b lane-wise; else c = one 16-lane accumulator.
    then remaining full 16-vectors into c (fma), then the masked tail into lanes 0.. of c
    (tailmode 'fma' or 'muladd'); hreduce(c); total = round(that + round(a0*b0)) (x0='add').
    Observed: remainder rows r=i-4*floor(M/4) in {0,2}: two_acc_min=32; r==1: single accumulator."""
    n = K - 1; ks = list(range(1, K)); pos = 0
    if n >= two_acc_min:
        a = [None] * 16; b = [None] * 16
        while n - pos >= 32:
            for l in range(16):
                a[l] = F(a[l], ks[pos + l]); b[l] = F(b[l], ks[pos + 16 + l])
            pos += 32
        c = [A(a[l], b[l]) for l in range(16)]
    else:
        c = [None] * 16
    while n - pos >= 16:
        for l in range(16): c[l] = F(c[l], ks[pos + l])
        pos += 16
    for l in range(n - pos):
        c[l] = F(c[l], ks[pos + l]) if tailmode == 'fma' else A(c[l], ks[pos + l])
    r = hreduce(c)
    if r is None: return 0
    return F(r, 0) if x0 == 'fma' else A(r, 0)


def dot_row_tree(M, K, i):
    """torch N==1 (MKL T,T,m,1): tree for output row i"""
    if i < 4 * (M // 4):
        return dot4(K, main8='muladd')
    r = i - 4 * (M // 4)
    return dot1(K, two_acc_min=(10**9 if r == 1 else 32))

def gemvN_col_tree(N, K, j):
    """torch M==1 (MKL N,N,m,1): tree for output column j"""
    if N >= 16 and j < 16 * (N // 16):
        return gemvN8(K)
    return seq(K)


def dot_lanes(ks, lanes, two_acc_min, tailmode, reduce):
    """A `lanes`-wide dot over the index list ks: two accumulators (a: the first `lanes`, b: the
    next `lanes` of each 2*lanes chunk) while >= 2*lanes remain if len(ks) >= two_acc_min, c = a+b;
    then full vectors into c; the masked tail into lanes 0..; then `reduce` over the lanes."""
    n = len(ks); pos = 0
    if n >= two_acc_min:
        a = [None] * lanes; b = [None] * lanes
        while n - pos >= 2 * lanes:
            for l in range(lanes):
                a[l] = F(a[l], ks[pos + l]); b[l] = F(b[l], ks[pos + lanes + l])
            pos += 2 * lanes
        c = [A(a[l], b[l]) for l in range(lanes)]
    else:
        c = [None] * lanes
    while n - pos >= lanes:
        for l in range(lanes): c[l] = F(c[l], ks[pos + l])
        pos += lanes
    for l in range(n - pos):
        c[l] = F(c[l], ks[pos + l]) if tailmode == 'fma' else A(c[l], ks[pos + l])
    return reduce(c)


def dotcore(ks, two_acc_min=32, tailmode='fma'):
    """MKL's float32 16-lane dot, halving reduction."""
    return dot_lanes(ks, 16, two_acc_min, tailmode, hreduce)


def tn16(K):
    """MKL (T,N,m,n) with 2<=n<=15 (torch x @ W.t(), 2<=M<=15) when K >= 24*M:
    16 strided lanes L_l (k = l mod 16, fma chains), S_r = ((L_r+L_{r+4})+L_{r+8})+L_{r+12}, total (S0+S1)+(S2+S3)"""
    L = [None] * 16
    for k in range(K): L[k % 16] = F(L[k % 16], k)
    S = []
    for r in range(4):
        s = None
        for q in range(4): s = A(s, L[r + 4 * q])
        S.append(s)
    return A(A(S[0], S[1]), A(S[2], S[3]))


def evaluate64(t, Aa, Bb):
    """float64 version: Aa[k], Bb[k] float64 arrays; leaf = fl(a*b); 'f' = exact-fma; 'a' = fl(x+y)."""
    from lib import fma_f64
    if isinstance(t, int):
        return Aa[t] * Bb[t]
    if t[0] == 'f':
        return fma_f64(Aa[t[2]], Bb[t[2]], evaluate64(t[1], Aa, Bb))
    return evaluate64(t[1], Aa, Bb) + evaluate64(t[2], Aa, Bb)


def red8(c):
    """float64 dot reduction order observed: ((l0+l2)+(l1+l3)) + ((l4+l6)+(l5+l7))"""
    return A(A(A(c[0], c[2]), A(c[1], c[3])), A(A(c[4], c[6]), A(c[5], c[7])))


def dotcore8(ks, two_acc_min=16, tailmode='fma'):
    """MKL's float64 8-lane dot, `red8` reduction."""
    return dot_lanes(ks, 8, two_acc_min, tailmode, red8)


def tn8(K):
    """float64 x @ W.t() with M<=3: 8 strided lanes (k mod 8, fma chains), S_r = L_r + L_{r+4}, (S0+S1)+(S2+S3)"""
    L = [None] * 8
    for k in range(K): L[k % 8] = F(L[k % 8], k)
    S = [A(L[r], L[r + 4]) for r in range(4)]
    return A(A(S[0], S[1]), A(S[2], S[3]))
