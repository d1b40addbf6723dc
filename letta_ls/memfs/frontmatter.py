"""Frontmatter of memory files, read exactly as Letta Code reads it, and rewritten one field at a time.

A memory file is ``---`` / ``key: value`` lines / ``---`` / markdown body. Letta Code does not read that
block as YAML: its reader (``parseFrontmatter`` in its bundle) takes each unindented ``key: value`` line
as text (``description: Tooling: pnpm`` is the description ``Tooling: pnpm``), ignores indented lines
except ``- item`` lists, reads ``|`` and ``>`` block scalars, and lets a later key win. Memory written by
Letta Code's own tool is in that dialect, not YAML, so letta-ls reads it the same way: every value Letta
Code accepts gives the same description, ``read_only`` and ``limit`` here, and a block is never shown to
the model as body. One deliberate difference: a description written whole in quotes (``"a: b"``) is
unquoted, as YAML and Letta Code's MemFS v2 reader do (its legacy renderer shows the quotes).

Where Letta Code's *commit hook* is stricter than its reader (a BOM, CRLF, a fence with trailing spaces)
this reader still finds the block; ``letta_ls.memfs.letta_code_rules`` says what the hook refuses.

Rewrites (``set_field``, ``remove_field``, ``replace_body``) change only the lines of the field they
touch, so unknown keys, key order, quoting, comments, line endings, a BOM and the body survive byte for
byte (Letta Code's tool drops unknown keys; we must not).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FENCE = "---"
BOM = "\ufeff"
_BLOCK_SCALAR = re.compile(r"^([|>])([+-]?)$")
_POSITIVE_INT = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class FrontmatterError:
    """Why a frontmatter block could not be read. ``line`` is 0-based in the whole file."""

    kind: str  # "missing" | "unclosed" | "type"
    message: str
    line: int = 0
    key: str | None = None


def unquote(value: str) -> str:
    """A value written whole in double or single quotes, without them (Letta Code's MemFS v2 rule)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            parsed = json.loads(text)
        except ValueError:
            return text[1:-1]
        return parsed if isinstance(parsed, str) else text
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


@dataclass(frozen=True)
class MemoryDocument:
    """A memory file split into its frontmatter and body; line numbers are 0-based in the file.

    ``fields`` holds what Letta Code's reader sees: text for ``key: value`` and block scalars, a list
    for ``key:`` followed by ``- item`` lines, ``""`` for a key with no value.
    """

    text: str
    has_frontmatter: bool
    fields: dict[str, Any]
    raw_frontmatter: str
    body: str
    body_start_line: int
    key_spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    errors: tuple[FrontmatterError, ...] = ()

    @property
    def error(self) -> FrontmatterError | None:
        """The first structural error (missing or unclosed block), if any."""
        for err in self.errors:
            if err.kind != "type":
                return err
        return None

    @property
    def valid(self) -> bool:
        return not self.errors

    def text_field(self, key: str) -> str | None:
        """A text value as the agent should see it (whole-value quotes removed); None if absent or a list."""
        value = self.fields.get(key)
        return unquote(value) if isinstance(value, str) else None

    @property
    def description(self) -> str | None:
        return self.text_field("description")

    @property
    def read_only(self) -> bool:
        """Letta Code's rule: the file is read-only when the value is exactly ``true``."""
        return self.fields.get("read_only") in ("true", True)

    @property
    def limit(self) -> int | None:
        """A positive whole number of tokens, else None (Letta Code ignores ``limit``: any value is legal)."""
        value = self.fields.get("limit")
        if isinstance(value, str) and _POSITIVE_INT.match(value) and int(value) > 0:
            return int(value)
        return None

    def key_line(self, key: str) -> int | None:
        span = self.key_spans.get(key)
        return span[0] if span else None


class FrontmatterEditError(ValueError):
    """A rewrite was asked of a file whose frontmatter cannot be edited safely."""


def _split_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def _is_fence(line: str) -> bool:
    return _strip_eol(line).rstrip(" \t") == FENCE


def _line_ending(text: str) -> str:
    idx = text.find("\n")
    return "\r\n" if idx > 0 and text[idx - 1] == "\r" else "\n"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block_scalar(lines: list[str], style: str, chomping: str) -> str:
    """Letta Code's ``parseBlockScalar``: a ``|`` (literal) or ``>`` (folded) value."""
    indents = [_indent(line) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    deindented = [line[cut:] if line.strip() else "" for line in lines]
    if style == "|":
        value = "\n".join(deindented)
    else:
        value, breaks = "", 0
        for line in deindented:
            if not line:
                breaks += 1
                continue
            if value:
                value += "\n" * breaks if breaks else " "
            elif breaks:
                value += "\n" * breaks
            value += line
            breaks = 0
        value += "\n" * breaks
    if chomping == "+":
        return value + "\n"
    stripped = value.rstrip("\n")
    return stripped if chomping == "-" else stripped + "\n"


def _parse_block(lines: list[str], first: int, end: int) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """Letta Code's ``parseFrontmatter`` loop over file lines [first, end), plus where each key sits."""
    fields: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    pending: str | None = None
    items: list[str] = []
    last_key: str | None = None
    i = first
    while i < end:
        line = _strip_eol(lines[i])
        trimmed = line.strip()
        indentation = _indent(line)
        if indentation > 0:
            if indentation <= 2 and trimmed.startswith("-") and pending:
                items.append(trimmed[1:].strip())
            if last_key is not None and trimmed:
                spans[last_key] = (spans[last_key][0], i + 1)
            i += 1
            continue
        if pending:
            fields[pending] = items if items else ""
            pending, items = None, []
        last_key = None
        colon = line.find(":")
        if colon > 0:
            key = line[:colon].strip()
            value = line[colon + 1 :].strip()
            spans[key] = (i, i + 1)
            last_key = key
            scalar = _BLOCK_SCALAR.match(value)
            if scalar:
                j = i + 1
                while j < end:
                    nxt = _strip_eol(lines[j])
                    if nxt.strip() and nxt == nxt.lstrip():
                        break
                    j += 1
                block = [_strip_eol(lines[k]) for k in range(i + 1, j)]
                fields[key] = _block_scalar(block, scalar.group(1), scalar.group(2))
                stop = j
                while stop > i + 1 and not _strip_eol(lines[stop - 1]).strip():
                    stop -= 1
                spans[key] = (i, stop)
                last_key = None
                i = j
                continue
            if value:
                fields[key] = value
            else:
                pending, items = key, []
        i += 1
    if pending:
        fields[pending] = items if items else ""
    return fields, spans


def _type_errors(fields: Mapping[str, Any], spans: Mapping[str, tuple[int, int]], first: int) -> list[FrontmatterError]:
    if isinstance(fields.get("description"), list):
        line = spans.get("description", (first, first))[0]
        return [FrontmatterError("type", "`description` must be one line of text, not a list", line, "description")]
    return []


def parse_document(text: str) -> MemoryDocument:
    """Split ``text`` into frontmatter fields and body; never raises on bad input."""
    lines = _split_lines(text)
    if not lines or not _is_fence(lines[0].removeprefix(BOM)):
        return MemoryDocument(
            text=text, has_frontmatter=False, fields={}, raw_frontmatter="", body=text.removeprefix(BOM),
            body_start_line=0,
            errors=(FrontmatterError("missing", "the file does not start with a `---` frontmatter block", 0),),
        )
    close = next((i for i in range(1, len(lines)) if _is_fence(lines[i])), None)
    if close is None:
        return MemoryDocument(
            text=text, has_frontmatter=True, fields={}, raw_frontmatter="".join(lines[1:]), body="",
            body_start_line=len(lines),
            errors=(FrontmatterError("unclosed", "the frontmatter block is never closed with a `---` line", 0),),
        )
    raw = "".join(lines[1:close])
    fields, spans = _parse_block(lines, 1, close)
    return MemoryDocument(
        text=text, has_frontmatter=True, fields=fields, raw_frontmatter=raw,
        body="".join(lines[close + 1 :]), body_start_line=close + 1, key_spans=spans,
        errors=tuple(_type_errors(fields, spans, 1)),
    )


def one_line(value: str) -> str:
    """Collapse a description to the single line the format requires."""
    return " ".join(value.split())


def needs_quotes(text: str) -> bool:
    """Whether Letta Code's reader (and ours) would read ``key: text`` as something other than ``text``."""
    return (
        not text
        or text != text.strip()
        or "\n" in text
        or "\r" in text
        or (len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'")
        or _BLOCK_SCALAR.match(text) is not None
    )


def render_scalar(value: Any) -> str:
    """A value as Letta Code's memory tool writes it: as is, quoted (JSON style, as its v2 writer does)
    only when a reader would otherwise read something else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if needs_quotes(text) else text


def render_document(fields: Mapping[str, Any], body: str, newline: str = "\n") -> str:
    """A new memory file from fields (in order) and a body."""
    out = [FENCE, newline]
    for key, value in fields.items():
        out += [f"{key}: {render_scalar(value)}".rstrip(" "), newline]
    out += [FENCE, newline, body]
    return "".join(out)


def _editable(text: str) -> tuple[MemoryDocument, list[str]]:
    doc = parse_document(text)
    structural = doc.error
    if structural is not None:
        raise FrontmatterEditError(f"cannot edit the frontmatter: {structural.message}")
    return doc, _split_lines(text)


def set_field(text: str, key: str, value: Any) -> str:
    """Set one top-level key, leaving every other byte of the file as it was."""
    doc, lines = _editable(text)
    newline = _line_ending(text)
    new_line = f"{key}: {render_scalar(value)}".rstrip(" ") + newline
    if key in doc.key_spans:
        start, stop = doc.key_spans[key]
        lines[start:stop] = [new_line]
    else:
        close = doc.body_start_line - 1
        prev = lines[close - 1] if close - 1 >= 0 else ""
        if close - 1 >= 1 and not prev.endswith(("\n", "\r")):
            lines[close - 1] = prev + newline
        lines.insert(close, new_line)
    return "".join(lines)


def remove_field(text: str, key: str) -> str:
    """Remove one top-level key (and its continuation lines); a missing key changes nothing."""
    doc, lines = _editable(text)
    if key not in doc.key_spans:
        return text
    start, stop = doc.key_spans[key]
    del lines[start:stop]
    return "".join(lines)


def replace_body(text: str, body: str) -> str:
    """Keep the frontmatter block byte for byte and put ``body`` after it."""
    doc, lines = _editable(text)
    head = "".join(lines[: doc.body_start_line])
    if head and not head.endswith(("\n", "\r")):
        head += _line_ending(text)
    return head + body
