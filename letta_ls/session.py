"""One user's working set: a home, the current agent, its memory repository and settings.

The command line and the language server are thin adapters over this façade: both ask it to audit,
list, write, back up or restore memory, and both get core records back (never printed text, never LSP
types). It composes the layers (memfs, doctor) that must not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letta_ls.config_problems import SETTINGS_INVALID, ConfigurationProblem
from letta_ls.doctor import AuditResult, TokenReport, audit, check_document, measure_system_tokens, measure_tokens
from letta_ls.doctor.checks.common import file_tokens
from letta_ls.doctor.findings import Finding
from letta_ls.doctor.guard import memory_change_guard
from letta_ls.home import Agent, Home
from letta_ls.memfs.compile import CompiledMemory, compile_memory
from letta_ls.memfs.operations import Actor, MemoryOperations
from letta_ls.memfs.repo import Author, CommitResult, MemoryRepo, user_author
from letta_ls.memfs.snapshot import MemorySnapshot, is_memory_markdown
from letta_ls.memfs.tokens import TokenCounter, get_token_counter
from letta_ls.memory_fixes import AppliedFix, apply_fix_at, apply_safe_fixes
from letta_ls.settings import Settings, structure_settings

__all__ = ["MemoryTree", "Session", "TreeEntry", "apply_safe_fixes", "audit_directory", "memory_tree",
           "resolve_backup_ref"]


@dataclass(frozen=True)
class TreeEntry:
    path: str
    tier: str
    description: str | None
    tokens: int
    read_only: bool
    version: str = ""  # the git blob id: what an editor's save names as its base


@dataclass(frozen=True)
class MemoryTree:
    """Every file of one commit with its tokens (the doctor's count), and the prompt's total."""

    head: str | None
    entries: list[TreeEntry]
    system_tokens: int


def memory_tree(snapshot: MemorySnapshot, counter: TokenCounter) -> MemoryTree:
    """The tree the CLI prints and ``letta/memoryTree`` answers: one count for both, and the doctor's."""
    entries = []
    for found in snapshot:
        doc = found.document
        counted = found.text is not None or is_memory_markdown(found.path)  # a binary asset weighs nothing
        entries.append(TreeEntry(found.path, snapshot.tier(found.path), doc.description if doc else None,
                                 file_tokens(found, counter) if counted else 0, bool(doc and doc.read_only),
                                 found.blob))
    return MemoryTree(snapshot.head, entries, measure_tokens(snapshot, counter=counter).system)


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

    def audit(self, snapshot: MemorySnapshot | None = None, *, use_a_fork: bool = False) -> AuditResult:
        """``use_a_fork``: a one-shot process (the CLI) may share a large audit with a forked child
        (``letta_ls.doctor.forked``); the server never does."""
        return audit(snapshot or self.snapshot(), self.settings.memory, self.counter, use_a_fork=use_a_fork)

    def check_document(self, snapshot: MemorySnapshot, path: str) -> list[Finding]:
        """The findings on one file of ``snapshot`` (an editor buffer laid over HEAD), with this session's settings."""
        return check_document(snapshot, path, self.settings.memory, self.counter)

    def token_report(self, snapshot: MemorySnapshot | None = None) -> TokenReport:
        """The doctor's token count without its checks (``letta/status`` shows its ``system``)."""
        return measure_tokens(snapshot or self.snapshot(), self.settings.memory, self.counter)

    def system_tokens(self, snapshot: MemorySnapshot | None = None) -> int:
        """``token_report().system`` without counting the files outside the prompt."""
        return measure_system_tokens(snapshot or self.snapshot(), self.settings.memory, self.counter)

    def tree(self) -> list[TreeEntry]:
        return memory_tree(self.snapshot(), self.counter).entries

    def apply_fixes(self, findings: list[Finding] | None = None) -> list[tuple[Finding, CommitResult]]:
        """Apply every safe fix, each as its own commit by the user (who asked for them)."""
        return apply_safe_fixes(self.repo, self.settings, findings=findings, counter=self.counter)

    def apply_fix(self, path: str, code: str, line: int, kind: str | None = None, buffer_text: str | None = None,
                  extra: Callable[[MemorySnapshot, str], list[Finding]] | None = None) -> AppliedFix:
        """The quick fix on one finding (``code`` on 0-based ``line`` of ``path``); ``FixRefused`` says why not.
        ``extra`` adds findings beyond the doctor's (the editor's workspace checks)."""
        return apply_fix_at(self.repo, self.settings, self.counter, path, code, line, kind, buffer_text, extra)

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


def audit_directory(directory: Path, settings: Settings, *, use_a_fork: bool = False
                    ) -> tuple[MemorySnapshot, AuditResult]:
    """Audit any memory directory as it is on disk (a Letta Code one included: no agent.json needed)."""
    snap = MemorySnapshot.from_directory(directory)
    return snap, audit(snap, settings.memory, use_a_fork=use_a_fork)
