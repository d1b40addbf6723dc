"""Shared machinery of the doctor's checks: the per-audit context, blob-keyed caches and a markdown scan.

Every content check reads a file through ``scan_file`` (its lines split the way LSP counts them, the
fenced code regions, the headings of its body) instead of re-parsing the text, and caches its own
per-file facts by git blob id. Blob ids name content, so a cache entry can never go stale, and a
re-audit after one commit only does work for the files that changed. ``CheckContext`` holds what a
check needs to know about the rest of the snapshot (token counts, the system total, folders).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from letta_ls.doctor.findings import CODES, Finding, Fix
from letta_ls.memfs.frontmatter import MemoryDocument
from letta_ls.memfs.letta_code_rules import is_v2
from letta_ls.memfs.snapshot import SKILLS_DIR, SYSTEM_DIR, MemoryFile, MemorySnapshot
from letta_ls.memfs.tokens import TokenCounter
from letta_ls.settings import MemorySettings

T = TypeVar("T")

BINARY_ASSET_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "ico", "pdf"})

_BREAK = re.compile(r"\r\n|\r|\n")
# characters str.splitlines() treats as line breaks but LSP (and the editor) does not
_ODD_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SPECIAL_FIRST = ("#", "`", "~")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


class BlobCache(Generic[T]):
    """Values computed from a file's content, by blob id (or another content key), bounded."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._items: dict[Hashable, T] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        try:
            return self._items[key]
        except KeyError:
            pass
        value = compute()
        with self._lock:
            if len(self._items) >= self._capacity:
                for old in list(itertools.islice(self._items, max(1, self._capacity // 10))):
                    self._items.pop(old, None)
            self._items[key] = value
        return value

    def put(self, key: Hashable, value: T) -> None:
        """Keep a value computed elsewhere (by a forked half of an audit, ``letta_ls.doctor.forked``)."""
        self.get(key, lambda: value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def split_lines(text: str) -> list[str]:
    """Lines as an editor counts them (``\\n``, ``\\r\\n``, ``\\r``), without their endings."""
    return _BREAK.split(text) if "\r" in text else text.split("\n")


def _has_odd_breaks(text: str) -> bool:
    if text.isascii():
        return "\x0b" in text or "\x0c" in text or "\x1c" in text or "\x1d" in text or "\x1e" in text
    return _ODD_BREAKS.search(text) is not None


def line_starts(text: str) -> list[int]:
    """The offset at which each line (as ``split_lines`` counts them) begins."""
    return [0, *(m.end() for m in _BREAK.finditer(text))]


def newline_of(text: str) -> str:
    match = _BREAK.search(text)
    return match.group(0) if match else "\n"


def doc_line(text: str, index: int) -> int:
    """Map a line number of ``frontmatter`` (``str.splitlines`` numbering) to the editor's numbering."""
    if not _has_odd_breaks(text):
        return index
    offset = sum(len(line) for line in text.splitlines(keepends=True)[:index])
    return len(_BREAK.findall(text, 0, offset))


def body_start_line(text: str, doc: MemoryDocument) -> int:
    """The editor line at which the body begins (0 when there is no frontmatter block)."""
    if not doc.has_frontmatter:
        return 0
    if not _has_odd_breaks(text):
        return doc.body_start_line
    offset = len(text) - len(doc.body)
    return len(_BREAK.findall(text, 0, offset))


@dataclass(frozen=True, eq=False)
class Scan:
    """A text file's lines with its code fences and headings marked; positions are editor lines."""

    lines: list[str]
    body_start: int
    code: list[bool]  # inside a fenced code block, fence lines included
    fence: list[bool]  # the fence lines themselves
    headings: list[tuple[int, int, str]]  # (line, level, text), body only, outside code

    def body_lines(self) -> range:
        return range(self.body_start, len(self.lines))


def _scan(text: str, doc: MemoryDocument | None) -> Scan:
    lines = split_lines(text)
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    n = len(lines)
    start = min(body_start_line(text, doc) if doc is not None else 0, n)
    code = [False] * n
    fence = [False] * n
    headings: list[tuple[int, int, str]] = []
    # only lines starting (after at most three spaces) with #, ` or ~ can be headings or fences
    candidates = [i for i in range(start, n) if lines[i][:4].lstrip(" ")[:1] in _SPECIAL_FIRST]
    open_char = ""
    open_len = open_at = 0
    for i in candidates:
        line = lines[i]
        if open_char:
            stripped = line.strip()
            if (
                stripped.startswith(open_char * open_len)
                and stripped.strip(open_char) == ""
                and len(line) - len(line.lstrip(" ")) <= 3
            ):
                code[open_at : i + 1] = [True] * (i + 1 - open_at)
                fence[i] = True
                open_char = ""
            continue
        if line.lstrip(" ")[:1] != "#":
            match = _FENCE_OPEN.match(line)
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                open_char, open_len, open_at = match.group(1)[0], len(match.group(1)), i
                fence[i] = True
            continue
        match = _HEADING.match(line)
        if match:
            headings.append((i, len(match.group(1)), (match.group(2) or "").strip()))
    if open_char:  # an unclosed fence runs to the end of the file
        code[open_at:n] = [True] * (n - open_at)
    return Scan(lines, start, code, fence, headings)


SCANS: BlobCache[Scan] = BlobCache()


def scan_file(file: MemoryFile) -> Scan | None:
    """The cached scan of a text file, or None for a file that is not text."""
    text = file.text
    if text is None:
        return None
    return SCANS.get(file.blob, lambda: _scan(text, file.document if is_markdown(file.path) else None))


# --- what kind of file a path is -------------------------------------------------------------------


def is_markdown(path: str) -> bool:
    return path.endswith(".md")


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def stem(path: str) -> str:
    name = basename(path)
    return name[:-3] if name.endswith(".md") else name.rsplit(".", 1)[0] if "." in name else name


def extension(path: str) -> str:
    name = basename(path)
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def is_system(path: str) -> bool:
    return path.startswith(SYSTEM_DIR)


def is_skill_file(path: str) -> bool:
    """``skills/<name>/SKILL.md`` (or a nested skill id, ``skills/a/b/SKILL.md``)."""
    return path.startswith(SKILLS_DIR) and path.count("/") >= 2 and basename(path).lower() == "skill.md"


def is_flat_skill(path: str) -> bool:
    """A file directly under ``skills/`` (skills are folders)."""
    return path.startswith(SKILLS_DIR) and path.count("/") == 1


def is_memory_file(path: str) -> bool:
    """A markdown file that must follow the memory format (frontmatter with a description)."""
    return is_markdown(path) and not path.startswith(SKILLS_DIR)


# --- text helpers ----------------------------------------------------------------------------------

_MD_DECORATION = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+|>\s*)+")
# the character classes exclude brackets so a failed match gives up at once (no quadratic backtracking)
_LINK_TEXT = re.compile(
    r"\[\[([^\[\]|#\n]*)(?:#[^\[\]|\n]*)?(?:\|([^\[\]\n]*))?\]\]|\[([^\[\]\n]*)\]\([^()\n]*\)"
)


def plain_line(line: str) -> str:
    """A markdown line without its heading, list or quote markers, links reduced to their text."""
    line = _MD_DECORATION.sub("", line)
    line = _LINK_TEXT.sub(lambda m: m.group(2) or m.group(1) or m.group(3) or "", line)
    return " ".join(line.replace("**", "").replace("__", "").replace("`", "").split())


def derive_description(scan: Scan | None, limit: int = 100) -> str | None:
    """A one-line description from the first heading, else the first line of text of the body."""
    if scan is None:
        return None
    candidate = ""
    for line_no, _level, text in scan.headings:
        candidate = plain_line(text)
        if candidate:
            first_heading = line_no
            break
    else:
        first_heading = None
    if not candidate:
        for i in scan.body_lines():
            if scan.code[i] or i == first_heading:
                continue
            candidate = plain_line(scan.lines[i])
            if candidate and not set(candidate) <= set("-=*_|: "):
                break
            candidate = ""
    if not candidate:
        return None
    if len(candidate) > limit:
        cut = candidate.rfind(" ", 0, limit)
        candidate = candidate[: cut if cut > limit // 2 else limit].rstrip(" ,;:-") + "…"
    return candidate


# --- the context of one audit ----------------------------------------------------------------------

TOKENS: BlobCache[int] = BlobCache()


def file_tokens(file: MemoryFile, counter: TokenCounter) -> int:
    """A file's tokens as the doctor counts them: the whole file, frontmatter included, and text that is not
    UTF-8 decoded leniently (Letta Code puts the bytes in the prompt all the same). Cached by blob id."""

    def count() -> int:
        text = file.text
        return counter.count(text if text is not None else file.data.decode("utf-8", "replace"))

    return TOKENS.get((counter.encoding, counter.exact, file.blob), count)


def finding(
    code: str, path: str, line: int, message: str, *, column: int = 0, end_line: int | None = None,
    end_column: int | None = None, fix: Fix | None = None, severity: str | None = None,
) -> Finding:
    """A finding with its code's default severity, or ``severity`` where SPEC section 8 grades by place."""
    return Finding(path, code, severity or CODES[code], line, message, column, end_line, end_column, fix)


class CheckContext:
    """What the checks of one audit share: the snapshot, settings, token counts and derived facts."""

    def __init__(self, snapshot: MemorySnapshot, settings: MemorySettings, counter: TokenCounter) -> None:
        self.snapshot = snapshot
        self.settings = settings
        self.counter = counter
        self._off = frozenset(code for code, level in settings.diagnostics.items() if level == "off")
        self.fresh = False  # True: compute everything afresh (no index shared between audits)

    def enabled(self, code: str) -> bool:
        return code not in self._off

    def tokens(self, file: MemoryFile) -> int:
        return file_tokens(file, self.counter)

    @cached_property
    def system_sizes(self) -> list[tuple[str, int]]:
        """Every in-context file (``system/**/*.md``; a MemFS v2 memory's root files) with its tokens, largest first."""
        snapshot = self.snapshot
        # the legacy layout's in-context files all lie under system/: found by bisection, not a scan of every path
        candidates = snapshot if snapshot.v2 else snapshot.under(SYSTEM_DIR)
        sizes = [(f.path, self.tokens(f)) for f in candidates
                 if snapshot.tier(f.path) == "system" and is_markdown(f.path)]
        sizes.sort(key=lambda item: (-item[1], item[0]))
        return sizes

    @cached_property
    def system_total(self) -> int:
        return sum(tokens for _path, tokens in self.system_sizes)

    @cached_property
    def over_budget(self) -> dict[str, int]:
        """The largest system files that together account for the excess over the budget."""
        excess = self.system_total - self.settings.systemTokenBudget
        out: dict[str, int] = {}
        if excess <= 0:
            return out
        covered = 0
        for path, tokens in self.system_sizes:
            if covered >= excess or len(out) >= 5 or tokens == 0:
                break
            out[path] = tokens
            covered += tokens
        return out

    @cached_property
    def v2(self) -> bool:
        """A MemFS v2 memory (root ``MEMORY.md``): Letta Code's hook applies its v2 rules."""
        return is_v2(self.snapshot.files)

    @cached_property
    def folders(self) -> frozenset[str]:
        return self.snapshot.folders

    def exists(self, path: str) -> bool:
        return path in self.snapshot.files

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A per-audit memo for facts several checks share."""
        cache = self.__dict__.setdefault("_memo", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]
