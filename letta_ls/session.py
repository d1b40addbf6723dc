"""One user's working set: a home, the current agent, its memory repository and settings.

The command line and the language server are thin adapters over this façade: both ask it to audit,
list, write, back up or restore memory, and both get core records back (never printed text, never LSP
types). It composes the layers (memfs, doctor) that must not import each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letta_ls.config_problems import SETTINGS_INVALID, ConfigurationProblem
from letta_ls.doctor import AuditResult, FixPlan, audit, plan_fix, safe_fixes
from letta_ls.doctor.findings import Finding
from letta_ls.doctor.guard import memory_change_guard
from letta_ls.home import Agent, Home
from letta_ls.memfs.compile import CompiledMemory, compile_memory
from letta_ls.memfs.operations import Actor, MemoryOperations
from letta_ls.memfs.repo import Author, CommitResult, MemoryRepo, user_author
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import TokenCounter, count_blob, get_token_counter
from letta_ls.settings import Settings, structure_settings


@dataclass(frozen=True)
class TreeEntry:
    path: str
    tier: str
    description: str | None
    tokens: int
    read_only: bool


class Session:
    """The current agent of a home, with its repository opened and recovered."""

    def __init__(self, home: Home | None = None, *, agent: str | None = None,
                 settings: Mapping[str, Any] | None = None, tolerate_bad_settings: bool = False) -> None:
        """``tolerate_bad_settings``: a broken settings.json does not stop the session (the language server
        keeps working on the defaults and says why in ``settings_problem``); the CLI refuses instead."""
        self.home = home or Home()
        self._overrides = dict(settings or {})
        self._tolerant = tolerate_bad_settings
        self.settings_problem: ConfigurationProblem | None = None
        self.settings: Settings = self._read_settings()
        self.agent: Agent = self.home.current_agent(agent or self.settings.agent)
        self.repo: MemoryRepo = self.home.memory_repo(self.agent)

    @property
    def counter(self) -> TokenCounter:
        """The token counter, loaded on first use (the tokenizer's native library takes ~0.5 s to load)."""
        return get_token_counter()

    def switch(self, key: str) -> Agent:
        self.agent = self.home.use_agent(key)
        self.repo = self.home.memory_repo(self.agent)
        return self.agent

    def reload_settings(self, overrides: Mapping[str, Any] | None = None) -> Settings:
        if overrides is not None:
            self._overrides = dict(overrides)
        self.settings = self._read_settings()
        return self.settings

    def _read_settings(self) -> Settings:
        try:
            settings = self.home.settings(self._overrides)
        except ConfigurationProblem as problem:
            if not self._tolerant or problem.problem != SETTINGS_INVALID:
                raise
            self.settings_problem = problem
            return structure_settings(self._overrides)
        self.settings_problem = None
        return settings

    # ------------------------------------------------------------------ memory
    def snapshot(self) -> MemorySnapshot:
        return self.repo.snapshot()

    def operations(self, actor: Actor = "agent", author: Author | None = None) -> MemoryOperations:
        who = author or (self.agent.author if actor == "agent" else user_author(self.repo.path))
        return MemoryOperations(self.repo, who, actor=actor, guard=memory_change_guard(self.settings.memory))

    def compiled_memory(self) -> CompiledMemory:
        return compile_memory(self.snapshot())

    def audit(self, snapshot: MemorySnapshot | None = None) -> AuditResult:
        return audit(snapshot or self.snapshot(), self.settings.memory, self.counter)

    def tree(self) -> list[TreeEntry]:
        snap = self.snapshot()
        entries = []
        for found in snap:
            doc = found.document
            tokens = count_blob(self.counter, found.blob, found.text) if found.text is not None else 0
            entries.append(TreeEntry(found.path, snap.tier(found.path), doc.description if doc else None, tokens,
                                     bool(doc and doc.read_only)))
        return entries

    def apply_fixes(self, findings: list[Finding] | None = None) -> list[tuple[Finding, CommitResult]]:
        """Apply every safe fix, each as its own commit; re-plans against the latest HEAD each time."""
        return apply_safe_fixes(self.repo, self.settings, user_author(self.repo.path), findings)

    def backup(self, label: str = "manual") -> str:
        return self.repo.backup(self.agent.backups_dir, label)

    def restore(self, ref: str) -> CommitResult:
        return self.repo.restore(resolve_backup_ref(self.repo, ref), user_author(self.repo.path))


def resolve_backup_ref(repo: MemoryRepo, ref: str) -> str:
    """Accept a full backup ref, a backup's short name, or any commit-ish."""
    for full, _commit in repo.backups():
        if ref in (full, full.rsplit("/", 1)[-1]):
            return full
    return ref


def apply_safe_fixes(repo: MemoryRepo, settings: Settings, author: Author,
                     findings: list[Finding] | None = None) -> list[tuple[Finding, CommitResult]]:
    applied: list[tuple[Finding, CommitResult]] = []
    snap = repo.snapshot()
    pending = findings if findings is not None else safe_fixes(audit(snap, settings.memory))
    for finding in pending:
        snap = repo.snapshot()
        plan: FixPlan | None = plan_fix(snap, finding)
        if plan is None:
            continue
        data = {p: (t.encode("utf-8") if t is not None else None) for p, t in plan.changes.items()}
        result = repo.commit(data, plan.message, author)
        if result.commit is not None:
            applied.append((finding, result))
    return applied


def audit_directory(directory: Path, settings: Settings) -> tuple[MemorySnapshot, AuditResult]:
    """Audit any memory directory as it is on disk (a Letta Code one included: no agent.json needed)."""
    snap = MemorySnapshot.from_directory(directory)
    return snap, audit(snap, settings.memory)
