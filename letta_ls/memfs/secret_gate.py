"""The last gate before git: no new secret in a commit message or in a file name.

A file's *text* is checked by the doctor's write guard, which knows who is writing and what the file
held before. The commit message (the caller's ``reason``) and the file names are checked here, in
``MemoryRepo.commit``, because every change reaches git through it: the editor's saves, the agent's
memory tool, ``remember``, ``restore``, the doctor's fixes, /init and dreams.

Only what is *new* counts: a name already in ``HEAD`` is in history anyway, so a file that was named
after a key (by hand, with git) can still be renamed or deleted, and a default reason that names it
(``delete <path> in the editor``) is not refused for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from letta_ls.memfs.repo_errors import SecretRefusedError
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.secret_scan import find_secrets, line_offsets, redact


def check_commit(message: str, changes: Mapping[str, bytes | None], base: MemorySnapshot) -> None:
    """Raise ``SecretRefusedError`` when a new file name or the message holds a new secret."""
    check_new_paths(path for path, data in changes.items() if data is not None and path not in base)
    check_message(message, known=[path for path in changes if path in base])


def check_new_paths(paths: Iterable[str]) -> None:
    for path in paths:
        found = find_secrets(path)
        if found:
            raise SecretRefusedError(
                f"the file name {redact(path)} holds what looks like {found[0].label}; file names are kept in "
                "git history and shown to the model: choose a name without the value"
            )


def check_message(message: str, known: Iterable[str] = ()) -> None:
    """``known``: names already in history (the files this change touches); their secrets are not new."""
    found = find_secrets(message)
    if not found:
        return
    known = list(known)
    starts = line_offsets(message)
    for match in found:
        value = message[starts[match.line] + match.column : starts[match.last_line] + match.end_column]
        if not any(value in name for name in known):
            raise SecretRefusedError(
                f"the reason (the commit message) holds what looks like {match.label}; git history must never "
                "hold secrets: describe the change without the value (name the environment variable instead)"
            )


_NAMES_WITH_SECRETS: dict[str, bool] = {}  # path -> holds a secret; paths outlive commits, so most are known
_NAMES_KEPT = 200_000


def name_holds_secret(path: str) -> bool:
    """Whether a file name holds a secret, each name scanned once per process (the prompt compiler asks
    for every path of every new ``HEAD``, and a commit adds a name or two)."""
    known = _NAMES_WITH_SECRETS.get(path)
    if known is None:
        if len(_NAMES_WITH_SECRETS) >= _NAMES_KEPT:
            _NAMES_WITH_SECRETS.clear()
        known = _NAMES_WITH_SECRETS[path] = bool(find_secrets(path))
    return known
