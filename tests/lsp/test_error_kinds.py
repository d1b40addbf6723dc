"""Every error a request returns carries a stable ``data.kind`` (SPEC section 6), over the real server.

Editors switch on the kind, never on the English message, so each kind is asserted here as an editor sees it:
the JSON-RPC code, ``data.kind`` and a message naming what was wrong. ``config`` is asserted in
``test_bad_config.py`` (it needs a broken home).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from letta_ls.contract import ErrorKind

ONE_CLIENT = pytest.mark.parametrize("client", [("visual-studio-code", "stdio")], indirect=True)
pytestmark = ONE_CLIENT


def uri_of(client, path: str) -> str:
    return f"letta-memory://{client.agent.id}/{path}"


async def request(client, method: str, params):
    return await client.protocol.send_request_async(method, params)


async def run(client, command: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))


async def refusal(call) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as err:
        await call
    return err.value


async def test_a_stale_save_is_kind_stale_with_the_current_version(client):
    uri = uri_of(client, "system/human.md")
    current = await request(client, "letta/memoryRead", {"uri": uri})
    error = await refusal(request(client, "letta/memoryWrite", {"uri": uri, "text": "x", "baseVersion": "0" * 40}))
    assert error.code == -32801
    assert error.data["kind"] == ErrorKind.STALE == "stale"
    assert error.data["current"] == current.version and error.data["path"] == "system/human.md"


async def test_a_missing_file_or_conversation_is_kind_not_found(client):
    error = await refusal(request(client, "letta/memoryRead", {"uri": uri_of(client, "notes/nowhere.md")}))
    assert (error.code, error.data["kind"]) == (-32803, "not-found")
    error = await refusal(request(client, "letta/memoryHistory", {"uri": uri_of(client, "notes/nowhere.md")}))
    assert error.data["kind"] == "not-found"
    error = await refusal(request(client, "letta/memoryDelete", {"uri": uri_of(client, "notes/nowhere.md")}))
    assert error.data["kind"] == "not-found" and "does not exist" in error.message
    error = await refusal(request(client, "letta/memoryRead",
                                  {"uri": f"letta-conversation://{client.agent.id}/conv-0000.md"}))
    assert error.data["kind"] == "not-found"


async def test_writing_a_revision_is_kind_read_only(client):
    uri = f"letta-memory-rev://{client.agent.id}/{'a' * 40}/system/human.md"
    error = await refusal(request(client, "letta/memoryWrite", {"uri": uri, "text": "x"}))
    assert (error.code, error.data["kind"]) == (-32803, "read-only")
    error = await refusal(request(client, "letta/memoryDelete", {"uri": uri}))
    assert error.data["kind"] == "read-only"


async def test_moving_a_file_to_another_agents_memory_is_kind_refused(client):
    error = await refusal(request(client, "letta/memoryRename", {
        "uri": uri_of(client, "system/human.md"), "newUri": "letta-memory://agent-0123456789abcdef/human.md"}))
    assert (error.code, error.data["kind"]) == (-32803, "refused")
    assert "within one agent's memory" in error.message


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("letta/memoryRead", {"uri": 42}, "'uri' must be str"),
        ("letta/memoryRead", {}, "missing parameter 'uri'"),
        ("letta/memoryWrite", {"uri": "letta-memory://agent-x/a.md", "text": "x", "baseVersion": 7}, "'baseVersion'"),
        ("letta/memoryHistory", {"uri": "letta-memory://agent-x/a.md", "limit": True}, "'limit' must be an integer"),
        ("letta/memoryRename", {"uri": "letta-memory://agent-x/a.md"}, "missing parameter 'newUri'"),
        ("letta/memoryTree", [1, 2], "JSON object"),
    ],
)
async def test_params_of_the_wrong_shape_are_invalid_params_naming_the_field(client, method, params, field):
    error = await refusal(request(client, method, params))
    assert (error.code, error.data["kind"]) == (-32602, "invalid")
    assert method in error.message and field in error.message, error.message


async def test_a_command_argument_of_the_wrong_shape_is_kind_invalid(client):
    error = await refusal(run(client, "letta.doctor", {"fix": "yes"}))
    assert (error.code, error.data["kind"]) == (-32602, "invalid")
    assert "fix is true or false" in error.message
    error = await refusal(run(client, "letta.init", {"depth": "shallow"}))
    assert error.data["kind"] == "invalid" and 'depth is "standard" or "deep", not "shallow"' in error.message
    error = await refusal(run(client, "letta.doctor", {}, {}))
    assert error.data["kind"] == "invalid"


async def test_a_rename_onto_an_existing_file_or_a_taken_agent_name_is_kind_conflict(client):
    error = await refusal(request(client, "letta/memoryRename", {"uri": uri_of(client, "system/human.md"),
                                                                 "newUri": uri_of(client, "system/persona.md")}))
    assert (error.code, error.data["kind"]) == (-32803, "conflict")
    error = await refusal(run(client, "letta.createAgent", {"name": client.agent.name}))
    assert error.data["kind"] == "conflict"


async def test_an_unknown_agent_is_kind_not_found(client):
    error = await refusal(run(client, "letta.switchAgent", {"name": "Nobody"}))
    assert error.data["kind"] == "not-found"


async def test_a_dream_without_a_model_is_kind_unavailable(client):
    error = await refusal(run(client, "letta.dream", {}))
    assert (error.code, error.data["kind"]) == (-32803, "unavailable")


async def test_a_defrag_while_a_dream_waits_for_the_agents_lock_is_kind_busy(client):
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"letta": {"model": {
        "provider": "openai", "name": "gpt-test", "baseUrl": "http://127.0.0.1:9/v1"}}}))
    await client.recorder.wait_for("letta/status", lambda s: s.model == "gpt-test", timeout=60)
    lock = client.agent.worktrees_dir / ".runner.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what another window's run would hold
    try:
        dream = asyncio.create_task(run(client, "letta.dream", {}))
        for _ in range(400):  # until the dream is queued (letta/status lists it waiting)
            statuses = client.recorder.events.get("letta/status", [])
            if any(getattr(r, "kind", None) == "dream" for s in statuses for r in (s.runs or [])):
                break
            await asyncio.sleep(0.05)
        error = await refusal(run(client, "letta.defrag", {}))
        assert (error.code, error.data["kind"]) == (-32803, "busy")
        assert "already waiting" in error.message
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    with contextlib.suppress(JsonRpcException):  # the dream then runs (its outcome is not this test's concern)
        await asyncio.wait_for(dream, 120)
