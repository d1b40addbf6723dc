"""What a memory subagent's report says about its commits and its merge, read from git, not from the model.

The model's own summary says what it meant to do; these sections say what really landed: each commit with
its id, message and files, and every file the merge had to take care of (``MergeOutcome.describe``).
Core code: no LSP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from letta_ls.memfs.repo import MemoryRepo, MemoryRepoError
from letta_ls.subagents.outcome import MergeOutcome


@dataclass(frozen=True)
class CommitSummary:
    commit: str
    subject: str
    paths: tuple[str, ...]


def summarise_commits(repo: MemoryRepo, commits: Sequence[str]) -> list[CommitSummary]:
    """Subject and changed files of each commit, in the given order (one git process)."""
    if not commits:
        return []
    try:
        out = repo.run_git("log", "--no-walk=unsorted", "--no-renames", "--name-only", "--format=%x1e%H%x1f%s",
                           *commits).decode("utf-8", "replace")
    except MemoryRepoError:
        return [CommitSummary(c, "", ()) for c in commits]
    found: dict[str, CommitSummary] = {}
    for record in out.split("\x1e"):
        if "\x1f" not in record:
            continue
        head, _, rest = record.partition("\n")
        commit, _, subject = head.partition("\x1f")
        paths = tuple(line for line in rest.splitlines() if line.strip())
        found[commit] = CommitSummary(commit, subject, paths)
    return [found.get(c, CommitSummary(c, "", ())) for c in commits]


def commits_section(summaries: Sequence[CommitSummary]) -> str:
    if not summaries:
        return "## Commits\nnone"
    lines = ["## Commits"]
    for item in summaries:
        files = ", ".join(f"`{p}`" for p in item.paths) or "no files"
        lines.append(f"- `{item.commit[:12]}` {item.subject}: {files}")
    return "\n".join(lines)


def merge_section(outcome: MergeOutcome | None) -> str:
    if outcome is None:
        return ""
    return "## Merge\n" + outcome.describe()


def landed_commits(commits: Sequence[str], outcome: MergeOutcome | None) -> list[str]:
    """The run's commits plus the merge commit, when the merge made one: everything it added to main."""
    landed = list(commits)
    if outcome is not None and outcome.kind == "merged" and outcome.head not in landed:
        landed.append(outcome.head)
    return landed
