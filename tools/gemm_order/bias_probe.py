# quick look: torch.nn.functional.linear(x, W, b) (addmm with bias) vs hypotheses, float32
import torch, numpy as np
from lib import *
import typed as T
from predict import predict
torch.set_num_threads(1)
for (M,N,K) in [(64,64,100),(64,64,1000),(256,256,1000),(32,16,400),(2,16,100),(5,2,40),(1,64,100),(64,1,100),(3,7,50)]:
    g=torch.Generator().manual_seed(M+N+K)
    x=torch.randn(M,K,generator=g); W=torch.randn(N,K,generator=g); b=torch.randn(N,generator=g)
    C=torch.nn.functional.linear(x,W,b).numpy()
    Bm=W.t().contiguous().numpy()
    kind,p=predict(M,N,K,'bt')
    if kind=='blocked':
        blocks=p
        # hyp a: sum then add bias; hyp b: bias first then each block added
        S=emulate_f32(x.numpy(),Bm,blocks)
        ha=add_f32(S, np.broadcast_to(b.numpy(),S.shape))
        Cb=np.broadcast_to(b.numpy(),S.shape).astype(np.float32); k=0
        for bl in blocks:
            acc=emulate_f32(x.numpy()[:,k:k+bl],Bm[k:k+bl],[bl]); Cb=add_f32(Cb,acc); k+=bl
        print(M,N,K,kind,blocks,'sum-then-bias:',(ha==C).mean(),' bias-then-blocks:',(Cb==C).mean())
    else:
        E=np.zeros((M,N),np.float32); A64=x.numpy().astype(np.float64); B64=Bm.astype(np.float64)
        for i in range(M):
            for j in range(N):
                E[i,j]=T.evaluate(p(i,j),A64[i,:,None]*B64[:,j,None])[0]
        ha=add_f32(E,np.broadcast_to(b.numpy(),E.shape))
        print(M,N,K,kind,'sum-then-bias:',(ha==C).mean())
