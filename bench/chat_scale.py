"""A chat turn that writes memory, on a 2,000-file memory against a 5-file one (issue 14).

``AgentRuntime.run_turn`` in process, against a scripted zero-latency OpenAI-compatible server on
127.0.0.1 (the model of ``bench/agent.py``, scripted further): the first request of each turn is answered
with a ``memory`` tool call that creates a new note, the request carrying the tool's result with a short
reply. So every turn compiles the prompt, runs the write guard (the whole-memory error check of an
agent's write), commits, and asks the model twice. Turns on the two memories alternate, so a burst of
load on the shared machine hits both alike; the figure is the ratio of the medians (target ≤ 1.5×).
Run ``python bench/chat_scale.py [--quick]``; prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent import REPLY, _sse, build_session, fake_openai
from bench.corpus import memory_corpus
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.runtime import AgentRuntime

BASE = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "fake-gpt"}


def _tool_call_sse(number: int) -> bytes:
    arguments = json.dumps({
        "command": "create", "file_path": f"reference/chat/note-{number}.md",
        "description": f"What the user said in turn {number}.",
        "file_text": f"The user said in turn {number} that the build uses two workers.\n",
        "reason": f"remember turn {number}",
    })
    call = {"index": 0, "id": f"call-{number}", "type": "function", "function": {"name": "memory",
                                                                                   "arguments": arguments}}

    def chunk(delta: dict, finish: str | None = None) -> str:
        return f"data: {json.dumps({**BASE, 'choices': [{'index': 0, 'delta': delta, 'finish_reason': finish}]})}\n\n"

    return (chunk({"role": "assistant", "content": None, "tool_calls": [call]}) + chunk({}, "tool_calls")
            + "data: [DONE]\n\n").encode()


class _MemoryWriter:
    """Each turn's first request is answered with a ``memory`` create, the request carrying its result with a
    short reply (the answer ``bench.agent.fake_openai`` serves)."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, body: dict) -> bytes:
        if body["messages"][-1].get("role") == "tool":
            return _sse(REPLY)
        with self.lock:
            self.calls += 1
            return _tool_call_sse(self.calls)


def big_memory(n: int, in_system: int) -> dict[str, str]:
    """``bench.corpus`` with ``in_system`` of its files in ``system/`` (the rest external)."""
    files = memory_corpus(n)
    out: dict[str, str] = {}
    moved = sum(p.startswith("system/") for p in files)
    for path, text in files.items():
        if moved < in_system and path.startswith("reference/"):
            path = "system/project/" + path.removeprefix("reference/").replace("/", "-")
            moved += 1
        out[path] = text
    return out


async def _measure(runtimes: dict[str, AgentRuntime], turns: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in runtimes}
    for i in range(turns + 2):
        for name, runtime in runtimes.items():
            conv = runtime.store.create(f"bench {i}").conversation_id
            start = time.perf_counter()
            result = await runtime.run_turn(f"Turn {i}: remember that the build uses two workers.",
                                            conversation_id=conv)
            elapsed = time.perf_counter() - start
            if result.error or result.reply != REPLY:
                raise RuntimeError(f"the turn failed: {result.error or result.reply!r}")
            if i >= 2:  # the first two turns warm imports, caches and the tokenizer
                samples[name].append(elapsed)
    return samples


def run(tmp: Path, *, quick: bool) -> dict:
    memories = {"5 files": big_memory(5, 2), "2,000 files (100 in system/)": big_memory(2000, 100)}
    with fake_openai(_MemoryWriter()) as server:
        base_url = f"http://127.0.0.1:{server.server_port}/v1"
        runtimes = {}
        for k, (name, files) in enumerate(memories.items()):
            session = build_session(tmp / f"chat-home-{k}", files)
            runtimes[name] = AgentRuntime(session, OpenAIProvider("fake-gpt", api_key="sk-bench", base_url=base_url))
        samples = asyncio.run(_measure(runtimes, 6 if quick else 20))
    small, big = (statistics.median(samples[name]) for name in memories)
    return {"name": "chat turn with a memory write, 2,000-file memory vs 5-file memory",
            **{f"{name} median_ms": round(statistics.median(s) * 1000, 1) for name, s in samples.items()},
            "ratio": round(big / small, 2), "target_ratio": 1.5, "meets_target": big / small <= 1.5,
            "turns": len(samples[next(iter(memories))])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="letta-bench-chat-") as tmp:
        print(json.dumps(run(Path(tmp), quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
