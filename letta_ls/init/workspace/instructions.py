"""Instructions the project already gives coding agents: AGENTS.md, CLAUDE.md, Cursor and Copilot rules...

These are the project's own conventions, written for exactly the reader /init is writing memory for,
so they are the first source of "how we work here". Each file is read bounded (``MAX_INSTRUCTION_BYTES``)
and its rules are the lines that read as instructions: list items and imperative sentences, with list
markers and emphasis removed. Cursor's ``.mdc`` files lose their frontmatter first.
"""

from __future__ import annotations

import re

from letta_ls.init.workspace.files import FolderReader
from letta_ls.init.workspace.model import InstructionFile

MAX_INSTRUCTION_BYTES = 32 * 1024
MAX_RULES = 40
MAX_FILES_PER_FOLDER = 12
_FILES = (
    ("AGENTS.md", "AGENTS.md"), ("AGENT.md", "AGENT.md"), ("CLAUDE.md", "CLAUDE.md"),
    (".claude/CLAUDE.md", "CLAUDE.md"), ("CLAUDE.local.md", "CLAUDE.md (local)"), ("GEMINI.md", "GEMINI.md"),
    (".cursorrules", "Cursor rules"), (".github/copilot-instructions.md", "Copilot instructions"),
    (".windsurfrules", "Windsurf rules"), (".clinerules", "Cline rules"), ("CONVENTIONS.md", "CONVENTIONS.md"),
    (".junie/guidelines.md", "Junie guidelines"), (".rules", "Zed rules"),
)
_FOLDERS = (
    (".cursor/rules", (".mdc", ".md"), "Cursor rules"), (".github/instructions", (".md",), "Copilot instructions"),
    (".windsurf/rules", (".md",), "Windsurf rules"), (".clinerules", (".md", ".txt"), "Cline rules"),
    (".continue/rules", (".md",), "Continue rules"),
)
_BULLET = re.compile(r"^\s{0,6}(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(.+)$")
_IMPERATIVE = re.compile(
    r"^(?:always|never|do not|don't|use|prefer|avoid|run|keep|make sure|ensure|write|add|follow|must|should|"
    r"only|before|after|when)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z*_`])")
_FRONTMATTER = re.compile(r"\A---\r?\n.*?\r?\n---\r?\n", re.S)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def extract_rules(text: str, limit: int = MAX_RULES) -> tuple[str, ...]:
    """The lines of ``text`` that state an instruction, outside code blocks, cleaned up."""
    rules: list[str] = []
    in_code = False
    for raw in text.splitlines():
        if raw.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
            continue
        if in_code or not raw.strip() or raw.lstrip().startswith(("#", "|", ">", "<!--")):
            continue
        bullet = _BULLET.match(raw)
        if bullet:
            candidates = [bullet.group(1)]
        else:  # prose: the sentences of it that are instructions
            candidates = [s for s in _SENTENCE.split(raw.strip()) if _IMPERATIVE.match(_EMPHASIS.sub(r"\2", s))]
        for candidate in candidates:
            line = " ".join(_EMPHASIS.sub(r"\2", candidate).split())[:200]
            if len(line) < 8 or line.endswith(":"):
                continue  # a label for the list below it, not a rule
            if line not in rules:
                rules.append(line)
            if len(rules) >= limit:
                return tuple(rules)
    return tuple(rules)


def find_instructions(reader: FolderReader) -> list[InstructionFile]:
    out: list[InstructionFile] = []
    seen: set[str] = set()
    for relative, kind in _FILES:
        _add(reader, relative, kind, out, seen)
    for folder, suffixes, kind in _FOLDERS:
        for entry in reader.listdir(folder):
            if len(out) >= MAX_FILES_PER_FOLDER:
                return out
            if entry.name.endswith(suffixes) and entry.is_file(follow_symlinks=False):
                _add(reader, f"{folder}/{entry.name}", kind, out, seen)
    return out


def _add(reader: FolderReader, relative: str, kind: str, out: list[InstructionFile], seen: set[str]) -> None:
    file = reader.read(relative, MAX_INSTRUCTION_BYTES)
    if file is None or file.path in seen or not file.text.strip():
        return
    seen.add(file.path)
    text = _FRONTMATTER.sub("", file.text, count=1) if relative.endswith(".mdc") else file.text
    out.append(InstructionFile(file.path, kind, text.strip()[:8000], extract_rules(text), file.size, file.truncated))
