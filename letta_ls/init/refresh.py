"""Writing /init's deterministic files into a memory that may already hold files of the same names,
without clobbering anything: memory is extended, never overwritten.

The no-model draft (``init_draft``) gives the whole new text of every file it owns. ``plan_refresh`` decides,
file by file, what to commit:

- a file that does not exist yet is created;
- ``system/human.md`` is taken as the draft made it: the draft rewrites only its own sections there (identity
  from git, working style) and keeps the rest of the file;
- a file an earlier /init's draft wrote (the version in the last commit touching it that carries the
  trailer ``Letta-Init: draft``, which only the deterministic writes put there) is refreshed three-way
  (``git merge-file``: base = what the draft wrote last time, ours = the file now, theirs = the new draft):
  what the user or the agent changed since stays, what changed in the project comes in. If both touched the
  same lines, the file is left as it is and a note says so;
- any other file (the user's own, or one a model wrote, the /init agent's included) is left as it is, with a
  note: a deterministic draft never overwrites what a person or a model wrote.

Pure apart from reading the repository's history. Core code: no LSP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from letta_ls.init.draft import HUMAN_PATH
from letta_ls.memfs.frontmatter import parse_document
from letta_ls.memfs.repo import MemoryRepo, MemoryRepoError
from letta_ls.subagents.conflicts import TextMergeError, merge_text

TRAILER = "Letta-Init: draft"  # the last line of every commit /init's deterministic writes make


@dataclass
class RefreshPlan:
    files: dict[str, str] = field(default_factory=dict)  # path → the text to commit
    notes: list[str] = field(default_factory=list)


def last_init_version(repo: MemoryRepo, path: str) -> str | None:
    """The text /init's draft last committed for ``path`` (None when no draft commit ever touched it)."""
    try:
        commit = repo.run_git("log", "-1", "--format=%H", "--fixed-strings", f"--grep={TRAILER}", "--",
                              path).decode().strip()
        if not commit:
            return None
        return repo.read(path, commit).text
    except (MemoryRepoError, FileNotFoundError):
        return None


def plan_refresh(repo: MemoryRepo, drafted: Mapping[str, str], current: Mapping[str, str],
                 section_owned: Iterable[str] = (HUMAN_PATH,)) -> RefreshPlan:
    """What to commit of ``drafted`` over the files ``current`` holds (see the module docstring)."""
    plan = RefreshPlan()
    owned = set(section_owned)
    for path, new in drafted.items():
        now = current.get(path)
        if now is None or path in owned:
            if now != new:
                plan.files[path] = new
            continue
        if now == new:
            continue
        base = last_init_version(repo, path)
        if base is None:
            plan.notes.append(f"`{path}` exists and was not written by /init's draft, so the draft left it as it is.")
            continue
        if now == base:
            plan.files[path] = new
            continue
        try:
            merged, conflicts = merge_text(now, base, new, ours_label="memory", theirs_label="init")
        except TextMergeError as exc:
            plan.notes.append(f"`{path}` could not be refreshed ({exc}), so it was left as it is.")
            continue
        if conflicts or parse_document(merged).errors:
            plan.notes.append(f"`{path}` was changed since the last /init where /init would change it too, so it "
                              "was left as it is.")
            continue
        if merged != now:
            plan.files[path] = merged
    return plan
