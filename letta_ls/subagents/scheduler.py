"""When dreams run: triggers make a dream due, and a due dream starts once the editor has been idle.

API::

    scheduler = DreamScheduler(dreamer, on_state=lambda state: ..., on_result=lambda outcome: ...)
    await scheduler.start()            # reads the persisted state; a dream due before a restart is due again
    scheduler.note_activity()          # any request or notification from the editor
    scheduler.note_step(conversation)  # one assistant message of the agent (AgentRuntime.step_listeners)
    scheduler.note_compaction(event)   # a compaction of one of its conversations (AgentRuntime.events)
    scheduler.settings_changed()       # ``sleeptime`` settings changed: picked up at once
    result = await scheduler.dream_now()   # ``letta.dream``: run one now, whatever the trigger
    scheduler.state                    # "idle" | "due" | "running" (``letta/status``'s ``dream``); a dream is
                                       # "running" until its cursors have moved, so "idle" means all done
    await scheduler.stop()

Triggers (settings ``sleeptime.trigger``): ``off``; ``step-count``: every ``stepCount`` assistant messages
since the last successful dream; ``compaction-event``: a compaction of any of the agent's conversations. A
trigger makes a dream *due*; it starts only when nothing came from the editor for ``idleSeconds`` (so never
while edits keep arriving) and the agent's runner is free. One dream at a time: a trigger while one runs
makes the next one due. The step count and the due trigger are persisted (``SleeptimeStore``), shared with
other processes using the agent, and survive restarts.

Per step the cost on the event loop is an increment; the count is written by a background thread, and
steps arriving meanwhile are written together by the next write.

Failures: with no model configured (or a key missing, or a provider setting that cannot work), the
scheduler stops triggering until the settings change, instead of retrying; a dream that failed is retried
on a later trigger, no sooner than a backoff (1 minute, doubling, at most an hour). Core code: no LSP;
callbacks run on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from letta_ls.agent.providers.base import ProviderError
from letta_ls.settings import SleeptimeSettings
from letta_ls.subagents.dream import Dreamer, DreamResult
from letta_ls.subagents.runner import RunnerBusyError, RunnerObserver, RunnerStatus

log = logging.getLogger(__name__)

DreamState = Literal["idle", "due", "running"]
BACKOFF_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 3600.0
STOP_TIMEOUT_SECONDS = 10.0


class DreamScheduler(RunnerObserver):
    """Triggers and the idle gate for one agent's dreams (see the module docstring)."""

    def __init__(self, dreamer: Dreamer, *, settings: Callable[[], SleeptimeSettings] | None = None,
                 on_state: Callable[[DreamState], None] | None = None,
                 on_result: Callable[[DreamResult | BaseException], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dreamer = dreamer
        self.runner = dreamer.runner
        self._settings = settings or (lambda: dreamer.session.settings.sleeptime)
        self.on_state = on_state
        self.on_result = on_result
        self.clock = clock
        self.runner.observers.append(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._due: str | None = None
        self._launching = False
        self._in_dream = 0  # dreams this scheduler started and has not finished concluding
        self._running_dream = False
        self._concluding = False  # the run is over; its cursors and counts are being written
        self._dreams: set[asyncio.Task[Any]] = set()
        self._steps = 0
        self._unflushed = 0
        self._flushing: asyncio.Task[None] | None = None
        self._last_activity = clock()
        self._blocked: str | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._announced: DreamState = "idle"
        self._stopped = False

    # ------------------------------------------------------------------ state
    @property
    def settings(self) -> SleeptimeSettings:
        return self._settings()

    @property
    def state(self) -> DreamState:
        status = self.runner.status
        if (status.running is not None and status.running.kind == "dream") or self._concluding:
            return "running"  # until the cursors have moved: "idle" means the dream is entirely done
        if self._due or self._launching or (status.queued is not None and status.queued.kind == "dream"):
            return "due"
        return "idle"

    @property
    def steps(self) -> int:
        """Assistant messages since the last successful dream (as far as this process knows)."""
        return self._steps + self._unflushed

    @property
    def blocked(self) -> str | None:
        """Why dreams are not triggered (no model), until the settings change."""
        return self._blocked

    def _announce(self) -> None:
        state = self.state
        if state != self._announced:
            self._announced = state
            if self.on_state is not None:
                try:
                    self.on_state(state)
                except Exception:
                    log.exception("a dream state listener failed")

    def state_changed(self, status: RunnerStatus) -> None:  # RunnerObserver
        running_dream = status.running is not None and status.running.kind == "dream"
        if self._running_dream and not running_dream and self._in_dream:
            self._concluding = True
        self._running_dream = running_dream
        if self._launching and any(run is not None and run.kind == "dream" for run in (status.running, status.queued)):
            self._launching = False  # the runner holds the dream now
        self._announce()
        if status.state == "idle":
            self._wake.set()  # a due dream may have waited for the runner

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = False
        self._last_activity = self.clock()
        state = await asyncio.to_thread(self.dreamer.state.read)
        self._steps = state.steps
        settings = self.settings
        if state.due and settings.trigger == state.due:
            self._due = state.due
        self._check_steps()
        if self._unflushed:
            self._spawn_flush()
        self._task = asyncio.create_task(self._run(), name=f"letta-dreams-{self.dreamer.session.agent.id}")
        self._announce()

    async def stop(self) -> None:
        """Stop triggering; cancel a dream this scheduler started (its commits are still merged); write the
        step count."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._dreams):
            task.cancel()
        pending = [t for t in (*self._dreams, self._flushing) if t is not None]
        if pending:
            await asyncio.wait(pending, timeout=STOP_TIMEOUT_SECONDS)

    # ------------------------------------------------------------------ inputs
    def note_activity(self) -> None:
        self._last_activity = self.clock()

    def note_step(self, conversation_id: str | None = None, _step: int | None = None) -> None:
        """One assistant message (the signature fits ``AgentRuntime.step_listeners``)."""
        if not self._on_loop():
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self.note_step, conversation_id)
            return
        self._unflushed += 1
        if self._loop is not None and self._flushing is None:
            self._spawn_flush()

    def note_compaction(self, _event: Any = None) -> None:
        if not self._on_loop():
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self.note_compaction, _event)
            return
        if self.settings.trigger == "compaction-event":
            self._make_due("compaction-event")

    def settings_changed(self) -> None:
        """Pick up new ``sleeptime`` settings (and maybe a model) at once."""
        if not self._on_loop():
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self.settings_changed)
            return
        self._blocked = None
        self._failures, self._retry_at = 0, 0.0
        trigger = self.settings.trigger
        if self._due and self._due != trigger:
            self._due = None
            self._persist_due(None)
        self._check_steps()
        self._wake.set()
        self._announce()

    async def dream_now(self) -> DreamResult:
        """``letta.dream``: one dream now, waiting for a run in progress; raises ``NoSubagentModel`` without
        a model and ``RunnerBusyError`` when another kind of run is already waiting."""
        return await self._dream("manual", raise_errors=True)

    # ------------------------------------------------------------------ triggers
    def _on_loop(self) -> bool:
        if self._loop is None:
            return True
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _spawn_flush(self) -> None:
        assert self._loop is not None
        self._flushing = self._loop.create_task(self._flush_steps(), name="letta-dream-steps")

    async def _flush_steps(self) -> None:
        try:
            while self._unflushed:
                count, self._unflushed = self._unflushed, 0
                try:
                    state = await asyncio.to_thread(self.dreamer.state.add_steps, count)
                except OSError as exc:
                    log.warning("could not record %d step(s) for dreams: %s", count, exc)
                    self._steps += count
                    continue
                self._steps = state.steps
                self._check_steps()
        finally:
            self._flushing = None

    def _check_steps(self) -> None:
        settings = self.settings
        if settings.trigger == "step-count" and self.steps >= settings.stepCount:
            self._make_due("step-count")

    def _make_due(self, trigger: str) -> None:
        if self._stopped or self._blocked is not None or self._due == trigger:
            return
        self._due = trigger
        self._persist_due(trigger)
        self._wake.set()
        self._announce()

    def _persist_due(self, trigger: str | None) -> None:
        if self._loop is None:
            return

        async def write() -> None:
            try:
                await asyncio.to_thread(self.dreamer.state.set_due, trigger)
            except OSError as exc:
                log.warning("could not record that a dream is due: %s", exc)

        task = self._loop.create_task(write())
        self._dreams.add(task)
        task.add_done_callback(self._dreams.discard)

    # ------------------------------------------------------------------ the idle gate
    def _wait_seconds(self) -> float | None:
        """0: start the due dream now; > 0: check again then; None: wait to be woken."""
        if not self._due or self._launching or self._concluding or self._stopped:
            return None
        if self.runner.status.state != "idle":
            return None  # woken when the runner is free
        now = self.clock()
        wait = max(self._last_activity + float(self.settings.idleSeconds) - now, self._retry_at - now)
        return max(wait, 0.0)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            wait = self._wait_seconds()
            if wait == 0:
                trigger, self._due = self._due, None
                self._launching = True
                task = asyncio.create_task(self._dream(trigger or "step-count", raise_errors=False),
                                           name="letta-dream")
                self._dreams.add(task)
                task.add_done_callback(self._dreams.discard)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _dream(self, trigger: str, *, raise_errors: bool) -> DreamResult:
        self._in_dream += 1
        try:
            return await self._dream_and_conclude(trigger, raise_errors=raise_errors)
        finally:
            self._in_dream -= 1
            if not self._in_dream:
                self._concluding = False
            self._announce()
            self._wake.set()

    async def _dream_and_conclude(self, trigger: str, *, raise_errors: bool) -> DreamResult:
        try:
            result = await self.dreamer.dream(trigger)
        except ProviderError as exc:  # raised only before a run: no model, a key missing, a bad provider setting
            self._blocked = str(exc)
            self._due = None
            self._persist_due(None)
            log.warning("dreams are paused until the settings change: %s", exc)
            self._report(exc)
            if raise_errors:
                raise
            return DreamResult("failed", str(exc), error=str(exc), trigger=trigger)
        except RunnerBusyError as exc:
            if raise_errors:
                raise
            self._due = self._due or trigger  # another kind of run waits; try once the runner is free
            return DreamResult("failed", str(exc), error=str(exc), trigger=trigger)
        except Exception as exc:  # the runner itself failed (git, the disk): retried later, after a backoff
            self._failed()
            if raise_errors:
                raise
            log.exception("a scheduled dream failed")
            self._report(exc)
            return DreamResult("failed", f"{type(exc).__name__}: {exc}", error=str(exc), trigger=trigger)
        finally:
            self._launching = False
            self._announce()
            self._wake.set()
        if result.ok:
            self._failures, self._retry_at = 0, 0.0
            self._steps = (await asyncio.to_thread(self.dreamer.state.read)).steps
            if self._due == "step-count":  # made due by steps this dream has just covered: count again
                self._due = None
            if self._due:  # a compaction while it ran: still due (the dream cleared the stored flag)
                self._persist_due(self._due)
            if result.backlog and self.settings.trigger != "off":
                self._make_due(self.settings.trigger)
        elif result.status == "failed":
            self._failed()
        self._check_steps()
        self._report(result)
        self._announce()
        return result

    def _failed(self) -> None:
        self._failures += 1
        delay = min(BACKOFF_SECONDS * 2 ** (self._failures - 1), MAX_BACKOFF_SECONDS)
        self._retry_at = self.clock() + delay

    def _report(self, outcome: DreamResult | BaseException) -> None:
        if self.on_result is not None:
            try:
                self.on_result(outcome)
            except Exception:
                log.exception("a dream result listener failed")
