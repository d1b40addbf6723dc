"""A scripted stand-in for the OpenAI Responses API, so the real Codex CLI can write real rollouts offline.

Codex (any Rust version) streams ``POST /v1/responses`` and reads server-sent events: ``response.created``,
one ``response.output_item.done`` per item, ``response.completed`` with the token usage. This server plays the
model from a fixed script: it looks at the last item of the request's ``input`` (the user's prompt or a tool's
output) and answers with the next step of that prompt's plan. Call ids name their step (``call_<plan>_<n>``),
so the server keeps no state and a re-run writes the same conversation.

The text the "model" says and the commands it runs are this script's; everything else in a rollout (the
session metadata, the harness's context messages, the tool outputs, the compaction record) is Codex's.

Usage: ``python3 scripted_model.py PORT_FILE REQUEST_LOG FULL_AT PATCH_SPELLING``: listens on an ephemeral
port of 127.0.0.1, writes the port to PORT_FILE, appends every request body to REQUEST_LOG (for whoever
re-runs the generator and wants to see what Codex sent). Every answer reports 1,200 tokens of usage except
the step FULL_AT names (``typo:3``: the first prompt's final answer; ``test:0``: the second prompt's first
call; ``none``), which reports 200,000: with a low ``model_auto_compact_token_limit`` Codex then compacts the
history, once, before the next prompt or (after a call) within the turn, and the model goes on with the step
after FULL_AT.
PATCH_SPELLING is how the model edits files: ``apply_patch`` (the ``apply_patch`` tool when Codex offers it,
else ``apply_patch <<'EOF'`` through the shell) or ``applypatch`` (the old spelling, through the shell).
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATCH_TYPO = """*** Begin Patch
*** Update File: README.md
@@
-# Greeter: says helo
+# Greeter: says hello
*** End Patch
"""

PATCH_TEST = """*** Begin Patch
*** Add File: test_greet.py
+from greet import greet
+
+
+def test_greet():
+    assert greet("Ada") == "Hello, Ada!"
*** End Patch
"""

SUMMARY = ("Summary of the work so far: the user asked to fix the typo in README.md; the agent listed the folder, "
           "read README.md and greet.py, and patched README.md (helo -> hello). Next: whatever the user asks.")

# a plan per prompt: matched by a phrase of the prompt, then one step per answer
PLANS = {
    "typo": ("Fix the typo in README.md", [
        ("shell", "ls"),
        ("shell", "cat README.md greet.py"),
        ("patch", PATCH_TYPO),
        ("say", "Fixed the typo in README.md: the heading now says \"hello\"."),
    ]),
    "test": ("Add a test for greet", [
        ("shell", "grep -n 'def ' greet.py | head -5"),
        ("patch", PATCH_TEST),
        ("say", "Added test_greet.py with one test of greet()."),
    ]),
}


class Script:
    """What the model says next, given the request Codex sent."""

    def __init__(self, tools: list[dict], apply_patch_spelling: str, full_at: tuple[str, int] | None) -> None:
        self.tool_names = {t.get("name") for t in tools if isinstance(t, dict)}
        self.spelling = apply_patch_spelling
        self.full_at = full_at

    def answer(self, body: dict) -> list[dict]:
        items = body.get("input") or []
        last = items[-1] if items else {}
        if _is_compaction_request(body):
            return [_message(SUMMARY)]
        if last.get("type") in ("function_call_output", "custom_tool_call_output"):
            plan, step = _parse_call_id(last.get("call_id", ""))
            return self.step(plan, step + 1)
        if last.get("type") == "message" and last.get("role") == "user":
            text = _text(last)
            for plan, (phrase, _steps) in PLANS.items():
                if text.startswith(phrase):  # the typed prompt, not a summary that quotes it
                    return self.step(plan, 0)
            if SUMMARY in text and self.full_at:  # compacted within a turn: go on where the usage filled up
                return self.step(self.full_at[0], self.full_at[1] + 1)
        return [_message("I have nothing scripted for that.")]

    def step(self, plan: str, number: int) -> list[dict]:
        steps = PLANS[plan][1]
        if number >= len(steps):
            return [_message("Done.")]
        kind, value = steps[number]
        call_id = f"call_{plan}_{number}"
        if kind == "say":
            return [_message(value)]
        if kind == "patch":
            if "apply_patch" in self.tool_names and self.spelling == "apply_patch":
                return [{"type": "custom_tool_call", "id": f"ctc_{plan}_{number}", "status": "completed",
                         "call_id": call_id, "name": "apply_patch", "input": value}]
            command = f"{self.spelling} <<'EOF'\n{value}EOF\n"
            return [self.shell_call(command, call_id)]
        return [self.shell_call(value, call_id)]

    def shell_call(self, command: str, call_id: str) -> dict:
        if "exec_command" in self.tool_names:
            name, arguments = "exec_command", {"cmd": command}
        elif "shell_command" in self.tool_names:
            name, arguments = "shell_command", {"command": command}
        else:
            name, arguments = "shell", {"command": ["bash", "-lc", command]}
        return {"type": "function_call", "id": f"fc_{call_id}", "status": "completed", "call_id": call_id,
                "name": name, "arguments": json.dumps(arguments)}


def _is_compaction_request(body: dict) -> bool:
    """Codex's local compaction sends the history plus a summarising prompt as the last user message."""
    items = body.get("input") or []
    last = items[-1] if items else {}
    text = _text(last) if last.get("type") == "message" else ""
    return "CONTEXT CHECKPOINT" in text or "handoff summary" in text.lower()


def _is_step(item: dict, plan: str, number: int) -> bool:
    """Whether ``item`` is what the script answers at that step (a call by its id, a message by its text)."""
    kind, value = PLANS[plan][1][number]
    if kind == "say":
        return item.get("type") == "message" and _text(item) == value
    return item.get("call_id") == f"call_{plan}_{number}"


def _parse_call_id(call_id: str) -> tuple[str, int]:
    _, plan, number = call_id.split("_", 2)
    return plan, int(number)


def _text(item: dict) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


def _message(text: str) -> dict:
    return {"type": "message", "id": "msg_scripted", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def serve(port_file: str, request_log: str, full_at: tuple[str, int] | None, spelling: str) -> None:
    counter = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet: the request log says enough
            pass

        def _send_empty(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # /v1/models: no remote model list
            self._send_empty(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            with open(request_log, "a", encoding="utf-8") as log:
                log.write(json.dumps({"path": self.path, "body": body}) + "\n")
            if not self.path.rstrip("/").endswith("/responses"):
                self._send_empty(404)
                return
            counter["n"] += 1
            response_id = f"resp_{counter['n']}"
            items = Script(body.get("tools") or [], spelling, full_at).answer(body)
            reported_tokens = 200_000 if full_at and _is_step(items[0], *full_at) else 1200
            events = [("response.created", {"type": "response.created", "response": {"id": response_id}})]
            for item in items:
                events.append(("response.output_item.done", {"type": "response.output_item.done", "item": item}))
            usage = {"input_tokens": reported_tokens - 100, "input_tokens_details": {"cached_tokens": 0},
                     "output_tokens": 100, "output_tokens_details": {"reasoning_tokens": 0},
                     "total_tokens": reported_tokens}
            events.append(("response.completed", {"type": "response.completed",
                                                  "response": {"id": response_id, "usage": usage}}))
            payload = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file, "w", encoding="utf-8") as out:
        out.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    plan, _, number = sys.argv[3].partition(":")
    serve(sys.argv[1], sys.argv[2], (plan, int(number)) if number else None, sys.argv[4])
