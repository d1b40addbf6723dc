"""The doctor's fixes turned into commits: the one place a fix leaves the planner and lands in git.

Three entry points apply fixes (the editor's quick fix on one diagnostic, ``letta.doctor {fix: true}`` and
``letta-ls doctor --fix``); each used to plan and commit on its own and they disagreed on who the author
was. They all come here now. A fix is something the *user* asked for, so its commit is the user's
(``user_author``), never the agent's: ``git log`` then tells a fix the user chose from a change the agent
made on its own. Each fix is planned against the latest commit and committed with ``expect`` set to the
blobs it was planned from, so a change landing in between makes that fix stop cleanly instead of
overwriting it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from letta_ls.doctor import FixPlan, audit, check_document, plan_fix, safe_fixes
from letta_ls.doctor.findings import Finding
from letta_ls.memfs.repo import Author, CommitResult, MemoryRepo, user_author
from letta_ls.memfs.repo_errors import StaleVersionError
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import TokenCounter
from letta_ls.settings import Settings
from letta_ls.staleness.check import other_fixes

MOVING_KINDS = frozenset({"move", "skill-to-folder", "split"})
"""Fixes that put content in a new file: the editor brings that file up afterwards."""


class FixRefused(Exception):
    """A fix that cannot be applied as asked; nothing was committed and the message says what to do.
    ``kind`` says why, in the words the editors switch on (``not-found``, ``stale``, ``conflict``)."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class AppliedFix:
    """One fix committed: the finding it fixed, the commit, and the new file a move or split created."""

    finding: Finding
    message: str
    result: CommitResult
    shown: str | None


def fix_author(repo: MemoryRepo) -> Author:
    """Who a doctor fix is by: the user, who asked for it (decided here once for every entry point)."""
    return user_author(repo.path)


def commit_plan(repo: MemoryRepo, snapshot: MemorySnapshot, finding: Finding, plan: FixPlan,
                author: Author | None = None) -> AppliedFix:
    """Commit ``plan`` (made from ``snapshot``) as exactly one change, refused if a planned file has moved on."""
    changes = {p: (t.encode("utf-8") if t is not None else None) for p, t in plan.changes.items()}
    expect = {p: (f.blob if (f := snapshot.get(p)) is not None else None) for p in changes}
    result = repo.commit(changes, plan.message, author or fix_author(repo), expect=expect)
    shown = None
    if finding.fix is not None and finding.fix.kind in MOVING_KINDS:
        shown = next((p for p, t in plan.changes.items() if t is not None and p not in snapshot.files), None)
    return AppliedFix(finding, plan.message, result, shown)


def apply_safe_fixes(repo: MemoryRepo, settings: Settings, author: Author | None = None,
                     findings: list[Finding] | None = None,
                     counter: TokenCounter | None = None) -> list[tuple[Finding, CommitResult]]:
    """Apply every safe fix (or ``findings``), each as its own commit, re-planned against the latest HEAD.

    ``author`` exists for tests that need a fixed identity; every entry point leaves it to ``fix_author``."""
    applied: list[tuple[Finding, CommitResult]] = []
    pending = findings if findings is not None else safe_fixes(audit(repo.snapshot(), settings.memory, counter))
    for finding in pending:
        snapshot = repo.snapshot()
        plan = plan_fix(snapshot, finding)
        if plan is None:
            continue  # an earlier fix already did it, or it no longer applies safely
        try:
            done = commit_plan(repo, snapshot, finding, plan, author)
        except StaleVersionError:
            continue  # someone else changed the file meanwhile: the next doctor run sees it afresh
        if done.result.commit is not None:
            applied.append((finding, done.result))
    return applied


def apply_fix_at(repo: MemoryRepo, settings: Settings, counter: TokenCounter, path: str, code: str, line: int,
                 kind: str | None = None, buffer_text: str | None = None,
                 extra: Callable[[MemorySnapshot, str], list[Finding]] | None = None) -> AppliedFix:
    """The quick fix on one diagnostic: re-audit the *committed* file, find the ``code`` finding on ``line``
    (0-based) and commit its fix. ``buffer_text`` is the editor's unsaved buffer, if any: a fix applies to the
    saved file, so unsaved edits refuse it rather than being silently dropped."""
    snapshot = repo.snapshot()
    committed = snapshot.get(path)
    if committed is None:
        raise FixRefused(f"{path} is not saved in memory yet: save the file first, then apply the fix", "not-found")
    if buffer_text is not None and buffer_text != committed.text:
        raise FixRefused(f"{path} has unsaved changes: save the file first, then apply the fix "
                         "(fixes apply to the saved file, and would otherwise drop your edits)", "stale")
    findings = check_document(snapshot, path, settings.memory, counter)
    if extra is not None:  # checks beyond the doctor's (memory-stale, against the editor's workspace)
        findings += extra(snapshot, path)
    offered = [f for f in findings if f.fix is not None] + [
        replace(f, fix=other) for f in findings for other in other_fixes(f)]
    chosen = [f for f in offered if f.code == code and f.line == line and (kind is None or f.fix.kind == kind)]
    if not chosen:
        raise FixRefused(f"there is no `{code}` problem with a fix on line {line + 1} of {path} any more "
                         "(it may already be fixed); refresh the diagnostics and try again", "stale")
    plan = plan_fix(snapshot, chosen[0])
    if plan is None:
        raise FixRefused(f"the fix for `{code}` on line {line + 1} of {path} no longer applies safely "
                         "(its target may exist already); fix it by hand", "conflict")
    return commit_plan(repo, snapshot, chosen[0], plan)
