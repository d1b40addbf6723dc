"""What the compile-cost tests share: a memory of ``n`` notes spread over seven folders, and a spy that counts
the calls of a function it wraps (and keeps their arguments)."""

from __future__ import annotations


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
