"""Memory paths: the one gate every path passes before any file or git I/O.

A memory path is relative, ``/``-separated, at most 255 UTF-8 bytes, with no empty, ``.`` or ``..``
segment, no NUL, no leading ``/`` or ``~``, and it stays inside the memory directory once symlinks are
resolved. Anything else raises ``UnsafePathError`` naming the rule it broke, so the model or the user can
correct the call. Letta Code's forms ``memory/system/x.md`` and ``system/x`` (no ``.md``) are accepted
by ``normalize_memory_path`` for the agent's tools.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_PATH_BYTES = 255


class UnsafePathError(ValueError):
    """A path broke one of the memory path rules; the message names the rule."""

    def __init__(self, path: str, rule: str) -> None:
        self.path = path
        self.rule = rule
        super().__init__(f"unsafe memory path {path!r}: {rule}")


def check_memory_path(path: str) -> str:
    """Validate ``path`` lexically and return it unchanged; raise ``UnsafePathError`` otherwise."""
    if not isinstance(path, str):
        raise UnsafePathError(repr(path), "a path must be text")
    if path == "":
        raise UnsafePathError(path, "the path is empty")
    if "\x00" in path:
        raise UnsafePathError(path, "a path may not contain a NUL byte")
    if "\\" in path:
        raise UnsafePathError(path, "use '/' to separate folders, not '\\'")
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise UnsafePathError(path, "a path must be valid UTF-8") from exc
    if size > MAX_PATH_BYTES:
        raise UnsafePathError(path, f"a path may be at most {MAX_PATH_BYTES} bytes (this one is {size})")
    if path.startswith("/"):
        raise UnsafePathError(path, "a path must be relative to the memory directory, not absolute")
    if path.startswith("~") or path.startswith("$"):
        raise UnsafePathError(
            path, "a path must be relative to the memory directory ('~' and '$VARS' are not expanded)")
    if len(path) > 1 and path[1] == ":":
        raise UnsafePathError(path, "a path must be relative to the memory directory, not a drive path")
    for segment in path.split("/"):
        if segment == "":
            raise UnsafePathError(path, "a path may not contain an empty segment ('//' or a trailing '/')")
        if segment == "..":
            raise UnsafePathError(path, "a path may not contain '..'")
        if segment == ".":
            raise UnsafePathError(path, "a path may not contain '.' segments")
    if path.split("/")[0] == ".git":
        raise UnsafePathError(path, "the .git folder is not memory")
    return path


def normalize_memory_path(path: str, memory_dir: Path | None = None, *, add_md: bool = False) -> str:
    """Accept the forms the agent tends to send (``memory/x``, absolute inside the dir, no ``.md``)."""
    if not isinstance(path, str):
        raise UnsafePathError(repr(path), "a path must be text")
    candidate = path.strip()
    if memory_dir is not None and candidate.startswith("/"):
        root = str(memory_dir.resolve())
        if candidate == root or not candidate.startswith(root + "/"):
            raise UnsafePathError(path, "an absolute path must point inside the memory directory")
        candidate = candidate[len(root) + 1 :]
    for prefix in ("$MEMORY_DIR/", "${MEMORY_DIR}/"):  # the form the system prompt shows
        candidate = candidate.removeprefix(prefix)
    candidate = candidate.removeprefix("./")
    if candidate.startswith("memory/"):
        candidate = candidate[len("memory/") :]
    candidate = candidate.rstrip("/") if candidate != "/" else candidate
    check_memory_path(candidate)
    if add_md and not candidate.endswith(".md"):
        candidate += ".md"
        check_memory_path(candidate)
    return candidate


def resolve_in(root: Path, path: str) -> Path:
    """The file for ``path`` under ``root``, refusing any escape through a symlink."""
    check_memory_path(path)
    root_real = Path(os.path.realpath(root))
    target = root_real / path
    real = Path(os.path.realpath(target))
    if real != root_real and root_real not in real.parents:
        raise UnsafePathError(path, "the path leaves the memory directory through a symbolic link")
    git_dir = root_real / ".git"
    if real == git_dir or git_dir in real.parents:
        raise UnsafePathError(path, "the path leads into .git through a symbolic link; the .git folder is not memory")
    # a symlink inside memory that points elsewhere inside memory is allowed for reads; writes and deletes
    # never follow any link (``memfs.worktree_files``)
    return target
