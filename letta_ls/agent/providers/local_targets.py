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

The same knowledge of what the model was shown decides two more aims: a change to a file the prompt only
lists starts with a forced ``view`` of it (``forced_view``), and a corrected line inserted beside the wrong
one replaces it (``insert_as_replacement``).

Pure text and schema work on the request: the memory is read from the prompt the model is given, so what
the grammar allows is exactly what the model was shown.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers.base import ToolSpec
from letta_ls.agent.providers.local_prompt import CHANGE_WORDS, EDIT_WORDS

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


# words that say what to do with memory, not what the fact is about: they make no line relevant
_REQUEST_WORDS = frozenset(re.findall(r"\w+", """the and for you your not with that this what are was its use now please
memory memories note notes fix correct correction update change changed actually wrong remember set instead
from has have had can could would should will our their they them then than just also about into"""))


def _content_words(text: str) -> set[str]:
    words = {word[:-1] if len(word) > 3 and word.endswith("s") else word for word in _words(text)}
    return {word for word in words if len(word) >= 3 and word not in _REQUEST_WORDS}


def relevant_lines(targets: dict[str, list[str]], request: str, keep_all: bool = False) -> dict[str, list[str]]:
    """Of ``targets``, the lines that share the most words of substance with the request (at least one).

    Why: offered every line of memory, the 0.5B model picked the first line of a file's template text ("As we
    work together I will note here ...") and replaced it, a wrong overwrite; the line a correction is about
    names its subject ("npm", "Alec", "8000"). With no line sharing a word, none (the ``str_replace`` stays
    free), unless ``keep_all`` (the file the user had viewed: it is the one the request is about)."""
    wanted = _content_words(request)
    scored = {(path, line): len(_content_words(line) & wanted) for path, lines in targets.items() for line in lines}
    best = max(scored.values(), default=0)
    if best == 0:
        return dict(targets) if keep_all else {}
    kept: dict[str, list[str]] = {}
    for (path, line), score in scored.items():
        if score == best:
            kept.setdefault(path, []).append(line)
    return kept


def str_replace_targets(system: str, messages: Sequence[Message]) -> dict[str, list[str]]:
    """What a ``str_replace`` may name this step: the lines of the viewed file (else of the prompt's memory) that
    the user's request is about (``relevant_lines``)."""
    request = next((m.content or "" for m in reversed(messages) if m.role == "user"), "")
    viewed = viewed_file_lines(messages)
    if viewed is not None:
        return relevant_lines(viewed, request, keep_all=True)
    return relevant_lines(prompt_memory_lines(system), request)


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


_WORD = re.compile(r"\w+")


def _words(line: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(line)}


def contradicted_line(new_line: str, lines: Sequence[str]) -> str | None:
    """The one line of ``lines`` that says the same thing as ``new_line`` with other values: most of their words
    shared (at least two, and half of the longer), some differing on both sides. None when no line, or more
    than one line, is that close."""
    new = _words(new_line)
    scored: list[tuple[int, str]] = []
    for line in lines:
        old = _words(line)
        shared = len(new & old)
        if new - old and old - new and shared >= max(2, (max(len(new), len(old)) + 1) // 2):
            scored.append((shared, line))
    if not scored:
        return None
    best = max(score for score, _ in scored)
    closest = [line for score, line in scored if score == best]
    return closest[0] if len(closest) == 1 else None


def insert_as_replacement(call: ToolCall, targets: dict[str, list[str]], request: str) -> ToolCall:
    """A one-line ``insert`` that contradicts a line of its file, in a request to change memory, as the
    ``str_replace`` of that line.

    Why: asked to correct or update a fact, the 0.5B model often adds the corrected line next to the wrong
    one ("- Deploy target: production." under "- Deploy target: staging."), which leaves memory saying both;
    the user asked for a change, so the line about the same subject is the one to replace. Only for a request
    that says something changed (``CHANGE_WORDS``), only when exactly one line of the file is that close, and
    only for a file whose lines the model was shown.
    """
    arguments = call.arguments
    text = arguments.get("insert_text")
    if (call.name != "memory" or arguments.get("command") != "insert" or not isinstance(text, str)
            or len([line for line in text.splitlines() if line.strip()]) != 1 or not CHANGE_WORDS.search(request)):
        return call
    path = str(arguments.get("file_path") or "")
    old = contradicted_line(text.strip(), targets.get(path, []))
    if old is None:
        return call
    replaced = {"command": "str_replace", "file_path": path, "old_string": old, "new_string": text.strip(),
                "reason": arguments.get("reason") or "The user corrected this"}
    return dataclasses.replace(call, arguments=replaced)


_TREE_ENTRY = re.compile(r"^(?P<indent>(?:│   |    )*)(?:├── |└── )(?P<name>[^ ()]+)")
_ABOUT_MEMORY = re.compile(r"\b(notes?|memory|memories|files?)\b|\.md\b", re.IGNORECASE)


def listed_memory_files(system: str) -> list[str]:
    """The memory files the system prompt lists in its tree (``<external_projection>``) without showing them."""
    inside, folders, paths = False, [], []
    for line in system.splitlines():
        stripped = line.strip()
        if stripped in ("<external_projection>", "</external_projection>"):
            inside = stripped == "<external_projection>"
            continue
        match = _TREE_ENTRY.match(line) if inside else None
        if match is None:
            continue
        depth, name = len(match.group("indent")) // 4, match.group("name")
        del folders[depth:]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        elif name.endswith(".md"):
            paths.append("/".join([*folders, name]))
    return paths


def forced_view(system: str, messages: Sequence[Message]) -> str | None:
    """The memory file to view before anything else this turn, or None: the request asks for a change
    (``EDIT_WORDS``) to a file the prompt lists but does not show, named by its path, or by its name together
    with "notes", "memory" or "file" ("check your deploy notes and set the target to production").

    Why: the 0.5B model asked to change such a file wrote to a file it could see (system/human.md) instead,
    or edited blind; it cannot replace a line it has not seen, so the program has it read the file first.
    """
    last = messages[-1] if messages else None
    request = last.content or "" if last is not None and last.role == "user" else ""
    if not request or not EDIT_WORDS.search(request):
        return None
    lowered = request.lower()
    listed = [path for path in listed_memory_files(system) if path not in prompt_memory_lines(system)]
    named = [path for path in listed if path.lower() in lowered]
    if not named and _ABOUT_MEMORY.search(request):
        words = _words(request)
        named = [path for path in listed
                 if set(re.split(r"[-_ ]+", path.rsplit("/", 1)[-1].removesuffix(".md").lower())) <= words]
    return named[0] if len(named) == 1 else None


def view_only(tools: Sequence[ToolSpec], path: str) -> list[ToolSpec]:
    """The tools with the memory tool narrowed to one call: ``view`` of ``path``."""
    view = {"type": "object", "properties": {"command": {"const": "view"}, "file_path": {"const": path}},
            "required": ["command", "file_path"]}
    return [dataclasses.replace(tool, strict_parameters={"anyOf": [view]}) if tool.name == "memory" else tool
            for tool in tools]
