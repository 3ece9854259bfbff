# random-data verification of predict() for float32; prints match fraction per case
import sys, time, torch, numpy as np
from lib import *
import typed as T
from predict import predict
torch.set_num_threads(1)
cases=eval(sys.argv[1]); ops=sys.argv[2].split(',') if len(sys.argv)>2 else ['none']
t0=time.time(); tot=0; full=0
for opn in ops:
    op=None if opn=='none' else opn
    for (M,N,K) in cases:
        g=torch.Generator().manual_seed(M*7919+N*31+K*3+len(opn))
        A=torch.randn(M,K,generator=g); B=torch.randn(K,N,generator=g)
        C=matmul(A,B,op).numpy()
        kind,p=predict(M,N,K,op)
        if kind=='unknown': print(M,N,K,opn,'UNKNOWN',p); continue
        if kind=='blocked':
            E=emulate_f32(A.numpy(),B.numpy(),p)
        else:
            A64=A.numpy().astype(np.float64); B64=B.numpy().astype(np.float64)
            E=np.zeros_like(C); groups={}
            for i in range(M):
                for j in range(N):
                    t=p(i,j); groups.setdefault(id(t) if False else str(t),(t,[]))[1].append((i,j))
            for _,(t,idx) in groups.items():
                ii=np.array([q[0] for q in idx]); jj=np.array([q[1] for q in idx])
                E[ii,jj]=T.evaluate(t, A64[ii,:].T*B64[:,jj])
        fr=(E==C).mean(); tot+=1; full+=(fr==1)
        if fr<1 or len(sys.argv)>3:
            bad=np.argwhere(E!=C)
            print(M,N,K,opn,kind,f'match={fr:.4f}','bad:',bad[:6].tolist(),flush=True)
        if time.time()-t0>110: print('stop'); break
print(f'{full}/{tot} cases fully matched; time {time.time()-t0:.1f}s')
