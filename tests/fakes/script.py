"""Scripted model replies and the threaded HTTP server that plays them, shared by both fake APIs.

A ``Script`` is a queue of ``Reply`` steps, one per model request: streamed text, tool calls, HTTP
errors, broken or slow streams, or a function of the request. The fake OpenAI and Anthropic servers
(``openai_server.py``, ``anthropic_server.py``) render the same steps in their own wire format, so a
test can run one script against either provider. Every request is recorded (``RecordedRequest``), hooks
see it before the reply is chosen, and an assertion failing inside a hook is re-raised when the server
stops, so it fails the test instead of vanishing in a server thread. A script that runs out answers with
a 500 "script exhausted" (marked ``x-should-retry: false``), so a test never hangs waiting for a reply.

The server is stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with a random port, speaking HTTP/1.1 with
chunked streaming; stopping it closes every open connection, so no handler thread outlives the test.
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Failure = Literal["malformed", "cut"]


@dataclass
class ScriptedCall:
    """One tool call a scripted reply makes; ``arguments`` as a string is sent verbatim (maybe invalid JSON)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(dict(self.arguments))


@dataclass
class ScriptedError:
    status: int
    message: str
    type: str | None = None  # the API's error type; each server picks its own default for the status
    code: str | None = None  # OpenAI's error.code, e.g. "context_length_exceeded"
    retry_after: float | None = None  # seconds, sent as the retry-after header
    should_retry: bool | None = None  # sent as x-should-retry when set
    mid_stream: bool = False  # send as an error event inside a 200 stream instead of an HTTP status


@dataclass
class Reply:
    """One model reply. Text is streamed in ``pieces``; tool calls follow the text."""

    text: str = ""
    pieces: list[str] | None = None
    tool_calls: list[ScriptedCall] = field(default_factory=list)
    stop: Literal["end", "max_tokens"] = "end"
    usage: tuple[int, int] | None = None  # (input_tokens, output_tokens); estimated from sizes when None
    error: ScriptedError | None = None
    failure: Failure | None = None  # break the stream after the text: garbage data, or drop the connection
    delay: float = 0.0  # seconds between streamed chunks
    first_delay: float = 0.0  # seconds before the response starts (before the status line)
    argument_pieces: int = 3  # each call's JSON arguments are split into this many stream chunks
    respond: Callable[[RecordedRequest], Reply | Script] | None = None
    overflow: bool = False  # the provider's own "prompt is too long" error

    def text_pieces(self) -> list[str]:
        if self.pieces is not None:
            return [piece for piece in self.pieces if piece]
        return split_words(self.text)


def split_words(text: str) -> list[str]:
    """``"Hello big world"`` → ``["Hello ", "big ", "world"]``: the pieces a real model streams, roughly."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def split_evenly(text: str, count: int) -> list[str]:
    if count <= 1 or len(text) <= 1:
        return [text]
    count = min(count, len(text))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


class Script:
    """A queue of scripted replies, consumed one per model request.

    Builder methods return the script, so a conversation reads top to bottom::

        Script().tool_call("memory", {"command": "view", "file_path": "system"}).text("Done")
    """

    def __init__(self, *replies: Reply) -> None:
        self._replies: list[Reply] = list(replies)
        self._hooks: list[Callable[[RecordedRequest], None]] = []
        self._repeat_last = False
        self._lock = threading.Lock()
        self.served = 0

    # -- building -------------------------------------------------------------------------------------
    def add(self, reply: Reply) -> Script:
        with self._lock:
            self._replies.append(reply)
        return self

    def text(self, text: str, *, pieces: Sequence[str] | None = None, stop: Literal["end", "max_tokens"] = "end",
             usage: tuple[int, int] | None = None, delay: float = 0.0, first_delay: float = 0.0) -> Script:
        """A text reply streamed word by word (or in the given ``pieces``, which must join to ``text``)."""
        if pieces is not None and "".join(pieces) != text:
            raise ValueError("pieces must join to the text")
        return self.add(Reply(text=text, pieces=list(pieces) if pieces is not None else None, stop=stop,
                              usage=usage, delay=delay, first_delay=first_delay))

    def tool_call(self, name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None,
                  text: str = "", usage: tuple[int, int] | None = None) -> Script:
        """A reply that calls one tool (after optional ``text``); arguments are streamed in several chunks."""
        call = ScriptedCall(name, arguments if arguments is not None else {}, id)
        return self.add(Reply(text=text, tool_calls=[call], usage=usage))

    def tool_calls(self, *calls: ScriptedCall | tuple[str, Mapping[str, Any] | str], text: str = "",
                   usage: tuple[int, int] | None = None) -> Script:
        """A reply that calls several tools at once: ``tool_calls(("grep", {...}), ("read_file", {...}))``."""
        scripted = [call if isinstance(call, ScriptedCall) else ScriptedCall(call[0], call[1]) for call in calls]
        return self.add(Reply(text=text, tool_calls=scripted, usage=usage))

    def error(self, status: int, message: str | None = None, *, type: str | None = None, code: str | None = None,
              retry_after: float | None = None, should_retry: bool | None = None,
              mid_stream: bool = False, after_text: str = "") -> Script:
        """An HTTP error (or, with ``mid_stream``, an error event after ``after_text`` inside a 200 stream)."""
        err = ScriptedError(status, message or f"scripted error {status}", type, code, retry_after, should_retry,
                            mid_stream)
        return self.add(Reply(text=after_text, error=err))

    def context_overflow(self) -> Script:
        """The provider's real context-length error (400), as the agent's compaction must recognise it."""
        return self.add(Reply(overflow=True))

    def malformed(self, *, after_text: str = "") -> Script:
        """Stream ``after_text``, then data that is not JSON."""
        return self.add(Reply(text=after_text, failure="malformed"))

    def cut_off(self, *, after_text: str = "") -> Script:
        """Stream ``after_text``, then drop the connection mid-body."""
        return self.add(Reply(text=after_text, failure="cut"))

    def slow(self, text: str, *, delay: float, first_delay: float = 0.0) -> Script:
        """A text reply with ``delay`` seconds between chunks (and ``first_delay`` before the response)."""
        return self.text(text, delay=delay, first_delay=first_delay)

    def respond(self, fn: Callable[[RecordedRequest], Reply | Script]) -> Script:
        """A reply computed from the request: ``fn`` returns a ``Reply`` or a ``Script`` whose first reply is used."""
        return self.add(Reply(respond=fn))

    def on_request(self, fn: Callable[[RecordedRequest], None]) -> Script:
        """Call ``fn`` with every request before replying (assert there; failures surface when the server stops)."""
        self._hooks.append(fn)
        return self

    def repeat_last(self) -> Script:
        """Keep serving the last reply forever instead of running out (benchmarks, long sessions)."""
        self._repeat_last = True
        return self

    # -- playing --------------------------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._replies)

    def next_reply(self, request: RecordedRequest) -> Reply | None:
        """Run the hooks and take the next reply (``None`` when the script is exhausted)."""
        for hook in list(self._hooks):
            hook(request)
        with self._lock:
            if not self._replies:
                return None
            reply = self._replies[0] if self._repeat_last and len(self._replies) == 1 else self._replies.pop(0)
            self.served += 1
        while reply.respond is not None:
            produced = reply.respond(request)
            if isinstance(produced, Script):
                if not produced._replies:
                    raise ValueError("a respond() function returned an empty Script")
                produced = produced._replies[0]
            reply = produced
        return reply


@dataclass
class RecordedRequest:
    """One request a fake server received, with the JSON body decoded."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    disconnected: threading.Event = field(default_factory=threading.Event, repr=False)
    completed: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def stream(self) -> bool:
        return bool(isinstance(self.body, dict) and self.body.get("stream"))

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or []) if isinstance(self.body, dict) else []

    @property
    def tool_names(self) -> list[str]:
        return [tool.get("name") or tool.get("function", {}).get("name") for tool in self.tools]

    @property
    def system(self) -> str:
        """The system prompt in either wire format (Anthropic's ``system``, OpenAI's first system message)."""
        if not isinstance(self.body, dict):
            return ""
        system = self.body.get("system")
        if isinstance(system, str):
            return system
        if isinstance(system, list):
            return "".join(block.get("text", "") for block in system)
        return "".join(m.get("content") or "" for m in self.messages if m.get("role") in ("system", "developer"))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class ClientGone(Exception):
    """The client hung up (or the server is stopping) while a reply was being written."""


class ScriptedHandler(BaseHTTPRequestHandler):
    """Reads a JSON request, records it and hands it to the API-specific ``route``; owns the wire mechanics."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE writes would otherwise wait ~40 ms for delayed ACKs
    server: ScriptedHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest(self.command, self.path.split("?")[0],
                                  {k.lower(): v for k, v in self.headers.items()}, body)
        self.server.fake.record(request)
        self.recorded = request
        try:
            self.server.fake.route(self, request)
        except ClientGone:
            request.disconnected.set()
            self.close_connection = True
        except Exception as exc:  # a hook's assertion or a bug in a respond() function: fail the test later
            self.server.fake.failures.append(exc)
            with contextlib.suppress(Exception):
                self.send_json(500, {"error": {"message": f"fake server failed: {exc!r}", "type": "server_error"}},
                               headers={"x-should-retry": "false"})
        finally:
            request.completed.set()

    # -- writing --------------------------------------------------------------------------------------
    def send_json(self, status: int, payload: Any, *, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self._write(data)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._flush()

    def send_chunk(self, data: bytes | str) -> None:
        payload = data.encode() if isinstance(data, str) else data
        if payload:
            self._write(b"%x\r\n%s\r\n" % (len(payload), payload))

    def send_pieces(self, pieces: Iterable[tuple[str, bool]], delay: float) -> None:
        """Send stream events; with a ``delay``, pause before each content event after the first."""
        first = True
        for data, is_content in pieces:
            if is_content:
                if not first and delay:
                    self.pause(delay)
                first = False
            self.send_chunk(data)

    def end_stream(self) -> None:
        self._write(b"0\r\n\r\n")

    def drop_connection(self) -> None:
        """Hang up mid-body: the client sees an incomplete chunked response."""
        self._flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def write_raw(self, data: bytes) -> None:
        """Write body bytes as they are (for non-chunked bodies, or deliberately broken ones)."""
        self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self._flush()
        except OSError as exc:
            raise ClientGone() from exc

    def _flush(self) -> None:
        try:
            self.wfile.flush()
        except OSError as exc:
            raise ClientGone() from exc

    def pause(self, seconds: float) -> None:
        """Wait, noticing at once when the client hangs up or the server stops (then raise ``ClientGone``)."""
        deadline = time.monotonic() + seconds
        while True:
            if self.server.fake.stopping.is_set():
                raise ClientGone()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.05))
            if readable:
                try:
                    peeked = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    peeked = b""
                if not peeked:
                    raise ClientGone()
                time.sleep(min(remaining, 0.01))


class ScriptedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), fake.handler_class)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # a client that hung up between requests
            return
        super().handle_error(request, client_address)

    def close_all_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class FakeServer:
    """A running fake API: ``base_url``, the ``script`` it plays and the ``requests`` it received."""

    handler_class: type[ScriptedHandler] = ScriptedHandler
    url_suffix = ""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script if script is not None else Script()
        self.requests: list[RecordedRequest] = []
        self.failures: list[BaseException] = []
        self.stopping = threading.Event()
        self._httpd: ScriptedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + self.url_suffix

    @property
    def last_request(self) -> RecordedRequest:
        assert self.requests, "the server has received no request"
        return self.requests[-1]

    @property
    def model_requests(self) -> list[RecordedRequest]:
        """Requests that asked the model for a reply (chat completions or messages), in order."""
        return [r for r in self.requests if r.method == "POST"]

    def record(self, request: RecordedRequest) -> None:
        self.requests.append(request)

    def route(self, handler: ScriptedHandler, request: RecordedRequest) -> None:
        raise NotImplementedError("each fake API routes its own paths")

    def start(self) -> FakeServer:
        self._httpd = ScriptedHTTPServer(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_all_connections()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def raise_failures(self) -> None:
        if self.failures:
            raise self.failures[0]

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if exc_info[0] is None:
            self.raise_failures()


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)
