"""Dreams reviewed in the editor (``sleeptime.merge: "review"``): ``letta/dreamChanges``, ``letta.dreamAccept``,
``letta.dreamReject`` and the ``letta/dreamReview`` notification; beyond SPEC (issue 16)."""

from __future__ import annotations

from typing import Any, Literal

import attrs

ChangeKind = Literal["added", "modified", "deleted", "renamed"]


@attrs.define
class DreamChangesParams:
    run_id: str


@attrs.define
class DreamChange:
    path: str
    kind: ChangeKind
    old_path: str | None
    before_uri: str | None
    after_uri: str | None
    reason: str


@attrs.define
class DreamChangesResult:
    run_id: str
    changes: list[DreamChange]


@attrs.define
class DreamDecisionParams:
    """Accept or reject ``paths`` of a run's changes (all of them when ``paths`` is absent)."""

    run_id: str
    paths: list[str] | None = None


@attrs.define
class DreamAcceptResult:
    run_id: str
    accepted: list[str]
    head: str | None


@attrs.define
class DreamRejectResult:
    run_id: str
    rejected: list[str]


@attrs.define
class DreamReview:
    """A dream finished and its changes wait for the user."""

    run_id: str
    changes: int
    message: str


ReviewSummary = dict[str, Any]  # {runId, changes} in letta/status's ``reviews``
