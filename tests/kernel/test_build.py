"""The kernel under test is built with evcxr's analyser keeping std and autograd-core as
library roots (tools/evcxr_roots.py, tools/kernel_build.sh): a newer evcxr the change no
longer fits would build a kernel that works but spends a quarter more on every warm cell, so
that fails here instead of going unnoticed."""
import pathlib
import subprocess
import sys

import jupyter_setup


def test_the_locked_evcxr_takes_the_library_roots_change(tmp_path):
    made = subprocess.run(
        [sys.executable, str(jupyter_setup.ROOT / "tools" / "evcxr_roots.py"), str(tmp_path)],
        check=True, capture_output=True, text=True,
    )
    assert made.stdout.strip(), made.stderr
    copy = pathlib.Path(made.stdout.strip())
    source = (copy / "src" / "rust_analyzer.rs").read_text()
    assert "SourceRoot::new_library(files)" in source and "add_file_set" in source
    assert copy.name.startswith("evcxr-") and (copy / ".complete").exists()


def test_the_kernel_under_test_was_built_with_that_copy():
    # the copy's directory is in the binary: rustc writes source paths into panic locations;
    # without a directory the script names the copy the build used (its default place)
    made = subprocess.run(
        [sys.executable, str(jupyter_setup.ROOT / "tools" / "evcxr_roots.py")],
        check=True, capture_output=True, text=True,
    )
    name = pathlib.Path(made.stdout.strip()).name
    assert name, made.stderr
    assert name.encode() in jupyter_setup.KERNEL.read_bytes(), f"{jupyter_setup.KERNEL} was not built from {name}"
