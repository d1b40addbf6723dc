"""Reading workspace files the safe way: bounded, text only, inside the folder, secrets redacted.

A workspace is the user's, not ours: a ``README`` may be a symlink to ``/etc``, a ``Makefile`` may be
generated and 40 MB long, a ``package.json`` may hold a registry token. ``FolderReader`` reads a file
only if it resolves inside the folder, only its first ``max_bytes``, only if it is text, and hands back
text that went through the same secret redaction as transcripts. What it could not read becomes a note.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from letta_ls.subagents.text import redact

MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class TextFile:
    path: str  # relative to the folder, ``/``-separated
    text: str  # redacted
    size: int  # bytes on disk
    truncated: bool


@dataclass
class FolderReader:
    root: Path
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._real_root = os.path.realpath(self.root)

    def inside(self, path: Path) -> bool:
        real = os.path.realpath(path)
        return real == self._real_root or real.startswith(self._real_root.rstrip(os.sep) + os.sep)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def exists(self, relative: str) -> bool:
        path = self.root / relative
        return path.exists() and self.inside(path)

    def read(self, relative: str | Path, max_bytes: int = MAX_FILE_BYTES, *, quiet: bool = False) -> TextFile | None:
        """The file's text, or None when it is missing, outside the folder, binary or unreadable."""
        path = self.root / relative if isinstance(relative, str) else relative
        name = self.relative(path) if path.is_relative_to(self.root) else str(path)
        try:
            if not path.is_file():
                return None
            if not self.inside(path):
                self.notes.append(f"{name}: not read, it points outside the folder")
                return None
            size = path.stat().st_size
            with open(path, "rb") as handle:
                data = handle.read(max_bytes)
        except OSError as error:
            if not quiet:
                self.notes.append(f"{name}: could not be read ({error.strerror or error})")
            return None
        if b"\x00" in data[:8192]:
            return None
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        if size > max_bytes:
            cut = text.rfind("\n")
            text = text[: cut + 1] if cut > 0 else text
        return TextFile(name, redact(text), size, size > max_bytes)

    def listdir(self, relative: str = "") -> list[os.DirEntry[str]]:
        folder = self.root / relative if relative else self.root
        try:
            return sorted(os.scandir(folder), key=lambda e: e.name)
        except FileNotFoundError:
            return []
        except OSError as error:
            self.notes.append(f"{relative or '.'}: could not be listed ({error.strerror or error})")
            return []
