"""Test setup shared by the Jupyter-level tests: a private Jupyter data dir with the
rust-autograd kernelspec installed from the freshly built kernel binary, so the tests never
touch the user's Jupyter. Importing this module does the install once per process."""
import os
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache/autograd-kernel/target"))
KERNEL = TARGET / "release" / "autograd-kernel"

PREFIX = tempfile.mkdtemp(prefix="autograd-kernel-spec-")
subprocess.run(
    [str(KERNEL), "install", "--prefix", PREFIX, "--core-path", str(ROOT / "autograd-core")],
    check=True,
    capture_output=True,
)
os.environ["JUPYTER_PATH"] = os.path.join(PREFIX, "share", "jupyter")
