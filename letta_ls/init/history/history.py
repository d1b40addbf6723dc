"""Find this project's earlier Claude Code and Codex sessions, count them, and read them.

``detect_history`` only peeks at the first lines of each transcript (enough for /init to ask "I found
12 Claude Code sessions: read them?"); ``read_history`` reads the matching ones, most recent first, up
to ``ReadLimits.max_sessions`` per source. A session belongs to the project when the working directory
its records carry is one of the project's folders or inside one (after resolving symlinks on both
sides) or any later working directory it recorded is (a session started in ``~`` that then worked
here), when it is one of the project's ``previous_paths`` (a project that moved), or, for Codex, which
records the repository URL, when that URL is one of the project's remotes.

Nothing here raises on what it finds on disk: a missing ``~/.claude``, a folder it may not list, a file
it may not open, binary junk, a truncated line each become a ``ReadNote``. The home folder and the
environment are parameters, so tests (and a server with a different ``HOME``) never touch the real ``~``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import letta_ls.init.history.claude_code as claude_code
import letta_ls.init.history.codex as codex
from letta_ls.init.history.jsonl import recorded_folders
from letta_ls.init.history.model import (
    DetectedHistory,
    ReadLimits,
    ReadNote,
    Session,
    SessionHistory,
    Source,
)
from letta_ls.subagents.errors import DATA_ERRORS


def normalize_remote(url: str) -> str:
    """``git@github.com:Ada/shop.git`` and ``https://user:pw@github.com/ada/shop`` both give
    ``github.com/ada/shop``: host and path, lowercased, without credentials, scheme or ``.git``."""
    text = url.strip()
    scp = re.match(r"^[\w.-]+@([\w.-]+):(?!//)(.+)$", text)
    if scp:
        host, path = scp.groups()
    else:
        text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text, flags=re.I)
        text = text.split("@", 1)[1] if "@" in text.split("/", 1)[0] else text
        host, _, path = text.partition("/")
        host = host.split(":", 1)[0]
    path = path.strip("/").removesuffix(".git")
    return f"{host.lower()}/{path.lower()}"


def _variants(path: str) -> set[str]:
    """A path as given and with symlinks resolved, both normalised (no trailing slash)."""
    if not path or not path.strip():
        return set()
    given = os.path.normpath(os.path.expanduser(path.strip()))
    out = {given}
    with contextlib.suppress(OSError, ValueError):
        out.add(os.path.realpath(given))
    return {p for p in out if p and p != "."}


@dataclass(frozen=True)
class ProjectMatcher:
    """Decides whether a recorded working directory (or Codex repository URL) is this project."""

    roots: tuple[str, ...]
    remotes: frozenset[str] = frozenset()

    @classmethod
    def for_folders(
        cls, folders: Iterable[str | Path], *, previous_paths: Iterable[str | Path] = (),
        remotes: Iterable[str] = (),
    ) -> ProjectMatcher:
        roots: set[str] = set()
        for folder in [*folders, *previous_paths]:
            roots |= _variants(str(folder))
        return cls(tuple(sorted(roots)), frozenset(normalize_remote(u) for u in remotes if u and u.strip()))

    def path_matches(self, cwd: str | None) -> bool:
        if not cwd:
            return False
        for candidate in _variants(cwd):
            for root in self.roots:
                if candidate == root or candidate.startswith(root.rstrip("/") + "/"):
                    return True
        return False

    def remote_matches(self, url: str | None) -> bool:
        return bool(url and self.remotes and normalize_remote(url) in self.remotes)

    def claude_dirs(self) -> tuple[str, ...]:
        return tuple(claude_code.encode_project_dir(root) for root in self.roots)


@dataclass(frozen=True)
class HistorySources:
    """Where each agent keeps its sessions: ``~/.claude`` (or ``CLAUDE_CONFIG_DIR``) and ``~/.codex``
    (or ``CODEX_HOME``)."""

    claude_dir: Path
    codex_dir: Path

    @classmethod
    def from_home(cls, home: Path | str | None = None, env: Mapping[str, str] | None = None) -> HistorySources:
        env = os.environ if env is None else env
        base = Path(home) if home is not None else Path(env.get("HOME") or Path.home())
        return cls(claude_code.claude_root(base, env), codex.codex_root(base, env))


@dataclass(frozen=True)
class _Candidate:
    source: Source
    path: Path
    modified: float
    parent_id: str | None = None
    subagent: bool = False
    started_at: datetime | None = None
    readable: bool = True  # False for a file with a transcript's name and nothing readable in it


@dataclass
class _Found:
    candidates: list[_Candidate] = field(default_factory=list)
    notes: list[ReadNote] = field(default_factory=list)


def detect_history(
    matcher: ProjectMatcher, sources: HistorySources, *, limits: ReadLimits | None = None,
    since: datetime | None = None, include: Sequence[Source] = ("claude-code", "codex"),
) -> DetectedHistory:
    """How many earlier sessions of this project each agent has, from their first lines only."""
    found = _find(matcher, sources, limits or ReadLimits(), since, include)
    main = [c for c in found.candidates if not c.subagent and c.readable]
    counts = {source: sum(1 for c in main if c.source == source) for source in include}
    times = [c.started_at for c in main if c.started_at is not None]
    return DetectedHistory(counts, min(times, default=None), max(times, default=None), tuple(found.notes))


def read_history(
    matcher: ProjectMatcher, sources: HistorySources, *, limits: ReadLimits | None = None,
    since: datetime | None = None, include: Sequence[Source] = ("claude-code", "codex"),
) -> SessionHistory:
    """This project's earlier sessions (oldest first), each cleaned and bounded, and notes on what failed."""
    limits = limits or ReadLimits()
    found = _find(matcher, sources, limits, since, include)
    history = SessionHistory(notes=list(found.notes))
    for source in include:
        mine = sorted((c for c in found.candidates if c.source == source), key=_recency, reverse=True)
        main = [c for c in mine if not c.subagent and c.readable]
        if len(main) > limits.max_sessions:
            history.notes.append(ReadNote(source, f"read the {limits.max_sessions} most recent of {len(main)} "
                                                  "sessions of this project"))
            kept = {c.path for c in main[: limits.max_sessions]}
            kept_ids = {c.path.stem for c in main[: limits.max_sessions]}
            mine = [c for c in mine if c.path in kept or not c.readable or (c.subagent and c.parent_id in kept_ids)]
        for candidate in mine:
            session = _read(candidate, limits, history.notes)
            if session is None:
                continue
            if any(m.role in ("user", "assistant") for m in session.messages):
                history.sessions.append(session)
                history.notes.extend(ReadNote(source, note, str(candidate.path)) for note in session.notes)
            elif session.notes:
                history.notes.append(ReadNote(source, "no conversation in this file (" + "; ".join(session.notes) + ")",
                                              str(candidate.path)))
    history.sessions.sort(key=lambda s: (s.started_at is None, s.started_at or datetime.min, s.id))
    return history


def _recency(candidate: _Candidate) -> tuple[float, float]:
    started = candidate.started_at.timestamp() if candidate.started_at else 0.0
    return candidate.modified, started


def _read(candidate: _Candidate, limits: ReadLimits, notes: list[ReadNote]) -> Session | None:
    try:
        if candidate.source == "claude-code":
            return claude_code.read_claude_session(candidate.path, limits, parent_id=candidate.parent_id,
                                                   subagent=candidate.subagent)
        return codex.read_codex_rollout(candidate.path, limits)
    except OSError as error:
        notes.append(ReadNote(candidate.source, f"could not read this session: {error.strerror or error}",
                              str(candidate.path)))
        return None
    except DATA_ERRORS as error:  # a record shape no reader foresaw: lose this session, not the whole history
        notes.append(ReadNote(candidate.source, f"could not make sense of this session ({type(error).__name__}: "
                                                f"{error}); the others were read", str(candidate.path)))
        return None


def _find(
    matcher: ProjectMatcher, sources: HistorySources, limits: ReadLimits, since: datetime | None,
    include: Sequence[Source],
) -> _Found:
    found = _Found()
    if "claude-code" in include:
        _find_claude(matcher, sources.claude_dir, limits, since, found)
    if "codex" in include:
        _find_codex(matcher, sources.codex_dir, limits, since, found)
    return found


def _modified(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _worked_in(matcher: ProjectMatcher, path: Path, limits: ReadLimits) -> bool:
    """Whether a transcript recorded one of the project's folders as a later working directory."""
    try:
        folders = recorded_folders(path, max_bytes=limits.folder_scan_bytes)
    except OSError:
        return False
    return any(matcher.path_matches(folder) for folder in folders)


def _find_claude(matcher: ProjectMatcher, root: Path, limits: ReadLimits, since: datetime | None,
                 found: _Found) -> None:
    source: Source = "claude-code"
    projects = root / "projects"
    if not root.is_dir():
        found.notes.append(ReadNote(source, f"no Claude Code data: {root} does not exist (Claude Code has not "
                                            "been used here, or CLAUDE_CONFIG_DIR points elsewhere)"))
        return
    try:
        folders = sorted((e for e in os.scandir(projects) if e.is_dir(follow_symlinks=False)), key=lambda e: e.name)
    except FileNotFoundError:
        found.notes.append(ReadNote(source, f"no Claude Code sessions recorded: {projects} does not exist"))
        return
    except OSError as error:
        found.notes.append(ReadNote(source, f"cannot list the sessions folder: {error.strerror}", str(projects)))
        return
    names = matcher.claude_dirs()
    scanned = unreadable = 0
    for folder in folders:
        named = any(claude_code.project_dir_matches(folder.name, encoded) for encoded in names)
        try:
            files = list(claude_code.transcripts_in(Path(folder.path)))
        except OSError as error:
            if named:
                found.notes.append(ReadNote(source, f"cannot list this project's sessions: {error.strerror}",
                                            folder.path))
            else:
                unreadable += 1
            continue
        for file in files:
            scanned += 1
            if scanned > limits.max_files_scanned:
                found.notes.append(ReadNote(source, f"stopped looking after {limits.max_files_scanned} transcripts"))
                return
            modified = _modified(file.path)
            if modified is None or (since is not None and modified < since.timestamp()):
                continue
            try:
                head = claude_code.peek_cwd(file.path, limits)
            except DATA_ERRORS:
                continue
            except OSError as error:
                if named:
                    found.notes.append(ReadNote(source, f"could not open this session: {error.strerror}",
                                                str(file.path)))
                else:
                    unreadable += 1
                continue
            # the folder name is lossy (``my-app`` and ``my_app`` share one): the recorded cwd decides, and
            # a session that started elsewhere (``~``) and then worked here belongs here too
            belongs = (matcher.path_matches(head.cwd) or _worked_in(matcher, file.path, limits)) if head.cwd \
                else named
            if belongs:
                found.candidates.append(_Candidate(source, file.path, modified, file.parent_id, file.subagent,
                                                   head.started_at, head.readable))
    if unreadable:
        found.notes.append(ReadNote(source, f"{unreadable} other transcripts or folders could not be opened "
                                            "(permissions?), so sessions of this project among them were missed"))


def _find_codex(matcher: ProjectMatcher, root: Path, limits: ReadLimits, since: datetime | None,
                found: _Found) -> None:
    source: Source = "codex"
    if not root.is_dir():
        found.notes.append(ReadNote(source, f"no Codex data: {root} does not exist (Codex has not been used "
                                            "here, or CODEX_HOME points elsewhere)"))
        return
    errors: list[str] = []
    rollouts = codex.list_rollouts(root, errors)
    found.notes.extend(ReadNote(source, error) for error in errors)
    unreadable = 0
    for scanned, path in enumerate(rollouts.paths, start=1):
        if scanned > limits.max_files_scanned:
            found.notes.append(ReadNote(source, f"stopped looking after {limits.max_files_scanned} rollouts"))
            break
        modified = _modified(path)
        if modified is None or (since is not None and modified < since.timestamp()):
            continue
        try:
            head = codex.peek_rollout(path, limits)
        except OSError as error:
            if path.name.endswith(".zst") and not isinstance(error, PermissionError):
                found.notes.append(ReadNote(source, f"could not read this compressed rollout: {error}", str(path)))
            else:
                unreadable += 1
            continue
        except DATA_ERRORS:
            continue
        if (matcher.path_matches(head.cwd) or matcher.remote_matches(head.repository_url)
                or (head.cwd and _worked_in(matcher, path, limits))):
            found.candidates.append(_Candidate(source, path, modified, subagent=head.subagent,
                                               started_at=head.started_at))
    if unreadable:
        found.notes.append(ReadNote(source, f"{unreadable} rollouts could not be opened (permissions?), so sessions "
                                            "of this project among them were missed"))
