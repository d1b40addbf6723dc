"""What the OpenAI and Anthropic provider tests share: each wire (the provider class and its scripted fake
server), a provider factory whose providers are closed after the test, a request, and readers of the events.

``tests/agent/test_sdk_providers.py`` runs the behaviour both wires must have once per wire; each provider's
own file keeps what only its wire does.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers.anthropic_provider import AnthropicProvider
from letta_ls.agent.providers.base import ModelRequest, ProviderError, StreamEvent, TextDelta, ToolCallEvent, ToolSpec
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.providers.retry import RetryPolicy
from letta_ls.agent.providers.sdk import SdkProvider
from tests.fakes import Script, scripted_anthropic, scripted_openai

FAST = RetryPolicy(base_delay=0.001, max_delay=1.0, jitter=0.0)
MEMORY_TOOL = ToolSpec("memory", "Edit memory files.", {"type": "object", "properties": {"command": {"type": "string"}},
                                                       "required": ["command"]})
OPENED: list[SdkProvider] = []  # closed by tests/agent/conftest.py after each test, in the test's loop


@dataclass(frozen=True)
class Wire:
    """One provider with the fake server that speaks its API."""

    name: str
    provider: type[SdkProvider]
    scripted: Callable[..., AbstractContextManager[Any]]
    model: str
    key: str
    key_env: str  # the variable a refused key's message names

    def make(self, server: Any, **options: Any) -> Any:
        options.setdefault("retry", FAST)
        options.setdefault("timeout", 5.0)
        options.setdefault("api_key", self.key)
        provider = self.provider(self.model, base_url=server.base_url, **options)
        OPENED.append(provider)
        return provider

    def serve(self, script: Script) -> AbstractContextManager[Any]:
        return self.scripted(script)


OPENAI = Wire("openai", OpenAIProvider, scripted_openai, "gpt-test", "sk-test-0123456789abcdefghij", "OPENAI_API_KEY")
ANTHROPIC = Wire("anthropic", AnthropicProvider, scripted_anthropic, "claude-test", "sk-ant-test-0123456789abcdefghij",
                 "ANTHROPIC_API_KEY")
WIRES = [pytest.param(OPENAI, id="openai"), pytest.param(ANTHROPIC, id="anthropic")]


def ask(text: str = "Hi", tools: list[ToolSpec] | None = None) -> ModelRequest:
    return ModelRequest(system="You are a careful coding agent.", messages=[Message("user", text)],
                        tools=tools if tools is not None else [MEMORY_TOOL])


async def collect(provider: Any, request: ModelRequest | None = None) -> list[StreamEvent]:
    return [event async for event in provider.stream(request or ask())]


async def collect_until_error(provider: Any) -> tuple[list[StreamEvent], ProviderError]:
    events: list[StreamEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in provider.stream(ask()):
            events.append(event)
    return events, caught.value


def texts(events: list[StreamEvent]) -> list[str]:
    return [event.text for event in events if isinstance(event, TextDelta)]


def calls(events: list[StreamEvent]) -> list[ToolCall]:
    return [event.call for event in events if isinstance(event, ToolCallEvent)]
