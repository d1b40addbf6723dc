"""Agents and conversations (SPEC section 7): list, create, switch, pin; new and list conversations."""

from __future__ import annotations

import attrs

from letta_ls.contract.wire import OMITTED_WHEN_NONE


@attrs.define
class ListAgentsParams:
    pass


@attrs.define
class AgentRow:
    agent_id: str
    name: str
    pinned: bool
    last_used: str | None
    model: str | None


@attrs.define
class CreateAgentParams:
    name: str | None = None
    preset: str | None = None


@attrs.define
class SwitchAgentParams:
    agent_id: str | None = None
    name: str | None = None


@attrs.define
class AgentRef:
    agent_id: str
    name: str


@attrs.define
class PinParams:
    agent_id: str | None = None


@attrs.define
class PinResult:
    agent_id: str
    pinned: bool


@attrs.define
class NewConversationParams:
    pass


@attrs.define
class ConversationRef:
    conversation_id: str


@attrs.define
class ListConversationsParams:
    include_subagents: bool | None = None  # beyond SPEC: the dreams' and defrags' own conversations too


@attrs.define
class ConversationRow:
    conversation_id: str
    title: str | None
    updated: str | None
    messages: int
    subagent: str | None = attrs.field(default=None, metadata=OMITTED_WHEN_NONE)
