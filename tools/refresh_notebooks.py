"""Re-runs the tutorial notebooks with nbclient under the Rust (autograd) kernel and saves the
fresh outputs in place (saved outputs always come from a real run, never from hand edits).
Cells that raise get the `raises-exception` tag, so JupyterLab's "Run All" goes on past the
errors the tutorials show on purpose.

    .venv-test/bin/python tools/refresh_notebooks.py [notebooks/NAME.ipynb ...]

Uses the kernel from the build directory, installed into a private Jupyter dir (like the tests).
"""
import pathlib
import sys
import tempfile

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import jupyter_setup  # noqa: E402,F401  (installs the kernelspec for this process)


def refresh(path: pathlib.Path) -> None:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="autograd-notebook-") as scratch:
        NotebookClient(nb, timeout=600, kernel_name="rust-autograd", allow_errors=True, resources={"metadata": {"path": scratch}}).execute()
    errors = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = [t for t in cell.metadata.get("tags", []) if t != "raises-exception"]
        if any(o.output_type == "error" for o in cell.outputs):
            tags.append("raises-exception")
            errors += 1
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    nbformat.write(nb, path)
    print(f"{path.name}: {sum(c.cell_type == 'code' for c in nb.cells)} code cells run, {errors} raise on purpose")


def main() -> None:
    paths = [pathlib.Path(p) for p in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        refresh(path.resolve())


if __name__ == "__main__":
    main()
