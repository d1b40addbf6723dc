"""The JSON-RPC rules pygls 2.1.1 does not enforce, enforced before a message reaches pygls.

The transport (``letta_ls.server.transport``) hands each frame's body to ``GuardedProtocol.receive_body``.
There the envelope is checked first, so that every request a client sends gets an answer: an editor
waiting on a request the server silently dropped waits forever (a hung save, a spinner that never
stops). The comments marked *upstream* describe pygls behaviour as a bug report to pygls would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger("letta_ls.server")


def _usable_id(data: Any) -> int | str | None:
    """The id to answer with: JSON-RPC says null when the message's own id cannot be read."""
    if isinstance(data, dict):
        msg_id = data.get("id")
        if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool):
            return msg_id
    return None


def envelope_problem(data: Any) -> str | None:
    """What makes ``data`` not a JSON-RPC 2.0 message LSP allows, or None."""
    if not isinstance(data, dict):
        return "a message must be a JSON object (LSP has no batches)"
    if data.get("jsonrpc") != "2.0":
        return f'"jsonrpc" must be "2.0", not {json.dumps(data.get("jsonrpc"))}'
    if "id" in data and _usable_id(data) is None:
        return '"id" must be an integer or a string'
    if "method" in data:
        if not isinstance(data["method"], str):
            return f'"method" must be a string, not {json.dumps(data["method"])}'
        return None
    if "id" in data and ("result" in data or "error" in data):
        return None  # the client's answer to one of our requests
    return 'a message needs a "method" (a request or a notification) or an "id" with a "result" or an "error"'


class GuardedProtocol(LanguageServerProtocol):
    """Answers what pygls drops; records the exit code pygls loses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialize_received = False
        self.exit_code: int | None = None
        self.on_exit: Callable[[int], None] | None = None  # set by the transport: stop reading, close

    def receive_body(self, body: bytes) -> None:
        """One frame's body, as the transport read it.

        upstream: ``pygls.io_.run_async`` parses with ``json.loads(body, object_hook=structure_message)``
        and, on any failure (invalid JSON, no ``jsonrpc``, ``"method": 5``), only logs the exception: a
        request with an id then never gets its ParseError (-32700) or InvalidRequest (-32600).
        """
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            self.send_error(None, JsonRpcParseError(f"the message is not valid JSON: {exc}"))
            return
        problem = envelope_problem(data)
        if problem is not None:
            self.send_error(_usable_id(data), JsonRpcInvalidRequest(f"invalid request: {problem}"))
            return
        try:
            message = json.loads(body, object_hook=self.structure_message)
            if not self.answered_by_lifecycle(message):
                self.handle_message(message)
        except Exception as exc:  # one message's failure must never stop the reading loop
            log.exception("could not handle a message")
            msg_id = _usable_id(data)
            if msg_id is not None and "method" in data:
                self.send_error(msg_id, JsonRpcInvalidRequest(f"the message could not be handled: {exc}"))

    def send_error(self, msg_id: int | str | None, error: JsonRpcException) -> None:
        if msg_id is not None:
            self._send_response(msg_id, None, error.to_response_error())
            return
        # upstream: pygls' converter drops a None ``id``, but JSON-RPC wants ``"id": null`` when the id is unknown
        self._send_data({"jsonrpc": "2.0", "id": None, "error": {"code": error.code, "message": error.message}})

    def answered_by_lifecycle(self, message: Any) -> bool:
        """True if the LSP lifecycle rules already dealt with ``message`` (before initialize, after shutdown)."""
        method = getattr(message, "method", None)
        if not isinstance(method, str) or method == types.EXIT:
            return False  # answers to our requests, and exit, always go through
        is_request = _usable_id({"id": getattr(message, "id", None)}) is not None
        if self._shutdown:
            # upstream: after ``shutdown`` pygls logs "No more requests!" and drops the message; LSP says a
            # request after shutdown gets InvalidRequest, so a client is not left waiting
            if is_request:
                self.send_error(message.id, JsonRpcInvalidRequest(
                    f"{method}: the server is shutting down; after `shutdown` only `exit` is accepted"))
            return True
        if method == types.INITIALIZE:
            self.initialize_received = True
            return False
        if not self.initialize_received:
            # upstream: pygls runs any handler before ``initialize``; LSP says requests get -32002 and
            # notifications are dropped
            if is_request:
                self.send_error(message.id, JsonRpcServerNotInitialized(
                    f"{method}: the server is not initialized yet; send `initialize` first"))
            return True
        return False

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any):
        """upstream: pygls calls ``sys.exit(1)`` for an exit without shutdown inside an asyncio callback;
        ``JsonRPCServer.start_io`` then swallows the SystemExit and the process ends with 0. The code is
        recorded here and the transport returns it from ``letta-ls serve``."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.exit_code = 0 if self._shutdown else 1
        if self.on_exit is not None:
            self.on_exit(self.exit_code)
