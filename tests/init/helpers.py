"""Helpers for the /init tests: a fake home whose sample sessions belong to a test workspace, and a scripted
model that plays every role /init gives a model (history workers, the /init agent, the merge resolver)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from letta_ls.doctor.checks.links import links_in, resolve_link
from letta_ls.init.history import encode_project_dir
from letta_ls.memfs.snapshot import MemorySnapshot
from tests.fakes import Reply, ScriptedCall
from tests.fakes.script import RecordedRequest

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_PROJECT = "/home/ada/code/shop-api"
MALFORMED_SESSION = "0b9f3c1d-2e4a-4b6c-8d0e-1f2a3b4c5d6e"  # binary junk with a transcript's name
WORKER_SYSTEM = "You are a history analyst"
INIT_SYSTEM = "the user just ran /init"
RESOLVE_SYSTEM = "You merge two versions"


def assert_links_resolve(snapshot: MemorySnapshot) -> int:
    """Every link in every note of ``snapshot`` resolves; returns how many links there were."""
    count = 0
    for file in snapshot:
        for link in links_in(file):
            assert resolve_link(snapshot, link.target, file.path) is not None, (file.path, link.target)
            count += 1
    return count


def history_home(root: Path, project: Path) -> Path:
    """A home folder with ``.claude`` and ``.codex`` holding the sample sessions, moved to ``project``: the
    recorded working directories and Claude Code's project folder names point at it, as if the user had
    worked on ``project`` with both agents."""
    shutil.copytree(SAMPLES / "claude", root / ".claude")
    shutil.copytree(SAMPLES / "codex", root / ".codex")
    old, new = SAMPLE_PROJECT.encode(), str(project).encode()
    for path in root.rglob("*"):
        if path.is_file() and not path.name.endswith(".zst"):
            data = path.read_bytes()
            if old in data:
                path.write_bytes(data.replace(old, new))
    projects = root / ".claude" / "projects"
    for folder, target in ((encode_project_dir(SAMPLE_PROJECT), project),
                           (encode_project_dir(SAMPLE_PROJECT + "/web"), project / "web")):
        (projects / folder).rename(projects / encode_project_dir(str(target)))
    return root


def user_text(request: RecordedRequest) -> str:
    """The first user message of a request (the task a subagent was given)."""
    for message in request.messages:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return content or ""
    return ""


def steps_taken(request: RecordedRequest) -> int:
    return sum(1 for m in request.messages if m.get("role") == "assistant")


def memory_call(command: str, **arguments: Any) -> Reply:
    return Reply(tool_calls=[ScriptedCall("memory", {"command": command, **arguments})])


def worker_file(request: RecordedRequest) -> str:
    """The file the /init brief told this history worker to keep its detail in."""
    found = re.search(r"your own file for the detail: `([^`]+)`", user_text(request))
    assert found, "the history worker's brief names its own file"
    return found.group(1)


WorkerScript = Callable[[int, RecordedRequest], Sequence[Reply]]


def finding_worker(index: int, request: RecordedRequest) -> list[Reply]:
    """A worker that writes its own reference file, adds a line to system/human.md, then reports."""
    return [
        memory_call("create", file_path=worker_file(request), description=f"Findings of history slice {index}",
                    file_text=f"# Slice {index}\n\n- The user ran `pnpm test` before every commit (slice {index}).\n",
                    reason=f"history slice {index}: findings"),
        memory_call("insert", file_path="system/human.md", insert_line=10_000,
                    insert_text=f"- Corrected the agent about money in cents (seen in slice {index}).\n",
                    reason=f"history slice {index}: a correction"),
        Reply(text=f"- Slice {index}: the user insists on integer cents and runs pnpm test before committing."),
    ]


def init_agent_script(project: str = "shop-api") -> list[Reply]:
    """The /init agent: an overview in system/ linking to a reference file that links back, then a report."""
    overview, reference = f"system/project/{project}.md", f"reference/{project}/architecture.md"
    return [
        memory_call("create", file_path=overview, description=f"What {project} is and how to work on it.",
                    file_text=f"# {project}\n\nOrder, payment and refund API.\n\n- Test: `pnpm test`\n"
                              f"- Architecture: [[reference/{project}/architecture]]\n",
                    reason="init: project overview"),
        memory_call("create", file_path=reference, description=f"How {project} is built: routes, services, storage.",
                    file_text=f"# Architecture\n\nRoutes in src/routes call services in src/services.\n\n"
                              f"Overview: [[system/project/{project}]]\n",
                    reason="init: architecture reference"),
        Reply(text=f"Created {overview} and {reference}."),
    ]


def resolve_by_union(request: RecordedRequest) -> Reply:
    """The merge resolver's answer: the first version, plus the lines only the second one has."""
    text = user_text(request)
    versions = re.findall(r'<version from="[^"]*">\n(.*?)\n</version>', text, re.S)
    ours, theirs = versions[0], versions[1]
    extra = [line for line in theirs.splitlines() if line not in ours.splitlines()]
    return Reply(text=ours.rstrip("\n") + "\n" + "\n".join(extra) + "\n")


class InitModel:
    """Answers each request by the role that sent it. History workers wait for each other at their first
    request (a barrier: if they did not run at the same time the test fails), and what git shows then is
    recorded (``worktrees_seen``) to prove each had its own worktree."""

    def __init__(self, *, workers: WorkerScript = finding_worker, init: Sequence[Reply] | None = None,
                 resolver: Callable[[RecordedRequest], Reply] = resolve_by_union, parallel: int = 0,
                 memory_dir: Path | None = None) -> None:
        self.workers = workers
        self.init = list(init if init is not None else init_agent_script())
        self.resolver = resolver
        self.barrier = threading.Barrier(parallel) if parallel > 1 else None
        self.memory_dir = memory_dir
        self.lock = threading.Lock()
        self.worker_requests: list[tuple[int, int, float]] = []  # (slice, step, time)
        self.worker_briefs: dict[int, str] = {}
        self.init_requests: list[RecordedRequest] = []
        self.resolved: list[RecordedRequest] = []
        self.worktrees_seen: list[str] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        system = request.system
        step = steps_taken(request)
        if system.startswith(RESOLVE_SYSTEM):
            self.resolved.append(request)
            return self.resolver(request)
        if WORKER_SYSTEM in system:
            found = re.search(r"Slice (\d+) of (\d+)", user_text(request))
            assert found, "a history worker's brief names its slice"
            index = int(found.group(1))
            with self.lock:
                self.worker_requests.append((index, step, time.monotonic()))
                self.worker_briefs[index] = user_text(request)
            if step == 0 and self.barrier is not None:
                self.barrier.wait(timeout=60)  # BrokenBarrierError: the workers did not run at the same time
                if self.memory_dir is not None and index == 1:
                    self.worktrees_seen = worktree_branches(self.memory_dir)
            script = list(self.workers(index, request))
            return script[step] if step < len(script) else Reply(text=f"slice {index}: nothing more")
        if INIT_SYSTEM in system:
            self.init_requests.append(request)
            return self.init[step] if step < len(self.init) else Reply(text="Done.")
        raise AssertionError(f"a request from an unexpected role: {system[:120]!r}")


def worktree_branches(memory_dir: Path) -> list[str]:
    """The branches checked out in the memory's worktrees right now (``letta/<kind>/<run-id>``)."""
    out = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=memory_dir, capture_output=True, text=True,
                         check=True).stdout
    return [line.split(" ", 1)[1].removeprefix("refs/heads/") for line in out.splitlines()
            if line.startswith("branch ") and "letta/" in line]
