"""Lifecycle: initialize (settings, session), initialized, configuration changes, shutdown.

Settings come from ``initializationOptions`` and the ``letta`` section of ``workspace/configuration``
(re-read on ``workspace/didChangeConfiguration``). A bad setting is shown with ``window/showMessage``
and the previous settings stay in force: the server never starts half-configured or dies of it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.capabilities import get_capability

from letta_ls.config_problems import ConfigurationProblem
from letta_ls.server.app import LettaServer
from letta_ls.server.features import Event
from letta_ls.server.health import ConfigHealth
from letta_ls.server.typed import plain_json
from letta_ls.settings import SettingsError, merge_sources, structure_settings

log = logging.getLogger("letta_ls.server")


def _letta_section(raw: Any) -> dict[str, Any]:
    raw = plain_json(raw)
    if not isinstance(raw, dict):
        return {}
    if isinstance(raw.get("letta"), dict):
        return raw["letta"]
    return raw


def workspace_folders(ls: LettaServer) -> list[Path]:
    folders = []
    for folder in ls.workspace.folders.values():
        if folder.uri.startswith("file://"):
            from pygls.uris import to_fs_path

            path = to_fs_path(folder.uri)
            if path:
                folders.append(Path(path))
    if not folders and ls.workspace.root_path:
        folders.append(Path(ls.workspace.root_path))
    return folders


async def apply_settings(ls: LettaServer, *, client: dict[str, Any] | None = None,
                         init: dict[str, Any] | None = None) -> bool:
    """Validate and apply new settings; on error tell the user and keep the previous ones."""
    sources = dict(ls.settings_sources)
    if init is not None:
        sources["init"] = init
    if client is not None:
        sources["client"] = client
    overrides = merge_sources(sources["init"], sources["client"])
    try:
        structure_settings(overrides)
        if ls.session is not None:
            await ls.run_blocking(ls.session.reload_settings, overrides)
    except (SettingsError, ConfigurationProblem) as exc:
        ls.show(f"letta: {exc}; keeping the previous settings", _error())
        return False
    ls.settings_sources = sources
    ls.get_feature(ConfigHealth).report()  # settings.json may have broken or been fixed meanwhile
    if ls.session is not None:  # without one, the features start with the session (letta_ls.server.health)
        ls.fire(Event.SETTINGS_CHANGED)
    return True


def _error() -> types.MessageType:
    return types.MessageType.Error


async def fetch_client_settings(ls: LettaServer) -> dict[str, Any] | None:
    if not get_capability(ls.client_capabilities, "workspace.configuration", False):
        return None
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="letta")]))
    except Exception as exc:
        log.info("workspace/configuration failed: %s", exc)
        return None
    if not result or result[0] is None:
        return None
    return _letta_section(result[0])


def register(server: LettaServer) -> None:
    @server.feature(types.INITIALIZE)
    async def initialize(ls: LettaServer, params: types.InitializeParams) -> None:
        init = _letta_section(params.initialization_options or {})
        try:
            structure_settings(init)
        except SettingsError as exc:
            ls.show(f"letta: {exc}; using the default settings", _error())
            init = {}
        ls.settings_sources["init"] = init
        health = ls.get_feature(ConfigHealth)
        await health.open(init.get("home"), init)  # a broken configuration is reported, never fatal
        await ls.warm_up()

    @server.feature(types.INITIALIZED)
    async def initialized(ls: LettaServer, params: types.InitializedParams) -> None:
        client = await fetch_client_settings(ls)
        if client:
            await apply_settings(ls, client=client)
        if ls.get_feature(ConfigHealth).client_ready():  # else the features start once the configuration is fixed
            ls.announced_head = await ls.run_blocking(ls.current.repo.head)
            ls.fire(Event.INITIALIZED)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: LettaServer, params: types.DidChangeConfigurationParams) -> None:
        client = await fetch_client_settings(ls)
        if client is None:
            client = _letta_section(params.settings) if params.settings else {}
        await apply_settings(ls, client=client)
        await ls.get_feature(ConfigHealth).recheck()  # the user may have fixed a broken file and said so

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: LettaServer, params: None) -> None:
        await ls.stop_features()  # e.g. running subagents stop and merge what they committed
        for task in list(ls.background):
            task.cancel()
        ls.executor.shutdown(wait=False, cancel_futures=True)
        cancel_pending_requests(ls)


def cancel_pending_requests(ls: LettaServer) -> None:
    """Cancel the requests still running (a ``letta.dream`` or ``letta.sync`` the editor is closed during) before
    pygls does: pygls cancels them while iterating over its table of pending requests, a cancelled command's
    callback removes itself from that table, and the shutdown failed with "dictionary changed size during
    iteration" (and the server then exited with code 1); pygls issue #606. Over a copy here, it is safe."""
    own = ls.protocol.msg_id  # the shutdown request's id (context-local): it must still be answered
    this_handler = asyncio.current_task()  # pygls runs a handler yielded by its own under a new id: this one
    pending = getattr(ls.protocol, "_request_futures", {})  # pygls' own table; gone in a later pygls: nothing to do
    for msg_id, future in list(pending.items()):
        if msg_id != own and future is not this_handler and not future.done():
            future.cancel()
