"""The last gate before git: no secret in a commit message or in a new file name.

A file's *text* is checked by the doctor's write guard, which knows who is writing and what the file
held before. The commit message (the caller's ``reason``) and the file names are checked here, in
``MemoryRepo.commit``, because every change reaches git through it: the editor's saves, the agent's
memory tool, ``remember``, ``restore``, the doctor's fixes, /init and dreams. A name that is already in
``HEAD`` is not new, so renaming or deleting a file that was named after a key stays possible.
"""

from __future__ import annotations

from collections.abc import Iterable

from letta_ls.memfs.repo_errors import SecretRefusedError
from letta_ls.secret_scan import find_secrets, redact


def check_message(message: str) -> None:
    found = find_secrets(message)
    if found:
        raise SecretRefusedError(
            f"the reason (the commit message) holds what looks like {found[0].label}; git history must never "
            "hold secrets: describe the change without the value (name the environment variable instead)"
        )


def check_new_paths(paths: Iterable[str]) -> None:
    for path in paths:
        found = find_secrets(path)
        if found:
            raise SecretRefusedError(
                f"the file name {redact(path)} holds what looks like {found[0].label}; file names are kept in "
                "git history and shown to the model: choose a name without the value"
            )
