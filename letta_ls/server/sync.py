"""``letta.sync`` over LSP (SPEC sections 7 and 9): a thin adapter over ``letta_ls.sync.memory_sync``.

``letta.sync {}`` → ``{pushed, pulled, conflicts, head, changed, backup, unpushed, remote, report}``. It re-reads
settings.json first (a remote set there while the editor runs is used), merges with the agent's model as
the conflict resolver when one is configured (``subagents.resolve.resolver_for``), shows ``$/progress``
while it runs, announces the memory that arrived with ``letta/memoryChanged`` (which refreshes
diagnostics too), and warns through ``window/showMessage`` when a file kept both versions or commits were
left unpushed. ``letta/status`` carries ``sync: {state: "off"|"idle"|"running", remote, last}`` where
``last`` is the outcome of this agent's latest sync (or its error). Errors reach the client as
RequestFailed with the core's message, which never holds a credential.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from lsprotocol import types

from letta_ls.contract import work as contract
from letta_ls.contract.wire import converter
from letta_ls.server.app import LettaServer
from letta_ls.server.features import Event, Feature
from letta_ls.server.typed import command
from letta_ls.settings import unstructure_settings
from letta_ls.subagents.resolve import resolver_for
from letta_ls.sync.memory_sync import SyncResult, sync_memory_async
from letta_ls.sync.remote import BadRemoteError, SyncError, parse_remote

log = logging.getLogger("letta_ls.server")
STATUS_EVENT = Event.SYNC_CHANGED


class SyncService(Feature):
    """Whether a sync runs, and each agent's latest outcome, for ``letta/status``."""

    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls
        self.running = 0
        self.last: dict[str, dict[str, Any]] = {}  # agent id -> outcome of its latest sync

    def status(self) -> dict[str, Any]:
        session = self.ls.current
        configured = session.settings.sync.remote
        try:
            remote = parse_remote(configured).display if configured else None
        except SyncError:
            remote = None
        state = "running" if self.running else "idle" if configured else "off"
        return {"state": state, "remote": remote, "last": self.last.get(session.agent.id)}

    async def sync(self) -> SyncResult:
        ls = self.ls
        session = ls.current
        before = unstructure_settings(session.settings)
        await ls.run_blocking(session.reload_settings)
        if unstructure_settings(session.settings) != before:
            ls.fire(Event.SETTINGS_CHANGED)
        agent_id = session.agent.id
        try:
            remote = parse_remote(session.settings.sync.remote)  # before any progress: says how to set one
        except BadRemoteError as exc:
            self.last[agent_id] = {"at": _now(), "error": str(exc)}
            ls.fire(STATUS_EVENT)
            raise
        resolver = await ls.run_blocking(lambda: resolver_for(session.settings.model, ours="this machine",
                                                              theirs="the remote"))
        token = await ls.begin_progress("Memory sync", f"syncing with {remote.display}")
        self.running += 1
        ls.fire(STATUS_EVENT)
        outcome = "failed"
        try:
            result = await sync_memory_async(
                session.repo, remote, author=session.agent.author, backups_dir=session.agent.backups_dir,
                resolver=resolver, progress=lambda message, percent: ls.report_progress(token, message, percent))
            outcome = f"pulled {result.pulled}, pushed {result.pushed}"
        except SyncError as exc:
            self.last[agent_id] = {"at": _now(), "error": str(exc)}
            raise
        else:
            self.last[agent_id] = {"at": _now(), "pushed": result.pushed, "pulled": result.pulled,
                                   "conflicts": list(result.conflicts), "unpushed": result.unpushed, "error": None}
        finally:
            self.running -= 1
            ls.end_progress(token, outcome)
            ls.fire(STATUS_EVENT)
        if result.changed and agent_id == ls.current.agent.id:
            ls.notify_memory_changed(result.head, result.changed)
        if result.conflicts:
            ls.show(f"letta: sync kept both versions in {', '.join(result.conflicts)}; look for <<<<<<< markers "
                    "and keep what is right", types.MessageType.Warning)
        if result.unpushed:
            ls.show(f"letta: {result.unpushed} memory commit(s) are not pushed yet: the remote kept changing; "
                    "sync again", types.MessageType.Warning)
        return result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def register(server: LettaServer) -> None:
    service = server.add_feature(SyncService(server))

    @command(server, "letta.sync")
    async def sync(ls: LettaServer, params: contract.SyncParams) -> contract.SyncResult:
        result = await service.sync()
        return converter.structure(result.to_json(), contract.SyncResult)
