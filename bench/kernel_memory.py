"""Where a kernel's memory goes after a tutorial (prints numbers, asserts nothing).

    .venv-test/bin/python bench/kernel_memory.py [NOTEBOOK.ipynb ...]

Runs each tutorial's code cells in a fresh kernel with a real jupyter_client, then reads
/proc/PID/smaps of the kernel process (the Jupyter protocol, evcxr and its in-process
rust-analyzer) and of evcxr's runtime process (where the cells run), and prints for each:
RSS, PSS (shared pages divided among the processes that map them), and how much of the RSS
is heap/anonymous memory vs mapped files (the compiler's shared libraries, the engine).
"""
import collections
import json
import pathlib
import sys
import time

from jupyter_client.manager import KernelManager

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "kernel"))
import conftest  # noqa: E402,F401  (installs the kernelspec into a private Jupyter dir)

MiB = 1 << 20


def run_cell(kc, code):
    msg_id = kc.execute(code)
    while True:
        msg = kc.get_iopub_msg(timeout=600)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" \
                and msg["content"]["execution_state"] == "idle":
            break
    kc.get_shell_msg(timeout=600)


def children(pid):
    kids = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        kids.extend(int(k) for k in text)
    return kids


def smaps(pid):
    """(rss, pss, anonymous rss, file-backed rss by file) of one process, in bytes."""
    rss = pss = anon = 0
    by_file = collections.Counter()
    current = None
    for line in pathlib.Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if not parts[0].endswith(":"):
            current = parts[5] if len(parts) >= 6 else "[anon]"
            continue
        if parts[0] not in ("Rss:", "Pss:", "Anonymous:"):
            continue
        key, value = parts[0][:-1], int(parts[1]) * 1024
        if key == "Rss":
            rss += value
            by_file[current] += value
        elif key == "Pss":
            pss += value
        elif key == "Anonymous":
            anon += value
    return rss, pss, anon, by_file


def report(name, pid):
    rss, pss, anon, by_file = smaps(pid)
    print(f"  {name:<8} pid {pid}: RSS {rss / MiB:6.0f} MiB  PSS {pss / MiB:6.0f} MiB  anonymous {anon / MiB:6.0f} MiB")
    for path, size in by_file.most_common(6):
        print(f"           {size / MiB:6.1f} MiB  {path}")
    return rss, pss


def main():
    notebooks = sys.argv[1:] or [str(ROOT / "notebooks" / "01-autograd-mechanics.ipynb")]
    for path in notebooks:
        nb = json.loads(pathlib.Path(path).read_text())
        km = KernelManager(kernel_name="rust-autograd")
        km.start_kernel(cwd=str(pathlib.Path(path).parent))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=600)
        started = time.monotonic()
        cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        for cell in cells:
            run_cell(kc, "".join(cell["source"]))
        elapsed = time.monotonic() - started
        # the kernel gives freed memory back once no request has come for a moment, as
        # while a student reads the last output
        time.sleep(1)
        pid = km.provisioner.process.pid
        print(f"{pathlib.Path(path).name}: {len(cells)} cells in {elapsed:.1f} s")
        total = [0, 0]
        for name, p in [("kernel", pid)] + [("runtime", k) for k in children(pid)]:
            rss, pss = report(name, p)
            total[0] += rss
            total[1] += pss
        print(f"  total    RSS {total[0] / MiB:6.0f} MiB  PSS {total[1] / MiB:6.0f} MiB")
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
