"""Shared setup: a private Jupyter data dir with the rust-autograd kernelspec installed from
the freshly built kernel binary, so the tests never touch the user's Jupyter."""
import os
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache/autograd-kernel/target"))
KERNEL = TARGET / "release" / "autograd-kernel"

_prefix = tempfile.mkdtemp(prefix="autograd-kernel-spec-")
subprocess.run(
    [str(KERNEL), "install", "--prefix", _prefix, "--core-path", str(ROOT / "autograd-core")],
    check=True,
    capture_output=True,
)
os.environ["JUPYTER_PATH"] = os.path.join(_prefix, "share", "jupyter")
