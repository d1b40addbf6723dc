"""Run every check over a memory snapshot (``audit``) or over one file of it (``check_document``).

This is the doctor's entry point for the LSP server (diagnostics, ``letta.doctor``), the CLI
(``letta-ls doctor``) and the memory write path (which refuses an agent's write that adds an error).
It applies ``memory.diagnostics`` (codes switched off or re-graded) and sorts findings, and it reports
token use: every ``.md`` file counted whole, ``system/`` summed against ``memory.systemTokenBudget``.
Counts and per-file facts are cached by blob id, so a re-audit only works on what changed.

An audit is incremental (issue 14): a file's own findings are kept, keyed by its path, its blob and
the few facts about the rest of the memory that per-file checks may read (the settings, the set of
paths, MemFS v2 or not, the file's share of an over-budget ``system/``), so after a commit only the
changed files are re-checked, and a change to the set of paths re-checks, on the other files, only the
checks that read it (structure, frontmatter, links: their findings are kept under a key that holds the set
of paths; those of size, placement and secrets under one that does not).
The duplicate check reads other files' *content*, so it is never cached per file: it asks the passage
index, which is itself kept per ``HEAD`` and updated by blob. A per-file check must not read another
file's content (put such a rule in a snapshot check or behind an index); ``incremental=False`` runs
every check afresh (with a private duplicate index), which the tests compare the incremental audit to.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from letta_ls.doctor.checks import FILE_CHECKS, SNAPSHOT_CHECKS, duplicates, placement, secrets, size
from letta_ls.doctor.checks.common import TOKENS, CheckContext, is_markdown
from letta_ls.doctor.checks.passages import Passages, keep_passages, passages_of
from letta_ls.doctor.findings import Finding, regrade, sort_findings
from letta_ls.doctor.forked import can_fork, split_with_a_fork
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot
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


def measure_system_tokens(
    snapshot: MemorySnapshot, settings: MemorySettings | None = None, counter: TokenCounter | None = None
) -> int:
    """Only the in-context total of ``measure_tokens``: ``letta/status`` sends it after every commit, and on a
    10,000-file memory counting every file (as the full report does) held a worker thread for seconds."""
    return _context(snapshot, settings, counter).system_total
class AuditSuperseded(Exception):
    """An audit given up because a newer one was asked for (its ``should_stop`` said so)."""


# checks of one file whose findings may be kept between audits (see the module docstring), in two groups: those
# that never look at the set of paths (so a commit that adds or removes a file keeps their findings on every other
# file) and those that do (a link's target, a folder beside a file, a MemFS v2 folder index)
_CACHEABLE_CHECKS = tuple(check for check in FILE_CHECKS if check is not duplicates.check_file)
_PATH_FREE_CHECKS = tuple(check for check in _CACHEABLE_CHECKS
                          if check in (size.check_file, placement.check_file, secrets.check_file))
_PATH_CHECKS = tuple(check for check in _CACHEABLE_CHECKS if check not in _PATH_FREE_CHECKS)
# where each cacheable check's findings sit in the two groups, so a file's findings keep the checks' order
_ORDER = tuple((0, _PATH_FREE_CHECKS.index(check)) if check in _PATH_FREE_CHECKS else (1, _PATH_CHECKS.index(check))
               for check in _CACHEABLE_CHECKS)
Kept = tuple[list[Finding], ...]  # one group's findings on one file, check by check
_FILE_FINDINGS: dict[tuple[Any, ...], Kept] = {}
_FILE_FINDINGS_LOCK = threading.Lock()
MAX_KEPT_FINDINGS = 100_000


def _settings_key(ctx: CheckContext) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """What the path-free checks depend on beyond the file, and the same with the set of paths."""
    s = ctx.settings
    free = (s.systemTokenBudget, s.fileTokenLimit, tuple(sorted(s.diagnostics.items())), ctx.counter.encoding,
            ctx.counter.exact, ctx.v2)
    return free, (*free, hash(frozenset(ctx.snapshot.files)))


def _findings_keys(ctx: CheckContext, path: str, blob: str, context_key: tuple[tuple[Any, ...], tuple[Any, ...]]
                   ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    share = ctx.over_budget.get(path)  # the budget finding names the file's share of an over-budget system/
    return (path, blob, context_key[0], share, ctx.system_total if share is not None else None), \
        (path, blob, context_key[1])


def _keep_findings(key: tuple[Any, ...], found: Kept) -> None:
    with _FILE_FINDINGS_LOCK:
        if len(_FILE_FINDINGS) >= MAX_KEPT_FINDINGS:
            _FILE_FINDINGS.clear()
        _FILE_FINDINGS[key] = found


def _kept_groups(ctx: CheckContext, file: Any, context_key: tuple[tuple[Any, ...], tuple[Any, ...]]
                 ) -> tuple[Kept, Kept]:
    groups = []
    for key, checks in zip(_findings_keys(ctx, file.path, file.blob, context_key), (_PATH_FREE_CHECKS, _PATH_CHECKS),
                           strict=True):
        kept = _FILE_FINDINGS.get(key)
        if kept is None:
            kept = tuple(check(ctx, file) for check in checks)
            _keep_findings(key, kept)
        groups.append(kept)
    return groups[0], groups[1]


def _own_findings(ctx: CheckContext, file: Any, context_key: tuple[tuple[Any, ...], tuple[Any, ...]]
                  ) -> list[Finding]:
    groups = _kept_groups(ctx, file, context_key)
    return [f for group, index in _ORDER for f in groups[group][index]]


def _warm_with_a_fork(ctx: CheckContext, context_key: tuple[tuple[Any, ...], tuple[Any, ...]]) -> None:
    """Fill the blob-keyed caches (own findings, passages, token counts) of every file, half of them in a forked
    child on the other CPU (``letta_ls.doctor.forked``); the audit then finds them all computed."""
    counter = ctx.counter

    def work(files: Sequence[MemoryFile]) -> list[tuple[str, str, tuple[Kept, Kept], Passages | None, int | None]]:
        done = []
        for file in files:
            markdown = is_markdown(file.path)
            done.append((file.path, file.blob, _kept_groups(ctx, file, context_key),
                         passages_of(file) if markdown and file.text is not None else None,
                         ctx.tokens(file) if markdown else None))
        return done

    for half in split_with_a_fork(list(ctx.snapshot), work)[1:]:  # this process's own half is in the caches
        for path, blob, groups, passages, tokens in half:
            for key, kept in zip(_findings_keys(ctx, path, blob, context_key), groups, strict=True):
                _keep_findings(key, kept)
            if passages is not None:
                keep_passages(blob, passages)
            if tokens is not None:
                TOKENS.put((counter.encoding, counter.exact, blob), tokens)


def audit(
    snapshot: MemorySnapshot, settings: MemorySettings | None = None, counter: TokenCounter | None = None, *,
    incremental: bool = True, should_stop: Callable[[], bool] | None = None, use_a_fork: bool = False,
) -> AuditResult:
    """Every finding in ``snapshot`` (graded by ``settings.diagnostics``, sorted) and its token use.

    ``should_stop`` is asked between files; when it says True the audit raises ``AuditSuperseded``
    (a newer ``HEAD`` makes this audit's answer useless, so its remaining work is skipped). ``use_a_fork``:
    a one-shot process (the CLI) may share the per-file work of a large memory with a forked child on another
    CPU (``letta_ls.doctor.forked``, which says where that is safe); the findings are the same.
    """
    ctx = _context(snapshot, settings, counter)
    ctx.fresh = not incremental
    found: list[Finding] = []
    context_key = _settings_key(ctx)
    with _no_cycle_collection(len(snapshot) >= LARGE_AUDIT):
        if use_a_fork and incremental and should_stop is None and can_fork(len(snapshot)):
            _warm_with_a_fork(ctx, context_key)
        for number, file in enumerate(snapshot):
            if should_stop is not None and number % 64 == 0 and should_stop():
                raise AuditSuperseded(snapshot.head)
            if incremental:
                found.extend(_own_findings(ctx, file, context_key))
            else:
                for check in _CACHEABLE_CHECKS:
                    found.extend(check(ctx, file))
            found.extend(duplicates.check_file(ctx, file))
        for snapshot_check in SNAPSHOT_CHECKS:
            found.extend(snapshot_check(ctx))
        return AuditResult(sort_findings(regrade(found, ctx.settings.diagnostics)), token_report(ctx))


LARGE_AUDIT = 1000  # files


@contextlib.contextmanager
def _no_cycle_collection(active: bool) -> Iterator[None]:
    """Python's cycle collector paused while a large audit runs.

    A cold audit allocates tens of objects per file (scans, passages, counts kept in the blob caches) and
    frees none until it ends; the collector runs every few hundred allocations and walks the ever larger
    heap each time, finding no cycle (about a tenth of a cold 10,000-file audit, issue 14). Reference
    counting still frees everything; a cycle made meanwhile waits for the next collection. Re-enabled only
    by the audit that disabled it, so an audit running alongside in another thread cannot leave it off.
    """
    if not active or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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


def check_paths(
    snapshot: MemorySnapshot, paths: list[str], settings: MemorySettings | None = None,
    counter: TokenCounter | None = None,
) -> list[Finding]:
    """The per-file findings of ``paths`` (those in ``snapshot``) and the tree-wide ones, judged against the
    whole snapshot: what the write guard needs when only some files changed (graded and sorted)."""
    ctx = _context(snapshot, settings, counter)
    found: list[Finding] = []
    for path in paths:
        file = snapshot.get(path)
        if file is not None:
            for check in FILE_CHECKS:
                found.extend(check(ctx, file))
    for snapshot_check in SNAPSHOT_CHECKS:
        found.extend(snapshot_check(ctx))
    return sort_findings(regrade(found, ctx.settings.diagnostics))
