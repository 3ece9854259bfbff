"""Records torch's exp, log, sin, cos, tanh, sigmoid, softmax and log_softmax results, bit for
bit, for autograd-core/tests/transcendental.rs.

    /work/torch-venv/bin/python tools/transcendental/record.py \
        > autograd-core/tests/fixtures/transcendental.json

Only outputs are stored (base64 of the little-endian values); the test regenerates every
input: special values are listed in the fixture as bits, the rest comes from `wide` (a
splitmix64 hash of (seed, index) turned into floats of every magnitude, NaN and inf
included) or from `torch.randn` after `torch.manual_seed(seed)` (which autograd-core
reproduces bit for bit), times a scale.

What is recorded:

* `sleef`: torch's vectorized exp and log (`Vectorized<float/double>::exp()`, `::log()`:
  SLEEF's `Sleef_expf8_u10` ... `Sleef_logd4_u10` in torch's AVX2 kernels,
  `Sleef_expf16_u10` ... `Sleef_logd8_u10` in its AVX512 ones, which sigmoid and softmax
  use on this machine; the script checks that both give the same bits). They are no op of
  their own, so they are called straight from torch's library through a small C shim (needs
  gcc); exp is also checked against an op that returns it, `-exp(y)` from
  `_log_softmax_backward_data`.
* `op`: the tensor ops `torch.exp/log/sin/cos/tanh` on a 1-D tensor. torch runs MKL's VML
  for them (closed source); the test reports how many of autograd-core's results differ
  and fails only if more differ than it allows.
* `sigmoid`: tensors of several lengths and layouts (vectorized pairs of vectors, the
  scalar tail, strided runs).
* `softmax`, `log_softmax`: forward along every dim of several shapes, and the gradient for a
  random `grad` (`torch.autograd.grad`, no graph of the backward: torch's fused kernels).
"""
import base64
import ctypes
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

MASK = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def h(seed, i):
    return splitmix64(((seed << 32) + i) & MASK)


def wide(dtype, seed, n):
    """n floats of every kind: any bit pattern, uniform in (-20, 20), uniform over the range
    where exp is finite, and (1 + u) 2^e over many binades, both signs."""
    f32 = dtype == torch.float32
    out = []
    for i in range(n):
        r, b = h(seed, 2 * i), h(seed, 2 * i + 1)
        u = (b >> 11) / 2.0**53
        kind = r % 4
        if kind == 0:
            v = struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0] if f32 else struct.unpack("<d", struct.pack("<Q", b))[0]
        elif kind == 1:
            v = (u * 2 - 1) * 20
        elif kind == 2:
            v = (u * 2 - 1) * (120 if f32 else 800)
        else:
            e = ((r >> 8) % 81) - 40 if f32 else ((r >> 8) % 601) - 300
            v = math.ldexp(1 + u, e) * (-1 if (r >> 4) & 1 else 1)
        out.append(v)
    return torch.tensor(np.array(out, dtype=np.float32 if f32 else np.float64))


def specials(dtype):
    f32 = dtype == torch.float32
    info = torch.finfo(dtype)
    v = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5, 2.0, 3.0, 10.0, -10.0, 1e-3, 0.1, 100.0,
         info.tiny, -info.tiny, info.tiny / 2 ** (23 if f32 else 52), info.tiny / 2, info.max, -info.max, info.eps, 1 + info.eps, 1 - info.eps / 2,
         math.log(2), -math.log(2), math.e, math.pi, -math.pi, math.pi / 2, math.pi / 4, 2 * math.pi, 3 * math.pi / 2]
    # the edges of exp's range and of SLEEF's cutoffs
    if f32:
        v += [88.72283, 88.72284, 88.7, 89.0, -87.33654, -87.33655, -103.97, -103.98, -104.0, -104.01, 99.9, 100.0, 100.01, -149.0,
              124.99, 125.0, 125.01, 39000.0, 8.664339742, 8.6643, 9.0]
    else:
        v += [709.78, 709.782712893384, 709.7827128933841, 710.0, -708.39, -745.13, -745.14, -999.0, -1000.0, -1000.01, 18.714973875, 18.7, 19.0, 36.0]
    # around multiples of pi/2 (range reduction), ln 2 (exp's reduction) and around 1 (log)
    for k in list(range(1, 12)) + [100, 1000, 10000]:
        x = k * math.pi / 2
        v += [x, -x, math.nextafter(x, math.inf), math.nextafter(x, -math.inf)]
    for k in [1, 2, 10, 50, 100]:
        v += [k * math.log(2), -k * math.log(2), (k + 0.5) * math.log(2)]
    v += [1 + 2.0**-k for k in (1, 5, 12, 20)] + [1 - 2.0**-k for k in (2, 5, 12, 20)]
    arr = np.array(v, dtype=np.float32 if f32 else np.float64)
    return torch.tensor(arr)


def b64(t):
    t = t.contiguous()
    return base64.b64encode(t.numpy().tobytes()).decode()


SHIM = r"""
#include <dlfcn.h>
#include <immintrin.h>
typedef __m256 (*f8)(__m256);
typedef __m256d (*d4)(__m256d);
typedef __m512 (*f16)(__m512);
typedef __m512d (*d8)(__m512d);
static void *lib;
__attribute__((target("avx512f"))) int apply512(const char *path, const char *sym, int is_double, const void *in, void *out, long n) {
  if (!lib) lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (!lib) return 1;
  void *fn = dlsym(lib, sym);
  if (!fn) return 2;
  if (is_double) {
    for (long i = 0; i < n; i += 8) {
      double a[8] = {0}, r[8];
      for (long k = 0; k < 8 && i + k < n; k++) a[k] = ((const double *)in)[i + k];
      _mm512_storeu_pd(r, ((d8)fn)(_mm512_loadu_pd(a)));
      for (long k = 0; k < 8 && i + k < n; k++) ((double *)out)[i + k] = r[k];
    }
  } else {
    for (long i = 0; i < n; i += 16) {
      float a[16] = {0}, r[16];
      for (long k = 0; k < 16 && i + k < n; k++) a[k] = ((const float *)in)[i + k];
      _mm512_storeu_ps(r, ((f16)fn)(_mm512_loadu_ps(a)));
      for (long k = 0; k < 16 && i + k < n; k++) ((float *)out)[i + k] = r[k];
    }
  }
  return 0;
}
int apply(const char *path, const char *sym, int is_double, const void *in, void *out, long n) {
  if (!lib) lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (!lib) return 1;
  void *fn = dlsym(lib, sym);
  if (!fn) return 2;
  if (is_double) {
    for (long i = 0; i < n; i += 4) {
      double a[4] = {0, 0, 0, 0}, r[4];
      for (long k = 0; k < 4 && i + k < n; k++) a[k] = ((const double *)in)[i + k];
      _mm256_storeu_pd(r, ((d4)fn)(_mm256_loadu_pd(a)));
      for (long k = 0; k < 4 && i + k < n; k++) ((double *)out)[i + k] = r[k];
    }
  } else {
    for (long i = 0; i < n; i += 8) {
      float a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, r[8];
      for (long k = 0; k < 8 && i + k < n; k++) a[k] = ((const float *)in)[i + k];
      _mm256_storeu_ps(r, ((f8)fn)(_mm256_loadu_ps(a)));
      for (long k = 0; k < 8 && i + k < n; k++) ((float *)out)[i + k] = r[k];
    }
  }
  return 0;
}
"""


def build_shim():
    d = tempfile.mkdtemp()
    src, lib = os.path.join(d, "shim.c"), os.path.join(d, "shim.so")
    with open(src, "w") as f:
        f.write(SHIM)
    subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-shared", "-fPIC", src, "-o", lib, "-ldl"], check=True)
    shim = ctypes.CDLL(lib)
    for f in (shim.apply, shim.apply512):
        f.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]
    torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so").encode()

    def call(sym, x, wide=False):
        x = x.contiguous()
        out = torch.empty_like(x)
        apply = shim.apply512 if wide else shim.apply
        rc = apply(torch_lib, sym.encode(), int(x.dtype == torch.float64), x.data_ptr(), out.data_ptr(), x.numel())
        assert rc == 0, (sym, rc)
        return out

    return call


def inputs_spec(dtype, seed, n):
    s = specials(dtype)
    x = torch.cat([s, wide(dtype, seed, n)])
    return {"specials": b64(s), "wide": [seed, n]}, x


def sleef_cases(call):
    cases = []
    avx512 = torch.backends.cpu.get_cpu_capability() == "AVX512"
    for dtype, tag, tag512, n in ((torch.float32, "f8", "f16", 8192), (torch.float64, "d4", "d8", 4096)):
        for fn, seed in (("exp", 11), ("log", 12)):
            spec, x = inputs_spec(dtype, seed, n)
            y = call(f"Sleef_{fn}{tag}_u10avx2", x)
            if avx512:
                y512 = call(f"Sleef_{fn}{tag512}_u10avx512f", x, wide=True)
                assert bool(((y.view(torch.int64 if dtype == torch.float64 else torch.int32) == y512.view(torch.int64 if dtype == torch.float64 else torch.int32)) | (y.isnan() & y512.isnan())).all()), "AVX2 and AVX512 differ"
            if fn == "exp":
                # the op that returns torch's vectorized exp: log_softmax's backward with
                # grad = [1, 0, 0, ...] per row is 0 - exp(y) * 1 after the first column
                rows = x.reshape(-1, 1)
                g = torch.zeros(rows.shape[0], 2, dtype=dtype)
                g[:, 0] = 1
                out = torch.cat([torch.zeros_like(rows), rows], 1)
                via_op = -torch._log_softmax_backward_data(g, out, 1, dtype)[:, 1]
                # (as values: -(0 - 0) is -0 where exp underflows to +0)
                assert bool(((via_op == y) | (via_op.isnan() & y.isnan())).all()), "the shim's exp is not the op's"
            cases.append({"kind": "sleef", "fn": f"{fn}", "dtype": str(dtype)[6:], "inputs": spec, "out": b64(y)})
    return cases


def op_cases():
    cases = []
    for dtype in (torch.float32, torch.float64):
        for k, fn in enumerate(("exp", "log", "sin", "cos", "tanh")):
            spec, x = inputs_spec(dtype, 20 + k, 1024)
            y = getattr(torch, fn)(x)
            cases.append({"kind": "op", "fn": fn, "dtype": str(dtype)[6:], "inputs": spec, "out": b64(y)})
    return cases


def make(shape, view, dtype, seed, scale):
    """`torch.randn` after `manual_seed(seed)`, times `scale`, laid out as `view` says:
    `contiguous`; `t` (a transposed [b, a] tensor); `narrow` (columns 1..n+1 of [.., n+3]);
    `expand` (a [1, ..] tensor expanded along dim 0); `permute` (a [c, a, b] tensor
    permuted by (1, 2, 0))."""
    torch.manual_seed(seed)
    if view == "contiguous":
        return torch.randn(shape, dtype=dtype) * scale
    if view == "t":
        return (torch.randn(shape[::-1], dtype=dtype) * scale).t()
    if view == "narrow":
        return (torch.randn(shape[:-1] + [shape[-1] + 3], dtype=dtype) * scale).narrow(-1, 1, shape[-1])
    if view == "expand":
        return (torch.randn([1] + shape[1:], dtype=dtype) * scale).expand(shape)
    if view == "permute":
        return (torch.randn([shape[2], shape[0], shape[1]], dtype=dtype) * scale).permute(1, 2, 0)
    raise ValueError(view)


SIGMOID = [
    ([1], "contiguous"), ([7], "contiguous"), ([15], "contiguous"), ([16], "contiguous"), ([17], "contiguous"),
    ([20], "contiguous"), ([31], "contiguous"), ([33], "contiguous"), ([100], "contiguous"), ([3, 7], "contiguous"),
    ([4, 9], "t"), ([3, 20], "t"), ([5, 18], "narrow"), ([3, 40], "narrow"), ([4, 19], "expand"), ([6, 3], "expand"),
    ([2, 5, 7], "permute"), ([3, 4, 6], "permute"), ([12, 40], "contiguous"),
]

SOFTMAX = [
    [1], [3], [7], [8], [9], [15], [16], [17], [33], [100], [3, 5], [4, 8], [2, 13], [5, 3], [20, 4], [9, 2],
    [2, 5, 9], [3, 4, 17], [2, 20, 3], [1, 6], [6, 1],
]


def shaped_cases():
    cases = []
    seed = 1000
    for dtype in (torch.float32, torch.float64):
        for scale in (3.0, 40.0):
            for shape, view in SIGMOID:
                seed += 1
                x = make(shape, view, dtype, seed, scale)
                cases.append({"kind": "sigmoid", "dtype": str(dtype)[6:], "shape": shape, "view": view, "seed": seed,
                              "scale": scale, "out": b64(torch.sigmoid(x))})
        for shape in SOFTMAX:
            for dim in range(len(shape)):
                for fn in ("softmax", "log_softmax"):
                    seed += 1
                    x = make(shape, "contiguous", dtype, seed, 4.0).requires_grad_(True)
                    y = getattr(torch, fn)(x, dim)
                    torch.manual_seed(seed + 500000)
                    g = torch.randn(shape, dtype=dtype)
                    (gx,) = torch.autograd.grad(y, x, g)
                    cases.append({"kind": fn, "dtype": str(dtype)[6:], "shape": shape, "dim": dim, "seed": seed,
                                  "scale": 4.0, "grad_seed": seed + 500000, "out": b64(y.detach()), "grad": b64(gx)})
    return cases


def main():
    torch.set_num_threads(1)
    call = build_shim()
    cases = sleef_cases(call) + op_cases() + shaped_cases()
    json.dump({"about": __doc__.split("\n\n")[0], "torch": torch.__version__, "cases": cases}, sys.stdout, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
