# fraction of C elements matched by competing K-block hypotheses (float32, A@B contiguous unless noted)
import torch, numpy as np
from lib import *
torch.set_num_threads(1)
rows=[]
cases=[(64,64,400,None),(64,64,769,None),(64,64,1000,None),(64,64,1024,None),(100,64,1500,None),(512,512,1024,None),(256,256,769,None),(256,256,1000,None),(192,192,2048,None),(64,300,1000,'bt'),(300,300,1000,'at')]
for (M,N,K,op) in cases:
    g=torch.Generator().manual_seed(M+N+K)
    A=torch.randn(M,K,generator=g); B=torch.randn(K,N,generator=g); C=matmul(A,B,op).numpy()
    hyps={'one block':[K],'R1 (halving, kc=384)':rule_blocks(K),'R2 (384s + remainder)':rule_blocks_big(K),
          'even ceil(K/384)-way split':(lambda nb:[K//nb+(1 if i<K%nb else 0) for i in range(nb)])(-(-K//384))}
    if K==769: hyps['[384,385]']=[384,385]
    res=[]; seen=set()
    for n,h in hyps.items():
        if tuple(h) in seen: continue
        seen.add(tuple(h)); fr=(emulate_f32(A.numpy(),B.numpy(),h)==C).mean()
        res.append(f'{n} {h if len(h)<7 else str(len(h))+" blocks"}: {fr:.3f}')
    print(f'| {M}x{N}x{K} {op or "A@B"} | '+' ; '.join(res)+' |',flush=True)
