"""Writing files into a memory work tree so that a crash never leaves half a file, and no link redirects a write.

Each file is written to a temporary file in the repository's ``.git/letta-tmp``, fsynced, and renamed
into place; a deleted file or folder takes the folders it leaves empty with it. ``MemoryRepo.commit``
writes through here before it stages, and ``memfs.checkout`` when it brings a branch's files along.

**Links.** A path that passed ``check_memory_path`` can still lead into ``.git`` or out of the tree through
a symbolic link planted in memory (``notes/gitlink -> ../.git``): one write there overwrites ``.git/config``
and a ``core.fsmonitor`` line in it runs a command on the next git call. So no write or delete ever
follows a link: ``refuse_links`` checks every existing component with ``lstat`` before anything is
written (a clear refusal), and the write itself walks down from the work tree one folder at a time with
``O_NOFOLLOW`` and works relative to the folder's descriptor (``openat`` discipline), so a link swapped
in between the check and the write (a racing rename) makes the walk fail instead of moving the write.
The last component is replaced by ``rename`` (a link there is replaced, never followed; a hard link
keeps its other name's bytes). Git itself refuses to stage a path "beyond a symbolic link", so a path
through a link could never become memory anyway.

It exists apart from ``repo.py`` because it is plain file-system work: no git, no lock (the caller
holds the writer lock), no knowledge of commits.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from letta_ls.memfs import crash_points
from letta_ls.memfs.paths import UnsafePathError, check_memory_path
from letta_ls.memfs.snapshot import git_blob_id

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _link_error(path: str, component: str) -> UnsafePathError:
    where = "the path" if component == path else f"{component!r}"
    return UnsafePathError(path, f"{where} is a symbolic link; memory is never written through a link "
                                 "(remove the link, or put a real folder or file in its place)")


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def refuse_links(root: Path, path: str, *, allow_final_link: bool = False) -> None:
    """Raise ``UnsafePathError`` when an existing component of ``path`` is a symbolic link (the last one
    too, unless ``allow_final_link``: deleting a link removes the link itself) or a file stands where a
    folder must be. Checked with ``lstat`` from the top down, so the first link found is the one named."""
    check_memory_path(path)
    parts = path.split("/")
    current = root
    for depth, name in enumerate(parts, start=1):
        current = current / name
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return
        prefix = "/".join(parts[:depth])
        last = depth == len(parts)
        if stat.S_ISLNK(info.st_mode):
            if last and allow_final_link:
                return
            raise _link_error(path, prefix)
        if not last and not stat.S_ISDIR(info.st_mode):
            raise UnsafePathError(path, f"{prefix!r} is a file, not a folder")


@contextlib.contextmanager
def _parent_dir(root: Path, path: str, *, create: bool) -> Iterator[tuple[int, str]]:
    """The descriptor of the folder holding ``path``'s last segment, and that segment. Reached one folder
    at a time from ``root`` without following a link (``create``: missing folders are made on the way)."""
    check_memory_path(path)
    parts = path.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for depth, name in enumerate(parts[:-1], start=1):
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
                child = _open_child_dir(fd, name, path, "/".join(parts[:depth]))
            except OSError as exc:
                raise _not_a_folder(fd, name, path, "/".join(parts[:depth]), exc) from exc
            os.close(fd)
            fd = child
        yield fd, parts[-1]
    finally:
        os.close(fd)


def _open_child_dir(fd: int, name: str, path: str, prefix: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise _not_a_folder(fd, name, path, prefix, exc) from exc


def _not_a_folder(fd: int, name: str, path: str, prefix: str, exc: OSError) -> Exception:
    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
        return exc
    info = _lstat_at(fd, name)
    if info is not None and stat.S_ISLNK(info.st_mode):
        return _link_error(path, prefix)
    return UnsafePathError(path, f"{prefix!r} is a file, not a folder")


def write_file_nofollow(root: Path, tmp_dir: Path, path: str, data: bytes) -> None:
    """Replace the file at ``path`` under ``root`` with ``data``, atomically and durably, never through a link.

    The temporary file has a short random name in ``tmp_dir`` (same file system as the work tree), so a long
    file name never overflows the temporary one."""
    with _parent_dir(root, path, create=True) as (dir_fd, name):
        existing = _lstat_at(dir_fd, name)
        if existing is not None and stat.S_ISLNK(existing.st_mode):
            raise _link_error(path, path)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise IsADirectoryError(errno.EISDIR, "a folder is in the way", path)
        tmp_dir.mkdir(exist_ok=True)
        tmp_fd = os.open(tmp_dir, _DIR_FLAGS)
        try:
            tmp_name = f"w-{secrets.token_hex(8)}"
            fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                         dir_fd=tmp_fd)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.rename(tmp_name, name, src_dir_fd=tmp_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name, dir_fd=tmp_fd)
                raise
        finally:
            os.close(tmp_fd)
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)


def delete_nofollow(root: Path, path: str) -> None:
    """Remove the file, folder or link at ``path`` (a link itself, never what it points to), then the
    folders it leaves empty. A link on the way there means there is nothing of memory to delete: refused."""
    try:
        with _parent_dir(root, path, create=False) as (dir_fd, name):
            info = _lstat_at(dir_fd, name)
            if info is not None and stat.S_ISDIR(info.st_mode):
                shutil.rmtree(name, dir_fd=dir_fd)  # the descriptor-based rmtree: it follows no link inside
            elif info is not None:
                os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    prune_empty_parents(root, path)


def prune_empty_parents(root: Path, path: str) -> None:
    """Remove the folders of ``path`` that are empty, deepest first, up to (not including) ``root``."""
    parts = path.split("/")
    for depth in range(len(parts) - 1, 0, -1):
        try:
            with _parent_dir(root, "/".join(parts[:depth]), create=False) as (dir_fd, name):
                os.rmdir(name, dir_fd=dir_fd)
        except (OSError, UnsafePathError):
            return


def lexists_nofollow(root: Path, path: str) -> bool:
    """Whether anything (a link included) is at ``path``; ``UnsafePathError`` when a link is on the way."""
    refuse_links(root, path, allow_final_link=True)
    return os.path.lexists(root / path)


def read_nofollow(root: Path, path: str) -> bytes:
    """The bytes of the regular file at ``path``; raises ``OSError`` (``ELOOP`` for a link) otherwise."""
    with _parent_dir(root, path, create=False) as (dir_fd, name):
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()


def write_into_worktree(root: Path, tmp_dir: Path, changes: Mapping[str, bytes | None]) -> None:
    """Write each ``path -> bytes`` of ``changes`` under ``root`` atomically (None deletes a file or folder).

    Every path is proven free of links before the first byte is written, so a refused change writes nothing."""
    for path, data in changes.items():
        refuse_links(root, path, allow_final_link=data is None)
    tmp_dir.mkdir(exist_ok=True)
    for path, data in changes.items():
        try:
            if data is None:
                delete_nofollow(root, path)
            else:
                write_file_nofollow(root, tmp_dir, path, data)
            crash_points.step()
        except (FileNotFoundError, NotADirectoryError) as exc:  # a folder on the way vanished meanwhile
            raise UnsafePathError(path, "a folder on the way was moved or removed while it was being written "
                                        f"(by another program?): {exc.strerror}; try again") from exc


def worktree_matches(root: Path, path: str, blob: str) -> bool:
    """Whether the file at ``path`` under ``root`` holds exactly the blob ``blob`` (a link never does)."""
    try:
        return git_blob_id(read_nofollow(root, path)) == blob
    except (OSError, UnsafePathError):
        return False
