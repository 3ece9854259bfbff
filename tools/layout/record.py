"""Prints the strides torch 2.15 gives the result of elementwise ops on strided inputs
(TensorIterator's output layout), for autograd-core/tests/elementwise_layout.rs.

    /work/torch-venv/bin/python tools/layout/record.py
"""
import torch

a = torch.arange(6.).reshape(2, 3)
b = torch.arange(24.).reshape(2, 3, 4)
c = torch.arange(6.).reshape(3, 2)
row = torch.arange(2.)
col = torch.arange(3.).reshape(3, 1)
cases = {
    "a.t() * 2": lambda: a.t() * 2,
    "a.t() + c": lambda: a.t() + c,
    "c + a.t()": lambda: c + a.t(),
    "a.t() + row": lambda: a.t() + row,
    "row + a.t()": lambda: row + a.t(),
    "a.t() + col": lambda: a.t() + col,
    "col + a.t()": lambda: col + a.t(),
    "a.t().exp()": lambda: a.t().exp(),
    "a.t().neg()": lambda: -a.t(),
    "a.t().clone()": lambda: a.t().clone(),
    "a.t().relu()": lambda: a.t().relu(),
    "a.t() > 1": lambda: a.t() > 1,
    "a.t().sigmoid()": lambda: a.t().sigmoid(),
    "b.permute(2, 0, 1) * 1": lambda: b.permute(2, 0, 1) * 1,
    "b.permute(1, 2, 0) + 1": lambda: b.permute(1, 2, 0) + 1,
    "b.transpose(0, 2).sin()": lambda: b.transpose(0, 2).sin(),
    "b.transpose(0, 1) * b.permute(1, 0, 2)": lambda: b.transpose(0, 1) * b.permute(1, 0, 2),
    "b.transpose(0, 1) * b.transpose(0, 1).contiguous()": lambda: b.transpose(0, 1) * b.transpose(0, 1).contiguous(),
    "b.transpose(1, 2)[0] * 2": lambda: b.transpose(1, 2)[0] * 2,
    "b[:, :, ::2].transpose(0, 2) * 2": lambda: b[:, :, ::2].transpose(0, 2) * 2,
    "b[:, 1] * 2": lambda: b[:, 1] * 2,
    "b[:, 1].t() * 2": lambda: b[:, 1].t() * 2,
    "a.t().unsqueeze(1) * 2": lambda: a.t().unsqueeze(1) * 2,
    "a.unsqueeze(1).t() * 2": lambda: a.unsqueeze(2).transpose(0, 2) * 2,
    "a[:1].t() * 2": lambda: a[:1].t() * 2,
    "a[:, :1].t() * 2": lambda: a[:, :1].t() * 2,
    "a.t().expand(2, 3, 2) * 1": lambda: a.t().expand(2, 3, 2) * 1,
    "a.t().pow(2)": lambda: a.t().pow(2),
    "a.t().clamp(0, 3)": lambda: a.t().clamp(0, 3),
    "a.t() / a.t()": lambda: a.t() / a.t(),
    "a.t().masked_fill(a.t() > 2, 0)": lambda: a.t().masked_fill(a.t() > 2, 0),
    "torch.where(a.t() > 2, a.t(), 0.)": lambda: torch.where(a.t() > 2, a.t(), 0.),
    "torch.maximum(a.t(), c)": lambda: torch.maximum(a.t(), c),
    "a.t().abs()": lambda: a.t().abs(),
    "a.t().sqrt()": lambda: a.t().sqrt(),
    "a.t().tanh()": lambda: a.t().tanh(),
    "a.t().log()": lambda: a.t().log(),
    "a.t().sgn()": lambda: a.t().sgn(),
}
for name, f in cases.items():
    r = f()
    print(f'("{name}", {list(r.shape)}, {list(r.stride())}),')
