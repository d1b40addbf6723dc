"""Which lines of memory a small model's ``str_replace`` may aim at: the grammar offers it only those.

Why: asked to correct a fact, the 0.5B model writes an ``old_string`` that is not in the file (a paraphrase,
half a line, the new value) or picks the wrong file; the call fails, the retry often fails the same way,
and nothing is stored (issue 17: ``correct`` 2/4, ``view-then-edit`` 2/4). The lines it may replace are
known before it writes: after a ``view``, the viewed file's numbered lines; otherwise the bodies of the
memory files the system prompt shows. So the grammar's ``str_replace`` becomes one alternative per file,
its ``file_path`` that file and its ``old_string`` one of that file's lines, word for word. Choosing a line
from a list is what a small model does reliably; writing the new line stays free. A file the model has
not seen (neither in the system prompt nor viewed) cannot be a ``str_replace`` target, which leaves it
``view`` to read it first (or ``insert`` to add to it).

Pure text and schema work on the request: the memory is read from the prompt the model is given, so what
the grammar allows is exactly what the model was shown.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from letta_ls.agent.messages import Message
from letta_ls.agent.providers.base import ToolSpec

_PROJECTION = re.compile(r"^\s*<projection>\$MEMORY_DIR/(?P<path>[^<]+)</projection>\s*$")
_NUMBERED = re.compile(r"^\s*\d+\t(?P<line>.*)$")
MAX_TARGET_LINES = 200  # a larger memory keeps a free old_string (the grammar would grow past what helps)
MAX_LINE_CHARS = 300


def _usable(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and len(stripped) <= MAX_LINE_CHARS and stripped != "---"


def prompt_memory_lines(system: str) -> dict[str, list[str]]:
    """The body lines of each memory file the system prompt shows (``<projection>`` then its body), by path."""
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in system.splitlines():
        match = _PROJECTION.match(line)
        if match:
            current = files.setdefault(match.group("path").strip(), [])
            continue
        stripped = line.strip()
        if current is None:
            continue
        if stripped.startswith("<description>"):
            continue
        if stripped.startswith("<") and stripped.endswith(">") and " " not in stripped:
            current = None  # the element's closing tag (or a child element): its body ended
            continue
        if _usable(stripped) and stripped not in current:
            current.append(stripped)
    return {path: lines for path, lines in files.items() if lines}


def viewed_file_lines(messages: Sequence[Message]) -> dict[str, list[str]] | None:
    """The file the model's last step viewed, with its lines (frontmatter left out), or None when the last step
    was not a successful view of one file."""
    last = messages[-1] if messages else None
    if last is None or last.role != "tool" or last.name != "memory" or (last.content or "").startswith("Error:"):
        return None
    header, _, body = (last.content or "").partition("\n")
    numbered = [m.group("line") for m in map(_NUMBERED.match, body.splitlines()) if m]
    if not header.strip() or not numbered:
        return None
    if numbered[0].strip() == "---":  # the frontmatter: its keys are not facts to replace
        end = next((i for i, line in enumerate(numbered[1:], 1) if line.strip() == "---"), None)
        numbered = numbered[end + 1:] if end is not None else numbered
    lines = list(dict.fromkeys(line.strip() for line in numbered if _usable(line)))
    return {header.strip(): lines} if lines else None


def replaceable_lines(system: str, messages: Sequence[Message]) -> dict[str, list[str]]:
    """The lines a ``str_replace`` may name: the file just viewed, else every file the system prompt shows."""
    viewed = viewed_file_lines(messages)
    return viewed if viewed is not None else prompt_memory_lines(system)


def aim_str_replace(tools: Sequence[ToolSpec], targets: dict[str, list[str]]) -> list[ToolSpec]:
    """The tools with the memory tool's ``str_replace`` split into one alternative per target file, whose
    ``old_string`` must be one of its lines; unchanged when there are no targets or too many lines."""
    if not targets or sum(len(lines) for lines in targets.values()) > MAX_TARGET_LINES:
        return list(tools)
    aimed: list[ToolSpec] = []
    for tool in tools:
        union = (tool.strict_parameters or {}).get("anyOf") if tool.name == "memory" else None
        if not isinstance(union, list):
            aimed.append(tool)
            continue
        alternatives: list[dict[str, Any]] = []
        for alternative in union:
            if alternative.get("properties", {}).get("command", {}).get("const") != "str_replace":
                alternatives.append(alternative)
                continue
            for path, lines in targets.items():
                properties = {**alternative["properties"], "file_path": {"const": path},
                              "old_string": {"enum": list(lines)}}
                alternatives.append({**alternative, "properties": properties})
        aimed.append(dataclasses.replace(tool, strict_parameters={"anyOf": alternatives}))
    return aimed
