"""Memory as documents (SPEC section 6): read, write, tree, history, delete, rename, and ``letta/memoryChanged``;
the backup and restore commands (SPEC section 7) belong here too."""

from __future__ import annotations

from typing import Literal

import attrs

from letta_ls.contract.wire import at_most

MAX_REASON_CHARS = 10_000
"""A reason becomes a commit message; a longer one is a mistake (and git's argument limit is 128 KiB)."""

Tier = Literal["system", "external", "skill"]


@attrs.define
class MemoryReadParams:
    uri: str


@attrs.define
class MemoryReadResult:
    uri: str
    text: str
    version: str | None
    head: str | None


@attrs.define
class MemoryWriteParams:
    uri: str
    text: str
    base_version: str | None = None
    reason: str | None = attrs.field(default=None, metadata=at_most(MAX_REASON_CHARS))


@attrs.define
class MemoryWriteResult:
    version: str | None
    commit: str | None


@attrs.define
class MemoryTreeParams:
    agent_id: str | None = None


@attrs.define
class MemoryEntry:
    uri: str
    path: str
    tier: Tier
    description: str | None
    tokens: int
    read_only: bool
    version: str | None


@attrs.define
class MemoryTotals:
    system_tokens: int
    system_token_budget: int


@attrs.define
class MemoryTree:
    agent_id: str
    head: str | None
    entries: list[MemoryEntry]
    totals: MemoryTotals


@attrs.define
class MemoryHistoryParams:
    uri: str
    limit: int = 50


@attrs.define
class HistoryEntry:
    commit: str
    date: str
    author: str
    message: str
    uri: str


@attrs.define
class MemoryDeleteParams:
    uri: str
    reason: str | None = attrs.field(default=None, metadata=at_most(MAX_REASON_CHARS))


@attrs.define
class MemoryRenameParams:
    uri: str
    new_uri: str
    reason: str | None = attrs.field(default=None, metadata=at_most(MAX_REASON_CHARS))


@attrs.define
class MemoryMoveResult:
    """What a delete or a rename did: one commit, and the URIs it removed and added."""

    commit: str | None
    uris: list[str]


@attrs.define
class MemoryChanged:
    """``letta/memoryChanged``: a commit not made by this client's own ``letta/memoryWrite``."""

    agent_id: str
    head: str | None
    uris: list[str]


@attrs.define
class BackupParams:
    pass


@attrs.define
class BackupResult:
    ref: str


@attrs.define
class RestoreParams:
    ref: str | None = None


@attrs.define
class RestoreResult:
    ref: str
    commit: str | None
