"""Running git in a memory work tree, and reading refs and object listings straight from git's files and output.

``MemoryRepo`` runs every git command through ``git_process`` (hooks and signing off, no prompt, the C
locale, paths unquoted) and reads ``HEAD`` and the branch it names from the ref files, so the commonest
question (which commit is checked out) spawns no process. The parsers turn the ``-z``/``--batch``
output of ``ls-tree`` and ``cat-file`` into paths and bytes. It exists apart from ``repo.py`` so the
repository reads as what it guarantees (serialised atomic commits, reads from commits only) rather than
as byte offsets; nothing here takes a lock, raises the repository's errors or writes anything.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

GIT_CONFIG = ("-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "core.quotepath=off")


def git_process(cwd: Path, args: Sequence[str], env: Mapping[str, str] | None = None,
                input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """One git command run to completion in ``cwd``, its output captured; a non-zero exit is the caller's to read."""
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    return subprocess.run(["git", *GIT_CONFIG, *args], cwd=cwd, env=full_env, input=input,
                          capture_output=True, check=False)


def read_head_ref(git_dir: Path) -> str | None:
    """The ref ``HEAD`` names (``refs/heads/main``), None when it is detached."""
    text = (git_dir / "HEAD").read_text().strip()
    return text[5:].strip() if text.startswith("ref:") else None


def read_head_commit(git_dir: Path, common_dir: Path) -> str | None:
    """The commit ``HEAD`` points at, from the loose ref file or ``packed-refs`` (no process spawned)."""
    ref_name = read_head_ref(git_dir)
    if ref_name is None:
        return (git_dir / "HEAD").read_text().strip() or None
    loose = common_dir / ref_name
    try:
        value = loose.read_text().strip()
        if value:
            return value
    except (FileNotFoundError, IsADirectoryError):
        pass
    try:
        for line in (common_dir / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref_name):
                return line.split(" ", 1)[0]
    except FileNotFoundError:
        pass
    return None


def parse_ls_tree(out: bytes) -> dict[str, str]:
    """``path -> blob id`` of every file in ``git ls-tree -r -z`` output (submodules and trees left out)."""
    tree: dict[str, str] = {}
    for entry in out.split(b"\x00"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        _mode, kind, blob = meta.split(b" ")
        if kind == b"blob":
            tree[path.decode("utf-8", "surrogateescape")] = blob.decode()
    return tree


def iter_cat_file_batch(out: bytes, wanted: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
    """``(blob id, bytes)`` for each of ``wanted`` in ``git cat-file --batch`` output, in order; None for a
    blob git reports missing (the caller decides what that means, and stops there)."""
    pos = 0
    for blob in wanted:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].split()
        if len(header) < 3 or header[1] == b"missing":
            yield blob, None
            return
        size = int(header[2])
        yield blob, out[nl + 1 : nl + 1 + size]
        pos = nl + 1 + size + 1
