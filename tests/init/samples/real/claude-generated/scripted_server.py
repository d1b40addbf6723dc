"""A scripted Anthropic Messages API on 127.0.0.1, so the real Claude Code CLI can run here offline.

Claude Code writes its transcripts itself; this server only plays the model's part, from a fixed script:
``POST /v1/messages`` (``?beta=true`` too) answers with the streamed event sequence the real API sends
(``message_start``, ``content_block_start`` / ``content_block_delta`` (``text_delta``, ``input_json_delta``
in pieces) / ``content_block_stop``, ``message_delta``, ``message_stop``), or one JSON message when
``stream`` is false. The main conversation (a request that offers tools) gets the next step of ``SCRIPT``,
chosen by how many assistant turns the request already holds, so a rerun gives the same transcript. Side
requests without tools (a title, a topic check, a summary, made with a small model) get one short text.
Everything else (telemetry, ``/api/...`` checks) is answered 404 and logged, so what a version calls is
visible in the log file.

Run: ``python3 scripted_server.py PORT_FILE PROJECT_DIR LOG_FILE`` (binds a free port, writes it to PORT_FILE).
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

PROJECT = ""  # set from argv: the folder Claude Code runs in (tool inputs need absolute paths)
LOG: Path | None = None
_ids = count(1)


def script(project: str) -> list[list[dict]]:
    """The model's turns, in order: each a list of content blocks (text, or tool_use without an id)."""
    return [
        [{"type": "text", "text": "It is a small square logo. Let me also look at the logo file in the project."},
         {"type": "tool_use", "name": "Read", "input": {"file_path": f"{project}/logo.png"}}],
        [{"type": "tool_use", "name": "Read", "input": {"file_path": f"{project}/README.md"}}],
        [{"type": "tool_use", "name": "Edit", "input": {
            "file_path": f"{project}/README.md", "old_string": "A tiny project.",
            "new_string": "A tiny project with a logo (logo.png)."}}],
        [{"type": "tool_use", "name": "Write", "input": {
            "file_path": f"{project}/NOTES.md",
            "content": "# Notes\n\n- logo.png: a small square logo, one colour.\n"}}],
        [{"type": "text", "text": "Done: README.md mentions the logo and NOTES.md describes it."}],
        [{"type": "text", "text": "That screenshot shows the same logo, smaller."}],
        [{"type": "text", "text": "You are welcome."}],
    ]


def _log(entry: dict) -> None:
    if LOG is not None:
        with LOG.open("a") as f:
            f.write(json.dumps(entry) + "\n")


def _assistant_turns(messages: list) -> int:
    return sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")


def _reply_blocks(body: dict) -> list[dict]:
    messages = body.get("messages") or []
    if not body.get("tools"):
        system = json.dumps(body.get("system", ""))
        if "isNewTopic" in system:
            return [{"type": "text", "text": '{"isNewTopic": false, "title": null}'}]
        return [{"type": "text", "text": "Logo description"}]
    steps = script(PROJECT)
    turn = _assistant_turns(messages)
    blocks = steps[min(turn, len(steps) - 1)]
    return [dict(b, id=f"toolu_{next(_ids):024d}") if b["type"] == "tool_use" else b for b in blocks]


def _message(body: dict, blocks: list[dict]) -> dict:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {"id": f"msg_{next(_ids):024d}", "type": "message", "role": "assistant",
            "model": body.get("model", "claude-sonnet-4"), "content": blocks, "stop_reason": stop,
            "stop_sequence": None, "usage": {"input_tokens": 100, "output_tokens": 20,
                                             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}


def _events(message: dict) -> list[tuple[str, dict]]:
    start = dict(message, content=[], stop_reason=None, usage=dict(message["usage"], output_tokens=1))
    events = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}}))
            text = block["text"]
            for piece in (text[: len(text) // 2], text[len(text) // 2:]):
                events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "text_delta", "text": piece}}))
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))
            arguments = json.dumps(block["input"])
            for piece in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2:]):
                events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "input_json_delta", "partial_json": piece}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": message["stop_reason"], "stop_sequence": None}, "usage": {"output_tokens": 20}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # quiet: the log file has what matters
        pass

    def _send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        _log({"method": "GET", "path": self.path})
        self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not here"}})

    def do_HEAD(self) -> None:
        _log({"method": "HEAD", "path": self.path})
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?")[0]
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if path == "/v1/messages/count_tokens":
            _log({"method": "POST", "path": self.path})
            self._send_json(200, {"input_tokens": 100})
            return
        if path != "/v1/messages":
            _log({"method": "POST", "path": self.path})
            self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not here"}})
            return
        blocks = _reply_blocks(body)
        _log({"method": "POST", "path": self.path, "model": body.get("model"), "stream": body.get("stream"),
              "tools": len(body.get("tools") or []), "messages": len(body.get("messages") or []),
              "system": json.dumps(body.get("system", ""))[:160] if not body.get("tools") else None,
              "reply": [b.get("name") or b.get("text", "")[:40] for b in blocks]})
        message = _message(body, blocks)
        if not body.get("stream"):
            self._send_json(200, message)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        for name, payload in _events(message):
            self.wfile.write(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True


def main() -> None:
    global PROJECT, LOG
    port_file, PROJECT, log = sys.argv[1], sys.argv[2], sys.argv[3]
    LOG = Path(log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
