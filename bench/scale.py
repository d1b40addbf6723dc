"""Scale (issue 14): the doctor's growth with the files, and requests answered while a full audit runs.

Run with ``python bench/scale.py [--quick] [--only doctor|lsp] [--lsp-sizes 100,1000,10000] [--lsp-runs N]``;
prints one JSON document (and the LSP curve as a markdown table on stderr). Every
figure is a ratio or a difference against a floor measured in the same run:

* **doctor curves**: ``letta-ls doctor DIR --format json`` (a real process) over memories of 100, 1,000
  and 10,000 files whose bodies are *distinct*, share a *header* paragraph, or are *identical*, minus the
  same command over a 1-file memory (the interpreter, imports and tokenizer load). Targets: 2,000 files
  < 1 s beyond the 1-file run in all three kinds, 10,000 files < 3 s. The in-process re-audit after one
  file changed (the incremental audit the server runs after a commit) is given beside each.
* **LSP latency during a full audit**, a curve over ``--lsp-sizes`` (default 100 / 1,000 / 10,000 files),
  each size ``--lsp-runs`` times with a fresh server and home, and the median ratio over the runs: a real
  ``letta-ls serve`` over the memory. Right after
  ``initialized`` the server starts its first, full audit (cold worker process, nothing cached). Reads
  (``workspace/textDocumentContent``) and saves (``letta/memoryWrite``) are timed from then until the
  audit publishes its diagnostics (only samples answered before that count as "busy"), then the same
  number again with the server idle. p50 and p99 of both; target: busy p99 ≤ 2× idle p99. A save moves
  ``HEAD``, which supersedes the audit in progress: the worker process stays busy auditing the newest
  ``HEAD`` all through the busy phase.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import memory_corpus
from bench.server import RpcPeer, build_home, letta_server
from letta_ls.doctor import audit
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import get_token_counter
from letta_ls.server.uris import memory_uri

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "This memory file follows the team template. Keep each note short, dated and sourced; move anything "
    "older than a quarter to the archive, and link related notes instead of copying their text between files."
)
KINDS = ("distinct", "header", "identical")


def memory_of(n: int, kind: str) -> dict[str, str]:
    """``n`` files of ``bench.corpus`` whose bodies are kept (distinct), get a shared header, or are all one."""
    files = memory_corpus(max(n, 3))
    out: dict[str, str] = {}
    first_body = None
    for path, text in list(files.items())[:n]:
        head, _, body = text.partition("\n---\n")
        if kind == "header":
            body = f"{HEADER}\n\n{body}"
        elif kind == "identical":  # one note's body everywhere (the first note long enough to count)
            first_body = first_body or (body if len(body) > 400 else None)
            body = first_body or body
        out[path] = f"{head}\n---\n{body}"
    return out


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def cli_doctor_seconds(directory: Path, rounds: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of ``letta-ls doctor DIR``: on a machine
    shared with other jobs the CPU time is the steadier figure."""
    walls, cpus = [], []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "letta_ls", "doctor", str(directory), "--format", "json"],
                       cwd=ROOT, capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def bench_doctor(tmp: Path, sizes: list[int], rounds: int, kinds: tuple[str, ...] = KINDS) -> list[dict]:
    one = write_tree(tmp / "doctor-1", memory_of(1, "distinct"))
    floor, floor_cpu = cli_doctor_seconds(one, rounds)
    counter = get_token_counter()
    results = []
    for kind in kinds:
        curve = []
        for n in sizes:
            files = memory_of(n, kind)
            directory = write_tree(tmp / f"doctor-{kind}-{n}", files)
            wall, cpu = cli_doctor_seconds(directory, rounds)
            beyond, beyond_cpu = wall - floor, cpu - floor_cpu
            snapshot = MemorySnapshot.from_mapping(files, head="a" * 40)
            found = audit(snapshot, counter=counter).findings
            changed = dict(files)
            path = next(iter(changed))
            changed[path] += "\nOne more line.\n"
            start = time.perf_counter()
            audit(MemorySnapshot.from_mapping(changed, head="b" * 40), counter=counter)
            incremental = time.perf_counter() - start
            target = 1.0 if n <= 2000 else 3.0
            curve.append({"files": n, "beyond_one_file_s": round(beyond, 3),
                          "cpu_beyond_one_file_s": round(beyond_cpu, 3), "target_s": target,
                          "meets_target": beyond < target, "findings": len(found),
                          "duplicate_findings": sum(f.code == "duplicate-content" for f in found),
                          "reaudit_after_one_change_ms": round(incremental * 1000, 1)})
            print(json.dumps({"kind": kind, **curve[-1]}), file=sys.stderr, flush=True)
        results.append({"name": f"letta-ls doctor DIR beyond a 1-file run, {kind} bodies",
                        "one_file_run_s": round(floor, 3), "one_file_run_cpu_s": round(floor_cpu, 3),
                        "curve": curve})
    return results


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
            "samples": len(ordered)}


def _published(peer: RpcPeer) -> bool:
    return any(name == "textDocument/publishDiagnostics" for _at, name, _p in peer.notifications)


def _round(peer: RpcPeer, agent_id: str, paths: list[str], i: int, reads: list, writes: list) -> None:
    path = paths[i % len(paths)]
    _result, dt = peer.request("workspace/textDocumentContent", {"uri": memory_uri(agent_id, path)})
    reads.append(dt)
    if i % 10 == 9:
        text = f"---\ndescription: Bench note {i}.\n---\nEdit {i}: the build now runs in {i} seconds.\n"
        result, dt = peer.request("letta/memoryWrite", {"uri": memory_uri(agent_id, "reference/bench-edit.md"),
                                                        "text": text, "reason": f"edit {i}"})
        assert result["commit"], result
        writes.append(dt)


def bench_lsp_during_audit(tmp: Path, n: int, samples: int, run: int = 1) -> dict:
    """One run: a fresh server over a fresh ``n``-file memory (its own home and index), busy then idle."""
    files = memory_of(n, "distinct")
    home_dir = tmp / f"lsp-home-{n}-run-{run}"
    _home, agent_id, _repo = build_home(home_dir, files)
    paths = [p for p in files if p.startswith("reference/")][:500]
    peer = letta_server(home_dir)
    try:
        peer.initialize()
        busy_reads: list[float] = []
        busy_writes: list[float] = []
        i = 0
        started = time.perf_counter()
        while i < samples and not _published(peer):
            reads, writes = [], []
            _round(peer, agent_id, paths, i, reads, writes)
            if not _published(peer):  # answered while the audit was still running
                busy_reads += reads
                busy_writes += writes
            i += 1
        busy_for = time.perf_counter() - started
        peer.wait_for("textDocument/publishDiagnostics", lambda p: True, timeout=600)
        audit_done = time.perf_counter() - started
        peer.settle(1.0, limit=600)
        idle_reads: list[float] = []
        idle_writes: list[float] = []
        for j in range(max(i, 20)):  # at least two saves' worth, even when the audit was over at once
            _round(peer, agent_id, paths, j, idle_reads, idle_writes)
            if j % 10 == 9:
                peer.settle(0.05, limit=600)  # let each save's own audit finish: the server stays idle
    finally:
        peer.close()
    out = {"name": f"LSP read/save latency while the first full audit of {n:,} files runs vs idle",
           "files": n, "run": run, "busy_phase_s": round(busy_for, 2), "audit_published_after_s": round(audit_done, 2)}
    for label, busy, idle in (("workspace/textDocumentContent", busy_reads, idle_reads),
                              ("letta/memoryWrite", busy_writes, idle_writes)):
        if not busy or not idle:
            out[label] = {"busy": len(busy), "idle": len(idle), "note": "too few samples"}
            continue
        b, d = percentiles(busy), percentiles(idle)
        ratio = b["p99_ms"] / d["p99_ms"]
        out[label] = {"busy": b, "idle": d, "p99_ratio": round(ratio, 2), "target_ratio": 2.0,
                      "meets_target": ratio <= 2.0}
    return out


LSP_LABELS = ("workspace/textDocumentContent", "letta/memoryWrite")


def lsp_curve(tmp: Path, sizes: list[int], runs: int, samples: int) -> list[dict]:
    """Per memory size, ``runs`` runs (each a fresh server) and the median p99 ratio over them."""
    curve = []
    for n in sizes:
        each = []
        for run in range(1, runs + 1):
            each.append(bench_lsp_during_audit(tmp, n, samples, run))
            print(json.dumps(each[-1]), file=sys.stderr, flush=True)
        point: dict = {"files": n, "runs": each}
        for label in LSP_LABELS:
            ratios = [r[label]["p99_ratio"] for r in each if "p99_ratio" in r[label]]
            point[label] = {"median_p99_ratio": round(statistics.median(ratios), 2) if ratios else None,
                            "runs_meeting_target": f"{sum(x <= 2.0 for x in ratios)}/{len(each)}"}
        curve.append(point)
    return curve


def lsp_table(curve: list[dict]) -> str:
    """The curve as a markdown table (for docs/benchmarks-scale.md), one row per run."""
    rows = ["| files | run | read busy p50 / p99 | read idle p50 / p99 | read ratio | save busy p50 / p99 | "
            "save idle p50 / p99 | save ratio |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for point in curve:
        for r in point["runs"]:
            cells = [f"{point['files']:,}", str(r["run"])]
            for label in LSP_LABELS:
                entry = r[label]
                if "p99_ratio" not in entry:
                    cells += [f"{entry['busy']} samples", f"{entry['idle']} samples", "-"]
                    continue
                b, d = entry["busy"], entry["idle"]
                cells += [f"{b['p50_ms']} / {b['p99_ms']} ms", f"{d['p50_ms']} / {d['p99_ms']} ms",
                          f"{entry['p99_ratio']}x"]
            rows.append("| " + " | ".join(cells) + " |")
        medians = [point[label]["median_p99_ratio"] for label in LSP_LABELS]
        read, save = (f"{m}x" if m is not None else "-" for m in medians)
        rows.append(f"| {point['files']:,} | median | | | {read} | | | {save} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["doctor", "lsp"])
    parser.add_argument("--rounds", type=int, default=3, help="CLI runs per point (the median is kept)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="which memories: distinct,header,identical")
    parser.add_argument("--sizes", help="doctor curve points, e.g. 100,1000,10000 (default 100,1000,2000,10000)")
    parser.add_argument("--lsp-sizes", default="100,1000,10000",
                        help="memory sizes of the LSP latency curve (files, comma-separated)")
    parser.add_argument("--lsp-runs", type=int, default=3, help="LSP runs per size, each a fresh server")
    args = parser.parse_args()
    sizes = [100, 1000] if args.quick else [100, 1000, 2000, 10_000]
    if args.sizes:
        sizes = [int(n) for n in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="letta-bench-scale-") as tmp:
        if args.only in (None, "doctor"):
            results += bench_doctor(Path(tmp), sizes, 1 if args.quick else args.rounds,
                                    tuple(args.kinds.split(",")))
        if args.only in (None, "lsp"):
            lsp_sizes = [1000] if args.quick else [int(x) for x in args.lsp_sizes.split(",")]
            curve = lsp_curve(Path(tmp), lsp_sizes, max(1, args.lsp_runs), 100 if args.quick else 400)
            results.append({"name": "LSP read/save latency during the first full audit vs idle, by memory size",
                            "curve": curve})
            print(lsp_table(curve), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
