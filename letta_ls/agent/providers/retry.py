"""The retry policy and error wording shared by the OpenAI and Anthropic providers.

Owns three things, so both providers behave the same and tests can pin them:

- ``RetryPolicy``: which failures are retried (429, 408/409, 5xx, 529 overloaded, connection errors,
  timeouts, a stream that broke before anything arrived), exponential backoff with jitter, honouring the
  server's ``retry-after`` / ``retry-after-ms`` and ``x-should-retry``, capped per wait and in total.
- ``stream_with_retries``: drives a provider's single attempt and retries it only while nothing has been
  yielded, so streamed text is never duplicated; after the first event any failure ends the reply with a
  ``ProviderError`` saying it was cut off.
- the wording of errors: ``status_error`` turns an HTTP status and the server's message into
  ``ProviderAuthError`` (naming the environment variable to set), ``ContextOverflowError`` or a plain
  ``ProviderError``; ``redact`` keeps API keys out of every message.

The SDKs' own retries are switched off (``max_retries=0``) so this module is the only policy. It never
sees or logs a key: providers pass it only to ``redact``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from letta_ls.agent.providers.base import ContextOverflowError, ProviderAuthError, ProviderError, StreamEvent

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 409, 429, 529, *range(500, 600)})
_KEY_PATTERN = re.compile(r"\b(?:sk|pk|key|api)[-_][A-Za-z0-9_\-*.]{8,}")
_OVERFLOW_PATTERN = re.compile(
    r"context[ _-]?(?:length|size|window|limit)|maximum context|prompt is too long|too many tokens"
    r"|exceeds? the (?:available )?context|input is too long|reduce the length",
    re.IGNORECASE,
)


class TransientError(ProviderError):
    """A failure worth retrying (rate limit, overload, 5xx, network); carries the server's ``retry-after``."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, retryable=True, status=status)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry before the first event of a reply.

    ``max_retries`` counts retries after the first attempt. Waits grow as ``base_delay * 2**n`` with
    ``jitter`` (a fraction, spread both ways); a server's ``retry-after`` replaces the computed wait. Each
    wait is capped at ``max_delay`` and all waits of one call together at ``max_total_wait``.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total_wait: float = 60.0
    jitter: float = 0.25

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def backoff(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if retry_after is not None:
            wait = max(0.0, retry_after)
        else:
            wait = self.base_delay * 2 ** (retry - 1)
            wait *= 1 + random.uniform(-self.jitter, self.jitter)
        return max(0.0, min(wait, self.max_delay))


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """The wait a server asked for: ``retry-after-ms``, or ``retry-after`` in seconds or as an HTTP date."""
    if not headers:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with the key (and anything shaped like an API key) replaced by ``[redacted]``."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)


def server_message(body: object, fallback: str = "") -> str:
    """The human part of an error body in either API's format (``{"error": {"message": ...}}``), shortened."""
    message: Any = None
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            message = inner.get("message")
        elif isinstance(inner, str):
            message = inner
        message = message or body.get("message") or body.get("detail")
    elif isinstance(body, str):
        message = body
    text = str(message or fallback).strip() or fallback
    return text if len(text) <= 500 else text[:497] + "..."


def looks_like_overflow(message: str, code: str | None = None) -> bool:
    """Whether an error says the prompt did not fit the context window, in the words servers use."""
    return code in ("context_length_exceeded", "string_above_max_length") or bool(_OVERFLOW_PATTERN.search(message))


def status_error(service: str, status: int, message: str, *, headers: Mapping[str, str] | None = None,
                 key_env: str, model: str, overflow: bool = False, api_key: str | None = None) -> ProviderError:
    """The error to raise for an HTTP error status from ``service`` (worded for a person, key redacted)."""
    message = redact(message, api_key).rstrip(". ") or "no message"
    if status in (401, 403):
        what = "refused the API key" if status == 401 else "refused the request (permission denied)"
        return ProviderAuthError(sentence(f"{service} {what} ({status}: {message}). Set {key_env} to a valid key"
                                 f"{' with access to ' + model if status == 403 else ''}."), status=status)
    if overflow or status == 413:
        return ContextOverflowError(f"The request did not fit {model}'s context window ({status}: {message}).",
                                    status=status)
    should_retry = (headers or {}).get("x-should-retry")
    if (status in RETRYABLE_STATUSES and should_retry != "false") or should_retry == "true":
        kind = {429: "is rate limiting requests", 529: "is overloaded"}.get(status, "had a server error")
        return TransientError(sentence(f"{service} {kind} ({status}: {message})."), status=status,
                              retry_after=parse_retry_after(headers))
    hint = f" Check model.name ({model}) and model.baseUrl in the settings." if status == 404 else ""
    return ProviderError(sentence(f"{service} returned HTTP {status}: {message}.{hint}"), status=status)


def sentence(text: str) -> str:
    """``text`` with its first letter capitalised (service names like "the model server at ..." start some)."""
    return text[:1].upper() + text[1:]


def connection_error(service: str, detail: str, *, timeout: float | None = None) -> TransientError:
    if timeout is not None:
        return TransientError(sentence(f"{service} sent nothing for {timeout:g} s ({detail})."))
    return TransientError(f"The connection to {service} failed ({detail}).")


def is_timeout(exc: BaseException) -> bool:
    """A transport timeout, from httpx or httpx2 alike (both SDK generations), without importing either."""
    return isinstance(exc, TimeoutError) or any(cls.__name__ == "TimeoutException" for cls in type(exc).__mro__)


def is_transport_error(exc: BaseException) -> bool:
    """A connection-level failure (refused, reset, incomplete body) from httpx or httpx2, or the OS."""
    return isinstance(exc, ConnectionError) or any(cls.__name__ == "TransportError" for cls in type(exc).__mro__)


async def stream_with_retries(
    attempt: Callable[[], AsyncIterator[StreamEvent]],
    translate: Callable[[Exception], ProviderError],
    *,
    policy: RetryPolicy,
    service: str,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> AsyncIterator[StreamEvent]:
    """Yield the events of ``attempt()``, retrying retryable failures while nothing has been yielded.

    ``translate`` turns an SDK or transport exception into a ``ProviderError`` (retryable or not).
    Cancellation is not caught: it propagates and the attempt's stream is closed on the way out.
    """
    waited = 0.0
    for number in range(1, policy.max_attempts + 1):
        started = False
        events = attempt()
        try:
            async for event in events:
                started = True
                yield event
            return
        except Exception as exc:
            error = exc if isinstance(exc, ProviderError) else translate(exc)
            if started and not isinstance(error, (ProviderAuthError, ContextOverflowError)):
                detail = str(error)
                detail = detail[:1].lower() + detail[1:] if detail.startswith("The ") else detail
                raise ProviderError(f"The reply from {service} was cut off: {detail}", status=error.status) from exc
            if started or not error.retryable:
                if error is exc:
                    raise
                raise error from exc
            remaining = policy.max_total_wait - waited
            if number == policy.max_attempts or remaining <= 0:
                raise ProviderError(f"{error} Gave up after {number} attempts.", retryable=True,
                                    status=error.status) from exc
            delay = min(policy.backoff(number, getattr(error, "retry_after", None)), remaining)
            log.info("%s attempt %d failed, retrying in %.2f s: %s", service, number, delay, error)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        waited += delay
        await sleep(delay)
