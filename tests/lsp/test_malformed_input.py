"""Malformed LSP input against the real server process (issue 11, point 9).

Each case sends one thing no well-behaved client sends, then checks what a user would notice: the
server still answers, the broken message got an error answer with the JSON-RPC code the spec asks
for, and nothing was half-done on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from letta_ls.home import Home
from tests.lsp.raw import RawServer

NOT_INITIALIZED, INVALID_REQUEST, PARSE_ERROR, INVALID_PARAMS = -32002, -32600, -32700, -32602


@pytest.fixture
def server(tmp_path: Path):
    raw = RawServer(tmp_path)
    raw.home = Home(tmp_path)
    yield raw
    raw.close()


@pytest.fixture
def ready(server: RawServer) -> RawServer:
    server.initialize()
    server.agent_id = server.request("letta/memoryTree", {})["result"]["agentId"]
    return server


def body(msg_id: int, method: str = "letta/memoryTree", params: object = None) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params or {}}).encode()


def still_serving(server: RawServer) -> None:
    tree = server.request("letta/memoryTree", {}, timeout=10)
    assert tree["result"]["agentId"].startswith("agent-"), tree


# ------------------------------------------------------------------ framing: be liberal, resynchronise
@pytest.mark.parametrize("header", [b"content-length: %d\r\n\r\n", b"CONTENT-LENGTH: %d\r\n\r\n",
                                    b"Content-Length: %d\n\n", b"Content-Length:%d\r\n\r\n"],
                         ids=["lower-case", "upper-case", "LF-only", "no-space"])
def test_a_liberal_header_is_understood(ready: RawServer, header: bytes):
    msg_id = ready.new_id()
    payload = body(msg_id)
    ready.send_raw(header % len(payload) + payload)
    assert ready.answer(msg_id, timeout=10)["result"]["agentId"] == ready.agent_id
    still_serving(ready)


@pytest.mark.parametrize("length", [b"abc", b"-5", b"", b"1e3"], ids=["letters", "negative", "empty", "float"])
def test_an_unreadable_content_length_is_skipped_and_the_next_frame_is_answered(ready: RawServer, length: bytes):
    ready.send_raw(b"Content-Length: " + length + b"\r\n\r\n" + body(ready.new_id()))
    still_serving(ready)


def test_a_content_length_too_small_gives_a_parse_error_and_the_next_frame_is_answered(ready: RawServer):
    ready.send_raw(b"Content-Length: 3\r\n\r\n" + body(ready.new_id()))
    assert ready.unaddressed_error(timeout=10)["error"]["code"] == PARSE_ERROR
    still_serving(ready)


# ------------------------------------------------------------------ JSON-RPC envelopes: every request answered
@pytest.mark.parametrize("envelope", [
    {"jsonrpc": "2.0", "method": 5},
    {"method": "letta/memoryTree"},
    {"jsonrpc": "1.0", "method": "letta/memoryTree"},
    {"jsonrpc": 2, "method": "letta/memoryTree"},
], ids=["method-is-a-number", "no-jsonrpc", "jsonrpc-1.0", "jsonrpc-is-a-number"])
def test_an_invalid_request_gets_invalid_request(ready: RawServer, envelope: dict):
    msg_id = ready.new_id()
    ready.write(json.dumps({**envelope, "id": msg_id, "params": {}}).encode())
    answer = ready.answer(msg_id, timeout=10)
    assert answer["error"]["code"] == INVALID_REQUEST and answer["error"]["message"], answer
    still_serving(ready)


def test_invalid_json_with_an_id_gets_a_parse_error_with_id_null(ready: RawServer):
    ready.write(b'{"jsonrpc": "2.0", "id": 77, "method": "letta/memoryTree", "params": {')
    answer = ready.unaddressed_error(timeout=10)
    assert answer["error"]["code"] == PARSE_ERROR and answer["id"] is None
    still_serving(ready)


def test_a_batch_gets_invalid_request(ready: RawServer):
    ready.write(b"[" + body(ready.new_id()) + b"]")
    assert ready.unaddressed_error(timeout=10)["error"]["code"] == INVALID_REQUEST
    still_serving(ready)


def test_a_request_before_initialize_gets_server_not_initialized(server: RawServer):
    answer = server.request("letta/memoryTree", {}, timeout=10)
    assert answer["error"]["code"] == NOT_INITIALIZED, answer
    server.initialize()
    still_serving(server)


def test_every_request_after_shutdown_gets_invalid_request(ready: RawServer):
    assert ready.request("shutdown", None)["result"] is None
    for method in ("letta/memoryTree", "textDocument/hover", "shutdown"):
        answer = ready.request(method, {}, timeout=10)
        assert answer["error"]["code"] == INVALID_REQUEST, (method, answer)
    ready.notify("exit")
    assert ready.wait_exit() == 0


def test_exit_without_shutdown_exits_with_1(ready: RawServer):
    ready.notify("exit")
    assert ready.wait_exit() == 1


# ------------------------------------------------------------------ text the core cannot store
def write(server: RawServer, path: str, text: str, reason: str | None = None) -> dict:
    params = {"uri": f"letta-memory://{server.agent_id}/{path}", "text": text}
    if reason is not None:
        params["reason"] = reason
    return server.request("letta/memoryWrite", params)


def assert_clear_refusal(answer: dict, word: str) -> None:
    assert "error" in answer, answer
    message = answer["error"]["message"]
    assert answer["error"]["code"] == INVALID_PARAMS, answer
    assert word in message and "could not do that" not in message and "Error:" not in message, message


def test_a_lone_surrogate_in_text_is_refused_clearly(ready: RawServer):
    ready.write(b'{"jsonrpc":"2.0","id":501,"method":"letta/memoryWrite","params":{"uri":"letta-memory://'
                + ready.agent_id.encode() + b'/notes/s.md","text":"half \\ud800 a pair"}}')
    assert_clear_refusal(ready.answer(501), "text")
    still_serving(ready)


def test_a_lone_surrogate_in_a_file_name_is_refused_clearly(ready: RawServer):
    ready.write(b'{"jsonrpc":"2.0","id":502,"method":"letta/memoryWrite","params":{"uri":"letta-memory://'
                + ready.agent_id.encode() + b'/notes/s\\udc80.md","text":"x"}}')
    assert_clear_refusal(ready.answer(502), "uri")


def test_a_nul_in_text_is_refused_clearly(ready: RawServer):
    assert_clear_refusal(write(ready, "notes/nul.md", "a\x00b"), "text")


def test_a_nul_in_a_file_name_is_refused_clearly(ready: RawServer):
    answer = write(ready, "notes/n\x00ul.md", "x")
    assert "error" in answer and "could not do that" not in answer["error"]["message"], answer


def test_a_nul_in_a_reason_is_refused_clearly(ready: RawServer):
    assert_clear_refusal(write(ready, "notes/r.md", "x", reason="why\x00not"), "reason")


def test_a_one_megabyte_reason_is_refused_clearly(ready: RawServer):
    answer = write(ready, "notes/big-reason.md", "x", reason="because " * 131072)
    assert_clear_refusal(answer, "reason")
    still_serving(ready)


def test_a_253_byte_file_name_saves(ready: RawServer):
    name = "n" * 250 + ".md"
    assert len(name.encode()) == 253
    answer = write(ready, f"a/{name}", "---\ndescription: long name\n---\nkept\n")
    assert "result" in answer, answer
    read = ready.request("letta/memoryRead", {"uri": f"letta-memory://{ready.agent_id}/a/{name}"})
    assert read["result"]["text"].endswith("kept\n")


def test_a_nul_in_an_agent_name_is_refused_before_anything_is_created(ready: RawServer):
    agents = ready.home.agents_dir
    before = sorted(p.name for p in agents.iterdir())
    answer = ready.request("workspace/executeCommand",
                           {"command": "letta.createAgent", "arguments": [{"name": "bad\x00name"}]})
    assert "error" in answer and "could not do that" not in answer["error"]["message"], answer
    assert "name" in answer["error"]["message"]
    assert sorted(p.name for p in agents.iterdir()) == before
    still_serving(ready)
