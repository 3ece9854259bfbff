# does any kernel return -0.0 when every product is -0.0 ?  (A = -0.0, B = 1)
import torch
from lib import matmul
torch.set_num_threads(1)
shapes=[(1,1,5),(1,7,5),(1,64,100),(64,1,100),(3,1,100),(2,2,5),(2,2,100),(5,16,50),(5,16,200),(64,64,100),(64,64,1000),(256,256,1000),(2,5,5)]
for dt in (torch.float32, torch.float64):
    for op in (None,'bt','at','both'):
        res=[]
        for (M,N,K) in shapes:
            A=torch.full((M,K),-0.0,dtype=dt); B=torch.ones(K,N,dtype=dt)
            C=matmul(A,B,op)
            neg=torch.signbit(C).float().mean().item()
            res.append(f'{M}x{N}x{K}:{neg:.2f}')
        print(str(dt)[6:],op,' '.join(res))
