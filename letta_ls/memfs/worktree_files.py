"""Writing files into a memory work tree so that a crash never leaves half a file.

Each file is written to a temporary file in the repository's ``.git/letta-tmp``, fsynced, and renamed
into place; a deleted file or folder takes the folders it leaves empty with it. ``MemoryRepo.commit``
writes through here before it stages, and ``memfs.checkout`` when it brings a branch's files along.
It exists apart from ``repo.py`` because it is plain file-system work: no git, no lock (the caller
holds the writer lock), no knowledge of commits.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping
from pathlib import Path

from letta_ls.atomic_files import write_atomic
from letta_ls.memfs import crash_points
from letta_ls.memfs.paths import resolve_in
from letta_ls.memfs.snapshot import git_blob_id


def write_into_worktree(root: Path, tmp_dir: Path, changes: Mapping[str, bytes | None]) -> None:
    """Write each ``path -> bytes`` of ``changes`` under ``root`` atomically (None deletes a file or folder)."""
    tmp_dir.mkdir(exist_ok=True)
    for path, data in changes.items():
        target = resolve_in(root, path)
        if data is None:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
            prune_empty_dirs(root, target.parent)
            crash_points.step()
            continue
        write_atomic(target, data, tmp_dir=tmp_dir)
        crash_points.step()


def prune_empty_dirs(root: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents up to ``root`` while they are empty."""
    root = root.resolve()
    current = folder
    while current.resolve() != root and current.exists():
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def worktree_matches(root: Path, path: str, blob: str) -> bool:
    """Whether the file at ``path`` under ``root`` holds exactly the blob ``blob``."""
    try:
        return git_blob_id(resolve_in(root, path).read_bytes()) == blob
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False
