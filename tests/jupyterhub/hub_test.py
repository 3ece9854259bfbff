"""A class on one server: JupyterHub with N students running the same tutorial at once.

Run by tests/jupyterhub/run.sh (as root, after `./install.sh --system`). It starts JupyterHub
(PyPI) with configurable-http-proxy (npm) on localhost, starts every student's JupyterLab
through the hub's REST API, and in each one a `rust-autograd` kernel through the server's
REST API and kernel websocket, the way JupyterLab talks to it. All students run every code
cell of the tutorial at the same time; each cell's outputs must equal the notebook's saved
ones (compared as the notebook tests compare them). Then each student checks their session
is their own: a variable only they set, and a random stream only they seeded.

Printed per student: cells correct, time to the first result, warm cell p50 under that load,
the kernel's memory (kernel and runtime processes: RSS and PSS), disk in the student's home
(what the student owns, and what is linked from the system install); and the whole server's
peak memory. Exit status 0 only when every cell of every student is right.
"""
import argparse
import asyncio
import json
import os
import pathlib
import pwd
import secrets
import signal
import stat
import statistics
import subprocess
import sys
import threading
import time
import uuid

import nbformat
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from notebook_outputs import comparable, deterministic  # noqa: E402

MiB = 1 << 20
SYSTEM_INSTALL = os.environ.get("AUTOGRAD_SYSTEM_DIR", "/opt/autograd-kernel") + "/"


def meminfo_used():
    fields = {}
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) * 1024
    return fields["MemTotal"] - fields["MemAvailable"]


class PeakMemory(threading.Thread):
    """The machine's used memory (total - available), sampled every 0.2 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.baseline = meminfo_used()
        self.peak = self.baseline
        self.running = True

    def run(self):
        while self.running:
            self.peak = max(self.peak, meminfo_used())
            time.sleep(0.2)


def processes_of(uid):
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            exe = os.readlink(entry / "exe")
            rollup = (entry / "smaps_rollup").read_text()
        except OSError:
            continue
        values = {}
        for line in rollup.splitlines()[1:]:
            name, _, rest = line.partition(":")
            values[name] = int(rest.split()[0]) * 1024
        yield int(entry.name), exe, values.get("Rss", 0), values.get("Pss", 0)


def kernel_memory(uid, live_only=True):
    """RSS and PSS of the student's kernel processes (the kernel and evcxr's runtime, both
    `autograd-kernel`; rust-analyzer runs inside the kernel), and their count. With
    `live_only`, not those of a binary replaced since (an earlier install's)."""
    rss = pss = count = 0
    for _, exe, r, p in processes_of(uid):
        if exe.endswith("/autograd-kernel") or not live_only and "/autograd-kernel" in exe:
            rss, pss, count = rss + r, pss + p, count + 1
    return rss, pss, count


def home_disk(home, uid):
    """Bytes on disk in the student's home that the student owns (their quota), and the bytes
    of the system install's files their build slots link to (no new disk)."""
    own = shared = 0
    for dirpath, dirnames, filenames in os.walk(home):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if st.st_uid == uid:
                    own += st.st_blocks * 512
                if stat.S_ISLNK(st.st_mode) and os.path.realpath(path).startswith(SYSTEM_INSTALL):
                    shared += os.stat(path).st_size
            except OSError:
                continue
    return own, shared


class Kernel:
    """One kernel over the Jupyter server's websocket (JSON messages, as JupyterLab sends them)."""

    def __init__(self, ws, username):
        self.ws = ws
        self.session = uuid.uuid4().hex
        self.username = username

    async def execute(self, code):
        msg_id = uuid.uuid4().hex
        message = {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": self.username,
                "session": self.session,
                "date": "",
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }
        await self.ws.write_message(json.dumps(message))
        outputs, reply, idle = [], None, False
        while reply is None or not idle:
            raw = await asyncio.wait_for(self.ws.read_message(), timeout=600)
            if raw is None:
                raise RuntimeError("the kernel websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if msg["channel"] == "shell" and kind == "execute_reply":
                reply = content
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "stream":
                outputs.append(nbformat.v4.new_output("stream", name=content["name"], text=content["text"]))
            elif kind in ("execute_result", "display_data"):
                out = nbformat.v4.new_output(kind, data=content["data"], metadata=content.get("metadata", {}))
                if kind == "execute_result":
                    out.execution_count = content.get("execution_count")
                outputs.append(out)
            elif kind == "error":
                outputs.append(
                    nbformat.v4.new_output(
                        "error", ename=content["ename"], evalue=content["evalue"], traceback=content["traceback"]
                    )
                )
            elif kind == "clear_output":
                outputs.clear()
        return reply, outputs


class Student:
    def __init__(self, name, hub, token):
        self.name = name
        self.hub = hub
        self.token = token
        self.user = pwd.getpwnam(name)
        self.http = AsyncHTTPClient()
        self.times = []
        self.failures = []

    def headers(self):
        return {"Authorization": f"token {self.token}"}

    async def api(self, method, path, body=None):
        request = HTTPRequest(
            f"{self.hub}{path}",
            method=method,
            headers=self.headers(),
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            request_timeout=600,
        )
        response = await self.http.fetch(request, raise_error=False)
        if response.code >= 400:
            raise RuntimeError(f"{method} {path}: {response.code} {response.body[:300]!r}")
        return json.loads(response.body) if response.body else None

    async def start_server(self):
        started = time.monotonic()
        await self.api("POST", f"/hub/api/users/{self.name}/server")
        while True:
            model = await self.api("GET", f"/hub/api/users/{self.name}")
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                break
            if time.monotonic() - started > 300:
                raise RuntimeError(f"{self.name}: server not ready after 300 s")
            await asyncio.sleep(0.5)
        self.server_start = time.monotonic() - started

    async def run(self, notebook, marker):
        self.kernel_requested = time.monotonic()
        model = await self.api("POST", f"/user/{self.name}/api/kernels", {"name": "rust-autograd"})
        ws_url = self.hub.replace("http", "ws", 1) + f"/user/{self.name}/api/kernels/{model['id']}/channels"
        ws = await websocket_connect(HTTPRequest(ws_url, headers=self.headers()), max_message_size=256 * MiB)
        kernel = Kernel(ws, self.name)
        self.cells = 0
        self.correct = 0
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            started = time.monotonic()
            _, outputs = await kernel.execute(cell.source)
            self.times.append(time.monotonic() - started)
            if self.cells == 0:
                self.first_result = time.monotonic() - self.kernel_requested
            self.cells += 1
            exact = deterministic(cell)
            if comparable(outputs, exact) == comparable(cell.outputs, exact):
                self.correct += 1
            else:
                self.failures.append(f"cell {index}: {cell.source[:60]!r}\n    got {outputs}\n    saved {cell.outputs}")
        # each session is the student's own: a variable and a random stream only they set
        await kernel.execute(f"let hub_student_marker = {marker}u64;\nmanual_seed({marker});")
        self.kernel = kernel
        self.ws = ws

    async def check_own_session(self, marker):
        _, outputs = await self.kernel.execute("(hub_student_marker, rand(&[3]))")
        text = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
        if not text.startswith(f"({marker}, tensor("):
            self.failures.append(f"session check: expected marker {marker}, got {text!r}")
        return text

    async def stop(self):
        try:
            self.ws.close()
            await self.api("DELETE", f"/hub/api/users/{self.name}/server")
        except Exception as e:  # the hub is stopped next anyway
            print(f"{self.name}: stopping: {e}", file=sys.stderr)


def wait_for_hub(url, timeout=120):
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/hub/api", timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError("JupyterHub did not start")


async def class_session(args, hub_url, token, names, notebook):
    students = [Student(n, hub_url, token) for n in names]
    # the hub adds its allowed users to its database itself; any it has not are added here
    existing = {u["name"] for u in await students[0].api("GET", "/hub/api/users")}
    missing = [n for n in names if n not in existing]
    if missing:
        await students[0].api("POST", "/hub/api/users", {"usernames": missing})
    await asyncio.gather(*(s.start_server() for s in students))
    print(f"servers up: {', '.join(f'{s.name} {s.server_start:.1f} s' for s in students)}", flush=True)
    started = time.monotonic()
    await asyncio.gather(*(s.run(notebook, 1000 + i) for i, s in enumerate(students)))
    wall = time.monotonic() - started
    # every student's variables and seeds are in place; now each reads back their own, at once
    texts = await asyncio.gather(*(s.check_own_session(1000 + i) for i, s in enumerate(students)))
    # the same seed gives the same stream: a student re-seeded with another's seed sees theirs
    if len(students) > 1:
        await students[1].kernel.execute("manual_seed(1000);")
        _, outputs = await students[1].kernel.execute("(1000u64, rand(&[3]))")
        again = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
        if again != texts[0]:
            students[1].failures.append(f"random stream: seed 1000 gave {again!r}, student 0 saw {texts[0]!r}")
        if len(set(texts)) != len(texts):
            students[0].failures.append(f"two students saw the same marker and stream: {texts}")
    # kernels give freed memory back once no request has come for a moment (a student reading)
    await asyncio.sleep(1)
    memory = {s.name: kernel_memory(s.user.pw_uid) for s in students}
    servers = {s.name: sum(r for _, exe, r, _ in processes_of(s.user.pw_uid) if "python" in exe) for s in students}
    await asyncio.gather(*(s.stop() for s in students))
    # nothing is left running once a student's server is stopped (kernels exit with it)
    deadline = time.monotonic() + 15
    left = {}
    while time.monotonic() < deadline:
        left = {s.name: n for s in students if (n := kernel_memory(s.user.pw_uid, live_only=False)[2])}
        if not left:
            break
        await asyncio.sleep(0.5)
    for s in students:
        if s.name in left:
            s.failures.append(f"{left[s.name]} kernel processes still running after the server stopped")
    return students, wall, memory, servers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", required=True)
    parser.add_argument("--notebook", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--port", type=int, default=18000)
    args = parser.parse_args()
    names = args.students.split(",")
    notebook = nbformat.read(args.notebook, as_version=4)
    token = secrets.token_hex(32)
    env = dict(
        os.environ,
        HUB_TEST_WORK=args.work,
        HUB_TEST_PORT=str(args.port),
        HUB_TEST_STUDENTS=",".join(names),
        HUB_TEST_TOKEN=token,
    )
    for f in ("jupyterhub.sqlite", "jupyterhub_cookie_secret"):
        pathlib.Path(args.work, f).unlink(missing_ok=True)
    peak = PeakMemory()
    peak.start()
    log = open(pathlib.Path(args.work, "jupyterhub.log"), "w")
    hub = subprocess.Popen(
        [f"{args.work}/venv/bin/jupyterhub", "-f", str(HERE / "jupyterhub_config.py")],
        cwd=args.work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    hub_url = f"http://127.0.0.1:{args.port}"
    try:
        wait_for_hub(hub_url)
        students, wall, memory, servers = asyncio.run(class_session(args, hub_url, token, names, notebook))
    finally:
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, signal.SIGKILL)
        peak.running = False
    print(f"\n{len(students)} students ran {pathlib.Path(args.notebook).name} at once ({students[0].cells} code cells) in {wall:.1f} s")
    header = f"{'student':<12} {'cells ok':>9} {'server':>7} {'first':>7} {'warm p50':>9} {'kernel RSS':>11} {'kernel PSS':>11} {'lab RSS':>8} {'home own':>9} {'home linked':>12}"
    print(header)
    ok = True
    for s in students:
        rss, pss, count = memory[s.name]
        own, shared = home_disk(s.user.pw_dir, s.user.pw_uid)
        warm = statistics.median(s.times[1:]) if len(s.times) > 1 else float("nan")
        print(
            f"{s.name:<12} {s.correct:>4}/{s.cells:<4} {s.server_start:>6.1f}s {s.first_result:>6.1f}s {warm * 1000:>7.0f}ms"
            f" {rss / MiB:>8.0f}MiB {pss / MiB:>8.0f}MiB {servers[s.name] / MiB:>5.0f}MiB {own / MiB:>6.0f}MiB {shared / MiB:>9.0f}MiB"
            + ("" if count == 2 else f"  ({count} kernel processes)")
        )
        if s.failures or s.correct != s.cells:
            ok = False
    rss_all = [memory[s.name][0] for s in students]
    pss_all = [memory[s.name][1] for s in students]
    print(f"kernel memory per student: RSS median {statistics.median(rss_all) / MiB:.0f} MiB, PSS median {statistics.median(pss_all) / MiB:.0f} MiB (goal: 250 MiB)")
    print(f"server: peak memory in use {peak.peak / MiB:.0f} MiB, {(peak.peak - peak.baseline) / MiB:.0f} MiB over the {peak.baseline / MiB:.0f} MiB before the hub started")
    for s in students:
        for failure in s.failures:
            print(f"FAIL {s.name}: {failure}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
