"""What an earlier session teaches about the user and the project, pulled out without a model.

A transcript is mostly tool output; what is worth remembering is small: what the user asked for, where
they corrected the agent ("no, use pnpm"), what they said they prefer, the commands that keep coming
back, the files that keep changing, and what failed. ``session_insights`` extracts exactly that from a
``Session``; ``merge_insights`` adds sessions up. Both are pure and deterministic; the digest and the
/init draft are built on them.

The classifiers are deliberately plain regular expressions: they only decide what a model (or the
no-model draft) sees first, never what is thrown away silently.
"""

from __future__ import annotations

import os
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from letta_ls.init.history.model import Session, ToolCall
from letta_ls.subagents.text import one_line

SaidKind = Literal["request", "correction", "preference"]

_CORRECTION_START = re.compile(
    r"""^\W*(?:no\b|nope\b|not\s+(?:like\s+)?th(?:at|is)\b|wrong\b|don'?t\b|do\s+not\b|never\b|actually\b
      |(?:stop|wait|undo|revert)\b(?=\W*$|\s*[,.!;:]|\s+(?:that|this|it|what|doing|running|your|you|please)\b)
      |that'?s\s+(?:not|wrong)|that\s+is\s+(?:not|wrong)|why\s+did\s+you\b
      |you\s+(?:broke|forgot|missed|shouldn'?t|should\s+not)\b|please\s+(?:don'?t|do\s+not|stop|never)\b
      |i\s+(?:said|told\s+you|asked)\b)""",
    re.I | re.X,
)
_CORRECTION_ANYWHERE = re.compile(
    r"\b(?:not what i|you broke|that's wrong|that is wrong)\b|\byou\b[^.?!]*\b(?:instead of|rather than)\b"
    r"|^\W*(?:use|do|write|call|put)\s+[^.?!]*\b(?:instead of|rather than)\b", re.I
)
# "use X instead" is a standing wish only as an imperative (a sentence's first words, or after "please", "we",
# "always"...): "rig the app up to use lmstudio instead of ollama" is a task, not a preference
_PREFERENCE = re.compile(
    r"""\b(?:i\s+(?:prefer|like|want|hate|dislike|usually)\b|from\s+now\s+on\b
      |in\s+(?:this|our)\s+(?:repo|project|codebase)\b|we\s+(?:use|prefer|always|never|don'?t)\b
      |please\s+(?:use|keep|always|make)\b|make\s+sure\b|remember\s+(?:to|that)\b
      |keep\s+(?:answers|replies|responses|it)\s+(?:short|brief|concise|terse)
      |(?:^|[.!?;:]\s*|\b(?:please|always|just|we|you|should|i)\s+)use\s+\S+(?:\s+\S+)?\s+(?:instead|not|over|rather)\b)
      |(?:^|[.!?]\s+|\b(?:please|we|i|you|should)\s+)(?:always|never)\b
      |,\s*not\s+\w+""",
    re.I | re.X,
)
_REJECTED = "The user doesn't want to proceed with this tool use"
_TRIVIAL = frozenset({
    "ls", "cat", "head", "tail", "sed", "grep", "rg", "find", "fd", "echo", "printf", "pwd", "cd", "wc", "awk",
    "less", "more", "tree", "which", "type", "env", "printenv", "true", "false", "sleep", "file", "stat", "du",
    "df", "clear", "open", "jq", "xargs", "sort", "uniq", "cut", "diff", "realpath", "basename", "dirname",
    "mkdir", "touch", "test", "[", "exit", "source", ".", "export", "set", "unset", "date", "whoami", "id",
})
_SUBCOMMANDS = frozenset({
    "git", "npm", "pnpm", "yarn", "bun", "cargo", "go", "uv", "poetry", "pip", "pip3", "make", "just", "docker",
    "kubectl", "mvn", "./mvnw", "gradle", "./gradlew", "dotnet", "bundle", "rake", "composer", "deno", "nx", "turbo",
    "tox", "nox", "hatch", "pdm", "rye", "mix", "swift", "terraform", "helm", "gh", "task", "bazel", "npx", "pnpx",
})
_WRAPPERS = frozenset({"sudo", "time", "nohup", "exec", "command", "env"})
# a separator between commands, or a quoted string (matched first, so a ``|`` or ``;`` inside quotes never splits)
_SEGMENT = re.compile(r"""'[^']*'|"(?:[^"\\]|\\.)*"|(&&|\|\||;|\|)""")
_CODE = re.compile(r"[()'\"|;&\s]")  # a token that is code or text (``print('a')``), not a subcommand
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_FILE_LIKE = re.compile(r"^[\w.-]*\.[A-Za-z0-9]{1,6}$|^\.+$")
_STATUS_LINE = re.compile(r"^(?:Exit code:?\s*-?\d+|Wall time:.*|Output:|Process exited with code -?\d+)\s*$", re.I)


@dataclass(frozen=True)
class Said:
    """Something the user typed, classified."""

    text: str
    kind: SaidKind
    when: datetime | None = None
    source: str = ""


@dataclass
class SessionInsights:
    session: Session
    requests: list[Said] = field(default_factory=list)
    corrections: list[Said] = field(default_factory=list)
    preferences: list[Said] = field(default_factory=list)
    user_commands: list[str] = field(default_factory=list)  # slash commands and ``!`` lines the user typed
    commands: Counter[str] = field(default_factory=Counter)  # command families the agent ran
    files_edited: Counter[str] = field(default_factory=Counter)
    files_read: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # tool calls the user turned down
    interruptions: int = 0
    summaries: list[str] = field(default_factory=list)  # compaction summaries (the model's words)

    @property
    def weight(self) -> int:
        """How much there is to say about this session (for sharing a budget between sessions)."""
        said = sum(len(s.text) for s in (*self.requests, *self.corrections, *self.preferences))
        return 200 + said + 40 * (sum(self.commands.values()) + len(self.files_edited) + len(self.errors))


def classify(text: str) -> SaidKind:
    """``correction`` (the user pushes back), ``preference`` (a standing wish) or ``request``."""
    if _CORRECTION_START.match(text) or _CORRECTION_ANYWHERE.search(text):
        return "correction"
    if _PREFERENCE.search(text):
        return "preference"
    return "request"


_SENTENCES = re.compile(r"(?<=[.!?])\s+")


def key_sentences(text: str) -> str:
    """The sentences of a message that carry its correction or preference (the whole text if none stands out):
    "Why does the page flash? Keep answers short please." gives "Keep answers short please."."""
    sentences = [s for s in _SENTENCES.split(text.strip()) if s]
    if len(sentences) < 2:
        return text.strip()
    kept = []
    for index, sentence in enumerate(sentences):
        kind = classify(sentence)
        if kind != "request" or (index and classify(sentences[index - 1]) == "correction"):
            kept.append(sentence)  # a correction's next sentence usually says what to do instead
    return " ".join(kept) if kept else text.strip()


def command_families(command: str) -> list[str]:
    """The commands a shell line runs, reduced to what recurs: ``cd web && pnpm test -- orders`` is
    ``["pnpm test"]``; exploration (``ls``, ``cat``, ``rg``...) is left out."""
    line = command.strip().splitlines()[0] if command.strip() else ""
    out = []
    for segment in _segments(line):
        family = _family(segment)
        if family and family not in out:
            out.append(family)
    return out


def _segments(line: str) -> list[str]:
    """``line`` cut at ``&&``, ``||``, ``;`` and ``|`` outside quotes."""
    out, start = [], 0
    for match in _SEGMENT.finditer(line):
        if match.group(1):
            out.append(line[start:match.start()].strip())
            start = match.end()
    out.append(line[start:].strip())
    return out


def _family(segment: str) -> str | None:
    try:
        tokens = shlex.split(segment, posix=True)
    except ValueError:
        tokens = segment.split()
    while tokens and (tokens[0] in _WRAPPERS or _ASSIGNMENT.match(tokens[0])):
        tokens = tokens[1:]
    if not tokens:
        return None
    head = os.path.basename(tokens[0]) if tokens[0].startswith("/") else tokens[0]
    if head in _TRIVIAL or not re.match(r"^[\w./+-]+$", head):
        return None
    out = [head]
    limit = 2 if head == "git" else 4 if head in _SUBCOMMANDS else 3
    seen_subcommand = False
    for token in tokens[1:]:
        if len(out) >= limit or token == "--" or "/" in token or token[:1] in "'\"$(<>`{" or _CODE.search(token):
            break
        if token.startswith("-"):
            if seen_subcommand and head in _SUBCOMMANDS:
                break
            out.append(token)
            continue
        if _FILE_LIKE.match(token) and ":" not in token:
            break
        out.append(token)
        seen_subcommand = True
    return " ".join(out)


def project_relative(path: str, cwd: str | None, roots: Sequence[str]) -> str:
    """``path`` relative to the project root that holds it (relative paths are taken from ``cwd``)."""
    full = path if os.path.isabs(path) or not cwd else os.path.join(cwd, path)
    full = os.path.normpath(full)
    for root in sorted(roots, key=len, reverse=True):
        if full.startswith(root.rstrip("/") + "/"):
            return full[len(root.rstrip("/")) + 1:]
    if cwd and full.startswith(cwd.rstrip("/") + "/"):
        return full[len(cwd.rstrip("/")) + 1:]
    return path


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not _STATUS_LINE.match(line):
            return line
    return text.strip()


def session_insights(session: Session, roots: Sequence[str] = ()) -> SessionInsights:
    """What this session teaches: requests, corrections, preferences, commands, files, errors."""
    out = SessionInsights(session)
    calls: dict[str, ToolCall] = {}
    for message in session.messages:
        if message.sidechain:
            continue
        if message.role == "assistant":
            for call in message.tool_calls:
                if call.id:
                    calls[call.id] = call
                _count_call(out, call, session.cwd, roots)
        elif message.role == "tool":
            _tool_result(out, message.text, message.is_error, calls.get(message.tool_call_id or ""), message.tool_name)
        elif message.kind == "compaction-summary":
            out.summaries.append(message.text)
        elif message.kind == "interrupted":
            out.interruptions += 1
        elif message.kind == "command":
            out.user_commands.append(one_line(message.text, 120))
        elif message.role == "user" and not session.is_subagent:
            said = Said(message.text, classify(message.text), message.timestamp or session.started_at, session.label)
            {"request": out.requests, "correction": out.corrections, "preference": out.preferences}[said.kind].append(
                said)
    return out


def _count_call(out: SessionInsights, call: ToolCall, cwd: str | None, roots: Sequence[str]) -> None:
    if call.command:
        out.commands.update(command_families(call.command))
    for path in call.paths:
        (out.files_edited if call.edits else out.files_read)[project_relative(path, cwd, roots)] += 1


def _tool_result(out: SessionInsights, text: str, is_error: bool, call: ToolCall | None, name: str | None) -> None:
    if text.startswith(_REJECTED):
        what = call.command or call.name if call else name or "a tool call"
        out.refused.append(one_line(what or "a tool call", 160))
        return
    if not is_error:
        return
    what = f"`{one_line(call.command, 80)}`" if call and call.command else (call.name if call else name) or "a tool"
    out.errors.append(f"{what}: {one_line(_first_line(text), 200)}")


@dataclass
class HistoryInsights:
    """Several sessions added up (requests and corrections in time order, counts summed)."""

    sessions: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None
    requests: list[Said] = field(default_factory=list)
    corrections: list[Said] = field(default_factory=list)
    preferences: list[Said] = field(default_factory=list)
    commands: Counter[str] = field(default_factory=Counter)
    files_edited: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    branches: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    interruptions: int = 0


def merge_insights(items: Iterable[SessionInsights]) -> HistoryInsights:
    total = HistoryInsights()
    for item in items:
        s = item.session
        if not s.is_subagent:
            total.sessions += 1
            total.by_source[s.label] += 1
            if s.git_branch:
                total.branches[s.git_branch] += 1
            if s.model:
                total.models[s.model] += 1
        for when in (s.started_at, s.ended_at):
            if when is not None:
                total.first = when if total.first is None else min(total.first, when)
                total.last = when if total.last is None else max(total.last, when)
        total.requests += item.requests
        total.corrections += item.corrections
        total.preferences += item.preferences
        total.commands.update(item.commands)
        total.files_edited.update(item.files_edited)
        total.errors.update(item.errors)
        total.refused.update(item.refused)
        total.interruptions += item.interruptions
    return total


def distinct(said: Iterable[Said], limit: int) -> list[Said]:
    """Said items without near repeats (same words, any case or punctuation), in order, at most ``limit``."""
    seen: set[str] = set()
    out = []
    for item in said:
        key = " ".join(re.findall(r"\w+", item.text.lower()))[:120]
        if key and key not in seen:
            seen.add(key)
            out.append(item)
            if len(out) >= limit:
                break
    return out
