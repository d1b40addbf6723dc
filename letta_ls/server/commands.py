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

from letta_ls.doctor import render_report
from letta_ls.memfs.presets import list_presets
from letta_ls.server.app import LettaServer
from letta_ls.server.errors import InvalidParams, RequestFailed, rpc_errors
from letta_ls.server.features import Event
from letta_ls.server.health import ConfigHealth
from letta_ls.session import resolve_backup_ref
from letta_ls.settings import SettingsError, structure_settings, unstructure_settings

log = logging.getLogger("letta_ls.server")

def single_argument(command: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """The one JSON object a command takes; {} for none."""
    if not args or (len(args) == 1 and args[0] is None):
        return {}
    if len(args) > 1:
        raise InvalidParams(f"{command} takes one JSON object argument, not {len(args)} arguments")
    arg = args[0]
    if hasattr(arg, "_asdict"):
        arg = arg._asdict()
    if not isinstance(arg, dict):
        raise InvalidParams(f"{command} takes a JSON object argument, not {type(arg).__name__}")
    return arg


def _field(arg: dict[str, Any], name: str, kind: type | tuple[type, ...], command: str) -> Any:
    value = arg.get(name)
    if value is not None and not isinstance(value, kind):
        raise InvalidParams(f"{command}: {name!r} has the wrong type ({type(value).__name__})")
    return value


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


def agent_row(ls: LettaServer, agent: Any, pins: set[str]) -> dict[str, Any]:
    model = agent.model.get("name") if agent.model else None
    settings = ls.session.settings if ls.session is not None else None  # None: a broken configuration
    return {"agentId": agent.id, "name": agent.name, "pinned": agent.id in pins, "lastUsed": agent.last_used,
            "model": model or (settings.model.name if settings else None)}


def register(server: LettaServer) -> None:
    @server.command("letta.doctor")
    async def doctor(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            arg = single_argument("letta.doctor", args)
            fix = bool(_field(arg, "fix", bool, "letta.doctor"))
            session = ls.current
            token = await ls.begin_progress("Memory doctor", "auditing memory")
            try:
                result = await ls.run_blocking(session.audit)
                if fix:
                    ls.report_progress(token, "applying safe fixes", 60)
                    applied = await ls.run_blocking(session.apply_fixes)  # by the user, who asked for them
                    if applied:
                        ls.notify_memory_changed(session.repo.head(),
                                                 {p for _f, c in applied for p in c.paths})
                    result = await ls.run_blocking(session.audit)
            finally:
                ls.end_progress(token, "done")
            report = render_report(result)
            return {**result.to_json(), "report": report}

    @server.command("letta.listAgents")
    async def list_agents(ls: LettaServer, *args: Any) -> list:
        with rpc_errors():
            single_argument("letta.listAgents", args)
            home = ls.session.home if ls.session is not None else await ls.get_feature(ConfigHealth).home()
            agents = await ls.run_blocking(home.list_agents)
            pins = set(await ls.run_blocking(home.pinned))
            return [agent_row(ls, a, pins) for a in agents]

    @server.command("letta.createAgent")
    async def create_agent(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            arg = single_argument("letta.createAgent", args)
            name = _field(arg, "name", str, "letta.createAgent")
            preset = _field(arg, "preset", str, "letta.createAgent")
            home = ls.current.home
            if not name:
                existing = {a.name for a in await ls.run_blocking(home.list_agents)}
                n = len(existing) + 1
                while f"Agent {n}" in existing:
                    n += 1
                name = f"Agent {n}"
            if not preset and not arg:
                preset = await ask(ls, f"Create {name} from which preset?", [p.name for p in list_presets()])
            agent = await ls.run_blocking(home.create_agent, name, preset or "default")
            return {"agentId": agent.id, "name": agent.name}

    @server.command("letta.switchAgent")
    async def switch_agent(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            arg = single_argument("letta.switchAgent", args)
            key = _field(arg, "agentId", str, "letta.switchAgent") or _field(arg, "name", str, "letta.switchAgent")
            if ls.session is None and key:  # away from a broken agent: the home is enough to switch
                await ls.run_blocking((await ls.get_feature(ConfigHealth).home()).use_agent, key)
                await ls.get_feature(ConfigHealth).recheck()
                return {"agentId": ls.current.agent.id, "name": ls.current.agent.name}
            session = ls.current
            if not key:
                agents = await ls.run_blocking(session.home.list_agents)
                key = await ask(ls, "Switch to which agent?", [a.name for a in agents][:20])
                if key is None:
                    return {"agentId": session.agent.id, "name": session.agent.name}
            agent = await ls.run_blocking(session.switch, key)
            ls.announced_head = session.repo.head()
            ls.fire(Event.AGENT_SWITCHED)
            return {"agentId": agent.id, "name": agent.name}

    async def set_pin(ls: LettaServer, args: tuple[Any, ...], pinned: bool, command: str) -> dict:
        with rpc_errors():
            arg = single_argument(command, args)
            key = _field(arg, "agentId", str, command) or ls.current.agent.id
            agent = await ls.run_blocking(ls.current.home.set_pinned, key, pinned)
            return {"agentId": agent.id, "pinned": pinned}

    @server.command("letta.pin")
    async def pin(ls: LettaServer, *args: Any) -> dict:
        return await set_pin(ls, args, True, "letta.pin")

    @server.command("letta.unpin")
    async def unpin(ls: LettaServer, *args: Any) -> dict:
        return await set_pin(ls, args, False, "letta.unpin")

    @server.command("letta.memory.backup")
    async def backup(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            single_argument("letta.memory.backup", args)
            ref = await ls.run_blocking(ls.current.backup, "manual")
            return {"ref": ref}

    @server.command("letta.memory.restore")
    async def restore(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            arg = single_argument("letta.memory.restore", args)
            ref = _field(arg, "ref", str, "letta.memory.restore")
            session = ls.current
            if not ref:
                backups = await ls.run_blocking(session.repo.backups)
                names = [full.rsplit("/", 1)[-1] for full, _c in backups][:10]
                if not names:
                    raise RequestFailed("there is no backup to restore yet: run letta.memory.backup first")
                ref = await ask(ls, "Restore memory to which backup? (a new commit; nothing is lost)", names)
                if ref is None:
                    raise RequestFailed("no backup chosen; memory is unchanged")
            full = await ls.run_blocking(resolve_backup_ref, session.repo, ref)
            result = await ls.run_blocking(session.restore, full)
            if result.commit is not None:
                ls.notify_memory_changed(result.commit, result.paths)
            return {"ref": full, "commit": result.commit}

    @server.command("letta.sleeptime")
    async def sleeptime(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            arg = single_argument("letta.sleeptime", args)
            session = ls.current
            changes = {k: arg[k] for k in ("trigger", "stepCount", "idleSeconds", "merge") if k in arg}
            if not arg and not args:
                current = session.settings.sleeptime.trigger
                picked = await ask(ls, f"Dreams run on: {current}. Change the trigger?",
                                   ["off", "step-count", "compaction-event"])
                if picked:
                    changes["trigger"] = picked
            if changes:
                raw = session.home.raw_settings()
                merged = {**raw.get("sleeptime", {}), **changes}
                try:
                    structure_settings({"sleeptime": merged})
                except SettingsError as exc:
                    raise InvalidParams(str(exc)) from exc
                await ls.run_blocking(lambda: session.home.update_settings(sleeptime=merged))
                await ls.run_blocking(session.reload_settings, None)
                ls.fire(Event.SETTINGS_CHANGED)
            return unstructure_settings(session.settings)["sleeptime"]
