"""``memory-stale`` after a workspace rename: a 2,000-file memory against a 20,000-file workspace.

What the editor waits for once the debounce has passed is the workspace's facts updated from the rename
and every note's claims re-checked. The floor is the plain audit of the same memory, warm (what each
diagnostics refresh costs already), measured in the same run. Target (issue 16): the stale update stays
within 30 ms, and so a fraction of the plain audit.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

from letta_ls.doctor import audit
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.staleness.check import StaleChecker
from letta_ls.staleness.workspace import load_workspace, updated


def _workspace(root: Path, n_files: int) -> list[str]:
    root.mkdir(parents=True)
    paths = [f"pkg{i % 50}/mod{i % 400}/file{i}.py" for i in range(n_files)]
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("x = 1\n")
    (root / "Makefile").write_text("build:\n\ttrue\ntest:\n\ttrue\n")
    git = ["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@x"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    return paths


def _memory(root: Path, files: dict[str, str], workspace_paths: list[str]) -> MemoryRepo:
    notes = dict(files)
    for n, (path, text) in enumerate(sorted(notes.items())):
        if n % 10 == 0 and path.startswith("reference/"):
            named = workspace_paths[(n * 7) % len(workspace_paths)]
            notes[path] = text + f"\nThe code is in `{named}`; run `make test` first.\n"
    return MemoryRepo.create(root, notes, Author("bench", "bench@x"))


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def run(tmp: Path, files: dict[str, str], quick: bool = False) -> list[dict]:
    n_workspace = 2_000 if quick else 20_000
    rounds = 3 if quick else 15
    paths = _workspace(tmp / "stale-ws", n_workspace)
    repo = _memory(tmp / "stale-memory", files, paths)
    snap = repo.snapshot()
    ws = load_workspace(tmp / "stale-ws")
    checker = StaleChecker(ws)
    checker.findings(snap)  # the first audit: every note's claims read and judged, as the server has them
    audit(snap)
    plain, ours = [], []
    for i in range(rounds):
        started = time.perf_counter()
        audit(snap)
        plain.append(time.perf_counter() - started)
        old = paths[(i * 7) % len(paths)]
        started = time.perf_counter()
        new = old.replace(".py", "_moved.py")
        checker.update(updated(checker.ws, renamed=[(old, new)]), [old, new])
        checker.findings(snap)
        ours.append(time.perf_counter() - started)
    return [{
        "name": f"memory-stale after a workspace rename ({len(files)} memory files, {n_workspace} workspace files)",
        "median_ms": _median_ms(ours), "floor_name": "plain audit of the same memory, warm",
        "floor_median_ms": _median_ms(plain), "ratio": round(statistics.median(ours) / statistics.median(plain), 2),
        "p99_ms": round(max(ours) * 1000, 2), "target": "< 30 ms", "meets_target": statistics.median(ours) < 0.030,
    }]
