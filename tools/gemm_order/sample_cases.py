import random, sys
random.seed(int(sys.argv[1])); n=int(sys.argv[2]); op=sys.argv[3]
Ms=[2,3,5,7,8,15,16,17,31,33,48,64,100,191,192,200,256]
Ks=[1,2,3,7,16,17,33,100,383,384,385,500,767,768,769,770,1000,1153,1154,1537,2048]
cases=set()
while len(cases)<n:
    M=random.choice(Ms); N=random.choice(Ms); K=random.choice(Ks)
    if op=='bt' and M<16: continue
    if op=='both' and M<8: continue
    if M*N*K>192*200*1200: continue
    cases.add((M,N,K))
print(sorted(cases))
