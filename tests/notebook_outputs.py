"""How a notebook's saved outputs are compared with fresh ones: by the notebook tests (nbclient)
and the JupyterHub test (eight students over the kernel websocket)."""
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "outputs.json").read_text())
REFERENCE = {(c["notebook"], c["cell"]): c for c in FIXTURE}
ADDRESS = re.compile(r"0x[0-9a-f]{6,16}")


def normalise(output):
    """The comparable content of one non-stream output, addresses masked."""
    kind = output["output_type"]
    if kind == "error":
        return (kind, output["ename"], ADDRESS.sub("0xADDR", output["evalue"]))
    data = {mime: ADDRESS.sub("0xADDR", value if isinstance(value, str) else json.dumps(value)) for mime, value in output["data"].items()}
    return (kind, tuple(sorted(data.items())))


def shape_of(output):
    kind = output["output_type"]
    if kind == "error":
        return (kind, output["ename"])
    return (kind, tuple(sorted(output["data"])))


def comparable(outputs, exact):
    """A cell's outputs for comparison. stdout and stderr are each joined into one text: how
    a stream is cut into messages, and how the two streams interleave, depends on timing
    (the runtime writes them through two pipes). Other outputs keep their order."""
    streams = {"stdout": "", "stderr": ""}
    others = []
    for o in outputs:
        if o["output_type"] == "stream":
            streams[o["name"]] += o["text"]
        else:
            others.append(normalise(o) if exact else shape_of(o))
    if exact:
        return (ADDRESS.sub("0xADDR", streams["stdout"]), ADDRESS.sub("0xADDR", streams["stderr"]), others)
    return (bool(streams["stdout"]), bool(streams["stderr"]), others)


def deterministic(cell):
    ref = cell.metadata.get("reference")
    if ref:
        return REFERENCE[(ref["notebook"], ref["cell"])]["deterministic"]
    return "nondeterministic" not in cell.metadata.get("tags", [])
