"""Benchmarks for what /init reads: earlier sessions and the workspace.

``read_history`` over a synthetic history (Claude Code sessions and Codex rollouts with realistic tool
output) is compared with a floor measured in the same run: reading every line of the same files and
``json.loads``-ing it, the least any reader must do. The ratio is the price of normalising, clipping and
redacting secrets; the doctor's secret detector, run on every text that leaves the reader, is about 40%
of it (target 8x; about 7.5x measured on 68 MB). ``inspect_workspace`` on this repository is compared with
the same git commands run bare plus the same walk of the tree (target 2x).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import time
from pathlib import Path

from letta_ls.init.history import HistorySources, ProjectMatcher, read_history
from letta_ls.init.workspace import inspect_workspace
from letta_ls.init.workspace.inspector import SKIP_DIRS

PROJECT = "/home/bench/code/shop"
WORDS = ("order", "refund", "payment", "stripe", "redis", "cache", "route", "handler", "test", "fixture", "migration",
         "column", "index", "service", "request", "response", "header", "retry", "timeout", "queue", "worker", "schema",
         "money", "cents", "invoice", "customer")


def _prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _code(rng: random.Random, lines: int) -> str:
    return "\n".join(f"{n:>6}\tconst {rng.choice(WORDS)}_{n} = await {rng.choice(WORDS)}({rng.randint(0, 999)});"
                     for n in range(1, lines + 1))


def claude_session(rng: random.Random, session: str, turns: int) -> str:
    lines = []
    for turn in range(turns):
        ts = f"2025-10-02T09:{turn % 60:02d}:{turn % 59:02d}.000Z"
        base = {"cwd": PROJECT, "sessionId": session, "version": "2.0.31", "gitBranch": "main", "timestamp": ts,
                "isSidechain": False, "userType": "external", "uuid": f"{session[:8]}-{turn}"}
        lines.append({**base, "type": "user", "message": {"role": "user", "content": _prose(rng, 30)}})
        tool_id = f"toolu_{turn:08d}"
        lines.append({**base, "type": "assistant", "message": {
            "id": f"msg_{turn}", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": _prose(rng, 40)},
                        {"type": "tool_use", "id": tool_id, "name": rng.choice(["Read", "Bash", "Edit"]),
                         "input": {"file_path": f"{PROJECT}/src/{rng.choice(WORDS)}.ts", "command": "pnpm test"}}]}})
        lines.append({**base, "type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id, "content": _code(rng, rng.randint(20, 150))}]}})
    return "".join(json.dumps(line) + "\n" for line in lines)


def codex_rollout(rng: random.Random, session: str, turns: int) -> str:
    def line(kind: str, payload: dict) -> str:
        return json.dumps({"timestamp": "2025-10-29T10:04:51.000Z", "type": kind, "payload": payload}) + "\n"

    out = [line("session_meta", {"id": session, "timestamp": "2025-10-29T10:04:51.000Z", "cwd": PROJECT,
                                 "originator": "codex_cli_rs", "cli_version": "0.50.0", "git": {"branch": "main"}})]
    for turn in range(turns):
        text = _prose(rng, 30)
        out.append(line("response_item", {"type": "message", "role": "user",
                                          "content": [{"type": "input_text", "text": text}]}))
        out.append(line("event_msg", {"type": "user_message", "message": text}))
        out.append(line("response_item", {"type": "function_call", "name": "shell", "call_id": f"c{turn}",
                                          "arguments": json.dumps({"command": ["bash", "-lc", "pnpm test"]})}))
        out.append(line("response_item", {"type": "function_call_output", "call_id": f"c{turn}", "output": json.dumps(
            {"output": _code(rng, rng.randint(20, 150)), "metadata": {"exit_code": 0}})}))
        out.append(line("response_item", {"type": "message", "role": "assistant",
                                          "content": [{"type": "output_text", "text": _prose(rng, 40)}]}))
    return "".join(out)


def make_history(root: Path, sessions: int, turns: int) -> int:
    rng = random.Random(5)
    projects = root / ".claude" / "projects" / "-home-bench-code-shop"
    projects.mkdir(parents=True)
    rollouts = root / ".codex" / "sessions" / "2025" / "10" / "29"
    rollouts.mkdir(parents=True)
    size = 0
    for n in range(sessions):
        session = f"{n:08x}-0000-4000-8000-000000000000"
        size += (projects / f"{session}.jsonl").write_text(claude_session(rng, session, turns))
        size += (rollouts / f"rollout-2025-10-29T11-{n // 60:02d}-{n % 60:02d}-{session}.jsonl").write_text(
            codex_rollout(rng, session, turns))
    return size


def _floor(root: Path) -> None:
    for path in sorted(root.rglob("*.jsonl")):
        with open(path, "rb") as handle:
            for raw in handle:
                json.loads(raw)


def bench_read_history(tmp: Path, *, sessions: int, turns: int, rounds: int) -> dict:
    home = tmp / "history-home"
    size = make_history(home, sessions, turns)
    sources = HistorySources.from_home(home, env={})
    matcher = ProjectMatcher.for_folders([PROJECT])
    ours, floor = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        _floor(home)
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        history = read_history(matcher, sources)
        ours.append(time.perf_counter() - t)
    assert len(history.sessions) == 2 * sessions
    ratio = statistics.median(ours) / statistics.median(floor)
    return {"name": f"read {2 * sessions} earlier sessions ({size / 1e6:.0f} MB)",
            "median_ms": round(statistics.median(ours) * 1000, 1),
            "floor_median_ms": round(statistics.median(floor) * 1000, 1), "ratio": round(ratio, 2),
            "megabytes_per_second": round(size / statistics.median(ours) / 1e6, 1),
            "target_ratio": 8.0, "meets_target": ratio <= 8.0}


# the git commands ``git_facts`` runs, run bare
GIT_COMMANDS = (
    ["config", "--get-regexp", r"^remote\..*\.url$"], ["rev-parse", "--abbrev-ref", "HEAD"],
    ["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"], ["rev-parse", "--verify", "--quiet", "main"],
    ["rev-list", "--count", "HEAD"], ["log", "--max-parents=0", "--format=%ad", "--date=short", "HEAD"],
    ["log", "-n15", "--format=%h%x1f%ad%x1f%an%x1f%s", "--date=short", "HEAD"], ["shortlog", "-sne", "HEAD"],
    ["config", "user.name"], ["config", "user.email"],
)


def bench_inspect_workspace(folder: Path, rounds: int) -> dict:
    ours, floor = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        for args in GIT_COMMANDS:
            subprocess.run(["git", *args], cwd=folder, capture_output=True, check=False)
        for _root, dirs, _files in os.walk(folder):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        inspect_workspace([folder])
        ours.append(time.perf_counter() - t)
    ratio = statistics.median(ours) / statistics.median(floor)
    return {"name": "inspect this repository's workspace", "median_ms": round(statistics.median(ours) * 1000, 1),
            "floor_median_ms": round(statistics.median(floor) * 1000, 1), "ratio": round(ratio, 2),
            "target_ratio": 2.0, "meets_target": ratio <= 2.0}


def run(tmp: Path, *, quick: bool) -> list[dict]:
    sessions, turns, rounds = (5, 40, 3) if quick else (40, 150, 5)
    return [bench_read_history(tmp, sessions=sessions, turns=turns, rounds=rounds),
            bench_inspect_workspace(Path(__file__).resolve().parent.parent, rounds)]
