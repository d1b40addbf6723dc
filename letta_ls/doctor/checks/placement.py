"""Which tier a file belongs in: ``misplaced-in-system`` and ``misplaced-outside-system``.

``system/`` is loaded on every turn; everything else only when the agent decides to read it. So
reference material (long code listings, tables, logs, changelogs, API references, step-by-step
procedures) in ``system/`` costs tokens on every turn for text rarely needed, while identity, the user's
preferences and standing rules kept outside ``system/`` are never seen unless the agent happens to open
them. Both checks are heuristics over cheap per-line statistics (cached by blob id), tuned to stay quiet
on ordinary memory: persona and human files, a short code block in a system file, a list of
preferences, a reference doc that says "always" once, ``ARCHIVE.md`` and skills are never flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from letta_ls.doctor.checks.common import (
    BlobCache,
    CheckContext,
    basename,
    finding,
    is_markdown,
    is_system,
    plain_line,
    scan_file,
    stem,
)
from letta_ls.doctor.findings import Finding, Fix
from letta_ls.memfs.snapshot import SKILLS_DIR, SYSTEM_DIR, MemoryFile

REFERENCE_DIR = "reference/"

_TABLE = re.compile(r"^\s*\|.*\|\s*$")
_HR = re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$")
_LOG = re.compile(
    r"""^\s*(?:
        \[?\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}
      | \d{2}:\d{2}:\d{2}[.,]\d+
      | \[?(?:ERROR|WARN(?:ING)?|INFO|DEBUG|TRACE|FATAL|CRITICAL)\]?[:\s]
      | at\s+[\w$.<>]+\s?\(.*\)\s*$
      | File\s+".*",\s+line\s+\d+
      | Traceback\s+\(most\s+recent\s+call\s+last\)
      | (?:[\w]+\.)*\w+(?:Error|Exception):\s
    )""",
    re.X,
)
_LOG_FIRST = frozenset("[0123456789EWIDTFCaT")
_RULE_FIRST_WORDS = frozenset({
    "always", "never", "prefer", "prefers", "don't", "dont", "do", "avoid", "must", "make", "remember", "be",
    "please", "use", "only", "i", "i'm", "my", "the", "user", "user's", "they", "you", "you're", "your", "call",
    "address",
})
_STEP = re.compile(r"^\s*\d{1,3}[.)]\s+\S")
_ENDPOINT = re.compile(r"^\s*(?:[-*]\s+)?`?(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+/\S*")
_PARAM = re.compile(r"^\s*[-*]\s+`[\w.\[\]]+`\s*(?:\([\w\[\]|, .]+\))?\s*[:—–-]")
_SIGNATURE = re.compile(r"^`?[\w.]+\(.*\)`?(?:\s*(?:->|:|→).*)?$")
_VERSION = re.compile(r"^\[?(?:v?\d+\.\d+(?:\.\d+)?|\d{4}-\d{2}-\d{2}|unreleased)\b", re.I)
_RULE = re.compile(
    r"""^(?:
        always|never|prefer|prefers|don'?t|do\ not|avoid|must|make\ sure|remember\ to|be\ sure\ to
      | please\ (?:always|never|use|keep|don'?t|do\ not)
      | use\ \S+(?:\ \S+)?\ (?:instead\ of|over|rather\ than)
      | only\ use
      | i\ (?:prefer|like|love|want|hate|dislike|always|never|use|am|work|live)
      | i'm | my\ (?:name|role|preference|preferences|timezone)
      | (?:the\ )?user(?:'s)?\ (?:prefers|likes|loves|wants|hates|dislikes|always|never|uses|is|works|name|preference)
      | they\ (?:prefer|like|want)
      | you\ are | you're | your\ (?:name|role|job)
      | call\ me | address\ me
    )\b""",
    re.I | re.X,
)
_DESC_SIGNAL = re.compile(
    r"""\b(?:
        preferences? | preferred
      | standing\ (?:rules|instructions|orders) | house\ rules
      | rules\ (?:to|for|i|the\ agent|you)
      | how\ (?:the\ user|i|you|they)\ (?:like|likes|want|wants|prefer|prefers|work|works)
      | who\ (?:i\ am|the\ user\ is|you\ are)
      | identity | persona | about\ (?:the\ user|me|myself) | user\ profile
      | instructions\ (?:for|to)\ (?:the\ agent|me|you)
      | always\ follow | guidelines?\ (?:for|to)\ follow
    )\b""",
    re.I | re.X,
)
_REFERENCE_NAME = re.compile(
    r"(?:^|[-_ ])(?:changelog|release[-_ ]?notes|api[-_ ]?(?:reference|docs?)|reference|runbook|playbook|"
    r"procedures?|manual|how[-_]?to|tutorial|spec(?:ification)?)(?:$|[-_ ])",
    re.I,
)
IDENTITY_STEMS = frozenset({
    "persona", "human", "identity", "self", "preferences", "user-preferences", "user_preferences",
    "about-me", "about_me", "about-user", "about_user", "standing-rules", "standing_rules",
})
_ARCHIVE_DIRS = frozenset({"archive", "archived", "archives"})


@dataclass(frozen=True)
class ContentStats:
    """Counts of the kinds of lines in the body of a system file (outside the frontmatter)."""

    nonblank: int = 0
    chars: int = 0
    code: int = 0
    table: int = 0
    log: int = 0
    reference: int = 0  # code, table or log lines (each line counted once)
    steps: int = 0
    version_headings: int = 0
    api: int = 0
    prose: int = 0


_STATS: BlobCache[ContentStats] = BlobCache()


def content_stats(file: MemoryFile) -> ContentStats:
    scan = scan_file(file)
    if scan is None:
        return ContentStats()

    def compute() -> ContentStats:
        heading_lines = {line: text for line, _level, text in scan.headings}
        lines, in_code = scan.lines, scan.code
        nonblank = chars = code = table = log = reference = steps = api = prose = 0
        for i in scan.body_lines():
            stripped = lines[i].strip()
            if not stripped:
                continue
            nonblank += 1
            chars += len(stripped)
            first = stripped[0]
            # each regex runs only on lines whose first character it could match
            is_log = (first in _LOG_FIRST or "Error" in stripped or "Exception" in stripped) and bool(
                _LOG.match(stripped)
            )
            log += is_log
            if in_code[i]:
                code += 1
                reference += 1
                continue
            if i in heading_lines:
                api += bool(_SIGNATURE.match(heading_lines[i]))
                continue
            if first == "|" and _TABLE.match(stripped):
                table += 1
                reference += 1
                continue
            if first in "-*_" and _HR.match(stripped):
                continue
            if is_log:
                reference += 1
                continue
            prose += 1
            if first.isdigit():
                steps += bool(_STEP.match(stripped))
            elif first in "-*`GPDHO":
                api += bool(_ENDPOINT.match(stripped) or _PARAM.match(stripped))
        versions = sum(1 for _line, _level, text in scan.headings if _VERSION.match(text.strip("`* ")))
        return ContentStats(nonblank, chars, code, table, log, reference, steps, versions, api, prose)

    return _STATS.get(file.blob, compute)


_RULES: BlobCache[tuple[int, int]] = BlobCache()


def rule_counts(file: MemoryFile) -> tuple[int, int]:
    """(lines that state a standing rule, preference or identity; all prose lines) of a file's body."""
    scan = scan_file(file)
    if scan is None:
        return 0, 0

    def compute() -> tuple[int, int]:
        lines, code = scan.lines, scan.code
        headings = {line for line, _level, _text in scan.headings}
        prose = [
            lines[i].strip() for i in scan.body_lines()
            if not code[i] and i not in headings and lines[i] and not lines[i].isspace()
        ]
        prose = [line for line in prose if line[0] != "|"]
        rules = 0
        for line in prose:
            head = line.lstrip("-*+>0123456789.) ")
            if head[:1] == "[" and head[2:3] == "]":  # a task-list box
                head = head[3:]
            words = head.split(None, 1)
            if words and words[0].strip("*_").lower() in _RULE_FIRST_WORDS and _RULE.match(plain_line(line)):
                rules += 1
        return rules, len(prose)

    return _RULES.get(file.blob, compute)


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    path = file.path
    if not is_markdown(path) or file.text is None:
        return []
    if is_system(path):
        return _in_system(ctx, file) if ctx.enabled("misplaced-in-system") else []
    if ctx.enabled("misplaced-outside-system"):
        return _outside_system(ctx, file)
    return []


def external_target(path: str) -> str:
    return REFERENCE_DIR + path[len(SYSTEM_DIR):]


def system_target(path: str) -> str:
    return SYSTEM_DIR + path.removeprefix(REFERENCE_DIR)


def _in_system(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    path = file.path
    if stem(path).lower() in IDENTITY_STEMS:
        return []
    s = content_stats(file)
    long_ = s.nonblank >= 20 and s.chars >= 1500  # ~400 tokens
    large = s.nonblank >= 15 and s.chars >= 3000  # ~750 tokens
    if not long_:
        return []
    reason = None
    procedure = False
    if s.reference / s.nonblank >= 0.6:
        if s.log * 2 >= s.reference:
            kind = "logs or stack traces"
        else:
            kind = "code blocks" if s.code >= s.table else "tables"
        reason = f"mostly {kind} ({round(100 * s.reference / s.nonblank)}% of its lines)"
    elif large:
        if s.version_headings >= 3:
            reason = "a changelog"
        elif s.api >= 6 and s.api / s.nonblank >= 0.15:
            reason = "an API reference"
        elif s.steps >= 10 and s.steps / max(s.prose, 1) >= 0.4:
            reason, procedure = "a step-by-step procedure", True
        elif _REFERENCE_NAME.search(stem(path)):
            reason = "reference material"
    if reason is None:
        return []
    target = external_target(path)
    tokens = ctx.tokens(file)
    where = (
        "Turn it into a skill (`skills/<name>/SKILL.md`) or move it to external memory"
        if procedure else "Move it to external memory"
    )
    fix = None
    if ctx.exists(target):
        where += f" (`{target}` already exists: merge it there)"
    else:
        fix = Fix("move", f"Move to `{target}`", {"target": target})
        where += f" (e.g. `{target}`)"
    return [finding(
        "misplaced-in-system", path, 0,
        f"This file is {reason} ({tokens:,} tokens), loaded into the system prompt on every turn though it "
        f"is rarely needed. {where} and keep a one-line [[link]] to it in `system/`.",
        fix=fix,
    )]


def _outside_system(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    path = file.path
    if path.startswith(SKILLS_DIR) or basename(path).lower() == "archive.md":
        return []
    folders = path.split("/")[:-1]
    if any(folder.lower() in _ARCHIVE_DIRS for folder in folders):
        return []
    parent = "/".join(folders)
    by_name = stem(path).lower() in IDENTITY_STEMS and parent in ("", "reference")
    by_content = False
    if not by_name:
        doc = file.document
        description = (doc.description if doc is not None else None) or ""
        rules, prose = rule_counts(file)
        prose = max(prose, 1)
        by_content = (rules >= 4 and rules / prose >= 0.5) or (
            rules >= 2 and rules / prose >= 0.25 and bool(_DESC_SIGNAL.search(description))
        )
    if not (by_name or by_content):
        return []
    what = "identity or user preferences" if by_name else "standing rules or preferences"
    target = system_target(path)
    fix = None
    if ctx.exists(target):
        advice = f"Merge what still holds into `{target}`"
    else:
        advice = f"Move it to `{target}`"
        fix = Fix("move", f"Move to `{target}`", {"target": target})
    return [finding(
        "misplaced-outside-system", path, 0,
        f"This file holds {what}, but it is outside `system/`, so the agent never sees it unless it "
        f"opens the file. {advice} so it is loaded on every turn.",
        fix=fix,
    )]
