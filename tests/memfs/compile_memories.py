"""What the compile-cost tests share: a memory of ``n`` notes spread over seven folders, a spy that counts
the calls of a function it wraps (and keeps their arguments), and a count of the Python lines an action runs."""

from __future__ import annotations

import sys
from collections.abc import Callable


def notes_memory(n: int, system: dict[str, str] | None = None) -> dict[str, str]:
    files = {"system/persona.md": "---\ndescription: Who I am.\n---\nI am careful.\n", **(system or {})}
    for i in range(n):
        files[f"reference/topic-{i % 7}/note-{i}.md"] = f"---\ndescription: Note {i}.\n---\nFact {i}.\n"
    return files


class Calls:
    def __init__(self, function):
        self.function = function
        self.args: list = []

    @property
    def count(self) -> int:
        return len(self.args)

    def __call__(self, *args, **kwargs):
        self.args.append(args)
        return self.function(*args, **kwargs)


def python_lines(action: Callable[[], object]) -> int:
    """How many Python lines ``action`` runs (in this thread): what is left per path when this does not grow with
    the memory is work in C (a copy of a mapping), not a loop."""
    lines = 0

    def trace(frame, event, arg):
        nonlocal lines
        if event == "line":
            lines += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        action()
    finally:
        sys.settrace(previous)
    return lines
