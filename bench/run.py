"""letta-ls benchmarks: each figure is a ratio against a floor measured in the same run.

Floors: raw ``git add`` + ``git commit`` for a memory write; ``git ls-tree`` + ``git cat-file --batch`` of
the same blobs for a cold compile. Prints one JSON document; ``--quick`` shrinks the sizes for smoke
tests. Targets (issue 2): write ≤ 1.3x, cold compile ≤ 2x, warm compile < 1 ms, doctor over 2,000
files < 1 s. The language server's figures come from ``bench/server.py`` and the agent's from
``bench/agent.py``, a subagent's worktree-and-merge round trip from ``bench/subagents.py``, /init's readers'
from ``bench/history.py`` and /init itself from ``bench/init.py``, a memory sync from ``bench/sync.py``, the
dream scheduler's cost per chat turn from ``bench/dreams.py``, search from ``bench/search.py``, ``memory-stale``
after a workspace rename from ``bench/stale.py`` (in process) and ``bench/stale_server.py`` (end to end over
LSP), in the same JSON;
``--only memfs|server|agent|subagents|init|sync|dreams|search|stale`` runs one group.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import agent as agent_bench
from bench import dreams as dreams_bench
from bench import history as history_bench
from bench import init as init_bench
from bench import search as search_bench
from bench import server as server_bench
from bench import stale as stale_bench
from bench import stale_server as stale_server_bench
from bench import subagents as subagents_bench
from bench import sync as sync_bench
from bench.corpus import memory_corpus
from letta_ls.doctor import audit
from letta_ls.doctor.guard import memory_change_guard
from letta_ls.memfs import compile as compile_module
from letta_ls.memfs import snapshot as snapshot_module
from letta_ls.memfs.compile import compile_memory
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.memfs.tokens import get_token_counter
from letta_ls.settings import MemorySettings

AUTHOR = Author("Bench", "bench@letta-ls.local")
GROUPS = ("memfs", "server", "agent", "subagents", "init", "sync", "dreams", "search", "stale")
ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@letta-ls.local",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@letta-ls.local"}


def git(cwd: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, input=input, capture_output=True, check=True).stdout


def make_repo(root: Path, files: dict[str, str]) -> MemoryRepo:
    return MemoryRepo.create(root, files, AUTHOR)


def bench_write(tmp: Path, files: dict[str, str], rounds: int) -> dict:
    ours_repo = make_repo(tmp / "ours", files)
    floor_repo = make_repo(tmp / "floor", files)
    ops = MemoryOperations(ours_repo, AUTHOR, actor="user", guard=memory_change_guard(MemorySettings()))
    path = next(p for p in files if p.startswith("reference/"))
    base = files[path]
    ours, floor = [], []
    for i in range(rounds):
        text = base + f"\nEdit {i}: the build now runs in {i} seconds.\n"
        t = time.perf_counter()
        target = floor_repo.path / path
        target.write_text(text)
        git(floor_repo.path, "add", "--", path)
        git(floor_repo.path, "commit", "-q", "-m", f"edit {i}")
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        ops.write_file(path, text, reason=f"edit {i}")
        ours.append(time.perf_counter() - t)
    return summarise("memory write + commit", ours, floor, target=1.3)


def clear_caches() -> None:
    """Forget every parse and compile, as in a freshly started process."""
    snapshot_module.DOCUMENTS._items.clear()
    compile_module.clear_compile_cache()


def bench_compile(tmp: Path, files: dict[str, str], rounds: int) -> list[dict]:
    repo = make_repo(tmp / "compile", files)
    ours, floor, warm = [], [], []
    for _ in range(rounds):
        t = time.perf_counter()
        listing = git(repo.path, "ls-tree", "-r", "HEAD")
        ids = "\n".join(line.split()[2] for line in listing.decode().splitlines()) + "\n"
        git(repo.path, "cat-file", "--batch", input=ids.encode())
        floor.append(time.perf_counter() - t)
        clear_caches()
        t = time.perf_counter()
        fresh = MemoryRepo(repo.path)
        compile_memory(fresh.snapshot())
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        compile_memory(fresh.snapshot())
        warm.append(time.perf_counter() - t)
    return [
        summarise(f"compile {len(files)} files cold", ours, floor, target=2.0),
        {"name": f"compile {len(files)} files warm", "median_ms": ms(warm), "target_ms": 1.0,
         "meets_target": statistics.median(warm) < 0.001},
    ]


def bench_doctor(tmp: Path, files: dict[str, str], rounds: int) -> dict:
    repo = make_repo(tmp / "doctor", files)
    snap = repo.snapshot()
    counter = get_token_counter()
    cold, warm = [], []
    for _ in range(rounds):
        clear_caches()
        from letta_ls.memfs import tokens as tokens_module

        tokens_module._blob_counts.clear()
        t = time.perf_counter()
        result = audit(snap, MemorySettings(), counter)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        audit(snap, MemorySettings(), counter)
        warm.append(time.perf_counter() - t)
    return {"name": f"doctor over {len(files)} files", "cold_median_ms": ms(cold), "warm_median_ms": ms(warm),
            "findings": len(result.findings), "target_ms": 1000.0, "meets_target": statistics.median(cold) < 1.0}


def bench_tokens(files: dict[str, str]) -> dict:
    counter = get_token_counter()
    text = "\n".join(files.values())
    t = time.perf_counter()
    tokens = counter.count(text)
    dt = time.perf_counter() - t
    return {"name": "token counting", "encoding": counter.label,
            "megabytes_per_second": round(len(text.encode()) / dt / 1e6, 1),
            "tokens_per_second": round(tokens / dt)}


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def summarise(name: str, ours: list[float], floor: list[float], target: float) -> dict:
    ratio = statistics.median(ours) / statistics.median(floor)
    return {"name": name, "median_ms": ms(ours), "floor_median_ms": ms(floor), "ratio": round(ratio, 2),
            "target_ratio": target, "meets_target": ratio <= target}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--only", choices=GROUPS, help="run one group of benchmarks")
    args = parser.parse_args()
    n_files, rounds = (200, 3) if args.quick else (2000, 15)
    files = memory_corpus(n_files)
    groups = [args.only] if args.only else list(GROUPS)
    tmp = Path(tempfile.mkdtemp(prefix="letta-bench-"))
    started = time.perf_counter()
    results: list[dict] = []
    try:
        if "memfs" in groups:
            memfs = [bench_write(tmp, files, rounds * 2)]
            memfs += bench_compile(tmp, files, max(3, rounds // 3))
            memfs.append(bench_doctor(tmp, files, max(3, rounds // 5)))
            memfs.append(bench_tokens(files))
            results += [{"group": "memfs", **entry} for entry in memfs]
        if "server" in groups:
            results += [{"group": "server", **entry} for entry in server_bench.run(tmp, files, quick=args.quick)]
        if "agent" in groups:
            results += [{"group": "agent", **entry} for entry in agent_bench.run(tmp, files, quick=args.quick)]
        if "subagents" in groups:
            results += [{"group": "subagents", **entry}
                        for entry in subagents_bench.run(tmp, files, quick=args.quick)]
        if "init" in groups:
            results += [{"group": "init", **entry} for entry in history_bench.run(tmp, quick=args.quick)]
            results += [{"group": "init", **entry} for entry in init_bench.run(tmp, quick=args.quick)]
        if "sync" in groups:
            results += [{"group": "sync", **entry} for entry in sync_bench.run(tmp, files, quick=args.quick)]
        if "stale" in groups:
            results += [{"group": "stale", **entry} for entry in stale_bench.run(tmp, files, quick=args.quick)]
            results += [{"group": "stale", **entry}
                        for entry in stale_server_bench.run(tmp, files, quick=args.quick)]
        if "dreams" in groups:
            results += [{"group": "dreams", **entry} for entry in dreams_bench.run(tmp, files, quick=args.quick)]
        if "search" in groups:
            results += [{"group": "search", **entry} for entry in search_bench.run(tmp, quick=args.quick)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"files": n_files, "python": sys.version.split()[0], "groups": groups,
                      "seconds": round(time.perf_counter() - started, 1), "results": results}, indent=2))


if __name__ == "__main__":
    main()
