"""The longer /init memory files, kept outside ``system/`` under ``reference/<project>/``: the layout and
dependencies, the build and CI details, and what earlier sessions were about.

They are read on demand, so they may be longer than the always-loaded project file, but each stays
within ``char_budget`` (so the doctor's ``file-oversized`` stays quiet) and holds facts, not standing
rules: rules belong in ``system/`` (the doctor flags rule-heavy files outside it). Every list line starts
with a path, a command, a date or a name, never with an instruction word. Pure functions of the facts.
"""

from __future__ import annotations

from collections.abc import Callable

from letta_ls.init.history.insights import HistoryInsights
from letta_ls.init.workspace.model import FolderFacts
from letta_ls.subagents.text import clip, one_line

_CI_KINDS = {
    "github-actions": "GitHub Actions", "gitlab-ci": "GitLab CI", "circleci": "CircleCI", "travis": "Travis CI",
    "azure-pipelines": "Azure Pipelines", "jenkins": "Jenkins", "make": "Makefile", "just": "justfile",
    "task": "Taskfile", "docker": "Docker", "compose": "Docker Compose", "tox": "tox", "nox": "nox",
    "pre-commit": "pre-commit", "procfile": "Procfile",
}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _fit(lines: list[str], char_budget: int) -> str:
    """The lines up to the budget (cut at a line), ending in a note when something was left out."""
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > char_budget - 80:
            out.append("")
            out.append(f"(More was left out to keep this file small: {len(lines) - len(out) + 1} more lines.)")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out).rstrip() + "\n"


def layout_body(folder: FolderFacts, home_link: str, char_budget: int) -> str:
    lines = [f"# {folder.name}: layout and dependencies", "", f"Overview: [[{home_link}]]. Folder: `{folder.path}`."]
    if folder.layout:
        lines += ["", "## Top level", ""]
        lines += [f"- `{e.name}`" + (f" ({_count(e.files, 'file')})" if e.files else "") for e in folder.layout]
    if folder.languages:
        lines += ["", "## Languages", ""]
        lines += [f"- {language}: {_count(count, 'file')}" for language, count in folder.languages]
    for manifest in folder.manifests:
        title = manifest.name or manifest.path
        lines += ["", f"## `{manifest.path}`" + (f": {title}" if title != manifest.path else ""), ""]
        facts = [manifest.language or manifest.ecosystem]
        if manifest.version:
            facts.append(f"version {manifest.version}")
        facts += [f"{key} {value}" for key, value in manifest.details.items()]
        lines.append(f"- {', '.join(facts)}")
        if manifest.description:
            lines.append(f"- description: {one_line(manifest.description, 200)}")
        if manifest.scripts:
            lines.append("- scripts: " + ", ".join(f"`{name}`" for name in manifest.scripts))
        if manifest.dependencies:
            lines.append("- dependencies: " + ", ".join(manifest.dependencies))
        if manifest.dev_dependencies:
            lines.append("- development dependencies: " + ", ".join(manifest.dev_dependencies))
    if folder.package_managers or folder.tools:
        lines += ["", "## Tooling", ""]
        if folder.package_managers:
            lines.append("- package managers (from lockfiles): " + ", ".join(folder.package_managers))
        if folder.tools:
            lines.append("- configured tools: " + ", ".join(folder.tools))
    return _fit(lines, char_budget)


def ci_body(folder: FolderFacts, home_link: str, char_budget: int) -> str:
    lines = [f"# {folder.name}: build and CI", "", f"Overview: [[{home_link}]]."]
    for build in folder.build_files:
        kind = _CI_KINDS.get(build.kind, build.kind)
        about = f"## `{build.path}` ({kind}" + (f" “{build.name}”" if build.name else "") + ")"
        lines += ["", about, ""]
        if build.triggers:
            lines.append("- triggered by: " + ", ".join(build.triggers))
        if build.targets:
            label = {"make": "targets", "just": "recipes", "task": "tasks", "docker": "base images",
                     "compose": "services", "tox": "environments", "nox": "sessions",
                     "pre-commit": "hooks"}.get(build.kind, "jobs")
            lines.append(f"- {label}: " + ", ".join(f"`{t}`" for t in build.targets))
        lines += [f"- `{clip(command, 160)}`" for command in build.commands[:20]]
    return _fit(lines, char_budget)


def history_body(folder: FolderFacts, insights: HistoryInsights, home_link: str, char_budget: int) -> str:
    sources = ", ".join(f"{n} {label}" for label, n in insights.by_source.most_common())
    span = ""
    if insights.first and insights.last:
        span = f" from {insights.first.date().isoformat()} to {insights.last.date().isoformat()}"
    lines = [
        f"# {folder.name}: earlier sessions", "",
        f"{insights.sessions} sessions ({sources}){span}, read by /init. What the user told the agents that still "
        f"holds is in [[{home_link}]].",
    ]
    sections: list[tuple[str, list[str]]] = [
        ("Requests, oldest first", [
            f"- {said.when.date().isoformat() if said.when else 'undated'} ({said.source}): {one_line(said.text, 220)}"
            for said in insights.requests[:40]]),
        ("Commands the agents ran most", [f"- `{c}`: {_times(n)}" for c, n in insights.commands.most_common(15)]),
        ("Files changed most", [f"- `{p}`: {_times(n)}" for p, n in insights.files_edited.most_common(20)]),
        ("Errors that came up", [f"- {one_line(e, 200)}" + (f" ({_times(n)})" if n > 1 else "")
                                 for e, n in insights.errors.most_common(10)]),
        ("Branches", [f"- `{b}`: {_count(n, 'session')}" for b, n in insights.branches.most_common(10)]),
        ("Models", [f"- {m}: {_count(n, 'session')}" for m, n in insights.models.most_common(6)]),
    ]
    for title, items in sections:
        if items:
            lines += ["", f"## {title}", "", *items]
    return _fit(lines, char_budget)


ReferenceRenderer = Callable[[FolderFacts, str, int], str]
