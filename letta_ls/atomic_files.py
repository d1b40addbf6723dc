"""Files several writers share: replaced atomically, and locked across processes.

``write_atomic``: a crash leaves either the old bytes or the new ones, never half of either.

The bytes go to a temporary file beside the target (or in ``tmp_dir``, which must be on the same file
system), are fsynced, and the temporary file is renamed over the target; on any failure the temporary
file is removed and the target is untouched. One implementation for every file letta-ls rewrites:
settings and agent records, conversation state and index, memory files in a work tree, the checkout
journal. Locks across processes are ``letta_ls.file_locks``. Plain file-system work, no git.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, tmp_dir: Path | None = None) -> None:
    """Replace ``path`` with ``data`` atomically and durably (its folder is created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or path.parent, prefix=f".{_short(path.name)}.")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd != -1:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _short(name: str) -> str:
    """At most 40 bytes of ``name``: a valid 255-byte name plus a prefix and a random suffix would exceed
    NAME_MAX (255 bytes) and the save would fail on its temporary file."""
    return os.fsencode(name)[:40].decode("utf-8", "ignore")

