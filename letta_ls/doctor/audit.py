"""Run every check over a memory snapshot (``audit``) or over one file of it (``check_document``).

This is the doctor's entry point for the LSP server (diagnostics, ``letta.doctor``), the CLI
(``letta-ls doctor``) and the memory write path (which refuses an agent's write that adds an error).
It applies ``memory.diagnostics`` (codes switched off or re-graded) and sorts findings, and it reports
token use: every ``.md`` file counted whole, ``system/`` summed against ``memory.systemTokenBudget``.
Counts and per-file facts are cached by blob id, so a re-audit only works on what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from letta_ls.doctor.checks import FILE_CHECKS, SNAPSHOT_CHECKS
from letta_ls.doctor.checks.common import CheckContext, is_markdown
from letta_ls.doctor.findings import Finding, regrade, sort_findings
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import TokenCounter, get_token_counter
from letta_ls.settings import MemorySettings


@dataclass(frozen=True)
class TokenReport:
    """Token use of a memory: ``system/`` total, all ``.md`` files, the budget, and each file (largest first)."""

    system: int
    total: int
    budget: int
    files: list[tuple[str, int]]
    exact: bool = field(default=True, compare=False)  # False when counts are the bytes/4 estimate

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "total": self.total,
            "budget": self.budget,
            "files": [{"path": path, "tokens": tokens} for path, tokens in self.files],
        }


@dataclass(frozen=True)
class AuditResult:
    findings: list[Finding]
    tokens: TokenReport

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def to_json(self) -> dict[str, Any]:
        return {"findings": [f.to_json() for f in self.findings], "tokens": self.tokens.to_json()}


def _context(snapshot: MemorySnapshot, settings: MemorySettings | None, counter: TokenCounter | None) -> CheckContext:
    return CheckContext(snapshot, settings or MemorySettings(), counter or get_token_counter())


def token_report(ctx: CheckContext) -> TokenReport:
    files = [(f.path, ctx.tokens(f)) for f in ctx.snapshot if is_markdown(f.path)]
    files.sort(key=lambda item: (-item[1], item[0]))
    return TokenReport(
        system=ctx.system_total,
        total=sum(tokens for _path, tokens in files),
        budget=ctx.settings.systemTokenBudget,
        files=files,
        exact=ctx.counter.exact,
    )


def measure_tokens(
    snapshot: MemorySnapshot, settings: MemorySettings | None = None, counter: TokenCounter | None = None
) -> TokenReport:
    """The token use ``audit`` reports, without running the checks: what ``letta/status``, the memory tree and
    the CLI show, so that every place counts the prompt's memory the same way."""
    return token_report(_context(snapshot, settings, counter))


def audit(
    snapshot: MemorySnapshot, settings: MemorySettings | None = None, counter: TokenCounter | None = None
) -> AuditResult:
    """Every finding in ``snapshot`` (graded by ``settings.diagnostics``, sorted) and its token use."""
    ctx = _context(snapshot, settings, counter)
    found: list[Finding] = []
    for file in snapshot:
        for check in FILE_CHECKS:
            found.extend(check(ctx, file))
    for snapshot_check in SNAPSHOT_CHECKS:
        found.extend(snapshot_check(ctx))
    return AuditResult(sort_findings(regrade(found, ctx.settings.diagnostics)), token_report(ctx))


def check_document(
    snapshot: MemorySnapshot, path: str, settings: MemorySettings | None = None, counter: TokenCounter | None = None
) -> list[Finding]:
    """The findings on one file, judged against the whole snapshot.

    For an editor buffer, pass ``snapshot.with_text(path, buffer)``. Only the file's own content is
    analysed; what it is compared with (other files' passages, the system total, folders) comes from
    caches keyed by content, so this stays fast on large memories.
    """
    ctx = _context(snapshot, settings, counter)
    found: list[Finding] = []
    file = snapshot.get(path)
    if file is not None:
        for check in FILE_CHECKS:
            found.extend(check(ctx, file))
    for snapshot_check in SNAPSHOT_CHECKS:
        found.extend(f for f in snapshot_check(ctx) if f.path == path)
    return sort_findings(regrade(found, ctx.settings.diagnostics))
