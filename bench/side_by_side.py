"""Speed side by side with PyTorch: the same cases in autograd-core (the Rust half,
autograd-core/benches/side_by_side.rs) and in PyTorch (the twins below), run in turns case by
case: in every round each case runs on one side and then at once on the other (the order
swapped every round), so both halves of a ratio are measured within a second or two of each
other; then a table of ratio = PyTorch time / ours per case (above 1: we are faster), and the
peak resident memory of the 1M-element case on each side.

Why case by case: our 2-vCPU virtual machines run at two speeds, minutes at a time, when the
host is busy (the same binary's 1M-element `sigmoid` takes 0.11-0.12 ms, then 0.18-0.20 ms
on both threads). With one whole pass of each side per round, one side's pass could fall in
a slow spell and the other's in a fast one: runs of the same code gave `broadcast_row_add`
0.91x in one run and 1.97x in the next.

A dev-time tool, not part of ./test.sh: it needs torch (`pip install torch` in a venv outside
the repo) and a Rust toolchain.

    /path/to/torch-venv/bin/python bench/side_by_side.py [--rounds 3] [--threads 2] [--survey]
        [--cases name,name]

`--survey` runs a second, wider table instead: about 60 ops one at a time on 1000x1000 inputs
(elementwise, reductions, softmax, products, joins, random numbers, and a few backwards), to
find the ops where a user would wait on us. `--cases` runs only the cases named (of the
table chosen), without the memory line.

Both sides time a case the same way: one warm-up, then best of 5 samples, each the mean of a
fixed number of runs. PyTorch runs with `torch.set_num_threads(threads)`. Each side runs in
one process for the whole run, which takes the cases one at a time from the script.

The table's first line names the CPU: ratios depend on it. torch's exp, tanh and matrix
product are Intel MKL's, which is several times slower on AMD processors than on Intel ones
(measured on two of our machines: torch's exp on 1M float32, 2 threads, 0.14 ms on an Intel
Xeon, 0.41-1.0 ms on an AMD EPYC; matmul_512 2.4 vs 4.7-8.9 ms), while ours changes far
less (matmul_512 3.4 vs 4.8 ms).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --- the PyTorch half (run in its own process: `--torch-worker`) ----------------------------

def torch_cases(torch):
    def leaf(*shape):
        return torch.rand(*shape, requires_grad=True)

    def gradient_descent():
        x = torch.tensor(10.0, requires_grad=True, dtype=torch.float64)
        for _ in range(1000):
            y = x.pow(2)
            if x.grad is not None:
                x.grad.data.zero_()
            y.backward()
            x.data = x.data - 0.001 * x.grad

    def chain():
        x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True, dtype=torch.float64)
        y = x
        for _ in range(100):
            y = y * 1.01 + 0.5
        y.mean().backward()

    def big_elementwise():
        a, b = leaf(1000, 1000), leaf(1000, 1000)
        return lambda: (a ** 2 + b ** 3 + a * b).sum().backward()

    def matmul():
        m1, m2 = leaf(512, 512), leaf(512, 512)
        return lambda: (m1 @ m2).mean().backward()

    def broadcast_row_add():
        m, row = leaf(1000, 1000), leaf(1000)
        return lambda: (m + row).sum().backward()

    def unary(name):
        def make():
            x = torch.rand(1000, 1000)
            f = getattr(x, name)
            return lambda: f()
        return make

    def softmax_backward():
        x = leaf(1000, 1000)
        return lambda: (x.softmax(1) * 2.0).sum().backward()

    def mlp_step():
        x = torch.rand(64, 100)
        w1, b1, w2, b2 = leaf(100, 256), leaf(256), leaf(256, 10), leaf(10)

        def step():
            hidden = (x @ w1 + b1).relu()
            out = hidden @ w2 + b2
            out.pow(2).mean().backward()
            with torch.no_grad():
                for p in (w1, b1, w2, b2):
                    p.sub_(p.grad * 0.01)
                    p.grad.zero_()
        return step

    return [
        ("gradient_descent_1000_steps", 20, lambda: gradient_descent),
        ("chain_100_steps", 20, lambda: chain),
        ("big_elementwise", 1, big_elementwise),
        ("matmul_512", 1, matmul),
        ("broadcast_row_add", 1, broadcast_row_add),
        ("exp_1m", 1, unary("exp")),
        ("tanh_1m", 1, unary("tanh")),
        ("sigmoid_1m", 1, unary("sigmoid")),
        ("softmax_backward", 1, softmax_backward),
        ("mlp_step_batch_64", 5, mlp_step),
    ]


def survey_cases(torch):
    """`--survey`: one op at a time on big inputs (the twins of `survey_cases` in
    autograd-core/benches/side_by_side.rs, same names, same inputs and ops)."""
    def inputs():
        x = torch.rand(1000, 1000)
        return {
            "x": x, "y": torch.rand(1000, 1000) + 0.5,
            "xd": torch.rand(1000, 1000, dtype=torch.float64), "yd": torch.rand(1000, 1000, dtype=torch.float64),
            "a": torch.rand(1000, 1000, requires_grad=True), "b": torch.rand(1000, 1000, requires_grad=True),
            "m": torch.rand(1000, 1000) > 0.5, "idx": torch.randint(0, 1000, (1000,)), "v": torch.rand(1000),
            "xs": torch.rand(100, 100), "ys": torch.rand(100, 100),
            "bm1": torch.rand(32, 64, 64), "bm2": torch.rand(32, 64, 64),
        }

    def op(f):
        def make():
            i = inputs()
            return lambda: f(i)
        return make

    ops = {
        "add": lambda i: i["x"] + i["y"], "mul": lambda i: i["x"] * i["y"], "div": lambda i: i["x"] / i["y"],
        "mul_number": lambda i: i["x"] * 2.0, "add_f64": lambda i: i["xd"] + i["yd"],
        "sqrt": lambda i: i["x"].sqrt(), "log": lambda i: i["x"].log(), "sin": lambda i: i["x"].sin(),
        "cos": lambda i: i["x"].cos(), "abs": lambda i: i["x"].abs(), "neg": lambda i: -i["x"],
        "relu": lambda i: i["x"].relu(), "exp_f64": lambda i: i["xd"].exp(), "tanh_f64": lambda i: i["xd"].tanh(),
        "log_f64": lambda i: i["xd"].log(), "sin_f64": lambda i: i["xd"].sin(),
        "pow_2": lambda i: i["x"] ** 2, "pow_0.5": lambda i: i["x"] ** 0.5, "pow_2.5": lambda i: i["x"] ** 2.5,
        "pow_tensor": lambda i: i["x"].pow(i["y"]),
        "sum": lambda i: i["x"].sum(), "mean": lambda i: i["x"].mean(), "sum_dim0": lambda i: i["x"].sum(0),
        "sum_dim1": lambda i: i["x"].sum(1), "sum_f64": lambda i: i["xd"].sum(), "max": lambda i: i["x"].max(),
        "max_dim1": lambda i: i["x"].max(1), "std": lambda i: i["x"].std(), "var_dim1": lambda i: i["x"].var(1),
        "norm": lambda i: i["x"].norm(), "prod_dim1": lambda i: i["x"].prod(1),
        "softmax_dim1": lambda i: i["x"].softmax(1), "softmax_dim0": lambda i: i["x"].softmax(0),
        "log_softmax_dim1": lambda i: i["x"].log_softmax(1),
        "cumsum_dim1": lambda i: i["x"].cumsum(1), "cumsum_dim0": lambda i: i["x"].cumsum(0),
        "t_contiguous": lambda i: i["x"].t().contiguous(), "t_add": lambda i: i["x"].t() + i["y"],
        "gt": lambda i: i["x"] > 0.5, "masked_fill": lambda i: i["x"].masked_fill(i["m"], 0.0),
        "where": lambda i: torch.where(i["m"], i["x"], i["y"]), "clamp": lambda i: i["x"].clamp(0.2, 0.8),
        "mm_1000": lambda i: i["x"] @ i["y"], "mv_1000": lambda i: i["x"] @ i["v"],
        "bmm_32x64": lambda i: torch.bmm(i["bm1"], i["bm2"]), "mm_100": lambda i: i["xs"] @ i["ys"],
        "index_select": lambda i: i["x"].index_select(0, i["idx"]), "cat": lambda i: torch.cat([i["x"], i["y"]]),
        "stack": lambda i: torch.stack([i["x"], i["y"]]),
        "rand": lambda i: torch.rand(1000, 1000), "randn": lambda i: torch.randn(1000, 1000),
        "backward_sin": lambda i: i["a"].sin().sum().backward(),
        "backward_div": lambda i: (i["a"] / i["b"]).sum().backward(),
        "backward_relu": lambda i: i["a"].relu().sum().backward(),
        "backward_log_softmax": lambda i: i["a"].log_softmax(1).sum().backward(),
        "backward_norm": lambda i: i["a"].norm().backward(),
        "backward_mean_dim": lambda i: i["a"].mean(1).sum().backward(),
        "backward_sigmoid": lambda i: i["a"].sigmoid().sum().backward(),
        "backward_tanh": lambda i: i["a"].tanh().sum().backward(),
        "backward_exp": lambda i: i["a"].exp().sum().backward(),
        "backward_std": lambda i: i["a"].std().backward(),
        "backward_max_dim": lambda i: i["a"].max(1)[0].sum().backward(),
        "backward_pow_3": lambda i: (i["a"] ** 3).sum().backward(),
        "backward_t_mm": lambda i: (i["a"].t() @ i["b"]).sum().backward(),
    }
    return [(name, 5, op(f)) for name, f in ops.items()]


def status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def time_case(runs, work):
    """One warm-up, then 5 samples (ms), each the mean of `runs` runs."""
    work()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(runs):
            work()
        samples.append((time.perf_counter() - start) * 1e3 / runs)
    return samples


def torch_worker(threads, memory, survey=False):
    """Runs the cases named on stdin, one per line, each answered with its `CASE` line."""
    import torch
    torch.set_num_threads(threads)
    cases = {name: (runs, make) for name, runs, make in (survey_cases if survey else torch_cases)(torch)}
    if memory:
        before = status_kib("VmHWM:")
        torch.manual_seed(0)
        cases[memory][1]()()
        print(f"MEMORY {memory} {before} {status_kib('VmHWM:')}", flush=True)
        return
    print("READY", flush=True)
    for line in sys.stdin:
        name = line.strip()
        runs, make = cases[name]
        torch.manual_seed(0)
        samples = time_case(runs, make())
        print(f"CASE {name} {min(samples):.4f} {','.join(f'{s:.4f}' for s in samples)}", flush=True)


# --- the runner ---------------------------------------------------------------------------

def rust_binary():
    """Builds the Rust half (release, as cargo bench does) and returns its path."""
    out = subprocess.run(
        ["cargo", "bench", "-p", "autograd-core", "--bench", "side_by_side", "--no-run", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "side_by_side" and msg.get("executable"):
            return msg["executable"]
    raise SystemExit("side_by_side: cargo did not report the bench binary")


def parse(output, kind):
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0] == kind:
            rows[parts[1]] = [float(v) for v in parts[2:3]] if kind == "CASE" else [int(v) for v in parts[2:4]]
    return rows


def cpu_model():
    """The CPU's model name and count, from /proc/cpuinfo (where there is one)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "an unknown CPU"
    names = [l.split(":", 1)[1].strip() for l in lines if l.startswith("model name")]
    return f"{names[0]} ({len(names)} CPUs)" if names else "an unknown CPU"


def start_worker(cmd):
    """A side's process that runs the cases named on its stdin (after it says `READY`)."""
    worker = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if worker.stdout.readline().strip() != "READY":
        raise SystemExit(f"side_by_side: {cmd[0]} did not start")
    return worker


def ask(worker, name):
    """The best time (ms) of case `name`, run by `worker`."""
    worker.stdin.write(name + "\n")
    worker.stdin.flush()
    return parse(worker.stdout.readline(), "CASE")[name][0]


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--survey", action="store_true",
                        help="the survey instead: one op at a time on 1000x1000 inputs (about 60 cases)")
    parser.add_argument("--cases", help="only these cases (names joined by commas), e.g. sum_dim0,sum_dim1")
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        torch_worker(args.threads, args.memory, args.survey)
        return
    try:
        import torch
    except ImportError:
        raise SystemExit("side_by_side: needs torch (pip install torch, in a venv outside the repo)")
    binary = rust_binary()
    me = [sys.executable, str(Path(__file__).resolve()), "--torch-worker", "--threads", str(args.threads)]
    survey = ["--survey"] if args.survey else []
    names = [name for name, _, _ in (survey_cases if args.survey else torch_cases)(torch)]
    if args.cases:
        wanted = args.cases.split(",")
        unknown = [name for name in wanted if name not in names]
        if unknown:
            raise SystemExit(f"side_by_side: no case {', '.join(unknown)} (cases: {', '.join(names)})")
        names = [name for name in names if name in wanted]
    workers = {side: start_worker(cmd) for side, cmd in (("ours", [binary, "--serve"] + survey), ("torch", me + survey))}

    ours, theirs = {}, {}
    for r in range(args.rounds):
        for name in names:
            sides = [(ours, workers["ours"]), (theirs, workers["torch"])]
            if r % 2:
                sides.reverse()
            for table, worker in sides:
                # a pause between the sides: the other one's threads have gone to sleep
                time.sleep(0.05)
                table.setdefault(name, []).append(ask(worker, name))
        print(f"round {r + 1} of {args.rounds} done", file=sys.stderr)
    for worker in workers.values():
        worker.stdin.close()
        worker.wait()
    print(f"PyTorch {torch.__version__} ({args.threads} threads) vs autograd-core on {cpu_model()}; {args.rounds}"
          " rounds, case by case in turns, best of 5 per round; cells: median [min-max] of the rounds' bests, ms")
    print(f"| case | ours (ms) | PyTorch (ms) | ratio PyTorch/ours |")
    print("|---|---|---|---|")
    for name in ours:
        o, t = ours[name], theirs.get(name, [])
        if not t:
            continue
        ratios = sorted(tv / ov for ov, tv in zip(o, t))
        cell = lambda v: f"{statistics.median(v):.4g} [{min(v):.4g}-{max(v):.4g}]"
        print(f"| {name} | {cell(o)} | {cell(t)} | {statistics.median(ratios):.2f}x [{ratios[0]:.2f}-{ratios[-1]:.2f}] |")
    if args.survey or args.cases:
        return
    mem_ours = parse(run([binary, "--memory", "big_elementwise"]), "MEMORY")["big_elementwise"]
    mem_torch = parse(run(me + ["--memory", "big_elementwise"]), "MEMORY")["big_elementwise"]
    print("peak resident memory, big_elementwise (1000x1000 f32), one run in a fresh process:")
    for side, (before, peak) in (("ours", mem_ours), ("PyTorch", mem_torch)):
        print(f"  {side}: peak {peak / 1024:.1f} MiB ({(peak - before) / 1024:.1f} MiB above the process before the case)")


if __name__ == "__main__":
    main()
