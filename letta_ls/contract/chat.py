"""The chat (SPEC section 6 and 7): ``letta.chat``, ``letta.remember`` and the streamed ``letta/chatEvent``."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from letta_ls.contract.wire import OMITTED_WHEN_NONE

ChatEventKind = Literal["text", "tool_call", "tool_result", "memory_edit", "done", "error"]


@attrs.define
class ChatParams:
    message: str | None = None
    conversation_id: str | None = None


@attrs.define
class ChatResult:
    conversation_id: str
    reply: str
    # a leading slash command (/remember …) ran instead of a model turn: which, and the commits it made
    slash_command: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)
    commits: list[str] | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)


@attrs.define
class SlashCommandsParams:
    pass


@attrs.define
class SlashCommandRow:
    """One of the chat's slash commands, for the editors to complete (``letta.slashCommands``)."""

    name: str
    usage: str
    description: str


@attrs.define
class RememberParams:
    text: str | None = None
    conversation_id: str | None = None


@attrs.define
class RememberResult:
    reply: str
    commits: list[str]


@attrs.define
class ChatEvent:
    """``letta/chatEvent``: the fields a kind carries are set, the others left off the wire."""

    conversation_id: str
    turn_id: str
    kind: ChatEventKind
    text: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # text
    name: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # tool_call, tool_result
    arguments: Any = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # tool_call
    result: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # tool_result
    uri: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # memory_edit
    commit: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # memory_edit
    reason: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # memory_edit
    reply: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # done
    message: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)  # error
