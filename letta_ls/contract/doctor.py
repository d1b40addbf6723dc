"""The memory doctor over LSP: ``letta.doctor`` (SPEC section 7) and the quick fix ``letta.applyFix``."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from letta_ls.contract.wire import OMITTED_WHEN_NONE

Severity = Literal["error", "warning", "info", "hint"]


@attrs.define
class DoctorParams:
    fix: bool | None = None


@attrs.define
class FindingFix:
    kind: str
    title: str
    data: dict[str, Any] | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)


@attrs.define
class Finding:
    """SPEC section 7's finding; ``line`` is 1-based, as linters print it."""

    path: str
    code: str
    severity: Severity
    line: int
    message: str
    fix: FindingFix | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)


@attrs.define
class FileTokens:
    path: str
    tokens: int


@attrs.define
class TokenTotals:
    system: int
    total: int
    budget: int
    files: list[FileTokens]


@attrs.define
class DoctorResult:
    findings: list[Finding]
    tokens: TokenTotals
    report: str


@attrs.define
class ApplyFixParams:
    uri: str
    code: str
    line: int
    fix: str | None = None


@attrs.define
class ApplyFixResult:
    commit: str | None
    paths: list[str]
    message: str


@attrs.define
class OpenWorkspaceFileParams:
    """``letta.openWorkspaceFile``: a ``memory-stale`` quick fix opens the workspace file a note is about."""

    uri: str


@attrs.define
class OpenWorkspaceFileResult:
    shown: bool
