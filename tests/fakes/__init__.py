"""Scripted fake model servers for tests: real HTTP on 127.0.0.1 that the official SDKs talk to.

    from tests.fakes import Script, scripted_openai

    with scripted_openai(Script().text("Hello").tool_call("memory", {...}).text("Done")) as server:
        provider = OpenAIProvider("gpt-test", api_key="sk-test", base_url=server.base_url)
        ...
        assert server.last_request.system.startswith("You are")

``openai_server`` / ``anthropic_server`` are pytest fixtures giving a running server with an empty
script to fill (``server.script.text(...)``); make them global by importing them in a ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer, scripted_anthropic
from tests.fakes.openai_server import FakeOpenAIServer, scripted_openai
from tests.fakes.script import RecordedRequest, Reply, Script, ScriptedCall, ScriptedError

__all__ = [
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "RecordedRequest",
    "Reply",
    "Script",
    "ScriptedCall",
    "ScriptedError",
    "anthropic_server",
    "openai_server",
    "scripted_anthropic",
    "scripted_openai",
]


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A running fake OpenAI server; fill ``openai_server.script`` before the code under test calls it."""
    with scripted_openai() as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    """A running fake Anthropic server; fill ``anthropic_server.script`` before the code under test calls it."""
    with scripted_anthropic() as server:
        yield server
