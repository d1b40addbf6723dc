"""Who a memory commit is by: the ``Author`` record and the user's own git identity.

Every change to memory is a commit with an author (the agent, a subagent, or the user editing in the
editor), and the user's identity comes from their git configuration, else ``letta-ls user`` (SPEC
section 4). Looking it up spawns ``git config`` twice, so ``user_author`` keeps each answer for a
minute. It exists apart from ``repo.py`` because identity is asked for by callers that never commit
themselves (the server, the CLI, subagents picking an author) and has nothing to do with storage.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Author:
    """The name and email a commit is made with; ``env()`` gives them to git."""

    name: str
    email: str

    def env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


_authors: dict[str, tuple[float, Author]] = {}


def user_author(cwd: Path | None = None) -> Author:
    """The user's git identity, else ``letta-ls user`` (SPEC section 4); looked up once a minute at most."""
    key = str(cwd or "")
    cached = _authors.get(key)
    if cached is not None and time.monotonic() - cached[0] < 60:
        return cached[1]
    author = _lookup_user_author(cwd)
    _authors[key] = (time.monotonic(), author)
    return author


def _lookup_user_author(cwd: Path | None) -> Author:
    def config(key: str) -> str | None:
        try:
            out = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True,
                                 cwd=cwd, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() or None

    return Author(config("user.name") or "letta-ls user", config("user.email") or "user@letta-ls.local")
