"""The memory subagent runs of the current agent, as ``letta/status`` shows them (``runs``).

Dreams and defrag run on the agent's ``MemorySubagents`` runner and /init on its own; both runners take the
same cross-process lock, so one run per agent goes at a time. This board hears each runner through a
``RunnerObserver`` of its own and keeps, per runner, what runs and what waits, with the run's latest
progress message: an editor's status bar can say "init 40%: history workers 2/3 done" whatever the kind.
Each change fires ``Event.RUNS_CHANGED``, and the status module sends a fresh ``letta/status``.
"""

from __future__ import annotations

import itertools
from typing import Any

from letta_ls.server.app import LettaServer
from letta_ls.server.features import Event, Feature
from letta_ls.subagents.runner import RunInfo, RunnerObserver, RunnerStatus, RunResult

_ids = itertools.count(1)


class _RunnerSeat(RunnerObserver):
    """What one runner of one agent is doing now."""

    def __init__(self, board: RunBoard, agent_id: str) -> None:
        self.board = board
        self.agent_id = agent_id
        self.key = next(_ids)
        self.running: dict[str, Any] | None = None
        self.queued: dict[str, Any] | None = None

    def state_changed(self, status: RunnerStatus) -> None:
        self.running = self._entry(status.running, "running", self.running)
        self.queued = self._entry(status.queued, "queued", None)
        self.board.changed()

    def progress(self, run: RunInfo, message: str, percentage: int | None) -> None:
        entry = self._entry(run, "running", self.running)
        if entry is not None:
            entry.update(message=message, percentage=percentage)
        self.running = entry
        self.board.changed()

    def finished(self, result: RunResult) -> None:
        if self.running is not None and self.running["runId"] == result.run_id:
            self.running = None
            self.board.changed()

    @staticmethod
    def _entry(info: RunInfo | None, state: str, previous: dict[str, Any] | None) -> dict[str, Any] | None:
        if info is None:
            return None
        if previous is not None and previous["runId"] == info.run_id:
            return {**previous, "state": state}
        return {"kind": info.kind, "runId": info.run_id, "state": state, "message": None, "percentage": None}


class RunBoard(Feature):
    """Every runner's seat in this server; ``runs(agent_id)`` is what ``letta/status`` carries."""

    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls
        self._seats: list[_RunnerSeat] = []

    def observer(self, agent_id: str) -> RunnerObserver:
        """A new seat: pass it to one runner of ``agent_id``."""
        seat = _RunnerSeat(self, agent_id)
        self._seats.append(seat)
        return seat

    def runs(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's runs, running ones first, each a copy."""
        found = [dict(entry) for seat in self._seats if seat.agent_id == agent_id
                 for entry in (seat.running, seat.queued) if entry is not None]
        return sorted(found, key=lambda entry: entry["state"] != "running")

    def forget(self, observer: RunnerObserver) -> None:
        """The runner behind ``observer`` is closed: its seat goes."""
        if observer in self._seats:
            self._seats.remove(observer)  # type: ignore[arg-type]
            self.changed()

    def changed(self) -> None:
        self.ls.fire(Event.RUNS_CHANGED)


def register(server: LettaServer) -> None:
    server.add_feature(RunBoard(server))
