"""The agent measured against the model call it wraps, in the same run.

Overhead per turn: ``AgentRuntime.run_turn`` against a zero-latency OpenAI-compatible server on 127.0.0.1
that answers every request at once with the same short streamed text. Each turn runs in a fresh
conversation seeded with the same 200 messages (``ConversationStore.append``, by this process, as earlier
turns of a session would have), so every turn sees exactly 200. The floor is the very request body the
turn sent, replayed with the ``openai`` SDK straight to the same server (stream opened and read to the
end); turns and floors alternate. Overhead = turn time - floor time, median over the turns (target
< 10 ms). Note the floor itself is mostly the SDK turning the request into JSON, which grows with the
conversation.

Three scenarios take turns, so that a burst of load on a shared machine hits them alike:

* ``continue`` (the headline): the conversation is already the current one, as for every turn but the
  first after a switch;
* ``switch``: the turn also makes it the current conversation, which writes ``state.json`` (this is what
  every turn measured before the scenarios existed);
* ``restart``: a new ``AgentRuntime`` with the transcript, skill and prompt caches emptied, as for the
  first turn after the editor or ``letta-ls chat`` starts (the memory compile cache is kept, as in every
  scenario; ``memfs`` measures compiles).

A further set of ``continue`` turns is instrumented to say where the overhead goes (transcript read and
appends, index upkeep, prompt compile, token estimate, wire conversion; medians per turn); the
instrumentation is kept out of the headline figure. Parts that a version of letta-ls does not have are
skipped, so this file also measures an older checkout for a before/after comparison.

Tokens per second of the embedded model (llama-cpp + SmolLM2-135M) through
``letta_ls.agent.providers.local.tokens_per_second`` when that module and the model are available.

The fake model server is a copy of the essentials of ``tests/fakes`` (``bench/`` does not import tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import random
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.corpus import paragraph
from letta_ls.agent import runtime as runtime_module
from letta_ls.agent.compaction import estimate_request_tokens
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers import openai_provider
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.session import Session

AUTHOR = Author("Bench", "bench@letta-ls.local")
REPLY = "Noted: the build uses two workers."


# ---------------------------------------------------------------------------------------------- fake model
def _sse(reply: str) -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "fake-gpt"}

    def chunk(delta: dict, finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return (chunk({"role": "assistant", "content": ""}) + chunk({"content": reply}) + chunk({}, "stop")
            + f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n" + "data: [DONE]\n\n").encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.bodies.append(body)
        answer = self.server.answer
        payload = answer(json.loads(body)) if answer is not None else self.server.payload
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Callable[[dict], bytes] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.payload = _sse(REPLY)
        self.answer = answer  # the streamed answer to a request's JSON body; None: always ``payload``
        self.bodies: list[bytes] = []


@contextlib.contextmanager
def fake_openai(answer: Callable[[dict], bytes] | None = None) -> Iterator[_FakeHTTPServer]:
    """A zero-latency OpenAI Chat Completions server: every request gets the same streamed reply at once,
    or what ``answer`` makes of the request."""
    server = _FakeHTTPServer(answer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------------------------------------- fixtures
def seed_messages(count: int, seed: int = 11) -> list[Message]:
    """``count`` messages of an ordinary coding conversation; every fifth exchange calls a tool."""
    rng = random.Random(seed)
    out: list[Message] = []
    turn = 0
    while len(out) < count:
        turn += 1
        out.append(Message("user", paragraph(rng, 2), turn_id=f"turn-{turn}"))
        if turn % 5 == 0 and len(out) + 3 <= count:
            call = ToolCall(f"call-{turn}", "memory", {"command": "view", "path": "system/project/build-0.md"})
            out.append(Message("assistant", "Let me check my notes.", tool_calls=[call], turn_id=f"turn-{turn}"))
            out.append(Message("tool", paragraph(rng, 3), tool_call_id=call.id, name="memory", turn_id=f"turn-{turn}"))
        out.append(Message("assistant", paragraph(rng, 4), turn_id=f"turn-{turn}"))
    return out[:count]


def build_session(root: Path, files: dict[str, str]) -> Session:
    home = Home(root)
    agent = home.create_agent("Bench agent")
    home.use_agent(agent.id)
    MemoryRepo(agent.memory_dir).commit({p: t.encode() for p, t in files.items()}, "bench: memory", AUTHOR)
    return Session(home)


class Timings:
    """Wraps callables so their time (in whichever thread runs them) is added up by label."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)
        had_own = inspect.ismodule(owner) or attribute in vars(owner)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.total[label] += time.perf_counter() - t

        setattr(owner, attribute, timed)
        self.undo.append(lambda: setattr(owner, attribute, original) if had_own else delattr(owner, attribute))

    def take(self) -> dict[str, float]:
        """The totals so far, then start again from zero."""
        taken, self.total = dict(self.total), defaultdict(float)
        return taken

    def restore(self) -> None:
        while self.undo:
            self.undo.pop()()


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# ---------------------------------------------------------------------------------------------- benchmarks
CONTINUE, SWITCH, RESTART = "continue", "switch", "restart"
SCENARIOS = {
    CONTINUE: "the conversation is already the current one (the usual turn)",
    SWITCH: "the turn also makes it the current conversation (a write of state.json)",
    RESTART: "first turn of a new AgentRuntime with the transcript, skill and prompt caches emptied, as after a "
             "restart (the memory compile cache is kept, as in every scenario)",
}


def _forget_caches() -> None:
    """What a restarted process would not have: parsed transcripts and skills (memory compiles stay)."""
    with contextlib.suppress(ImportError):
        from letta_ls.agent.transcripts import TRANSCRIPTS

        TRANSCRIPTS.clear()
    with contextlib.suppress(ImportError):
        from letta_ls.memfs.skills import clear_skill_caches

        clear_skill_caches()


async def _turns(runtime: AgentRuntime, seed: list[Message], server: _FakeHTTPServer, client: Any,
                 scenarios: list[str], timings: Timings | None = None) -> list[tuple[str, float, float, dict]]:
    """One turn per entry of ``scenarios``, each in a fresh conversation holding exactly ``seed``, each
    followed by its floor: (scenario, turn seconds, floor seconds, the turn's timed parts)."""
    out = []
    seeder = ConversationStore(runtime.store.directory)  # not the runtime's store, whose methods may be timed
    for i, scenario in enumerate(scenarios):
        conv = seeder.create(f"bench {i}").conversation_id
        seeder.append(conv, seed)
        turn_runtime = runtime
        if scenario == CONTINUE:
            seeder.set_last_used(conv)  # as letta.newConversation does before the user's first message
        elif scenario == RESTART:
            seeder.set_last_used(conv)
            turn_runtime = AgentRuntime(runtime.session, runtime.provider)
            _forget_caches()
        if timings is not None:
            timings.take()
        t = time.perf_counter()
        result = await turn_runtime.run_turn(f"Question {i}: which flags does the build pass to pytest?",
                                             conversation_id=conv)
        turn = time.perf_counter() - t
        parts = timings.take() if timings is not None else {}
        if result.error or result.reply != REPLY:
            raise RuntimeError(f"the turn failed: {result.error or result.reply!r}")
        body = json.loads(server.bodies[-1])
        # the same wire body, sent the cheapest way the SDK allows (history as plain JSON, as the agent does)
        extra = {key: body.pop(key) for key in ("messages", "tools") if key in body}
        t = time.perf_counter()
        stream = await client.chat.completions.create(**body, messages=[], extra_body=extra)
        async for _chunk in stream:
            pass
        out.append((scenario, turn, time.perf_counter() - t, parts))
    return out


PARTS = (("store", "context", "transcript read (context)"),
         ("store", "_append_records", "transcript appends (turn start, written; turn end, written and fsynced)"),
         ("store", "_after_append", "index upkeep after appends (a write only when due)"),
         ("runtime", "resolve_conversation", "resolve conversation"),
         ("runtime", "_prompt", "prompt compile (and its token count)"), ("runtime", "toolbox", "toolbox"),
         ("runtime_module", "request_tokens", "token estimate (messages)"),
         ("openai_provider", "to_openai_messages", "wire conversion (to_openai_messages)"))
# runs while the model is asked: reported, but not one of the parts subtracted to give "rest"
CONCURRENT_PARTS = (("store", "sync", "fsync of the turn start (while the model is asked)"),
                    ("store", "set_last_used", "conversation to resume (while the model is asked)"))


def _summary(samples: list[tuple[str, float, float, dict]]) -> dict:
    overheads = [turn - floor for _s, turn, floor, _p in samples]
    return {"overhead_median_ms": ms(statistics.median(overheads)),
            "turn_median_ms": ms(statistics.median(t for _s, t, _f, _p in samples)),
            "floor_median_ms": ms(statistics.median(f for _s, _t, f, _p in samples)), "samples": len(samples)}


async def _bench_turns(session: Session, server: _FakeHTTPServer, messages: int, turns: int) -> dict:
    import openai

    provider = OpenAIProvider("fake-gpt", api_key="sk-bench", base_url=f"http://127.0.0.1:{server.server_port}/v1")
    runtime = AgentRuntime(session, provider)
    seed = seed_messages(messages)
    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=provider.base_url, max_retries=0)
    try:
        await _turns(runtime, seed, server, client, [CONTINUE, SWITCH, RESTART])  # warm: imports, pools, compile
        # the scenarios take turns, so a burst of load on a shared machine hits them alike
        plain = await _turns(runtime, seed, server, client, [CONTINUE, SWITCH, RESTART] * turns)
        timings = Timings()
        owners = {"store": runtime.store, "runtime": runtime, "runtime_module": runtime_module,
                  "openai_provider": openai_provider}
        for owner, attribute, label in PARTS + CONCURRENT_PARTS:
            if hasattr(owners[owner], attribute):  # so that the same file can measure an older version
                timings.wrap(owners[owner], attribute, label)
        try:
            probed = await _turns(runtime, seed, server, client, [CONTINUE] * max(4, turns // 2), timings)
        finally:
            timings.restore()
        conv = runtime.store.last_used()
        context = runtime.store.context(conv)
        compactions = len(runtime.store.compactions(conv))
        system = runtime.system_prompt(conv, len(context))
    finally:
        await client.close()
        await provider.aclose()

    by_scenario = {name: _summary([sample for sample in plain if sample[0] == name]) for name in SCENARIOS}
    headline = by_scenario[CONTINUE]
    breakdown = {label: ms(statistics.median(parts.get(label, 0.0) for _s, _t, _f, parts in probed))
                 for _o, _a, label in PARTS}
    breakdown = dict(sorted(breakdown.items(), key=lambda kv: -kv[1]))
    sequential = {label for _o, _a, label in PARTS}
    breakdown["rest: event loop, thread hops, provider (median of overhead - parts)"] = ms(statistics.median(
        turn - floor - sum(v for k, v in parts.items() if k in sequential) for _s, turn, floor, parts in probed))
    for _o, _a, label in CONCURRENT_PARTS:
        breakdown[label] = ms(statistics.median(parts.get(label, 0.0) for _s, _t, _f, parts in probed))
    tokens = estimate_request_tokens(system, context, runtime_module.TOOLS_JSON, session.counter)
    return {
        "name": f"agent overhead per turn, {messages}-message conversation",
        **headline, "target_overhead_ms": 10.0, "meets_target": headline["overhead_median_ms"] < 10.0,
        "scenarios": {name: {"what": SCENARIOS[name], **summary} for name, summary in by_scenario.items()},
        "breakdown_median_ms": breakdown, "breakdown_samples": len(probed),
        "instrumented_overhead_median_ms": ms(statistics.median(t - f for _s, t, f, _p in probed)),
        "messages_after_turn": len(context), "request_tokens": tokens, "system_prompt_chars": len(system),
        "compactions": compactions,
    }


def bench_turn_overhead(tmp: Path, files: dict[str, str], *, messages: int = 200, turns: int = 20) -> dict:
    session = build_session(tmp / "agent-home", files)
    with fake_openai() as server:
        return asyncio.run(_bench_turns(session, server, messages, turns))


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def bench_local_model(rounds: int) -> dict:
    name = "embedded model tokens per second"
    try:
        from letta_ls.agent.providers import local
    except ImportError as exc:
        return {"name": name, "available": False, "reason": f"letta_ls.agent.providers.local: {exc}"}
    try:
        available = local.local_model_available()
    except Exception as exc:
        return {"name": name, "available": False, "reason": f"local_model_available() failed: {exc!r}"}
    if not available:
        return {"name": name, "available": False, "reason": "local_model_available() is false"}

    async def measure() -> tuple[float, list[float]]:
        t = time.perf_counter()
        await _maybe_await(local.tokens_per_second(n=64))  # loads the model
        first = time.perf_counter() - t
        return first, [float(await _maybe_await(local.tokens_per_second(n=64))) for _ in range(rounds)]

    try:
        first, rates = asyncio.run(measure())
    except Exception as exc:
        return {"name": name, "available": False, "reason": f"tokens_per_second() failed: {exc!r}"}
    return {"name": name, "available": True, "tokens_per_second": round(statistics.median(rates), 1),
            "runs": [round(r, 1) for r in rates], "first_call_s": round(first, 2), "tokens_per_run": 64}


def run(tmp: Path, files: dict[str, str], *, quick: bool) -> list[dict]:
    return [bench_turn_overhead(tmp, files, turns=8 if quick else 30), bench_local_model(1 if quick else 3)]
