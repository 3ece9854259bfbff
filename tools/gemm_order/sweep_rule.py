# every K in a range: probe blocks vs predicted rule (f32 or f64), counting mismatches
import sys, time, torch
from lib import *
M,N=map(int,sys.argv[1:3]); ks=eval(sys.argv[3]); op=sys.argv[4] if sys.argv[4]!='none' else None
along=sys.argv[5]; dt=torch.float64 if sys.argv[6]=='f64' else torch.float32; rule=eval(sys.argv[7])
t=time.time(); bad=[]; n=0
for K in ks:
    bnd,cons,odd=probe_boundaries(M,N,K,dtype=dt,op=op,along=along)
    bl=blocks_from_boundaries(K,bnd); n+=1
    if bl!=probe_visible(rule(K)) or not cons or odd: bad.append((K,bl[:6]))
    if time.time()-t>110: print('stop at',K); break
print(f'M={M} N={N} op={op} {dt}: {n-len(bad)}/{n} K values match; first mismatches: {bad[:5]}  ({time.time()-t:.1f}s)')
