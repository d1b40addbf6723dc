"""A compact text of a workspace's facts for a model, within a character budget.

What a model needs first to write good project memory comes first: name and purpose, the commands to
build, test and lint, the project's own agent instructions, the user's identity; then stack, CI,
recent history and layout. Lines compete for the budget by priority (``BudgetedText``).
"""

from __future__ import annotations

from letta_ls.init.workspace.model import FolderFacts, WorkspaceFacts
from letta_ls.subagents.budget import BudgetedText
from letta_ls.subagents.text import clip, one_line

_SECTIONS = ("head", "commands", "instructions", "stack", "ci", "history", "readme", "layout", "notes")
_TITLES = {
    "commands": "Commands (from the project's own files):",
    "instructions": "Instructions for coding agents already in the project:",
    "stack": "Stack:",
    "ci": "Build and CI files:",
    "history": "Recent commits:",
    "readme": "README (beginning):",
    "layout": "Top-level layout:",
    "notes": "Could not read:",
}


def _size(count: int) -> str:
    return f"{count / 1024:.1f} KB" if count >= 1024 else f"{count} bytes"


def _fill(text: BudgetedText, folder: FolderFacts, primary: bool) -> None:
    base = 0 if primary else 3
    text.add("head", f"# {'Workspace folder' if primary else 'Also in the workspace'}: {folder.name} ({folder.path})",
             base)
    if folder.description:
        text.add("head", f"About: {one_line(folder.description, 400)}", base + 1)
    git = folder.git
    if git:
        parts = [git.remote_url or "no remote"]
        if git.default_branch:
            parts.append(f"default branch {git.default_branch}")
        if git.current_branch and git.current_branch != git.default_branch:
            parts.append(f"on {git.current_branch}")
        if git.total_commits:
            parts.append(f"{git.total_commits} commits" + (f" since {git.first_commit}" if git.first_commit else ""))
        text.add("head", "Repository: " + " · ".join(parts), base + 1)
        if git.user_name or git.user_email:
            share = f", {git.user_commits} of {git.total_commits} commits" if git.total_commits else ""
            lead = " (the main author)" if git.authors and git.user_commits and \
                git.authors[0].commits == git.user_commits else ""
            text.add("head", f"The user (git identity): {git.user_name or '?'} <{git.user_email or '?'}>{share}{lead}",
                     base + 1)
        if git.authors:
            text.add("head", "Authors by commits: " + ", ".join(f"{a.name} ({a.commits})" for a in git.authors[:6]),
                     base + 3)
        if git.conventional_commits:
            text.add("head", "Commit messages follow Conventional Commits (type(scope): summary).", base + 2)
        for commit in git.recent[:10]:
            text.add("history", f"- {commit.sha} {commit.date} {commit.author}: {one_line(commit.subject, 120)}",
                     base + 6)
    for name, commands in folder.commands.items():
        text.add("commands", f"- {name}: " + ", ".join(f"`{c}`" for c in commands), base + 1)
    for item in folder.instructions:
        text.add("instructions", f"- {item.path} ({item.kind}, {_size(item.size)}"
                                 f"{', truncated' if item.truncated else ''})", base + 2)
        for rule in item.rules[:25]:
            text.add("instructions", f"  - {one_line(rule, 200)}", base + 3)
    if folder.languages:
        text.add("stack", "- languages: " + ", ".join(f"{lang} ({n} files)" for lang, n in folder.languages), base + 2)
    if folder.package_managers:
        text.add("stack", "- package managers: " + ", ".join(folder.package_managers), base + 2)
    if folder.tools:
        text.add("stack", "- tools: " + ", ".join(folder.tools), base + 3)
    for manifest in folder.manifests:
        about = [f"{manifest.path} ({manifest.language or manifest.ecosystem})"]
        if manifest.name:
            about.append(manifest.name + (f" {manifest.version}" if manifest.version else ""))
        about += [f"{k}: {v}" for k, v in manifest.details.items()]
        text.add("stack", "- " + ", ".join(about), base + 3)
        if manifest.scripts:
            text.add("stack", "  scripts: " + ", ".join(f"{k} = `{clip(v, 60)}`" for k, v in
                                                        list(manifest.scripts.items())[:12]), base + 4)
        if manifest.dependencies:
            text.add("stack", "  depends on: " + ", ".join(manifest.dependencies[:25]), base + 4)
        if manifest.dev_dependencies:
            text.add("stack", "  dev: " + ", ".join(manifest.dev_dependencies[:20]), base + 5)
    for build in folder.build_files:
        about = f"- {build.path} ({build.kind}" + (f" “{build.name}”" if build.name else "")
        about += (", on " + ", ".join(build.triggers) if build.triggers else "") + ")"
        if build.targets:
            about += ": " + ", ".join(build.targets[:15])
        text.add("ci", about, base + 4)
        if build.commands:
            text.add("ci", "  runs: " + "; ".join(f"`{clip(c, 100)}`" for c in build.commands[:10]), base + 5)
    if folder.readme:
        text.add("readme", clip(folder.readme.head, 1500), base + 7)
    if folder.layout:
        entries = [e.name + (f" ({e.files} files)" if e.files else "") for e in folder.layout]
        text.add("layout", ", ".join(entries), base + 5)
    for note in folder.notes[:10]:
        text.add("notes", f"- {note}", base + 8)


def render_workspace_digest(facts: WorkspaceFacts, budget_chars: int = 8000) -> str:
    """At most ``budget_chars`` characters about the workspace, the primary folder first and fullest."""
    parts = []
    remaining = budget_chars
    for index, folder in enumerate(facts.folders):
        share = remaining if index == len(facts.folders) - 1 else max(remaining * 2 // 3 if index == 0 else
                                                                       remaining // 2, 0)
        text = BudgetedText(_SECTIONS, _TITLES)
        _fill(text, folder, primary=index == 0)
        rendered = text.render(share)
        parts.append(rendered)
        remaining -= len(rendered) + 2
        if remaining <= 0:
            break
    if facts.notes and remaining > 40:
        parts.append("\n".join(facts.notes)[:remaining])
    return "\n\n".join(p for p in parts if p)[:budget_chars]
