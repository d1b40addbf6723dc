"""What every model provider offers the agent: one streamed completion with tool calls.

A provider turns a ``ModelRequest`` (system prompt, messages, tool schemas) into a stream of
``TextDelta`` and ``ToolCallEvent`` events ending with one ``Done``. Retries with backoff (429, 5xx,
overload, timeouts) happen inside the provider, before the first event is yielded; after that a
failure is a ``ProviderError`` whose message a person can act on (a bad key names the variable to set).
Cancellation is asyncio cancellation: the stream is closed and nothing half-done is returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from letta_ls.agent.messages import Message, ToolCall


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    # A stricter schema of the same arguments for constrained decoding (the embedded model's grammar): e.g.
    # one alternative per memory command with that command's arguments and its ``reason`` required. A
    # provider that sends ``parameters`` to an API leaves it alone; None: ``parameters`` is strict enough.
    strict_parameters: dict[str, Any] | None = None


@dataclass
class ModelRequest:
    system: str
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    max_output_tokens: int = 4096


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCallEvent:
    call: ToolCall


@dataclass(frozen=True)
class Done:
    stop_reason: str  # "end" | "tool_calls" | "max_tokens"
    input_tokens: int | None = None
    output_tokens: int | None = None


StreamEvent = TextDelta | ToolCallEvent | Done


class ProviderError(RuntimeError):
    """A model call failed for good; the message says what to do."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class ProviderAuthError(ProviderError):
    """The key was missing or refused; the message names the environment variable to set."""


class ContextOverflowError(ProviderError):
    """The request did not fit the model's context window (the agent compacts and retries)."""


class Provider(Protocol):
    name: str  # "openai" | "anthropic" | "local"
    model: str
    context_window: int

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...
