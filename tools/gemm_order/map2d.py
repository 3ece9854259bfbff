# 2-D map of the blocking regime over (M,N) for one K and one op.
# tags: H = halving rule R1, B = big rule R2, S = single sequential block (no boundaries),
#       n = non-sequential (probe sees many boundaries -> not a blocked sequential FMA chain), x = other
import sys, time, torch
from lib import *
K=int(sys.argv[1]); op=sys.argv[2] if sys.argv[2]!='none' else None
dt=torch.float64 if len(sys.argv)>3 and sys.argv[3]=='f64' else torch.float32
Ms=eval(sys.argv[4]) if len(sys.argv)>4 else [1,2,3,4,5,6,7,8,9,10,12,14,15,16,17,20,24,31,32,48,64,96,128,160,176,191,192,256]
Ns=eval(sys.argv[5]) if len(sys.argv)>5 else Ms
t=time.time()
print('K=%d op=%s %s ; rows M, cols N = %s'%(K,op,dt,Ns))
for M in Ms:
    s=''
    for N in Ns:
        bnd,cons,odd=probe_boundaries(M,N,K,dtype=dt,op=op)
        bl=blocks_from_boundaries(K,bnd)
        if bl==probe_visible(rule_blocks(K)): c='H'
        elif bl==probe_visible(rule_blocks_big(K)): c='B'
        elif bl==[K]: c='S'
        elif len(bl)>12: c='n'
        else: c='x'
        if not cons or odd: c=c.lower() if c!='n' else 'N'
        s+=c
    print('%4d %s'%(M,s),flush=True)
print('time %.1f'%(time.time()-t))
