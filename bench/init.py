"""/init measured against its floors, in the same run.

* **without a model**: ``MemoryInitializer.run`` on this repository with a synthetic history of its own (Claude
  Code sessions and Codex rollouts recorded in this folder), into a fresh agent each round: inspect, count and
  read the sessions, the draft, a worktree, the guarded commit, the merge into main, the doctor and the
  report. Floor: the same inputs computed bare (``inspect_workspace`` + ``read_history`` + ``draft_memory``)
  and the draft committed straight to main with one commit. The ratio is the price of the subagent path
  (detection, worktree, guard, merge, audit, report). Target ≤ 1.5x.
* **history workers in parallel**: against a model that takes ``latency`` seconds per answer (a local
  OpenAI-compatible server), the phase from "history workers 0/N done" to "N/N done" (their worktrees, their
  turns) with 3 workers (8 sessions) against the same phase with 1 worker (1 session). One after the other,
  3 workers would take about 3x; in parallel close to 1x (the 2-core machine shares their CPU work, the
  model's latency they wait out together). Target ≤ 1.5x.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench import agent as agent_bench
from bench import history as history_bench
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.home import Home
from letta_ls.init.draft import draft_memory
from letta_ls.init.history import HistorySources, ProjectMatcher, encode_project_dir, read_history
from letta_ls.init.run import InitRequest, MemoryInitializer
from letta_ls.init.workspace import inspect_workspace
from letta_ls.init.writes import memory_texts
from letta_ls.session import Session
from letta_ls.subagents.runner import SubagentRunner

REPOSITORY = Path(__file__).resolve().parent.parent


def make_project_history(root: Path, project: Path, sessions: int, turns: int, *,
                         codex: bool = True) -> HistorySources:
    """Synthetic sessions recorded in ``project`` (the benchmark generator's, moved there): ``sessions`` Claude
    Code sessions, and as many Codex rollouts unless ``codex`` is false."""
    rng = random.Random(9)
    claude = root / ".claude" / "projects" / encode_project_dir(str(project))
    rollouts = root / ".codex" / "sessions" / "2025" / "10" / "29"
    claude.mkdir(parents=True)
    rollouts.mkdir(parents=True)
    for n in range(sessions):
        session = f"{n:08x}-0000-4000-8000-000000000001"
        text = history_bench.claude_session(rng, session, turns).replace(history_bench.PROJECT, str(project))
        (claude / f"{session}.jsonl").write_text(text)
        if not codex:
            continue
        text = history_bench.codex_rollout(rng, session, turns).replace(history_bench.PROJECT, str(project))
        (rollouts / f"rollout-2025-10-29T12-{n // 60:02d}-{n % 60:02d}-{session}.jsonl").write_text(text)
    return HistorySources.from_home(root, env={})


def _floor(home: Path, sources: HistorySources) -> None:
    session = Session(Home(home))
    facts = inspect_workspace([REPOSITORY])
    matcher = ProjectMatcher.for_folders([REPOSITORY], remotes=[u for f in facts.folders if f.git
                                                               for u in f.git.remotes.values()])
    history = read_history(matcher, sources)
    existing = memory_texts(session.repo.snapshot())
    draft = draft_memory(facts, sessions=history.sessions, existing=existing, settings=session.settings.memory,
                         roots=[str(REPOSITORY)])
    session.repo.commit({p: t.encode() for p, t in draft.files.items()}, draft.reason, session.agent.author)


async def _ours(home: Path, sources: HistorySources) -> None:
    session = Session(Home(home))
    runner = SubagentRunner(session)
    await runner.start()
    try:
        result = await MemoryInitializer(session, runner, sources=sources).run(InitRequest((REPOSITORY,)))
    finally:
        await runner.close()
    assert result.ok and result.files, result.report


def bench_init_without_model(tmp: Path, *, sessions: int, turns: int, rounds: int) -> dict:
    sources = make_project_history(tmp / "init-history-home", REPOSITORY, sessions, turns)
    ours, floor = [], []
    Session(Home(tmp / "init-warm-floor"))
    Session(Home(tmp / "init-warm-ours"))
    _floor(tmp / "init-warm-floor", sources)  # untimed: imports, the tokenizer, the page cache
    asyncio.run(_ours(tmp / "init-warm-ours", sources))
    for n in range(rounds):
        Session(Home(tmp / f"init-floor-{n}"))  # agents are created untimed, for both
        Session(Home(tmp / f"init-ours-{n}"))
        t = time.perf_counter()
        _floor(tmp / f"init-floor-{n}", sources)
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        asyncio.run(_ours(tmp / f"init-ours-{n}", sources))
        ours.append(time.perf_counter() - t)
    ratio = statistics.median(ours) / statistics.median(floor)
    return {"name": f"/init without a model (this repository, {2 * sessions} sessions)",
            "median_ms": round(statistics.median(ours) * 1000, 1),
            "floor_median_ms": round(statistics.median(floor) * 1000, 1), "ratio": round(ratio, 2),
            "target_ratio": 1.5, "meets_target": ratio <= 1.5}


class _SlowHandler(agent_bench._Handler):
    def do_POST(self) -> None:
        time.sleep(self.server.latency)  # type: ignore[attr-defined]
        super().do_POST()


class _SlowServer(agent_bench._FakeHTTPServer):
    def __init__(self, latency: float) -> None:
        super().__init__()
        self.RequestHandlerClass = _SlowHandler
        self.latency = latency


async def _workers_phase(home: Path, sources: HistorySources, base_url: str, workers: int) -> float:
    session = Session(Home(home))
    runner = SubagentRunner(session)
    marks: dict[str, float] = {}

    def progress(message: str, _percentage: int | None) -> None:
        marks.setdefault(message, time.perf_counter())

    provider = OpenAIProvider("fake-gpt", api_key="not-needed", base_url=base_url)
    try:
        result = await MemoryInitializer(session, runner, sources=sources).run(
            InitRequest((REPOSITORY,), depth="standard"), provider=provider, progress=progress)
    finally:
        await runner.close()
        await provider.aclose()
    assert len(result.workers) == workers and not any(w.error for w in result.workers), result.report
    return marks[f"history workers {workers}/{workers} done"] - marks[f"history workers 0/{workers} done"]


@contextlib.contextmanager
def slow_openai(latency: float) -> Iterator[str]:
    """A local OpenAI-compatible server that answers every request with a short text after ``latency`` s."""
    server = _SlowServer(latency)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def bench_parallel_workers(tmp: Path, *, latency: float, rounds: int) -> dict:
    three = make_project_history(tmp / "workers-3", REPOSITORY, 4, 10)  # 8 sessions: 3 workers
    one = make_project_history(tmp / "workers-1", REPOSITORY, 1, 10, codex=False)  # 1 session: 1 worker
    ours, floor = [], []
    with slow_openai(latency) as base_url:
        asyncio.run(_workers_phase(tmp / "workers-warm", one, base_url, 1))
        for n in range(rounds):
            floor.append(asyncio.run(_workers_phase(tmp / f"workers-1-{n}", one, base_url, 1)))
            ours.append(asyncio.run(_workers_phase(tmp / f"workers-3-{n}", three, base_url, 3)))
    ratio = statistics.median(ours) / statistics.median(floor)
    return {"name": f"3 history workers against 1 (model latency {latency:g} s)",
            "median_ms": round(statistics.median(ours) * 1000, 1),
            "floor_median_ms": round(statistics.median(floor) * 1000, 1), "ratio": round(ratio, 2),
            "target_ratio": 1.5, "meets_target": ratio <= 1.5}


def run(tmp: Path, *, quick: bool) -> list[dict]:
    sessions, turns, rounds, latency = (4, 20, 2, 0.3) if quick else (20, 60, 5, 1.0)
    return [bench_init_without_model(tmp, sessions=sessions, turns=turns, rounds=rounds),
            bench_parallel_workers(tmp, latency=latency, rounds=max(2, rounds // 2))]
