"""/init's deterministic writes into its worktree: the draft (or part of it) as one guarded commit, and
the files a model's ``[[links]]`` point to that the draft would have written.

Every commit made here carries the trailer ``Letta-Init: draft``, so a later /init recognises the files it
wrote itself (``init_refresh``) and never mistakes a model's or the user's file for its own. Each file passes
the same guard as the agent's own writes (no secret, no new error-severity finding); a file that does not is
left out and said so, never committed. Core code: no LSP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from letta_ls.doctor.checks.links import links_in, resolve_link
from letta_ls.init.refresh import TRAILER, plan_refresh
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.memfs.snapshot import MemorySnapshot, is_memory_markdown

LINK_ROUNDS = 3


@dataclass
class Written:
    commit: str | None = None
    paths: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def memory_texts(snapshot: MemorySnapshot) -> dict[str, str]:
    """Every markdown memory file of ``snapshot`` as text (what the draft extends)."""
    return {f.path: f.text for f in snapshot if f.text is not None and is_memory_markdown(f.path)}


def commit_drafted(repo: MemoryRepo, drafted: Mapping[str, str], message: str, author: Author, guard) -> Written:
    """Commit what of ``drafted`` may be written over the memory ``repo`` holds (``init_refresh``), each file
    checked by ``guard`` (a memfs ``ChangeGuard``); one commit, or none when nothing is left to change."""
    with repo.locked():
        before = repo.snapshot()
        plan = plan_refresh(repo, drafted, memory_texts(before))
        written = Written(notes=list(plan.notes))
        accepted: dict[str, bytes] = {}
        for path, text in plan.files.items():
            data = text.encode("utf-8")
            problems = guard(before, before.with_text(path, data), [path], "agent") if guard else []
            if problems:
                written.notes.append(f"`{path}` was not written: {'; '.join(problems)}")
                continue
            accepted[path] = data
        if not accepted:
            return written
        result = repo.commit(accepted, f"{message.strip()}\n\n{TRAILER}", author)
        written.commit, written.paths = result.commit, list(result.paths)
        return written


def missing_link_targets(snapshot: MemorySnapshot, candidates: Mapping[str, str]) -> dict[str, str]:
    """The files of ``candidates`` (path → text) that some file in ``snapshot`` links to but that do not exist."""
    wanted: dict[str, str] = {}
    for file in snapshot:
        if not is_memory_markdown(file.path) or file.text is None:
            continue
        for link in links_in(file):
            if resolve_link(snapshot, link.target, file.path) is not None:
                continue
            target = link.target.strip().strip("/")
            for path in (target, target + ".md"):
                if path in candidates and path not in snapshot:
                    wanted[path] = candidates[path]
    return wanted


def complete_links(repo: MemoryRepo, drafted: Mapping[str, str], message: str, author: Author, guard) -> Written:
    """Add the drafted files that existing ``[[links]]`` point to (and, in turn, those they link to)."""
    done = Written()
    for _round in range(LINK_ROUNDS):
        wanted = missing_link_targets(repo.snapshot(), drafted)
        if not wanted:
            break
        step = commit_drafted(repo, wanted, message, author, guard)
        done.notes += step.notes
        if step.commit is None:
            break
        done.commit = step.commit
        done.paths += step.paths
    return done
