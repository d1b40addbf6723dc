"""The claims a memory note makes about a workspace: the paths it names, the commands it prescribes and the
tools it says the project uses.

Precision comes first: a warning on a note that is right teaches the user to ignore the feature. So a
claim is only read where a person writing a note means a real thing: a path in backticks, a link or a
plain-text ``dir/file.ext``; a command in backticks or a fenced block. Left alone: URLs, globs,
placeholders (``<name>``, ``$VAR``, ``path/to``), home and system paths, and any line that says it is an
example (``e.g.``, ``for example``, ``such as``, ``like``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from letta_ls.memfs.frontmatter import parse_document

ClaimKind = Literal["path", "make", "script", "just", "task", "pytest", "cargo", "go", "tool"]


@dataclass(frozen=True)
class Claim:
    """One checkable statement: ``value`` spans ``column``..``end_column`` on ``line`` (0-based, in the file)."""

    kind: ClaimKind
    value: str
    line: int
    column: int
    end_column: int
    tool: str | None = None  # for script (npm/pnpm/yarn/bun) and tool claims


_BREAK = re.compile(r"\r\n|\r|\n")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK_DEST = re.compile(r"(?<!!)\[[^\[\]\n]*\]\(([^()\s<>]+)\)")
_PLAIN_PATH = re.compile(r"(?<![\w/.`~$@:-])((?:\.{1,2}/|/)?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+\.[A-Za-z0-9]{1,8})"
                         r"(?![\w/`])")
_EXAMPLE = re.compile(r"\b(e\.g\.|eg\.|for example|for instance|such as|example|hypothetical|placeholder|"
                      r"something like|i\.e\.)", re.I)
_PLACEHOLDER = re.compile(r"[<>{}\[\]*?$|]|\.\.\.|^path/to\b|/path/to/|\bfoo\b|\bbar\b|\bxxx\b|your[-_]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_TOOL_CLAIM = re.compile(
    r"\b(?:always\s+use|uses?|using|prefer|we\s+use|use\s+only|managed\s+(?:with|by)|installs?\s+with|"
    r"package\s+manager\s+is)\s+`?(pnpm|npm|yarn|bun|poetry|uv|pipenv|pdm)`?\b", re.I)
_NOT = re.compile(r"\b(not|never|don't|do not|instead of|rather than|no longer|avoid|stopped|switched from)\b", re.I)
MAX_LINE = 2_000


def _path_like(value: str) -> bool:
    if not value or len(value) > 300 or " " in value or _SCHEME.match(value) or _PLACEHOLDER.search(value):
        return False
    if value.startswith(("~", "-", "@", "//")):
        return False  # home paths, options, scoped packages, protocol-relative URLs
    if "/" not in value:
        return False
    if value.count("/") == 1 and value.endswith("/"):
        value = value[:-1]
    last = value.rstrip("/").rsplit("/", 1)[-1]
    return (bool(last) and not last.startswith(".")) or last in (".github", ".gitignore")


_SEPARATORS = re.compile(r"&&|\|\||;|\|")
_WORD = re.compile(r"\S+")


def _command_claims(text: str, line: int, offset: int) -> list[Claim]:
    """Commands in a code span or a fenced line: ``make lint``, ``pnpm run build``, ``pytest tests/x.py``…

    ``offset`` is the column where ``text`` starts on its line; each claim spans the word it names.
    """
    out: list[Claim] = []
    position = 0
    for part in _SEPARATORS.split(text):
        start = text.index(part, position)
        position = start + len(part)
        out.extend(_one_command(part, offset + start, line))
    return out


def _one_command(part: str, base: int, line: int) -> list[Claim]:
    out: list[Claim] = []
    tokens = [(m.start(), m.group(0).strip("'\"")) for m in _WORD.finditer(part)]
    if any(word.startswith("#") for _at, word in tokens):
        tokens = tokens[: next(i for i, (_at, w) in enumerate(tokens) if w.startswith("#"))]
    while tokens and (("=" in tokens[0][1] and not tokens[0][1].startswith("-")) or tokens[0][1] in ("sudo", "$")):
        tokens = tokens[1:]
    if not tokens:
        return out
    words = [w for _at, w in tokens]

    def claim(kind: ClaimKind, index: int, value: str | None = None, tool: str | None = None) -> Claim:
        at, word = tokens[index]
        value = word if value is None else value
        column = base + at + max(word.find(value), 0) + (1 if part[at] in "'\"" else 0)
        return Claim(kind, value, line, column, column + len(value), tool)

    head = words[0]
    plain = [i for i in range(1, len(words)) if not words[i].startswith("-")]
    other_makefile = {"-C", "-f", "--file", "--directory"} & set(words)
    if head == "make" and plain and "=" not in words[plain[0]] and not other_makefile:
        out.append(claim("make", plain[0]))
    elif head in ("npm", "pnpm", "yarn", "bun") and len(words) >= 3 and words[1] == "run" \
            and not words[2].startswith("-"):
        out.append(claim("script", 2, tool=head))
    elif head == "just" and plain:
        out.append(claim("just", plain[0]))
    elif head == "task" and plain:
        out.append(claim("task", plain[0]))
    elif head in ("pytest", "py.test") or words[:3] == ["python", "-m", "pytest"]:
        for i in range(1, len(words)):
            path = words[i].split("::", 1)[0].rstrip("/")
            if not words[i].startswith("-") and (_path_like(path) or path.endswith(".py")) \
                    and not _PLACEHOLDER.search(path):
                out.append(claim("pytest", i, path))
    elif head == "cargo":
        for i in range(1, len(words) - 1):
            if words[i] in ("-p", "--package"):
                out.append(claim("cargo", i + 1))
    elif head == "go" and len(words) >= 3 and words[1] in ("test", "run", "build", "vet"):
        for i in range(2, len(words)):
            if words[i].startswith("./") and words[i] not in ("./...", "./"):
                out.append(claim("go", i, words[i].removesuffix("/...").removeprefix("./")))
    return out


def _fenced_line_claims(line: str) -> list[Claim]:
    """A line inside a fenced block: the commands it runs, unless it says it is an example."""
    if _EXAMPLE.search(line):
        return []
    return _command_claims(line.lstrip("$ ").rstrip(), 0, len(line) - len(line.lstrip("$ ")))


def _prose_line_claims(line: str) -> list[Claim]:
    """A line of prose: paths in code spans, links and plain text; commands in code spans; tools."""
    if _EXAMPLE.search(line):
        return []
    out: list[Claim] = []
    spans = []
    for match in _CODE_SPAN.finditer(line):
        inner = match.group(2).strip()
        spans.append((match.start(), match.end()))
        column = match.start(2) + (len(match.group(2)) - len(match.group(2).lstrip()))
        commands = _command_claims(inner, 0, column)
        if commands:
            out.extend(commands)
        elif _path_like(inner):
            out.append(Claim("path", inner.rstrip("/"), 0, column, column + len(inner.rstrip("/"))))
    for match in _LINK_DEST.finditer(line):
        value = match.group(1).split("#", 1)[0]
        if _path_like(value):
            out.append(Claim("path", value.rstrip("/"), 0, match.start(1), match.start(1) + len(value)))
    masked = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(line)) \
        if spans else line
    masked = _LINK_DEST.sub(lambda m: " " * len(m.group(0)), masked)
    for match in _PLAIN_PATH.finditer(masked):
        if _path_like(match.group(1)):
            out.append(Claim("path", match.group(1), 0, match.start(1), match.end(1)))
    for match in _TOOL_CLAIM.finditer(line):
        sentence = re.split(r"[.!?;]\s", line[: match.start()])[-1]
        if not _NOT.search(sentence):
            out.append(Claim("tool", match.group(1).lower(), 0, match.start(1), match.end(1),
                             tool=match.group(1).lower()))
    return out


# The claims of one line (at line 0) by its text and whether it sits in a fenced block. A line's claims
# depend on nothing else, so typing in a long note reads the lines that changed, not the whole note again.
_LINES: dict[tuple[str, bool], tuple[Claim, ...]] = {}
_MAX_LINES = 200_000


def _line_claims(line: str, number: int, fenced: bool) -> list[Claim]:
    key = (line, fenced)
    found = _LINES.get(key)
    if found is None:
        if len(_LINES) >= _MAX_LINES:
            _LINES.clear()
        found = _LINES[key] = tuple(_fenced_line_claims(line) if fenced else _prose_line_claims(line))
    return [replace(claim, line=number) for claim in found]


def claims_in(text: str) -> list[Claim]:
    """Every claim in a note's body, outside lines that say they are examples."""
    doc = parse_document(text)
    lines = _BREAK.split(text)
    out: list[Claim] = []
    fence: str | None = None
    for number in range(doc.body_start_line, len(lines)):
        line = lines[number]
        if len(line) > MAX_LINE:
            continue
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and not line.strip().strip(fence[0]):
                fence = None
            else:
                out.extend(_line_claims(line, number, True))
            continue
        if opening:
            fence = opening.group(1)
            continue
        out.extend(_line_claims(line, number, False))
    return out
