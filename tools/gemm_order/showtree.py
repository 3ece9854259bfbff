import sys, torch, threading
from fprev import *
sys.setrecursionlimit(1000000); threading.stack_size(512*1024*1024)
M,N,K=map(int,sys.argv[1:4]); op=sys.argv[4] if sys.argv[4]!='none' else None
along=sys.argv[5]; col=int(sys.argv[6]); dt=torch.float64 if len(sys.argv)>7 and sys.argv[7]=='f64' else torch.float32
def main():
    t,c=build_tree(M,N,K,op,dt,along,col=col,check_consistency=False)
    print(tree_str(t))
main()  # NOTE: do not run in a Python thread: MKL there is not limited to 1 thread
