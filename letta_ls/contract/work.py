"""Long memory work (SPEC section 7): ``letta.init``, ``letta.dream``, ``letta.defrag``, ``letta.sleeptime`` and
``letta.sync``; each reports ``$/progress`` while it runs."""

from __future__ import annotations

from typing import Literal

import attrs

from letta_ls.contract.wire import OMITTED_WHEN_NONE

Depth = Literal["standard", "deep"]
Trigger = Literal["off", "step-count", "compaction-event"]


@attrs.define
class InitParams:
    depth: Depth | None = None
    history: bool | None = None


@attrs.define
class ReportResult:
    """What ``letta.init`` and ``letta.dream`` return: the report (markdown) and the commits made."""

    report: str
    commits: list[str]
    # a dream held for review (sleeptime.merge "review"): its run, for letta/dreamChanges
    pending_review: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)


@attrs.define
class DreamParams:
    pass


@attrs.define
class DefragParams:
    pass


@attrs.define
class DefragResult:
    report: str
    backup: str | None
    commits: list[str]


@attrs.define
class SleeptimeParams:
    trigger: Trigger | None = None
    step_count: int | None = None
    idle_seconds: float | None = None
    merge: str | None = None


@attrs.define
class SleeptimeResult:
    """The ``sleeptime`` settings in force after the change."""

    trigger: str
    step_count: int
    idle_seconds: float
    merge: str


@attrs.define
class SyncParams:
    pass


@attrs.define
class SyncResult:
    pushed: int
    pulled: int
    conflicts: list[str]
    head: str | None
    changed: list[str]
    backup: str | None
    unpushed: int
    remote: str | None
    report: str
