#!/usr/bin/env python3
"""Runs the generated programs in real PyTorch and writes the differential test's fixture.

    /work/torch-venv/bin/python tools/difftest/record_torch.py            # seed 11, 1300 programs
    /work/torch-venv/bin/python tools/difftest/record_torch.py --seed 12 --count 500 --out /tmp/fresh.json

Each program is rendered to Python by `generate.py` and executed in this process (stdout
captured, warnings silenced). Every program runs twice; one whose two outputs differ, or whose
output shows an object address, is dropped, so the fixture holds only deterministic outputs.
The fixture (`autograd-core/tests/fixtures/difftest/programs.json`) keeps, per program, the
statements, both renderings and torch's exact output text, plus the seed and the command that
made it. Only this dev-time tool needs torch; the Rust test reads the fixture. torch runs on
`THREADS` threads (written into the fixture; the test replays on as many): a few kernels
split even small tensors over all threads, and where a thread's part ends shows in the bits.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THREADS = 2
DEFAULT_OUT = os.path.join(REPO, "autograd-core", "tests", "fixtures", "difftest", "programs.json")


def run_python(source, name="<difftest>"):
    """Runs one rendered program, returns what it printed."""
    import torch

    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(buf):
            exec(compile(source, name, "exec"), {"__name__": "__difftest__"})
    # a program must never leave grad mode off for the next one
    torch.set_grad_enabled(True)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--count", type=int, default=1300)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--theme", help="keep only the programs of this theme (a fresh check of one part of the "
                                    "grammar; the committed fixture keeps them all)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(THREADS)
    # (a theme of weight 0, such as "big", is drawn for every program instead of filtered)
    programs = [p for p in generate.generate(args.seed, args.count, args.theme) if args.theme in (None, p["theme"])]
    kept = []
    dropped = []
    for p in programs:
        py = generate.render_python(p["stmts"])
        first = run_python(py, p["id"])
        second = run_python(py, p["id"])
        if first != second or " at 0x" in first:
            dropped.append(p["id"])
            continue
        kept.append({
            "id": p["id"],
            "theme": p["theme"],
            "stmts": p["stmts"],
            "python": py,
            "rust": generate.render_rust(p["stmts"]),
            "torch": first,
        })
    errors = sum(1 for p in kept if p["torch"].rstrip("\n").rsplit("\n", 1)[-1].split(":")[0].endswith("Error"))
    fixture = {
        "about": "Random autograd programs (tools/difftest/generate.py) with the exact stdout of real PyTorch "
                 "(tools/difftest/record_torch.py). Checked by autograd-core/tests/differential.rs.",
        "generator": {
            "seed": args.seed,
            "count": args.count,
            "command": f"python tools/difftest/record_torch.py --seed {args.seed} --count {args.count}"
                       + (f" --theme {args.theme}" if args.theme else ""),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "threads": THREADS,
        },
        "dropped_nondeterministic": dropped,
        "programs": kept,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("{\n")
        for key in ("about", "generator", "dropped_nondeterministic"):
            f.write(f"{json.dumps(key)}: {json.dumps(fixture[key])},\n")
        f.write('"programs": [\n')
        f.write(",\n".join(json.dumps(p, separators=(",", ":")) for p in kept))
        f.write("\n]}\n")
    print(f"{len(kept)} programs ({errors} end in an error), {len(dropped)} dropped as nondeterministic -> {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
