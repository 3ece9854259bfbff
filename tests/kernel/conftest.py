"""The kernel tests run against a private kernelspec (see tests/jupyter_setup.py)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import jupyter_setup  # noqa: E402,F401
