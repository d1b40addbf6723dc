"""What a workspace holds, as far as memory notes make claims about it.

A note goes stale when the workspace moves on: a file is renamed, a ``make`` target or an npm script
is removed, the lockfile changes from npm's to pnpm's. This module reads the facts those claims are
checked against, once per workspace state: the files git knows (tracked and untracked-but-not-ignored,
so a build folder does not count), the renames and deletions in git history (the evidence a message
quotes, and the new path a quick fix offers), task-runner targets, package scripts, lockfiles and
package names. It reads files only; it runs nothing of the project's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOCKFILES: dict[str, str] = {
    "package-lock.json": "npm", "npm-shrinkwrap.json": "npm", "pnpm-lock.yaml": "pnpm", "yarn.lock": "yarn",
    "bun.lockb": "bun", "bun.lock": "bun",
    "poetry.lock": "poetry", "uv.lock": "uv", "Pipfile.lock": "pipenv", "pdm.lock": "pdm",
}
_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", "target", "dist", "build", ".tox"}
_MAKE_RULE = re.compile(r"^([A-Za-z0-9_./%-][A-Za-z0-9_./% -]*?)\s*::?(?!=)")
_MAKE_PHONY = re.compile(r"^\.PHONY\s*:\s*(.*)$")
_JUST_RECIPE = re.compile(r"^@?([A-Za-z0-9_-]+)(?:\s+[^:]*)?:(?!=)")
_TASK_NAME = re.compile(r"^  ([A-Za-z0-9_:.-]+)\s*:")
_CARGO_NAME = re.compile(r'^name\s*=\s*"([^"]+)"', re.M)
MAX_FILES = 200_000


@dataclass(frozen=True)
class HistoryEvent:
    """The latest thing git history says happened to a path that is gone: renamed (to ``new``) or deleted."""

    commit: str
    new: str | None


@dataclass
class Workspace:
    """The facts about one workspace folder that notes are checked against."""

    root: Path
    files: frozenset[str] | set[str]
    folders: dict[str, int]  # every folder holding a file, with how many files are below it
    history: dict[str, HistoryEvent] = field(default_factory=dict)
    make_targets: frozenset[str] | None = None
    scripts: frozenset[str] | None = None
    just_recipes: frozenset[str] | None = None
    tasks: frozenset[str] | None = None
    cargo_packages: frozenset[str] = frozenset()
    lock_tools: frozenset[str] = frozenset()
    remote: str | None = None
    is_git: bool = False

    def exists(self, path: str) -> bool:
        path = path.rstrip("/")
        return path in self.files or path in self.folders or path == ""

    def gone(self, path: str) -> HistoryEvent | None:
        """What happened to a path that no longer exists, following a chain of renames to where it is now."""
        event = self.history.get(path.rstrip("/"))
        if event is None:
            return self._gone_folder(path.rstrip("/"))
        seen = {path}
        while event.new is not None and not self.exists(event.new) and event.new not in seen:
            seen.add(event.new)
            later = self.history.get(event.new)
            if later is None:
                break
            event = HistoryEvent(later.commit, later.new)
        return event

    def _gone_folder(self, folder: str) -> HistoryEvent | None:
        """A folder whose files were all renamed under one new folder (``src/config`` → ``src/settings``)."""
        prefix = folder + "/"
        moved = [(old, event) for old, event in self.history.items() if old.startswith(prefix)]
        if not moved or self.exists(folder):
            return None
        targets = set()
        for old, event in moved:
            if event.new is None:
                targets.add(None)
                continue
            rest = old[len(prefix):]
            if not event.new.endswith("/" + rest):
                return None
            targets.add(event.new[: -len(rest) - 1])
        if len(targets) != 1:
            return None
        (target,) = targets
        return HistoryEvent(moved[0][1].commit, target)

    def known_root(self, path: str) -> bool:
        """Whether a relative path's first component is (or was) part of this workspace: a path in a note
        that starts anywhere else belongs to some other repository, or is made up, and is not judged."""
        first = path.split("/", 1)[0]
        if first in self.files or first in self.folders:
            return True
        return any(old.split("/", 1)[0] == first for old in self.history)


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "surrogateescape") if done.returncode == 0 else None


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        rel = os.path.relpath(folder, root)
        for name in names:
            out.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
            if len(out) >= MAX_FILES:
                return out
    return out


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _folders_of(files: frozenset[str] | set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for path in files:
        for folder in _parents(path):
            out[folder] = out.get(folder, 0) + 1
    return out


def read_history(root: Path) -> dict[str, HistoryEvent]:
    """Renames and deletions, the newest event per path: ``old path → (commit, new path or None)``."""
    log = _git(root, "-c", "core.quotePath=false", "log", "-M", "--no-color", "--name-status", "--diff-filter=DR",
               "--format=%x01%h", "--max-count=5000")
    out: dict[str, HistoryEvent] = {}
    commit = ""
    for line in (log or "").splitlines():
        if line.startswith("\x01"):
            commit = line[1:]
            continue
        parts = line.split("\t")
        if parts[0].startswith("R") and len(parts) == 3:
            out.setdefault(parts[1], HistoryEvent(commit, parts[2]))
        elif parts[0] == "D" and len(parts) == 2:
            out.setdefault(parts[1], HistoryEvent(commit, None))
    return out


def _make_targets(root: Path) -> frozenset[str] | None:
    found = None
    for name in ("GNUmakefile", "makefile", "Makefile", *sorted(p.name for p in root.glob("*.mk"))):
        path = root / name
        if not path.is_file():
            continue
        found = found or set()
        for line in path.read_text("utf-8", "replace").splitlines():
            phony = _MAKE_PHONY.match(line)
            if phony:
                found.update(phony.group(1).split())
                continue
            if line.startswith(("\t", " ", "#")):
                continue
            match = _MAKE_RULE.match(line)
            if match:
                found.update(t for t in match.group(1).split() if "%" not in t and "$" not in t)
    return frozenset(found) if found is not None else None


def _scripts(root: Path, files: frozenset[str] | set[str]) -> frozenset[str] | None:
    manifests = [p for p in files if p == "package.json" or (p.endswith("/package.json") and p.count("/") <= 2)]
    if not manifests:
        return None
    out: set[str] = set()
    for rel in manifests:
        try:
            data = json.loads((root / rel).read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("scripts"), dict):
            out.update(str(k) for k in data["scripts"])
    return frozenset(out)


def _recipes(root: Path, names: tuple[str, ...], pattern: re.Pattern[str]) -> frozenset[str] | None:
    for name in names:
        path = root / name
        if path.is_file():
            out = set()
            for line in path.read_text("utf-8", "replace").splitlines():
                match = pattern.match(line)
                if match:
                    out.add(match.group(1))
            return frozenset(out)
    return None


def _cargo_packages(root: Path, files: frozenset[str] | set[str]) -> frozenset[str]:
    out: set[str] = set()
    for rel in files:
        if rel == "Cargo.toml" or rel.endswith("/Cargo.toml"):
            try:
                text = (root / rel).read_text("utf-8", "replace")
            except OSError:
                continue
            out.update(_CARGO_NAME.findall(text.split("[dependencies]", 1)[0]))
    return frozenset(out)


def load_workspace(root: str | Path) -> Workspace:
    """Read a workspace folder (a git work tree or any folder)."""
    root = Path(root).resolve()
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    is_git = listed is not None
    names = [p for p in listed.split("\x00") if p] if listed is not None else _walk(root)
    files = frozenset(p for p in names if (root / p).exists() or (root / p).is_symlink())
    remote = (_git(root, "remote", "get-url", "origin") or "").strip() or None if is_git else None
    return Workspace(
        root=root, files=files, folders=_folders_of(files), history=read_history(root) if is_git else {},
        make_targets=_make_targets(root), scripts=_scripts(root, files),
        just_recipes=_recipes(root, ("justfile", "Justfile", ".justfile"), _JUST_RECIPE),
        tasks=_recipes(root, ("Taskfile.yml", "Taskfile.yaml", "taskfile.yml"), _TASK_NAME),
        cargo_packages=_cargo_packages(root, files),
        lock_tools=frozenset(tool for name, tool in LOCKFILES.items() if name in files),
        remote=remote, is_git=is_git,
    )


MANIFESTS = {"GNUmakefile", "makefile", "Makefile", "package.json", "justfile", "Justfile", ".justfile",
              "Taskfile.yml", "Taskfile.yaml", "taskfile.yml", "Cargo.toml", *LOCKFILES}


def updated(ws: Workspace, created: Sequence[str] = (), deleted: Sequence[str] = (),
            renamed: Sequence[tuple[str, str]] = ()) -> Workspace:
    """``ws`` after files were created, deleted or renamed (relative paths), without asking git again.

    The cost grows with the change, not the workspace: the file set and the per-folder counts are
    copied and adjusted (a folder is gone when its count drops to zero). An editor's rename is recorded
    as history too (commit ``(not committed)``), so a note naming the old path gets the new one as its
    quick fix before the rename is even committed. Only a manifest that was touched is read again.
    """
    files = set(ws.files)
    folders = dict(ws.folders)
    history = dict(ws.history)

    def below(path: str) -> list[str]:
        path = path.rstrip("/")
        if path in folders:
            prefix = path + "/"
            return [p for p in files if p.startswith(prefix)]
        return [path] if path in files else []

    def drop(path: str) -> None:
        files.discard(path)
        for folder in _parents(path):
            left = folders.get(folder, 0) - 1
            if left > 0:
                folders[folder] = left
            else:
                folders.pop(folder, None)

    def add(path: str) -> None:
        if path not in files:
            files.add(path)
            for folder in _parents(path):
                folders[folder] = folders.get(folder, 0) + 1

    for path in deleted:
        for p in below(path):
            drop(p)
    for old, new in renamed:
        old, new = old.rstrip("/"), new.rstrip("/")
        moving = below(old)
        for p in moving:
            drop(p)
            add(new + p[len(old):])
            history[p] = HistoryEvent("(not committed)", new + p[len(old):])
        if not moving:  # a file watcher saw the deletion first: the rename still says where it went
            history[old] = HistoryEvent("(not committed)", new)
            if (ws.root / new).is_file():
                add(new)
    for path in created:
        if (ws.root / path).is_file():
            add(path)
    touched = {p.rsplit("/", 1)[-1] for p in [*created, *deleted, *(n for pair in renamed for n in pair)]}
    fresh = Workspace(root=ws.root, files=files, folders=folders, history=history,
                      make_targets=ws.make_targets, scripts=ws.scripts, just_recipes=ws.just_recipes, tasks=ws.tasks,
                      cargo_packages=ws.cargo_packages, remote=ws.remote, is_git=ws.is_git,
                      lock_tools=frozenset(tool for name, tool in LOCKFILES.items() if name in files))
    if touched & MANIFESTS:
        fresh.make_targets = _make_targets(ws.root)
        fresh.scripts = _scripts(ws.root, files)
        fresh.just_recipes = _recipes(ws.root, ("justfile", "Justfile", ".justfile"), _JUST_RECIPE)
        fresh.tasks = _recipes(ws.root, ("Taskfile.yml", "Taskfile.yaml", "taskfile.yml"), _TASK_NAME)
        fresh.cargo_packages = _cargo_packages(ws.root, files)
    return fresh
