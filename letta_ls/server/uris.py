"""The three URI schemes of SPEC section 5, parsed and built in one place.

``letta-memory://<agent-id>/<path>``, ``letta-memory-rev://<agent-id>/<commit>/<path>`` and
``letta-conversation://<agent-id>/<conversation-id>.md``. Paths are percent-encoded per segment when
built and decoded when parsed, then checked by the memory path rules before any use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from letta_ls.memfs.paths import UnsafePathError, check_memory_path

MEMORY = "letta-memory"
MEMORY_REV = "letta-memory-rev"
CONVERSATION = "letta-conversation"
READ_ONLY_SCHEMES = (MEMORY_REV, CONVERSATION)
_COMMIT = re.compile(r"^[0-9a-fA-F]{4,64}$")
_AGENT = re.compile(r"^[A-Za-z0-9._-]+$")


class BadUriError(ValueError):
    """A URI that is not one of letta-ls's schemes, or whose parts are unsafe; the message says which."""


@dataclass(frozen=True)
class MemoryUri:
    scheme: str
    agent_id: str
    path: str  # memory path, or "<conversation-id>.md" for conversations
    commit: str | None = None

    @property
    def conversation_id(self) -> str:
        return self.path.removesuffix(".md")

    def __str__(self) -> str:
        if self.scheme == MEMORY_REV:
            return f"{MEMORY_REV}://{self.agent_id}/{self.commit}/{_encode(self.path)}"
        return f"{self.scheme}://{self.agent_id}/{_encode(self.path)}"


def _encode(path: str) -> str:
    return "/".join(quote(segment, safe="@:+,;=!$&'()*~") for segment in path.split("/"))


def memory_uri(agent_id: str, path: str) -> str:
    return str(MemoryUri(MEMORY, agent_id, path))


def revision_uri(agent_id: str, commit: str, path: str) -> str:
    return str(MemoryUri(MEMORY_REV, agent_id, path, commit))


def conversation_uri(agent_id: str, conversation_id: str) -> str:
    return str(MemoryUri(CONVERSATION, agent_id, f"{conversation_id}.md"))


def parse_uri(uri: str) -> MemoryUri:
    """Split a letta URI; raise ``BadUriError`` naming what is wrong."""
    if not isinstance(uri, str) or "://" not in uri:
        raise BadUriError(f"{uri!r} is not a letta URI: expected letta-memory://<agent-id>/<path>")
    scheme, rest = uri.split("://", 1)
    if scheme not in (MEMORY, MEMORY_REV, CONVERSATION):
        raise BadUriError(f"unknown URI scheme {scheme!r}: use {MEMORY}, {MEMORY_REV} or {CONVERSATION}")
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    agent_id, _, tail = rest.partition("/")
    agent_id = unquote(agent_id)
    if not agent_id or not _AGENT.match(agent_id):
        raise BadUriError(f"{uri!r} names no valid agent id after {scheme}://")
    commit = None
    if scheme == MEMORY_REV:
        commit, _, tail = tail.partition("/")
        if not _COMMIT.match(commit):
            raise BadUriError(f"{uri!r}: expected a commit id after the agent id")
    path = unquote(tail)
    try:
        check_memory_path(path)
    except UnsafePathError as exc:
        raise BadUriError(f"{uri!r}: {exc}") from exc
    if scheme == CONVERSATION and (not path.endswith(".md") or "/" in path):
        raise BadUriError(f"{uri!r}: expected {CONVERSATION}://<agent-id>/<conversation-id>.md")
    return MemoryUri(scheme, agent_id, path, commit)
