"""The tutorial notebooks, checked two ways.

1. Against PyTorch (no kernel needed): every code cell with `reference` metadata is matched
   with its cell in tests/fixtures/outputs.json. A deterministic cell's stdout, result text and
   error ("Name: message") must equal PyTorch's text exactly, unless the cell's metadata says
   why Rust's answer differs (`reference.differs`: e.g. a compile error where Python raises
   NameError); such a cell must then really differ, so the note cannot go stale.
2. Against themselves (like nbval): each notebook is re-executed with nbclient under our
   kernel and every output must equal the saved one, with addresses masked (each stream is
   compared as one text, since its cutting into messages depends on timing). Cells whose
   PyTorch reference is not deterministic (unseeded random numbers) are compared by shape
   only: the same outputs, the same kinds, the same MIME types.
"""
import collections
import copy
import json
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

from notebook_outputs import FIXTURE, REFERENCE, comparable, deterministic

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def cell_text(outputs):
    """stdout, the result's text/plain and errors as `Name: message`, like PyTorch's reference."""
    parts = []
    for o in outputs:
        kind = o.get("output_type") or o.get("type")
        if kind == "stream":
            if o.get("name") == "stdout":
                parts.append(o["text"])
        elif kind in ("execute_result",):
            data = o.get("data")
            parts.append(data.get("text/plain", "") if data is not None else o.get("text", ""))
        elif kind == "error":
            parts.append(o["text"] if "text" in o else f"{o['ename']}: {o['evalue']}")
    return "".join(parts)


def referenced_cells():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            ref = cell.metadata.get("reference")
            if cell.cell_type == "code" and ref:
                yield path.name, cell, ref


def test_every_reference_cell_is_ported_once_in_order():
    seen = collections.defaultdict(list)
    for _, _, ref in referenced_cells():
        seen[ref["notebook"]].append(ref["cell"])
    expected = collections.defaultdict(list)
    for c in FIXTURE:
        expected[c["notebook"]].append(c["cell"])
    for stem, cells in expected.items():
        assert seen[stem] == cells, f"{stem}: notebook cells {seen[stem]} vs reference {cells}"


def test_deterministic_cells_match_pytorch():
    matching = differing = ported = 0
    failures = []
    for name, cell, ref in referenced_cells():
        ported += 1
        reference = REFERENCE[(ref["notebook"], ref["cell"])]
        if not reference["deterministic"]:
            continue
        same = cell_text(cell.outputs) == cell_text(reference["outputs"])
        if ref.get("differs"):
            differing += 1
            if same:
                failures.append(f"{name} cell {ref['cell']}: marked as differing ({ref['differs']}) but matches PyTorch")
        elif same:
            matching += 1
        else:
            failures.append(
                f"{name} cell {ref['cell']}:\n  ours    {cell_text(cell.outputs)!r}\n  PyTorch {cell_text(reference['outputs'])!r}"
            )
    total = sum(1 for c in FIXTURE if c["deterministic"])
    print(f"\nported {ported}/{len(FIXTURE)} reference cells; deterministic cells matching PyTorch: {matching}/{total}"
          f" ({differing} differ for the reasons noted in their metadata)")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_reexecutes_to_its_saved_outputs(path, tmp_path):
    saved = nbformat.read(path, as_version=4)
    fresh = copy.deepcopy(saved)
    # run in a scratch folder, like the reference runs (the tutorials write files)
    NotebookClient(fresh, timeout=600, kernel_name="rust-autograd", allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    for index, (old, new) in enumerate(zip(saved.cells, fresh.cells)):
        if old.cell_type != "code":
            continue
        exact = deterministic(old)
        assert comparable(new.outputs, exact) == comparable(old.outputs, exact), f"{path.name} code cell at {index}:\n{old.source}"
