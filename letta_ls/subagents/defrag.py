"""Defrag: a backup, then a subagent reorganises memory in its worktree, guided by the doctor.

API::

    defragger = Defragger(session, runner)
    result = await defragger.defrag()      # DefragResult
    result.backup    # refs/letta-backup/defrag-…: ``Session.restore(result.backup)`` brings it back
    result.report    # markdown: before/after table (files, system and total tokens, findings), the model's
                     # report, the commits that landed, the merge's notes
    result.commits   # what it added to main

Steps: the model is the agent's own (``models.subagent_provider``; none → ``NoSubagentModel`` before
anything happens); a backup (``Session.backup("defrag")``: a ref plus a git bundle, SPEC's backups); the
doctor audits memory; a run of kind ``defrag`` (the runner: its own worktree and conversation, one run per
agent) gets ``prompts/defrag.md`` and a message listing every file with its tokens and limit and the
doctor's structural findings, and splits, merges and restructures with the memory tools; the runner merges
its commits (same-line conflicts: the model's resolution if valid, else both versions kept); the doctor
audits main again for the "after" column. A failed defrag reports its cause; what it committed is kept
(each commit was a valid, guarded change) and the backup undoes all of it. Core code: no LSP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from letta_ls.agent.runtime import load_prompt
from letta_ls.doctor.audit import AuditResult
from letta_ls.memfs.snapshot import MemorySnapshot, is_memory_markdown
from letta_ls.session import Session
from letta_ls.subagents.context import RunContext
from letta_ls.subagents.models import ProviderFactory, close_provider, subagent_provider
from letta_ls.subagents.reports import commits_section, landed_commits, merge_section, summarise_commits
from letta_ls.subagents.resolve import model_resolver
from letta_ls.subagents.runner import RunRequest, RunResult, SubagentRunner

AuditOf = Callable[[MemorySnapshot], Awaitable[AuditResult]]  # the audit of a snapshot, run where the caller says

log = logging.getLogger(__name__)

DefragStatus = Literal["merged", "no_changes", "failed", "cancelled"]
DEFRAG_STEP_LIMIT = 60
MAX_FINDINGS_SHOWN = 100
# what the defrag acts on; a secret or a broken file is the doctor's business, not a reorganisation's
STRUCTURAL_CODES = ("file-oversized", "system-over-budget", "misplaced-in-system", "misplaced-outside-system",
                    "duplicate-content", "link-broken", "name-clash", "skill-flat-file", "description-missing",
                    "description-multiline")


@dataclass(frozen=True)
class MemoryStats:
    files: int  # memory markdown files
    system_files: int
    system_tokens: int
    total_tokens: int
    findings: int  # the doctor's structural findings

    @classmethod
    def of(cls, snapshot: MemorySnapshot, audit: AuditResult) -> MemoryStats:
        files = [f.path for f in snapshot if is_memory_markdown(f.path)]
        return cls(len(files), sum(1 for p in files if p.startswith("system/")), audit.tokens.system,
                   audit.tokens.total, sum(1 for f in audit.findings if f.code in STRUCTURAL_CODES))


@dataclass(frozen=True)
class DefragResult:
    status: DefragStatus
    report: str
    backup: str
    before: MemoryStats
    after: MemoryStats
    commits: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("merged", "no_changes")

    def to_json(self) -> dict[str, Any]:
        return {"report": self.report, "backup": self.backup, "commits": list(self.commits)}


def defrag_message(snapshot: MemorySnapshot, audit: AuditResult, file_limit: int) -> str:
    """The defrag's user message: the limits, every file with its tokens, and the doctor's findings."""
    tokens = dict(audit.tokens.files)
    lines = [f"Defragment your memory now. The system/ budget is {audit.tokens.budget:,} tokens (system/ holds "
             f"{audit.tokens.system:,} now); a file's limit is its `limit`, else {file_limit:,} tokens.", "",
             "Files (path: tokens, limit, description):"]
    for found in snapshot:
        if not is_memory_markdown(found.path):
            continue
        doc = found.document
        limit = doc.limit if doc is not None and doc.limit else file_limit
        flags = " [read_only]" if doc is not None and doc.read_only else ""
        description = (doc.description if doc is not None else None) or "(no description)"
        lines.append(f"- {found.path}: {tokens.get(found.path, 0):,} tokens, limit {limit:,}{flags}: {description}")
    structural = [f for f in audit.findings if f.code in STRUCTURAL_CODES]
    lines += ["", "The memory doctor found:" if structural else "The memory doctor found nothing structural."]
    for finding in structural[:MAX_FINDINGS_SHOWN]:
        lines.append(f"- {finding.path} line {finding.line + 1}: {finding.code}: {finding.message}")
    if len(structural) > MAX_FINDINGS_SHOWN:
        lines.append(f"- … and {len(structural) - MAX_FINDINGS_SHOWN} more")
    lines += ["", "Reorganise memory with the memory tool, then reply with your report."]
    return "\n".join(lines)


def stats_table(before: MemoryStats, after: MemoryStats, budget: int) -> str:
    rows = [("memory files", before.files, after.files), ("system/ files", before.system_files, after.system_files),
            ("system/ tokens", before.system_tokens, after.system_tokens),
            ("total tokens", before.total_tokens, after.total_tokens),
            ("doctor findings (structure)", before.findings, after.findings)]
    lines = ["| | before | after |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {old:,} | {new:,} |" for name, old, new in rows]
    lines.append(f"\nThe system/ budget is {budget:,} tokens.")
    return "\n".join(lines)


class Defragger:
    """Defrags of one agent (``session``'s, which must not switch agents while it is used)."""

    def __init__(self, session: Session, runner: SubagentRunner, *, provider_factory: ProviderFactory | None = None,
                 step_limit: int = DEFRAG_STEP_LIMIT, audit_of: AuditOf | None = None) -> None:
        self.session = session
        self.runner = runner
        self.provider_factory = provider_factory
        self.step_limit = step_limit
        # how the before/after audits run: by default in a thread; the language server sends a large memory's
        # to its audit worker process, so that requests answered meanwhile never wait behind the audit (issue 14)
        self.audit_of = audit_of

    async def _measure(self) -> tuple[MemoryStats, MemorySnapshot, AuditResult]:
        snapshot = await asyncio.to_thread(self.session.repo.snapshot)
        if self.audit_of is not None:
            audit = await self.audit_of(snapshot)
        else:
            audit = await asyncio.to_thread(self.session.audit, snapshot)
        return MemoryStats.of(snapshot, audit), snapshot, audit

    async def defrag(self) -> DefragResult:
        """Back up, reorganise, merge, report; raises ``NoSubagentModel`` without a model (nothing is done)
        and ``RunnerBusyError`` when another kind of run is already waiting."""
        settings = self.session.settings
        provider = subagent_provider(settings.model, "a defrag", self.provider_factory)
        started = datetime.now(UTC)
        try:
            backup = await asyncio.to_thread(self.session.backup, "defrag")
            before, snapshot, audit = await self._measure()
            message = defrag_message(snapshot, audit, settings.memory.fileTokenLimit)
            error: dict[str, str] = {}

            async def work(ctx: RunContext) -> str:
                ctx.progress(f"reorganising {before.files} files ({before.total_tokens:,} tokens)", 10)
                runtime = ctx.runtime(provider, base_prompt=load_prompt("defrag.md"), step_limit=self.step_limit)
                runtime.step_listeners.append(
                    lambda _conv, step: ctx.progress(f"defragmenting (step {step})", min(90, 10 + 4 * step)))
                turn = await runtime.run_turn(message)
                if turn.error:
                    error["cause"] = turn.error
                    raise RuntimeError(turn.error)
                return turn.reply.strip() or "(the model wrote no report)"

            resolver = model_resolver(provider, ours="main", theirs="defrag",
                                      max_output_tokens=max(settings.model.maxOutputTokens, 4096))
            result = await self.runner.run(RunRequest("defrag", work, resolver=resolver))
        finally:
            await close_provider(provider)
        after, _snapshot, _audit = await self._measure()
        return await asyncio.to_thread(self._conclude, result, backup, before, after, error.get("cause"), started)

    def _conclude(self, result: RunResult, backup: str, before: MemoryStats, after: MemoryStats, cause: str | None,
                  started: datetime) -> DefragResult:
        outcome = result.outcome
        landed = tuple(landed_commits(result.commits, outcome))
        summaries = summarise_commits(self.session.repo, result.commits) if result.commits else []
        budget = self.session.settings.memory.systemTokenBudget
        title = f"# Defrag {started.astimezone().strftime('%Y-%m-%d %H:%M')}"
        restore = f"Backup: `{backup}` (`letta.memory.restore` with it brings the old layout back, as a new commit)."
        parts = [title, "", restore, "", stats_table(before, after, budget), ""]
        if result.cancelled or not result.ok:
            why = cause or result.error or "the defrag was cancelled"
            status: DefragStatus = "cancelled" if result.cancelled else "failed"
            parts += [f"The defrag {'was cancelled' if result.cancelled else 'failed'}: {why}", ""]
            if result.commits:
                parts += ["What it had already changed was kept (the backup undoes it):", "",
                          commits_section(summaries)]
            return DefragResult(status, "\n".join(parts).rstrip() + "\n", backup, before, after, landed, why)
        parts += [(result.report or "").strip() or "(no report)", "", commits_section(summaries)]
        if outcome is not None:
            parts += ["", merge_section(outcome)]
        status = "merged" if result.status == "merged" else "no_changes"
        return DefragResult(status, "\n".join(parts).rstrip() + "\n", backup, before, after, landed)
