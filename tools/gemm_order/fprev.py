"""FPRev-style probe (Xie et al.): x_i = +BIG, x_j = -BIG, all other x_k = 1.
Ones that meet +BIG or -BIG before the two cancel are absorbed; so
   output = K - |subtree(LCA(i,j))|  ->  LCA size = K - output.
Pattern is put in row m of A (B = ones) so that C[m, n] gives the LCA size for pair m at every column n
(along='rows'), or in column n of B (A = ones) (along='cols')."""
import torch, numpy as np
from lib import matmul
torch.set_num_threads(1)

def lca_sizes(M, N, K, pairs, op=None, dtype=torch.float32, along='rows'):
    big = 2.0**40 if dtype == torch.float32 else 2.0**70
    if along in ('rows_same', 'cols_same'):
        res = []
        for (i, j) in pairs:
            if along == 'rows_same':
                A = torch.ones(M, K, dtype=dtype); A[:, i] = big; A[:, j] = -big
                B = torch.ones(K, N, dtype=dtype)
            else:
                A = torch.ones(M, K, dtype=dtype)
                B = torch.ones(K, N, dtype=dtype); B[i, :] = big; B[j, :] = -big
            C = matmul(A, B, op)
            res.append(K - C.double().numpy().reshape(-1))   # all M*N outputs
        return np.stack(res, 0)
    L = M if along == 'rows' else N
    out = []
    for c0 in range(0, len(pairs), L):
        ch = pairs[c0:c0+L]
        P = torch.ones(L, K, dtype=dtype)
        ii = torch.arange(len(ch)); pi = torch.tensor([p[0] for p in ch]); pj = torch.tensor([p[1] for p in ch])
        P[ii, pi] = big; P[ii, pj] = -big
        if along == 'rows':
            A = P; B = torch.ones(K, N, dtype=dtype)
            C = matmul(A, B, op)[:len(ch)]
        else:
            A = torch.ones(M, K, dtype=dtype); B = P.t().contiguous()
            C = matmul(A, B, op).t()[:len(ch)]
        out.append(K - C.double().numpy())
    return np.concatenate(out, 0)   # shape (npairs, N or M)


def build_tree(M, N, K, op=None, dtype=torch.float32, along='rows', col=0, check_consistency=True):
    """Reconstruct the (binary, unordered) summation tree of output element column `col`
    (first row for along='rows').  Leaves are k indices.  Returns nested tuples, and a flag telling
    whether all output elements of the call gave identical LCA sizes."""
    work = [list(range(K))]          # sets to expand
    results = {}                     # id(set) -> list of groups
    consistent = True
    # BFS: each level batch all queries
    pending = [(tuple(range(K)),)]
    tree_of = {}
    frontier = [tuple(range(K))]
    children = {}
    while frontier:
        pairs = []; owners = []
        for S in frontier:
            if len(S) == 1: continue
            i = S[0]
            for j in S[1:]:
                pairs.append((i, j)); owners.append(S)
        if not pairs: break
        Z = lca_sizes(M, N, K, pairs, op, dtype, along)
        if check_consistency and not (Z == Z[:, :1]).all():
            consistent = False
        z = Z[:, col]
        groups = {}
        for (i, j), S, s in zip(pairs, owners, z):
            groups.setdefault(S, {}).setdefault(s, []).append(j)
        new = []
        for S in frontier:
            if len(S) == 1: continue
            gs = [tuple(groups[S][s]) for s in sorted(groups[S])]
            children[S] = gs
            new += gs
        frontier = new
    def assemble(S):
        if len(S) == 1: return S[0]
        t = S[0]
        for g in children[S]:
            t = (t, assemble(g))
        return t
    return assemble(tuple(range(K))), consistent


def tree_str(t):
    if isinstance(t, int): return str(t)
    # flatten left-deep chains: ((a,b),c) -> [a b c]
    chain = []
    while isinstance(t, tuple):
        chain.append(t[1]); t = t[0]
    chain.append(t); chain.reverse()
    return '(' + ' '.join(tree_str(c) for c in chain) + ')'


def leaves(t):
    return [t] if isinstance(t, int) else leaves(t[0]) + leaves(t[1])
