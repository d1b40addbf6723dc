"""Lifecycle, settings, status, and a server that never blocks and never dies."""

import asyncio
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types

from letta_ls.memfs.repo import Author
from tests.lsp.raw import RawServer


async def until_tree(client, predicate, timeout: float = 10.0):
    """Ask for ``letta/memoryTree`` until ``predicate`` holds: settings apply asynchronously after the notification."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        tree = await client.protocol.send_request_async("letta/memoryTree", {})
        if predicate(tree) or asyncio.get_running_loop().time() > deadline:
            return tree
        await asyncio.sleep(0.05)


async def test_status_is_sent_on_start_and_after_memory_grows(client):
    first = await client.recorder.wait_for("letta/status")
    assert first.agentId == client.agent.id and first.agentName == "Letta Code"
    assert first.conversationId == "default" and first.dream == "idle" and first.systemTokens > 0
    repo = client.home.memory_repo(client.agent)
    repo.commit({"system/project.md": b"---\ndescription: the project\n---\n" + b"Rust service. " * 50},
                "learn the project", Author("a", "a@x"))
    grown = await client.recorder.wait_for("letta/status", lambda s: s.systemTokens > first.systemTokens)
    assert grown.systemTokens > first.systemTokens + 50


async def test_settings_from_configuration_and_a_bad_change_keeps_the_previous(client):
    client.set_configuration({"letta": {"memory": {"systemTokenBudget": 1234}}})
    # a client with workspace/configuration is asked (set_configuration); one without sends them inline
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"letta": {"memory": {"systemTokenBudget": 1234}}}))
    tree = await until_tree(client, lambda t: t.totals.systemTokenBudget == 1234)
    assert tree.totals.systemTokenBudget == 1234
    client.set_configuration({"letta": {"memory": {"systemTokenBudget": "lots"}}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"letta": {"memory": {"systemTokenBudget": "lots"}}}))
    for _ in range(40):
        if client.messages:
            break
        await asyncio.sleep(0.05)
    assert any("systemTokenBudget" in m.message and m.type == types.MessageType.Error for m in client.messages)
    tree = await client.protocol.send_request_async("letta/memoryTree", {})
    assert tree.totals.systemTokenBudget == 1234


async def test_a_slow_operation_does_not_delay_other_requests(client):
    repo = client.home.memory_repo(client.agent)
    big = {f"reference/bulk/f{i}.md": f"---\ndescription: bulk {i}\n---\n{'word ' * 400}{i}\n".encode()
           for i in range(4000)}
    repo.commit(big, "a large memory makes the doctor slow", Author("a", "a@x"))
    # send_request writes the message at once, so the doctor is asked before the read below
    doctor = asyncio.wrap_future(client.protocol.send_request("workspace/executeCommand", types.ExecuteCommandParams(
        command="letta.doctor", arguments=[{}])))
    started = time.perf_counter()
    text = await client.workspace_text_document_content_async(
        types.TextDocumentContentParams(uri=f"letta-memory://{client.agent.id}/system/human.md"))
    answered = time.perf_counter() - started
    assert text.text.startswith("---")
    assert not doctor.done(), "the doctor should still be running: the test needs a slow operation"
    await doctor
    doctor_time = time.perf_counter() - started
    assert answered < doctor_time / 2


JUNK = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
URIS = st.sampled_from(["letta-memory://x/../y.md", "file:///etc/passwd", "letta-memory://", "", "::",
                        "letta-memory-rev://a/zz/x.md", "letta-conversation://a/b"]) | st.text(max_size=40)
METHODS = st.sampled_from([
    "letta/memoryWrite", "letta/memoryRead", "letta/memoryTree", "letta/memoryHistory", "workspace/executeCommand",
    "workspace/textDocumentContent", "textDocument/codeAction", "textDocument/hover", "textDocument/completion",
    "textDocument/documentLink", "letta/unknownMethod",
]) | JUNK
PARAMS = st.one_of(
    JUNK,
    st.fixed_dictionaries({"uri": URIS, "text": JUNK, "baseVersion": JUNK}),
    st.fixed_dictionaries({"command": st.text(max_size=20) | st.sampled_from(["letta.doctor", "letta.pin"]),
                           "arguments": JUNK}),
    st.fixed_dictionaries({"textDocument": st.fixed_dictionaries({"uri": URIS}),
                           "position": st.fixed_dictionaries({"line": JUNK, "character": JUNK})}),
)


def test_hundreds_of_malformed_requests_each_get_an_answer_and_the_server_keeps_serving(tmp_path):
    server = RawServer(tmp_path)
    try:
        server.initialize()

        @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(method=METHODS, params=PARAMS)
        def send(method, params):
            answer = server.request(method, params)
            if "error" in answer:
                assert answer["error"]["message"], answer
                assert "Traceback" not in answer["error"]["message"]

        send()
        tree = server.request("letta/memoryTree", {})
        assert tree["result"]["entries"], tree
    finally:
        server.close()


def test_raw_garbage_on_the_wire_does_not_kill_the_server(tmp_path):
    server = RawServer(tmp_path)
    try:
        server.initialize()
        for garbage in [b"{not json", b"[]", b'{"jsonrpc": "2.0"}', b'{"jsonrpc":"2.0","id":2,"method":5}',
                        b'{"jsonrpc":"2.0","id":3,"method":"letta/memoryRead","params":"nope"}']:
            server.write(garbage)
        tree = server.request("letta/memoryTree", {})
        assert tree["result"]["agentId"].startswith("agent-")
    finally:
        server.close()
