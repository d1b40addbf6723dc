"""The language server measured over stdio, each figure against a floor measured in the same run.

A home whose agent memory holds N files (``bench.corpus.memory_corpus``, committed with ``Home.create_agent``
and ``MemoryRepo.commit``) is served by a real ``python -m letta_ls serve`` process. One minimal JSON-RPC
client (``RpcPeer``, the framing of ``tests/lsp/raw.py`` with buffered reads) drives it and the floors:

* ``workspace/textDocumentContent`` round trip, median over ~200 requests, against ``bench/floor_server.py``
  (bare pygls 2 answering the same request for the same text from a dict). Measured for the
  ``letta-memory-rev://`` URIs the server advertises the request for, and for ``letta-memory://`` (HEAD).
  Requests alternate between the two servers. Target: ≤ 2x the floor.
* ``letta/memoryWrite`` (a new body each time, no ``baseVersion``) against ``git add`` + ``git commit`` of the
  same change in a copy of the same repository. Target: ≤ 2x.
* Edit to published diagnostics for a 50 KB ``letta-memory://`` document: ``didChange`` (full text) until the
  ``textDocument/publishDiagnostics`` of that version arrives, minus ``DEBOUNCE_SECONDS``; the in-process
  ``check_document`` time of the same text is given beside it. Target: < 30 ms past the debounce.
* Start to first answer: spawn to the ``initialize`` answer and to the first ``letta/memoryTree`` answer
  (target < 1.5 s), against the floor server's ``initialize`` and a bare ``python -c pass``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from letta_ls.doctor import check_document
from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.memfs.tokens import get_token_counter
from letta_ls.server.diagnostics import DEBOUNCE_SECONDS
from letta_ls.server.uris import memory_uri, revision_uri
from letta_ls.settings import MemorySettings

FLOOR_SERVER = Path(__file__).resolve().with_name("floor_server.py")
ROOT = FLOOR_SERVER.parent.parent
AUTHOR = Author("Bench", "bench@letta-ls.local")
GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@letta-ls.local",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@letta-ls.local"}
BIG_PATH = "reference/big-notes.md"


class RpcError(RuntimeError):
    pass


class RpcPeer:
    """A JSON-RPC peer over a child process's stdio, read in the calling thread (no reader thread).

    ``request`` returns the answer and its round trip in seconds; notifications read on the way are kept
    with their arrival time; requests from the server are answered with ``null``.
    """

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, cwd=ROOT, bufsize=0)
        self.fd = self.proc.stdout.fileno()
        self.buffer = bytearray()
        self.notifications: list[tuple[float, str, Any]] = []
        self.next_id = 0

    # -- wire -------------------------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def _frame(self) -> dict | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        length = None
        for line in bytes(self.buffer[:end]).split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RpcError(f"a frame without Content-Length: {bytes(self.buffer[:end])!r}")
        if len(self.buffer) < end + 4 + length:
            return None
        body = bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        return json.loads(body)

    def receive(self, timeout: float) -> dict | None:
        """The next message, or None after ``timeout`` seconds of silence."""
        deadline = time.perf_counter() + timeout
        while True:
            message = self._frame()
            if message is not None:
                return message
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self.fd], [], [], remaining)
            if readable:
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    raise RpcError(f"the server exited (code {self.proc.poll()})")
                self.buffer += chunk

    def _dispatch(self, message: dict) -> dict | None:
        """Keep a notification, answer a server request; return the message if it is a response."""
        if "method" not in message:
            return message
        if "id" in message:
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
        else:
            self.notifications.append((time.perf_counter(), message["method"], message.get("params")))
        return None

    # -- calls ------------------------------------------------------------------------------------------
    def request(self, method: str, params: Any, timeout: float = 60.0) -> tuple[Any, float]:
        self.next_id += 1
        msg_id = self.next_id
        t = time.perf_counter()
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        deadline = t + timeout
        while True:
            message = self.receive(max(0.0, deadline - time.perf_counter()))
            if message is None:
                raise RpcError(f"no answer to {method} within {timeout}s")
            response = self._dispatch(message)
            if response is not None and response.get("id") == msg_id:
                elapsed = time.perf_counter() - t
                if "error" in response:
                    raise RpcError(f"{method} failed: {response['error']}")
                return response.get("result"), elapsed

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_for(self, method: str, predicate: Callable[[Any], bool], timeout: float = 30.0) -> float:
        """Arrival time of the first kept or new ``method`` notification matching ``predicate``."""
        for index, (at, name, params) in enumerate(self.notifications):
            if name == method and predicate(params):
                del self.notifications[:index + 1]
                return at
        deadline = time.perf_counter() + timeout
        while True:
            message = self.receive(max(0.0, deadline - time.perf_counter()))
            if message is None:
                raise RpcError(f"no {method} within {timeout}s")
            self._dispatch(message)
            if self.notifications:
                at, name, params = self.notifications[-1]
                if name == method and predicate(params):
                    self.notifications.clear()
                    return at

    def settle(self, quiet: float = 0.15, limit: float = 30.0) -> None:
        """Read until the server has been silent for ``quiet`` seconds (its background work is done)."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            message = self.receive(quiet)
            if message is None:
                break
            self._dispatch(message)
        self.notifications.clear()

    def initialize(self, initialization_options: dict | None = None) -> float:
        """Seconds from spawn to the ``initialize`` answer; then sends ``initialized``."""
        params = {"processId": os.getpid(), "capabilities": {}, "rootUri": None}
        if initialization_options is not None:
            params["initializationOptions"] = initialization_options
        self.request("initialize", params)
        at = time.perf_counter() - self.started
        self.notify("initialized", {})
        return at

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None, timeout=5)
                self.notify("exit", None)
                self.proc.wait(timeout=5)
        except (RpcError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------------------- fixtures
def big_document(target_bytes: int = 50_000) -> str:
    """A ~50 KB memory document: frontmatter, then numbered sections of ordinary notes."""
    lines = ["---", "description: Long running notes on the build, kept in one file.", "---", "# Build notes", ""]
    i = 0
    while sum(len(line) + 1 for line in lines) < target_bytes:
        lines += [f"## Section {i}", "", f"Step {i}: the build caches wheels, then runs the tests with two workers "
                  f"and keeps the logs for {i % 30 + 1} days. Flaky tests are retried once and reported.", ""]
        i += 1
    return "\n".join(lines) + "\n"


def build_home(root: Path, files: dict[str, str]) -> tuple[Home, str, MemoryRepo]:
    """A home whose (current) agent's memory is the preset plus ``files`` and a 50 KB document."""
    home = Home(root)
    agent = home.create_agent("Bench")
    home.use_agent(agent.id)
    repo = MemoryRepo(agent.memory_dir)
    changes = {p: t.encode() for p, t in files.items()}
    changes[BIG_PATH] = big_document().encode()
    repo.commit(changes, f"bench: {len(files)} files", AUTHOR)
    # a memory that has lived a while is packed; left loose, the first commits measured set off git's automatic
    # gc, which packs thousands of objects for 2-3 s beside them (once in a memory's life, not per request)
    deadline = time.monotonic() + 120
    while (repo.git_dir / "gc.pid").exists() and time.monotonic() < deadline:  # one the commit started itself
        time.sleep(0.1)
    subprocess.run(["git", "-C", str(repo.path), "gc", "--quiet"], check=True, env={**os.environ, **GIT_ENV})
    return home, agent.id, repo


def server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return {**env, **GIT_ENV, "LETTA_LS_HOME": str(home)}


def letta_server(home: Path) -> RpcPeer:
    return RpcPeer([sys.executable, "-m", "letta_ls", "serve"], server_env(home))


def floor_server(texts_file: Path) -> RpcPeer:
    return RpcPeer([sys.executable, str(FLOOR_SERVER), str(texts_file)])


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def ratio_entry(name: str, ours: list[float], floor: list[float], target: float, **extra: Any) -> dict:
    ratio = statistics.median(ours) / statistics.median(floor)
    return {"name": name, "median_ms": ms(ours), "floor_median_ms": ms(floor), "ratio": round(ratio, 2),
            "target_ratio": target, "meets_target": ratio <= target, "samples": len(ours), **extra}


# ---------------------------------------------------------------------------------------------- benchmarks
def bench_content(ours: RpcPeer, tmp: Path, agent_id: str, repo: MemoryRepo, requests: int) -> list[dict]:
    snap = repo.snapshot()
    paths = [f.path for f in snap if f.text is not None and f.path != BIG_PATH][:requests]
    head = snap.head
    assert head is not None
    rev = [revision_uri(agent_id, head, p) for p in paths]
    mem = [memory_uri(agent_id, p) for p in paths]
    texts = {u: snap.get(p).text for us in (rev, mem) for u, p in zip(us, paths, strict=True)}
    texts_file = tmp / "floor-texts.json"
    texts_file.write_text(json.dumps(texts))
    floor = floor_server(texts_file)
    try:
        floor.initialize()
        floor.settle(0.05)
        results = []
        for label, uris in (("letta-memory-rev://", rev), ("letta-memory:// (HEAD)", mem)):
            for uri in uris[:5]:  # warm both: first-request imports, the snapshot cache
                ours.request("workspace/textDocumentContent", {"uri": uri})
                floor.request("workspace/textDocumentContent", {"uri": uri})
            mine, base = [], []
            for uri in uris:
                result, dt = ours.request("workspace/textDocumentContent", {"uri": uri})
                assert result["text"] == texts[uri]
                mine.append(dt)
                _result, dt = floor.request("workspace/textDocumentContent", {"uri": uri})
                base.append(dt)
            results.append(ratio_entry(f"workspace/textDocumentContent round trip, {label}", mine, base, 2.0,
                                       p90_ms=round(sorted(mine)[int(len(mine) * 0.9)] * 1000, 3)))
        return results
    finally:
        floor.close()


def bench_write(ours: RpcPeer, agent_id: str, floor_repo: Path, rounds: int) -> dict:
    path = "reference/testing/note-1.md"
    base = (floor_repo / path).read_text()
    uri = memory_uri(agent_id, path)
    env = {**os.environ, **GIT_ENV}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=floor_repo, env=env, capture_output=True, check=True)

    mine, floor = [], []
    for i in range(rounds):
        text = base + f"\nEdit {i}: the build now runs in {i} seconds.\n"
        t = time.perf_counter()
        (floor_repo / path).write_text(text)
        git("add", "--", path)
        git("commit", "-q", "-m", f"edit {i}")
        floor.append(time.perf_counter() - t)
        result, dt = ours.request("letta/memoryWrite", {"uri": uri, "text": text, "reason": f"edit {i}"})
        assert result["commit"], result
        mine.append(dt)
        ours.settle(0.25)  # the commit's diagnostics and status refresh, outside the timing
    return ratio_entry("letta/memoryWrite round trip", mine, floor, 2.0)


def bench_diagnostics(ours: RpcPeer, agent_id: str, repo: MemoryRepo, rounds: int) -> dict:
    uri = memory_uri(agent_id, BIG_PATH)
    text = repo.read(BIG_PATH).text
    assert text is not None
    ours.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1,
                                                          "text": text}})
    ours.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri and p.get("version") == 1)
    ours.settle(0.1)
    lags, counts = [], []
    for version in range(2, rounds + 2):
        text = text.replace(f"Step {version - 2}:", f"Step {version - 2} (edited):", 1)
        t = time.perf_counter()
        ours.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": [{"text": text}]})
        found: list[Any] = []

        def matches(params: Any, version: int = version, found: list[Any] = found) -> bool:
            if params["uri"] == uri and params.get("version") == version:
                found.append(params)
                return True
            return False

        at = ours.wait_for("textDocument/publishDiagnostics", matches)
        lags.append(at - t)
        counts.append(len(found[0]["diagnostics"]))
    ours.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    ours.settle(0.1)
    # the server's check of each edit (snapshot with the buffer laid over HEAD, then the doctor), in this process
    counter = get_token_counter()
    checks = []
    for i in range(6):
        edited = text.replace("Step 1", f"Step 1 (edit {i})", 1)
        t = time.perf_counter()
        check_document(repo.snapshot().with_text(BIG_PATH, edited), BIG_PATH, MemorySettings(), counter)
        checks.append(time.perf_counter() - t)
    checks = checks[1:]  # the first builds this process's caches of the other files
    past = statistics.median(lags) - DEBOUNCE_SECONDS
    return {"name": f"edit to published diagnostics, {len(text.encode()) // 1000} KB memory document",
            "median_ms": ms(lags), "debounce_ms": DEBOUNCE_SECONDS * 1000, "past_debounce_ms": round(past * 1000, 3),
            "check_document_in_process_ms": ms(checks), "diagnostics": counts[-1], "target_past_debounce_ms": 30.0,
            "meets_target": past < 0.030, "samples": len(lags)}


STARTUP_PROBE = """
import json, sys, time
t = time.perf_counter()
from letta_ls.server.app import build_server
build_server()
imports = time.perf_counter() - t
from letta_ls.home import Home
from letta_ls.memfs.tokens import get_token_counter
from letta_ls.session import Session
t = time.perf_counter()
get_token_counter()
tokenizer = time.perf_counter() - t
t = time.perf_counter()
session = Session(Home(sys.argv[1]))
opened = time.perf_counter() - t
t = time.perf_counter()
session.tree()
tree = time.perf_counter() - t
print(json.dumps({"imports": imports, "tokenizer": tokenizer, "session": opened, "tree": tree}))
"""


def startup_breakdown(home: Path) -> dict[str, float]:
    """The start-up steps timed inside one fresh interpreter, in the order the server takes them."""
    out = subprocess.run([sys.executable, "-c", STARTUP_PROBE, str(home)], env=server_env(home), cwd=ROOT,
                         capture_output=True, check=True, text=True).stdout
    return json.loads(out)


def bench_startup(home: Path, texts_file: Path, rounds: int) -> dict:
    python, initialize, tree, floor = [], [], [], []
    steps: dict[str, list[float]] = {}
    for _ in range(rounds):
        for step, seconds in startup_breakdown(home).items():
            steps.setdefault(step, []).append(seconds)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python.append(time.perf_counter() - t)
        peer = floor_server(texts_file)
        try:
            floor.append(peer.initialize())
        finally:
            peer.close()
        peer = letta_server(home)
        try:
            initialize.append(peer.initialize())
            result, _dt = peer.request("letta/memoryTree", {})
            tree.append(time.perf_counter() - peer.started)
            entries = len(result["entries"])
        finally:
            peer.close()
    return {"name": f"start to first answer, {entries} memory files", "initialize_median_ms": ms(initialize),
            "first_memory_tree_median_ms": ms(tree), "floor_initialize_median_ms": ms(floor),
            "python_startup_median_ms": ms(python), "initialize_ratio": round(
                statistics.median(initialize) / statistics.median(floor), 2),
            "target_ms": 1500.0, "initialize_meets_target": statistics.median(initialize) < 1.5,
            "meets_target": statistics.median(tree) < 1.5, "samples": rounds,
            "in_process_breakdown_ms": {
                "import letta_ls.server.app + build_server": ms(steps["imports"]),
                "token counter load (bpe_openai)": ms(steps["tokenizer"]),
                "Session open (home, agent, repo)": ms(steps["session"]),
                "first memory tree (snapshot + token counts)": ms(steps["tree"])}}


def run(tmp: Path, files: dict[str, str], *, quick: bool) -> list[dict]:
    """Every server figure, in an order where one benchmark's background work cannot reach the next."""
    home_dir = tmp / "server-home"
    _home, agent_id, repo = build_home(home_dir, files)
    floor_repo = tmp / "server-floor-repo"
    shutil.copytree(repo.path, floor_repo, symlinks=True)
    ours = letta_server(home_dir)
    try:
        ours.initialize()
        ours.request("letta/memoryTree", {})
        ours.settle(0.3)  # the first diagnostics of every committed file
        results = bench_content(ours, tmp, agent_id, repo, 60 if quick else 200)
        results.append(bench_diagnostics(ours, agent_id, repo, 5 if quick else 20))
        results.append(bench_write(ours, agent_id, floor_repo, 6 if quick else 30))
    finally:
        ours.close()
    results.append(bench_startup(home_dir, tmp / "floor-texts.json", 2 if quick else 3))
    return results
