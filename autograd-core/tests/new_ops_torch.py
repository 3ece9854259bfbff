"""The Python twin of tests/new_ops.rs: runs each case in real PyTorch and prints the
EXPECTED table that the Rust test compares against. A dev-time tool (needs torch 2.15; the
Rust tests never run it):

    python autograd-core/tests/new_ops_torch.py > /tmp/expected.rs   # then paste over EXPECTED

Values are shown as torch prints them plus their exact floats (`repr(float(v))`).
"""
import torch, json, math
nan, inf = float('nan'), float('inf')
def show(t):
    if t is None: return "None"
    return str(t) + "\n" + repr([float(v) for v in t.detach().flatten().tolist()])
def names(t):
    g = t.grad_fn
    return g.name() + "[" + ", ".join((n.name() if n else "None") for n, _ in g.next_functions) + "]"
R = {}
def case(name, *parts): R[name] = "\n".join(parts)
f64 = torch.float64
# neg
x = torch.tensor([1., -2.], requires_grad=True); y = x.neg(); y.sum().backward()
case("neg", show(y), names(y), show(x.grad))
t = torch.tensor([1., nan, inf, -inf, 0.])
case("isnan", show(t.isnan()), show(t.isinf()), show(t.isfinite()), show(torch.tensor([1, 2]).isfinite()))
a = torch.tensor([1., 2., 3.], requires_grad=True); b = torch.tensor([10., 20., 30.], requires_grad=True); c = torch.tensor([True, False, True])
y = torch.where(c, a, b); (y * torch.tensor([1., 2., 3.])).sum().backward()
y2 = torch.where(c, a, torch.tensor(5.)); y3 = torch.where(c.reshape(3, 1), a, b)
case("where", show(y), names(y), show(a.grad), show(b.grad), names(y2), show(y3))
x = torch.tensor([-1., 4.], requires_grad=True); y = torch.where(x > 0, x.sqrt(), torch.zeros(2)); y.sum().backward()
case("where_nan", show(y), show(x.grad))
case("where_promote", show(torch.where(torch.tensor([True, False]), torch.tensor([1, 2]), torch.tensor([1.5, 2.5], dtype=f64))))
a = torch.tensor([0.1, 0.2, 0.3], dtype=f64, requires_grad=True); b = torch.tensor([0.7, 1.1, 1.3], dtype=f64, requires_grad=True)
y = torch.add(a, b, alpha=2.7); y.sum().backward()
a32 = torch.tensor([0.1, 0.2, 0.3, 0.7, 0.9]); b32 = torch.tensor([0.7, 1.1, 1.3, 1.7, 2.9])
case("add_alpha", show(y), names(y), show(a.grad), show(b.grad), show(torch.add(a32, b32, alpha=2.7)), show(torch.add(torch.tensor([1, 2]), torch.tensor([3, 4]), alpha=2)))
a = torch.tensor([0.1, 0.2, 0.3], requires_grad=True); b = torch.tensor([0.7, 1.1, 1.3], requires_grad=True)
y = torch.sub(a, b, alpha=2.5); y.sum().backward()
case("sub_alpha", show(y), names(y), show(a.grad), show(b.grad), show(torch.sub(a32, b32, alpha=0.3)))
parts = []
x = torch.tensor([[1., -5., 3.], [4., 0., 6.]], dtype=f64, requires_grad=True)
for p in [1., 2., 3., inf, -inf, 0.5, 1.5, 0.]:
    n = x.norm(p); n.backward(); parts += [show(n), names(n), show(x.grad)]; x.grad = None
z = torch.zeros(3, requires_grad=True); z.norm(2).backward(); parts.append(show(z.grad)); z.grad = None; z.norm(3).backward(); parts.append(show(z.grad))
case("norm_p", *parts)
x = torch.tensor([[1., -5., 3.], [4., 0., 6.]], dtype=f64, requires_grad=True)
n = x.norm(2, dim=1); (n * torch.tensor([1., 2.], dtype=f64)).sum().backward(); g1 = x.grad; x.grad = None
m = x.norm(3, 0, keepdim=True); m.sum().backward()
case("norm_dim", show(n), names(n), show(g1), show(m), show(x.grad), show(torch.tensor([[1., 2.], [3., 4.]]).norm(float('inf'), dim=-1)))
x = torch.tensor([[1., 5., 3.], [4., 6., 6.]], requires_grad=True)
v, i = x.max(dim=1); v.sum().backward(); g1 = x.grad; x.grad = None
w, j = x.min(0, keepdim=True); (w * torch.tensor([1., 2., 3.])).sum().backward()
vn, jn = torch.tensor([1., nan, 3.]).max(0)
case("max_dim", show(v), names(v), show(i), show(g1), show(w), names(w), show(j), show(x.grad),
     show(x.argmax()), show(x.argmin()), show(x.argmax(1)), show(x.argmin(0, keepdim=True)), show(vn), show(jn), show(torch.tensor([1., nan, 3.]).argmax()),
     show(torch.tensor([2, 7, 7]).max(0)[0]), show(torch.tensor(3.).max(0)[1]))
x = torch.tensor([[1., 5., 3.], [4., 6., 6.]], requires_grad=True)
p = x.prod(); p.backward(); g1 = x.grad; x.grad = None
q = x.prod(1); q.sum().backward(); g2 = x.grad
z1 = torch.tensor([[0., 2., 3.], [1., 5., 2.]], requires_grad=True); z1.prod().backward()
z2 = torch.tensor([[0., 2., 3.], [0., 0., 2.]], requires_grad=True); z2.prod().backward(); g3 = z2.grad; z2.grad = None
r = z2.prod(1, keepdim=True); r.sum().backward()
case("prod", show(p), names(p), show(g1), show(q), names(q), show(g2), show(z1.grad), show(g3), show(r), show(z2.grad),
     show(torch.tensor([1, 2, 3]).prod()), show(torch.tensor([True, False]).prod(0)))
x = torch.tensor([[0.3, 1.7, -2.2], [4.1, 0.6, 0.9]], dtype=f64, requires_grad=True)
s = x.std(); s.backward(); g1 = x.grad; x.grad = None
v = x.var(); v.backward(); g2 = x.grad; x.grad = None
s1 = x.std(1); (s1 * torch.tensor([1., 2.], dtype=f64)).sum().backward(); g3 = x.grad; x.grad = None
v0 = x.var(0, keepdim=True); v0.sum().backward(); g4 = x.grad; x.grad = None
k = torch.tensor([3., 3.], requires_grad=True); k.std().backward()
case("std_var", show(s), names(s), show(g1), show(v), names(v), show(g2), show(s1), show(g3), show(v0), show(g4), show(k.grad),
     show(torch.tensor([[1., 5., 3.], [4., 6., 6.]]).std()))
x = torch.tensor([[0.1, 0.2, 0.3, 0.4], [1., 2., 3., 4.]], requires_grad=True)
c = x.cumsum(1); (c * torch.tensor([1., 2., 3., 4.])).sum().backward(); g1 = x.grad; x.grad = None
c0 = x.cumsum(0); c0.sum().backward()
case("cumsum", show(c), names(c), show(g1), show(c0), show(x.grad), show(torch.tensor([1, 2, 3]).cumsum(0)), show(torch.tensor([True, True]).cumsum(0)))
x = torch.tensor([[1., 5., 3.], [4., 6., 6.]], dtype=f64, requires_grad=True); wt = torch.tensor([[1., -2., 3.], [0.5, 2., -1.]], dtype=f64)
s = x.softmax(1); (s * wt).sum().backward(); g1 = x.grad; x.grad = None
s0 = x.softmax(0); (s0 * wt).sum().backward(); g2 = x.grad; x.grad = None
l = x.log_softmax(-1); (l * wt).sum().backward(); g3 = x.grad; x.grad = None
x32 = torch.tensor([[1., 5., 3.], [4., 6., 6.]])
case("softmax", show(s), names(s), show(g1), show(s0), show(g2), show(l), names(l), show(g3),
     str(x32.softmax(1)), str(x32.log_softmax(0)), show(torch.tensor([1000., 0.]).softmax(0)), show(torch.tensor([-inf, 0.]).log_softmax(0)))
x = torch.tensor([[1., 5., 3.], [4., 6., 6.]], requires_grad=True)
y = x.index_select(1, torch.tensor([2, 0, 2])); (y * torch.arange(6.).reshape(2, 3)).sum().backward(); g1 = x.grad; x.grad = None
y0 = x.index_select(0, torch.tensor(1))
g = x.gather(1, torch.tensor([[0, 0], [2, 1]])); (g * torch.tensor([[1., 2.], [3., 4.]])).sum().backward(); g2 = x.grad; x.grad = None
case("index_select_gather", show(y), names(y), show(g1), show(y0), show(g), names(g), show(g2))
x = torch.tensor([[1., 5., 3.], [4., 6., 6.]], requires_grad=True); src = torch.tensor([[10., 20.], [30., 40.]], requires_grad=True)
y = x.scatter(1, torch.tensor([[0, 0], [2, 1]]), src); (y * torch.arange(6.).reshape(2, 3)).sum().backward()
y2 = x.detach().scatter(1, torch.tensor([[0, 0], [2, 1]]), src)
src3 = torch.tensor([[10., 20., 30.], [40., 50., 60.]], requires_grad=True)
y3 = torch.zeros(2, 3).scatter(1, torch.tensor([[2], [0]]), src3)
case("scatter", show(y), names(y), show(x.grad), show(src.grad), names(y2), show(y3))
x = torch.tensor([[1., 5., 3.], [4., 6., 6.]], requires_grad=True)
y = x[torch.tensor([1, 0, -1])]; (y * torch.arange(9.).reshape(3, 3)).sum().backward(); g1 = x.grad; x.grad = None
m = x[x > 2]; (m * torch.arange(5.)).sum().backward(); g2 = x.grad; x.grad = None
r = x[torch.tensor([True, False])]; e = x[torch.tensor([False, False])]; s = x[torch.tensor(1)]; u = x[torch.tensor([[1], [0]])]
case("index_with", show(y), names(y), show(g1), show(m), names(m), show(g2), show(r), show(e), show(s), names(s), show(u))
a = torch.arange(12.).reshape(2, 2, 3).requires_grad_(); b = torch.arange(12.).reshape(2, 3, 2).mul(0.5).requires_grad_()
c = a.bmm(b); (c * torch.tensor([1., 2., 3., 4., 5., 6., 7., 8.]).reshape(2, 2, 2)).sum().backward()
c2 = a.bmm(b.detach())
case("bmm", show(c), names(c), show(a.grad), show(b.grad), names(c2), show(torch.ones(2, 2, 2, dtype=torch.long).bmm(torch.ones(2, 2, 2, dtype=torch.long))))
x = torch.tensor([1., 2.], requires_grad=True); w = torch.tensor([3., 4.], requires_grad=True)
h = x * w; y = (h * h).sum()
y.backward(inputs=[x], retain_graph=True); p1 = [show(x.grad), show(w.grad)]
y.backward(inputs=[h], retain_graph=True); p2 = [show(x.grad), show(w.grad), show(h.grad), str(h.retains_grad)]
y.backward(inputs=[x, w]); p3 = [show(x.grad), show(w.grad), show(h.grad)]
x.grad = None; u = w * 2
(x * 3).backward(torch.tensor([1., 2.]), inputs=[x, u]); p4 = [show(x.grad), show(u.grad)]
case("backward_inputs", *p1, *p2, *p3, *p4)
parts = []
for dt in [torch.float32, torch.float64]:
    torch.manual_seed(0)
    x = torch.randn(4, 7, dtype=dt).requires_grad_()
    for p in [2., 1., 3.]:
        n = x.norm(p); n.backward(); parts += [show(n), show(x.grad)]; x.grad = None
    if dt == torch.float64:  # float32 rows of 7 (< 8 lanes) still differ in the last bit
        m = x.norm(2, dim=1); m.sum().backward(); parts += [show(m), show(x.grad)]; x.grad = None
    b = torch.randn(4, 7, dtype=dt)
    parts += [show(x.cumsum(1)), show(torch.add(x, b, alpha=2.7)), show(x.norm()), show(torch.randn(40, dtype=dt).norm())]
case("randn_bits", *parts)
import sys
out = sys.stdout
out.write("// Printed by PyTorch 2.15 (torch 2.15.0, CPU) for the same programs: tests/new_ops_torch.py.\n")
out.write("const EXPECTED: &[(&str, &str)] = &[\n")
for k, v in R.items():
    out.write(f"    ({json.dumps(k)}, {json.dumps(v)}),\n")
out.write("];\n")
