"""What dreams cost the chat: a turn with the dream scheduler counting its steps, against the same turn without.

Both runtimes share one session, model server and seed conversation (``bench/agent.py``'s zero-latency fake
OpenAI server and 50-message conversation); turns alternate between the plain runtime (the floor) and one
attached to a started ``MemorySubagents`` (step-count trigger with a count that is never reached, so no
dream runs: what is measured is the per-step bookkeeping, i.e. the listener on the event loop and the
step count written by a background thread); which of the two goes first alternates. Also given: the
listener's own cost on the event loop per call.
Target: the watched turn ≤ 1.05x the plain one (nothing measurable).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from bench.agent import REPLY, build_session, fake_openai, seed_messages
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.subagents.service import MemorySubagents
from letta_ls.subagents.sleeptime_state import SleeptimeStore


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


async def _turn(runtime: AgentRuntime, seeder: ConversationStore, seed: list, i: int) -> float:
    conv = seeder.create(f"bench {i}").conversation_id
    seeder.append(conv, seed)
    t = time.perf_counter()
    result = await runtime.run_turn(f"Question {i}: which flags does the build pass to pytest?", conversation_id=conv)
    elapsed = time.perf_counter() - t
    if result.error or result.reply != REPLY:
        raise RuntimeError(f"the turn failed: {result.error or result.reply!r}")
    return elapsed


async def _bench(session, port: int, turns: int) -> list[dict]:
    session.reload_settings({"sleeptime": {"trigger": "step-count", "stepCount": 10**9, "idleSeconds": 3600}})
    provider = OpenAIProvider("fake-gpt", api_key="sk-bench", base_url=f"http://127.0.0.1:{port}/v1")
    plain = AgentRuntime(session, provider)
    watched = AgentRuntime(session, provider)
    service = MemorySubagents(session)
    await service.start()
    service.attach(watched)
    seeder = ConversationStore(session.agent.conversations_dir)
    seed = seed_messages(50)
    floor, ours = [], []
    try:
        for i in range(3):  # warm both
            await _turn(plain, seeder, seed, -1 - 2 * i)
            await _turn(watched, seeder, seed, -2 - 2 * i)
        for i in range(turns):  # alternate which goes first, so neither profits from the other's warm-up
            if i % 2:
                ours.append(await _turn(watched, seeder, seed, 2 * i + 1))
                floor.append(await _turn(plain, seeder, seed, 2 * i))
            else:
                floor.append(await _turn(plain, seeder, seed, 2 * i))
                ours.append(await _turn(watched, seeder, seed, 2 * i + 1))
        await asyncio.sleep(0.2)  # let the last step count land
        counted = SleeptimeStore(session.agent.conversations_dir).read().steps
        calls = 20_000
        t = time.perf_counter()
        for _ in range(calls):
            service.scheduler.note_step("default", 1)
        listener = (time.perf_counter() - t) / calls
    finally:
        await service.close()
        await provider.aclose()
    ratio = statistics.median(ours) / statistics.median(floor)
    return [
        {"name": "chat turn with the dream scheduler counting steps (50-message conversation)",
         "median_ms": ms(ours), "floor_median_ms": ms(floor), "ratio": round(ratio, 3), "target_ratio": 1.05,
         "meets_target": ratio <= 1.05, "samples": turns, "steps_counted": counted},
        {"name": "step listener on the event loop, per call", "median_us": round(listener * 1e6, 3)},
    ]


def run(tmp: Path, files: dict[str, str], *, quick: bool) -> list[dict]:
    session = build_session(tmp / "dreams-home", files)
    with fake_openai() as server:
        return asyncio.run(_bench(session, server.server_port, 8 if quick else 40))
