#!/usr/bin/env python3
"""Reduces a program that differs from PyTorch to a minimal one that still differs.

    /work/torch-venv/bin/python tools/difftest/shrink.py p0052
    /work/torch-venv/bin/python tools/difftest/shrink.py my_program.json --out small.json

The program (an id of the fixture, or a JSON file with {"stmts": [...]}) is shrunk greedily:
delete one statement at a time (statements whose variables would go missing are never
tried), then make literal values simpler (each element of a leaf to 1.0, 0.0, -1.0 / 0), as long
as the result still differs from torch *in the same way* (torch raised / we raised / both ran
and printed different text). Every round runs each candidate in torch (in this process) and
all of them at once in autograd-core
(the `difftest_run` example, built once: `cargo build -p autograd-core --example difftest_run`). Prints the minimal
program in both languages with both outputs; `--out` also saves it as JSON.
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402
from record_torch import DEFAULT_OUT, REPO, run_python  # noqa: E402

ERROR_LINE = re.compile(r"^\w+(Error|Exception): ", re.M)


def last_is_error(text):
    """The program stopped at an error (`Kind: message`, possibly over several lines)."""
    return ERROR_LINE.search(text) is not None


def torch_output(stmts):
    try:
        return run_python(generate.render_python(stmts))
    except Exception as e:  # a broken candidate (e.g. a NameError outside the try) never counts
        return f"<broken: {e}>"


_RUNNER = []


def runner():
    """Builds the `difftest_run` example once and returns its path."""
    if not _RUNNER:
        subprocess.run(["cargo", "build", "-q", "-p", "autograd-core", "--example", "difftest_run"], cwd=REPO,
                       check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
        _RUNNER.append(os.path.join(target, "debug", "examples", "difftest_run"))
    return _RUNNER[0]


def ours_outputs(programs):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([{"id": f"c{i}", "stmts": p} for i, p in enumerate(programs)], f)
        path = f.name
    try:
        out = subprocess.run([runner(), path], cwd=REPO, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    results = []
    for chunk in out.split("== c")[1:]:
        results.append(chunk.split("\n", 1)[1] if "\n" in chunk else "")
    return results


def signature(torch, ours):
    """How the two outputs differ; None when they agree or a side is unusable."""
    if torch == ours or torch.startswith("<broken") or "<unsupported" in ours or "NameError" in torch \
            or "difftest:" in ours:
        return None
    return (last_is_error(torch), last_is_error(ours))


def defined_before(stmts):
    """Whether every variable a statement reads was defined earlier."""
    defined = set()
    reads_keys = ("a", "b", "t", "mask", "cond", "index", "src")

    def reads(s):
        if s["k"] == "no_grad":
            return reads(s["body"])
        names = []
        for key in reads_keys:
            v = s.get(key)
            if isinstance(v, str):
                names.append(v)
            elif isinstance(v, dict) and "v" in v:
                names.append(v["v"])
        for key in ("items", "outputs", "inputs"):
            v = s.get(key)
            if isinstance(v, list) and s["k"] in ("cat", "grad", "backward"):
                names += [x for x in v if isinstance(x, str)]
        for key in ("value", "grad", "base"):
            v = s.get(key)
            if isinstance(v, dict) and "v" in v:
                names.append(v["v"])
            elif isinstance(v, str) and key == "grad":
                names.append(v)
        for a in s.get("args", []) or []:
            if isinstance(a, dict) and "v" in a:
                names.append(a["v"])
        return names

    def writes(s):
        if s["k"] == "no_grad":
            return writes(s["body"])
        out = s.get("out") or s.get("outs") or []
        return out if isinstance(out, list) else [out]

    for s in stmts:
        if any(n not in defined for n in reads(s)):
            return False
        defined.update(writes(s))
    return True


def rank(v, simple):
    if isinstance(v, str):
        return len(simple) + 1
    return simple.index(v) if v in simple else len(simple)


def candidates(stmts):
    for i in range(len(stmts)):
        c = stmts[:i] + stmts[i + 1:]
        if defined_before(c):
            yield c
    for i, s in enumerate(stmts):
        if s["k"] != "leaf":
            continue
        flat = []

        def walk(d, path):
            if isinstance(d, list):
                for j, x in enumerate(d):
                    walk(x, path + [j])
            else:
                flat.append((path, d))
        walk(s["data"], [])
        simple = [0] if s["dtype"] == "int64" else [0.0, 1.0, -1.0]
        for path, v in flat:
            for new in simple:
                # only ever towards a simpler value (0 < 1 < -1 < others), so no cycles
                if isinstance(v, bool) or rank(new, simple) >= rank(v, simple):
                    continue
                c = copy.deepcopy(stmts)
                d = c[i]["data"]
                if not path:
                    c[i]["data"] = new
                else:
                    for j in path[:-1]:
                        d = d[j]
                    d[path[-1]] = new
                yield c
                break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("program", help="a program id of the fixture, or a JSON file with {\"stmts\": [...]}")
    ap.add_argument("--fixture", default=DEFAULT_OUT)
    ap.add_argument("--out")
    args = ap.parse_args()
    if os.path.exists(args.program):
        stmts = json.load(open(args.program))["stmts"]
    else:
        fixture = json.load(open(args.fixture))
        stmts = next(p for p in fixture["programs"] if p["id"] == args.program)["stmts"]

    torch = torch_output(stmts)
    ours = ours_outputs([stmts])[0]
    want = signature(torch, ours)
    if want is None:
        sys.exit("the program does not differ (or is unsupported here); nothing to shrink")
    print(f"{len(stmts)} statements; differs as (torch raised, we raised) = {want}", file=sys.stderr)
    progress = True
    while progress:
        progress = False
        cands = list(candidates(stmts))
        if not cands:
            break
        theirs = [torch_output(c) for c in cands]
        mine = ours_outputs(cands)
        for c, t, o in zip(cands, theirs, mine):
            if signature(t, o) == want:
                stmts, torch, ours = c, t, o
                progress = True
                print(f"  -> {len(stmts)} statements", file=sys.stderr)
                break
    print(generate.render_python(stmts))
    print(generate.render_rust(stmts))
    print("--- torch\n" + torch + "--- ours\n" + ours)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"stmts": stmts}, f, indent=1)


if __name__ == "__main__":
    main()
