"""What the SDK-backed providers (OpenAI, Anthropic) share: one SDK client per event loop, our retry policy
around each streamed attempt, and closing. Each provider supplies its client, its attempt and its error
translation; nothing here knows either wire format."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

from letta_ls.agent.providers.base import ModelRequest, ProviderError, StreamEvent
from letta_ls.agent.providers.retry import (
    RetryPolicy,
    TransientError,
    connection_error,
    is_timeout,
    is_transport_error,
    redact,
    sentence,
    stream_with_retries,
)


class SdkProvider(abc.ABC):
    model: str
    base_url: str | None
    service: str
    retry: RetryPolicy
    timeout: float
    _client: Any = None
    _client_loop: asyncio.AbstractEventLoop | None = None
    _api_key: str

    default_base_url: str
    default_context_window: int
    default_key_env: str

    def __init__(self, model: str, *, api_key: str, base_url: str | None = None, context_window: int | None = None,
                 api_key_env: str | None = None, max_retries: int | None = None, retry: RetryPolicy | None = None,
                 timeout: float = 60.0) -> None:
        """``timeout`` is the longest wait for any read: the response headers or the next piece of the stream;
        ``max_retries`` overrides the policy's."""
        self.model = model
        self.context_window = context_window or self.default_context_window
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.api_key_env = api_key_env or self.default_key_env
        self.timeout = timeout
        policy = retry or RetryPolicy()
        self.retry = replace(policy, max_retries=max_retries) if max_retries is not None else policy
        self._api_key = api_key
        self.official = urlparse(self.base_url).hostname == urlparse(self.default_base_url).hostname
        self.service = self._service_name()

    @abc.abstractmethod
    def _service_name(self) -> str:
        """How messages name the server: the vendor itself, or a compatible server at its address."""

    def _incomplete(self) -> TransientError:
        return TransientError(sentence(f"{self.service} ended the stream before the reply was complete."))

    def _translate_transport(self, exc: BaseException, timeout_error: type, connection_error_type: type
                             ) -> ProviderError | None:
        """A timeout or a dropped connection (the SDK's or the transport's own), named without the key."""
        if isinstance(exc, timeout_error) or is_timeout(exc):
            return connection_error(self.service, "timed out", timeout=self.timeout)
        if isinstance(exc, connection_error_type) or is_transport_error(exc):
            cause = exc.__cause__ or exc
            return connection_error(self.service, redact(f"{type(cause).__name__}: {cause}", self._api_key))
        return None

    def _translate_other(self, exc: BaseException) -> ProviderError:
        """What is left: a stream the SDK could not parse, or anything else, named without the key."""
        if isinstance(exc, ValueError):
            return ProviderError(sentence(f"{self.service} sent a malformed stream "
                                          f"({redact(str(exc), self._api_key)})."))
        return ProviderError(sentence(f"{self.service} failed: {type(exc).__name__}: "
                                      f"{redact(str(exc), self._api_key)}"))

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        return stream_with_retries(lambda: self._attempt(request), self._translate, policy=self.retry,
                                   service=self.service)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    def _sdk(self) -> Any:
        # One client (and connection pool) per event loop: pooled connections cannot cross loops.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = self._new_client()
            self._client_loop = loop
        return self._client

    @abc.abstractmethod
    def _new_client(self) -> Any:
        """A new SDK client with the SDK's own retries off (``max_retries=0``): the policy is ours."""

    @abc.abstractmethod
    def _attempt(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """One streamed request, without retries."""

    @abc.abstractmethod
    def _translate(self, exc: BaseException) -> ProviderError | None:
        """The SDK's exception as a ProviderError (transient ones as TransientError)."""
