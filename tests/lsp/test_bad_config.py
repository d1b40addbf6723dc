"""A broken configuration never breaks the language server (issue 11, point 4).

For each way the home can be broken, against the real server process: ``initialize`` succeeds; a
``window/showMessage`` and a diagnostic name the file; a request that does not need the broken part works;
one that does fails with ``data.kind == "config"`` naming the file; and once the file is fixed (no restart)
the diagnostic is cleared and that request works.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from letta_ls.home import Agent, Home
from tests.lsp.conftest import Recorder, accept_registrations, server_env, shut_down, start_server


@dataclass
class World:
    """A home with one agent, the file a case breaks, and how to put it back."""

    root: Path
    home: Home
    agent: Agent
    broken: Path = Path()
    fix: Callable[[], None] = lambda: None


def rewrite(path: Path, text: str, world: World) -> None:
    original = path.read_bytes() if path.exists() else None
    path.write_text(text)
    world.broken = path
    world.fix = (lambda: path.write_bytes(original)) if original is not None else (lambda: path.unlink())


def agent_field(key: str, value: Any) -> Callable[[World], None]:
    def breaker(world: World) -> None:
        meta = world.agent.dir / "agent.json"
        rewrite(meta, json.dumps({**json.loads(meta.read_text()), key: value}), world)
    return breaker


def settings(text: str) -> Callable[[World], None]:
    return lambda world: rewrite(world.home.settings_path, text, world)


def moved_away(relative: str) -> Callable[[World], None]:
    def breaker(world: World) -> None:
        target = world.agent.dir / relative
        aside = target.with_name(target.name + ".aside")
        target.rename(aside)
        world.broken = target
        world.fix = lambda: aside.rename(target)
    return breaker


def garbage_head(world: World) -> None:
    head = world.agent.memory_dir / ".git" / "HEAD"
    rewrite(head, "garbage\n", world)
    world.broken = head.parent


def home_is_a_file(world: World) -> None:
    shutil.rmtree(world.root)
    world.root.write_text("this should have been a folder")
    world.broken = world.root

    def fix() -> None:
        world.root.unlink()
        world.root.mkdir()
    world.fix = fix


#: breaks that stop the session: memory requests fail until the fix, with this ``data.problem``
SESSION_BREAKS = {
    "agent.json is not JSON": (lambda w: rewrite(w.agent.dir / "agent.json", "{oops", w), "agent-invalid"),
    "agent.json model is a string": (agent_field("model", "gpt-4.1"), "agent-invalid"),
    "agent.json model is a list": (agent_field("model", ["gpt-4.1"]), "agent-invalid"),
    "agent.json lastUsed is a number": (agent_field("lastUsed", 5), "agent-invalid"),
    "home is a file": (home_is_a_file, "home-unusable"),
    "memory folder missing": (moved_away("memory"), "memory-missing"),
    "memory/.git missing": (moved_away("memory/.git"), "memory-missing"),
    "garbage .git/HEAD": (garbage_head, "memory-broken"),
}
#: a bad settings.json: the server works on the default settings meanwhile
SETTINGS_BREAKS = {
    "settings.json is not JSON": settings("{not json"),
    "settings.json is empty": settings(""),
    "settings.json is a list": settings("[1]"),
    "settings.json nested too deeply": settings("[" * 100_000 + "]" * 100_000),
}


@pytest.fixture
def world(tmp_path: Path) -> World:
    root = tmp_path / "home"
    home = Home(root)
    return World(root, home, home.current_agent())


@pytest_asyncio.fixture
async def start(world: World):
    """Start the real server on ``world`` (already broken by the test) and initialize it."""
    clients = []

    async def starter():
        client = make_test_lsp_client()
        accept_registrations(client)
        client.recorder = Recorder()
        client.feature("letta/status")(lambda params: client.recorder.record("letta/status", params))
        await start_server(client, "stdio", server_env(world.root))
        clients.append(client)
        client.init_result = await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            workspace_folders=[types.WorkspaceFolder(uri=world.root.parent.as_uri(), name="ws")],
            initialization_options={"home": str(world.root)}))
        return client

    yield starter
    for client in clients:
        await shut_down(client)


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def message_naming(client, path: Path, kind: types.MessageType) -> Callable[[], Any]:
    return lambda: next((m for m in client.messages if str(path) in m.message and m.type == kind), None)


async def memory_tree(client) -> Any:
    return await client.protocol.send_request_async("letta/memoryTree", {})


async def other_files_still_work(client, root: Path) -> None:
    """A request that needs no memory: a hover in an ordinary file of the workspace."""
    uri = (root.parent / "notes.md").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="markdown", version=1, text="[a link](./x.md)\n")))
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=3)))
    assert hover is None


async def reported_then_fixed(client, world: World) -> None:
    """The message and the diagnostic name the broken file; after the fix both say so, without a restart."""
    shown = await eventually(message_naming(client, world.broken, types.MessageType.Error))
    assert "Traceback" not in shown.message
    uri = world.broken.as_uri()
    diagnostics = await eventually(lambda: client.diagnostics.get(uri))
    assert diagnostics[0].source == "letta" and diagnostics[0].severity == types.DiagnosticSeverity.Error
    world.fix()
    await eventually(message_naming(client, world.broken, types.MessageType.Info))
    assert list(client.diagnostics.get(uri)) == []  # cleared


@pytest.mark.parametrize("case", list(SESSION_BREAKS))
async def test_a_broken_configuration_is_reported_and_picked_up_when_fixed(world, start, case):
    breaker, problem = SESSION_BREAKS[case]
    breaker(world)
    client = await start()  # initialize succeeds
    assert client.init_result.capabilities.hover_provider
    await eventually(message_naming(client, world.broken, types.MessageType.Error))
    await other_files_still_work(client, world.root)
    if problem != "home-unusable":  # the home itself is fine: its agent list still answers
        listed = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="letta.listAgents", arguments=[{}]))
        assert isinstance(listed, list)
    with pytest.raises(JsonRpcException) as err:
        await memory_tree(client)
    assert str(world.broken) in err.value.message and "not initialized" not in err.value.message
    assert err.value.data == {"kind": "config", "problem": problem, "path": str(world.broken)}
    await reported_then_fixed(client, world)
    tree = await memory_tree(client)
    assert any(e.path == "system/persona.md" for e in tree.entries)
    status = await client.recorder.wait_for("letta/status")  # the features that wait for `initialized` started
    assert status.agentId == Home(world.root).current_agent().id


@pytest.mark.parametrize("case", list(SETTINGS_BREAKS))
async def test_a_broken_settings_json_leaves_memory_working(world, start, case):
    SETTINGS_BREAKS[case](world)
    client = await start()
    await eventually(message_naming(client, world.broken, types.MessageType.Error))
    tree = await memory_tree(client)  # nothing about memory needs settings.json: it works on the defaults
    assert tree.totals.systemTokenBudget == 20_000 and tree.agentId == world.agent.id
    before = world.home.settings_path.read_bytes()
    with pytest.raises(JsonRpcException) as err:  # pinning writes settings.json: refused, the file left alone
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="letta.pin", arguments=[{}]))
    assert err.value.data["kind"] == "config" and err.value.data["path"] == str(world.home.settings_path)
    assert world.home.settings_path.read_bytes() == before
    await reported_then_fixed(client, world)
    pinned = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="letta.pin", arguments=[{}]))
    assert pinned["pinned"] is True


async def test_a_mistyped_setting_uses_the_default_until_fixed(world, start):
    rewrite(world.home.settings_path, json.dumps({"memory": {"systemTokenBudget": "lots"}}), world)
    client = await start()
    shown = await eventually(message_naming(client, world.broken, types.MessageType.Error))
    assert "systemTokenBudget" in shown.message
    assert (await memory_tree(client)).totals.systemTokenBudget == 20_000
    world.home.settings_path.write_text(json.dumps({"memory": {"systemTokenBudget": 1234}}))
    await eventually(message_naming(client, world.broken, types.MessageType.Info))
    assert (await memory_tree(client)).totals.systemTokenBudget == 1234


async def test_a_settings_json_broken_while_running_is_reported_on_did_change_configuration(world, start):
    client = await start()
    assert (await memory_tree(client)).agentId == world.agent.id
    rewrite(world.home.settings_path, "{oops", world)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"letta": {}}))
    await reported_then_fixed(client, world)
    assert not [m for m in client.messages if "keeping the previous settings" in m.message]


async def test_a_broken_agent_is_not_replaced_by_a_new_one(world, start):
    agent_field("model", "gpt-4.1")(world)
    broken = world.broken.read_bytes()
    client = await start()
    await eventually(message_naming(client, world.broken, types.MessageType.Error))
    await asyncio.sleep(2.5)  # a few re-checks and client messages
    await other_files_still_work(client, world.root)
    assert sorted(p.name for p in world.home.agents_dir.iterdir()) == [world.agent.id]
    assert world.broken.read_bytes() == broken
    assert len([m for m in client.messages if m.type == types.MessageType.Error]) == 1  # told once, not per check


async def test_switching_away_from_a_broken_agent_works_without_a_restart(world, start):
    other = world.home.create_agent("Other")
    agent_field("model", "gpt-4.1")(world)
    client = await start()
    await eventually(message_naming(client, world.broken, types.MessageType.Error))
    switched = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="letta.switchAgent", arguments=[{"agentId": other.id}]))
    assert switched["agentId"] == other.id
    assert (await memory_tree(client)).agentId == other.id
    await eventually(message_naming(client, world.broken, types.MessageType.Info))
    assert list(client.diagnostics.get(world.broken.as_uri())) == []


NOBODY = 65534


async def test_a_read_only_home_is_reported_and_picked_up_when_writable():
    """The home cannot be written (no agent can be created in it). As root, permissions do not bind, so the
    server runs as ``nobody`` (setpriv) on a home owned by root; otherwise the home is made read-only."""
    base = Path(tempfile.mkdtemp(prefix="letta-ro-", dir="/tmp"))
    try:
        base.chmod(0o755)
        root = base / "home"
        root.mkdir(mode=0o755)
        as_root = os.geteuid() == 0
        if not as_root:
            root.chmod(0o555)
        client = make_test_lsp_client()
        accept_registrations(client)
        command = [sys.executable, "-m", "letta_ls", "serve"]
        if as_root:
            command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *command]
        env = {**server_env(root), "HOME": str(base), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        await client.start_io(*command, env=env)
        try:
            await client.initialize_session(types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"), initialization_options={"home": str(root)}))
            shown = await eventually(message_naming(client, root, types.MessageType.Error))
            assert "cannot be written" in shown.message and "Traceback" not in shown.message
            with pytest.raises(JsonRpcException) as err:
                await memory_tree(client)
            assert err.value.data["kind"] == "config" and err.value.data["problem"] == "home-unusable"
            await other_files_still_work(client, root)
            if as_root:
                os.chown(root, NOBODY, NOBODY)
            else:
                root.chmod(0o755)
            await eventually(lambda: [m for m in client.messages if m.type == types.MessageType.Info])
            tree = await memory_tree(client)
            assert any(e.path == "system/persona.md" for e in tree.entries)
        finally:
            await shut_down(client)
    finally:
        shutil.rmtree(base, ignore_errors=True)
