"""When dreams run: triggered by steps or compactions, started only once the editor is idle, one at a time."""

from __future__ import annotations

import asyncio
import threading
import time

from letta_ls.agent.providers.select import select_provider
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.subagents.service import MemorySubagents
from letta_ls.subagents.sleeptime_state import SleeptimeStore
from tests.fakes import Script, scripted_openai
from tests.subagents.dreams_helpers import REPORT, agent_session, chat, lesson

IDLE = 0.4


class Watch:
    """What the scheduler announced: dream states (with times) and results."""

    def __init__(self) -> None:
        self.states: list[tuple[str, float]] = []
        self.results: list = []
        self.finished = asyncio.Event()

    def state(self, state: str) -> None:
        self.states.append((state, time.monotonic()))

    def result(self, outcome) -> None:
        self.results.append(outcome)
        self.finished.set()

    def sequence(self) -> list[str]:
        return ["idle", *[s for s, _ in self.states]]

    def time_of(self, state: str) -> float:
        return next(t for s, t in self.states if s == state)

    async def next_result(self, timeout: float = 30):
        await asyncio.wait_for(self.finished.wait(), timeout)
        self.finished.clear()
        return self.results[-1]


async def started(session, watch: Watch) -> MemorySubagents:
    service = MemorySubagents(session, on_dream_state=watch.state, on_dream_result=watch.result)
    await service.start()
    return service


def runtime_of(service: MemorySubagents) -> AgentRuntime:
    runtime = AgentRuntime(service.session, select_provider(service.session.settings.model))
    service.attach(runtime)
    return runtime


async def until(condition, timeout: float = 10.0) -> None:
    """Wait for what the scheduler does next (it works on the loop and in threads), not for a fixed time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the scheduler never got there"
        await asyncio.sleep(0.01)


def recorded(scheduler, count: int):
    """``count`` steps are written down and acted on (a due dream would be announced by then)."""
    return lambda: scheduler._flushing is None and not scheduler._unflushed and scheduler.steps == count


def steps(session) -> int:
    return SleeptimeStore(session.agent.conversations_dir).read().steps


# ---------------------------------------------------------------------------------------------- triggers
async def test_steps_make_a_dream_due_and_it_lands_its_lesson_once_idle(model):
    session = agent_session(model.base_url, sleeptime={"trigger": "step-count", "stepCount": 2, "idleSeconds": IDLE})
    watch = Watch()
    service = await started(session, watch)
    try:
        runtime = runtime_of(service)
        model.script.text("Sure, pnpm.").text("Done.")
        service.note_activity()
        await runtime.run_turn("Use pnpm, never npm.")
        assert service.dream_state == "idle" and watch.states == []
        model.script.tool_call("memory", lesson()).text(REPORT)
        service.note_activity()  # the chat request (the server notes every client message)
        asked = time.monotonic()
        await runtime.run_turn("Thanks!")
        result = await watch.next_result()
        assert result.status == "merged" and result.trigger == "step-count"
        assert "- Uses pnpm, never npm." in session.repo.read("system/human.md").text
        assert watch.sequence() == ["idle", "due", "running", "idle"]
        assert watch.time_of("running") - asked >= IDLE * 0.9
        assert steps(session) == 0 and SleeptimeStore(session.agent.conversations_dir).read().due is None
        cursor = SleeptimeStore(session.agent.conversations_dir).read().cursors["default"]
        assert cursor.index == 3  # two turns: user, assistant, user, assistant
    finally:
        await service.close()


async def test_a_compaction_triggers_a_dream_that_lands_its_lesson(model):
    session = agent_session(model.base_url, sleeptime={"trigger": "compaction-event", "idleSeconds": IDLE})
    chat(session, *[f"message {n}: the build uses make" for n in range(6)])
    watch = Watch()
    service = await started(session, watch)
    try:
        runtime = runtime_of(service)
        model.script.context_overflow().text("We talked about the build, which uses make.").text("Here you go.")
        model.script.tool_call("memory", lesson("- The build uses make.")).text(REPORT)
        turn = await runtime.run_turn("one more thing")
        assert turn.reply == "Here you go." and turn.error is None
        result = await watch.next_result()
        assert result.status == "merged" and result.trigger == "compaction-event"
        assert "- The build uses make." in session.repo.read("system/human.md").text
        assert watch.sequence() == ["idle", "due", "running", "idle"]
    finally:
        await service.close()


async def test_no_dream_starts_while_edits_keep_arriving(model):
    session = agent_session(model.base_url, sleeptime={"trigger": "step-count", "stepCount": 1, "idleSeconds": IDLE})
    chat(session, "We ship with make ship.", "OK.")
    watch = Watch()
    service = await started(session, watch)
    try:
        model.script.tool_call("memory", lesson("- Ship with make ship.")).text(REPORT)
        service.scheduler.note_step("default")
        typing_until = time.monotonic() + IDLE * 5
        while time.monotonic() < typing_until:
            service.note_activity()  # a keystroke every quarter of idleSeconds
            last_keystroke = time.monotonic()
            await asyncio.sleep(IDLE / 4)
            assert service.dream_state == "due" and model.model_requests == []
        result = await watch.next_result()
        assert result.status == "merged" and len(model.model_requests) == 2
        assert watch.time_of("running") - last_keystroke >= IDLE * 0.9
    finally:
        await service.close()


async def test_sleeptime_off_stops_triggering_and_a_change_is_picked_up_at_once(model):
    session = agent_session(model.base_url, sleeptime={"trigger": "off", "stepCount": 2, "idleSeconds": 0.1})
    chat(session, "Tabs, not spaces.", "OK.")
    watch = Watch()
    service = await started(session, watch)
    try:
        for _ in range(5):
            service.scheduler.note_step("default")
        service.scheduler.note_compaction()
        await until(recorded(service.scheduler, 5))
        assert service.dream_state == "idle" and watch.states == [] and model.model_requests == []
        assert steps(session) == 5  # steps still count, so switching the trigger on acts on them
        model.script.tool_call("memory", lesson("- Tabs, not spaces.")).text(REPORT)
        service.settings_changed(session.reload_settings({**session._overrides, "sleeptime": {
            "trigger": "step-count", "stepCount": 2, "idleSeconds": 0.1}}))
        result = await watch.next_result()
        assert result.status == "merged"
        service.settings_changed(session.reload_settings({**session._overrides, "sleeptime": {
            "trigger": "off", "idleSeconds": 0.1}}))
        counted = service.scheduler.steps
        for _ in range(5):
            service.scheduler.note_step("default")
        await until(recorded(service.scheduler, counted + 5))
        assert service.dream_state == "idle" and len(watch.results) == 1 and watch.sequence()[-1] == "idle"
    finally:
        await service.close()


async def test_turning_it_off_clears_a_due_dream(model):
    session = agent_session(model.base_url, sleeptime={"trigger": "step-count", "stepCount": 1, "idleSeconds": 60})
    watch = Watch()
    service = await started(session, watch)
    try:
        service.scheduler.note_step("default")
        await until(lambda: service.dream_state == "due")
        await until(lambda: SleeptimeStore(session.agent.conversations_dir).read().due == "step-count")
        service.settings_changed(session.reload_settings({**session._overrides, "sleeptime": {"trigger": "off"}}))
        assert service.dream_state == "idle"
        await until(lambda: SleeptimeStore(session.agent.conversations_dir).read().due is None)
    finally:
        await service.close()


async def test_a_due_dream_and_the_step_count_survive_a_restart(model):
    session = agent_session(model.base_url, sleeptime={"trigger": "step-count", "stepCount": 3, "idleSeconds": 60})
    first = await started(session, Watch())
    for _ in range(3):
        first.scheduler.note_step("default")
    await until(lambda: first.dream_state == "due")
    await first.close()
    assert steps(session) == 3
    again = await started(session, Watch())  # a new process (or the other editor window)
    try:
        assert again.dream_state == "due" and again.scheduler.steps == 3
    finally:
        await again.close()


async def test_without_a_model_the_scheduler_stops_retrying_until_the_settings_change(monkeypatch, model):
    monkeypatch.setitem(__import__("sys").modules, "letta_ls.agent.providers.local", None)
    from letta_ls.session import Session

    session = Session(settings={"sleeptime": {"trigger": "step-count", "stepCount": 1, "idleSeconds": 0.1}})
    chat(session, "Remember the deploy day: Friday.", "OK.")
    watch = Watch()
    service = await started(session, watch)
    try:
        service.scheduler.note_step("default")
        outcome = await watch.next_result()
        assert isinstance(outcome, Exception) and "No model is configured" in str(outcome)
        counted = service.scheduler.steps
        for _ in range(3):
            service.scheduler.note_step("default")
        await until(recorded(service.scheduler, counted + 3))  # and nothing made due: blocked
        assert len(watch.results) == 1 and service.dream_state == "idle" and service.scheduler.blocked
        model.script.tool_call("memory", lesson("- Deploys on Friday.")).text(REPORT)
        service.settings_changed(session.reload_settings({**session._overrides, "model": {
            "provider": "openai", "name": "gpt-dream", "baseUrl": model.base_url}}))
        result = await watch.next_result()
        assert result.status == "merged" and service.scheduler.blocked is None
    finally:
        await service.close()


async def test_a_trigger_while_a_dream_runs_queues_one_more(model):
    session = agent_session(model.base_url, sleeptime={"trigger": "compaction-event", "idleSeconds": 0.1})
    chat(session, "first thing", "ok")
    watch = Watch()
    service = await started(session, watch)
    try:
        gate, queued = asyncio.Event(), threading.Event()
        loop = asyncio.get_running_loop()

        def slow(_request):  # the model answers once the test has queued the second trigger
            loop.call_soon_threadsafe(gate.set)
            assert queued.wait(30), "the test never queued the second trigger"
            from tests.fakes import Reply
            return Reply(text=REPORT)

        model.script.respond(slow)
        service.scheduler.note_compaction()
        await asyncio.wait_for(gate.wait(), 10)
        assert service.dream_state == "running"
        chat(session, "second thing", "ok")
        service.scheduler.note_compaction()  # while it runs
        assert service.dream_state == "running"
        queued.set()
        model.script.text(REPORT)
        first = await watch.next_result()
        second = await watch.next_result()
        assert first.ok and second.ok and "second thing" in model.model_requests[-1].messages[-1]["content"]
        assert watch.sequence() == ["idle", "due", "running", "due", "running", "idle"]
    finally:
        await service.close()


async def test_a_dream_runs_beside_the_chat_without_blocking_it():
    from tests.fakes import Reply

    chat_answered, dream_asked = threading.Event(), threading.Event()

    def route(request) -> Reply:  # the dream's model answers only once the chat has had its answer
        if "dreaming" in request.system:
            dream_asked.set()
            assert chat_answered.wait(30), "the chat never got its answer while the dream was thinking"
            return Reply(text=REPORT)
        return Reply(text="Quick answer.")

    with scripted_openai(Script().respond(route).repeat_last()) as model:
        session = agent_session(model.base_url, sleeptime={"trigger": "compaction-event", "idleSeconds": 0.05})
        chat(session, "Some history.", "OK.")
        watch = Watch()
        service = await started(session, watch)
        try:
            runtime = runtime_of(service)
            service.scheduler.note_compaction()
            await asyncio.wait_for(asyncio.to_thread(dream_asked.wait, 30), 35)
            assert service.dream_state == "running"
            turn = await asyncio.wait_for(runtime.run_turn("Are you there?"), 30)
            assert turn.reply == "Quick answer." and service.dream_state == "running"  # beside the dream
            chat_answered.set()
            assert (await watch.next_result()).ok
        finally:
            chat_answered.set()
            await service.close()
