# Sourced by install.sh and test.sh: `ensure_mkl DIR PYTHON WHO` (PYTHON: one with pip, or
# empty for a throwaway virtualenv; WHO: the script's name for its messages) puts the part of Intel MKL
# that torch's `exp`, `log`, `sin`, `cos`, `tanh` and `sqrt` run (its VML, sequential) in
# DIR/lib, from PyPI's `mkl` package at the release torch 2.15's wheels link (oneMKL 2024.2),
# with PYTHON's pip. autograd-core loads it from there at run time and then gives torch's bits
# for those ops (autograd-core/src/ops/mkl_vml.rs says where it looks); without it they use
# autograd-core's own algorithms, which differ from torch's in the last bit on some inputs.
# Returns non-zero (after saying why) when it cannot be had, e.g. offline.

MKL_VERSION=2024.2.0
# the runtime library, its core, the sequential layer, the LP64 interface, and VML's code
# for each processor generation (about 180 MB of the wheel's 550)
MKL_FILES="libmkl_rt.so.2 libmkl_core.so.2 libmkl_sequential.so.2 libmkl_intel_lp64.so.2
libmkl_vml_avx512.so.2 libmkl_vml_avx2.so.2 libmkl_vml_mc3.so.2 libmkl_vml_def.so.2 libmkl_vml_cmpt.so.2"

# The first of the given Pythons that has pip (for ensure_mkl), or nothing.
python_with_pip() {
  local py
  for py in "$@"; do
    if [ -x "$py" ] || command -v "$py" >/dev/null 2>&1; then
      "$py" -m pip --version >/dev/null 2>&1 && { echo "$py"; return 0; }
    fi
  done
  return 1
}

ensure_mkl() {
  local dir="$1" python="$2" who="$3"
  if [ -f "$dir/lib/libmkl_rt.so.2" ] && [ "$(cat "$dir/VERSION" 2>/dev/null)" = "$MKL_VERSION" ]; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  if [ -z "$python" ] && python3 -m venv "$tmp/venv" >/dev/null 2>&1; then
    # no pip at hand (a distribution's Python): a throwaway environment has one
    python="$tmp/venv/bin/python"
  fi
  if [ -z "$python" ]; then
    echo "$who: no Python with pip to fetch mkl==$MKL_VERSION from PyPI; exp/log/sin/cos/tanh/sqrt will use autograd-core's own algorithms (PyTorch's last bit differs on some inputs)" >&2
    rm -rf "$tmp"
    return 1
  fi
  if ! "$python" -m pip download --quiet --no-deps --only-binary :all: -d "$tmp" "mkl==$MKL_VERSION"; then
    echo "$who: could not download mkl==$MKL_VERSION from PyPI; exp/log/sin/cos/tanh/sqrt will use autograd-core's own algorithms (PyTorch's last bit differs on some inputs)" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$dir.new"
  mkdir -p "$dir.new/lib"
  # only the files above, out of the wheel's data/lib (a zip; Python reads it, no unzip needed)
  "$python" - "$tmp"/mkl-*.whl "$dir.new/lib" $MKL_FILES <<'PY' || { rm -rf "$tmp" "$dir.new"; return 1; }
import os, shutil, sys, zipfile
wheel, dest, wanted = sys.argv[1], sys.argv[2], set(sys.argv[3:])
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = os.path.basename(info.filename)
        if "/data/lib/" in info.filename and name in wanted:
            with z.open(info) as src, open(os.path.join(dest, name), "wb") as out:
                shutil.copyfileobj(src, out)
            wanted.discard(name)
if wanted:
    sys.exit("not in the wheel: " + " ".join(sorted(wanted)))
PY
  echo "$MKL_VERSION" > "$dir.new/VERSION"
  rm -rf "$dir" "$tmp"
  mv "$dir.new" "$dir"
}
