"""What dreams remember between runs: steps since the last successful dream, a due trigger, and the cursors.

Kept per agent in ``agents/<id>/conversations/sleeptime.json`` (beside the transcripts it points into), so
it survives restarts and is shared by every process using the agent (two editor windows, the CLI)::

    {"steps": 31,                                  # assistant messages since the last successful dream
     "due": "step-count",                          # a trigger that has not been served yet (or absent)
     "cursors": {"default": {"messageId": "msg-…", "index": 57}},   # reviewed through this message
     "last": {"status": "merged", "finished": "…", "error": null}}

A cursor names the last message a successful dream reviewed in a conversation: its id and its position
among the transcript's message records (transcripts are append-only, so the position is stable and lets
"further along" be decided without reading anything). Cursors only ever move forward, and only when a
dream's work was merged (``advance``); a failed dream leaves them alone.

Every change is a read-modify-write under an ``flock`` on ``.sleeptime.lock`` with an atomic replace of
the file, like ``home.py`` and ``conversations.py``; an unreadable file is treated as empty (the worst
outcome is reviewing some conversation again), never as an error that stops the agent. Core code: no LSP.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letta_ls.agent.messages import now_iso
from letta_ls.file_locks import locked_file
from letta_ls.home import write_json_atomic

log = logging.getLogger(__name__)

STATE_NAME = "sleeptime.json"
LOCK_NAME = ".sleeptime.lock"
TRIGGERS = ("step-count", "compaction-event")


@dataclass(frozen=True)
class Cursor:
    """The last message a successful dream reviewed in one conversation."""

    message_id: str
    index: int  # position among the transcript's message records, 0-based

    def to_json(self) -> dict[str, Any]:
        return {"messageId": self.message_id, "index": self.index}

    @classmethod
    def from_json(cls, data: Any) -> Cursor | None:
        if not isinstance(data, Mapping):
            return None
        message_id, index = data.get("messageId"), data.get("index")
        if not isinstance(message_id, str) or isinstance(index, bool) or not isinstance(index, int) or index < 0:
            return None
        return cls(message_id, index)


@dataclass
class SleeptimeState:
    steps: int = 0
    due: str | None = None
    cursors: dict[str, Cursor] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"steps": self.steps,
                                "cursors": {conv: c.to_json() for conv, c in sorted(self.cursors.items())}}
        if self.due:
            data["due"] = self.due
        if self.last:
            data["last"] = self.last
        return data

    @classmethod
    def from_json(cls, data: Any) -> SleeptimeState:
        if not isinstance(data, Mapping):
            return cls()
        steps = data.get("steps")
        due = data.get("due")
        cursors = {}
        raw = data.get("cursors")
        if isinstance(raw, Mapping):
            for conv, value in raw.items():
                cursor = Cursor.from_json(value)
                if isinstance(conv, str) and cursor is not None:
                    cursors[conv] = cursor
        last = data.get("last")
        return cls(steps=steps if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 else 0,
                   due=due if due in TRIGGERS else None, cursors=cursors,
                   last=dict(last) if isinstance(last, Mapping) else {})


class SleeptimeStore:
    """The sleep-time state of one agent (``directory`` is the agent's ``conversations_dir``)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STATE_NAME

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with locked_file(self.directory / LOCK_NAME):
            yield

    def read(self) -> SleeptimeState:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return SleeptimeState()
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("%s is unreadable (%s); starting from an empty sleep-time state", self.path, exc)
            return SleeptimeState()
        return SleeptimeState.from_json(raw)

    def update(self, change: Callable[[SleeptimeState], None]) -> SleeptimeState:
        """Apply ``change`` to the current state and store it, atomically, as one writer among processes."""
        with self._locked():
            state = self.read()
            change(state)
            write_json_atomic(self.path, state.to_json())
            return state

    # ------------------------------------------------------------------ the changes the scheduler makes
    def add_steps(self, count: int) -> SleeptimeState:
        def change(state: SleeptimeState) -> None:
            state.steps += max(0, count)

        return self.update(change)

    def set_due(self, trigger: str | None) -> SleeptimeState:
        if trigger is not None and trigger not in TRIGGERS:
            raise ValueError(f"a dream is due on {' or '.join(TRIGGERS)}, not {trigger!r}")

        def change(state: SleeptimeState) -> None:
            state.due = trigger

        return self.update(change)

    def record_failure(self, error: str) -> SleeptimeState:
        """A dream failed: nothing advances; the cause is kept for ``letta/status`` and the logs."""

        def change(state: SleeptimeState) -> None:
            state.due = None
            state.last = {"status": "failed", "finished": now_iso(), "error": error}

        return self.update(change)

    def advance(self, cursors: Mapping[str, Cursor], steps_reviewed: int, status: str) -> SleeptimeState:
        """A dream's work was merged (or needed no change): move the cursors forward, never back, and take
        the steps it covered off the count (steps made while it ran still count towards the next one)."""

        def change(state: SleeptimeState) -> None:
            for conv, cursor in cursors.items():
                held = state.cursors.get(conv)
                if held is None or held.index < cursor.index:
                    state.cursors[conv] = cursor
            state.steps = max(0, state.steps - max(0, steps_reviewed))
            state.due = None
            state.last = {"status": status, "finished": now_iso(), "error": None}

        return self.update(change)
