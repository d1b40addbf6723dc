"""``workspace/executeCommand``: every command of SPEC section 7, registered and answering.

Each takes no argument or one JSON object (VS Code's palette sends ``[]``, so handlers take ``*args``).
When a palette call lacks something it needs, the command asks through ``window/showMessageRequest``.
Commands whose part of the product has not landed yet answer a clear RequestFailed error instead of
pretending to work.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from letta_ls.contract import ErrorKind, fail
from letta_ls.contract.agents import (
    AgentRef,
    AgentRow,
    CreateAgentParams,
    ListAgentsParams,
    PinParams,
    PinResult,
    SwitchAgentParams,
)
from letta_ls.contract.doctor import DoctorParams, DoctorResult
from letta_ls.contract.memory import BackupParams, BackupResult, RestoreParams, RestoreResult
from letta_ls.contract.wire import converter
from letta_ls.contract.work import SleeptimeParams, SleeptimeResult
from letta_ls.doctor import render_report
from letta_ls.doctor.fixes import safe_fixes
from letta_ls.memfs.presets import list_presets
from letta_ls.server.app import LettaServer
from letta_ls.server.diagnostics import DiagnosticsPublisher
from letta_ls.server.features import Event
from letta_ls.server.health import ConfigHealth
from letta_ls.server.typed import command
from letta_ls.session import resolve_backup_ref
from letta_ls.settings import structure_settings, unstructure_settings

log = logging.getLogger("letta_ls.server")

async def ask(ls: LettaServer, message: str, choices: list[str]) -> str | None:
    """Ask the user to pick one of ``choices``; None when the client cannot or the user dismisses it."""
    if not choices:
        return None
    try:
        picked = await ls.window_show_message_request_async(types.ShowMessageRequestParams(
            type=types.MessageType.Info, message=message,
            actions=[types.MessageActionItem(title=c) for c in choices]))
    except Exception as exc:
        log.info("showMessageRequest failed: %s", exc)
        return None
    return picked.title if picked is not None else None


def agent_row(ls: LettaServer, agent: Any, pins: set[str]) -> AgentRow:
    model = agent.model.get("name") if agent.model else None
    settings = ls.session.settings if ls.session is not None else None  # None: a broken configuration
    return AgentRow(agent.id, agent.name, agent.id in pins, agent.last_used,
                    model or (settings.model.name if settings else None))


def register(server: LettaServer) -> None:
    @command(server, "letta.doctor")
    async def doctor(ls: LettaServer, params: DoctorParams) -> DoctorResult:
        session = ls.current
        publisher = ls.get_feature(DiagnosticsPublisher)  # a large memory is audited in its worker process
        token = await ls.begin_progress("Memory doctor", "auditing memory")
        try:
            result = await publisher.audit_for_a_command(session, await ls.run_blocking(session.repo.snapshot))
            if params.fix:
                ls.report_progress(token, "applying safe fixes", 60)
                applied = await ls.run_blocking(session.apply_fixes,  # by the user, who asked for them
                                                safe_fixes(result))
                if applied:
                    ls.notify_memory_changed(session.repo.head(),
                                             {p for _f, c in applied for p in c.paths})
                result = await publisher.audit_for_a_command(session, await ls.run_blocking(session.repo.snapshot))
        finally:
            ls.end_progress(token, "done")
        report = render_report(result)
        return converter.structure({**result.to_json(), "report": report}, DoctorResult)

    @command(server, "letta.listAgents")
    async def list_agents(ls: LettaServer, params: ListAgentsParams) -> list[AgentRow]:
        home = ls.session.home if ls.session is not None else await ls.get_feature(ConfigHealth).home()
        agents = await ls.run_blocking(home.list_agents)
        pins = set(await ls.run_blocking(home.pinned))
        return [agent_row(ls, a, pins) for a in agents]

    @command(server, "letta.createAgent")
    async def create_agent(ls: LettaServer, params: CreateAgentParams) -> AgentRef:
        name, preset = params.name, params.preset
        home = ls.current.home
        if not name:
            existing = {a.name for a in await ls.run_blocking(home.list_agents)}
            n = len(existing) + 1
            while f"Agent {n}" in existing:
                n += 1
            name = f"Agent {n}"
        if not preset and params == CreateAgentParams():  # nothing given (the palette): ask
            preset = await ask(ls, f"Create {name} from which preset?", [p.name for p in list_presets()])
        agent = await ls.run_blocking(home.create_agent, name, preset or "default")
        return AgentRef(agent.id, agent.name)

    @command(server, "letta.switchAgent")
    async def switch_agent(ls: LettaServer, params: SwitchAgentParams) -> AgentRef:
        key = params.agent_id or params.name
        if ls.session is None and key:  # away from a broken agent: the home is enough to switch
            await ls.run_blocking((await ls.get_feature(ConfigHealth).home()).use_agent, key)
            await ls.get_feature(ConfigHealth).recheck()
            return AgentRef(ls.current.agent.id, ls.current.agent.name)
        session = ls.current
        if not key:
            agents = await ls.run_blocking(session.home.list_agents)
            key = await ask(ls, "Switch to which agent?", [a.name for a in agents][:20])
            if key is None:
                return AgentRef(session.agent.id, session.agent.name)
        agent = await ls.run_blocking(session.switch, key)
        ls.announced_head = session.repo.head()
        ls.fire(Event.AGENT_SWITCHED)
        return AgentRef(agent.id, agent.name)

    async def set_pin(ls: LettaServer, params: PinParams, pinned: bool) -> PinResult:
        key = params.agent_id or ls.current.agent.id
        agent = await ls.run_blocking(ls.current.home.set_pinned, key, pinned)
        return PinResult(agent.id, pinned)

    @command(server, "letta.pin")
    async def pin(ls: LettaServer, params: PinParams) -> PinResult:
        return await set_pin(ls, params, True)

    @command(server, "letta.unpin")
    async def unpin(ls: LettaServer, params: PinParams) -> PinResult:
        return await set_pin(ls, params, False)

    @command(server, "letta.memory.backup")
    async def backup(ls: LettaServer, params: BackupParams) -> BackupResult:
        return BackupResult(await ls.run_blocking(ls.current.backup, "manual"))

    @command(server, "letta.memory.restore")
    async def restore(ls: LettaServer, params: RestoreParams) -> RestoreResult:
        ref = params.ref
        session = ls.current
        if not ref:
            backups = await ls.run_blocking(session.repo.backups)
            names = [full.rsplit("/", 1)[-1] for full, _c in backups][:10]
            if not names:
                fail(ErrorKind.NOT_FOUND, "there is no backup to restore yet: run letta.memory.backup first")
            ref = await ask(ls, "Restore memory to which backup? (a new commit; nothing is lost)", names)
            if ref is None:
                fail(ErrorKind.REFUSED, "no backup chosen; memory is unchanged")
        full = await ls.run_blocking(resolve_backup_ref, session.repo, ref)
        result = await ls.run_blocking(session.restore, full)
        if result.commit is not None:
            ls.notify_memory_changed(result.commit, result.paths)
        return RestoreResult(full, result.commit)

    @command(server, "letta.sleeptime")
    async def sleeptime(ls: LettaServer, params: SleeptimeParams, palette: bool) -> SleeptimeResult:
        session = ls.current
        changes = {k: v for k, v in converter.unstructure(params).items() if v is not None}
        if palette:
            current = session.settings.sleeptime.trigger
            picked = await ask(ls, f"Dreams run on: {current}. Change the trigger?",
                               ["off", "step-count", "compaction-event"])
            if picked:
                changes["trigger"] = picked
        if changes:
            raw = session.home.raw_settings()
            merged = {**raw.get("sleeptime", {}), **changes}
            structure_settings({"sleeptime": merged})  # a SettingsError is InvalidParams, naming the setting
            await ls.run_blocking(lambda: session.home.update_settings(sleeptime=merged))
            await ls.run_blocking(session.reload_settings, None)
            ls.fire(Event.SETTINGS_CHANGED)
        in_force = unstructure_settings(session.settings)["sleeptime"]
        return SleeptimeResult(in_force["trigger"], in_force["stepCount"], in_force["idleSeconds"], in_force["merge"])
