"""Repairing the memory calls a small model gets almost right, before the memory tool sees them.

Why: a 0.5B model under a grammar produces well-formed calls, but it often aims them slightly wrong. It
"creates" a file that already exists when it means to add a line to it (the tool would refuse, and the
model rarely recovers), and it writes paths as ``/system/x.md``, ``memory/system/x``, ``x`` without
``.md`` or with stray spaces. The program does what the model does badly: a ``create`` of an existing
file becomes an ``insert`` of its text at the end of the body, and paths are normalised so they stay
under the memory folder (an absolute path outside memory loses its leading slash rather than being
refused; ``..`` is still refused by the memory tool), and a ``str_replace`` whose ``old_string`` differs
from the file only in case or spacing uses the file's own text when that occurs once. Applied only to the
embedded local model (``Toolbox.repair_examples``, set by a provider that declares them): a capable model's
mistakes go back to it unchanged, as SPEC section 10 says.

Core: no LSP; it reads only the names of the files in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

PATH_ARGUMENTS = ("file_path", "old_path", "new_path")
_PREFIXES = ("letta-memory://", "$MEMORY_DIR/", "${MEMORY_DIR}/", "./", "memory/")


def normalise_path(raw: str, exists: Callable[[str], bool], root: str | None = None) -> str:
    """``raw`` as a path inside memory (``root``, the memory folder, is cut from an absolute path inside it):
    slashes and known prefixes trimmed, ``.md`` added when that names an existing file."""
    path = raw.strip().strip("`\"'").replace("\\", "/")
    if root and path.startswith(root.rstrip("/") + "/"):
        path = path[len(root.rstrip("/")) + 1:]
    changed = True
    while changed:
        changed = False
        stripped = path.lstrip("/")
        for prefix in _PREFIXES:
            if stripped.startswith(prefix):
                stripped = stripped[len(prefix):]
        if stripped != path:
            path, changed = stripped, True
    path = "/".join(part.strip() for part in path.split("/") if part.strip() not in ("", "."))
    if path and not path.endswith(".md") and exists(path + ".md"):
        path += ".md"
    return path


def locate(old: str, text: str) -> str | None:
    """The exact text of ``text`` that ``old`` means when it differs only in case and spacing, if it occurs once."""
    words = old.split()
    if not words:
        return None
    matches = list(re.finditer(r"\s+".join(re.escape(word) for word in words), text, re.IGNORECASE))
    return matches[0].group(0) if len(matches) == 1 else None


class RepeatedLineError(ValueError):
    """The call inserts a line the file already holds: a small model asked to correct a fact re-adds it."""


def refuse_repeated_line(arguments: Mapping[str, Any], read: Callable[[str], str | None]) -> None:
    """Raise ``RepeatedLineError`` when an ``insert`` adds only lines that are in the file already, naming the
    ``str_replace`` that changes such a line (the retry's error tells the model what to do instead)."""
    if arguments.get("command") != "insert" or not isinstance(arguments.get("insert_text"), str):
        return
    text = read(str(arguments.get("file_path") or ""))
    added = [line.strip() for line in arguments["insert_text"].splitlines() if line.strip()]
    if text is None or not added:
        return
    held = {line.strip() for line in text.splitlines()}
    if all(line in held for line in added):
        raise RepeatedLineError(f"{arguments['file_path']} already has the line {added[0]!r}; to change it, call "
                                f"str_replace with old_string {added[0]!r} and new_string the corrected line")


class CopiedExampleError(ValueError):
    """The call stores a worked example's text instead of what the user said."""


def refuse_copied_example(arguments: Mapping[str, Any], examples: frozenset[str]) -> None:
    """Raise ``CopiedExampleError`` when a text the call would store is one of the prompt's worked examples:
    a small model held to a call sometimes copies the nearest example word for word, which would commit
    a fact nobody stated."""
    for name in ("file_text", "insert_text", "new_string"):
        value = arguments.get(name)
        if isinstance(value, str) and value.strip() and value.strip() in examples:
            raise CopiedExampleError(f"{name} {value.strip()!r} is the worked example's text, not what the user "
                                     "said; store the user's own words instead")


def repair_memory_call(arguments: Mapping[str, Any], exists: Callable[[str], bool], root: str | None = None,
                       read: Callable[[str], str | None] | None = None) -> tuple[dict[str, Any], str]:
    """``(arguments, note)``: the call with its paths normalised and a ``create`` of an existing file turned into
    an ``insert`` at the end; ``note`` says what was changed (empty when nothing was), for the tool's reply."""
    fixed = dict(arguments)
    notes: list[str] = []
    for name in PATH_ARGUMENTS:
        value = fixed.get(name)
        if isinstance(value, str) and value:
            path = normalise_path(value, exists, root)
            if path and path != value:
                fixed[name] = path
    if fixed.get("command") == "create" and isinstance(fixed.get("file_path"), str):
        path = fixed["file_path"]
        target = path if path.endswith(".md") or "." in path.rsplit("/", 1)[-1] else path + ".md"
        if exists(target):
            text = fixed.get("file_text")
            text = text if isinstance(text, str) and text.strip() else str(fixed.get("description") or "")
            fixed = {"command": "insert", "file_path": target, "insert_line": 1_000_000,
                     "insert_text": text, "reason": fixed.get("reason")}
            notes.append(f"{target} already existed, so the text was added at its end instead of creating it")
    if fixed.get("command") == "insert" and isinstance(fixed.get("file_path"), str) and fixed["file_path"]:
        path = fixed["file_path"]
        target = path if path.endswith(".md") or "." in path.rsplit("/", 1)[-1] else path + ".md"
        if not exists(target) and isinstance(fixed.get("insert_text"), str) and fixed["insert_text"].strip():
            name = target.rsplit("/", 1)[-1].removesuffix(".md").replace("_", " ").replace("-", " ")
            fixed = {"command": "create", "file_path": target, "description": f"Facts about {name}",
                     "file_text": fixed["insert_text"], "reason": fixed.get("reason")}
            notes.append(f"{target} did not exist, so it was created with the text")
    old = fixed.get("old_string")
    if fixed.get("command") == "str_replace" and isinstance(old, str) and read is not None:
        text = read(str(fixed.get("file_path") or ""))
        if text is not None and old not in text:
            found = locate(old, text)
            if found is not None:
                fixed["old_string"] = found
    return fixed, "; ".join(notes)
