"""Dreams the user reviews (``sleeptime.merge: "review"``): a dream's changes wait on a ref, per file.

Why: a dream rewrites memory while nobody watches; with ``review`` the user has the last word. The runner
hands the finished run's branch tip to ``DreamReviews.hold`` instead of merging it; the work moves to
``refs/letta/review/<run-id>`` (outside ``refs/heads/letta/``, so crash recovery never salvages it into
main) and the run's worktree and branch are removed. Nothing is ever deleted: accepted or rejected, the
ref stays, so ``git log`` keeps every change the dream proposed.

API::

    reviews = DreamReviews.for_agent(session.repo, session.agent)
    reviews.hold(run_id, commit)                       # the runner, instead of merging
    reviews.pending()                                  # run ids with undecided changes, oldest first
    reviews.changes(run_id)                            # [PendingChange(path, kind, old_path, before/after blobs,
                                                       #   base, head, reason)] still undecided
    reviews.accept(run_id, ["system/human.md"], author)   # None: all; merges ONLY those files, one commit
    reviews.reject(run_id, ["notes.md"])               # recorded; main untouched

Accepting builds one commit on the dream's merge-base holding only the chosen files' new versions, named
after the run and the files, and merges it into main with ``merge.merge_into`` (the memory writer lock, the
compare-and-swap, the three-way merge when main moved meanwhile). A chosen file whose new text adds a
secret is refused before anything moves (the guard every memory write passes). Decisions are kept in
``<agent>/dream-reviews.json`` (a locked read-modify-write, atomic replace), so every process sees them.
Core code: no LSP.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from letta_ls.agent.messages import now_iso
from letta_ls.doctor.guard import new_secrets
from letta_ls.file_locks import locked_file
from letta_ls.home import write_json_atomic
from letta_ls.memfs.repo import Author, MemoryRepo, MemoryRepoError
from letta_ls.memfs.snapshot import decode_text
from letta_ls.subagents.merge import MergeOutcome, merge_into

log = logging.getLogger(__name__)

REVIEW_REF_PREFIX = "refs/letta/review/"
STATE_NAME = "dream-reviews.json"
ChangeKind = Literal["added", "modified", "deleted", "renamed"]
Decision = Literal["accepted", "rejected"]
_KINDS: dict[str, ChangeKind] = {"A": "added", "M": "modified", "T": "modified", "D": "deleted", "R": "renamed"}


class ReviewError(MemoryRepoError):
    """A review request that cannot be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class PendingChange:
    path: str  # the file's path after the dream (its old path for a deletion)
    kind: ChangeKind
    old_path: str | None  # where a renamed file was
    before_blob: str | None  # on the merge-base with main (None: the dream added it)
    after_blob: str | None  # on the dream's ref (None: the dream deleted it)
    base: str  # the merge-base commit of main and the dream's ref
    head: str  # the dream's ref
    reason: str  # the subjects of the dream's commits that touched the file, oldest first
    mode: str = "100644"


@dataclass(frozen=True)
class AcceptResult:
    run_id: str
    accepted: tuple[str, ...]
    outcome: MergeOutcome


class DreamReviews:
    """The held dream runs of one agent's memory ``main``; decisions in ``state_path``."""

    def __init__(self, main: MemoryRepo, state_path: Path | str) -> None:
        self.main = main
        self.state_path = Path(state_path)

    @classmethod
    def for_agent(cls, main: MemoryRepo, agent: Any) -> DreamReviews:
        return cls(main, Path(agent.dir) / STATE_NAME)

    # ------------------------------------------------------------------ state
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with locked_file(self.state_path.with_name(f".{STATE_NAME}.lock")):
            state = self._read()
            yield state
            write_json_atomic(self.state_path, state)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"runs": {}}
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("%s is unreadable (%s); held dreams are listed again from their refs", self.state_path, exc)
            return {"runs": {}}
        if not isinstance(data, dict) or not isinstance(data.get("runs"), dict):
            return {"runs": {}}
        return data

    def decisions(self, run_id: str) -> dict[str, Decision]:
        run = self._read()["runs"].get(run_id) or {}
        decided = run.get("decisions")
        return dict(decided) if isinstance(decided, dict) else {}

    # ------------------------------------------------------------------ hold, list
    def hold(self, run_id: str, commit: str) -> str:
        """Keep ``commit`` (a finished run's branch tip) on the run's review ref; returns the ref."""
        if "/" in run_id or not run_id or run_id.startswith("."):
            raise ReviewError(f"a run id names one ref: {run_id!r}")
        ref = REVIEW_REF_PREFIX + run_id
        self.main.run_git("update-ref", ref, self.main.rev_parse(commit))
        with self._locked() as state:
            state["runs"].setdefault(run_id, {"held": now_iso(), "decisions": {}})
        return ref

    def _may_hold_runs(self) -> bool:
        """Whether any review ref may exist, read from the ref files: ``letta/status`` asks after every commit,
        and a ``git for-each-ref`` each time, beside a save, slowed the read answered next (issue 14)."""
        common = self.main.common_dir
        if (common / "reftable").exists():  # refs not kept in files: only git can tell
            return True
        loose = common / REVIEW_REF_PREFIX
        if loose.is_dir() and any(loose.iterdir()):
            return True
        try:
            return f" {REVIEW_REF_PREFIX}".encode() in (common / "packed-refs").read_bytes()
        except FileNotFoundError:
            return False

    def runs(self) -> list[str]:
        """Every held run (decided or not), oldest first."""
        if not self._may_hold_runs():
            return []
        out = self.main.run_git("for-each-ref", "--sort=committerdate", "--format=%(refname)", REVIEW_REF_PREFIX)
        return [line.removeprefix(REVIEW_REF_PREFIX) for line in out.decode().splitlines() if line]

    def pending(self) -> list[str]:
        """Held runs with at least one undecided change, oldest first."""
        return [run for run, _count in self.pending_counts()]

    def pending_counts(self) -> list[tuple[str, int]]:
        """(run id, undecided changes) of every held run still waiting, oldest first. Runs decided to the
        last file are marked done and skipped without a diff, so ``letta/status`` stays cheap as they pile up."""
        runs = self._read()["runs"]
        found = []
        for run_id in self.runs():
            if (runs.get(run_id) or {}).get("done"):
                continue
            count = len(self.changes(run_id))
            if count:
                found.append((run_id, count))
        return found

    def _head(self, run_id: str) -> str:
        ref = f"{REVIEW_REF_PREFIX}{run_id}^{{commit}}"
        rc, out, _err = self.main.run_git_status("rev-parse", "--verify", "-q", ref)
        if rc != 0 or "/" in run_id:
            raise ReviewError(f"there is no dream run {run_id!r} waiting for review")
        return out.decode().strip()

    def changes(self, run_id: str) -> list[PendingChange]:
        """The run's changes still undecided, one per file, sorted by path."""
        head = self._head(run_id)
        base = self.main.run_git("merge-base", "HEAD", head).decode().strip()
        decided = self.decisions(run_id)
        raw = self.main.run_git("diff", "--raw", "-z", "-M", "--no-abbrev", base, head)
        fields = raw.decode("utf-8", "surrogateescape").split("\x00")
        found: list[PendingChange] = []
        position = 0
        while position < len(fields) - 1:
            meta = fields[position].lstrip(":").split()
            if len(meta) < 5:
                position += 1
                continue
            status = meta[4][0]
            if status in ("R", "C"):
                old, path = fields[position + 1], fields[position + 2]
                position += 3
            else:
                old, path = None, fields[position + 1]
                position += 2
            kind = _KINDS.get(status, "modified")
            if path in decided:
                continue
            before = None if status == "A" else meta[2]
            after = None if status == "D" else meta[3]
            mode = meta[1] if after is not None else meta[0]
            found.append(PendingChange(path, kind, old if kind == "renamed" else None, before, after, base, head,
                                       self._reason(base, head, [p for p in (path, old) if p]), mode))
        return sorted(found, key=lambda change: change.path)

    def _reason(self, base: str, head: str, paths: list[str]) -> str:
        out = self.main.run_git("log", "--reverse", "--format=%s", f"{base}..{head}", "--", *paths)
        return "\n".join(line for line in out.decode("utf-8", "replace").splitlines() if line.strip())

    def _chosen(self, run_id: str, paths: Iterable[str] | None) -> list[PendingChange]:
        changes = self.changes(run_id)
        if not changes:
            raise ReviewError(f"the dream run {run_id} has no pending changes left: all were already decided")
        if paths is None:
            return changes
        wanted = list(dict.fromkeys(paths))
        by_path = {c.path: c for c in changes}
        unknown = [p for p in wanted if p not in by_path]
        if unknown:
            decided = self.decisions(run_id)
            why = ", ".join(f"{p} ({'already ' + decided[p] if p in decided else 'not changed by it'})"
                            for p in unknown)
            raise ReviewError(f"the dream run {run_id} has no pending change to {why}")
        return [by_path[p] for p in wanted]

    # ------------------------------------------------------------------ decide
    def accept(self, run_id: str, paths: Iterable[str] | None, author: Author) -> AcceptResult:
        """Merge only the chosen files (None: all pending) into main as one commit; the rest keep waiting."""
        chosen = self._chosen(run_id, paths)
        self._check_secrets(chosen)
        names = [c.path for c in chosen]
        message = (f"merge(dream): accept {len(names)} change(s) of {run_id} after review\n\n"
                   + "\n".join(f"- {c.kind}: {c.path}" + (f" (from {c.old_path})" if c.old_path else "")
                               for c in chosen) + "\n")
        commit = self._commit_only(chosen, message, author)
        outcome = merge_into(self.main, commit, message=message, author=author, label=f"dream {run_id}")
        self._record(run_id, names, "accepted", done=len(names) == len(self.changes(run_id)))
        return AcceptResult(run_id, tuple(names), outcome)

    def reject(self, run_id: str, paths: Iterable[str] | None = None) -> tuple[str, ...]:
        """Record the chosen files (None: all pending) as rejected; main and the ref stay as they are."""
        chosen = self._chosen(run_id, paths)
        names = tuple(c.path for c in chosen)
        self._record(run_id, names, "rejected", done=len(chosen) == len(self.changes(run_id)))
        return names

    def _record(self, run_id: str, paths: Iterable[str], decision: Decision, *, done: bool) -> None:
        with self._locked() as state:
            run = state["runs"].setdefault(run_id, {"held": now_iso(), "decisions": {}})
            decided = run.setdefault("decisions", {})
            for path in paths:
                decided[path] = decision
            run["decided"] = now_iso()
            if done:
                run["done"] = True

    def _check_secrets(self, chosen: list[PendingChange]) -> None:
        blobs = self.main.read_blobs([b for c in chosen for b in (c.before_blob, c.after_blob) if b])
        for change in chosen:
            if change.after_blob is None:
                continue
            after = decode_text(blobs[change.after_blob])
            before = decode_text(blobs[change.before_blob]) if change.before_blob else None
            if after is not None and new_secrets(before, after):
                raise ReviewError(f"{change.path} would put a secret into memory; it was not accepted (reject it, "
                                  "or accept the other files by name)")

    def _commit_only(self, chosen: list[PendingChange], message: str, author: Author) -> str:
        """A commit on the merge-base whose tree is the base's with only the chosen changes applied."""
        base = chosen[0].base
        lines = []
        for change in chosen:
            if change.old_path is not None:
                lines.append(f"0 {'0' * 40}\t{change.old_path}")
            if change.after_blob is None:
                lines.append(f"0 {'0' * 40}\t{change.path}")
            else:
                lines.append(f"{change.mode} {change.after_blob}\t{change.path}")
        handle, index = tempfile.mkstemp(prefix="letta-review-index-")
        os.close(handle)
        os.unlink(index)  # git creates it
        env = {"GIT_INDEX_FILE": index}
        try:
            self.main.run_git("read-tree", base, env=env)
            self.main.run_git("update-index", "-z", "--index-info", env=env,
                              input="".join(f"{line}\x00" for line in lines).encode("utf-8", "surrogateescape"))
            tree = self.main.run_git("write-tree", env=env).decode().strip()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(index)
        return self.main.run_git("commit-tree", tree, "-p", base, "-F", "-", env=author.env(),
                                 input=message.encode("utf-8")).decode().strip()


def pending_section(reviews: DreamReviews, run_id: str) -> str:
    """The report's last section for a held dream: what waits, and how to decide."""
    lines = [f"## Waiting for review\n\nNothing reached main: run {run_id} waits for your review. Accept or reject "
             "each file in the editor (letta.dreamAccept / letta.dreamReject).", ""]
    lines += [f"- {c.kind}: `{c.path}`" for c in reviews.changes(run_id)]
    return "\n".join(lines)
