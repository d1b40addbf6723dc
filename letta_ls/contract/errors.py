"""The stable kinds of error a request or command can return (SPEC section 6: ``data.kind``).

Editors switch on ``data.kind``, never on the English message, so a reworded message breaks no editor.
Server code raises every refusal of its own through ``fail``; the LSP adapter turns a ``ContractError``
into the JSON-RPC error whose code the kind implies (``ErrorKind.code``) and puts the kind into ``data``.
Pure Python: the CLI can raise and read the same kinds.
"""

from __future__ import annotations

import enum
from typing import Any, NoReturn

CONTENT_MODIFIED = -32801
INVALID_PARAMS = -32602
REQUEST_FAILED = -32803


class ErrorKind(enum.StrEnum):
    """What went wrong, as a word an editor can map to its own error (``vscode.FileSystemError`` …)."""

    STALE = "stale"  # the file moved on since the version the editor based its change on; nothing was lost
    NOT_FOUND = "not-found"  # no such memory file, conversation, agent or backup
    READ_ONLY = "read-only"  # a revision or a transcript: it cannot be changed
    REFUSED = "refused"  # the change would break a rule (a secret, a broken file); the message says which
    INVALID = "invalid"  # the parameters do not have the shape the method takes; the message names the field
    CONFIG = "config"  # the configuration (home, agent, settings) is broken; ``data.path`` names the file
    CONFLICT = "conflict"  # the target exists already (a rename onto a file, an agent name taken)
    BUSY = "busy"  # the same work already runs for this agent (/init, a dream); wait for it
    UNAVAILABLE = "unavailable"  # the feature cannot run here (no model configured, not initialized yet)
    FAILED = "failed"  # anything else: the work was tried and failed; the message says why

    @property
    def code(self) -> int:
        """The JSON-RPC error code that goes with the kind (LSP's where one exists)."""
        if self is ErrorKind.STALE:
            return CONTENT_MODIFIED
        if self is ErrorKind.INVALID:
            return INVALID_PARAMS
        return REQUEST_FAILED


class ContractError(Exception):
    """A request's refusal: its kind, a message for people and any further ``data`` fields."""

    def __init__(self, kind: ErrorKind, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.data = dict(data or {})

    def wire_data(self) -> dict[str, Any]:
        """``data`` of the JSON-RPC error: the kind first, then what the kind carries (``path``, ``current``)."""
        return {"kind": self.kind.value, **self.data}


def fail(kind: ErrorKind, message: str, **data: Any) -> NoReturn:
    """The one way server code refuses a request: ``fail(ErrorKind.NOT_FOUND, "...")``."""
    raise ContractError(kind, message, data)
