"""Merging any commit into a memory branch without losing anything, and without touching the work tree
more than the merge changes.

API::

    outcome = merge_into(repo, source_commit, message="merge(dream): lessons", author=agent.author,
                         resolver=None, label="letta/dream/dream-20261201-140312-ab12cd34")
    outcome = await merge_into_async(...)          # the same, git work in a thread, an async resolver awaited

``repo`` is the ``MemoryRepo`` whose checked-out branch receives the merge (``main`` for an agent's
memory; a run's worktree works too). ``source_commit`` is any commit: a subagent branch, later
``origin/main`` for sync. ``resolver(path, base, ours, theirs) -> str | None`` (sync or async; ``base`` is
None when both sides added the file) is asked for files both sides changed in the same lines; it runs
without the repository lock held. The returned ``MergeOutcome`` says what happened: ``kind``
(``up_to_date`` / ``fast_forward`` / ``merged``), the new ``head``, the ``changed`` paths on the branch,
and one ``FileNote`` per file that needed anything (``NOTE_KINDS``), so callers can report precisely.

How it never loses work:

- **Uncommitted edits** to tracked files in the work tree are first committed as the user ("save
  uncommitted memory edits before merging"), so the three-way merge keeps them. An edit that would put
  a secret into memory is not committed; it stays on disk, and is moved aside if the merge changes
  that file. Stray untracked files never block anything; one standing where the merge writes a file is
  moved aside (``<path>.moved-aside-<time>``), never overwritten.
- **The merge is computed off to the side**: ``git merge-tree --write-tree`` gives the merged tree and
  the conflicted paths with their base/ours/theirs stages; the final tree is built in a temporary index
  and committed with ``commit-tree`` (two parents). Different lines of one file: git's three-way merge.
  Same lines: the resolver's text if it is valid memory (``conflicts.check_resolution``), else both
  versions kept and marked in the file (``<<<<<<< main`` / ``=======`` / ``>>>>>>> <label>``) under valid
  frontmatter. Delete on one side, modify on the other: the modified file is kept. Binary, non-UTF-8 or
  non-markdown files: both kept, the other side's as ``<name>.<label>.<ext>``.
- **The branch moves by compare-and-swap** under ``repo.locked()`` (``memfs.checkout.advance_branch``):
  if another writer committed meanwhile, the merge is computed again on top of their commit (resolver
  answers are reused). After three such races the merge is computed while holding the lock.
- **Crash safety**: the branch move is journaled; a process killed at any point leaves a repository
  that ``MemoryRepo.recover()`` (or any later write) brings back to a work tree matching ``HEAD``. The
  source commit is never deleted here, so until the merge lands the work is still on its branch.

Example::

    from letta_ls.subagents.merge import merge_into
    outcome = merge_into(session.repo, "letta/dream/dream-20261201-140312-ab12cd34",
                         message="merge(dream): what I learned today", author=session.agent.author)
    for note in outcome.notes:
        print(note.path, note.kind, note.detail)
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from letta_ls.doctor.guard import new_secrets
from letta_ls.memfs.checkout import BranchMovedError, advance_branch, changed_paths, unexpected_on_disk
from letta_ls.memfs.paths import UnsafePathError, check_memory_path, resolve_in
from letta_ls.memfs.repo import Author, MemoryRepo, user_author
from letta_ls.memfs.snapshot import decode_text
from letta_ls.subagents.conflicts import check_resolution, keep_both_markdown, side_file_name
from letta_ls.subagents.outcome import NOTE_KINDS, FileNote, MergeError, MergeKind, MergeOutcome, NoteKind

log = logging.getLogger(__name__)

Resolver = Callable[[str, str | None, str, str], "str | Awaitable[str | None] | None"]
__all__ = ["NOTE_KINDS", "FileNote", "MergeError", "MergeKind", "MergeOutcome", "NoteKind", "Resolver", "merge_into",
           "merge_into_async"]
SAVE_MESSAGE = "save uncommitted memory edits before merging"
RACES_BEFORE_LOCKING = 3
ZERO = "0" * 40


@dataclass
class _Side:
    blob: str
    mode: str


@dataclass
class _Conflict:
    path: str
    base: _Side | None = None
    ours: _Side | None = None
    theirs: _Side | None = None

    @property
    def key(self) -> tuple[str, str | None, str | None, str | None]:
        return (self.path, *(s.blob if s else None for s in (self.base, self.ours, self.theirs)))


@dataclass
class _Plan:
    kind: MergeKind
    ours: str
    new: str | None = None  # fast-forward target, or the merge commit once built
    tree: str | None = None  # merge-tree's tree
    conflicts: list[_Conflict] = field(default_factory=list)
    auto_merged: set[str] = field(default_factory=set)
    notes: list[FileNote] = field(default_factory=list)


@dataclass
class _Texts:
    base: str | None
    ours: str
    theirs: str


class _Merge:
    """One merge: its attempts, the resolver's cached answers, the user's edits it saved."""

    def __init__(self, repo: MemoryRepo, source: str, *, message: str, author: Author, label: str | None,
                 user: Author | None, allow_unrelated: bool) -> None:
        if not message.strip():
            raise ValueError("a merge needs a message: it becomes the commit message")
        self.repo = repo
        self.source = repo.rev_parse(source)
        self.message = message.strip()
        self.author = author
        self.user = user
        self.label = label or (source if not _looks_like_id(source) else self.source[:12])
        ref = repo.head_ref()
        if ref is None:
            raise MergeError(f"{repo.path} has no branch checked out; check out main before merging")
        self.ours_label = ref.removeprefix("refs/heads/")
        self.allow_unrelated = allow_unrelated
        self.answers: dict[tuple, str] = {}
        self.refusals: dict[tuple, str] = {}
        self.saved: list[str] = []
        self.save_notes: dict[str, FileNote] = {}
        self.attempts = 0

    # ------------------------------------------------------------------ 1. save edits, compute the merge
    def prepare(self) -> _Plan:
        self.attempts += 1
        with self.repo.locked():
            self._save_user_edits()
            ours = self.repo.head()
        if ours is None:
            raise MergeError(f"{self.repo.path} has no commit yet; nothing to merge into")
        rc, out, err = self.repo.run_git_status("merge-base", ours, self.source)
        base = out.decode().strip() if rc == 0 else None
        if rc not in (0, 1):
            raise MergeError(f"git merge-base failed: {err.decode('utf-8', 'replace').strip()}")
        if base is None and not self.allow_unrelated:
            raise MergeError(f"{self.label} shares no history with {self.ours_label}; nothing was merged "
                             "(allow unrelated histories to merge them anyway)")
        if base == self.source:
            return _Plan("up_to_date", ours, new=ours)
        if base == ours:
            return _Plan("fast_forward", ours, new=self.source)
        args = ["merge-tree", "--write-tree", "-z", "--messages"]
        if self.allow_unrelated:
            args.append("--allow-unrelated-histories")
        rc, out, err = self.repo.run_git_status(*args, ours, self.source)
        if rc not in (0, 1):
            raise MergeError(f"git merge-tree failed: {err.decode('utf-8', 'replace').strip()}")
        plan = _Plan("merged", ours)
        plan.tree, plan.conflicts, plan.auto_merged = _parse_merge_tree(out)
        return plan

    def _save_user_edits(self) -> None:
        """Commit the user's uncommitted edits of tracked files (as the user), so the merge keeps them."""
        out = self.repo.run_git("status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames")
        paths = [entry[3:].decode("utf-8", "surrogateescape") for entry in out.split(b"\x00") if len(entry) > 3]
        if not paths:
            return
        head = self.repo.snapshot() if self.repo.head() else None
        keep: list[str] = []
        for path in sorted(set(paths)):
            try:
                check_memory_path(path)
                data = resolve_in(self.repo.path, path).read_bytes()
            except (UnsafePathError, FileNotFoundError, IsADirectoryError, NotADirectoryError):
                keep.append(path)  # a deletion (or an odd path git tracks): saved as it is
                continue
            text = decode_text(data)
            old = head.get(path) if head is not None else None
            if text is not None and new_secrets(old.text if old is not None else None, text):
                self.save_notes[path] = FileNote(path, "left_uncommitted",
                                                 "it holds a secret; memory must not store it")
                continue
            keep.append(path)
        if not keep:
            return
        spec = b"".join(p.encode("utf-8", "surrogateescape") + b"\x00" for p in keep)
        literal = {"GIT_LITERAL_PATHSPECS": "1"}
        self.repo.run_git("add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul", env=literal, input=spec)
        who = self.user or user_author(self.repo.path)
        rc, _out, err = self.repo.run_git_status(
            "commit", "-q", "--no-verify", "-m", SAVE_MESSAGE, "--pathspec-from-file=-", "--pathspec-file-nul",
            env={**who.env(), **literal}, input=spec)
        if rc != 0:
            if self.repo.run_git_status("diff", "--cached", "--quiet", "HEAD")[0] == 0:
                return  # the edits were undone between `git status` and now: nothing to save
            raise MergeError(f"could not save the uncommitted memory edits before merging: "
                             f"{err.decode('utf-8', 'replace').strip()}; commit or undo them, then try again")
        commit = self.repo.head()
        if commit:
            self.saved.append(commit)
        for path in keep:
            self.save_notes[path] = FileNote(path, "saved_user_edit", f"committed as {who.name}")

    # ------------------------------------------------------------------ 2. the resolver
    def texts(self, conflict: _Conflict) -> _Texts | None:
        """The three texts of a same-lines conflict the resolver may answer; None when it is not one."""
        if conflict.ours is None or conflict.theirs is None or not conflict.path.endswith(".md"):
            return None
        if conflict.ours.blob == conflict.theirs.blob:
            return None
        sides = [s for s in (conflict.base, conflict.ours, conflict.theirs) if s is not None]
        blobs = self.repo.read_blobs([s.blob for s in sides])
        base = decode_text(blobs[conflict.base.blob]) if conflict.base is not None else None
        ours, theirs = decode_text(blobs[conflict.ours.blob]), decode_text(blobs[conflict.theirs.blob])
        if ours is None or theirs is None or (conflict.base is not None and base is None):
            return None
        return _Texts(base, ours, theirs)

    def unanswered(self, plan: _Plan) -> list[tuple[_Conflict, _Texts]]:
        asked = []
        for conflict in plan.conflicts:
            if conflict.key in self.answers or conflict.key in self.refusals:
                continue
            texts = self.texts(conflict)
            if texts is not None:
                asked.append((conflict, texts))
        return asked

    def record(self, conflict: _Conflict, texts: _Texts, answer: object) -> None:
        problem = check_resolution(answer, texts.ours, texts.theirs)
        if problem is None:
            self.answers[conflict.key] = str(answer)
        else:
            self.refusals[conflict.key] = problem

    def record_failure(self, conflict: _Conflict, exc: BaseException) -> None:
        log.warning("the conflict resolver failed on %s: %s", conflict.path, exc)
        self.refusals[conflict.key] = f"the resolver failed: {type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ 3. build, then move the branch
    def finish(self, plan: _Plan, *, final: bool = False) -> MergeOutcome | None:
        """Land ``plan``; None when the branch moved (or new edits appeared) and the merge must be redone."""
        if plan.kind == "merged":
            plan.new = self._commit(plan)
        assert plan.new is not None
        with self.repo.locked():
            if self.repo.head() != plan.ours:
                if final:
                    raise MergeError("memory changed outside letta-ls during the merge; nothing was merged, "
                                     "try again")
                return None
            if plan.kind == "up_to_date":
                return self._outcome(plan, (), [])
            changes = changed_paths(self.repo, plan.ours, plan.new)
            odd = [p for p in unexpected_on_disk(self.repo, changes) if p not in self.save_notes]
            edited = [p for p in odd if any(c.path == p and c.old is not None for c in changes)]
            if edited and not final:
                return None  # an edit arrived since we saved: save it too, then merge again
            try:
                moved = advance_branch(self.repo, plan.ours, plan.new)
            except BranchMovedError:
                if final:
                    raise
                return None
        aside = [FileNote(m.path, "moved_aside", m.aside) for m in moved.moved_aside]
        return self._outcome(plan, moved.paths, aside)

    def _outcome(self, plan: _Plan, changed: tuple[str, ...], aside: list[FileNote]) -> MergeOutcome:
        notes: dict[str, FileNote] = {}
        for path in changed:
            notes[path] = FileNote(path, "three_way" if path in plan.auto_merged else "clean")
        for note in plan.notes:
            notes[note.path] = note
        ordered = list(self.save_notes.values()) + sorted(notes.values(), key=lambda n: n.path) + aside
        return MergeOutcome(plan.kind, plan.new or plan.ours, plan.ours, self.source, changed, tuple(ordered),
                            self.saved[-1] if self.saved else None, self.attempts)

    def _commit(self, plan: _Plan) -> str:
        assert plan.tree is not None
        tree = plan.tree
        plan.notes = []
        if plan.conflicts:
            tree = self._final_tree(plan)
        body = [self.message]
        cared = [n for n in plan.notes if n.kind != "resolved"]
        if cared:
            body.append("")
            body += [f"{n.kind.replace('_', ' ')}: {n.path}" + (f" ({n.detail})" if n.detail else "") for n in cared]
        out = self.repo.run_git("commit-tree", tree, "-p", plan.ours, "-p", self.source, "-F", "-",
                                env=self.author.env(), input=("\n".join(body) + "\n").encode("utf-8"))
        return out.decode().strip()

    def _final_tree(self, plan: _Plan) -> str:
        """merge-tree's tree with each conflicted path replaced by what we decided, via a temporary index."""
        assert plan.tree is not None
        entries: list[tuple[str, str, str]] = []  # (mode, blob, path); blob ZERO removes the path
        taken = set(_tree_paths(self.repo, plan.tree))
        for conflict in plan.conflicts:
            path, ours, theirs = conflict.path, conflict.ours, conflict.theirs
            if ours is None and theirs is None:
                entries.append(("0", ZERO, path))
                continue
            if ours is None or theirs is None:
                kept = ours or theirs
                assert kept is not None
                entries.append((kept.mode, kept.blob, path))
                where = self.ours_label if ours is not None else self.label
                gone = self.label if ours is not None else self.ours_label
                plan.notes.append(FileNote(path, "modified_over_delete", f"modified in {where}, deleted in {gone}"))
                continue
            if ours.blob == theirs.blob:
                entries.append((ours.mode, ours.blob, path))
                continue
            texts = self.texts(conflict)
            answer = self.answers.get(conflict.key)
            if texts is not None and answer is not None:
                entries.append((ours.mode, self._hash(answer), path))
                plan.notes.append(FileNote(path, "resolved"))
                continue
            marked = keep_both_markdown(texts.base, texts.ours, texts.theirs, ours_label=self.ours_label,
                                        theirs_label=self.label) if texts is not None else None
            if marked is not None:
                entries.append((ours.mode, self._hash(marked), path))
                why = self.refusals.get(conflict.key, "no resolver")
                plan.notes.append(FileNote(path, "kept_both", why))
                continue
            other = side_file_name(path, self.label, lambda p: p in taken)
            taken.add(other)
            entries += [(ours.mode, ours.blob, path), (theirs.mode, theirs.blob, other)]
            plan.notes.append(FileNote(path, "kept_both_files", f"the {self.label} version is {other}"))
        with tempfile.TemporaryDirectory(prefix="letta-merge-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            self.repo.run_git("read-tree", plan.tree, env=env)
            info = b"".join(f"{mode} {blob}\t".encode() + path.encode("utf-8", "surrogateescape") + b"\x00"
                            for mode, blob, path in entries)
            self.repo.run_git("update-index", "-z", "--index-info", env=env, input=info)
            return self.repo.run_git("write-tree", env=env).decode().strip()

    def _hash(self, text: str) -> str:
        return self.repo.run_git("hash-object", "-w", "--stdin",
                                 input=text.encode("utf-8", "surrogateescape")).decode().strip()


def _looks_like_id(rev: str) -> bool:
    return len(rev) >= 7 and all(c in "0123456789abcdef" for c in rev)


def _tree_paths(repo: MemoryRepo, tree: str) -> list[str]:
    out = repo.run_git("ls-tree", "-r", "-z", "--name-only", "--full-tree", tree)
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\x00") if p]


def _parse_merge_tree(out: bytes) -> tuple[str, list[_Conflict], set[str]]:
    """``git merge-tree --write-tree -z --messages``: the tree, conflicted stages, and auto-merged paths."""
    fields = out.split(b"\x00")
    tree = fields[0].decode().strip()
    conflicts: dict[str, _Conflict] = {}
    i = 1
    while i < len(fields) and fields[i]:
        meta, _, raw = fields[i].partition(b"\t")
        mode, blob, stage = meta.decode().split(" ")
        path = raw.decode("utf-8", "surrogateescape")
        conflict = conflicts.setdefault(path, _Conflict(path))
        setattr(conflict, {"1": "base", "2": "ours", "3": "theirs"}[stage], _Side(blob, mode))
        i += 1
    i += 1
    auto: set[str] = set()
    while i < len(fields) and fields[i]:
        try:
            count = int(fields[i])
        except ValueError:
            break
        paths = [fields[i + 1 + k].decode("utf-8", "surrogateescape") for k in range(count)]
        kind = fields[i + 1 + count].decode("utf-8", "replace") if i + 1 + count < len(fields) else ""
        if kind == "Auto-merging":
            auto.update(paths)
        i += count + 3
    return tree, list(conflicts.values()), auto - set(conflicts)


# ---------------------------------------------------------------------------------------------- drivers
def merge_into(repo: MemoryRepo, source_commit: str, *, message: str, author: Author,
               resolver: Resolver | None = None, label: str | None = None, user: Author | None = None,
               allow_unrelated: bool = False) -> MergeOutcome:
    """Merge ``source_commit`` into the branch ``repo`` has checked out (see the module docstring).

    A resolver that returns an awaitable is run to completion here (``asyncio.run``); from async code
    use ``merge_into_async``. Raises ``MergeError`` (nothing changed) when no merge can be made."""
    job = _Merge(repo, source_commit, message=message, author=author, label=label, user=user,
                 allow_unrelated=allow_unrelated)
    while job.attempts < RACES_BEFORE_LOCKING:
        plan = job.prepare()
        for conflict, texts in job.unanswered(plan) if resolver is not None else []:
            try:
                answer = resolver(conflict.path, texts.base, texts.ours, texts.theirs)
                if inspect.isawaitable(answer):
                    answer = asyncio.run(_await(answer))
            except Exception as exc:
                job.record_failure(conflict, exc)
                continue
            job.record(conflict, texts, answer)
        outcome = job.finish(plan)
        if outcome is not None:
            return outcome
    return _merge_locked(job)


async def merge_into_async(repo: MemoryRepo, source_commit: str, *, message: str, author: Author,
                           resolver: Resolver | None = None, label: str | None = None, user: Author | None = None,
                           allow_unrelated: bool = False) -> MergeOutcome:
    """``merge_into`` for async callers: git work runs in a thread; the resolver may be async."""
    job = await asyncio.to_thread(_Merge, repo, source_commit, message=message, author=author, label=label,
                                  user=user, allow_unrelated=allow_unrelated)
    while job.attempts < RACES_BEFORE_LOCKING:
        plan = await asyncio.to_thread(job.prepare)
        pending = await asyncio.to_thread(job.unanswered, plan) if resolver is not None else []
        for conflict, texts in pending:
            assert resolver is not None
            try:
                answer = resolver(conflict.path, texts.base, texts.ours, texts.theirs)
                if inspect.isawaitable(answer):
                    answer = await answer
            except Exception as exc:
                job.record_failure(conflict, exc)
                continue
            job.record(conflict, texts, answer)
        outcome = await asyncio.to_thread(job.finish, plan)
        if outcome is not None:
            return outcome
    return await asyncio.to_thread(_merge_locked, job)


def _merge_locked(job: _Merge) -> MergeOutcome:
    """After repeated races, compute and land the merge in one hold of the lock (no new resolver calls)."""
    with job.repo.locked():
        plan = job.prepare()
        outcome = job.finish(plan, final=True)
        assert outcome is not None
        return outcome


async def _await(awaitable: Awaitable[str | None]) -> str | None:
    return await awaitable
