"""The write journal: what a commit of ``MemoryRepo`` was about to change, so a crash can be undone exactly.

A commit is several steps (write or delete each file in the work tree, ``git add``, ``git commit``); a process
killed between two of them leaves a work tree that matches neither the old commit nor the new one: a rename
with its delete done and its write not. Left alone, the next merge or sync would take that half-applied state
for a person's uncommitted edits and commit it, deleting files nobody deleted.

So before touching the work tree, ``MemoryRepo.commit`` records ``letta-write.json`` in the work tree's git
dir: the commit it started from and, for every path it is about to touch, the blob id before and after (None:
absent). ``finish_interrupted_write`` (run by ``MemoryRepo.locked()`` on acquiring the writer lock when the
journal exists, so before any read-modify-write, any merge, sync or dream merge of any process; and by a
commit that failed in-process) brings each journaled path back to what ``HEAD`` holds, whether the commit
landed (roll forward) or not (roll back), and resets those index entries. Only files holding the journal's
own before or after versions are touched: anything else at a journaled path was written by someone else
after the crash (a person's edit) and stays as it is, for the merge to save as theirs.

It knows nothing of merges, agents or LSP; the caller holds the writer lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from letta_ls.atomic_files import write_atomic

if TYPE_CHECKING:
    from letta_ls.memfs.repo import MemoryRepo

log = logging.getLogger(__name__)

WRITE_JOURNAL = "letta-write.json"


def begin_write(repo: MemoryRepo, base: str | None, paths: Mapping[str, tuple[str | None, str | None]]) -> None:
    """Record, durably, that ``paths`` (path -> (blob before, blob after)) are about to change from ``base``."""
    data = {"base": base, "paths": {path: list(blobs) for path, blobs in paths.items()}}
    write_atomic(repo.git_dir / WRITE_JOURNAL, json.dumps(data).encode("utf-8"))


def end_write(repo: MemoryRepo) -> None:
    """The commit landed and the work tree matches it: nothing to undo any more."""
    with contextlib.suppress(FileNotFoundError):
        (repo.git_dir / WRITE_JOURNAL).unlink()


def finish_interrupted_write(repo: MemoryRepo) -> list[str]:
    """Bring every path an interrupted commit journaled back to ``HEAD`` (work tree and index); what was done."""
    from letta_ls.memfs.checkout import disk_blob  # checkout imports repo, which imports this module

    journal = repo.git_dir / WRITE_JOURNAL
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
        paths = {str(p): (blobs[0], blobs[1]) for p, blobs in data["paths"].items()}
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        log.warning("%s is unreadable (%s); removing it", journal, exc)
        end_write(repo)
        return ["removed an unreadable write journal"]
    head = repo.head()
    snap = repo.snapshot(head) if head else None
    restore: dict[str, bytes | None] = {}
    kept: list[str] = []
    for path, (before, after) in sorted(paths.items()):
        committed = snap.get(path) if snap is not None else None
        wanted = committed.blob if committed is not None else None
        on_disk = disk_blob(repo, path)
        if on_disk == wanted:
            continue
        if on_disk in (before, after):
            restore[path] = committed.data if committed is not None else None
        else:
            kept.append(path)  # written after the crash by someone else: theirs to keep
    if restore:
        repo._apply_to_worktree(restore)
    if head and paths:
        spec = b"".join(p.encode("utf-8", "surrogateescape") + b"\x00" for p in paths)
        repo.run_git("reset", "-q", head, "--pathspec-from-file=-", "--pathspec-file-nul",
                     env={"GIT_LITERAL_PATHSPECS": "1"}, input=spec)
    end_write(repo)
    landed = "it landed" if head != data.get("base") else "it had not landed"
    done = [f"finished an interrupted write ({landed}): {len(restore)} file(s) brought back to "
            f"{(head or 'nothing')[:12]}"] + [f"left {path} as it is (changed after the crash)" for path in kept]
    if restore or kept:
        log.warning("; ".join(done))
    return done
