"""YAML frontmatter of memory files: parse it, and rewrite one field without touching anything else.

A memory file is ``---`` / YAML mapping / ``---`` / markdown body. This module owns that format and
nothing more: it never reads the disk or git. Rewrites (``set_field``, ``remove_field``,
``replace_body``) change only the lines of the field they touch, so unknown keys, key order, quoting,
comments, line endings, a BOM and the body survive byte for byte (Letta Code's tool drops unknown
keys; we must not).

Parsing is on the hot path (the system prompt and the doctor parse every file), so simple
``key: plain scalar`` blocks are read by a fast path that gives the same values PyYAML would, and
anything else falls back to PyYAML's C loader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # libyaml is an optional part of PyYAML wheels
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the wheel
    _Loader = yaml.SafeLoader

FENCE = "---"
BOM = "\ufeff"
_KEY_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_TOP_KEY = re.compile(r"^([^\s#'\"-][^:]*?|-[^\s:][^:]*?)[ \t]*:(?:[ \t]|$)")
_UNSAFE_PLAIN_START = set("[]{}&*!|>'\"%@`#,?:-<=~")
_RESOLVER = yaml.resolver.Resolver()


@dataclass(frozen=True)
class FrontmatterError:
    """Why a frontmatter block could not be read. ``line`` is 0-based in the whole file."""

    kind: str  # "missing" | "unclosed" | "yaml" | "type"
    message: str
    line: int = 0
    key: str | None = None


@dataclass(frozen=True)
class MemoryDocument:
    """A memory file split into its frontmatter and body; line numbers are 0-based in the file."""

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
        """The first structural error (missing, unclosed or unreadable block), if any."""
        for err in self.errors:
            if err.kind != "type":
                return err
        return None

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def description(self) -> str | None:
        value = self.fields.get("description")
        return value if isinstance(value, str) else None

    @property
    def read_only(self) -> bool:
        return self.fields.get("read_only") is True

    @property
    def limit(self) -> int | None:
        value = self.fields.get("limit")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
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


def _fast_scalar(value: str) -> tuple[bool, Any]:
    """Read a plain one-line YAML scalar the way PyYAML would; (False, None) when unsure."""
    if value == "":
        return True, None
    if value[0] in _UNSAFE_PLAIN_START or ": " in value or " #" in value or "\t" in value:
        return False, None
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return True, value
    if tag == "tag:yaml.org,2002:bool" and value in ("true", "false"):
        return True, value == "true"
    if tag == "tag:yaml.org,2002:int" and value.isdigit() and (value == "0" or value[0] != "0"):
        return True, int(value)
    if tag == "tag:yaml.org,2002:null":
        return True, None
    return False, None


def _key_spans(lines: list[str], first: int, end: int) -> dict[str, tuple[int, int]]:
    """Map each top-level key to the file lines [start, stop) it occupies (continuations included)."""
    spans: dict[str, tuple[int, int]] = {}
    current: str | None = None
    start = first
    for i in range(first, end):
        raw = _strip_eol(lines[i])
        match = _TOP_KEY.match(raw) if raw and not raw[0].isspace() else None
        if match:
            if current is not None and current not in spans:
                spans[current] = (start, i)
            key = match.group(1).strip().strip("'\"")
            current, start = key, i
        elif raw.startswith("#") and current is not None and current not in spans:
            spans[current] = (start, i)
            current = None
    if current is not None and current not in spans:
        # trailing blank lines belong to no key
        stop = end
        while stop - 1 > start and not _strip_eol(lines[stop - 1]).strip():
            stop -= 1
        spans[current] = (start, stop)
    return spans


def _parse_block(raw: str, lines: list[str], first: int, end: int) -> tuple[dict[str, Any], list[FrontmatterError]]:
    fast: dict[str, Any] = {}
    ok = True
    for i in range(first, end):
        line = _strip_eol(lines[i])
        if not line.strip():
            continue
        match = _KEY_LINE.match(line)
        if not match or match.group(1) in fast:
            ok = False
            break
        good, value = _fast_scalar(match.group(2) or "")
        if not good:
            ok = False
            break
        fast[match.group(1)] = value
    if ok:
        return fast, []
    try:
        data = yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = first + (mark.line if mark is not None else 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return {}, [FrontmatterError("yaml", f"frontmatter is not valid YAML: {problem}", line)]
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return {}, [FrontmatterError("yaml", "frontmatter must be a YAML mapping of keys to values", first)]
    return {str(k): v for k, v in data.items()}, []


def _type_errors(fields: Mapping[str, Any], spans: Mapping[str, tuple[int, int]], first: int) -> list[FrontmatterError]:
    errors = []

    def at(key: str) -> int:
        return spans.get(key, (first, first))[0]

    if "description" in fields and fields["description"] is not None and not isinstance(fields["description"], str):
        errors.append(FrontmatterError("type", "`description` must be text", at("description"), "description"))
    if "read_only" in fields and not isinstance(fields["read_only"], bool):
        errors.append(FrontmatterError("type", "`read_only` must be true or false", at("read_only"), "read_only"))
    if "limit" in fields:
        value = fields["limit"]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            message = "`limit` must be a positive whole number of tokens"
            errors.append(FrontmatterError("type", message, at("limit"), "limit"))
    return errors


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
    spans = _key_spans(lines, 1, close)
    fields, errors = _parse_block(raw, lines, 1, close)
    if not errors:
        errors = _type_errors(fields, spans, 1)
    return MemoryDocument(
        text=text, has_frontmatter=True, fields=fields, raw_frontmatter=raw,
        body="".join(lines[close + 1 :]), body_start_line=close + 1, key_spans=spans, errors=tuple(errors),
    )


def one_line(value: str) -> str:
    """Collapse a description to the single line the format requires."""
    return " ".join(value.split())


def render_scalar(value: Any) -> str:
    """Render a value as a one-line YAML scalar that reads back as the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    good, parsed = _fast_scalar(text)
    if good and parsed == text and text == text.strip():
        return text
    dumped = yaml.dump(text, default_style='"', width=1 << 30, allow_unicode=True)
    return dumped.rstrip("\n").removesuffix("\n...").rstrip("\n")


def render_document(fields: Mapping[str, Any], body: str, newline: str = "\n") -> str:
    """A new memory file from fields (in order) and a body."""
    out = [FENCE, newline]
    for key, value in fields.items():
        out += [f"{key}: {render_scalar(value)}", newline]
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
    new_line = f"{key}: {render_scalar(value)}{newline}"
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
