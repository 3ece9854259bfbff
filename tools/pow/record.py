"""Records torch's `pow` with a float exponent, bit for bit, forward and backward, for
autograd-core/tests/pow.rs.

    /work/torch-venv/bin/python tools/pow/record.py > autograd-core/tests/fixtures/pow.json

torch computes `x ** e` (a number exponent other than 0, 1, 2, 3, 0.5, -0.5, -1 and -2),
`e ** x` and `x.pow(y)` with SLEEF's `pow` on the elements its kernel takes a vector at a
time, and with the C library's `std::pow` on the rest (a float32 base raised in float64 when
the exponent is a number); which elements those are depends on the length, the layout and
torch's thread split. Each case: one op on an input made from a seed (the test makes the same
input), then `backward` with a seeded gradient; the result and the input gradients are
stored. Recorded on 2 threads of an Intel Xeon with AVX-512. Values: base64 of little-endian
floats (tests/fixture_bits), or past 4096 elements their CRC-32.

Inputs (the test rebuilds them the same way): `wide` is tools/transcendental/record.py's
generator (floats of every kind and magnitude); `tame` is the same with non-finite values and
magnitudes from 1e6 replaced by 1.5 (and made positive for a tensor base, so the results are
finite numbers whose bits say something); a gradient is uniform in [-2, 2) from the hash.
"""
import base64
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "transcendental"))
from record import h, specials, wide  # noqa: E402  (the shared input generators)

THREADS = 2
# number exponents that go through `pow` (the others are special-cased kernels, but a few are
# kept to show they still are), and number bases for `base ** x`
EXPONENTS = [2.5, 1.5, -3, 4, 10, 1 / 3, 0.25, -4.0, 5, -0.5, 0.5, 2, 3, -1, -2, 0, 1]
BASES = [2.0, 0.5, 10.0, 2.718281828459045, -2.0, 0.0, 1.0, 3]
# (shape, view, exponent shape): the view is taken of the input before the op
LAYOUTS = [
    ([5], None, None), ([20], None, None), ([33], None, None), ([47], None, None),
    ([7, 9], "t", None), ([6, 40], "t", None), ([9, 37], "narrow", None),
    ([50000], None, None), ([100003], None, None),
    ([3, 1], None, [1, 40]), ([40, 1], None, [1, 3]), ([2, 70], None, [70]), ([70], None, [2, 70]),
    ([4, 64], "t", [64, 4]),
    ([1, 40], "expand_rows", None), ([40, 1], "expand_cols", None),
]
LAYOUT_OPS = ["pow_2.5", "pow_1.5", "pow_-3", "pow_4", "pow_0.3333333333333333", "pow_-0.5", "rpow_2.0", "rpow_0.5",
              "powt", "ipow_2.5", "ipow_-3"]
WIDE_N = 1000


def gradient(seed, n, dtype):
    values = [((h(seed, i) >> 11) / 2.0**53 * 4 - 2) for i in range(n)]
    return torch.tensor(np.array(values, dtype=np.float32 if dtype == torch.float32 else np.float64))


def tame(dtype, seed, n, positive):
    x = wide(dtype, seed, n).numpy()
    x = np.where(np.isfinite(x) & (np.abs(x) < 1e6), x, 1.5).astype(x.dtype)
    return torch.tensor(np.abs(x) if positive else x)


def stored(t):
    t = t.detach().contiguous()
    if t.numel() > 4096:
        return {"crc32": zlib.crc32(t.numpy().tobytes())}
    return base64.b64encode(t.numpy().tobytes()).decode()


def view(x, how):
    if how == "t":
        return x.t()
    if how == "expand_rows":
        return x.expand(50, x.shape[1])
    if how == "expand_cols":
        return x.expand(x.shape[0], 50)
    if how == "narrow":
        return x[:, 1:]
    return x


def case(op, dtype, x, view_of, y, grad_seed):
    """`op` on leaf `x` (and `y`) seen through `view_of`, backward with a seeded gradient."""
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True) if y is not None else None
    xv = view(x, view_of)
    if op.startswith("ipow_"):
        # in place, on a view of a copy: the copy's values come out, the gradient goes back
        # through the view (CopySlices) and pow_'s backward
        copy = x * 1.0
        view(copy, view_of).pow_(json.loads(op[5:]))
        out = copy
    elif op.startswith("pow_"):
        out = xv ** json.loads(op[4:])
    elif op.startswith("rpow_"):
        out = json.loads(op[5:]) ** xv
    else:
        out = xv.pow(y)
    out.backward(gradient(grad_seed, out.numel(), dtype).reshape(out.shape))
    result = {"out": stored(out), "grad_x": stored(x.grad)}
    # (the exponent's gradient takes torch's log, MKL's: not what this fixture is about)
    return result


def main():
    torch.set_num_threads(THREADS)
    cases = []
    seed = 3000
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        # every kind of value: specials and wide inputs, each exponent, base and a tensor exponent
        ops = [f"pow_{e!r}" for e in EXPONENTS] + [f"rpow_{b!r}" for b in BASES] + ["powt"]
        for op in ops:
            seed += 1
            spec = {"specials": True, "wide": [seed, WIDE_N]}
            x = torch.cat([specials(dtype), wide(dtype, seed, WIDE_N)])
            y = None
            if op == "powt":
                spec["exponent"] = {"specials": "reversed", "wide": [seed + 50000, WIDE_N]}
                y = torch.cat([specials(dtype).flip(0), wide(dtype, seed + 50000, WIDE_N)])
            c = {"op": op, "dtype": name, "input": spec, "grad_seed": seed + 90000}
            c.update(case(op, dtype, x, None, y, seed + 90000))
            cases.append(c)
        # the layouts: which elements are vectorized
        for shape, how, y_shape in LAYOUTS:
            for op in LAYOUT_OPS:
                if op != "powt" and y_shape is not None:
                    continue
                if op.startswith("ipow_") and how in (None, "expand_rows", "expand_cols"):
                    continue
                seed += 1
                n = int(np.prod(shape))
                tensor_base = not op.startswith("rpow")
                x = tame(dtype, seed, n, tensor_base).reshape(shape)
                y = None
                spec = {"tame": [seed, n], "positive": tensor_base, "shape": shape, "view": how}
                if op == "powt":
                    ys = y_shape or list(view(torch.zeros(shape), how).shape)
                    m = int(np.prod(ys))
                    y = (gradient(seed + 50000, m, dtype) * 1.5).reshape(ys)
                    spec["exponent"] = {"uniform": [seed + 50000, m], "shape": ys}
                c = {"op": op, "dtype": name, "input": spec, "grad_seed": seed + 90000}
                c.update(case(op, dtype, x, how, y, seed + 90000))
                cases.append(c)
    json.dump({
        "about": __doc__.strip().splitlines()[0],
        "command": "/work/torch-venv/bin/python tools/pow/record.py > autograd-core/tests/fixtures/pow.json",
        "torch": torch.__version__,
        "threads": THREADS,
        "specials": {name: stored(specials(dtype)) for dtype, name in
                     ((torch.float32, "float32"), (torch.float64, "float64"))},
        "cases": cases,
    }, sys.stdout, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
