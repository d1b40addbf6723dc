"""A broken piece of configuration on disk, named so a person can find and fix it.

A home can be damaged in ways no code of ours caused: ``settings.json`` edited by hand into invalid JSON
(or into a value of the wrong kind), an ``agent.json`` whose ``model`` became a string, a home path that
is a file, a memory folder that was deleted or whose ``.git/HEAD`` is garbage. Each of them becomes one
``ConfigurationProblem`` that says *which file*, *what is wrong* and *how to fix it*, with a stable
``problem`` word that the language server hands to editors (``data.problem``) and the command line
prints without a traceback. The server keeps running while one is outstanding and checks again until
the file is fixed, which is why the problem has to be a value and not just a message.
"""

from __future__ import annotations

from pathlib import Path

#: the stable words, one per part of the configuration that can be broken
SETTINGS_INVALID = "settings-invalid"  # settings.json: not JSON, not an object, or a setting of the wrong kind
AGENT_INVALID = "agent-invalid"  # agents/<id>/agent.json: not JSON, or a field of the wrong kind
HOME_UNUSABLE = "home-unusable"  # LETTA_LS_HOME is a file, cannot be created, or cannot be written
MEMORY_MISSING = "memory-missing"  # agents/<id>/memory or its .git folder is gone
MEMORY_BROKEN = "memory-broken"  # the memory repository exists but git cannot use it (e.g. a garbage HEAD)


class ConfigurationProblem(ValueError):
    """Something on disk is broken; ``str()`` names the file, says what is wrong and how to fix it."""

    def __init__(self, problem: str, path: Path | str, detail: str, fix: str) -> None:
        self.problem = problem
        self.path = Path(path)
        self.detail = detail
        self.fix = fix
        super().__init__(f"{self.path}: {detail}; {fix}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigurationProblem) and (self.problem, self.path, self.detail) == (
            other.problem, other.path, other.detail)

    def __hash__(self) -> int:
        return hash((self.problem, self.path, self.detail))


def printable(value: str) -> str:
    """``value`` safe to print: lone surrogates (from non-UTF-8 arguments or file names) shown as escapes."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
