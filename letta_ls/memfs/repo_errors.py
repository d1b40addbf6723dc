"""What can go wrong with the memory repository, as exceptions a caller can catch without the repository.

The server turns them into JSON-RPC errors and the CLI into exit codes, each with a message the user
can act on; subagents and sync tell a git failure from a stale edit. They live apart from ``repo.py``
so that code which only handles these errors does not depend on ``MemoryRepo``; ``repo.py`` re-exports
them for callers that use both.
"""

from __future__ import annotations


class MemoryRepoError(RuntimeError):
    """A git operation on memory failed; the message says what and how to recover."""


class WriterLockTimeout(MemoryRepoError):
    """The writer lock stayed taken for longer than a writer may wait; the message names the holder."""


class MemoryFileNotFoundError(FileNotFoundError):
    def __init__(self, path: str, rev: str = "HEAD") -> None:
        self.path = path
        super().__init__(f"no memory file {path!r} at {rev}")


class StaleVersionError(RuntimeError):
    """The file changed since the version the writer based its edit on; nothing was written."""

    def __init__(self, path: str, expected: str | None, actual: str | None) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{path} changed since version {(expected or 'none')[:12]} (it is now {(actual or 'deleted')[:12]}); "
            "reload it, reapply your edit and save again"
        )


class SecretRefusedError(MemoryRepoError):
    """A commit message or a new file name holds a secret; nothing was written. The message never
    repeats the value."""
