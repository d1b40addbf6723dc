"""The memory /init writes when there is no model: a deterministic draft from the workspace facts,
earlier sessions and the user's answers (like ``/remember``'s verbatim fallback, nothing asked for is lost).

``draft_memory`` is a pure function, facts in and ``{path: text}`` out, so the command can show it, test
it and commit it in one go. It follows Letta Code's init guidance: files named after the real project
(``system/project/<name>.md``, not a generic ``project.md``), a short always-loaded overview (commands,
conventions, what the user said in earlier sessions) that links with ``[[path]]`` to longer reference
files (``reference/<name>/layout``, ``/ci``, ``/history``), and who the user is plus how they like to
work in ``system/human.md``. Every file has a one-line ``description``, stays within the doctor's size
limits and holds the kind of content the doctor expects in its tier, so ``letta-ls doctor`` finds no
error and no misplacement in the result. Existing files keep their frontmatter and the parts /init does
not own; a ``read_only`` file is left alone and said so in the notes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from letta_ls.init.history.insights import (
    HistoryInsights,
    Said,
    distinct,
    key_sentences,
    merge_insights,
    session_insights,
)
from letta_ls.init.history.model import Session
from letta_ls.init.questions import WorkingStyle
from letta_ls.init.reference import ci_body, history_body, layout_body
from letta_ls.init.workspace.model import FolderFacts, WorkspaceFacts
from letta_ls.memfs.frontmatter import parse_document, render_document, replace_body
from letta_ls.settings import MemorySettings
from letta_ls.subagents.text import one_line

HUMAN_PATH = "system/human.md"
HUMAN_DESCRIPTION = "What I have learned about the user, who they are, how they work and what they prefer."
IDENTITY_HEADING = "## Identity (from git)"
STYLE_HEADING = "## Working style (from /init)"
# Kept under the doctor's threshold for "large" system files, so it is never taken for reference material.
SYSTEM_BODY_CHARS = 2800
REFERENCE_CHARS = 9000
MAX_PROJECTS = 3
_PLACEHOLDERS = ("I haven't met the user yet", "Not met yet.")
_COMMAND_LABELS = {"install": "Install", "build": "Build", "test": "Test", "lint": "Lint", "format": "Format",
                   "run": "Run"}


@dataclass(frozen=True)
class MemoryDraft:
    files: dict[str, str]  # path → the whole new text of the file
    descriptions: dict[str, str]  # path → its description (for the report)
    notes: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()  # the project overview files

    @property
    def reason(self) -> str:
        """A commit message for writing the draft."""
        names = ", ".join(p.rsplit("/", 1)[-1].removesuffix(".md") for p in self.projects) or "the workspace"
        return f"init: memory for {names} from the workspace"

    def report(self) -> str:
        """Markdown for the user: what was written and what was not."""
        lines = [f"Wrote {len(self.files)} memory files:"]
        lines += [f"- `{path}`: {self.descriptions.get(path, '')}" for path in self.files]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def slugify(name: str) -> str:
    """A file name for a project: lowercase letters, digits and dashes (``@ada/Shop API`` → ``shop-api``)."""
    base = name.rsplit("/", 1)[-1]
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:48].strip("-")
    return slug or "project"


@dataclass
class _Plan:
    existing: Mapping[str, str]
    settings: MemorySettings
    files: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def taken(self) -> set[str]:
        return set(self.existing) | set(self.files)

    def clashes(self, path: str) -> bool:
        """Whether writing ``path`` would put a file beside a folder of the same name (or inside a file)."""
        taken = self.taken()
        stem = path.removesuffix(".md")
        if any(other.startswith(stem + "/") for other in taken):
            return True
        parts = path.split("/")[:-1]
        return any("/".join(parts[: i + 1]) + ".md" in taken for i in range(len(parts)))

    def free(self, candidates: Sequence[str]) -> str:
        for path in candidates:
            if not self.clashes(path):
                return path
        index = 2
        while True:
            path = candidates[0].removesuffix(".md") + f"-{index}.md"
            if not self.clashes(path):
                return path
            index += 1

    def write(self, path: str, description: str, body: str) -> bool:
        """Create ``path``, or give an existing file a new body under its own frontmatter."""
        old = self.existing.get(path)
        if old is None:
            self.files[path] = render_document({"description": description}, body)
            self.descriptions[path] = description
            return True
        doc = parse_document(old)
        if doc.read_only:
            self.notes.append(f"`{path}` is read-only, so /init left it as it is.")
            return False
        if doc.error is not None:
            self.notes.append(f"`{path}` has broken frontmatter ({doc.error.message}), so /init left it as it is.")
            return False
        self.files[path] = replace_body(old, body)
        self.descriptions[path] = doc.description or description
        return True


def draft_memory(
    facts: WorkspaceFacts, *, style: WorkingStyle | None = None, sessions: Sequence[Session] = (),
    existing: Mapping[str, str] | None = None, settings: MemorySettings | None = None, roots: Sequence[str] = (),
    insights: HistoryInsights | None = None,
) -> MemoryDraft:
    """The memory files /init would write without a model (see the module docstring).

    ``roots`` are the project folders as the sessions recorded them (files are shown relative to them);
    by default the workspace folders. ``insights`` may be given when the caller already merged the
    sessions' insights (they are the costly part on a long history).
    """
    plan = _Plan(existing or {}, settings or MemorySettings())
    reference_chars = min(REFERENCE_CHARS, int(plan.settings.fileTokenLimit * 2.2))
    system_chars = min(SYSTEM_BODY_CHARS, int(plan.settings.fileTokenLimit * 2.2))
    projects = []
    roots = list(roots) or [f.path for f in facts.folders]
    if insights is None and sessions:
        insights = merge_insights(session_insights(s, roots) for s in sessions)
    for index, folder in enumerate(facts.folders[:MAX_PROJECTS]):
        slug = slugify(folder.name)
        home = plan.free([f"system/project/{slug}.md", f"system/{slug}.md", f"system/project-{slug}.md"])
        home_link = home.removesuffix(".md")
        reference = plan.free([f"reference/{slug}/layout.md", f"reference/{slug}-project/layout.md"]).rsplit("/", 1)[0]
        links: list[tuple[str, str]] = []
        pieces = [("layout", layout_body(folder, home_link, reference_chars),
                   f"Top-level folders, languages, manifests and dependencies of {folder.name}.")]
        if folder.build_files:
            pieces.append(("ci", ci_body(folder, home_link, reference_chars),
                           f"How {folder.name} is built and checked (task-runner targets, CI workflows and what "
                           "they run)."))
        history = insights if index == 0 and insights and insights.sessions else None
        if history:
            pieces.append(("history", history_body(folder, history, home_link, reference_chars),
                           f"Earlier Claude Code and Codex sessions on {folder.name} (when, what was asked, the "
                           "commands and files that recur)."))
        for name, body, description in pieces:
            path = f"{reference}/{name}.md"
            if plan.write(path, description, body) or path in plan.existing:
                links.append((path.removesuffix(".md"), {"layout": "layout and dependencies", "ci": "build and CI",
                                                         "history": "earlier sessions"}[name]))
        body = _project_body(folder, links, history, system_chars)
        description = (f"What {folder.name} is, how to build, test and lint it, and the conventions to follow when "
                       "working on it.")
        if plan.write(home, description, body) or home in plan.existing:
            projects.append(home)
    if len(facts.folders) > MAX_PROJECTS:
        plan.notes.append(f"Only the first {MAX_PROJECTS} workspace folders got project files.")
    _human(plan, facts.primary, style or WorkingStyle(), projects[0] if projects else None)
    return MemoryDraft(dict(plan.files), dict(plan.descriptions), tuple(plan.notes), tuple(projects))


def _project_body(folder: FolderFacts, links: list[tuple[str, str]], history: HistoryInsights | None,
                  char_budget: int) -> str:
    head = [f"# {folder.name}", ""]
    if folder.description:
        head += [one_line(folder.description, 300), ""]
    facts = []
    git = folder.git
    if git and git.remote_url:
        branch = f" (default branch `{git.default_branch}`)" if git.default_branch else ""
        facts.append(f"- Repository: `{git.remote_url}`{branch}; folder `{folder.path}`.")
    else:
        facts.append(f"- Folder: `{folder.path}`" + ("." if git else " (not a git repository)."))
    stack = [f"{lang}" for lang, _n in folder.languages[:3]]
    main = next((m for m in folder.manifests if "/" not in m.path), None)
    if main and main.dependencies:
        stack.append("key dependencies " + ", ".join(main.dependencies[:8]))
    if folder.package_managers:
        stack.append("package manager " + ", ".join(folder.package_managers[:2]))
    if stack:
        facts.append("- Stack: " + "; ".join(stack) + ".")
    if folder.tools:
        facts.append("- Tools: " + ", ".join(folder.tools[:10]) + ".")
    if links:
        facts.append("- Details: " + ", ".join(f"[[{target}]] ({what})" for target, what in links) + ".")
    commands = [f"- {_COMMAND_LABELS[name]}: " + ", ".join(f"`{c}`" for c in values[:3])
                for name, values in folder.commands.items()]
    conventions = [f"- {rule}" for rule in _rules(folder)]
    if git and git.conventional_commits and not any("conventional commit" in c.lower() for c in conventions):
        conventions.insert(0, "- Commit messages follow Conventional Commits (`type(scope): summary`), as the "
                              "history shows.")
    if folder.instructions:  # first, so it survives trimming: the full rules are there
        conventions.insert(0, "- The project's own instructions for coding agents: "
                           + ", ".join(f"`{i.path}`" for i in folder.instructions[:5])
                           + " (in the repository; read them before larger changes).")
    learned = [f"- “{one_line(key_sentences(said.text), 180)}” ({said.source}"
               + (f", {said.when.date().isoformat()})" if said.when else ")") for said in _standing(history)
               ] if history else []
    sections = [("", facts), ("## Commands", commands), ("## Conventions", conventions),
                ("## What the user said in earlier sessions", learned)]
    return _fit_sections(head, sections, char_budget)


def _rules(folder: FolderFacts, limit: int = 10) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for item in folder.instructions:
        for rule in item.rules:
            key = " ".join(re.findall(r"\w+", rule.lower()))
            if key and key not in seen:
                seen.add(key)
                out.append(one_line(rule, 180))
            if len(out) >= limit:
                return out
    return out


def _standing(history: HistoryInsights) -> list[Said]:
    """Corrections and preferences from earlier sessions, most recent first (they are the likeliest to hold)."""
    told = sorted(history.corrections + history.preferences, key=lambda s: s.when.timestamp() if s.when else 0,
                  reverse=True)
    return distinct(told, 6)


def _fit_sections(head: list[str], sections: list[tuple[str, list[str]]], char_budget: int) -> str:
    """Drop items (the last of the longest list first) until the body fits ``char_budget``."""
    def render() -> str:
        lines = list(head)
        for title, items in sections:
            if items:
                lines += ([title, ""] if title else []) + items + [""]
        return "\n".join(lines).rstrip() + "\n"

    text = render()
    while len(text) > char_budget:
        # the longest list gives up its last item (the later section on a tie), so every kind of fact keeps some
        droppable = [(len(items), index) for index, (title, items) in enumerate(sections)
                     if len(items) > 1 or (items and title)]
        if droppable:
            sections[max(droppable)[1]][1].pop()
        else:  # only the heading and one fact left: keep whole lines that fit
            lines = text.splitlines()
            while len(lines) > 1 and len("\n".join(lines)) + 1 > char_budget:
                lines.pop()
            return "\n".join(lines) + "\n"
        text = render()
    return text


def _human(plan: _Plan, folder: FolderFacts | None, style: WorkingStyle, project: str | None) -> None:
    identity = _identity_lines(folder, project)
    style_lines = [f"- {line}" for line in style.lines()]
    if not identity and not style_lines:
        return
    old = plan.existing.get(HUMAN_PATH)
    body = parse_document(old).body if old is not None else ""
    body = "".join(line for line in body.splitlines(keepends=True) if not line.strip().startswith(_PLACEHOLDERS))
    if identity:
        body = _set_section(body, IDENTITY_HEADING, identity)
    if style_lines:
        body = _set_section(body, STYLE_HEADING, style_lines)
    plan.write(HUMAN_PATH, HUMAN_DESCRIPTION, body.lstrip("\n"))


def _identity_lines(folder: FolderFacts | None, project: str | None) -> list[str]:
    git = folder.git if folder else None
    if folder is None or git is None or not (git.user_name or git.user_email):
        return []
    who = git.user_name or git.user_email
    lines = [f"- Name: {who}" + (f" (git email {git.user_email})" if git.user_name and git.user_email else "") + "."]
    where = f"[[{project.removesuffix('.md')}]]" if project else folder.name
    if git.total_commits and git.user_commits:
        lead = git.authors and git.authors[0].commits == git.user_commits
        role = "its main author" if lead else f"one of {len(git.authors)} authors"
        lines.append(f"- Works on {where}: wrote {git.user_commits} of its {git.total_commits} commits, {role}.")
    elif git.total_commits:
        lines.append(f"- Works on {where}, with no commits of their own in it yet.")
    else:
        lines.append(f"- Works on {where}.")
    return lines


def _set_section(body: str, heading: str, items: list[str]) -> str:
    """Replace the section under ``heading`` (up to the next heading of any level) or append it."""
    block = heading + "\n\n" + "\n".join(items) + "\n"
    pattern = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^#|\Z)", re.M | re.S)
    if pattern.search(body):
        return pattern.sub(lambda _m: block + "\n", body, count=1).rstrip("\n") + "\n"
    return (body.rstrip("\n") + "\n\n" if body.strip() else "") + block
