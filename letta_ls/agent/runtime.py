"""The agent's turn: system prompt from HEAD, the model, tool calls, memory commits, the transcript.

One ``AgentRuntime`` per agent per process. A turn appends the user's message, then loops: compile the
system prompt from committed ``HEAD`` (cheap when HEAD has not moved), compact the context when it
nears the window, stream the model's reply, run its tool calls, append everything to the transcript.
Memory edits are committed by the tool at once, announced through ``on_memory_commit`` and seen by the
next step. Tool errors go back to the model; a provider failure ends the turn with an ``error`` event;
cancellation marks the turn cancelled and leaves a transcript the providers still accept.

What a turn costs besides the model is kept small (``bench/agent.py`` measures it): the turn's start
(marker + user message) and its end (reply + marker) are one transcript append each, so one fsync each,
the start's running while the model is asked (nothing is shown before it is done), as does recording
the conversation to resume; the index is rewritten only when due; the transcript is parsed only at its
new tail; the system prompt is a cached template plus fresh metadata, with a cached token count; and a
step's blocking work before the model call is one hop to a worker thread (the first step's shares the
turn start's).

It knows nothing of LSP: events go to an ``emit`` callback as ``ChatEvent`` records (SPEC section 6).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from letta_ls.agent.compaction import CompactionEvents, compact, compaction_threshold, request_tokens
from letta_ls.agent.conversations import ConversationStore, TurnStatus
from letta_ls.agent.messages import Message, ToolCall, new_id
from letta_ls.agent.providers.base import (
    ContextOverflowError,
    Done,
    ModelRequest,
    Provider,
    ProviderError,
    TextDelta,
    ToolCallEvent,
)
from letta_ls.agent.providers.select import NO_MODEL_CONFIGURED
from letta_ls.agent.system_prompt import SystemPrompt, SystemPromptBuilder
from letta_ls.agent.tools import TOOL_SPECS, Toolbox, ToolOutcome
from letta_ls.memfs.compile import compile_memory
from letta_ls.memfs.skills import discover_skills
from letta_ls.session import Session

log = logging.getLogger("letta_ls.agent")
DEFAULT_STEP_LIMIT = 20
TOOLS_JSON = json.dumps([tool.__dict__ for tool in TOOL_SPECS])  # for token estimates


def load_prompt(name: str) -> str:
    return (importlib.resources.files("letta_ls.agent") / "prompts" / name).read_text(encoding="utf-8")


@dataclass
class ChatEvent:
    """One ``letta/chatEvent``: ``kind`` is text, tool_call, tool_result, memory_edit, done or error."""

    conversation_id: str
    turn_id: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"conversationId": self.conversation_id, "turnId": self.turn_id, "kind": self.kind, **self.data}


@dataclass
class TurnResult:
    conversation_id: str
    turn_id: str
    reply: str
    commits: list[str]
    steps: int
    error: str | None = None


@dataclass
class _Prepared:
    """A step's context, system prompt and token estimate, or the error that preparing it raised."""

    value: tuple[list[Message], str, int] | None
    error: Exception | None = None

    def result(self) -> tuple[list[Message], str, int]:
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


Emit = Callable[[ChatEvent], None]


def edited_only(outcomes: list[ToolOutcome]) -> bool:
    """Every call of the step succeeded and committed a memory edit (a view or a search needs another step)."""
    return bool(outcomes) and all(not o.is_error and o.edit is not None and o.edit.commit for o in outcomes)


def saved_note(edits: list[Any]) -> str:
    """The reply the program writes after the embedded model's memory edit: where it went, with the commit."""
    places = ", ".join(f"{', '.join(edit.paths)} (commit {edit.commit[:7]})" for edit in edits)
    return f"Saved to memory: {places}."


def gave_up_note(error: str) -> str:
    """What the user reads when the model's memory call failed validation twice in a turn (nothing was written)."""
    detail = error.removeprefix("Error:").strip().splitlines()[0] if error.strip() else "it was not valid"
    return (f"(I could not make that memory change: my call failed twice, the second time because {detail}. "
            "Nothing was written. Try saying it again in other words, or use /remember.)")
MemoryCommitHook = Callable[[str, list[str]], None]


class AgentRuntime:
    def __init__(self, session: Session, provider: Provider | None, *, workspace: list[Path] | None = None,
                 events: CompactionEvents | None = None, on_memory_commit: MemoryCommitHook | None = None,
                 step_limit: int = DEFAULT_STEP_LIMIT, base_prompt: str | None = None,
                 store: ConversationStore | None = None) -> None:
        self.session = session
        self.provider = provider
        self.workspace = list(workspace or [])
        self.events = events or CompactionEvents()
        self.on_memory_commit = on_memory_commit
        self.step_limit = step_limit
        self.base_prompt = base_prompt if base_prompt is not None else load_prompt("base.md")
        # a subagent run passes its own store view, pinned to the run's conversation
        self.store = store if store is not None else ConversationStore(session.agent.conversations_dir)
        self.store.ensure_default()
        self.step_listeners: list[Callable[[str, int], None]] = []
        self._prompts = SystemPromptBuilder()
        self._tools_tokens: tuple[object, int] | None = None  # (counter, tokens of TOOLS_JSON)

    # ------------------------------------------------------------------ prompt
    def toolbox(self) -> Toolbox:
        return Toolbox(self.session.operations("agent"), self.store, self.workspace,
                       self.session.home.root / "skills",
                       repair_examples=getattr(self.provider, "repair_examples", None))

    def system_prompt(self, conversation_id: str, message_count: int) -> str:
        return self._prompt(conversation_id, message_count).text

    def _prompt(self, conversation_id: str, message_count: int) -> SystemPrompt:
        """The system prompt from committed ``HEAD`` and its token count (see ``system_prompt.py``)."""
        snap = self.session.repo.snapshot()
        skills = discover_skills(snap, project_dirs=self.workspace, global_dir=self.session.home.root / "skills",
                                 memory_dir=self.session.repo.path)
        base = self.base_prompt.replace("{AGENT_NAME}", self.session.agent.name)
        return self._prompts.build(base, compile_memory(snap), skills, self.session.counter,
                                   agent_id=self.session.agent.id, conversation_id=conversation_id,
                                   message_count=message_count, recompiled_at=datetime.now(UTC))

    def _prepare_step(self, conv: str) -> _Prepared:
        """A step's blocking work in one go: the context, the system prompt, the request's token estimate."""
        context = self.store.context(conv)
        prompt = self._prompt(conv, len(context))
        counter = self.session.counter
        if self._tools_tokens is None or self._tools_tokens[0] is not counter:
            self._tools_tokens = (counter, counter.count(TOOLS_JSON))
        return _Prepared((context, prompt.text, request_tokens(prompt.tokens, self._tools_tokens[1], context,
                                                               counter)))

    def resolve_conversation(self, conversation_id: str | None) -> str:
        if conversation_id is None:
            return self.store.last_used()
        return self.store.check(conversation_id)  # raises UnknownConversationError listing the valid ids

    # ------------------------------------------------------------------ the turn
    async def run_turn(self, text: str, *, conversation_id: str | None = None, emit: Emit | None = None,
                       preamble: str | None = None) -> TurnResult:
        """Answer ``text`` in a conversation; ``preamble`` (e.g. the /remember reminder) is prepended."""
        emit = emit or (lambda event: None)
        turn_id = new_id("turn")
        content = f"{preamble}\n\n{text}" if preamble else text
        prepared: _Prepared | None
        conv, prepared, current = await asyncio.to_thread(self._start_turn, conversation_id, turn_id,
                                                          Message("user", content, turn_id=turn_id))
        # The question is written; its fsync runs while the model is asked, and nothing of the turn (an
        # event, a tool call) happens before it is done: what the user sees answered is on disk. Making
        # this the conversation to resume runs meanwhile too, and is done before the turn returns.
        question = asyncio.ensure_future(asyncio.to_thread(self.store.sync, conv))
        resume = None if current else asyncio.ensure_future(asyncio.to_thread(self._make_last_used, conv))

        async def on_disk() -> None:
            if not question.done():
                await asyncio.shield(question)
            question.result()  # an fsync that failed fails the turn
        commits: list[str] = []
        reply_parts: list[str] = []
        steps = 0
        status: TurnStatus = "error"
        recorded: TurnStatus = "started"  # the status the transcript holds for this turn

        async def finish(messages: list[Message]) -> None:
            """The turn's last messages and its ``done`` marker, as one append."""
            nonlocal recorded
            await asyncio.to_thread(self.store.end_turn, conv, turn_id, "done", messages)
            recorded = "done"

        try:
            if self.provider is None:
                reply = NO_MODEL_CONFIGURED
                await on_disk()
                await finish([Message("assistant", reply, turn_id=turn_id)])
                emit(ChatEvent(conv, turn_id, "text", {"text": reply}))
                emit(ChatEvent(conv, turn_id, "done", {"reply": reply}))
                status = "done"
                return TurnResult(conv, turn_id, reply, commits, 0)
            toolbox = self.toolbox()
            # a provider that declares it (the embedded model) gets this many second chances per turn for a call
            # that fails validation, each with the error as the tool result; one more failure ends the turn
            retries: int | None = getattr(self.provider, "failed_call_retries", None)
            failures = 0
            while True:
                steps += 1
                if prepared is None:
                    prepared = await asyncio.to_thread(self._prepare_step, conv)
                (context, system, tokens), prepared = prepared.result(), None
                if tokens > compaction_threshold(self.provider.context_window):
                    compacted = await self._compact(conv, system, TOOLS_JSON)
                    context = compacted if compacted is not None else context
                message, calls = await self._model_step(conv, turn_id, system, context, emit, on_disk)
                if calls:
                    await asyncio.to_thread(self.store.append, conv, [message])
                else:
                    await finish([message])
                for listener in self.step_listeners:
                    listener(conv, steps)
                if message.content:
                    reply_parts.append(message.content)
                if not calls:
                    break
                results, outcomes = [], []
                for call in calls:
                    emit(ChatEvent(conv, turn_id, "tool_call", {"name": call.name, "arguments": call.arguments}))
                    outcome = await asyncio.to_thread(self._run_tool, toolbox, call)
                    outcomes.append(outcome)
                    results.append(Message("tool", outcome.text, tool_call_id=call.id, name=call.name,
                                           turn_id=turn_id))
                    emit(ChatEvent(conv, turn_id, "tool_result", {"name": call.name, "result": outcome.text}))
                    edit = outcome.edit
                    if edit is not None and edit.commit is not None:
                        commits.append(edit.commit)
                        for path in edit.paths:
                            emit(ChatEvent(conv, turn_id, "memory_edit", {
                                "uri": f"letta-memory://{self.session.agent.id}/{path}", "commit": edit.commit,
                                "reason": outcome.reason or ""}))
                        if self.on_memory_commit is not None:
                            self.on_memory_commit(edit.commit, list(edit.paths))
                if getattr(self.provider, "ends_turn_after_memory_edit", False) and edited_only(outcomes):
                    note = saved_note([o.edit for o in outcomes])
                    reply_parts.append(note)
                    await finish([*results, Message("assistant", note, turn_id=turn_id)])
                    emit(ChatEvent(conv, turn_id, "text", {"text": note}))
                    break
                failed = [outcome.text for outcome in outcomes if outcome.is_error]
                failures += bool(failed)
                if retries is not None and failed and failures > retries:
                    note = gave_up_note(failed[-1])
                    reply_parts.append(note)
                    await finish([*results, Message("assistant", note, turn_id=turn_id)])
                    emit(ChatEvent(conv, turn_id, "text", {"text": note}))
                    break
                if steps >= self.step_limit:
                    note = (f"(stopped after {self.step_limit} steps: the step limit of a turn. "
                            "Ask me to continue if there is more to do.)")
                    reply_parts.append(note)
                    await finish([*results, Message("assistant", note, turn_id=turn_id)])
                    emit(ChatEvent(conv, turn_id, "text", {"text": note}))
                    break
                await asyncio.to_thread(self.store.append, conv, results)
            reply = "\n\n".join(p for p in reply_parts if p).strip()
            emit(ChatEvent(conv, turn_id, "done", {"reply": reply}))
            status = "done"
            return TurnResult(conv, turn_id, reply, commits, steps)
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except ProviderError as exc:
            await on_disk()
            emit(ChatEvent(conv, turn_id, "error", {"message": str(exc)}))
            return TurnResult(conv, turn_id, "\n\n".join(reply_parts), commits, steps, error=str(exc))
        finally:
            if status != recorded:  # a turn that did not end as recorded (cancelled, failed) says so
                with contextlib.suppress(Exception):
                    await asyncio.shield(asyncio.to_thread(self.store.mark_turn, conv, turn_id, status))
            with contextlib.suppress(Exception):
                await asyncio.shield(question)  # never leave the fsync behind
            if resume is not None:
                await asyncio.shield(resume)

    def _start_turn(self, conversation_id: str | None, turn_id: str,
                    message: Message) -> tuple[str, _Prepared, bool]:
        """Resolve the conversation, append its ``started`` marker and the user's message as one write,
        and prepare the first step in the same worker hop (a failure there is raised inside the turn).
        Also says whether the conversation already is the one to resume (the usual case: nothing to do)."""
        conv = self.resolve_conversation(conversation_id)
        self.store.begin_turn(conv, turn_id, message, sync=False)
        try:
            current = conversation_id is None or self.store.last_used() == conv
        except Exception:  # unreadable bookkeeping: record it again (that path reports what is wrong)
            current = False
        if self.provider is None:
            return conv, _Prepared(None), current
        try:
            return conv, self._prepare_step(conv), current
        except Exception as exc:
            return conv, _Prepared(None, exc), current

    def _make_last_used(self, conv: str) -> None:
        try:
            self.store.set_last_used(conv)
        except Exception as exc:  # bookkeeping: the turn goes on, and the next one tries again
            log.warning("could not record conversation %s as the one to resume: %s", conv, exc)

    def _run_tool(self, toolbox: Toolbox, call: ToolCall):
        if call.raw_arguments and not call.arguments:
            try:
                json.loads(call.raw_arguments)
            except ValueError:
                return ToolOutcome(f"Error: the arguments of your {call.name} call were not valid JSON: "
                                   f"{call.raw_arguments[:200]!r}; call it again with a JSON object", is_error=True)
        return toolbox.run(call.name, call.arguments)

    async def _model_step(self, conv: str, turn_id: str, system: str, context: list[Message], emit: Emit,
                          on_disk: Callable[[], Awaitable[None]]) -> tuple[Message, list[ToolCall]]:
        """One model call; ``on_disk`` is awaited before anything is shown or returned (see ``run_turn``)."""
        assert self.provider is not None
        request = ModelRequest(system=system, messages=context, tools=TOOL_SPECS,
                               max_output_tokens=self.session.settings.model.maxOutputTokens)
        for attempt in range(2):
            text: list[str] = []
            calls: list[ToolCall] = []
            try:
                async for event in self.provider.stream(request):
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                        await on_disk()
                        emit(ChatEvent(conv, turn_id, "text", {"text": event.text}))
                    elif isinstance(event, ToolCallEvent):
                        calls.append(event.call)
                    elif isinstance(event, Done):
                        break
            except ContextOverflowError:
                if attempt or text:
                    raise
                result = await self._compact(conv, system, TOOLS_JSON, force=True)
                request.messages = result if result is not None else request.messages
                continue
            await on_disk()
            return Message("assistant", "".join(text), tool_calls=calls, turn_id=turn_id), calls
        raise ProviderError("the conversation does not fit the model's context window even after compaction")

    # ------------------------------------------------------------------ compaction
    async def _compact(self, conv: str, system: str, tools_json: str = "", *,
                       force: bool = False) -> list[Message] | None:
        assert self.provider is not None
        provider = self.provider

        async def summarise(prompt: str) -> str:
            request = ModelRequest(system="You summarise conversations faithfully and briefly.",
                                   messages=[Message("user", prompt)], tools=[], max_output_tokens=1024)
            parts = [e.text async for e in provider.stream(request) if isinstance(e, TextDelta)]
            return "".join(parts)

        overhead = self.session.counter.count(system) + self.session.counter.count(tools_json)
        result = await compact(self.store, conv, summarise, context_window=provider.context_window,
                               counter=self.session.counter, events=self.events, agent_id=self.session.agent.id,
                               force=force, overhead_tokens=overhead)
        return result.context if result is not None else None
