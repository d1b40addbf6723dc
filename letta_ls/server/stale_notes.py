"""``memory-stale`` in the editor: memory notes checked against the open workspace, kept current.

The workspace's facts are read once when the editor is ready (off the event loop), then updated from
what the editor reports: ``workspace/didChangeWatchedFiles`` (registered for the workspace folders when
the client can take a dynamic registration) and ``workspace/didRenameFiles`` (an explorer rename, which
also becomes the quick fix's new path before it is committed). A change to the workspace's git ``HEAD``
reloads history. Each update re-checks the notes' claims (cached per blob) and republishes.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from letta_ls.doctor.findings import Finding, regrade
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.server.app import LettaServer
from letta_ls.server.features import Event, Feature
from letta_ls.server.lifecycle import workspace_folders
from letta_ls.staleness.check import StaleChecker
from letta_ls.staleness.workspace import Workspace, load_workspace, updated

log = logging.getLogger("letta_ls.server")
DEBOUNCE_SECONDS = 0.1
_WATCH_ID = "letta-workspace-files"


class StaleNotes(Feature):
    """The workspaces' facts and the ``memory-stale`` findings they give."""

    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls
        self.checkers: dict[Path, StaleChecker] = {}
        self.pending: asyncio.Task | None = None
        self.events: list[tuple[str, str, str | None]] = []  # (kind, path, new path) as reported
        # set once the workspaces are read: a change reported before then waits for it, instead of being
        # dropped for want of a workspace to place it in (an explorer rename is the only record of its new
        # path until it is committed); applying it to a read that already saw it changes nothing
        self.loaded = asyncio.Event()

    @property
    def workspaces(self) -> dict[Path, Workspace]:
        return {root: checker.ws for root, checker in self.checkers.items()}

    async def load(self) -> None:
        folders = workspace_folders(self.ls)
        try:
            loaded = await self.ls.run_blocking(
                lambda: {f.resolve(): load_workspace(f) for f in folders if f.is_dir()})
            self.checkers = {root: StaleChecker(ws) for root, ws in loaded.items()}
        finally:  # a failed read must not keep later reports waiting for ever
            self.loaded.set()

    def findings(self, snapshot: MemorySnapshot, paths: list[str] | None = None) -> list[Finding]:
        """Runs in a worker thread, beside the doctor."""
        out: list[Finding] = []
        overrides = self.ls.current.settings.memory.diagnostics
        for checker in list(self.checkers.values()):
            out.extend(checker.findings(snapshot, paths))
        return regrade(out, overrides)

    # --- what the editor reports -----------------------------------------------------------------
    def _locate(self, uri: str) -> tuple[Path, str] | None:
        path = to_fs_path(uri) if uri.startswith("file://") else None
        if not path:
            return None
        full = Path(path)
        home = self.ls.session.home.root.resolve() if self.ls.session is not None else None
        if home is not None and (full == home or home in full.parents):
            return None  # letta-ls's own files (memory, worktrees, transcripts) are not the workspace's
        for root in self.workspaces:
            if full == root or root in full.parents:
                return root, full.relative_to(root).as_posix()
        return None

    def report(self, kind: str, uri: str, new_uri: str | None = None) -> None:
        self.events.append((kind, uri, new_uri))
        if self.pending is not None and not self.pending.done():
            self.pending.cancel()
        self.pending = self.ls.spawn(self._apply_later(), name="workspace changed")

    async def _apply_later(self) -> None:
        await asyncio.sleep(DEBOUNCE_SECONDS)
        await self.loaded.wait()
        events, self.events = self.events, []
        per_root: dict[Path, tuple[list[str], list[str], list[tuple[str, str]]]] = {}
        reload_history = False
        for kind, uri, new_uri in events:
            place = self._locate(uri)
            if place is None:
                continue
            root, rel = place
            if rel == ".git" or rel.startswith(".git/"):
                reload_history = reload_history or rel in (".git/HEAD", ".git/packed-refs") or "refs/heads" in rel
                continue
            created, deleted, renamed = per_root.setdefault(root, ([], [], []))
            if kind == "rename" and new_uri is not None:
                target = self._locate(new_uri)
                if target is not None and target[0] == root:
                    renamed.append((rel, target[1]))
            elif kind == "deleted":
                deleted.append(rel)
            else:
                created.append(rel)
        if not per_root and not reload_history:
            return

        def apply() -> bool:
            differs = False
            for root, (created, deleted, renamed) in per_root.items():
                checker = self.checkers.get(root)
                if checker is not None:
                    changed = [*created, *deleted, *(p for pair in renamed for p in pair)]
                    differs |= checker.update(updated(checker.ws, created, deleted, renamed), changed)
            if reload_history:  # a commit in the workspace: its renames are history now
                for root, checker in self.checkers.items():
                    differs |= checker.update(load_workspace(root), everything=True)
            return differs

        if await self.ls.run_blocking(apply):  # a change no note mentions republishes nothing
            self.ls.fire(Event.WORKSPACE_CHANGED)

    def initialized(self) -> None:
        async def later() -> None:
            await self.load()
            self.ls.fire(Event.WORKSPACE_CHANGED)
            await _watch_files(self.ls, self)

        self.ls.spawn(later(), name="read the workspace")


_IGNORED_PARTS = {"node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache"}


def _worth_watching(_change: object, path: str) -> bool:
    parts = Path(path).parts
    if ".git" in parts:
        rest = path.split("/.git/", 1)[-1]
        return rest in ("HEAD", "packed-refs") or rest.startswith("refs/heads/")
    return not _IGNORED_PARTS & set(parts)


async def _watch_ourselves(notes: StaleNotes) -> None:
    """For an editor that will not watch files for us (Neovim on Linux by default): inotify, as the git
    watcher does. Renames arrive as a deletion and a creation, so their quick fix waits for the commit."""
    from watchfiles import Change, awatch

    roots = [str(root) for root in notes.workspaces]
    try:
        async for changes in awatch(*roots, debounce=100, step=25, watch_filter=_worth_watching):
            for change, path in changes:
                notes.report("deleted" if change == Change.deleted else "changed", Path(path).as_uri())
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # no inotify, a limit reached: the notes update when the editor restarts
        log.info("watching the workspace failed (%s); stale notes update on restart", exc)


async def _watch_files(ls: LettaServer, notes: StaleNotes) -> None:
    """Ask the client to report file changes in the workspace folders, or watch them ourselves."""
    if not notes.workspaces:
        return
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps is not None else None
    if watched is None or not watched.dynamic_registration:
        ls.spawn(_watch_ourselves(notes), name="workspace watcher")
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[
        types.FileSystemWatcher(glob_pattern="**/*")])
    try:
        await ls.client_register_capability_async(types.RegistrationParams(registrations=[types.Registration(
            id=_WATCH_ID, method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options)]))
    except Exception as exc:  # a client that refuses loses only the live updates
        log.info("the editor would not watch workspace files (%s); stale notes update on restart", exc)


def register(server: LettaServer) -> StaleNotes:
    notes = server.add_feature(StaleNotes(server))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: LettaServer, params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            kind = "deleted" if change.type == types.FileChangeType.Deleted else "changed"
            notes.report(kind, change.uri)

    @server.feature(types.WORKSPACE_DID_RENAME_FILES, types.FileOperationRegistrationOptions(
        filters=[types.FileOperationFilter(scheme="file", pattern=types.FileOperationPattern(glob="**/*"))]))
    def did_rename(ls: LettaServer, params: types.RenameFilesParams) -> None:
        for item in params.files:
            notes.report("rename", item.old_uri, item.new_uri)

    return notes
