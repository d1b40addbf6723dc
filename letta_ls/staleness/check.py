"""``memory-stale``: a note that says something the workspace no longer bears out.

Each finding quotes its evidence: the path that is gone and, when git shows it, the commit that renamed
or deleted it and the new path (offered as a quick fix, one commit like every fix); the target, script
or recipe that the task runner does not define; the lockfile that contradicts the tool a note prescribes.
The checks read the workspace's facts (``workspace.Workspace``) and each note's claims
(``claims.claims_in``); results are cached per blob and workspace state, so after a change only the
notes that changed, or the claims a workspace change touched, cost anything.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path

from letta_ls.doctor.audit import AuditResult
from letta_ls.doctor.findings import Finding, Fix, regrade, sort_findings
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot
from letta_ls.staleness.claims import Claim, claims_in
from letta_ls.staleness.scope import ScopeCache
from letta_ls.staleness.workspace import LOCKFILES, MANIFESTS, Workspace, load_workspace

CODE = "memory-stale"
_JS = {"npm", "pnpm", "yarn", "bun"}
_PY = {"poetry", "uv", "pipenv", "pdm"}
_SHOWN = 8


def _listing(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(f"`{n}`" for n in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "") if names else "none"


def _finding(file: MemoryFile, claim: Claim, message: str, fix: Fix | None = None,
             about: str | None = None) -> Finding:
    """``about``: the workspace file the claim is about (absolute), which the editor offers to open."""
    fix = fix or Fix("remove-line", "Remove this line from the note", {"line": claim.line})
    if about is not None:
        fix = Fix(fix.kind, fix.title, {**fix.data, "about": about})
    return Finding(file.path, CODE, "warning", claim.line, message, column=claim.column, end_line=claim.line,
                   end_column=claim.end_column, fix=fix)


def other_fixes(finding: Finding) -> list[Fix]:
    """The fixes a ``memory-stale`` finding offers beside its own: removing the line, when its own fix is
    to replace a renamed path."""
    if finding.code != CODE or finding.fix is None or finding.fix.kind == "remove-line":
        return []
    return [Fix("remove-line", "Remove this line from the note", {"line": finding.line})]


def _first(ws: Workspace, names: tuple[str, ...]) -> str | None:
    return next((str(ws.root / n) for n in names if n in ws.files), None)


def _in_memory(snapshot: MemorySnapshot, note: str, value: str) -> bool:
    """A path that names a memory file (from the root or the note's folder) is a memory link, not a claim."""
    candidates = {value, posixpath.normpath(posixpath.join(posixpath.dirname(note), value))}
    return any(c in snapshot.files or c + ".md" in snapshot.files or c in snapshot.folders for c in candidates)


def _path_finding(snapshot: MemorySnapshot, ws: Workspace, file: MemoryFile, claim: Claim) -> Finding | None:
    value = claim.value
    root = str(ws.root) + "/"
    if value.startswith("/"):
        if not value.startswith(root):
            return None  # a path outside this workspace: another repository's, or the system's
        value = value[len(root):]
    value = posixpath.normpath(value.removeprefix("./")) if value not in (".", "./") else ""
    if value.startswith("../") or ws.exists(value) or _in_memory(snapshot, file.path, claim.value):
        return None
    if not ws.known_root(value):
        return None
    event = ws.gone(value)
    shown = f"`{claim.value}`"
    if event is not None and event.new is not None and ws.exists(event.new):
        new = event.new if not claim.value.startswith("/") else root + event.new
        new = ("./" + new) if claim.value.startswith("./") else new
        return _finding(file, claim, f"{shown} no longer exists in the workspace: git shows it was renamed to "
                                     f"`{event.new}` in {event.commit}.",
                        Fix("replace-path", f"Replace with `{new}`", {
                            "line": claim.line, "column": claim.column, "end_column": claim.end_column,
                            "old": claim.value, "target": new}), about=str(ws.root / event.new))
    if event is not None:
        return _finding(file, claim, f"{shown} no longer exists in the workspace: git shows it was deleted in "
                                     f"{event.commit}.")
    return _finding(file, claim, f"{shown} does not exist in the workspace ({ws.root.name}).")


# For each claim kind checked against a list the workspace declares: the Workspace attribute holding that
# list, the message when the named entry is missing from it, and the files that declare it.
_LISTED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "make": ("make_targets", "`make {value}`: the workspace's Makefile has no target `{value}` (targets: {names}).",
             ("GNUmakefile", "makefile", "Makefile")),
    "script": ("scripts", "`{tool} run {value}`: package.json has no script `{value}` (scripts: {names}).",
               ("package.json",)),
    "just": ("just_recipes", "`just {value}`: the justfile has no recipe `{value}` (recipes: {names}).",
             ("justfile", "Justfile", ".justfile")),
    "task": ("tasks", "`task {value}`: the Taskfile has no task `{value}` (tasks: {names}).",
             ("Taskfile.yml", "Taskfile.yaml", "taskfile.yml")),
}


def _claim_finding(snapshot: MemorySnapshot, ws: Workspace, file: MemoryFile, claim: Claim) -> Finding | None:
    kind = claim.kind
    if kind in ("path", "pytest", "go"):
        return _path_finding(snapshot, ws, file, claim)
    listed = _LISTED.get(kind)
    if listed is not None:
        attr, message, files = listed
        names = getattr(ws, attr)
        if names is not None and claim.value not in names:
            return _finding(file, claim, message.format(value=claim.value, tool=claim.tool, names=_listing(names)),
                            about=_first(ws, files))
    if kind == "cargo" and ws.cargo_packages and claim.value not in ws.cargo_packages:
        return _finding(file, claim, f"`cargo -p {claim.value}`: no crate of that name in the workspace "
                                     f"(crates: {_listing(ws.cargo_packages)}).")
    if kind == "tool":
        family = _JS if claim.value in _JS else _PY
        present = ws.lock_tools & family
        if present and claim.value not in present:
            locks = sorted(name for name, tool in LOCKFILES.items() if tool in present and name in ws.files)
            return _finding(file, claim, f"The note says {claim.value}, but the workspace's lockfile is "
                                         f"{', '.join(f'`{n}`' for n in locks)} ({', '.join(sorted(present))}).",
                            about=str(ws.root / locks[0]) if locks else None)
    return None


_CLAIMS: dict[str, list[Claim]] = {}


def _claims(file: MemoryFile) -> list[Claim]:
    """A note's claims depend on its text only: read once per blob, whatever the workspace does."""
    found = _CLAIMS.get(file.blob)
    if found is None:
        if len(_CLAIMS) > 50_000:
            _CLAIMS.clear()
        found = _CLAIMS[file.blob] = claims_in(file.text) if file.text is not None else []
    return found


def check_note(snapshot: MemorySnapshot, ws: Workspace, file: MemoryFile) -> list[Finding]:
    """The stale claims of one note."""
    out: list[Finding] = []
    seen = set()
    for claim in _claims(file):
        found = _claim_finding(snapshot, ws, file, claim)
        if found is not None and (found.line, found.column) not in seen:
            seen.add((found.line, found.column))
            out.append(found)
    return out


_PATH_KINDS = ("path", "pytest", "go")


def _claimed_path(claim: Claim, root: str) -> str:
    """The workspace-relative path a path claim names, as changes are reported."""
    return claim.value.removeprefix(root).removeprefix("./").rstrip("/")


def _folders_above(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _touches(claim: Claim, root: str, changed: set[str]) -> bool:
    """Whether a workspace change under ``changed`` can alter what ``claim`` is judged to be."""
    if claim.kind not in _PATH_KINDS:
        return False
    value = _claimed_path(claim, root)
    return any(value == c or value.startswith(c + "/") or c.startswith(value + "/") for c in changed)


def _renamed_into(ws: Workspace, changed: set[str]) -> set[str]:
    """Old paths whose rename chain passes through ``changed``: a note naming one is judged by where the
    chain ends now (``guide.md`` → ``handbook.md`` → ``manual.md``)."""
    into: dict[str, list[str]] = {}
    for old, event in ws.history.items():
        if event.new is not None:
            into.setdefault(event.new, []).append(old)
    out: set[str] = set()
    todo = [n for n in into if any(n == c or n.startswith(c + "/") for c in changed)]
    while todo:
        for old in into.get(todo.pop(), ()):
            if old not in out:
                out.add(old)
                todo.append(old)
    return out


class StaleChecker:
    """``memory-stale`` for one workspace, kept current: after a change only the notes whose claims the
    change touches are checked again (a manifest or a new top-level entry re-checks every note)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._done: dict[tuple[str, str, str | None], list[Finding]] = {}
        self._scopes = ScopeCache(ws.root, ws.remote)
        # the judged notes (keys of ``_done``) by the workspace paths their claims name: ``_under`` by the path
        # and every folder above it, ``_naming`` by the path only. A change then finds the notes it touches
        # without reading every note's claims. Entries of keys judged again since are skipped, not removed.
        self._under: dict[str, set[tuple]] = {}
        self._naming: dict[str, set[tuple]] = {}

    def update(self, ws: Workspace, changed: Iterable[str] = (), everything: bool = False) -> bool:
        """Take the workspace as it is now; True when a finding already given may differ (the editor then
        republishes), False when the change touches no claim checked so far."""
        changed = {c.rstrip("/") for c in changed}
        old = self.ws
        self.ws = ws
        tops = {c.split("/", 1)[0] for c in changed}
        if everything or any(old.known_root(t) != ws.known_root(t) for t in tops) or \
                {c.rsplit("/", 1)[-1] for c in changed} & MANIFESTS:
            self._forget_all()
            return True
        changed |= _renamed_into(ws, changed) | _renamed_into(old, changed)
        root = str(ws.root) + "/"
        candidates: set[tuple] = set()
        for path in changed:
            candidates |= self._under.get(path, set())
            for folder in _folders_above(path):
                candidates |= self._naming.get(folder, set())
        stale_keys = [key for key in candidates if key in self._done and (
            key[0] not in _CLAIMS or any(_touches(claim, root, changed) for claim in _CLAIMS[key[0]]))]
        for key in stale_keys:
            del self._done[key]
        return bool(stale_keys)

    def _forget_all(self) -> None:
        self._done.clear()
        self._under.clear()
        self._naming.clear()

    def _remember(self, key: tuple, file: MemoryFile, found: list[Finding]) -> None:
        """Keep a note's judgement, indexed by the workspace paths its claims name."""
        self._done[key] = found
        root = str(self.ws.root) + "/"
        for claim in _claims(file):
            if claim.kind not in _PATH_KINDS:
                continue
            value = _claimed_path(claim, root)
            if not value:
                continue
            self._naming.setdefault(value, set()).add(key)
            for folder in [value, *_folders_above(value)]:
                self._under.setdefault(folder, set()).add(key)

    def _scope(self, snapshot: MemorySnapshot) -> frozenset[str]:
        if (self._scopes.root, self._scopes.remote) != (self.ws.root, self.ws.remote):
            self._scopes = ScopeCache(self.ws.root, self.ws.remote)  # the workspace's remote was set or changed
        return self._scopes.notes_about(snapshot)

    def findings(self, snapshot: MemorySnapshot, paths: Iterable[str] | None = None) -> list[Finding]:
        """``memory-stale`` findings for the notes about this workspace (or just ``paths`` of them)."""
        chosen_paths = None if paths is None else list(paths)
        wanted = self._scope(snapshot)
        chosen = wanted if chosen_paths is None else wanted & set(chosen_paths)
        out: list[Finding] = []
        if len(self._done) > 50_000:
            self._forget_all()
        for path in sorted(chosen):
            file = snapshot.files[path]
            key = (file.blob, path, snapshot.head)
            found = self._done.get(key)
            if found is None:
                found = check_note(snapshot, self.ws, file)
                self._remember(key, file, found)
            out.extend(found)
        return out


def stale_findings(snapshot: MemorySnapshot, ws: Workspace, paths: Iterable[str] | None = None) -> list[Finding]:
    """``memory-stale`` findings for the notes about ``ws`` (or just ``paths`` of them), from scratch."""
    return StaleChecker(ws).findings(snapshot, paths)


def audit_with_workspace(result: AuditResult, snapshot: MemorySnapshot, workspace: str | Path,
                         diagnostics: dict[str, str] | None = None) -> AuditResult:
    """``result`` plus the ``memory-stale`` findings against ``workspace`` (graded by ``memory.diagnostics``)."""
    root = Path(workspace)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory: give the workspace folder the memory describes")
    found = regrade(stale_findings(snapshot, load_workspace(root)), diagnostics or {})
    return AuditResult(sort_findings([*result.findings, *found]), result.tokens)
