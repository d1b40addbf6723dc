"""Inspect workspace folders: README, manifests, build and CI files, git, agent instructions, layout.

``inspect_workspace`` is the one entry point: give it the editor's workspace folders, get a
``WorkspaceFacts`` back. It reads only what it needs, each file bounded, never follows a symlink out of
a folder, redacts secrets, and turns whatever goes wrong (a folder that vanished, a file it may not
read, a repository git cannot open) into a note rather than an exception. It runs git and walks the
tree, so callers on an event loop run it in a worker thread.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from letta_ls.init.workspace.build import find_build_files
from letta_ls.init.workspace.commands import derive_commands
from letta_ls.init.workspace.files import FolderReader
from letta_ls.init.workspace.git_facts import git_facts
from letta_ls.init.workspace.instructions import find_instructions
from letta_ls.init.workspace.manifests import find_manifests
from letta_ls.init.workspace.model import FolderFacts, LayoutEntry, Readme, WorkspaceFacts
from letta_ls.init.workspace.tooling import configured_tools, package_managers

MAX_LAYOUT_ENTRIES = 40
MAX_WALK_FILES = 20_000
MAX_WALK_DEPTH = 8
README_LINES = 60
README_CHARS = 3000
SKIP_DIRS = frozenset({
    ".git", "node_modules", ".venv", "venv", "env", "__pycache__", "target", "dist", "build", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".next", ".nuxt", "vendor", ".idea", ".vscode", ".gradle",
    "coverage", ".cache", "out", "bin", "obj", ".terraform", "Pods", ".dart_tool", ".svelte-kit", ".turbo",
})
LANGUAGES = {
    ".py": "Python", ".pyi": "Python", ".ts": "TypeScript", ".tsx": "TypeScript", ".mts": "TypeScript",
    ".js": "JavaScript", ".jsx": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript", ".rs": "Rust",
    ".go": "Go", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin", ".scala": "Scala", ".rb": "Ruby",
    ".php": "PHP", ".cs": "C#", ".fs": "F#", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".hpp": "C++",
    ".swift": "Swift", ".m": "Objective-C", ".dart": "Dart", ".ex": "Elixir", ".exs": "Elixir", ".erl": "Erlang",
    ".hs": "Haskell", ".ml": "OCaml", ".clj": "Clojure", ".lua": "Lua", ".r": "R", ".jl": "Julia", ".zig": "Zig",
    ".vue": "Vue", ".svelte": "Svelte", ".sh": "Shell", ".bash": "Shell", ".sql": "SQL", ".tf": "Terraform",
    ".nix": "Nix", ".el": "Emacs Lisp", ".vim": "Vim script", ".css": "CSS", ".scss": "CSS", ".html": "HTML",
}
_README_NAMES = ("README.md", "README.rst", "README.txt", "README", "readme.md", "Readme.md", "README.markdown")
_BADGE = re.compile(r"^\s*(?:\[!\[|!\[|<img|<p|<div|<a |<h\d|\[\s*!\[|<picture|<br)", re.I)


def inspect_workspace(folders: Iterable[str | Path]) -> WorkspaceFacts:
    """Facts about each workspace folder (the first is the primary one)."""
    facts = []
    notes = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.is_dir():
            notes.append(f"{path}: not a folder that exists, so it was not inspected")
            continue
        facts.append(inspect_folder(path))
    return WorkspaceFacts(tuple(facts), tuple(notes))


def inspect_folder(path: Path) -> FolderFacts:
    reader = FolderReader(path)
    manifests = find_manifests(reader)
    build_files = find_build_files(reader)
    managers = package_managers(reader, manifests)
    tools = configured_tools(reader, manifests)
    top_files = frozenset(e.name for e in reader.listdir() if e.is_file(follow_symlinks=False))
    git = git_facts(path)
    readme = read_readme(reader)
    return FolderFacts(
        path=str(path),
        name=project_name(path, manifests, git.remote_url if git else None, readme.title if readme else None),
        readme=readme,
        manifests=tuple(manifests),
        build_files=tuple(build_files),
        git=git,
        instructions=tuple(find_instructions(reader)),
        layout=tuple(layout(reader)),
        languages=languages(path),
        package_managers=managers,
        tools=tools,
        commands=derive_commands(manifests, build_files, managers, tools, files=top_files),
        notes=tuple(reader.notes),
    )


def project_name(path: Path, manifests: Iterable[object], remote: str | None, title: str | None) -> str:
    """The project's real name: the top-level manifest's, else the repository's, else the folder's."""
    for manifest in manifests:
        name = getattr(manifest, "name", None)
        if name and "/" not in getattr(manifest, "path", "/"):
            return name.rsplit("/", 1)[-1]  # ``@scope/pkg``, ``github.com/ada/shop``: the last part
    if remote:
        tail = re.split(r"[/:]", remote.rstrip("/"))[-1].removesuffix(".git")
        if tail:
            return tail
    return path.resolve().name or (title or "project")


def read_readme(reader: FolderReader) -> Readme | None:
    for name in _README_NAMES:
        file = reader.read(name, 64 * 1024, quiet=True)
        if file is None:
            continue
        lines = file.text.splitlines()
        head = "\n".join(lines[:README_LINES])[:README_CHARS]
        return Readme(file.path, _title(lines), _summary(lines), head)
    return None


def _title(lines: list[str]) -> str | None:
    for index, line in enumerate(lines[:40]):
        heading = re.match(r"^#\s+(.+?)\s*#*$", line)
        if heading:
            return re.sub(r"[*_`]", "", heading.group(1)).strip()[:120] or None
        if index + 1 < len(lines) and re.match(r"^(=+|-+)\s*$", lines[index + 1]) and line.strip():
            return line.strip()[:120]
    return None


def _summary(lines: list[str]) -> str | None:
    """The first paragraph of prose (not a heading, badge, HTML, list, table or code)."""
    paragraph: list[str] = []
    in_code = False
    for index, line in enumerate(lines[:120]):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_code = not in_code
            continue
        underlined = index + 1 < len(lines) and re.match(r"^\s*(=+|-+)\s*$", lines[index + 1]) is not None
        prose = bool(stripped) and not in_code and not underlined and not (
            stripped.startswith(("#", "|", "-", "*", "+", ">", "=", "..", ":")) or _BADGE.match(stripped))
        if prose:
            paragraph.append(stripped)
        elif paragraph:
            break
    text = " ".join(paragraph)
    return text[:400] if len(text) >= 20 else None


def layout(reader: FolderReader) -> list[LayoutEntry]:
    """Top-level entries: folders first (with a bounded count of the files inside), then files."""
    entries = [e for e in reader.listdir() if e.name != ".git" and (not e.name.startswith(".") or e.name in (
        ".github", ".gitlab", ".circleci", ".devcontainer", ".cursor", ".claude"))]
    folders = [e for e in entries if e.is_dir(follow_symlinks=False)]
    files = [e for e in entries if not e.is_dir(follow_symlinks=False)]
    out = [LayoutEntry(e.name + "/", _count_files(Path(e.path))) for e in folders]
    out += [LayoutEntry(e.name) for e in files]
    return out[:MAX_LAYOUT_ENTRIES]


def _count_files(folder: Path, cap: int = 5000) -> int | None:
    if folder.name in SKIP_DIRS:
        return None
    count = 0
    for _root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        count += len(files)
        if count >= cap:
            return cap
    return count


def languages(root: Path, top: int = 6) -> tuple[tuple[str, int], ...]:
    """The languages of the source files (by extension), most files first, from a bounded walk."""
    counts: Counter[str] = Counter()
    seen = 0
    base_depth = len(root.parts)
    for current, dirs, files in os.walk(root, followlinks=False):
        depth = len(Path(current).parts) - base_depth
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")) if depth < MAX_WALK_DEPTH \
            else []
        for name in files:
            language = LANGUAGES.get(os.path.splitext(name)[1].lower())
            if language:
                counts[language] += 1
            seen += 1
        if seen >= MAX_WALK_FILES:
            break
    return tuple(counts.most_common(top))
