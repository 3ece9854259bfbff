# exhaustive table for torch x @ W.t() (bt), 2<=M<=15, 2<=N<=NMAX, 3<=K<24*M: 'd' (k-vectorised dot kernel) or 's' (sequential)
import sys, json, torch, time
from fprev import lca_sizes
torch.set_num_threads(1)
NMAX=int(sys.argv[1]) if len(sys.argv)>1 else 16
tab={}; t0=time.time()
for M in range(2,16):
    for N in range(2,NMAX+1):
        s=''
        for K in range(3,24*M):
            z=lca_sizes(M,N,K,[(0,1)],'bt',torch.float32,'cols_same')[0]
            v=set(z.astype(int).tolist())
            s+= 's' if v=={2} else ('d' if 2 not in v else 'm')
        tab[f'{M},{N}']=s
print('time',time.time()-t0)
json.dump(tab,open('bt_small_table.json','w'))
# summarise: for each (M,N): describe the set of K (from 3) that are 'd'
def ranges(s,ch):
    out=[];i=0
    while i<len(s):
        if s[i]==ch:
            j=i
            while j<len(s) and s[j]==ch: j+=1
            out.append(f'{i+3}-{j+2}' if j-i>1 else f'{i+3}'); i=j
        else: i+=1
    return out
for M in range(2,16):
    print(f'M={M}:', '; '.join(f'N{N}:' + (','.join(ranges(tab[f"{M},{N}"],'d')) or '-') + ('(m!)' if 'm' in tab[f"{M},{N}"] else '') for N in range(2,NMAX+1)))
