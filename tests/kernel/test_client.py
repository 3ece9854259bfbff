"""The kernel under a real jupyter_client: state across cells, errors, interrupt, restart."""
import contextlib
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import pytest
from jupyter_client.manager import start_new_kernel

import conftest  # noqa: F401  (installs the kernelspec)


@contextlib.contextmanager
def fresh_kernel(**kwargs):
    """A kernel of its own: (manager, client), shut down afterwards."""
    km, kc = start_new_kernel(kernel_name="rust-autograd", startup_timeout=300, **kwargs)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel():
    with fresh_kernel() as pair:
        yield pair


def run(kc, code, timeout=300, **options):
    """Executes code; returns (reply content, stdout text, stderr text, results, errors)."""
    msg_id = kc.execute(code, **options)
    stdout, stderr, results, errors = [], [], [], []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (stdout if content["name"] == "stdout" else stderr).append(content["text"])
        elif kind == "execute_result":
            results.append(content["data"])
        elif kind == "error":
            errors.append(content)
        elif kind == "status" and content["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=timeout)
    return reply["content"], "".join(stdout), "".join(stderr), results, errors


def test_seed_in_one_cell_rand_in_the_next_gives_torchs_numbers(kernel):
    _, kc = kernel
    reply, *_ = run(kc, "manual_seed(666);")
    assert reply["status"] == "ok"
    reply, out, _, _, _ = run(kc, 'let a = rand(&[20, 4]);\nprintln!("{}", a.to_string().lines().next().unwrap());')
    assert reply["status"] == "ok", reply
    assert out == "tensor([[0.3119, 0.2701, 0.1118, 0.1012],\n"
    _, _, _, results, _ = run(kc, "randn(&[3])")
    assert results[0]["text/plain"] == "tensor([-2.2826,  0.1051, -0.2497])"


def test_grad_mode_set_in_one_cell_is_honoured_in_the_next(kernel):
    _, kc = kernel
    run(kc, "set_grad_enabled(false);")
    _, out, _, _, _ = run(kc, 'let x = tensor!(10., requires_grad = true);\nshow!(x.pow(2).requires_grad());')
    assert out == "False\n"
    run(kc, "set_grad_enabled(true);")
    _, out, _, _, _ = run(kc, "show!(x.pow(2).requires_grad());")
    assert out == "True\n"


def test_a_panic_is_an_error_and_keeps_variables(kernel):
    _, kc = kernel
    run(kc, "let kept = tensor!([1., 2., 3.], requires_grad = true);")
    reply, _, stderr, _, errors = run(kc, "let y = &kept * 2.0;\ny.backward();")
    assert reply["status"] == "error"
    assert errors[0]["ename"] == "RuntimeError"
    assert errors[0]["evalue"] == "grad can be implicitly created only for scalar outputs"
    reply, _, _, results, _ = run(kc, "kept")
    assert reply["status"] == "ok"
    assert results[0]["text/plain"] == "tensor([1., 2., 3.], requires_grad=True)"


def test_compile_errors_point_at_the_cell(kernel):
    _, kc = kernel
    reply, _, _, _, errors = run(kc, "let q = 1;\nlet r: String = q;")
    assert reply["status"] == "error"
    assert errors[0]["ename"] == "CompilationError"
    assert "cell:2" in "\n".join(errors[0]["traceback"])


def test_cells_after_the_first_re_run_its_recorded_build_command():
    """The first cell (built with the offline preload) goes through cargo, which records the
    cell crate's rustc command; the online cells after it re-run that command: the record is
    not written again (it was, once, when cargo's offline and online lock files differed).
    On x86-64 Linux the record links those cells with the toolchain's rust-lld directly
    (kernel/src/cell_link.rs), and that link worked: the record still says so."""
    cache = pathlib.Path(os.environ.get("AUTOGRAD_KERNEL_CACHE", pathlib.Path.home() / ".cache/autograd-kernel"))
    started = time.time()
    with fresh_kernel() as (_, kc):
        reply, _, _, _, _ = run(kc, "let first = 1.0_f64;")
        assert reply["status"] == "ok", reply
        records = [
            p for p in cache.glob("evcxr/slot-*/target/autograd-kernel-cell-rustc.json") if p.stat().st_mtime >= started
        ]
        assert len(records) == 1, records
        recorded = records[0].stat().st_mtime_ns
        for code, expected in [("first * 2.0", "2.0"), ("let second = first + 1.0;", None), ("second", "2.0")]:
            reply, _, _, results, _ = run(kc, code)
            assert reply["status"] == "ok", reply
            assert expected is None or results[0]["text/plain"] == expected
        assert records[0].stat().st_mtime_ns == recorded
        if platform.system() == "Linux" and platform.machine() == "x86_64":
            link = json.loads(records[0].read_text())["link"]
            assert isinstance(link, dict) and "With" in link, link
            # OsString in serde's JSON: {"Unix": [bytes]}
            linker = bytes(link["With"][0]["Unix"]).decode()
            assert linker.startswith("-Clinker=") and linker.endswith("/rust-lld"), linker


def test_cells_keep_their_variables_in_the_engines_store():
    """evcxr writes its variable store (a HashMap and its methods) into every cell; the kernel
    builds cells against autograd_core::cell_variables instead (kernel/src/cell_store.rs), so
    the map is compiled once. Variables, evcxr's errors about them, and the lines of errors in
    the cell stay as they were."""
    cache = pathlib.Path(os.environ.get("AUTOGRAD_KERNEL_CACHE", pathlib.Path.home() / ".cache/autograd-kernel"))
    started = time.time()
    with fresh_kernel() as (_, kc):
        reply, *_ = run(kc, "let a = tensor!([1., 2.], requires_grad = true);\nlet n = 3_i64;")
        assert reply["status"] == "ok", reply
        reply, out, *_ = run(kc, 'let b = &a * n as f64;\nprintln!("{} {}", b, n);')
        assert reply["status"] == "ok", reply
        assert out == "tensor([3., 6.], grad_fn=<MulBackward0>) 3\n"
        sources = [p for p in cache.glob("evcxr/slot-*/src/lib.rs") if p.stat().st_mtime >= started]
        assert len(sources) == 1, sources
        text = sources[0].read_text()
        assert "mod evcxr_internal_runtime { pub use autograd_core::cell_variables::*; }" in text
        assert "HashMap" not in text and "put_variable::<Tensor>(stringify!(b), b)" in text
        # a borrow cannot be kept for the next cell: evcxr's own message, at the variable
        reply, _, _, _, errors = run(kc, "let first = 0;\nlet r = &a;", stop_on_error=False)
        assert reply["status"] == "error"
        traceback = "\n".join(errors[0]["traceback"])
        assert "The variable `r` contains a reference with a non-static lifetime" in traceback, traceback
        assert "   2 | let r = &a;" in traceback, traceback
        # a panic keeps them too
        reply, *_ = run(kc, "let c = &b * 2.0;\nb.backward();", stop_on_error=False)
        assert reply["status"] == "error"
        reply, _, _, results, _ = run(kc, "(n, b.sum(), a.grad())")
        assert reply["status"] == "ok", reply
        assert results[0]["text/plain"] == "(3, tensor(9., grad_fn=<SumBackward0>), None)"


def test_a_dependency_added_between_cells_is_built_and_linked_by_the_cells_after_it(tmp_path):
    """Cells after the first build without cargo (the kernel re-runs the cell crate's rustc
    command); a `:dep` changes the manifest, so the next build goes through cargo again and
    the command the kernel re-runs from then on links the new crate."""
    helper = tmp_path / "teaching_helpers"
    (helper / "src").mkdir(parents=True)
    (helper / "Cargo.toml").write_text('[package]\nname = "teaching_helpers"\nversion = "0.1.0"\nedition = "2021"\n')
    (helper / "src" / "lib.rs").write_text("pub fn double(x: f64) -> f64 { x * 2.0 }\n")
    with fresh_kernel() as (_, kc):
        for code, expected in [("let before = 1.5_f64;", None), ("before * 2.0", "3.0")]:
            reply, _, _, results, _ = run(kc, code)
            assert reply["status"] == "ok", reply
            assert expected is None or results[0]["text/plain"] == expected
        reply, _, _, _, errors = run(kc, f':dep teaching_helpers = {{ path = "{helper}" }}')
        assert reply["status"] == "ok", errors
        for code, expected in [("teaching_helpers::double(before)", "3.0"), ("teaching_helpers::double(4.0)", "8.0")]:
            reply, _, _, results, errors = run(kc, code)
            assert reply["status"] == "ok", errors
            assert results[0]["text/plain"] == expected
        # the recorded command is the one with the new library
        _, out, _, _, _ = run(kc, 'println!("{}", std::env::var("EVCXR_TMPDIR").unwrap());')
        record = json.loads((pathlib.Path(out.strip()) / "target/autograd-kernel-cell-rustc.json").read_text())
        argv = ["".join(map(chr, a["Unix"])) if isinstance(a, dict) else a for a in record["argv"]]
        assert any("libteaching_helpers" in a for a in argv), argv
        # a compile error after the replayed builds still points at the cell
        reply, _, _, _, errors = run(kc, "let q = 1;\nlet r: String = q;")
        assert reply["status"] == "error" and "cell:2" in "\n".join(errors[0]["traceback"])


CARGO_HOME_CELL = 'println!("{:?} {:?}", std::env::var_os("CARGO_HOME"), std::env::var_os("AUTOGRAD_KERNEL_USERS_CARGO_HOME"));'


def debug_os_string(value):
    """Rust's `{:?}` of an `Option<OsString>`."""
    return "None" if value is None else f'Some("{value}")'


def test_cells_see_the_users_cargo_home_whatever_the_kernel_gives_its_analyser(kernel):
    # the kernel's own CARGO_HOME names its toolchain directory (rust-analyzer runs
    # `$CARGO_HOME/bin/cargo`), and every process it starts gets the user's back
    _, kc = kernel
    reply, out, *_ = run(kc, CARGO_HOME_CELL)
    assert reply["status"] == "ok", reply
    assert out.strip() == f"{debug_os_string(os.environ.get('CARGO_HOME'))} None"
    # set by the user: kept, and the real cargo finds its registry there (the first cell
    # builds with the offline preload)
    home = os.environ.get("CARGO_HOME") or str(pathlib.Path.home() / ".cargo")
    with fresh_kernel(env=dict(os.environ, CARGO_HOME=home)) as (_, kc2):
        reply, out, *_ = run(kc2, "(ones(&[2]) * 3.0).sum()")
        assert reply["status"] == "ok", reply
        reply, out, *_ = run(kc2, CARGO_HOME_CELL)
        assert reply["status"] == "ok", reply
        assert out.strip() == f"{debug_os_string(home)} None"


def test_tensors_are_named_after_their_variables_without_changing_the_cell(kernel):
    """The kernel names tensors bound with a top-level let after their variables (for the
    graph pictures); moving, shadowing and errors on let lines behave as in the student's cell."""
    _, kc = kernel
    reply, *_ = run(
        kc,
        "let w = tensor!([1., 2.], requires_grad = true);\nlet v = w; // moved\nlet w = &v * 3.0;\n"
        "let n: i64 = 5;\nlet (a, b) = (n, w.clone());\nlet loss = b.sum();",
    )
    assert reply["status"] == "ok", reply
    _, _, _, results, _ = run(kc, "draw_graph(&loss)")
    text = results[0]["text/plain"]
    # the leaf was bound to w, then moved to v; b is the same tensor as the second w
    assert "MulBackward0 (b)" in text and "AccumulateGrad (v)" in text, text
    assert ">loss</text>" in results[0]["image/svg+xml"]
    _, _, _, results, _ = run(kc, "explain(&loss)")
    assert "v.grad: None + [3., 3.] = [3., 3.]" in results[0]["text/plain"], results
    reply, _, _, _, errors = run(kc, "let q = 1;\nlet r: String = q;", stop_on_error=False)
    traceback = "\n".join(errors[0]["traceback"])
    assert "   2 | let r: String = q;" in traceback and "name_binding" not in traceback, traceback


def test_variables_of_standard_library_types_persist_and_complete(kernel):
    """The analyser reads a trimmed copy of std's sources (see kernel/src/toolchain.rs); it
    must still know std's types, or evcxr cannot keep these variables for the next cell."""
    _, kc = kernel
    reply, *_ = run(
        kc,
        "use std::collections::{HashMap, BTreeSet};\n"
        "let names: Vec<String> = vec![\"w\".to_string(), \"b\".into()];\n"
        "let mut seen = HashMap::new();\nseen.insert(names[0].clone(), 3usize);\n"
        "let words = names.iter().map(|s| s.len()).collect::<BTreeSet<_>>();\n"
        "let pair = (1.5f64.sqrt(), \"x\".repeat(2));\n"
        "let shapes = vec![ones(&[2, 3]).shape().to_vec()];",
    )
    assert reply["status"] == "ok", reply
    reply, out, *_ = run(kc, 'println!("{:?} {:?} {:?} {:?} {:?}", names, seen, words, pair, shapes);')
    assert reply["status"] == "ok", reply
    assert out == '["w", "b"] {"w": 3} {1} (1.224744871391589, "xx") [[2, 3]]\n'
    code = "names.iter().cou"
    kc.complete(code, len(code))
    reply = kc.get_shell_msg(timeout=300)
    assert "count()" in reply["content"]["matches"], reply["content"]


def test_variables_taken_from_the_engines_results_persist(kernel):
    """The analyser is not told of the crates autograd-core uses only inside (ndarray, rayon,
    ...: see kernel/src/analysis_deps.rs); what a cell takes from its public API must still
    have a type evcxr can keep for the next cell."""
    _, kc = kernel
    reply, *_ = run(
        kc,
        "let arr = tensor!([[1., 2.5], [3., 4.]]).t().numpy();\n"
        "let values = arr.to_f64();\nlet dims = arr.shape();\nlet kind = arr.dtype();",
    )
    assert reply["status"] == "ok", reply
    reply, out, *_ = run(kc, 'println!("{arr}|{values:?}|{dims:?}|{kind:?}");')
    assert reply["status"] == "ok", reply
    assert out == "[[1.  3. ]\n [2.5 4. ]]|[1.0, 3.0, 2.5, 4.0]|[2, 2]|Float32\n", out
    _, _, _, results, _ = run(kc, ":vars")
    listing = results[0]["text/plain"]
    assert "arr: NdArray" in listing and "values: Vec<f64>" in listing, listing


def test_shift_tab_shows_the_signature_as_text_and_html_and_links_std_docs(kernel):
    """Inspect (Shift-Tab): plain text without HTML in it, the HTML apart; autograd-core's own
    documentation; for std's items, which the analyser reads without docs, a link to them."""
    _, kc = kernel
    replies = {}
    for code in ("Vec::<u8>::new", "ones"):
        kc.inspect(code, len(code))
        reply = kc.get_shell_msg(timeout=300)
        assert reply["content"]["found"], reply["content"]
        replies[code] = reply["content"]["data"]
    plain, html = replies["Vec::<u8>::new"]["text/plain"], replies["Vec::<u8>::new"]["text/html"]
    assert "pub const fn new() -> Self" in plain and "<" + "pre>" not in plain, plain
    assert plain.endswith("std's documentation: https://doc.rust-lang.org/std/index.html?search=Vec%3A%3Anew"), plain
    assert '<a href="https://doc.rust-lang.org/std/index.html?search=Vec%3A%3Anew"' in html, html
    plain = replies["ones"]["text/plain"]
    assert "pub fn ones(shape: &[usize]) -> Tensor" in plain and "torch.ones" in plain, plain
    assert "doc.rust-lang.org" not in plain


def test_a_completion_that_crashes_the_analyser_keeps_the_session(kernel):
    """rust-analyzer panics ("failed to unify type owners") completing an expression after
    this code; the kernel must answer with no matches and keep every variable."""
    _, kc = kernel
    run(kc, "let survivor = tensor!([5., 6.]);")
    code = (
        "let x = tensor!([1., 2.], requires_grad = true);\nlet z = &x * &x * 3.0 - 1.0;\n"
        "let out = z.mean();\nout.backward();\nlet g = x.grad();\nlet f = out.grad_fn();\n"
    )
    kc.complete(code, len(code))
    reply = kc.get_shell_msg(timeout=300)
    assert reply["msg_type"] == "complete_reply"
    assert reply["content"]["status"] == "ok"
    reply, _, _, results, _ = run(kc, "survivor")
    assert reply["status"] == "ok"
    assert results[0]["text/plain"] == "tensor([5., 6.])"


def interrupt_running_cell(km, kc, code, after=1.0):
    """Runs code, interrupts it `after` seconds after it printed `started`, and returns
    (seconds from the interrupt to the execute_reply, the reply, the cell's error messages)."""
    msg_id = kc.execute(code)
    errors, interrupted = [], None
    while True:
        msg = kc.get_iopub_msg(timeout=300)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "stream" and "started" in msg["content"]["text"] and interrupted is None:
            time.sleep(after)
            interrupted = time.time()
            km.interrupt_kernel()
        elif kind == "error":
            errors.append(msg["content"])
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=60)
    assert interrupted is not None, (reply, errors)
    return time.time() - interrupted, reply["content"], errors


# a cell that only stops at the interrupt button; `started` says it is running
INTERRUPTED_CELLS = {
    # autograd-core's tensor ops look at the interrupt flag
    "tensor ops": 'println!("started");\nlet mut y = ones(&[4]);\nloop { y = &y * 1.0001; }',
    # the kernel puts an interrupt point into the cell's own loops...
    "plain loop": 'println!("started");\nlet mut i: u64 = 0;\nloop { i = i.wrapping_add(1); }',
    # ... and sleeps in short slices (one that starts the cell, too)
    "sleep": 'std::thread::sleep(std::time::Duration::from_millis(1)); println!("started");\n'
    "std::thread::sleep(std::time::Duration::from_secs(30));",
}


@pytest.mark.parametrize("case", list(INTERRUPTED_CELLS))
def test_interrupt_stops_the_cell_at_once_and_keeps_variables(kernel, case):
    """As ipykernel: the interrupt button raises KeyboardInterrupt in the running cell within a
    second, whether it computes with tensors, spins in a plain loop or sleeps, and the variables
    of earlier cells are still there."""
    km, kc = kernel
    reply, *_ = run(kc, "let before = tensor!([1., 2.]);\nlet count = vec![3u64, 1, 2];")
    assert reply["status"] == "ok", reply
    latency, reply, errors = interrupt_running_cell(km, kc, INTERRUPTED_CELLS[case])
    print(f"interrupt latency ({case}): {latency:.3f} s")
    assert reply["status"] == "error", reply
    assert reply["ename"] == "KeyboardInterrupt", reply
    assert errors and errors[0]["ename"] == "KeyboardInterrupt", errors
    assert latency < 1.0, f"{case}: {latency:.2f} s from the interrupt to the reply"
    # sent at once: without stop_on_error, or it may still count as queued behind the failed cell
    reply, out, _, results, _ = run(kc, 'println!("{:?}", count);\nbefore', stop_on_error=False)
    assert reply["status"] == "ok", reply
    assert out == "[3, 1, 2]\n"
    assert results[0]["text/plain"] == "tensor([1., 2.])"


def test_the_interrupt_names_the_line_of_the_loop(kernel):
    km, kc = kernel
    code = 'println!("started");\nlet mut n: u64 = 0;\nwhile n < u64::MAX { n = n.wrapping_add(2); }'
    _, reply, errors = interrupt_running_cell(km, kc, code, after=0.2)
    assert reply["ename"] == "KeyboardInterrupt", reply
    traceback = "\n".join(errors[0]["traceback"])
    assert "  --> cell:3:" in traceback, traceback
    assert "   3 | while n < u64::MAX { n = n.wrapping_add(2); }" in traceback, traceback
    assert "autograd_core" not in traceback


def test_errors_in_a_rewritten_loop_point_at_the_students_own_code(kernel):
    """The interrupt points the kernel inserts are never seen: a panic or a compile error on
    the line of a loop shows the student's own line and column."""
    _, kc = kernel
    line = "for i in 0..3 { let x = v[i]; total += x; }"
    reply, _, _, _, errors = run(kc, f"let v = vec![1, 2];\nlet mut total = 0;\n{line}")
    assert reply["status"] == "error", reply
    assert errors[0]["ename"] == "Panic", errors
    traceback = "\n".join(errors[0]["traceback"])
    # the column of `[`, as the kernel reports an index panic on any line
    assert f"  --> cell:3:{line.index('[i]') + 1}\n   3 | {line}" in traceback, traceback
    line = "loop { let s: String = 5; break; }"
    reply, _, _, _, errors = run(kc, f"let a = 1;\n{line}", stop_on_error=False)
    assert errors[0]["ename"] == "CompilationError", errors
    traceback = "\n".join(errors[0]["traceback"])
    assert f"  --> cell:2:{line.index('5;') + 1}\n   2 | {line}" in traceback, traceback
    assert "autograd_core" not in traceback
    # and what loops compute and print is unchanged: labeled, nested, with a value, in a
    # closure and in a function kept for later cells
    reply, out, _, results, _ = run(
        kc, "let mut acc = 0u64;\n'a: for i in 0..10 { for j in 0..i { if j == 7 { break 'a; } acc += j; } }\n"
        'let w = loop { acc += 1; if acc % 5 == 0 { break acc; } };\nprintln!("{acc} {w}");\n'
        "let c = { let f = |n: u64| { let mut k = 0; while k < n { k += 1; } k }; f(3) };\n"
        "fn spin(n: u64) -> u64 { let mut k = 0; for _ in 0..n { k += 2; } k }\n"
        "w * 2 + c + spin(4)",
        stop_on_error=False,
    )
    assert reply["status"] == "ok", reply
    assert out == "80 80\n" and results[0]["text/plain"] == "171"
    reply, _, _, results, _ = run(kc, "spin(5)")
    assert reply["status"] == "ok" and results[0]["text/plain"] == "10", reply


def test_code_that_never_returns_to_the_cell_is_still_stopped_by_a_restart():
    """An interrupt point is only in the cell's own loops: a long iterator chain in std is
    stopped by restarting the runtime (variables lost, as the error says), and the kernel goes
    on."""
    with fresh_kernel() as (km, kc):
        run(kc, "let lost = 1;")
        code = 'println!("started");\n(0..u64::MAX).map(std::hint::black_box).sum::<u64>()'
        latency, reply, errors = interrupt_running_cell(km, kc, code, after=0.5)
        print(f"interrupt latency (restart): {latency:.3f} s")
        assert reply["status"] == "error" and errors[0]["ename"] == "RuntimeRestarted", errors
        reply, _, _, results, _ = run(kc, "tensor!([3.]) * 2.0", stop_on_error=False)
        assert reply["status"] == "ok" and results[0]["text/plain"] == "tensor([6.])"


def test_restart_gives_a_fresh_kernel():
    with fresh_kernel() as (km, kc):
        reply, *_ = run(kc, "let gone = 5;")
        assert reply["execution_count"] == 1
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=300)
        reply, _, _, _, errors = run(kc, "gone")
        assert reply["status"] == "error"
        reply, _, _, results, _ = run(kc, "tensor!([3.])")
        assert results[0]["text/plain"] == "tensor([3.])"


@pytest.mark.parametrize(
    "first_cell, check",
    [
        # a compile error: rustc's message points at the cell's own line 2
        ("let a = ones(&[2]);\nlet b: String = a;", lambda out, err: err and "cell:2" in "\n".join(err[0]["traceback"])),
        # an error before anything runs (evcxr cannot keep a closure): reported as for any cell
        ("let f = |x: f64| x * 2.0;", lambda out, err: err and "closure" in err[0]["evalue"]),
        # evcxr commands in the first cell
        (":opt 0\nprintln!(\"{}\", 2.0f64.sqrt());", lambda out, err: not err and out == "1.4142135623730951\n"),
    ],
)
def test_the_first_cell_built_with_the_preload_behaves_as_any_cell(first_cell, check):
    """A first cell sent right away is built together with autograd-core's preload; whatever it
    does, the engine must be loaded for the next cell."""
    with fresh_kernel() as (_, kc):
        _, out, _, _, errors = run(kc, first_cell)
        assert check(out, errors), (out, errors)
        reply, _, _, results, _ = run(kc, "ones(&[2]) * 3.0")
        assert reply["status"] == "ok", reply
        assert results[0]["text/plain"] == "tensor([3., 3.])"


def test_a_first_cell_without_variables_leaves_std_for_later_and_cells_right_behind_it_get_types():
    """A first cell that defines no variable is answered before the analyser reads std (see
    kernel/src/session/deferred_std.rs); the cells sent right behind it (Run All) must still
    get their variables' types, std's and the engine's operators' included, and completion
    must know std."""
    with fresh_kernel() as (_, kc):
        first = kc.execute("// 第一格：不定义变量\ntensor!([1., 2.]) * 2.0")
        second = kc.execute(
            "let y = &ones(&[2]) + 2.0;\n"
            "let names: Vec<String> = vec![\"w\".into()];\n"
            "let total = names.iter().map(|s| s.len()).sum::<usize>();\n"
            "y"
        )
        third = kc.execute('println!("{} {:?} {}", total, names, &y * 2.0);')
        out = collect(kc, [first, second, third])
        for msg_id in (first, second, third):
            assert out[msg_id][0]["status"] == "ok", out[msg_id][0]
        reply, _, _, results, _ = run(kc, "(&y - 1.0).sum()")
        assert reply["status"] == "ok" and results[0]["text/plain"] == "tensor(4.)", (reply, results)
        code = "names.iter().cou"
        kc.complete(code, len(code))
        reply = kc.get_shell_msg(timeout=300)
        assert "count()" in reply["content"]["matches"], reply["content"]


def test_a_kernel_whose_parent_is_gone_exits_with_its_runtime(tmp_path):
    """As ipykernel's parent poller: a Jupyter server killed before it shut its kernels down
    (a hub stopping a student's server) must not leave the kernel and its runtime running."""
    from jupyter_client.connect import write_connection_file
    from jupyter_client.kernelspec import KernelSpecManager

    connection, _ = write_connection_file(str(tmp_path / "kernel.json"))
    spec = KernelSpecManager().get_kernel_spec("rust-autograd")
    argv = [a.replace("{connection_file}", connection) for a in spec.argv]
    # a parent that starts the kernel, reports its pid, waits until its runtime is up, then dies
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_THAT_DIES, json.dumps(argv), json.dumps(spec.env)],
        stdout=subprocess.PIPE,
        text=True,
    )
    kernel_pid, runtime_pid = (int(p) for p in parent.stdout.readline().split())
    assert parent.wait(timeout=120) == 0

    def alive(pid):
        try:
            state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        return state != "Z"

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (alive(kernel_pid) or alive(runtime_pid)):
        time.sleep(0.2)
    assert not alive(kernel_pid), "the kernel outlived its parent"
    assert not alive(runtime_pid), "the runtime outlived its kernel"


PARENT_THAT_DIES = """
import json, os, pathlib, subprocess, sys, time
argv, env = json.loads(sys.argv[1]), json.loads(sys.argv[2])
kernel = subprocess.Popen(argv, env=dict(os.environ, **env, JPY_PARENT_PID=str(os.getpid())))
deadline = time.monotonic() + 100
children = []
while not children and time.monotonic() < deadline:
    time.sleep(0.2)
    for task in pathlib.Path(f"/proc/{kernel.pid}/task").iterdir():
        try:
            children += (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that ended while we looked
            pass
print(kernel.pid, children[0], flush=True)
os._exit(0)
"""


def test_a_kernel_starts_without_a_network():
    """A classroom without internet: cargo pointed at a proxy that refuses every connection
    must not stop the kernel from loading the prebuilt engine (it used to ask the registry at
    every start)."""
    env = dict(os.environ, CARGO_HTTP_PROXY="http://127.0.0.1:9", CARGO_NET_RETRY="0")
    with fresh_kernel(env=env) as (_, kc):
        reply, _, _, results, errors = run(kc, "tensor!([1., 2.]) * 2.0")
        assert reply["status"] == "ok", errors
        assert results[0]["text/plain"] == "tensor([2., 4.])"


def test_badly_signed_messages_are_dropped_and_the_kernel_keeps_serving(kernel):
    _, kc = kernel
    good_key = kc.session.key
    kc.session.key = b"not-the-key"
    kc.execute("let dropped = 1;")
    kc.session.key = good_key
    # an unparsable frame set straight on the shell socket
    kc.shell_channel.socket.send_multipart([b"<IDS|MSG>", b"sig", b"{not json"])
    time.sleep(0.5)
    reply, _, _, results, _ = run(kc, "21 * 2")
    assert reply["status"] == "ok"
    assert results[0]["text/plain"] == "42"
    reply, _, _, _, errors = run(kc, "dropped")
    assert reply["status"] == "error", "the badly signed cell never ran"


def test_two_kernels_at_once_keep_their_own_state(kernel):
    """A second notebook open at the same time gets its own kernel, build slot and state (its
    slot starts from a copy of the first one's build, so the engine is not compiled again)."""
    _, kc = kernel
    run(kc, "manual_seed(1);\nlet only_here = tensor!([1., 2.]);")
    with fresh_kernel() as (_, kc2):
        reply, out, _, _, _ = run(kc2, "manual_seed(666);\nshow!(rand(&[2]));")
        assert reply["status"] == "ok", reply
        assert out == "tensor([0.3119, 0.2701])\n"
        reply, _, _, _, errors = run(kc2, "only_here")
        assert reply["status"] == "error" and "cannot find value `only_here`" in errors[0]["evalue"]
    _, _, _, results, _ = run(kc, "only_here * 2.0")
    assert results[0]["text/plain"] == "tensor([2., 4.])"


def test_a_second_client_on_the_same_kernel_gets_its_own_replies(kernel):
    """Like a console attached to a notebook's kernel: both see the same variables, and each
    gets the replies to its own requests on the shell channel."""
    from jupyter_client import BlockingKernelClient

    km, kc = kernel
    second = BlockingKernelClient(connection_file=km.connection_file)
    second.load_connection_file()
    second.start_channels()
    try:
        second.wait_for_ready(timeout=60)
        run(kc, "let shared = tensor!([1., 2.]);")
        reply, _, _, results, _ = run(second, "&shared + 1.0")
        assert reply["status"] == "ok" and results[0]["text/plain"] == "tensor([2., 3.])"
        reply, _, _, results, _ = run(kc, "&shared * 3.0")
        assert reply["status"] == "ok" and results[0]["text/plain"] == "tensor([3., 6.])"
    finally:
        second.stop_channels()


def collect(kc, msg_ids, timeout=300):
    """Replies and iopub messages for requests sent at once: {msg_id: (reply, [iopub types])}."""
    replies, iopub = {}, {m: [] for m in msg_ids}
    while len(replies) < len(msg_ids):
        msg = kc.get_shell_msg(timeout=timeout)
        replies[msg["parent_header"]["msg_id"]] = msg["content"]
    # every request ends with its idle status on iopub
    idle = set()
    while idle != set(msg_ids):
        msg = kc.get_iopub_msg(timeout=timeout)
        parent = msg["parent_header"].get("msg_id")
        if parent in iopub:
            kind = msg["msg_type"]
            if kind == "status":
                kind = msg["content"]["execution_state"]
                if kind == "idle":
                    idle.add(parent)
            iopub[parent].append(kind)
    return {m: (replies[m], iopub[m]) for m in msg_ids}


def test_run_all_stops_at_a_failing_cell_as_ipykernel(kernel):
    """JupyterLab's Run All sends every cell at once with stop_on_error: after a failing cell,
    the queued ones are answered `aborted` (busy, reply, idle; no input, no count) and never
    run."""
    _, kc = kernel
    run(kc, "let mut side_effect = 0;")
    first = kc.execute("let bad = tensor!([1., 2.]);\nbad.backward();")
    second = kc.execute("side_effect += 1;\nshow!(side_effect);")
    third = kc.execute("side_effect += 10;")
    out = collect(kc, [first, second, third])
    assert out[first][0]["status"] == "error"
    assert out[first][0]["ename"] == "RuntimeError"
    for aborted in (second, third):
        reply, iopub = out[aborted]
        assert reply["status"] == "aborted", reply
        assert "execution_count" not in reply
        assert iopub == ["busy", "idle"], iopub
    # nothing after the failing cell ran, and the next cell runs again
    reply, out_text, _, _, _ = run(kc, "show!(side_effect);")
    assert reply["status"] == "ok" and out_text == "0\n"


def test_a_request_without_stop_on_error_still_runs_after_a_failure(kernel):
    _, kc = kernel
    first = kc.execute("let nope: i32 = \"text\";")
    second = kc.execute("let ran_anyway = 7;", stop_on_error=False)
    out = collect(kc, [first, second])
    assert out[first][0]["status"] == "error" and out[first][0]["ename"] == "CompilationError"
    assert out[second][0]["status"] == "ok", out[second][0]
    reply, _, _, results, _ = run(kc, "ran_anyway")
    assert reply["status"] == "ok" and results[0]["text/plain"] == "7"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hostile_messages(session, rng):
    """A few hundred frame sets a broken or hostile client could send: malformed frames,
    oversized ones, wrong signatures, unknown and out-of-order message types, content of the
    wrong shape. Yields (label, frames)."""
    import json
    import uuid

    def signed(msg_type, content, parent=None, metadata=None, key_ok=True, buffers=()):
        header = {"msg_id": uuid.uuid4().hex, "session": session.session, "username": "fuzz",
                  "date": "2026-11-30T00:00:00Z", "msg_type": msg_type, "version": "5.3"}
        parts = [json.dumps(p).encode() for p in (header, parent or {}, metadata or {}, content)]
        sig = session.sign(parts) if key_ok else b"0" * 64
        return [b"fuzz-client", b"<IDS|MSG>", sig, *parts, *buffers]

    yield "empty", []
    yield "no delimiter", [b"just", b"frames"]
    yield "delimiter only", [b"<IDS|MSG>"]
    yield "too few frames", [b"<IDS|MSG>", b"sig", b"{}"]
    yield "header not json", [b"<IDS|MSG>", b"sig", b"{not json", b"{}", b"{}", b"{}"]
    yield "header not an object", signed("x", {})[:3] + [b"[1, 2]", b"{}", b"{}", b"{}"]
    yield "non-utf8", [b"<IDS|MSG>", b"sig", b"\xff\xfe\x00", b"\x80", b"{}", b"{}"]
    yield "signature not hex", [b"<IDS|MSG>", b"zz" * 32, b"{}", b"{}", b"{}", b"{}"]
    big = b"x" * (30 * 1024 * 1024)
    yield "oversized unsigned", [b"<IDS|MSG>", b"0" * 64, big, b"{}", b"{}", b"{}"]
    yield "oversized content, signed", signed("execute_request", {"code": "1", "pad": "y" * (24 * 1024 * 1024)},
                                                key_ok=False)
    yield "oversized buffers", signed("comm_msg", {"comm_id": "none", "data": {}}, buffers=[big, big])
    yield "oversized identity", [big, b"<IDS|MSG>", b"0" * 64, b"{}", b"{}", b"{}", b"{}"]
    for msg_type in ("execute_reply", "input_reply", "kernel_info_reply", "shutdown_reply", "comm_close",
                     "comm_msg", "comm_open", "no_such_request", "", "debug_request", "history_request",
                     "inspect_request", "complete_request", "is_complete_request", "comm_info_request"):
        yield f"unknown or out of order {msg_type!r}", signed(msg_type, {"comm_id": "nope", "data": {}})
    # requests the kernel knows, with content of the wrong shape
    shapes = [{}, {"code": 123}, {"code": None}, {"code": ["a"]}, {"code": "x", "cursor_pos": -5},
              {"code": "x", "cursor_pos": 10**30}, {"code": "é" * 3, "cursor_pos": 2},
              {"code": "x", "detail_level": "many"}, {"hist_access_type": 7}, {"target_name": {"a": 1}}]
    for msg_type in ("complete_request", "inspect_request", "is_complete_request", "history_request",
                     "comm_info_request", "kernel_info_request"):
        for content in shapes:
            yield f"{msg_type} {content!r}"[:80], signed(msg_type, content)
    for content in ({}, {"code": 123}, {"code": None}, {"code": ["let x = 1;"]}, {"silent": "yes"}):
        yield f"execute_request {content!r}", signed("execute_request", content)
    yield "content not an object", signed("kernel_info_request", [1, 2, 3])
    yield "metadata not an object", signed("kernel_info_request", {}, metadata=["m"])
    # random bytes and random JSON, signed and not
    for i in range(150):
        frames = [rng.randbytes(rng.randrange(0, 64)) for _ in range(rng.randrange(0, 9))]
        if rng.random() < 0.5:
            frames.insert(rng.randrange(0, len(frames) + 1), b"<IDS|MSG>")
        yield f"random frames {i}", frames
    for i in range(100):
        content = {rng.choice(["code", "cursor_pos", "comm_id", "data", "x"]):
                   rng.choice([None, 1, -1, 2.5, "s", [], {}, "é", 10**20])}
        yield f"random content {i}", signed(rng.choice(["complete_request", "inspect_request",
                                                         "is_complete_request", "comm_msg", "comm_close",
                                                         "kernel_info_request", "weird"]), content,
                                            key_ok=rng.random() < 0.7)


def send_hostile_messages(km, kc):
    """Sends every hostile message on shell, control and stdin, and odd pings to the
    heartbeat; returns how many were sent."""
    import random

    import zmq

    info = km.get_connection_info()
    context = zmq.Context.instance()
    sent = 0
    for channel in ("shell", "control", "stdin", "hb"):
        socket = context.socket(zmq.REQ if channel == "hb" else zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(f"{info['transport']}://{info['ip']}:{info[channel + '_port']}")
        try:
            if channel == "hb":
                for size in (0, 1, 1024, 30 * 1024 * 1024):
                    socket.send(b"p" * size)
                    assert socket.poll(30_000), "heartbeat stopped echoing"
                    assert len(socket.recv()) == size
                    sent += 1
                continue
            for _label, frames in hostile_messages(kc.session, random.Random(channel)):
                # a DEALER adds no identity: the kernel's ROUTER prepends ours
                if frames:
                    socket.send_multipart(frames)
                    sent += 1
        finally:
            socket.close()
    return sent


def kernel_still_serves(km, kc):
    kc.kernel_info()
    assert kc.get_shell_msg(timeout=120)["content"]["status"] == "ok"
    reply, _, _, results, errors = run(kc, "(&kept * 2.0).sum()")
    assert reply["status"] == "ok", errors
    assert results[0]["text/plain"] == "tensor(12., grad_fn=<SumBackward0>)"
    assert km.is_alive()
    request = kc.session.msg("interrupt_request", {})
    kc.control_channel.send(request)
    assert kc.control_channel.get_msg(timeout=60)["content"]["status"] == "ok"


def test_a_hostile_client_on_every_channel_leaves_the_kernel_serving(kernel):
    """Hundreds of malformed, oversized (tens of MB), wrongly signed, unknown-type and
    out-of-order messages on shell, control, stdin and heartbeat: afterwards the kernel still
    answers, earlier variables are intact, and its memory is back near where it was (sent
    twice, so that a slow leak shows too)."""
    km, kc = kernel
    reply, *_ = run(kc, "let kept = tensor!([1., 2., 3.], requires_grad = true);")
    assert reply["status"] == "ok"
    pid = km.provisioner.pid
    before = rss_kib(pid)
    sent = send_hostile_messages(km, kc)
    assert sent > 300
    kernel_still_serves(km, kc)
    time.sleep(1.0)
    middle = rss_kib(pid)
    sent += send_hostile_messages(km, kc)
    kernel_still_serves(km, kc)
    time.sleep(1.0)
    after = rss_kib(pid)
    print(f"kernel RSS before {before} KiB, after one round {middle} KiB, after two ({sent} messages) {after} KiB")
    assert middle - before < 32 * 1024, (before, middle, after)
    assert after - before < 32 * 1024, (before, middle, after)
