"""Kernel latency benchmark (prints numbers, asserts nothing).

    .venv-test/bin/python bench/kernel_latency.py

Measures, with a real jupyter_client:
  1. kernel start -> kernel_info reply;
  2. kernel start -> result of the first tensor cell;
  3. warm cell latency (p50, p90) over typical tutorial cells, run three times after a pause
     of a student reading the first output (the slowest of the first pass is printed too);
  4. engine speed inside a cell vs the release build (the 1000x1000 elementwise case, mean
     per step over 200 steps in both; best of three rounds taken in turns);
  5. in a second kernel, start -> result of a first cell that defines a variable, sent at once
     (Run All of the quick tour): unlike 2., it waits for the analyser to read std, so it is
     printed apart, without a target line (a cell typed after the notebook opened does not
     wait for that: the kernel reads std while the student reads).

The kernel inherits this environment: `AUTOGRAD_KERNEL_PLAIN_CARGO=1` in front of the command
measures cells built by cargo every time (without kernel/src/cell_build.rs), for runs taken
in turns with and without it.
"""
import pathlib
import statistics
import subprocess
import sys
import time

from jupyter_client.manager import KernelManager

ROOT = pathlib.Path(__file__).resolve().parents[1]
# the tests' setup installs the rust-autograd kernelspec into a private Jupyter dir
sys.path.insert(0, str(ROOT / "tests" / "kernel"))
import conftest  # noqa: E402,F401


def execute(kc, code, timeout=600):
    msg_id = kc.execute(code)
    out, result, error = [], None, None
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "execute_result":
            result = msg["content"]["data"]["text/plain"]
        elif msg["msg_type"] == "error":
            error = msg["content"]["evalue"]
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    kc.get_shell_msg(timeout=timeout)
    return "".join(out), result, error


TUTORIAL_CELLS = [
    "let x = ones(&[2, 2]).requires_grad_(true);",
    "let y = &x + 2.0;\ny",
    "let z = &y * &y * 3.0;\nlet out = z.mean();\nshow!(z, out);",
    "out.backward();",
    "x.grad()",
    "let w = tensor!([10, 20, 30, 40], requires_grad = true, dtype = float64);\n(w.pow(2) + 20.0).mean().backward();\nw.grad()",
    "y.grad_fn().unwrap().next_functions()",
    "manual_seed(666);\nrand(&[3, 3])",
]

PAUSE_AFTER_FIRST_CELL = 10.0


def start_kernel():
    """A started kernel, its client (answered kernel_info), and when it was started."""
    km = KernelManager(kernel_name="rust-autograd")
    start = time.perf_counter()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.kernel_info()
    kc.get_shell_msg(timeout=60)
    return km, kc, start


def main():
    km, kc, start = start_kernel()
    info = time.perf_counter() - start
    _, result, error = execute(kc, "tensor!([1., 2.]) * 2.0")
    first = time.perf_counter() - start
    assert error is None, error
    print(f"kernel start -> kernel_info reply: {info:.3f} s   (target <= 1 s)")
    print(f"kernel start -> first tensor cell result: {first:.3f} s   (target <= 2.5 s)  [{result}]")

    # a student reads the first output before going on: the kernel uses that pause to warm
    # its analyser, which the first cell defining a variable would otherwise wait for
    time.sleep(PAUSE_AFTER_FIRST_CELL)
    times, first_pass = [], []
    for round_ in range(3):
        for cell in TUTORIAL_CELLS:
            t0 = time.perf_counter()
            _, _, error = execute(kc, cell)
            times.append(time.perf_counter() - t0)
            if round_ == 0:
                first_pass.append(times[-1])
            assert error is None, (cell, error)
    print(f"first pass over the tutorial cells after a {PAUSE_AFTER_FIRST_CELL:.0f} s pause: "
          f"slowest {max(first_pass):.3f} s, each {' '.join(f'{t:.2f}' for t in first_pass)}")
    times.sort()
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"warm tutorial cells: p50 {statistics.median(times):.3f} s, p90 {p90:.3f} s over {len(times)} runs   (target p50 <= 0.15 s)")

    setup = (
        "manual_seed(0);\n"
        "let a = rand_with(&[1000, 1000], TensorOptions::default().requires_grad(true));\n"
        "let b = rand_with(&[1000, 1000], TensorOptions::default().requires_grad(true));\n"
        "(a.pow(2) + b.pow(3) + &a * &b).sum().backward();"
    )
    cell = (
        "let t = std::time::Instant::now();\n"
        "for _ in 0..200 {\n"
        "    (a.pow(2) + b.pow(3) + &a * &b).sum().backward();\n"
        "}\n"
        "println!(\"{:.3}\", t.elapsed().as_secs_f64() * 1e3 / 200.0);"
    )
    _, _, error = execute(kc, setup)
    assert error is None, error
    # this VM's speed varies by tens of percent from minute to minute: three rounds, taking
    # turns, and the best of each side
    in_cell, release = [], []
    for _ in range(3):
        out, _, error = execute(kc, cell)
        assert error is None, error
        in_cell.append(float(out.strip().splitlines()[-1]))
        example = subprocess.run(
            ["cargo", "run", "--release", "-q", "-p", "autograd-core", "--example", "big_elementwise"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
        release.append(float(example.split()[0]))
    print(f"engine inside a cell: {min(in_cell):.3f} ms vs release build {min(release):.3f} ms, best of 3 rounds of "
          f"200 steps each (cell {' '.join(f'{t:.2f}' for t in in_cell)}; release {' '.join(f'{t:.2f}' for t in release)})   "
          f"(speed ratio {min(release) / min(in_cell):.2f}, target >= 0.9)")
    kc.stop_channels()
    km.shutdown_kernel(now=True)

    km, kc, start = start_kernel()
    _, result, error = execute(kc, TUTORIAL_CELLS[0] + "\nx")
    first_let = time.perf_counter() - start
    assert error is None, error
    print(f"second kernel: start -> result of a first cell that defines a variable, sent at once: {first_let:.3f} s"
          f"   [{result.splitlines()[0]}...]")
    kc.stop_channels()
    km.shutdown_kernel(now=True)


if __name__ == "__main__":
    sys.exit(main())
