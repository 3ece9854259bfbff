"""Records torch's elementwise ops and reductions, forward and backward, bit for bit, on many
inputs at once: what `cargo run --release -p autograd-core --example sweep_compare` compares
autograd-core with, op by op. A dev-time tool for finding where the last bits differ (no test
reads its output; a difference found becomes a fixture of its own, as tools/pow did).

    /work/torch-venv/bin/python tools/sweep/record.py --out /tmp/sweep.json
    cargo run --release -p autograd-core --example sweep_compare -- /tmp/sweep.json

Two families of cases, float32 and float64 each:

* `wide`: every op of `WIDE_OPS` on one 1-D input of special values and `--count` values of
  every kind and magnitude (tools/transcendental/record.py's `wide`), a second such input for
  binary ops, and a gradient uniform in [-2, 2);
* `shaped`: every op of `SHAPED_OPS` (reductions, softmax, ...) on inputs of several shapes with
  moderate values (`tame`: no NaN or infinity, magnitudes in [1e-4, 1e4)).

Each case stores the op's name, the inputs' bits and the result's and the gradients' bits
(base64 of little-endian floats), or torch's error.
"""
import argparse
import base64
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "transcendental"))
from record import h, specials, wide  # noqa: E402  (the shared input generators)

# name -> (number of tensor inputs, the op as torch runs it); sweep_compare.rs has the same
# names with the Rust a user writes
WIDE_OPS = {
    **{f"u_{n}": (1, lambda x, y, n=n: getattr(x, n)())
       for n in ["exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "abs", "neg"]},
    **{f"pow_{e!r}": (1, lambda x, y, e=e: x ** e)
       for e in [2, 3, 0.5, -0.5, -1, -2, 1.5, 2.5, 4, -3, 0, 1, 10, 1 / 3, 2.0, -2.0, 0.25]},
    **{f"rpow_{b!r}": (1, lambda x, y, b=b: b ** x) for b in [2.0, 0.5, 10.0, math.e, -2.0, 0.0, 1.0, 3]},
    "add": (2, lambda x, y: x + y), "sub": (2, lambda x, y: x - y), "mul": (2, lambda x, y: x * y),
    "div": (2, lambda x, y: x / y), "powt": (2, lambda x, y: x.pow(y)),
    "maximum": (2, lambda x, y: torch.maximum(x, y)), "minimum": (2, lambda x, y: torch.minimum(x, y)),
    "add_alpha": (2, lambda x, y: torch.add(x, y, alpha=2.5)), "sub_alpha": (2, lambda x, y: torch.sub(x, y, alpha=0.3)),
    "rdiv": (1, lambda x, y: 3.0 / x), "rsub": (1, lambda x, y: 2.0 - x), "mul_number": (1, lambda x, y: x * 0.1),
    "div_number": (1, lambda x, y: x / 3.0), "add_number": (1, lambda x, y: x + 0.1),
    "clamp": (1, lambda x, y: x.clamp(min=-1.0, max=2.0)), "clamp_min": (1, lambda x, y: x.clamp(min=0.5)),
    "square": (1, lambda x, y: x * x), "sgn_times": (1, lambda x, y: x.sgn() * x),
}
SHAPED_OPS = {
    "norm": lambda x: x.norm(), "norm_p1": lambda x: x.norm(p=1), "norm_p3": lambda x: x.norm(p=3),
    "norm_p1.5": lambda x: x.norm(p=1.5), "norm_inf": lambda x: x.norm(p=float("inf")),
    "norm_dim": lambda x: x.norm(dim=-1), "norm_p3_dim0": lambda x: x.norm(p=3, dim=0),
    "std": lambda x: x.std(), "var": lambda x: x.var(), "std_dim": lambda x: x.std(dim=-1),
    "var_dim0": lambda x: x.var(dim=0), "mean": lambda x: x.mean(), "mean_dim0": lambda x: x.mean(dim=0),
    "sum": lambda x: x.sum(), "prod": lambda x: (1 + x / 1e4).prod(), "prod_dim": lambda x: (1 + x / 1e4).prod(dim=-1),
    "cumsum": lambda x: x.cumsum(dim=-1), "softmax": lambda x: x.softmax(dim=-1),
    "log_softmax": lambda x: x.log_softmax(dim=-1), "sigmoid": lambda x: x.sigmoid(), "tanh": lambda x: x.tanh(),
    "max": lambda x: x.max(), "max_dim": lambda x: x.max(dim=-1)[0], "min": lambda x: x.min(),
    "div_abs": lambda x: x / (x.abs() + 1), "matmul_self": lambda x: x @ x.t() if x.dim() == 2 else x.dot(x),
    "pow_2.5_abs": lambda x: x.abs() ** 2.5,
}
SHAPES = [[7], [40], [100], [6, 7], [40, 33], [3, 50], [300, 17]]


def b64(t):
    return base64.b64encode(t.detach().contiguous().numpy().tobytes()).decode()


def uniform(seed, n, dtype):
    values = [((h(seed, i) >> 11) / 2.0**53 * 4 - 2) for i in range(n)]
    return torch.tensor(np.array(values, dtype=np.float32 if dtype == torch.float32 else np.float64))


def tame(dtype, seed, n):
    x = wide(dtype, seed, n).numpy()
    keep = np.isfinite(x) & (np.abs(x) < 1e4) & (np.abs(x) > 1e-4)
    return torch.tensor(np.where(keep, x, 1.5).astype(x.dtype))


def run(f, inputs, grad_seed, dtype):
    """`f` on leaves made of `inputs`, backward with a seeded gradient: what a case stores."""
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    try:
        out = f(*leaves)
        grad = uniform(grad_seed, out.numel(), dtype).reshape(out.shape)
        result = {"out": b64(out), "out_shape": list(out.shape), "grad_seed": grad_seed}
        out.backward(grad)
        result["grads"] = [b64(t.grad) if t.grad is not None else None for t in leaves]
        return result
    except Exception as e:  # noqa: BLE001  (torch's error is the record)
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=3000, help="wide values per input")
    parser.add_argument("--seed", type=int, default=71)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    cases = []
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        x = torch.cat([specials(dtype), wide(dtype, args.seed, args.count)])
        y = torch.cat([specials(dtype).flip(0), wide(dtype, args.seed + 1, args.count)])
        for op, (arity, f) in WIDE_OPS.items():
            inputs = [x, y][:arity]
            case = {"family": "wide", "op": op, "dtype": name, "inputs": [b64(t) for t in inputs], "shapes": [[len(x)]] * arity}
            case.update(run(lambda *t, f=f: f(t[0], t[1] if len(t) > 1 else None), inputs, args.seed + 2, dtype))
            cases.append(case)
        seed = args.seed + 100
        for shape in SHAPES:
            for op, f in SHAPED_OPS.items():
                seed += 1
                x = tame(dtype, seed, int(np.prod(shape))).reshape(shape)
                case = {"family": "shaped", "op": op, "dtype": name, "inputs": [b64(x)], "shapes": [shape]}
                case.update(run(f, [x], seed + 50000, dtype))
                cases.append(case)
    json.dump({"command": " ".join(sys.argv), "torch": torch.__version__, "threads": 2, "cases": cases},
              open(args.out, "w"))
    print(f"{len(cases)} cases -> {args.out}")


if __name__ == "__main__":
    main()
