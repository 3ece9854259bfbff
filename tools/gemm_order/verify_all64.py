import sys, time, torch, numpy as np
from lib import *
import typed as T
from predict import predict64
torch.set_num_threads(1)
cases=eval(sys.argv[1]); ops=sys.argv[2].split(',')
t0=time.time(); tot=0; full=0; unk=0
for opn in ops:
    op=None if opn=='none' else opn
    for (M,N,K) in cases:
        g=torch.Generator().manual_seed(M*7919+N*31+K*3+len(opn))
        A=torch.randn(M,K,generator=g,dtype=torch.float64); B=torch.randn(K,N,generator=g,dtype=torch.float64)
        C=matmul(A,B,op).numpy()
        kind,p=predict64(M,N,K,op)
        if kind=='unknown': unk+=1; continue
        if kind=='blocked': E=emulate_f64(A.numpy(),B.numpy(),p)
        else:
            a=A.numpy(); b=B.numpy(); E=np.zeros_like(C); t=p(0,0)
            E=T.evaluate64(t, np.repeat(a.T[:,:,None],N,axis=2), np.repeat(b[:,None,:],M,axis=1))
        fr=(E==C).mean(); tot+=1; full+=(fr==1)
        if fr<1: print(M,N,K,opn,kind,f'match={fr:.4f}',flush=True)
        if time.time()-t0>110: print('stop'); break
print(f'{full}/{tot} cases fully matched ({unk} skipped as unknown); time {time.time()-t0:.1f}s')
