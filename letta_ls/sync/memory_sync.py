"""Memory sync through any git remote: pull without ever forcing, merge like subagents do, push fast-forward only.

API::

    result = await sync_agent(session, resolver=resolver, progress=progress)   # sync.remote from settings
    result = await sync_memory_async(repo, "git://host/memory.git", author=agent.author,
                                     backups_dir=agent.backups_dir, resolver=None, progress=None)
    result = sync_memory(repo, remote, ...)        # the same for synchronous callers (the CLI)
    result.pushed, result.pulled, result.conflicts  # commits sent, commits received, files kept both ways
    result.head, result.changed, result.backup, result.unpushed, result.report, result.to_json()

``progress(message, percentage)`` is called on the caller's event loop. Errors are ``remote.SyncError``
subclasses with messages that say what to do and never hold a credential.

One sync, under a lock (``letta_ls.file_locks``) on ``.git/letta-sync.lock`` so two windows never sync one agent
at once (the writer lock is not held meanwhile: the agent and the user keep writing):

1. **Pull.** The remote's main is fetched into the private ref ``refs/letta-sync/<remote>/main`` (never
   into a branch, no FETCH_HEAD; a remote without main is an empty one), then merged into local main by
   ``merge.merge_into_async``: fast-forward, three-way, the resolver for same lines, both versions kept and
   marked otherwise. ``main`` moves by compare-and-swap under the repository's writer lock, so agent and
   user writes and subagent merges during a sync lose nothing.
2. **Backups.** Before merging a history unrelated to ours (a remote made elsewhere, or re-initialised)
   or a remote main that was rewritten since the last sync (force-pushed), memory is backed up
   (``refs/letta-backup/pre-sync-…`` plus a bundle) and the backup is reported. Nothing is ever reset. In a
   merge of unrelated histories, a file that is still a preset's starting text word for word (a new machine
   joining) gives way to the other side's version of it; everything else merges as usual.
3. **Push.** main's commit goes to the remote's main, fast-forward only. If the remote moved meanwhile git
   refuses (or the remote does: another machine pushing at the same moment makes it say ``cannot lock ref``);
   sync fetches, merges and pushes again after a short random pause, up to ``attempts`` times, then reports
   the commits left unpushed (``unpushed``) instead of forcing. An empty remote gets main.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from letta_ls.file_locks import locked_file_async
from letta_ls.memfs.presets import list_presets
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.subagents.context import Progress
from letta_ls.subagents.merge import MergeOutcome, Resolver, merge_into_async
from letta_ls.subagents.worktrees import drop_broken_worktrees
from letta_ls.sync.remote import (
    NETWORK_TIMEOUT,
    Remote,
    RemoteGit,
    SyncError,
    parse_remote,
)

if TYPE_CHECKING:
    from letta_ls.session import Session

log = logging.getLogger(__name__)

TRACKING_PREFIX = "refs/letta-sync/"
LOCK_NAME = "letta-sync.lock"
LABEL = "remote/main"
PUSH_ATTEMPTS = 4
LOCK_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class SyncResult:
    remote: str  # the remote, credentials hidden
    pushed: int  # commits the remote received
    pulled: int  # commits that arrived from the remote
    conflicts: tuple[str, ...]  # files where both versions were kept, marked, for a person to reconcile
    head: str  # local main after the sync
    changed: tuple[str, ...]  # memory paths the pull changed on local main
    backup: str | None  # refs/letta-backup/pre-sync-… made before merging an unrelated or rewritten history
    unpushed: int  # local commits the remote still lacks (it kept moving): sync again
    outcomes: tuple[MergeOutcome, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()  # lines for the report beyond the merges' own
    seeded: tuple[str, ...] = ()  # files whose untouched preset text gave way to the other side's version

    @property
    def report(self) -> str:
        """A few markdown lines a person can read."""
        lines = [f"Synced memory with {self.remote}: pulled {_commits(self.pulled)}, pushed {_commits(self.pushed)}."]
        for outcome in self.outcomes:
            lines += [f"- {line.removeprefix('- ')}" for line in outcome.describe().splitlines()
                      if not any(line.startswith(f"- {path}: ") for path in self.seeded)]
        lines += [f"- {note}" for note in self.notes]
        if self.conflicts:
            lines.append(f"- both versions kept in {', '.join(self.conflicts)}: look for <<<<<<< markers and keep "
                         "what is right")
        if self.backup:
            lines.append(f"- memory before the sync is kept as {self.backup} (`letta-ls memory restore "
                         f"{self.backup.rsplit('/', 1)[-1]}` brings it back)")
        if self.unpushed:
            lines.append(f"- {_commits(self.unpushed)} not pushed yet: the remote kept changing; sync again")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"pushed": self.pushed, "pulled": self.pulled, "conflicts": list(self.conflicts), "head": self.head,
                "changed": list(self.changed), "backup": self.backup, "unpushed": self.unpushed,
                "remote": self.remote, "report": self.report}


def tracking_ref(remote: Remote) -> str:
    """The private ref holding what ``remote``'s main was at the last sync: one per remote (named by a hash of
    its credential-free address), so switching ``sync.remote`` is never mistaken for a rewritten history."""
    return f"{TRACKING_PREFIX}{hashlib.sha1(remote.display.encode('utf-8')).hexdigest()[:12]}/main"


def _retry_pause(attempt: int) -> float:
    """A short random pause before pushing again: two machines that lost the same race to each other (both
    fetched, both pushed) would otherwise retry in lockstep and collide again."""
    return random.uniform(0.05, 0.3) * (attempt + 1)


def _commits(n: int) -> str:
    return f"{n} commit{'s' if n != 1 else ''}"


class _Sync:
    """One sync of one repository with one remote (see the module docstring)."""

    def __init__(self, repo: MemoryRepo, remote: Remote, *, author: Author, backups_dir: Path,
                 resolver: Resolver | None, progress: Progress | None, timeout: float, attempts: int) -> None:
        self.repo = repo
        self.remote = remote
        self.git = RemoteGit(repo.path, remote, timeout=timeout)
        self.author = author
        self.backups_dir = backups_dir
        self.resolver = resolver
        self._progress = progress
        self.attempts = max(1, attempts)
        self.pushed = 0
        self.pulled = 0
        self.outcomes: list[MergeOutcome] = []
        self.backup: str | None = None
        self.notes: list[str] = []
        self.remote_head: str | None = None
        self.seed_choices: dict[str, str] = {}  # path -> what the seed rule chose, for the report
        self.tracking = tracking_ref(remote)
        self._known: tuple[str, str | None, int] | None = None  # (local, remote head, local commits it lacks)

    def progress(self, message: str, percentage: int | None = None) -> None:
        if self._progress is not None:
            try:
                self._progress(message, percentage)
            except Exception:
                log.exception("a sync progress callback failed")

    async def run(self) -> SyncResult:
        await asyncio.to_thread(self._check_repository)
        await asyncio.to_thread(drop_broken_worktrees, self.repo)  # else every fetch fails on "bad object"
        async with _sync_lock(self.repo):
            done = False
            for attempt in range(self.attempts):
                self.progress(f"fetching memory from {self.remote.display}", 10 if attempt == 0 else None)
                last_seen = await asyncio.to_thread(self._rev, self.tracking)
                has_main = await asyncio.to_thread(self.git.fetch_main, self.tracking)
                self.remote_head = await asyncio.to_thread(self._rev, self.tracking) if has_main else None
                if self.remote_head is not None:
                    await self._pull(last_seen)
                if await self._push():
                    done = True
                    break
                if attempt + 1 < self.attempts:
                    log.info("the remote moved during the push; merging again (attempt %d of %d)", attempt + 2,
                             self.attempts)
                    await asyncio.sleep(_retry_pause(attempt))
            unpushed = 0 if done else await asyncio.to_thread(self._count, self.repo.head(), self.remote_head)
            if not done:
                self.notes.append(f"the remote changed during each of {self.attempts} pushes; nothing was forced")
            result = await asyncio.to_thread(self._result, unpushed)
        log.info("synced memory with %s: pulled %d, pushed %d, %d conflict(s), %d unpushed", self.remote.display,
                 result.pulled, result.pushed, len(result.conflicts), result.unpushed)
        self.progress("done", 100)
        return result

    # ------------------------------------------------------------------ pull
    async def _pull(self, last_seen: str | None) -> None:
        """Merge the fetched remote main into local main (nothing when local already holds it)."""
        remote_head = self.remote_head
        local = self.repo.head()
        assert remote_head is not None and local is not None
        behind, ahead = await asyncio.to_thread(self._divergence, local, remote_head)
        self._known = (local, remote_head, ahead)
        if behind == 0:
            return  # we already hold everything the remote has
        base = local if ahead == 0 else await asyncio.to_thread(self._merge_base, local, remote_head)
        rewritten = last_seen not in (None, remote_head) and not await asyncio.to_thread(
            self._is_ancestor, last_seen, remote_head)
        if base is None or rewritten:
            why = ("its history is unrelated to this memory's" if base is None
                   else "its main was rewritten since the last sync (force-pushed)")
            await self._back_up(why)
        self.progress(f"merging {_commits(behind)} from {self.remote.display}", 50)
        resolver = _SeedResolver(self) if base is None else self.resolver
        outcome = await merge_into_async(self.repo, remote_head, message=f"merge(sync): memory from {self.remote}",
                                         author=self.author, resolver=resolver, label=LABEL,
                                         allow_unrelated=base is None)
        self.outcomes.append(outcome)
        self.pulled += behind
        if outcome.previous == local:  # no save and no race: what the push sends is known without counting
            self._known = (outcome.head, remote_head, ahead + 1 if outcome.kind == "merged" else 0)

    async def _back_up(self, why: str) -> None:
        if self.backup is not None:
            return
        self.backup = await asyncio.to_thread(self.repo.backup, self.backups_dir, "pre-sync")
        self.notes.append(f"backed up memory before merging {self.remote} because {why}")
        log.info("backed up memory as %s before syncing with %s: %s", self.backup, self.remote.display, why)

    # ------------------------------------------------------------------ push
    async def _push(self) -> bool:
        """True when the remote holds local main (pushed, or nothing to push); False when it moved meanwhile."""
        local = self.repo.head()
        assert local is not None
        remote_head = self.remote_head
        known = self._known
        if known is not None and known[:2] == (local, remote_head):
            sending = known[2]  # nothing moved since we compared: no need to count again
        else:
            sending = await asyncio.to_thread(self._count, local, remote_head)
        if sending == 0:
            return True  # every local commit is on the remote already
        self.progress(f"pushing {_commits(sending)} to {self.remote.display}", 80)
        result = await asyncio.to_thread(self.git.push_commit, local)
        if not result.ok:
            return False
        self.pushed += sending
        self.remote_head = local
        await asyncio.to_thread(self.repo.run_git, "update-ref", self.tracking, local)
        return True

    # ------------------------------------------------------------------ local git
    def _check_repository(self) -> None:
        if self.repo.head_ref() != "refs/heads/main":
            raise SyncError(f"{self.repo.path} does not have main checked out; sync moves main only: "
                            "`git checkout main` there first")
        if self.repo.head() is None:
            raise SyncError(f"{self.repo.path} has no commit yet; write some memory first")

    def _rev(self, ref: str) -> str | None:
        rc, out, _err = self.repo.run_git_status("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        return out.decode().strip() if rc == 0 else None

    def _divergence(self, local: str, remote: str) -> tuple[int, int]:
        """(commits only the remote has, commits only local has), in one ``git rev-list``."""
        behind, ahead = self.repo.run_git("rev-list", "--left-right", "--count", f"{remote}...{local}").split()
        return int(behind), int(ahead)

    def _is_ancestor(self, commit: str, of: str) -> bool:
        return self.repo.run_git_status("merge-base", "--is-ancestor", commit, of)[0] == 0

    def _merge_base(self, a: str, b: str) -> str | None:
        rc, out, _err = self.repo.run_git_status("merge-base", a, b)
        return out.decode().strip() if rc == 0 else None

    def _count(self, tip: str | None, minus: str | None) -> int:
        """Commits reachable from ``tip`` and not from ``minus``."""
        if tip is None:
            return 0
        args = ["rev-list", "--count", tip] + ([f"^{minus}"] if minus else [])
        return int(self.repo.run_git(*args).decode().strip() or 0)

    def _result(self, unpushed: int) -> SyncResult:
        changed = sorted({path for outcome in self.outcomes for path in outcome.changed})
        conflicts = sorted({path for outcome in self.outcomes for path in outcome.conflicts})
        resolved = {path for outcome in self.outcomes for path in outcome.paths_with("resolved")}
        seeded = sorted(path for path in self.seed_choices if path in resolved)
        notes = self.notes + [f"{path}: {self.seed_choices[path]}" for path in seeded]
        head = self.repo.head() or ""
        return SyncResult(self.remote.display, self.pushed, self.pulled, tuple(conflicts), head, tuple(changed),
                          self.backup, unpushed, tuple(self.outcomes), tuple(notes), tuple(seeded))


class _SeedResolver:
    """For a merge of unrelated histories: a file both sides hold whose version here is still a preset's
    starting text, word for word (a new machine joining), gives way to the remote's version; else a remote
    version that is a preset's starting text gives way to ours. Only stock texts ever give way (they can be
    had again from the preset, and the backup holds them too); anything else goes to the caller's resolver or
    is kept both ways."""

    def __init__(self, job: _Sync) -> None:
        self.job = job

    async def __call__(self, path: str, base: str | None, ours: str, theirs: str) -> str | None:
        if base is None:
            stock = _preset_texts().get(path, frozenset())
            if ours in stock:
                self.job.seed_choices[path] = "took the remote's version over this memory's untouched preset text"
                return theirs
            if theirs in stock:
                self.job.seed_choices[path] = "kept this memory's version over the remote's untouched preset text"
                return ours
        if self.job.resolver is None:
            return None
        answer = self.job.resolver(path, base, ours, theirs)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer  # type: ignore[return-value]


@functools.cache
def _preset_texts() -> dict[str, frozenset[str]]:
    """Every preset's starting text of each memory path."""
    texts: dict[str, set[str]] = {}
    for preset in list_presets():
        for path, text in preset.files.items():
            texts.setdefault(path, set()).add(text)
    return {path: frozenset(found) for path, found in texts.items()}


@contextlib.asynccontextmanager
async def _sync_lock(repo: MemoryRepo) -> AsyncIterator[None]:
    """One sync per repository at a time, across processes; waits for a running one to finish."""
    async with locked_file_async(repo.common_dir / LOCK_NAME, poll_seconds=LOCK_POLL_SECONDS):
        yield


# ---------------------------------------------------------------------------------------------- drivers
async def sync_memory_async(repo: MemoryRepo, remote: Remote | str, *, author: Author, backups_dir: Path,
                            resolver: Resolver | None = None, progress: Progress | None = None,
                            timeout: float = NETWORK_TIMEOUT, attempts: int = PUSH_ATTEMPTS) -> SyncResult:
    """Sync ``repo``'s main with ``remote`` (see the module docstring). Raises ``SyncError``."""
    target = remote if isinstance(remote, Remote) else parse_remote(remote)
    job = _Sync(repo, target, author=author, backups_dir=backups_dir, resolver=resolver, progress=progress,
                timeout=timeout, attempts=attempts)
    try:
        return await job.run()
    except asyncio.CancelledError:
        job.git.stop()  # else its thread, and so the process, waits for the network (git's own time limit)
        raise
    except SyncError:
        raise
    except Exception as exc:  # the merge's or git's own errors: redacted, with what to do
        raise SyncError(target.redact(f"sync with {target.display} stopped: {exc}. Memory holds everything "
                                      "merged so far; sync again")) from None


def sync_memory(repo: MemoryRepo, remote: Remote | str, **options: Any) -> SyncResult:
    """``sync_memory_async`` for synchronous callers (no event loop running in this thread)."""
    return asyncio.run(sync_memory_async(repo, remote, **options))


async def sync_agent(session: Session, *, resolver: Resolver | None = None, progress: Progress | None = None,
                     timeout: float = NETWORK_TIMEOUT, attempts: int = PUSH_ATTEMPTS) -> SyncResult:
    """Sync the session's agent with its settings' ``sync.remote`` (``SyncNotConfigured`` says how to set it)."""
    remote = parse_remote(session.settings.sync.remote)
    return await sync_memory_async(session.repo, remote, author=session.agent.author,
                                   backups_dir=session.agent.backups_dir, resolver=resolver, progress=progress,
                                   timeout=timeout, attempts=attempts)
