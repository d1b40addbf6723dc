"""Choosing the provider from the model settings and the environment (SPEC section 9)."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from letta_ls.agent.messages import Message
from letta_ls.agent.providers.anthropic_provider import AnthropicProvider
from letta_ls.agent.providers.base import ModelRequest, ProviderAuthError, ProviderError, TextDelta
from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.providers.select import (
    NO_MODEL_CONFIGURED,
    NoModelConfigured,
    is_local_url,
    select_provider,
)
from letta_ls.settings import ModelSettings, structure_settings
from tests.fakes import Script, scripted_openai

LOCAL_MODULE = "letta_ls.agent.providers.local"


class RecordingLocalProvider:
    name = "local"

    def __init__(self, model: str = "embedded-default", *, context_window: int = 8192) -> None:
        self.model = model
        self.context_window = context_window


@pytest.fixture
def no_local_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, LOCAL_MODULE, None)  # importing it now raises ImportError


@pytest.fixture
def local_model(monkeypatch: pytest.MonkeyPatch) -> type[RecordingLocalProvider]:
    module = types.ModuleType(LOCAL_MODULE)
    module.LocalProvider = RecordingLocalProvider  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, LOCAL_MODULE, module)
    return RecordingLocalProvider


def settings(**model: Any) -> ModelSettings:
    return structure_settings({"model": model}).model


@pytest.mark.usefixtures("no_local_model")
def test_nothing_configured_selects_nothing() -> None:
    assert select_provider(settings(), env={}) is None
    assert select_provider(None, env={}) is None


def test_anthropic_key_selects_claude_with_its_context_window() -> None:
    provider = select_provider(settings(), env={"ANTHROPIC_API_KEY": "sk-ant-a", "OPENAI_API_KEY": "sk-o"})
    assert isinstance(provider, AnthropicProvider)
    assert (provider.model, provider.context_window, provider.api_key_env) == ("claude-sonnet-4-5", 200_000,
                                                                               "ANTHROPIC_API_KEY")


def test_openai_key_selects_openai_with_its_base_url() -> None:
    env = {"OPENAI_API_KEY": "sk-o", "OPENAI_BASE_URL": "https://openrouter.example/api/v1"}
    provider = select_provider(settings(name="my-model", contextWindow=64_000), env=env)
    assert isinstance(provider, OpenAIProvider)
    assert (provider.model, provider.base_url, provider.context_window) == ("my-model",
                                                                            "https://openrouter.example/api/v1", 64_000)
    default = select_provider(settings(), env={"OPENAI_API_KEY": "sk-o"})
    assert isinstance(default, OpenAIProvider)
    assert (default.model, default.base_url, default.context_window) == ("gpt-4.1-mini", "https://api.openai.com/v1",
                                                                         128_000)


def test_embedded_model_is_the_last_resort(local_model: type[RecordingLocalProvider]) -> None:
    provider = select_provider(settings(), env={})
    assert isinstance(provider, local_model)
    assert provider.context_window == 128_000 and provider.model == "embedded-default"


def test_explicit_provider_wins_over_the_environment(local_model: type[RecordingLocalProvider]) -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant-a", "OPENAI_API_KEY": "sk-o"}
    assert isinstance(select_provider(settings(provider="openai"), env=env), OpenAIProvider)
    assert isinstance(select_provider(settings(provider="anthropic"), env=env), AnthropicProvider)
    local = select_provider(settings(provider="local", name="qwen-small", contextWindow=4096), env=env)
    assert isinstance(local, local_model) and (local.model, local.context_window) == ("qwen-small", 4096)


def test_anthropic_keeps_a_context_window_the_user_set() -> None:
    provider = select_provider(settings(provider="anthropic", contextWindow=100_000), env={"ANTHROPIC_API_KEY": "k"})
    assert provider is not None and provider.context_window == 100_000


@pytest.mark.parametrize("base_url", ["http://localhost:11434/v1", "http://127.0.0.1:1234/v1",
                                      "http://192.168.1.20:8000/v1", "http://[::1]:8080/v1"])
def test_local_openai_compatible_server_needs_no_key(base_url: str) -> None:
    provider = select_provider(settings(provider="openai", baseUrl=base_url, name="llama3.2"), env={})
    assert isinstance(provider, OpenAIProvider)
    assert (provider.model, provider.base_url) == ("llama3.2", base_url)


def test_a_base_url_alone_means_an_openai_compatible_server() -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant-a"}
    provider = select_provider(settings(baseUrl="http://localhost:1234/v1", name="qwen"), env=env)
    assert isinstance(provider, OpenAIProvider) and provider.base_url == "http://localhost:1234/v1"


async def test_keyless_local_server_is_really_called_without_a_key() -> None:
    with scripted_openai(Script().text("hello from llama")) as server:
        provider = select_provider(settings(provider="openai", baseUrl=server.base_url, name="llama3.2"), env={})
        assert isinstance(provider, OpenAIProvider)
        request = ModelRequest("sys", [Message("user", "hi")])
        events = [event async for event in provider.stream(request)]
        await provider.aclose()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "hello from llama"
    assert server.last_request.header("authorization") == "Bearer not-needed"
    assert server.last_request.body["model"] == "llama3.2"


def test_remote_server_without_a_key_names_the_variable_to_set() -> None:
    with pytest.raises(ProviderAuthError, match="OPENAI_API_KEY"):
        select_provider(settings(provider="openai"), env={})
    with pytest.raises(ProviderAuthError, match="GROQ_API_KEY"):
        select_provider(settings(provider="openai", baseUrl="https://api.groq.com/openai/v1",
                                 apiKeyEnv="GROQ_API_KEY"), env={"OPENAI_API_KEY": "sk-o"})
    with pytest.raises(ProviderAuthError, match="ANTHROPIC_API_KEY"):
        select_provider(settings(provider="anthropic"), env={"OPENAI_API_KEY": "sk-o"})


def test_api_key_env_names_where_the_key_is() -> None:
    env = {"GROQ_API_KEY": "gsk-secret-value-123456"}
    provider = select_provider(settings(provider="openai", baseUrl="https://api.groq.com/openai/v1",
                                        apiKeyEnv="GROQ_API_KEY"), env=env)
    assert isinstance(provider, OpenAIProvider) and provider.api_key_env == "GROQ_API_KEY"
    assert "gsk-secret-value-123456" not in repr(provider)
    auto = select_provider(settings(apiKeyEnv="GROQ_API_KEY"), env=env)
    assert isinstance(auto, OpenAIProvider) and auto.api_key_env == "GROQ_API_KEY"
    proxied = select_provider(settings(provider="anthropic", apiKeyEnv="PROXY_KEY"), env={"PROXY_KEY": "p"})
    assert isinstance(proxied, AnthropicProvider) and proxied.api_key_env == "PROXY_KEY"


@pytest.mark.usefixtures("no_local_model")
def test_local_provider_without_the_extra_says_what_to_install() -> None:
    with pytest.raises(ProviderError, match=r"pip install 'letta-ls\[local\]'"):
        select_provider(settings(provider="local"), env={})


def test_settings_may_be_a_plain_mapping() -> None:
    provider = select_provider({"provider": "anthropic", "name": "claude-haiku-4-5"}, env={"ANTHROPIC_API_KEY": "k"})
    assert isinstance(provider, AnthropicProvider) and provider.model == "claude-haiku-4-5"
    with pytest.raises(ProviderError, match="openai, anthropic or local"):
        select_provider({"provider": "gemini"}, env={})


def test_is_local_url() -> None:
    assert is_local_url("http://localhost:11434/v1") and is_local_url("http://10.0.0.5:8000")
    assert is_local_url("http://my-box.local:1234/v1") and is_local_url("http://host.docker.internal:11434")
    assert not is_local_url("https://api.openai.com/v1") and not is_local_url(None)
    assert not is_local_url("https://8.8.8.8/v1")


def test_no_model_message_says_how_to_configure_each_option() -> None:
    for needed in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", '"provider"', '"baseUrl"',
                   '"apiKeyEnv"', "pip install 'letta-ls[local]'", '"local"', "settings.json", "Ollama"):
        assert needed in NO_MODEL_CONFIGURED
    error = NoModelConfigured()
    assert isinstance(error, ProviderError) and str(error) == NO_MODEL_CONFIGURED
