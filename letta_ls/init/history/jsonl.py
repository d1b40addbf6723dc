"""Stream JSON objects out of a JSONL file without ever trusting it to be small or well formed.

A transcript may be gigabytes long, end in a half-written line (the agent was killed mid-write), hold a
single 50 MB line (a tool result that printed a whole file) or be binary junk with a ``.jsonl`` name.
``read_jsonl`` reads line by line up to a byte budget; a line over ``max_line_bytes`` is skipped by
reading past it in chunks, never holding it in memory; a line that is not a JSON object is counted and
skipped. What was skipped ends up in ``JsonlStats`` so the caller can say so; nothing here raises on
bad content. ``OSError`` (a file that vanished or cannot be opened) is the caller's to turn into a note.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

_SKIP_CHUNK = 1024 * 1024


@dataclass
class JsonlStats:
    records: int = 0
    malformed: int = 0  # lines that are not a JSON object (binary junk, a cut-off last line, a bare value)
    oversized: int = 0  # lines longer than the line limit, skipped unread
    bytes_read: int = 0
    truncated: bool = False  # stopped at the byte budget before the end of the file

    def problems(self, what: str = "line") -> list[str]:
        """Plain-words descriptions of what was skipped, for a session's notes."""
        out = []
        if self.malformed:
            out.append(f"{self.malformed} malformed {what}{'s' if self.malformed != 1 else ''} skipped")
        if self.oversized:
            out.append(f"{self.oversized} oversized {what}{'s' if self.oversized != 1 else ''} skipped")
        if self.truncated:
            out.append(f"only the first {_size(self.bytes_read)} were read (the file is larger)")
        return out


def _size(count: int) -> str:
    if count >= 1_048_576:
        return f"{count / 1_048_576:.0f} MB"
    return f"{max(count // 1024, 1)} KB"


def read_jsonl(
    path: Path, *, max_bytes: int, max_line_bytes: int, stats: JsonlStats | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every line of ``path`` that is a JSON object (1-based lines)."""
    stats = stats if stats is not None else JsonlStats()
    with open_transcript(path) as handle:
        number = 0
        while True:
            if stats.bytes_read >= max_bytes:
                stats.truncated = bool(handle.read(1))
                return
            line = handle.readline(max_line_bytes + 1)
            if not line:
                return
            number += 1
            stats.bytes_read += len(line)
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                stats.oversized += 1
                stats.bytes_read += _skip_rest_of_line(handle)
                continue
            line = line.strip()
            if not line:
                continue
            record = _parse(line)
            if record is None:
                stats.malformed += 1
                continue
            stats.records += 1
            yield number, record


@contextlib.contextmanager
def open_transcript(path: Path) -> Iterator[BinaryIO]:
    """``path`` opened for reading bytes; a ``.zst`` file (Codex compresses old rollouts) decompressed as it
    is read, so a compressed rollout costs no more memory than a plain one and is never unpacked to disk.
    A damaged frame stops the reading like the end of the file (``zstandard`` raises ``ZstdError``, which
    is turned into ``OSError`` so callers handle it as a file they could not read)."""
    with open(path, "rb") as raw:
        if not path.name.endswith(".zst"):
            yield raw
            return
        import zstandard  # only when a compressed rollout is met

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        try:
            yield _ZstdLines(io.BufferedReader(reader, 1024 * 1024))  # type: ignore[arg-type]
        except zstandard.ZstdError as error:
            raise OSError(f"damaged compressed file: {error}") from error


class _ZstdLines:
    """``readline``/``read`` over a decompressing reader, with a damaged frame reported as ``OSError``."""

    def __init__(self, reader: io.BufferedReader) -> None:
        self._reader = reader

    def readline(self, limit: int = -1) -> bytes:
        return self._call(self._reader.readline, limit)

    def read(self, size: int = -1) -> bytes:
        return self._call(self._reader.read, size)

    @staticmethod
    def _call(method: Any, size: int) -> bytes:
        import zstandard

        try:
            return method(size)
        except zstandard.ZstdError as error:
            raise OSError(f"damaged compressed file: {error}") from error


# a ``"cwd": "..."`` key and Codex's ``<cwd>...</cwd>``; each pattern starts with a literal so the search is fast
_CWD_KEY = re.compile(rb'"cwd"\s*:\s*"((?:[^"\\\n]|\\.){1,4096})"')
_CWD_TAG = re.compile(rb"<cwd>([^<\n]{1,4096})</cwd>")
_OVERLAP = 8192


def recorded_folders(path: Path, *, max_bytes: int) -> list[str]:
    """Every working directory the first ``max_bytes`` of a transcript record, in order, each once.

    A session may start in ``~`` and then work in a project (Claude Code writes each record's ``cwd``,
    Codex a ``turn_context`` per turn): it belongs to every folder it worked in, not only the first. The
    raw bytes are searched, chunk by chunk, without parsing every line: this runs over every transcript
    on the machine when /init looks for a project's sessions.
    """
    found: list[str] = []
    tail = b""
    read = 0
    with open_transcript(path) as handle:
        while read < max_bytes:
            chunk = handle.read(min(_SKIP_CHUNK, max_bytes - read))
            if not chunk:
                break
            read += len(chunk)
            data = tail + chunk
            for match in _CWD_KEY.finditer(data):
                if match.start() and data[match.start() - 1:match.start()] == b"\\":
                    continue  # ``\"cwd\"`` inside a JSON string (a file the agent read), not a record's key
                _add(found, _folder_text(match.group(1), None))
            for match in _CWD_TAG.finditer(data):
                _add(found, _folder_text(None, match.group(1)))
            tail = data[-_OVERLAP:]
    return found


def _add(found: list[str], folder: str | None) -> None:
    if folder and folder not in found:
        found.append(folder)


def _folder_text(quoted: bytes | None, tagged: bytes | None) -> str | None:
    """The folder a ``cwd`` names, or None. Codex 0.171 writes a command's ``cwd`` as a ``file://`` URL: read
    as a path it would be relative, and so resolved against the folder /init runs in; only absolute folders
    are kept."""
    try:
        text = json.loads(b'"' + quoted + b'"') if quoted is not None else (tagged or b"").decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(text, str):
        return None
    text = text.strip()
    if text.startswith("file://"):
        text = unquote(urlsplit(text).path)
    if not (PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute()):
        return None
    return text


def _skip_rest_of_line(handle: Any) -> int:
    skipped = 0
    while True:
        chunk = handle.readline(_SKIP_CHUNK)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def _parse(line: bytes) -> dict[str, Any] | None:
    if line[:1] != b"{":
        return None
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None
