#!/usr/bin/env python3
"""Random small autograd programs from one grammar, rendered as PyTorch and as autograd-core.

A program is data: a list of statements (JSON objects, `"k"` names the kind). The same list is
rendered as a Python program (torch) and as the Rust a user would write with autograd-core;
the Rust test (`autograd-core/tests/differential.rs`) interprets the statements with the same
public API calls the rendered Rust makes. Every program prints a sequence of observations
(tensor reprs, `.grad`, grad_fn names, `requires_grad`, `is_leaf`, ...); an error stops it and
prints `Kind: message`.

    python3 tools/difftest/generate.py --seed 11 --count 1300 > programs.json

The output is deterministic for a seed (Python's `random.Random`, no other source of
randomness). This file needs no torch; `record_torch.py` runs the programs in torch.

Statement kinds and fields (operands are {"v": var} | {"n": float} | {"i": int}; a float that
is not finite is written "inf" / "-inf" / "nan"):

  leaf        out data dtype rg          x = torch.tensor(data, dtype=.., requires_grad=..)
  factory     out fn shape dtype rg      torch.zeros(2, 3) / ones / full(value)
  random      out fn seed shape dtype rg torch.manual_seed(seed); torch.randn(2, 3) / rand / randint(low, high, ..)
  binary      out op a b                 a + b, a * 2.0, 2.0 - a   (op in + - * /)
  alpha       out fn a b alpha           torch.add(a, b, alpha=2.0)  (fn add|sub)
  pow         out a b                    a.pow(b) / a.pow(2)
  rpow        out base a                 2.0 ** a
  maxmin      out fn a b                 torch.maximum(a, b) / minimum
  mm          out fn a b                 a @ b, a.matmul(b), a.mm(b), a.mv(b), a.dot(b), a.bmm(b)
  unary       out fn a                   a.exp(), -a, a.isnan(), a.double(), ...
  reduce      out fn a dim keepdim p     a.sum(), a.mean(dim=1, keepdim=True), a.norm(p=1), ...
  reduce2     out(2) fn a dim keepdim    v, i = a.max(dim=1)
  dimop       out fn a dim               a.cumsum(dim=0), a.softmax(dim=-1), a.log_softmax(..)
  view        out fn a args              select narrow transpose t T unsqueeze squeeze squeeze_dim
                                         expand reshape view permute flatten detach clone contiguous
  index       out a items                a[0, :, 1:3]   (items: ["i", k] | ["r", start, end] | ["f"])
  inplace     t fn args                  a.add_(b), a.clamp_(min=0.0), a.zero_(), a += b, ...
  assign      t items value              a[0, 1:] = value
  assign_with t index value              a[mask] = value, a[idx] = value
  compare     out fn a b                 a > 0.5   (fn gt lt ge le eq ne)
  masked_fill out a mask value           a.masked_fill(mask, value)
  clamp       out a min max              a.clamp(min=.., max=..)
  where       out cond a b               torch.where(cond, a, b)
  gather      out fn a dim index src     a.gather(1, i), a.index_select(0, i), a.scatter(1, i, s), a[i]
  cat         out fn items dim           torch.cat([a, b], dim=0) / torch.stack
  no_grad     body                       with torch.no_grad(): <one statement>
  backward    t grad retain create inputs  y.backward(...)
  grad        outs outputs inputs create g, = torch.autograd.grad([y], [x], create_graph=..)
  requires_grad_ t flag                  x.requires_grad_(flag)
  retain_grad t                          y.retain_grad()
  hook        out t fn                   h = y.register_hook(lambda g: g * 2)   (fn double|none|add1|neg|print)
  unhook      h                          h.remove()
  detach_     t                          y.detach_()
  set_data    t v                        x.data = v
  set_grad_none t                        x.grad = None
  range       out fn args dtype          torch.arange(3) / arange(0, 1, 0.25) ("arange3") / linspace / eye /
                                         zeros_like(a) / ones_like(a); dtype None or a dtype name
  logical_and out a b                    a.logical_and(b)
  custom      out fn args                Square.apply(x): a user-defined torch.autograd.Function, one of
                                         CUSTOM (the class and the Rust impl are rendered once at the top)
  print       what t                     print(t) / print(t.grad) / grad_fn name / requires_grad /
                                         is_leaf / next_functions / item() / bool(t.any()) / bool(t.all())
"""

import argparse
import json
import math
import random
import sys

FLOAT_VALUES = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 1.5, -1.5, 3.0, 0.25, -3.0, 4.0]
SPECIAL_VALUES = ["inf", "-inf", "nan"]
UNARY_FLOAT = ["exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "abs", "neg", "negop"]
INPLACE_UNARY = ["exp_", "relu_", "neg_", "abs_", "sigmoid_", "tanh_", "sqrt_", "log_", "sin_", "cos_"]

THEMES = {
    # theme: weights of op groups
    "arith": {"binary": 6, "pow": 2, "unary": 2, "reduce": 2},
    "unary": {"unary": 6, "binary": 2, "reduce": 2, "pow": 1},
    "pow": {"pow": 5, "rpow": 2, "binary": 2, "unary": 1, "reduce": 1},
    "reduce": {"reduce": 5, "binary": 2, "unary": 1, "view": 1},
    "matmul": {"mm": 5, "binary": 2, "view": 2, "reduce": 1},
    "views": {"view": 5, "index": 3, "binary": 2, "reduce": 1},
    "inplace": {"inplace": 5, "binary": 2, "unary": 1, "view": 1},
    "inplace_view": {"view": 3, "index": 2, "inplace": 5, "binary": 2},
    "assign": {"assign": 4, "assign_with": 2, "factory": 2, "binary": 2, "index": 1},
    "mask": {"masked_fill": 3, "clamp": 3, "maxmin": 2, "where": 2, "compare": 2, "binary": 1},
    "special": {"unary": 3, "binary": 3, "masked_fill": 1, "clamp": 1, "maxmin": 1, "pow": 2, "reduce": 1},
    "no_grad": {"no_grad": 4, "binary": 2, "inplace": 2, "view": 1},
    "retain": {"binary": 3, "unary": 2, "backward_mid": 3},
    "second": {"binary": 3, "unary": 3, "pow": 2, "grad2": 3},
    "newops": {"dimop": 3, "reduce_new": 4, "reduce2": 2, "gather": 3, "alpha": 1, "cat": 1, "unary_bool": 1},
    "hooks": {"hook": 4, "binary": 3, "unary": 2, "reduce": 1, "detach_": 1, "set_data": 1, "backward_mid": 2,
              "view": 1},
    "mixed": {"binary": 3, "unary": 2, "pow": 1, "reduce": 2, "mm": 1, "view": 2, "index": 1, "inplace": 2,
              "assign": 1, "masked_fill": 1, "clamp": 1, "maxmin": 1, "where": 1, "dimop": 1, "reduce_new": 1,
              "gather": 1, "no_grad": 1},
    "custom": {"custom": 5, "binary": 2, "unary": 1, "reduce": 1, "inplace": 1, "grad2": 1, "backward_mid": 1,
               "view": 1, "hook": 1},
    # big tensors (100 to 90,000 elements, seeded random data): torch's summarized printing, its
    # reduction orders past the vector width and the parallel grain, its matrix-product orders
    # for longer rows; drawn only when asked for (`--theme big`), so the other themes' programs
    # of a seed stay what they were
    "big": {"binary": 3, "pow": 1, "unary": 2, "reduce": 3, "reduce_new": 2, "reduce2": 1, "dimop": 2, "mm": 3,
            "view": 1, "index": 1, "maxmin": 1, "clamp": 1, "where": 1},
    "ints": {"int_binary": 4, "int_unary": 3, "int_reduce": 2, "range": 2, "int_param": 1, "int_compare": 2,
             "int_mix": 3, "binary": 2, "unary": 1, "reduce": 1},
}
THEME_WEIGHTS = {"arith": 8, "unary": 7, "pow": 6, "reduce": 6, "matmul": 6, "views": 8, "inplace": 8,
                 "inplace_view": 8, "assign": 7, "mask": 8, "special": 5, "no_grad": 5, "retain": 4,
                 "second": 6, "newops": 12, "hooks": 8, "mixed": 12, "ints": 10, "custom": 8, "values": 10,
                 # weight 0: never drawn at random (adding it leaves every draw of the others as it was)
                 "big": 0}
BIG_LIMIT = 200_000
BIG_SHAPES = [[100], [257], [1000], [1001], [4097], [33000], [70000], [40, 50], [7, 300], [3, 400], [64, 10],
              [10, 64], [2, 3, 200], [300, 300], [2, 40000], [1000, 3], [129, 129]]


def broadcast(a, b):
    out = []
    for i in range(max(len(a), len(b))):
        x = a[len(a) - 1 - i] if i < len(a) else 1
        y = b[len(b) - 1 - i] if i < len(b) else 1
        if x != y and x != 1 and y != 1:
            return None
        out.append(max(x, y) if min(x, y) != 0 else 0)
    return list(reversed(out))


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


class Gen:
    def __init__(self, rng):
        self.r = rng
        self.env = {}  # name -> {"shape", "dtype", "rg", "leaf"}
        self.stmts = []
        self.counter = 0
        self.special = False
        self.noisy = False
        self.big = False

    # ----- helpers -------------------------------------------------------------------
    def bcast(self, a, b):
        """`broadcast(a, b)`, or None for a big theme's result past BIG_LIMIT elements."""
        s = broadcast(a, b)
        if s is not None and self.big and numel(s) > BIG_LIMIT:
            return None
        return s

    def name(self, prefix="v"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def value(self, dtype="float32"):
        if dtype == "int64":
            if self.noisy:
                return self.r.choice([self.r.randint(-9, 9), self.r.randint(-200, 200)])
            return self.r.choice([0, 1, 2, -1, 3, -2])
        if dtype == "bool":
            return self.r.choice([True, False])
        if self.special and self.r.random() < 0.15:
            return self.r.choice(SPECIAL_VALUES)
        if self.noisy:
            return self.noisy_float()
        return self.r.choice(FLOAT_VALUES)

    def noisy_float(self):
        """A value as a teacher's own example has them: a few random decimals (at most 8
        significant digits, so that both languages read the literal exactly), mostly near 1,
        sometimes much larger or smaller; now and then a nice value."""
        if self.r.random() < 0.1:
            return self.r.choice(FLOAT_VALUES)
        scale = self.r.choice([1, 1, 1, 1, 10, 0.1, 1000, 0.001])
        x = self.r.gauss(0.0, 1.5) * scale
        digits = self.r.choice([1, 2, 3, 4])
        return float(f"{x:.{digits}g}")

    def data(self, shape, dtype):
        if not shape:
            return self.value(dtype)
        return [self.data(shape[1:], dtype) for _ in range(shape[0])]

    def rand_shape(self):
        if self.big:
            return self.r.choice(BIG_SHAPES)
        if self.noisy and self.r.random() < 0.4:
            # past the vector width and the unrolled block: sums, norms and softmax take their
            # vectorised paths and leave tails
            return self.r.choice([[5], [7], [9], [17], [33], [70], [4, 5], [3, 17], [2, 3, 4], [6, 9], [2, 40],
                                  [5, 1, 6]])
        return self.r.choice([[], [1], [2], [3], [3], [4], [2, 2], [2, 3], [2, 3], [3, 2], [1, 3], [3, 1],
                              [2, 1, 3], [2, 2, 2]])

    def float_vars(self, pred=None):
        return [n for n, m in self.env.items() if m["dtype"] in ("float32", "float64") and (pred is None or pred(m))]

    def pick(self, pred=None, float_only=True):
        names = self.float_vars(pred) if float_only else [n for n, m in self.env.items() if pred is None or pred(m)]
        if not names:
            return None
        # prefer recent values
        names = names[-5:] if self.r.random() < 0.7 else names
        return self.r.choice(names)

    def num(self, int_ok=True):
        if int_ok and self.r.random() < 0.2:
            return {"i": self.r.choice([1, 2, 3, -1, 0])}
        if self.special and self.r.random() < 0.15:
            return {"n": self.r.choice(SPECIAL_VALUES)}
        if self.noisy and self.r.random() < 0.6:
            return {"n": self.noisy_float()}
        return {"n": self.r.choice([2.0, 0.5, -1.0, 3.0, 1.5, -2.0, 1.0, 0.0])}

    def add(self, stmt, out=None, meta=None):
        self.stmts.append(stmt)
        if out is not None:
            self.env[out] = meta

    def result_meta(self, shape, dtype, *inputs, grad_ok=True):
        rg = grad_ok and any(self.env[i]["rg"] for i in inputs if i in self.env) and dtype in ("float32", "float64")
        return {"shape": shape, "dtype": dtype, "rg": rg and not getattr(self, "in_no_grad", False), "leaf": not rg}

    def promote(self, a, b):
        order = ["bool", "int64", "float32", "float64"]
        da = self.env[a]["dtype"]
        db = self.env[b]["dtype"]
        return order[max(order.index(da), order.index(db))]

    def is_rg_leaf_or_view(self, a):
        m = self.env[a]
        return (m["leaf"] and m["rg"]) or m.get("view_of_rg_leaf", False)

    def writable(self, m):
        return not (m["leaf"] and m["rg"]) and not m.get("view_of_rg_leaf", False)

    # ----- leaves ---------------------------------------------------------------------
    def leaf(self, shape=None, dtype=None, rg=None):
        shape = self.rand_shape() if shape is None else shape
        if dtype is None:
            dtype = self.r.choices(["float32", "float64"], [7, 3])[0]
        if rg is None:
            rg = self.r.random() < 0.85
        out = self.name("x")
        meta = {"shape": shape, "dtype": dtype, "rg": rg, "leaf": True}
        if dtype != "bool" and (self.big or self.noisy and self.r.random() < 0.35):
            # torch.manual_seed(s); torch.randn(...): the generator's own numbers
            if dtype == "int64":
                fn, rg = "randint", False
                meta["rg"] = False
            else:
                fn = self.r.choice(["randn", "randn", "rand"])
            stmt = {"k": "random", "out": out, "fn": fn, "seed": self.r.choice([0, 1, 7, 42, 666, 2024, 123456789]),
                    "shape": shape, "dtype": dtype, "rg": rg}
            if fn == "randint":
                stmt["low"], stmt["high"] = self.r.choice([(0, 10), (-5, 5), (0, 2), (-100, 100)])
            self.add(stmt, out, meta)
            return out
        self.add({"k": "leaf", "out": out, "data": self.data(shape, dtype), "dtype": dtype, "rg": rg}, out, meta)
        return out

    def index_leaf(self, size, length, unique=False, shape=None):
        out = self.name("i")
        if shape is not None:
            data = [[self.r.randrange(max(size, 1)) for _ in range(shape[1])] for _ in range(shape[0])] if len(shape) == 2 else \
                [self.r.randrange(max(size, 1)) for _ in range(shape[0])]
        elif unique:
            data = self.r.sample(range(size), max(1, min(length, size))) if size else [0]
        else:
            data = [self.r.randrange(max(size, 1)) for _ in range(length)]
        shp = shape if shape is not None else [len(data)]
        self.add({"k": "leaf", "out": out, "data": data, "dtype": "int64", "rg": False}, out,
                 {"shape": shp, "dtype": "int64", "rg": False, "leaf": True})
        return out

    def ensure_float(self, pred=None):
        a = self.pick(pred)
        if a is None:
            a = self.leaf()
        return a

    # ----- op groups ------------------------------------------------------------------
    def op_binary(self):
        a = self.ensure_float()
        op = self.r.choice(["+", "-", "*", "/"])
        r = self.r.random()
        if r < 0.45:
            # another tensor, broadcast-compatible most of the time
            sa = self.env[a]["shape"]
            cands = [n for n in self.float_vars() if n != a and self.bcast(sa, self.env[n]["shape"]) is not None]
            if cands and self.r.random() < 0.9:
                b = self.r.choice(cands)
            elif self.r.random() < 0.85:
                b = self.leaf(shape=sa[-1:] if sa and self.r.random() < 0.5 else sa)
            else:
                b = self.leaf()
            lhs, rhs = {"v": a}, {"v": b}
            shape = self.bcast(sa, self.env[b]["shape"]) or sa
            dtype = self.promote(a, b)
            ins = [a, b]
        elif r < 0.55:
            lhs, rhs = {"v": a}, {"v": a}
            shape, dtype, ins = self.env[a]["shape"], self.env[a]["dtype"], [a]
        else:
            n = self.num()
            lhs, rhs = ({"v": a}, n) if self.r.random() < 0.6 else (n, {"v": a})
            shape, dtype, ins = self.env[a]["shape"], self.env[a]["dtype"], [a]
        out = self.name()
        self.add({"k": "binary", "out": out, "op": op, "a": lhs, "b": rhs}, out, self.result_meta(shape, dtype, *ins))
        return out

    def op_alpha(self):
        a = self.ensure_float()
        sa = self.env[a]["shape"]
        cands = [n for n in self.float_vars() if self.bcast(sa, self.env[n]["shape"]) is not None]
        b = self.r.choice(cands)
        out = self.name()
        self.add({"k": "alpha", "out": out, "fn": self.r.choice(["add", "sub"]), "a": a, "b": b,
                  "alpha": self.r.choice([2.0, 0.5, -1.0, 3.0])}, out,
                 self.result_meta(self.bcast(sa, self.env[b]["shape"]), self.promote(a, b), a, b))
        return out

    def op_pow(self):
        a = self.ensure_float()
        out = self.name()
        if self.r.random() < 0.35:
            sa = self.env[a]["shape"]
            cands = [n for n in self.float_vars() if self.bcast(sa, self.env[n]["shape"]) is not None]
            b = self.r.choice(cands) if cands and self.r.random() < 0.6 else self.leaf(shape=sa)
            self.add({"k": "pow", "out": out, "a": a, "b": {"v": b}}, out,
                     self.result_meta(self.bcast(sa, self.env[b]["shape"]) or sa, self.promote(a, b), a, b))
        else:
            e = self.r.choice([{"i": 2}, {"i": 3}, {"n": 2.0}, {"n": 0.5}, {"i": 0}, {"i": -1}, {"n": -0.5},
                               {"n": 1.5}, {"i": 1}])
            self.add({"k": "pow", "out": out, "a": a, "b": e}, out,
                     self.result_meta(self.env[a]["shape"], self.env[a]["dtype"], a))
        return out

    def op_rpow(self):
        a = self.ensure_float()
        out = self.name()
        base = self.r.choice([{"n": 2.0}, {"n": 0.5}, {"n": 0.0}, {"i": 2}, {"n": 3.0}, {"n": -2.0}])
        self.add({"k": "rpow", "out": out, "base": base, "a": a}, out,
                 self.result_meta(self.env[a]["shape"], self.env[a]["dtype"], a))
        return out

    def op_maxmin(self):
        a = self.ensure_float()
        sa = self.env[a]["shape"]
        cands = [n for n in self.float_vars() if n != a and self.bcast(sa, self.env[n]["shape"]) is not None]
        b = self.r.choice(cands) if cands else self.leaf(shape=sa)
        out = self.name()
        self.add({"k": "maxmin", "out": out, "fn": self.r.choice(["maximum", "minimum"]), "a": a, "b": b}, out,
                 self.result_meta(self.bcast(sa, self.env[b]["shape"]), self.promote(a, b), a, b))
        return out

    def op_mm(self):
        fn = self.r.choice(["matmul", "@", "mm", "mv", "dot", "bmm", "matmul", "@"])
        n, m, p = self.r.choice([2, 3]), self.r.choice([1, 2, 3]), self.r.choice([2, 3])
        if self.big:
            n, m, p = (self.r.choice([5, 17, 64, 100, 130]) for _ in range(3))
        dt = self.r.choice(["float32", "float32", "float64"])
        if fn == "mm":
            sa, sb, so = [n, m], [m, p], [n, p]
        elif fn == "mv":
            sa, sb, so = [n, m], [m], [n]
        elif fn == "dot":
            sa, sb, so = [m], [m], []
        elif fn == "bmm":
            sa, sb, so = [2, n, m], [2, m, p], [2, n, p]
        else:
            sa, sb, so = self.r.choice([([n, m], [m, p], [n, p]), ([m], [m, p], [p]), ([n, m], [m], [n]),
                                        ([2, n, m], [m, p], [2, n, p]), ([m], [m], []),
                                        # batched: folded or bmm of broadcast batch dims
                                        ([2, n, m], [2, m, p], [2, n, p]), ([1, n, m], [2, m, p], [2, n, p]),
                                        ([2, n, m], [1, m, p], [2, n, p]), ([m], [2, m, p], [2, p]),
                                        ([n, m], [2, m, p], [2, n, p]), ([2, n, m], [m], [2, n]),
                                        ([2, 1, n, m], [3, m, p], [2, 3, n, p])])
        def get(shape):
            c = [v for v in self.float_vars(lambda mm: mm["shape"] == shape and mm["dtype"] == dt)]
            if c and self.r.random() < 0.7:
                return self.r.choice(c)
            return self.leaf(shape=shape, dtype=dt)
        a = get(sa)
        b = get(sb)
        if self.r.random() < 0.05:  # shape mismatch on purpose
            b = self.leaf(shape=[m + 1, p], dtype=dt)
        out = self.name()
        self.add({"k": "mm", "out": out, "fn": fn, "a": a, "b": b}, out, self.result_meta(so, dt, a, b))
        return out

    def op_unary(self):
        a = self.ensure_float()
        fn = self.r.choice(UNARY_FLOAT + ["reciprocal", "double", "float"])
        dtype = self.env[a]["dtype"]
        if fn == "double":
            dtype = "float64"
        elif fn == "float":
            dtype = "float32"
        out = self.name()
        self.add({"k": "unary", "out": out, "fn": fn, "a": a}, out, self.result_meta(self.env[a]["shape"], dtype, a))
        return out

    def op_unary_bool(self):
        a = self.ensure_float()
        out = self.name("m")
        self.add({"k": "unary", "out": out, "fn": self.r.choice(["isnan", "isinf", "isfinite"]), "a": a}, out,
                 {"shape": self.env[a]["shape"], "dtype": "bool", "rg": False, "leaf": True})
        return out

    def pick_dim(self, shape):
        if not shape:
            return self.r.choice([0, -1])
        d = self.r.randrange(len(shape))
        return d - len(shape) if self.r.random() < 0.3 else d

    def reduced_shape(self, shape, dim, keepdim):
        if dim is None:
            return []
        if not shape:
            return []
        d = dim % len(shape)
        s = list(shape)
        if keepdim:
            s[d] = 1
        else:
            s.pop(d)
        return s

    def op_reduce(self, new=False):
        a = self.ensure_float()
        shape = self.env[a]["shape"]
        if new:
            fn = self.r.choice(["prod", "std", "var", "norm", "argmax", "argmin", "max", "min", "prod", "std"])
        else:
            fn = self.r.choice(["sum", "sum", "mean", "mean", "sum", "max", "min", "norm"])
        dim = None
        keepdim = False
        p = None
        if fn in ("sum", "mean", "prod", "std", "var", "argmax", "argmin") and self.r.random() < 0.55:
            dim = self.pick_dim(shape)
            keepdim = self.r.random() < 0.4
        if fn == "norm" and new:
            p = self.r.choice([1.0, 2.0, 3.0])
            if self.r.random() < 0.5:
                dim = self.pick_dim(shape)
                keepdim = self.r.random() < 0.4
        dtype = "int64" if fn.startswith("arg") else self.env[a]["dtype"]
        out = self.name()
        self.add({"k": "reduce", "out": out, "fn": fn, "a": a, "dim": dim, "keepdim": keepdim, "p": p}, out,
                 self.result_meta(self.reduced_shape(shape, dim, keepdim), dtype, a, grad_ok=not fn.startswith("arg")))
        return out

    def op_reduce2(self):
        a = self.ensure_float(lambda m: len(m["shape"]) >= 1)
        shape = self.env[a]["shape"]
        dim = self.pick_dim(shape)
        keepdim = self.r.random() < 0.4
        v, i = self.name(), self.name("i")
        s = self.reduced_shape(shape, dim, keepdim)
        self.stmts.append({"k": "reduce2", "out": [v, i], "fn": self.r.choice(["max", "min"]), "a": a, "dim": dim,
                           "keepdim": keepdim})
        self.env[v] = self.result_meta(s, self.env[a]["dtype"], a)
        self.env[i] = {"shape": s, "dtype": "int64", "rg": False, "leaf": True}
        return v

    def op_dimop(self):
        a = self.ensure_float()
        out = self.name()
        fn = self.r.choice(["cumsum", "softmax", "log_softmax"])
        self.add({"k": "dimop", "out": out, "fn": fn, "a": a, "dim": self.pick_dim(self.env[a]["shape"])}, out,
                 self.result_meta(self.env[a]["shape"], self.env[a]["dtype"], a))
        return out

    def op_view(self):
        a = self.ensure_float()
        shape = list(self.env[a]["shape"])
        nd = len(shape)
        fns = ["unsqueeze", "reshape", "view", "detach", "clone", "expand", "flatten", "contiguous"]
        if nd >= 1:
            fns += ["select", "narrow", "squeeze", "squeeze_dim", "select", "narrow"]
        if nd == 2:
            fns += ["t", "t", "T"]
        if nd >= 2:
            fns += ["transpose", "permute", "transpose"]
        fn = self.r.choice(fns)
        args = []
        new = shape
        if fn == "select":
            d = self.r.randrange(nd)
            i = self.r.randrange(shape[d]) if shape[d] and self.r.random() < 0.95 else shape[d]
            if self.r.random() < 0.2:
                i = i - shape[d]
            args = [d, i]
            new = shape[:d] + shape[d + 1:]
        elif fn == "narrow":
            d = self.r.randrange(nd)
            start = self.r.randrange(shape[d]) if shape[d] else 0
            length = self.r.randint(0, shape[d] - start) if self.r.random() < 0.95 else shape[d] + 1
            args = [d, start, length]
            new = shape[:]
            new[d] = length
        elif fn == "transpose":
            d0, d1 = self.r.sample(range(nd), 2)
            args = [d0, d1]
            new = shape[:]
            new[d0], new[d1] = new[d1], new[d0]
        elif fn in ("t", "T"):
            new = shape[::-1]
        elif fn == "unsqueeze":
            d = self.r.randint(-nd - 1, nd)
            args = [d]
            new = shape[:]
            new.insert(d % (nd + 1), 1)
        elif fn == "squeeze":
            new = [s for s in shape if s != 1]
        elif fn == "squeeze_dim":
            d = self.r.randrange(nd)
            args = [d]
            new = shape[:d] + shape[d + 1:] if shape[d] == 1 else shape
        elif fn == "expand":
            if shape and shape[0] == 1:
                new = [self.r.choice([2, 3])] + shape[1:]
            else:
                new = [2] + shape
            args = [new if self.r.random() < 0.8 else [new[0]] + [-1] * (len(new) - 1)]
        elif fn in ("reshape", "view"):
            n = numel(shape)
            opts = [[n], [1, n], [n, 1]]
            if n == 6:
                opts += [[2, 3], [3, 2], [3, -1]]
            if n == 4:
                opts += [[2, 2], [-1]]
            if n == 8:
                opts += [[2, 4], [4, -1], [2, 2, 2]]
            if n == 1:
                opts += [[]]
            tgt = self.r.choice(opts)
            args = [tgt]
            new = [n // numel([t for t in tgt if t != -1]) if t == -1 else t for t in tgt] if tgt else []
        elif fn == "permute":
            dims = list(range(nd))
            self.r.shuffle(dims)
            args = [dims]
            new = [shape[d] for d in dims]
        elif fn == "flatten":
            new = [numel(shape)]
        meta = self.result_meta(new, self.env[a]["dtype"], a, grad_ok=fn != "detach")
        if fn not in ("detach", "clone", "contiguous"):
            meta["view_of_rg_leaf"] = self.is_rg_leaf_or_view(a)
        out = self.name()
        self.add({"k": "view", "out": out, "fn": fn, "a": a, "args": args}, out, meta)
        return out

    def index_items(self, shape):
        items = []
        new = []
        n = self.r.randint(1, max(1, len(shape)))
        for d in range(n):
            size = shape[d]
            c = self.r.random()
            if c < 0.45:
                i = self.r.randrange(size) if size else 0
                if self.r.random() < 0.2:
                    i -= size
                if self.r.random() < 0.015:
                    i = size + 2
                items.append(["i", i])
            elif c < 0.85:
                start = self.r.choice([None, 0, 1, -1, -2])
                end = self.r.choice([None, None, 1, 2, -1, 3])
                items.append(["r", start, end])
                st = 0 if start is None else (start + size if start < 0 else start)
                en = size if end is None else (end + size if end < 0 else end)
                st, en = max(0, min(st, size)), max(0, min(en, size))
                new.append(max(0, en - st))
            else:
                items.append(["f"])
                new.append(size)
        new += shape[n:]
        return items, new

    def op_index(self):
        a = self.ensure_float(lambda m: len(m["shape"]) >= 1)
        shape = self.env[a]["shape"]
        if not shape:
            return self.op_view()
        items, new = self.index_items(shape)
        out = self.name()
        meta = self.result_meta(new, self.env[a]["dtype"], a)
        meta["view_of_rg_leaf"] = self.is_rg_leaf_or_view(a)
        self.add({"k": "index", "out": out, "a": a, "items": items}, out, meta)
        return out

    def op_inplace(self):
        # target: a non-leaf (usual), a fresh tensor, or sometimes a leaf (to show the error)
        r = self.r.random()
        if r < 0.015:
            t = self.pick(lambda m: m["leaf"]) or self.leaf()
        else:
            t = self.pick(lambda m: not m["leaf"] and self.writable(m)) if r < 0.85 else \
                self.pick(self.writable)
            if t is None:
                t = self.op_binary()
        fn = self.r.choice(["add_", "sub_", "mul_", "div_", "pow_", "zero_", "fill_", "copy_", "iadd", "isub",
                            "imul", "idiv", "clamp_", "masked_fill_"] + INPLACE_UNARY)
        shape = self.env[t]["shape"]
        args = []
        extra = []
        if fn in ("add_", "sub_", "mul_", "div_", "pow_", "iadd", "isub", "imul", "idiv"):
            if self.r.random() < 0.5:
                cands = [n for n in self.float_vars() if n != t and self.bcast(shape, self.env[n]["shape"]) == shape]
                b = self.r.choice(cands) if cands else self.leaf(shape=shape[-1:] if shape else [])
                args = [{"v": b}]
                extra = [b]
            else:
                args = [self.num()]
        elif fn == "fill_":
            args = [self.num()]
        elif fn == "copy_":
            cands = [n for n in self.float_vars() if n != t and self.bcast(shape, self.env[n]["shape"]) == shape]
            b = self.r.choice(cands) if cands else self.leaf(shape=shape, rg=self.r.random() < 0.5)
            args = [{"v": b}]
            extra = [b]
        elif fn == "clamp_":
            args = self.clamp_bounds()
        elif fn == "masked_fill_":
            m = self.mask_for(t)
            args = [{"v": m}, self.num(int_ok=False)]
        stmt = {"k": "inplace", "t": t, "fn": fn, "args": args}
        self.stmts.append(stmt)
        meta = self.env[t]
        rg = (meta["rg"] or any(self.env[e]["rg"] for e in extra)) and not getattr(self, "in_no_grad", False)
        if rg and meta["leaf"] and not meta["rg"]:
            meta["leaf"] = False
        meta["rg"] = meta["rg"] or rg
        return t

    def clamp_bounds(self):
        c = self.r.random()
        lo = self.r.choice([-1.0, 0.0, 0.5, -0.5])
        hi = self.r.choice([1.0, 2.0, 0.5])
        if c < 0.4:
            return [{"n": lo}, {"n": hi}]
        if c < 0.7:
            return [{"n": lo}, None]
        return [None, {"n": hi}]

    def mask_for(self, a):
        shape = self.env[a]["shape"]
        cands = [n for n, m in self.env.items() if m["dtype"] == "bool" and self.bcast(shape, m["shape"]) == shape]
        if cands and self.r.random() < 0.5:
            return self.r.choice(cands)
        src = a if self.r.random() < 0.7 else self.ensure_float(lambda m: self.bcast(shape, m["shape"]) == shape)
        out = self.name("m")
        self.add({"k": "compare", "out": out, "fn": self.r.choice(["gt", "lt", "ge", "le", "eq", "ne"]), "a": src,
                  "b": {"n": self.r.choice([0.0, 0.5, 1.0, -1.0])}}, out,
                 {"shape": self.env[src]["shape"], "dtype": "bool", "rg": False, "leaf": True})
        return out

    def op_compare(self):
        a = self.ensure_float()
        return self.mask_for(a)

    def op_masked_fill(self):
        a = self.ensure_float()
        m = self.mask_for(a)
        out = self.name()
        v = self.num(int_ok=False)
        if self.r.random() < 0.2:
            v = {"n": self.r.choice(SPECIAL_VALUES)}
        self.add({"k": "masked_fill", "out": out, "a": a, "mask": m, "value": v}, out,
                 self.result_meta(self.env[a]["shape"], self.env[a]["dtype"], a))
        return out

    def op_clamp(self):
        a = self.ensure_float()
        lo, hi = self.clamp_bounds()
        out = self.name()
        self.add({"k": "clamp", "out": out, "a": a, "min": lo, "max": hi}, out,
                 self.result_meta(self.env[a]["shape"], self.env[a]["dtype"], a))
        return out

    def op_where(self):
        a = self.ensure_float()
        shape = self.env[a]["shape"]
        cands = [n for n in self.float_vars() if self.bcast(shape, self.env[n]["shape"]) is not None]
        b = self.r.choice(cands)
        m = self.mask_for(a)
        out = self.name()
        self.add({"k": "where", "out": out, "cond": m, "a": a, "b": b}, out,
                 self.result_meta(self.bcast(shape, self.env[b]["shape"]), self.promote(a, b), a, b))
        return out

    def op_gather(self):
        fn = self.r.choice(["gather", "index_select", "scatter", "index_with", "index_with_mask", "gather",
                            "index_select"])
        a = self.ensure_float(lambda m: len(m["shape"]) >= 1)
        shape = self.env[a]["shape"]
        if not shape:
            a = self.leaf(shape=[2, 3])
            shape = [2, 3]
        d = self.r.randrange(len(shape))
        out = self.name()
        if fn == "index_select":
            idx = self.index_leaf(shape[d], self.r.randint(1, 3))
            new = shape[:d] + [self.env[idx]["shape"][0]] + shape[d + 1:]
            self.add({"k": "gather", "out": out, "fn": fn, "a": a, "dim": d, "index": idx, "src": None}, out,
                     self.result_meta(new, self.env[a]["dtype"], a))
        elif fn == "gather":
            ishape = [self.r.randint(1, s) if s else 1 for s in shape]
            idx = self.index_leaf(shape[d], 0, shape=ishape) if len(shape) <= 2 else None
            if idx is None:
                return self.op_view()
            self.add({"k": "gather", "out": out, "fn": fn, "a": a, "dim": d, "index": idx, "src": None}, out,
                     self.result_meta(ishape, self.env[a]["dtype"], a))
        elif fn == "scatter":
            if len(shape) != 1:
                return self.op_binary()
            idx = self.index_leaf(shape[0], self.r.randint(1, max(1, shape[0])), unique=True)
            src = self.leaf(shape=self.env[idx]["shape"], dtype=self.env[a]["dtype"])
            self.add({"k": "gather", "out": out, "fn": fn, "a": a, "dim": 0, "index": idx, "src": src}, out,
                     self.result_meta(shape, self.env[a]["dtype"], a, src))
        elif fn == "index_with":
            idx = self.index_leaf(shape[0], self.r.randint(1, 3))
            new = [self.env[idx]["shape"][0]] + shape[1:]
            self.add({"k": "gather", "out": out, "fn": "index_with", "a": a, "dim": 0, "index": idx, "src": None},
                     out, self.result_meta(new, self.env[a]["dtype"], a))
        else:
            m = self.mask_for(a)
            self.add({"k": "gather", "out": out, "fn": "index_with", "a": a, "dim": 0, "index": m, "src": None},
                     out, self.result_meta([1], self.env[a]["dtype"], a))  # shape unknown: data-dependent
            self.env[out]["shape"] = [1]
            self.env[out]["unknown"] = True
        return out

    def op_cat(self):
        a = self.ensure_float(lambda m: len(m["shape"]) >= 1)
        shape = self.env[a]["shape"]
        if not shape:
            return self.op_binary()
        fn = self.r.choice(["cat", "stack"])
        same = [n for n in self.float_vars(lambda m: m["shape"] == shape)]
        b = self.r.choice(same)
        d = self.pick_dim(shape) if fn == "cat" else self.r.randint(0, len(shape))
        out = self.name()
        if fn == "cat":
            new = list(shape)
            new[d % len(shape)] *= 2
        else:
            new = list(shape)
            new.insert(d, 2)
        self.add({"k": "cat", "out": out, "fn": fn, "items": [a, b], "dim": d}, out,
                 self.result_meta(new, self.promote(a, b), a, b))
        return out

    def op_factory(self):
        shape = self.r.choice([[2], [3], [2, 2], [2, 3]])
        out = self.name("z")
        fn = self.r.choice(["zeros", "zeros", "ones", "full"])
        dtype = self.r.choice(["float32", "float32", "float64"])
        stmt = {"k": "factory", "out": out, "fn": fn, "shape": shape, "dtype": dtype, "rg": False}
        if fn == "full":
            stmt["value"] = self.r.choice([1.5, -2.0, 0.5])
        self.add(stmt, out, {"shape": shape, "dtype": dtype, "rg": False, "leaf": True})
        return out

    def op_assign(self):
        t = self.pick(self.writable)
        if t is None or self.r.random() < 0.4:
            t = self.op_factory() if self.r.random() < 0.6 else self.op_binary()
        shape = self.env[t]["shape"]
        if not shape:
            t = self.op_factory()
            shape = self.env[t]["shape"]
        items, region = self.index_items(shape)
        if self.r.random() < 0.4:
            value = self.num()
            extra = None
        else:
            srcs = [n for n in self.float_vars(lambda m: self.bcast(region, m["shape"]) == region and m["shape"] != region
                                               or m["shape"] == region) if n != t]
            if srcs and self.r.random() < 0.6:
                b = self.r.choice(srcs)
            else:
                b = self.op_unary_on(self.leaf(shape=region if self.r.random() < 0.7 else region[-1:]))
            value = {"v": b}
            extra = b
        self.stmts.append({"k": "assign", "t": t, "items": items, "value": value})
        if extra is not None and self.env[extra]["rg"] and not getattr(self, "in_no_grad", False):
            self.env[t]["rg"] = True
            self.env[t]["leaf"] = False
        return t

    def op_unary_on(self, a):
        out = self.name()
        fn = self.r.choice(["exp", "sin", "tanh", "sigmoid", "negop", "abs"])
        self.add({"k": "unary", "out": out, "fn": fn, "a": a}, out,
                 self.result_meta(self.env[a]["shape"], self.env[a]["dtype"], a))
        return out

    def op_assign_with(self):
        t = self.pick(lambda m: not m["leaf"] and len(m["shape"]) >= 1 and self.writable(m))
        if t is None:
            t = self.op_factory()
        shape = self.env[t]["shape"]
        if self.r.random() < 0.5:
            index = self.mask_for(t)
            value = self.num(int_ok=False) if self.r.random() < 0.6 else {"v": self.leaf(shape=[])}
        else:
            index = self.index_leaf(shape[0], self.r.randint(1, max(1, shape[0])), unique=True)
            if self.r.random() < 0.5:
                value = self.num(int_ok=False)
            else:
                value = {"v": self.leaf(shape=shape[1:], dtype=self.env[t]["dtype"])}
        self.stmts.append({"k": "assign_with", "t": t, "index": index, "value": value})
        if "v" in value and self.env[value["v"]]["rg"]:
            self.env[t]["rg"] = True
            self.env[t]["leaf"] = False
        return t

    def op_no_grad(self):
        saved = self.stmts
        self.stmts = []
        self.in_no_grad = True
        kind = self.r.choice(["binary", "inplace", "view", "unary", "inplace", "assign"])
        before = len(self.env)
        getattr(self, "op_" + kind)()
        self.in_no_grad = False
        body = self.stmts
        self.stmts = saved
        # helper statements (new leaves, masks) stay outside the block; the last one is the body
        self.stmts.extend(body[:-1])
        self.stmts.append({"k": "no_grad", "body": body[-1]})
        del before
        return None

    def scalarize(self, a):
        if self.env[a]["shape"] == [] and not self.env[a].get("unknown"):
            return a
        out = self.name("s")
        fn = self.r.choice(["sum", "sum", "mean"])
        self.add({"k": "reduce", "out": out, "fn": fn, "a": a, "dim": None, "keepdim": False, "p": None}, out,
                 self.result_meta([], self.env[a]["dtype"], a))
        return out

    def op_backward_mid(self):
        a = self.ensure_float(lambda m: m["rg"])
        s = self.scalarize(a)
        retain = self.r.random() < 0.8
        self.stmts.append({"k": "backward", "t": s, "grad": None, "retain": retain, "create": False, "inputs": None})
        self.print_grads()
        if self.r.random() < 0.3:
            for n, m in list(self.env.items()):
                if m["leaf"] and m["rg"]:
                    self.stmts.append({"k": "set_grad_none", "t": n})
        if self.r.random() < (0.5 if retain else 0.2):
            self.stmts.append({"k": "backward", "t": s, "grad": None, "retain": False, "create": False, "inputs": None})
            self.print_grads()
        return None

    def op_grad2(self):
        x = self.pick(lambda m: m["leaf"] and m["rg"])
        if x is None:
            x = self.leaf(rg=True)
        if self.r.random() < 0.5:
            y = self.op_unary_on(x)
        else:
            y = self.name()
            self.add({"k": "pow", "out": y, "a": x, "b": self.r.choice([{"i": 2}, {"i": 3}, {"n": 2.5}])}, y,
                     self.result_meta(self.env[x]["shape"], self.env[x]["dtype"], x))
            if self.r.random() < 0.5:
                y = self.op_unary_on(y)
        s = self.scalarize(y)
        g = self.name("g")
        self.stmts.append({"k": "grad", "outs": [g], "outputs": [s], "inputs": [x], "create": True})
        self.env[g] = {"shape": self.env[x]["shape"], "dtype": self.env[x]["dtype"], "rg": True, "leaf": False}
        self.stmts.append({"k": "print", "what": "value", "t": g})
        if self.r.random() < 0.5:
            self.stmts.append({"k": "print", "what": "grad_fn", "t": g})
        if self.r.random() < 0.25:
            # y.backward(create_graph=True): x.grad has a grad_fn of its own
            s3 = self.scalarize(y)
            self.stmts.append({"k": "backward", "t": s3, "grad": None, "retain": False, "create": True,
                               "inputs": None})
            self.stmts.append({"k": "print", "what": "grad", "t": x})
            self.stmts.append({"k": "set_grad_none", "t": x})
        elif self.r.random() < 0.5:
            g2 = self.name("g")
            self.stmts.append({"k": "grad", "outs": [g2], "outputs": [self.scalarize(g)], "inputs": [x],
                               "create": False})
            self.env[g2] = {"shape": self.env[x]["shape"], "dtype": self.env[x]["dtype"], "rg": False, "leaf": True}
            self.stmts.append({"k": "print", "what": "value", "t": g2})
        else:
            s2 = self.scalarize(g)
            self.stmts.append({"k": "backward", "t": s2, "grad": None, "retain": False, "create": False,
                               "inputs": None})
            self.print_grads()
        return None

    def op_hook(self):
        if self.r.random() < 0.08:
            # on a tensor that does not require grad: torch refuses
            t = self.pick(lambda m: not m["rg"]) or self.ensure_float(lambda m: m["rg"])
        else:
            t = self.pick(lambda m: m["rg"]) or self.leaf(rg=True)
        h = self.name("h")
        self.stmts.append({"k": "hook", "out": h, "t": t,
                           "fn": self.r.choice(["double", "double", "none", "add1", "neg", "print"])})
        self.handles = getattr(self, "handles", []) + [h]
        if self.r.random() < 0.2:
            self.stmts.append({"k": "unhook", "h": self.r.choice(self.handles)})
        return None

    def op_detach_(self):
        t = self.pick()
        if t is None:
            return None
        self.stmts.append({"k": "detach_", "t": t})
        self.env[t] = dict(self.env[t], rg=False, leaf=True)
        return t

    def op_set_data(self):
        a = self.pick()
        if a is None:
            return None
        if self.r.random() < 0.5:
            b = self.pick(lambda m: True, float_only=False)
        else:
            b = self.leaf(rg=False, shape=self.env[a]["shape"] if self.r.random() < 0.6 else None)
        self.stmts.append({"k": "set_data", "t": a, "v": b})
        self.env[a] = dict(self.env[a], shape=self.env[b]["shape"], dtype=self.env[b]["dtype"])
        return a

    # ----- integer and bool tensors, promotion, factories (theme "ints") ------------------
    def int_vars(self, pred=None):
        return [n for n, m in self.env.items() if m["dtype"] in ("int64", "bool") and (pred is None or pred(m))]

    def pick_int(self, pred=None):
        names = self.int_vars(pred)
        if names and self.r.random() < 0.85:
            return self.r.choice(names[-4:] if self.r.random() < 0.7 else names)
        shape = self.rand_shape()
        dtype = self.r.choice(["int64", "int64", "bool"])
        out = self.name("k")
        rg = self.r.random() < 0.03  # torch refuses: only floating point tensors can require gradients
        self.add({"k": "leaf", "out": out, "data": self.data(shape, dtype), "dtype": dtype, "rg": rg}, out,
                 {"shape": shape, "dtype": dtype, "rg": False, "leaf": True})
        return out

    @staticmethod
    def scalar_promote(dtype, num):
        """The dtype of `tensor op number` (a Python number takes part only by its kind)."""
        if "n" in num and dtype in ("int64", "bool"):
            return "float32"
        if "i" in num and dtype == "bool":
            return "int64"
        return dtype

    def int_number(self):
        if self.r.random() < 0.55:
            return {"i": self.r.choice([2, 3, -1, 0, 1])}
        return {"n": self.r.choice([2.0, 0.5, -1.0, 1.5])}

    def int_clamp_bounds(self):
        """Bounds for clamping an integer tensor: Python ints (the result stays int64) or
        fractional floats (float32). A whole float bound (`max=1.0`) is left out: in Rust
        `clamp(None, Some(1.0))` cannot say which of `1` and `1.0` it means, and autograd-core
        reads a whole bound as an int."""
        pick = lambda: self.r.choice([{"i": 0}, {"i": 2}, {"i": -1}, {"n": 0.5}, {"n": 1.5}])
        c = self.r.random()
        if c < 0.4:
            return [pick(), pick()]
        return [pick(), None] if c < 0.7 else [None, pick()]

    def op_int_binary(self):
        a = self.pick_int()
        sa = self.env[a]["shape"]
        op = self.r.choice(["+", "-", "*", "/"])
        r = self.r.random()
        if r < 0.5:
            cands = [n for n in self.env if n != a and self.bcast(sa, self.env[n]["shape"]) is not None]
            b = self.r.choice(cands) if cands and self.r.random() < 0.8 else self.pick_int()
            if self.bcast(sa, self.env[b]["shape"]) is None:
                dt = self.r.choice(["int64", "bool", "float32"])
                b = self.leaf(shape=sa, dtype=dt, rg=dt == "float32" and self.r.random() < 0.7)
            lhs, rhs = ({"v": a}, {"v": b}) if self.r.random() < 0.6 else ({"v": b}, {"v": a})
            shape, dtype, ins = self.bcast(sa, self.env[b]["shape"]), self.promote(a, b), [a, b]
        else:
            n = self.int_number()
            lhs, rhs = ({"v": a}, n) if self.r.random() < 0.6 else (n, {"v": a})
            shape, dtype, ins = sa, self.scalar_promote(self.env[a]["dtype"], n), [a]
        if op == "/" and dtype in ("int64", "bool"):
            dtype = "float32"
        out = self.name()
        self.add({"k": "binary", "out": out, "op": op, "a": lhs, "b": rhs}, out, self.result_meta(shape, dtype, *ins))
        return out

    def op_int_unary(self):
        fn = self.r.choice(["neg", "negop", "abs", "sign", "sgn", "float", "double", "long", "long", "logical_not",
                            "exp", "sqrt", "sigmoid", "relu", "tanh", "reciprocal", "log", "isnan"])
        a = self.ensure_float() if fn == "long" and self.r.random() < 0.6 else self.pick_int()
        dtype = self.env[a]["dtype"]
        if fn in ("float", "double", "long"):
            dtype = {"float": "float32", "double": "float64", "long": "int64"}[fn]
        elif fn in ("logical_not", "isnan"):
            dtype = "bool"
        elif fn in ("exp", "sqrt", "sigmoid", "tanh", "reciprocal", "log") and dtype in ("int64", "bool"):
            dtype = "float32"
        out = self.name()
        self.add({"k": "unary", "out": out, "fn": fn, "a": a}, out, self.result_meta(self.env[a]["shape"], dtype, a))
        return out

    def op_int_reduce(self):
        a = self.pick_int()
        shape, dtype = self.env[a]["shape"], self.env[a]["dtype"]
        fn = self.r.choice(["sum", "sum", "mean", "prod", "max", "min", "argmax", "cumsum", "any", "all"])
        if fn in ("any", "all"):
            self.stmts.append({"k": "print", "what": fn, "t": a})
            return None
        out = self.name()
        if fn == "cumsum":
            self.add({"k": "dimop", "out": out, "fn": fn, "a": a, "dim": self.pick_dim(shape)}, out,
                     self.result_meta(shape, "int64", a))
            return out
        dim, keepdim = None, False
        if fn in ("sum", "prod", "argmax") and self.r.random() < 0.4:
            dim, keepdim = self.pick_dim(shape), self.r.random() < 0.3
        rdtype = {"sum": "int64", "prod": "int64", "argmax": "int64", "mean": "float32"}.get(fn, dtype)
        self.add({"k": "reduce", "out": out, "fn": fn, "a": a, "dim": dim, "keepdim": keepdim, "p": None}, out,
                 self.result_meta(self.reduced_shape(shape, dim, keepdim), rdtype, a))
        return out

    def op_range(self):
        fn = self.r.choice(["arange", "arange", "arange3", "linspace", "eye", "zeros_like", "ones_like"])
        out = self.name("z")
        stmt = {"k": "range", "out": out, "fn": fn, "args": [], "dtype": None}
        if fn == "arange":
            end = self.r.choice([{"i": 3}, {"i": 4}, {"i": 1}, {"i": 0}, {"n": 3.0}, {"n": 2.5}, {"i": -1}])
            stmt["args"] = [end]
            v = end.get("i", end.get("n"))
            shape, dtype = [max(0, math.ceil(v))], "float32" if "n" in end else "int64"
        elif fn == "arange3":
            s, e, st = self.r.choice([(0, 5, 2), (1, 4, 1), (5, 0, -1), (0.0, 1.0, 0.25), (0, 1, 0.1), (-1.5, 1.5, 0.5),
                                      (0, 3, 0), (2, 0, 1), (0.5, 2, 0.5), (0, 0.3, 0.1), (1, 2.5, 0.3)])
            stmt["args"] = [{"i": v} if isinstance(v, int) else {"n": v} for v in (s, e, st)]
            shape = [max(0, math.ceil((e - s) / st))] if st else [0]
            dtype = "int64" if all(isinstance(v, int) for v in (s, e, st)) else "float32"
        elif fn == "linspace":
            s, e = self.r.choice([(0.0, 1.0), (-1.0, 1.0), (0.0, 10.0), (1.0, 0.0), (-2.5, 3.7), (0.1, 0.7)])
            n = self.r.choice([1, 2, 3, 5, 7])
            stmt["args"] = [{"n": s}, {"n": e}, {"i": n}]
            shape, dtype = [n], "float32"
        elif fn == "eye":
            n = self.r.choice([1, 2, 3])
            stmt["args"] = [{"i": n}]
            shape, dtype = [n, n], "float32"
        else:
            src = self.r.choice(list(self.env)) if self.env else self.leaf()
            stmt["args"] = [{"v": src}]
            shape, dtype = self.env[src]["shape"], self.env[src]["dtype"]
        if fn in ("arange", "arange3") and self.r.random() < 0.2:
            stmt["dtype"] = dtype = self.r.choice(["float64", "float32", "int64"])
        self.add(stmt, out, {"shape": shape, "dtype": dtype, "rg": False, "leaf": True})
        return out

    def op_int_param(self):
        """An integer tensor made a float parameter: `k.float().requires_grad_()`."""
        a = self.pick_int()
        out = self.name()
        fn = self.r.choice(["float", "float", "double"])
        dtype = "float32" if fn == "float" else "float64"
        self.add({"k": "unary", "out": out, "fn": fn, "a": a}, out,
                 {"shape": self.env[a]["shape"], "dtype": dtype, "rg": False, "leaf": True})
        self.stmts.append({"k": "requires_grad_", "t": out, "flag": True})
        self.env[out]["rg"] = True
        return out

    def op_int_compare(self):
        a = self.pick_int() if self.r.random() < 0.7 else self.ensure_float()
        sa = self.env[a]["shape"]
        out = self.name("m")
        if self.r.random() < 0.2:
            b = self.pick_int(lambda m: self.bcast(sa, m["shape"]) is not None)
            if self.bcast(sa, self.env[b]["shape"]) is None:
                return None
            self.add({"k": "logical_and", "out": out, "a": a, "b": b}, out,
                     {"shape": self.bcast(sa, self.env[b]["shape"]), "dtype": "bool", "rg": False, "leaf": True})
            return out
        cands = [n for n in self.env if n != a and self.bcast(sa, self.env[n]["shape"]) is not None]
        b = {"v": self.r.choice(cands)} if cands and self.r.random() < 0.4 else self.int_number()
        shape = self.bcast(sa, self.env[b["v"]]["shape"]) if "v" in b else sa
        self.add({"k": "compare", "out": out, "fn": self.r.choice(["gt", "lt", "ge", "le", "eq", "ne"]), "a": a,
                  "b": b}, out, {"shape": shape, "dtype": "bool", "rg": False, "leaf": True})
        return out

    def op_int_mix(self):
        """where / maximum / cat / pow / masked_fill / clamp with an integer tensor on one side."""
        fn = self.r.choice(["where", "maximum", "minimum", "cat", "pow", "pow", "rpow", "masked_fill", "clamp",
                            "inplace"])
        a = self.pick_int()
        sa = self.env[a]["shape"]
        out = self.name()
        if fn in ("where", "maximum", "minimum"):
            cands = [n for n in self.env if n != a and self.bcast(sa, self.env[n]["shape"]) is not None]
            b = self.r.choice(cands) if cands else self.leaf(shape=sa)
            x, y = (a, b) if self.r.random() < 0.5 else (b, a)
            shape, dtype = self.bcast(sa, self.env[b]["shape"]), self.promote(a, b)
            if fn == "where":
                m = self.mask_for(a) if self.r.random() < 0.5 else self.op_int_compare()
                if m is None or self.bcast(shape, self.env[m]["shape"]) is None:
                    return None
                shape = self.bcast(shape, self.env[m]["shape"])
                self.add({"k": "where", "out": out, "cond": m, "a": x, "b": y}, out,
                         self.result_meta(shape, dtype, x, y))
            else:
                self.add({"k": "maxmin", "out": out, "fn": fn, "a": x, "b": y}, out,
                         self.result_meta(shape, dtype, x, y))
        elif fn == "cat":
            if not sa:
                return None
            same = [n for n in self.env if self.env[n]["shape"] == sa]
            b = self.r.choice(same)
            items = [a, b] if self.r.random() < 0.5 else [b, a]
            new = list(sa)
            new[0] *= 2
            self.add({"k": "cat", "out": out, "fn": "cat", "items": items, "dim": 0}, out,
                     self.result_meta(new, self.promote(a, b), a, b))
        elif fn == "pow":
            if self.r.random() < 0.3:
                cands = [n for n in self.env if self.bcast(sa, self.env[n]["shape"]) is not None]
                b = self.r.choice(cands)
                x, y = (a, b) if self.r.random() < 0.5 else (b, a)
                self.add({"k": "pow", "out": out, "a": x, "b": {"v": y}}, out,
                         self.result_meta(self.bcast(sa, self.env[b]["shape"]), self.promote(a, b), a, b))
            else:
                e = self.r.choice([{"i": 2}, {"i": 3}, {"i": 0}, {"i": -1}, {"n": 0.5}, {"n": 2.0}, {"i": 1}])
                self.add({"k": "pow", "out": out, "a": a, "b": e}, out,
                         self.result_meta(sa, self.scalar_promote(self.env[a]["dtype"], e), a))
        elif fn == "rpow":
            base = self.r.choice([{"i": 2}, {"n": 2.0}, {"n": 0.5}, {"i": 3}, {"i": -2}])
            self.add({"k": "rpow", "out": out, "base": base, "a": a}, out,
                     self.result_meta(sa, self.scalar_promote(self.env[a]["dtype"], base), a))
        elif fn == "masked_fill":
            m = self.mask_for(a)
            self.add({"k": "masked_fill", "out": out, "a": a, "mask": m,
                      "value": self.r.choice([{"n": 1.5}, {"n": -1.0}, {"n": 0.0}])}, out,
                     self.result_meta(sa, self.env[a]["dtype"], a))
        elif fn == "clamp":
            lo, hi = self.int_clamp_bounds()
            whole = all(b is None or "i" in b for b in (lo, hi))
            self.add({"k": "clamp", "out": out, "a": a, "min": lo, "max": hi}, out,
                     self.result_meta(sa, "int64" if whole else "float32", a))
        else:
            f = self.r.choice(["add_", "mul_", "div_", "sub_", "iadd", "imul", "zero_", "fill_", "neg_", "abs_",
                               "clamp_", "exp_"])
            args = []
            if f in ("add_", "mul_", "div_", "sub_", "iadd", "imul"):
                cands = [n for n in self.env if n != a and self.bcast(sa, self.env[n]["shape"]) == sa]
                args = [{"v": self.r.choice(cands)}] if cands and self.r.random() < 0.4 else [self.int_number()]
            elif f == "fill_":
                args = [self.int_number()]
            elif f == "clamp_":
                args = self.int_clamp_bounds()
            self.stmts.append({"k": "inplace", "t": a, "fn": f, "args": args})
            return a
        return out

    def op_custom(self):
        name = self.r.choices(list(CUSTOM_WEIGHTS), list(CUSTOM_WEIGHTS.values()))[0]
        a = self.ensure_float()
        args = [a]
        shape, dtype = self.env[a]["shape"], self.env[a]["dtype"]
        if CUSTOM[name][0] == 2:
            sa = shape
            cands = [n for n in self.float_vars() if n != a and self.bcast(sa, self.env[n]["shape"]) is not None]
            b = self.r.choice(cands) if cands and self.r.random() < 0.7 else self.leaf(shape=sa)
            args.append(b)
            shape, dtype = self.bcast(sa, self.env[b]["shape"]), self.promote(a, b)
        out = self.name()
        self.add({"k": "custom", "out": out, "fn": name, "args": args}, out, self.result_meta(shape, dtype, *args))
        return out

    def print_grads(self):
        for n, m in self.env.items():
            if m["leaf"] and m["rg"]:
                self.stmts.append({"k": "print", "what": "grad", "t": n})

    # ----- programs -------------------------------------------------------------------
    def program(self, theme):
        self.special = theme == "special" or self.r.random() < 0.05
        # a quarter of the programs (and all of theme "values") take teacher-like data: random
        # decimals and some longer shapes, where the nice values above round exactly
        self.noisy = theme == "values" or self.r.random() < 0.25
        self.big = theme == "big"
        if theme == "values":
            theme = "mixed"
        weights = THEMES[theme]
        groups = list(weights)
        nleaves = self.r.randint(1, 3)
        for _ in range(nleaves):
            x = self.leaf()
            if not self.env[x]["rg"] and self.r.random() < 0.3:
                self.stmts.append({"k": "requires_grad_", "t": x, "flag": True})
                self.env[x]["rg"] = True
        nops = self.r.randint(3, 12)
        ops = 0
        while ops < nops:
            g = self.r.choices(groups, [weights[k] for k in groups])[0]
            fn = {"reduce_new": lambda: self.op_reduce(new=True)}.get(g) or getattr(self, "op_" + g)
            out = fn()
            ops += 1
            if out is not None and self.r.random() < 0.3:
                self.stmts.append({"k": "print", "what": "value", "t": out})
            if out is not None and self.r.random() < 0.12:
                whats = ["grad_fn", "requires_grad", "is_leaf"]
                if self.env[out]["rg"] and not self.env[out]["leaf"]:
                    whats.append("next_functions")
                self.stmts.append({"k": "print", "what": self.r.choice(whats), "t": out})
        self.finish()
        return self.stmts

    def finish(self):
        last = [n for n in self.float_vars() if self.env[n]["rg"]]
        ends = self.r.random()
        if last and ends < 0.85:
            y = last[-1]
            self.stmts.append({"k": "print", "what": "value", "t": y})
            if self.r.random() < 0.3:
                self.stmts.append({"k": "retain_grad", "t": y})
            if self.r.random() < 0.06 and self.env[y]["shape"] != []:
                # non-scalar backward: with a gradient, or the error torch raises without one
                if self.r.random() < 0.6 and not self.env[y].get("unknown"):
                    gname = self.leaf(shape=self.env[y]["shape"], dtype=self.env[y]["dtype"], rg=False)
                    self.stmts.append({"k": "backward", "t": y, "grad": gname, "retain": False, "create": False,
                                       "inputs": None})
                else:
                    self.stmts.append({"k": "backward", "t": y, "grad": None, "retain": False, "create": False,
                                       "inputs": None})
            else:
                s = self.scalarize(y)
                self.stmts.append({"k": "print", "what": "grad_fn", "t": s})
                if self.r.random() < 0.15:
                    self.stmts.append({"k": "print", "what": "item", "t": s})
                inputs = None
                leaves = [n for n, m in self.env.items() if m["leaf"] and m["rg"]]
                if leaves and self.r.random() < 0.08:
                    inputs = [self.r.choice(leaves)]
                self.stmts.append({"k": "backward", "t": s, "grad": None, "retain": self.r.random() < 0.2,
                                   "create": False, "inputs": inputs})
            self.print_grads()
            if self.r.random() < 0.3:
                self.stmts.append({"k": "print", "what": "grad", "t": y})
            for n in self.r.sample(list(self.env), min(2, len(self.env))):
                if self.r.random() < 0.3:
                    self.stmts.append({"k": "print", "what": self.r.choice(["is_leaf", "requires_grad", "grad_fn"]),
                                       "t": n})
        else:
            for n in list(self.env)[-2:]:
                self.stmts.append({"k": "print", "what": "value", "t": n})


# ----- user-defined functions (theme "custom") ---------------------------------------------
# Each: number of inputs, then the bodies of forward and backward in Python and in Rust (the
# class and impl around them are written by custom_py / custom_rs). The Rust side in
# autograd-core/tests/difftest/interp.rs makes the same calls.
CUSTOM = {
    "Scale": (1,
        'return x * 3.0',
        'return g * 3.0',
        '&inputs[0] * 3.0',
        'vec![Some(g * 3.0)]',
    ),
    "Square": (1,
        'ctx.save_for_backward(x)\nreturn x * x',
        'x, = ctx.saved_tensors\nreturn 2.0 * x * g',
        'ctx.save_for_backward(&[&inputs[0]]);\n&inputs[0] * &inputs[0]',
        'let x = &ctx.saved_tensors()[0];\nvec![Some(&(2.0 * x) * g)]',
    ),
    "Relu": (1,
        'ctx.save_for_backward(x)\nreturn x.clamp(min=0.0)',
        'x, = ctx.saved_tensors\nreturn g * (x > 0.0)',
        'ctx.save_for_backward(&[&inputs[0]]);\ninputs[0].clamp(Some(0.0), None)',
        'let x = &ctx.saved_tensors()[0];\nvec![Some(g * &x.gt(0.0))]',
    ),
    "ExpOut": (1,
        'y = x.exp()\nctx.save_for_backward(y)\nreturn y',
        'y, = ctx.saved_tensors\nreturn g * y',
        'let y = inputs[0].exp();\nctx.save_for_backward(&[&y]);\ny',
        'let y = &ctx.saved_tensors()[0];\nvec![Some(g * y)]',
    ),
    "Mul2": (2,
        'ctx.save_for_backward(a, b)\nreturn a * b',
        'a, b = ctx.saved_tensors\nreturn g * b, g * a',
        'ctx.save_for_backward(&[&inputs[0], &inputs[1]]);\n&inputs[0] * &inputs[1]',
        'let saved = ctx.saved_tensors();\nvec![Some(g * &saved[1]), Some(g * &saved[0])]',
    ),
    "FirstOnly": (2,
        'return a + b',
        'return g, None',
        '&inputs[0] + &inputs[1]',
        'vec![Some(g.clone()), None]',
    ),
    "NeedsGrad": (2,
        'return a - b',
        'return (g if ctx.needs_input_grad[0] else None), (-g if ctx.needs_input_grad[1] else None)',
        '&inputs[0] - &inputs[1]',
        'vec![ctx.needs_input_grad[0].then(|| g.clone()), ctx.needs_input_grad[1].then(|| -g)]',
    ),
    "Ident": (1,
        'return x',
        'return g * 3.0',
        'inputs[0].clone()',
        'vec![Some(g * 3.0)]',
    ),
    "SumBad": (1,
        'return x * 2.0',
        'return (g * 2.0).sum()',
        '&inputs[0] * 2.0',
        'vec![Some((g * 2.0).sum())]',
    ),
    "ExtraNone": (1,
        'return x * 2.0',
        'return g * 2.0, None',
        '&inputs[0] * 2.0',
        'vec![Some(g * 2.0), None]',
    ),
    "ExtraBad": (1,
        'return x * 2.0',
        'return g * 2.0, g',
        '&inputs[0] * 2.0',
        'vec![Some(g * 2.0), Some(g.clone())]',
    ),
}
CUSTOM_WEIGHTS = {"Scale": 2, "Square": 3, "Relu": 2, "ExpOut": 2, "Mul2": 3, "FirstOnly": 2, "NeedsGrad": 2, "Ident": 2, "SumBad": 1, "ExtraNone": 1, "ExtraBad": 1}

def custom_used(stmts):
    used = []
    for s in stmts:
        if s["k"] == "no_grad":
            s = s["body"]
        if s["k"] == "custom" and s["fn"] not in used:
            used.append(s["fn"])
    return used


def _indent(body, spaces):
    return "\n".join(" " * spaces + line for line in body.split("\n"))


def custom_py(name):
    n, forward, backward, _, _ = CUSTOM[name]
    args = "x" if n == 1 else "a, b"
    return (f"class {name}(torch.autograd.Function):\n    @staticmethod\n    def forward(ctx, {args}):\n"
            f"{_indent(forward, 8)}\n    @staticmethod\n    def backward(ctx, g):\n{_indent(backward, 8)}\n")


def custom_rs(name):
    _, _, _, forward, backward = CUSTOM[name]
    ctx = lambda body: "ctx" if "ctx" in body else "_ctx"
    return (f"struct {name};\n\nimpl Function for {name} {{\n"
            f"    fn forward(&mut self, {ctx(forward)}: &mut Context, inputs: &[Tensor]) -> Tensor {{\n"
            f"{_indent(forward, 8)}\n    }}\n"
            f"    fn backward(&mut self, {ctx(backward)}: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {{\n"
            f"{_indent(backward, 8)}\n    }}\n}}\n")


# ----- rendering ----------------------------------------------------------------------

def py_num(v):
    if isinstance(v, str):
        return f"float('{v}')"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def rs_num(v, float_ctx=True):
    if isinstance(v, str):
        return {"inf": "f64::INFINITY", "-inf": "f64::NEG_INFINITY", "nan": "f64::NAN"}[v]
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        s = repr(v)
        return s
    return str(v)


def py_operand(o):
    if "v" in o:
        return o["v"]
    if "n" in o:
        return py_num(o["n"] if isinstance(o["n"], str) else float(o["n"]))
    return str(o["i"])


def rs_operand(o, by_ref=True):
    if "v" in o:
        return ("&" if by_ref else "") + o["v"]
    if "n" in o:
        return rs_num(o["n"] if isinstance(o["n"], str) else float(o["n"]))
    return str(o["i"])


def as_float(o):
    """A number operand as a float one (Rust's `Option<f64>` bounds)."""
    return {"n": float(o["i"])} if "i" in o else o


def py_data(d):
    if isinstance(d, list):
        return "[" + ", ".join(py_data(x) for x in d) + "]"
    return py_num(d)


def rs_data(d, dtype):
    if isinstance(d, list):
        return "[" + ", ".join(rs_data(x, dtype) for x in d) + "]"
    if dtype in ("float32", "float64"):
        if isinstance(d, str):
            return rs_num(d)
        s = repr(float(d))
        return s[:-1] if s.endswith(".0") else s  # `1.` as a Rust literal
    return rs_num(d)


def py_items(items):
    parts = []
    for it in items:
        if it[0] == "i":
            parts.append(str(it[1]))
        elif it[0] == "f":
            parts.append(":")
        else:
            parts.append(f"{'' if it[1] is None else it[1]}:{'' if it[2] is None else it[2]}")
    return ", ".join(parts)


def rs_items(items):
    parts = []
    for it in items:
        if it[0] == "i":
            parts.append(str(it[1]))
        elif it[0] == "f":
            parts.append("..")
        else:
            parts.append(f"{'' if it[1] is None else it[1]}..{'' if it[2] is None else it[2]}")
    return "idx![" + ", ".join(parts) + "]"


DT_PY = {"float32": "torch.float32", "float64": "torch.float64", "int64": "torch.int64", "bool": "torch.bool"}


def render_py(s):
    k = s["k"]
    if k == "leaf":
        opts = ""
        if s["dtype"] in ("float64", "int64") or (s["dtype"] == "float32" and not _all_float(s["data"])):
            opts += f", dtype={DT_PY[s['dtype']]}"
        if s["rg"]:
            opts += ", requires_grad=True"
        return f"{s['out']} = torch.tensor({py_data(s['data'])}{opts})"
    if k == "random":
        dims = ", ".join(map(str, s["shape"])) if s["shape"] else "()"
        if s["fn"] == "randint":
            call = f"torch.randint({s['low']}, {s['high']}, ({dims}{',' if len(s['shape']) == 1 else ''}))"
        else:
            opts = f", dtype={DT_PY[s['dtype']]}" if s["dtype"] != "float32" else ""
            opts += ", requires_grad=True" if s["rg"] else ""
            call = f"torch.{s['fn']}({dims}{opts})"
        return f"torch.manual_seed({s['seed']})\n{s['out']} = {call}"
    if k == "factory":
        dims = ", ".join(map(str, s["shape"]))
        opts = f", dtype={DT_PY[s['dtype']]}" if s["dtype"] != "float32" else ""
        if s["fn"] == "full":
            return f"{s['out']} = torch.full(({dims},), {py_num(s['value'])}{opts})"
        return f"{s['out']} = torch.{s['fn']}({dims}{opts})"
    if k == "binary":
        return f"{s['out']} = {py_operand(s['a'])} {s['op']} {py_operand(s['b'])}"
    if k == "alpha":
        return f"{s['out']} = torch.{s['fn']}({s['a']}, {s['b']}, alpha={py_num(s['alpha'])})"
    if k == "pow":
        return f"{s['out']} = {s['a']}.pow({py_operand(s['b'])})"
    if k == "rpow":
        base = py_operand(s['base'])
        # Python reads `-2.0 ** x` as -(2.0 ** x): a negative base needs its parentheses
        if base.startswith("-"):
            base = f"({base})"
        return f"{s['out']} = {base} ** {s['a']}"
    if k == "maxmin":
        return f"{s['out']} = torch.{s['fn']}({s['a']}, {s['b']})"
    if k == "mm":
        if s["fn"] == "@":
            return f"{s['out']} = {s['a']} @ {s['b']}"
        return f"{s['out']} = {s['a']}.{s['fn']}({s['b']})"
    if k == "unary":
        if s["fn"] == "negop":
            return f"{s['out']} = -{s['a']}"
        return f"{s['out']} = {s['a']}.{s['fn']}()"
    if k == "reduce":
        args = []
        if s["fn"] == "norm" and s["p"] is not None:
            args.append(f"p={py_num(s['p'])}")
        if s["dim"] is not None:
            args.append(f"dim={s['dim']}")
            if s["keepdim"]:
                args.append("keepdim=True")
        return f"{s['out']} = {s['a']}.{s['fn']}({', '.join(args)})"
    if k == "reduce2":
        kd = ", keepdim=True" if s["keepdim"] else ""
        return f"{s['out'][0]}, {s['out'][1]} = {s['a']}.{s['fn']}(dim={s['dim']}{kd})"
    if k == "dimop":
        return f"{s['out']} = {s['a']}.{s['fn']}(dim={s['dim']})"
    if k == "view":
        fn, a, args = s["fn"], s["a"], s["args"]
        if fn == "T":
            return f"{s['out']} = {a}.T"
        if fn == "squeeze_dim":
            return f"{s['out']} = {a}.squeeze({args[0]})"
        if fn in ("expand", "reshape", "view", "permute"):
            return f"{s['out']} = {a}.{fn}({', '.join(map(str, args[0]))})" if args[0] else \
                f"{s['out']} = {a}.{fn}(())"
        return f"{s['out']} = {a}.{fn}({', '.join(map(str, args))})"
    if k == "index":
        return f"{s['out']} = {s['a']}[{py_items(s['items'])}]"
    if k == "inplace":
        fn, t, args = s["fn"], s["t"], s["args"]
        ops = {"iadd": "+=", "isub": "-=", "imul": "*=", "idiv": "/="}
        if fn in ops:
            return f"{t} {ops[fn]} {py_operand(args[0])}"
        if fn == "clamp_":
            parts = []
            if args[0] is not None:
                parts.append(f"min={py_operand(args[0])}")
            if args[1] is not None:
                parts.append(f"max={py_operand(args[1])}")
            return f"{t}.clamp_({', '.join(parts)})"
        return f"{t}.{fn}({', '.join(py_operand(a) for a in args)})"
    if k == "assign":
        return f"{s['t']}[{py_items(s['items'])}] = {py_operand(s['value'])}"
    if k == "assign_with":
        return f"{s['t']}[{s['index']}] = {py_operand(s['value'])}"
    if k == "compare":
        op = {"gt": ">", "lt": "<", "ge": ">=", "le": "<=", "eq": "==", "ne": "!="}[s["fn"]]
        return f"{s['out']} = {s['a']} {op} {py_operand(s['b'])}"
    if k == "masked_fill":
        return f"{s['out']} = {s['a']}.masked_fill({s['mask']}, {py_operand(s['value'])})"
    if k == "clamp":
        parts = []
        if s["min"] is not None:
            parts.append(f"min={py_operand(s['min'])}")
        if s["max"] is not None:
            parts.append(f"max={py_operand(s['max'])}")
        return f"{s['out']} = {s['a']}.clamp({', '.join(parts)})"
    if k == "where":
        return f"{s['out']} = torch.where({s['cond']}, {s['a']}, {s['b']})"
    if k == "custom":
        return f"{s['out']} = {s['fn']}.apply({', '.join(s['args'])})"
    if k == "logical_and":
        return f"{s['out']} = {s['a']}.logical_and({s['b']})"
    if k == "range":
        args = [py_operand(x) for x in s["args"]]
        fn = "arange" if s["fn"] == "arange3" else s["fn"]
        if s["dtype"] is not None:
            args.append(f"dtype={DT_PY[s['dtype']]}")
        return f"{s['out']} = torch.{fn}({', '.join(args)})"
    if k == "gather":
        fn = s["fn"]
        if fn == "index_with":
            return f"{s['out']} = {s['a']}[{s['index']}]"
        if fn == "scatter":
            return f"{s['out']} = {s['a']}.scatter({s['dim']}, {s['index']}, {s['src']})"
        return f"{s['out']} = {s['a']}.{fn}({s['dim']}, {s['index']})"
    if k == "cat":
        return f"{s['out']} = torch.{s['fn']}([{', '.join(s['items'])}], dim={s['dim']})"
    if k == "no_grad":
        return "with torch.no_grad():\n    " + render_py(s["body"]).replace("\n", "\n    ")
    if k == "backward":
        args = []
        if s["grad"] is not None:
            args.append(s["grad"])
        if s["retain"]:
            args.append("retain_graph=True")
        if s["create"]:
            args.append("create_graph=True")
        if s["inputs"] is not None:
            args.append(f"inputs=[{', '.join(s['inputs'])}]")
        return f"{s['t']}.backward({', '.join(args)})"
    if k == "grad":
        cg = ", create_graph=True" if s["create"] else ""
        return f"{', '.join(s['outs'])}, = torch.autograd.grad([{', '.join(s['outputs'])}], " \
               f"[{', '.join(s['inputs'])}]{cg})"
    if k == "requires_grad_":
        return f"{s['t']}.requires_grad_({py_num(s['flag'])})"
    if k == "retain_grad":
        return f"{s['t']}.retain_grad()"
    if k == "hook":
        fn = {"double": "g * 2", "none": "None", "add1": "g + 1", "neg": "-g", "print": "print(g)"}[s["fn"]]
        return f"{s['out']} = {s['t']}.register_hook(lambda g: {fn})"
    if k == "unhook":
        return f"{s['h']}.remove()"
    if k == "detach_":
        return f"{s['t']}.detach_()"
    if k == "set_data":
        return f"{s['t']}.data = {s['v']}"
    if k == "set_grad_none":
        return f"{s['t']}.grad = None"
    if k == "print":
        t, w = s["t"], s["what"]
        return {
            "value": f"print({t})",
            "grad": f"print({t}.grad)",
            "grad_fn": f"print({t}.grad_fn.name() if {t}.grad_fn is not None else None)",
            "requires_grad": f"print({t}.requires_grad)",
            "is_leaf": f"print({t}.is_leaf)",
            "next_functions": f"print([(f.name() if f is not None else None, i) for f, i in {t}.grad_fn.next_functions]"
                              f" if {t}.grad_fn is not None else None)",
            "item": f"print({t}.item())",
            "any": f"print(bool({t}.any()))",
            "all": f"print(bool({t}.all()))",
        }[w]
    raise ValueError(k)


def _all_float(d):
    if isinstance(d, list):
        return all(_all_float(x) for x in d)
    return isinstance(d, float) or isinstance(d, str)


def render_rs(s, mutable=frozenset()):
    k = s["k"]

    def let(name):
        return f"let {'mut ' if name in mutable else ''}{name}"

    if k == "leaf":
        opts = []
        if s["dtype"] in ("float64",) or (s["dtype"] == "int64" and not _all_int(s["data"])):
            opts.append(f"dtype = {s['dtype']}")
        if s["dtype"] == "float32" and not _all_float(s["data"]):
            opts.append("dtype = float32")
        if s["rg"]:
            opts.append("requires_grad = true")
        return f"{let(s['out'])} = tensor!({rs_data(s['data'], s['dtype'])}{''.join(', ' + o for o in opts)});"
    if k == "random":
        dims = ", ".join(map(str, s["shape"]))
        if s["fn"] == "randint":
            call = f"randint({s['low']}, {s['high']}, &[{dims}])"
        elif s["dtype"] == "float32" and not s["rg"]:
            call = f"{s['fn']}(&[{dims}])"
        else:
            opt = "TensorOptions::default()"
            if s["dtype"] == "float64":
                opt += ".dtype(DType::Float64)"
            if s["rg"]:
                opt += ".requires_grad(true)"
            call = f"{s['fn']}_with(&[{dims}], {opt})"
        return f"manual_seed({s['seed']}); {let(s['out'])} = {call};"
    if k == "factory":
        dims = ", ".join(map(str, s["shape"]))
        if s["dtype"] != "float32":
            opt = f"TensorOptions::default().dtype(DType::{'Float64' if s['dtype'] == 'float64' else 'Int64'})"
            if s["fn"] == "full":
                return f"{let(s['out'])} = full_with(&[{dims}], {rs_num(s['value'])}, {opt});"
            return f"{let(s['out'])} = {s['fn']}_with(&[{dims}], {opt});"
        if s["fn"] == "full":
            return f"{let(s['out'])} = full(&[{dims}], {rs_num(s['value'])});"
        return f"{let(s['out'])} = {s['fn']}(&[{dims}]);"
    if k == "binary":
        return f"{let(s['out'])} = {rs_operand(s['a'])} {s['op']} {rs_operand(s['b'])};"
    if k == "alpha":
        return f"{let(s['out'])} = {s['a']}.{s['fn']}_alpha(&{s['b']}, {rs_num(float(s['alpha']))});"
    if k == "pow":
        return f"{let(s['out'])} = {s['a']}.pow({rs_operand(s['b'])});"
    if k == "rpow":
        return f"{let(s['out'])} = {s['a']}.rpow({rs_operand(s['base'])});"
    if k == "maxmin":
        return f"{let(s['out'])} = {s['a']}.{s['fn']}(&{s['b']});"
    if k == "mm":
        fn = "matmul" if s["fn"] == "@" else s["fn"]
        return f"{let(s['out'])} = {s['a']}.{fn}(&{s['b']});"
    if k == "unary":
        if s["fn"] == "negop":
            return f"{let(s['out'])} = -&{s['a']};"
        return f"{let(s['out'])} = {s['a']}.{s['fn']}();"
    if k == "reduce":
        fn, dim, kd = s["fn"], s["dim"], "true" if s["keepdim"] else "false"
        if fn == "norm" and s["p"] is not None:
            if dim is None:
                return f"{let(s['out'])} = {s['a']}.norm_p({rs_num(float(s['p']))});"
            return f"{let(s['out'])} = {s['a']}.norm_dim({rs_num(float(s['p']))}, {dim}, {kd});"
        if dim is None:
            return f"{let(s['out'])} = {s['a']}.{fn}();"
        return f"{let(s['out'])} = {s['a']}.{fn}_dim({dim}, {kd});"
    if k == "reduce2":
        kd = "true" if s["keepdim"] else "false"
        return f"let ({s['out'][0]}, {s['out'][1]}) = {s['a']}.{s['fn']}_dim({s['dim']}, {kd});"
    if k == "dimop":
        return f"{let(s['out'])} = {s['a']}.{s['fn']}({s['dim']});"
    if k == "view":
        fn, a, args = s["fn"], s["a"], s["args"]
        if fn == "clone":
            return f"{let(s['out'])} = {a}.deep_clone();"
        if fn in ("expand", "reshape", "view", "permute"):
            return f"{let(s['out'])} = {a}.{fn}(&[{', '.join(map(str, args[0]))}]);" if args[0] else \
                f"{let(s['out'])} = {a}.{fn}(&[] as &[i64; 0]);"
        return f"{let(s['out'])} = {a}.{fn}({', '.join(map(str, args))});"
    if k == "index":
        return f"{let(s['out'])} = {s['a']}.index({rs_items(s['items'])});"
    if k == "inplace":
        fn, t, args = s["fn"], s["t"], s["args"]
        ops = {"iadd": "+=", "isub": "-=", "imul": "*=", "idiv": "/="}
        if fn in ops:
            return f"{t} {ops[fn]} {rs_operand(args[0])};"
        if fn == "clamp_":
            lo = "None" if args[0] is None else f"Some({rs_operand(as_float(args[0]))})"
            hi = "None" if args[1] is None else f"Some({rs_operand(as_float(args[1]))})"
            return f"{t}.clamp_({lo}, {hi});"
        if fn == "fill_" or fn == "masked_fill_":
            return f"{t}.{fn}({', '.join(rs_operand(a) for a in args)});"
        return f"{t}.{fn}({', '.join(rs_operand(a) for a in args)});"
    if k == "assign":
        return f"{s['t']}.assign({rs_items(s['items'])}, {rs_operand(s['value'])});"
    if k == "assign_with":
        return f"{s['t']}.assign_with(&{s['index']}, {rs_operand(s['value'])});"
    if k == "compare":
        return f"{let(s['out'])} = {s['a']}.{s['fn']}({rs_operand(s['b'])});"
    if k == "masked_fill":
        return f"{let(s['out'])} = {s['a']}.masked_fill(&{s['mask']}, {rs_operand(s['value'])});"
    if k == "clamp":
        lo = "None" if s["min"] is None else f"Some({rs_operand(as_float(s['min']))})"
        hi = "None" if s["max"] is None else f"Some({rs_operand(as_float(s['max']))})"
        return f"{let(s['out'])} = {s['a']}.clamp({lo}, {hi});"
    if k == "where":
        return f"{let(s['out'])} = where_(&{s['cond']}, &{s['a']}, &{s['b']});"
    if k == "custom":
        return f"{let(s['out'])} = {s['fn']}.apply(&[{', '.join('&' + x for x in s['args'])}]);"
    if k == "logical_and":
        return f"{let(s['out'])} = {s['a']}.logical_and(&{s['b']});"
    if k == "range":
        args = [rs_operand(x) for x in s["args"]]
        fn = s["fn"]
        if fn in ("zeros_like", "ones_like"):
            return f"{let(s['out'])} = {fn}({args[0]});"
        if fn in ("linspace", "eye"):
            return f"{let(s['out'])} = {fn}({', '.join(args)});"
        if fn == "arange" and s["dtype"] is None:
            return f"{let(s['out'])} = arange({args[0]});"
        if fn == "arange":
            args = ["0"] + args + ["1"]
        opts = "TensorOptions::default()"
        if s["dtype"] is not None:
            opts += f".dtype(DType::{ {'float32': 'Float32', 'float64': 'Float64', 'int64': 'Int64'}[s['dtype']]})"
        return f"{let(s['out'])} = arange_with({', '.join(args)}, {opts});"
    if k == "gather":
        fn = s["fn"]
        if fn == "index_with":
            return f"{let(s['out'])} = {s['a']}.index_with(&{s['index']});"
        if fn == "scatter":
            return f"{let(s['out'])} = {s['a']}.scatter({s['dim']}, &{s['index']}, &{s['src']});"
        return f"{let(s['out'])} = {s['a']}.{fn}({s['dim']}, &{s['index']});"
    if k == "cat":
        return f"{let(s['out'])} = {s['fn']}(&[{', '.join('&' + i for i in s['items'])}], {s['dim']});"
    if k == "no_grad":
        body = s["body"]
        inner = render_rs(body, mutable)
        if inner.startswith("let "):
            lhs, rhs = inner.split(" = ", 1)
            return f"{lhs} = no_grad(|| {rhs[:-1]});"
        return f"no_grad(|| {{ {inner} }});"
    if k == "backward":
        g = f"Some(&{s['grad']})" if s["grad"] is not None else "None"
        retain = "true" if s["retain"] else "false"
        if s["inputs"] is not None:
            return f"{s['t']}.backward_inputs({g}, {retain}, &[{', '.join('&' + i for i in s['inputs'])}]);"
        if s["create"]:
            return f"{s['t']}.backward_create_graph({g});"
        if s["retain"]:
            return f"{s['t']}.backward_opts({g}, true);"
        if s["grad"] is not None:
            return f"{s['t']}.backward_with(&{s['grad']});"
        return f"{s['t']}.backward();"
    if k == "grad":
        cg = "true" if s["create"] else "false"
        call = f"grad(&[{', '.join('&' + o for o in s['outputs'])}], &[{', '.join('&' + i for i in s['inputs'])}], {cg})"
        if len(s["outs"]) == 1:
            return f"let {s['outs'][0]} = {call}.remove(0);"
        return f"let [{', '.join(s['outs'])}]: [Tensor; {len(s['outs'])}] = {call}.try_into().unwrap();"
    if k == "requires_grad_":
        return f"{s['t']}.requires_grad_({rs_num(s['flag'])});"
    if k == "retain_grad":
        return f"{s['t']}.retain_grad();"
    if k == "hook":
        fn = {"double": "|g| Some(g * 2.0)", "none": "|_| None", "add1": "|g| Some(g + 1.0)", "neg": "|g| Some(-g)",
              "print": "|g| {\n        show!(g);\n        None\n    }"}[s["fn"]]
        return f"let {s['out']} = {s['t']}.register_hook({fn});"
    if k == "unhook":
        return f"{s['h']}.remove();"
    if k == "detach_":
        return f"{s['t']}.detach_();"
    if k == "set_data":
        return f"{s['t']}.set_data(&{s['v']});"
    if k == "set_grad_none":
        return f"{s['t']}.set_grad(None);"
    if k == "print":
        t, w = s["t"], s["what"]
        return {
            "value": f"show!({t});",
            "grad": f"show!({t}.grad());",
            "grad_fn": f"show!({t}.grad_fn().map(|f| f.name()));",
            "requires_grad": f"show!({t}.requires_grad());",
            "is_leaf": f"show!({t}.is_leaf());",
            "next_functions": f"show!({t}.grad_fn().map(|node| node.next_functions().iter()"
                              f".map(|(f, i)| (f.as_ref().map(|f| f.name()), *i)).collect::<Vec<_>>()));",
            "item": f"show!({t}.item());",
            "any": f"show!({t}.any());",
            "all": f"show!({t}.all());",
        }[w]
    raise ValueError(k)


def _all_int(d):
    if isinstance(d, list):
        return all(_all_int(x) for x in d)
    return isinstance(d, int) and not isinstance(d, bool)


def mutable_vars(stmts):
    out = set()
    for s in stmts:
        if s["k"] == "no_grad":
            s = s["body"]
        if s["k"] == "inplace" and s["fn"] in ("iadd", "isub", "imul", "idiv"):
            out.add(s["t"])
    return frozenset(out)


def render_python(stmts):
    lines = ["import torch", ""]
    for name in custom_used(stmts):
        lines += [custom_py(name)]
    lines += ["try:"]
    for s in stmts:
        lines.append("    " + render_py(s).replace("\n", "\n    "))
    lines.append("except Exception as e:")
    lines.append("    print(f'{type(e).__name__}: {e}')")
    return "\n".join(lines) + "\n"


def render_rust(stmts):
    mutable = mutable_vars(stmts)
    lines = ["use autograd_core::prelude::*;", ""]
    for name in custom_used(stmts):
        lines += [custom_rs(name)]
    lines += ["fn main() {"]
    for s in stmts:
        lines.append("    " + render_rs(s, mutable))
    lines.append("}")
    return "\n".join(lines) + "\n"


def generate(seed, count, only=None):
    """`count` programs from `seed`, each of a theme drawn by THEME_WEIGHTS; with `only` the
    name of a theme never drawn (weight 0), every program is of that theme instead."""
    rng = random.Random(seed)
    themes = list(THEME_WEIGHTS)
    programs = []
    for n in range(count):
        theme = rng.choices(themes, [THEME_WEIGHTS[t] for t in themes])[0]
        if only is not None and THEME_WEIGHTS[only] == 0:
            theme = only
        g = Gen(random.Random(rng.getrandbits(64)))
        stmts = g.program(theme)
        programs.append({"id": f"p{n:04d}", "theme": theme, "stmts": stmts})
    return programs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--count", type=int, default=1300)
    ap.add_argument("--show", help="print one program's Python and Rust rendering (by id) instead")
    args = ap.parse_args()
    programs = generate(args.seed, args.count)
    if args.show:
        p = next(p for p in programs if p["id"] == args.show)
        print(render_python(p["stmts"]))
        print(render_rust(p["stmts"]))
        return
    json.dump({"seed": args.seed, "count": args.count, "programs": programs}, sys.stdout)


if __name__ == "__main__":
    main()
