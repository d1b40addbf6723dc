"""What the SDK-backed providers (OpenAI, Anthropic) share: one SDK client per event loop, our retry policy
around each streamed attempt, and closing. Each provider supplies its client, its attempt and its error
translation; nothing here knows either wire format."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from typing import Any

from letta_ls.agent.providers.base import ModelRequest, ProviderError, StreamEvent
from letta_ls.agent.providers.retry import RetryPolicy, stream_with_retries


class SdkProvider(abc.ABC):
    model: str
    base_url: str | None
    service: str
    retry: RetryPolicy
    timeout: float
    _client: Any = None
    _client_loop: asyncio.AbstractEventLoop | None = None

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
