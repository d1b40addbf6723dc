"""``letta/status`` shows the prompt's memory tokens after every commit: counting them must not cost a count of
every file in a large memory (only the in-context ones), and must give the doctor's number."""

from __future__ import annotations

from letta_ls.doctor import measure_system_tokens, measure_tokens
from letta_ls.doctor.checks.common import TOKENS
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.memfs.tokens import TokenCounter


class CountingBackend:
    """A tokenizer backend that notes what it was asked to count (a word a token)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def count(self, text: str) -> int:
        self.texts.append(text)
        return len(text.split())


def test_the_status_count_reads_only_the_files_in_the_prompt_and_agrees_with_the_doctor(tmp_path):
    files = {f"system/note-{i}.md": f"---\ndescription: System {i}\n---\nIn the prompt {i}.\n" for i in range(3)}
    files |= {f"reference/r-{i}.md": f"---\ndescription: Ref {i}\n---\nOutside the prompt {i}.\n" for i in range(40)}
    repo = MemoryRepo.create(tmp_path / "memory", files, Author("t", "t@x"))
    snap = repo.snapshot()
    TOKENS.clear()
    backend = CountingBackend()
    system = measure_system_tokens(snap, counter=TokenCounter("words", True, backend))
    assert len(backend.texts) == 3 and all("In the prompt" in t for t in backend.texts)
    TOKENS.clear()
    everything = CountingBackend()
    report = measure_tokens(snap, counter=TokenCounter("words", True, everything))
    assert system == report.system > 0 and len(everything.texts) == 43


def test_the_status_count_looks_at_the_system_files_only_not_every_path(monkeypatch):
    """After every commit: a scan asking each of 10,000 paths for its tier held the server ~3 ms per commit, and
    a read answered right after a save waited for it (``bench/scale.py --only lsp``)."""
    from letta_ls.memfs.snapshot import MemorySnapshot

    files = {f"system/note-{i}.md": f"---\ndescription: System {i}\n---\nIn the prompt {i}.\n" for i in range(5)}
    files |= {f"reference/r-{i:04d}.md": "---\ndescription: Ref\n---\nOutside.\n" for i in range(3000)}
    files |= {"systems.md": "---\ndescription: Not system/\n---\nA root file whose name starts like it.\n",
              "system-notes/a.md": "---\ndescription: Not system/ either\n---\nBeside it.\n"}
    snap = MemorySnapshot.from_mapping(files, head="c" * 40)
    asked: list[str] = []
    tier = MemorySnapshot.tier
    monkeypatch.setattr(MemorySnapshot, "tier", lambda self, path: asked.append(path) or tier(self, path))
    counter = TokenCounter("words", True, CountingBackend())
    system = measure_system_tokens(snap, counter=counter)
    assert sorted(asked) == sorted(p for p in files if p.startswith("system/"))  # before: all 3,007 paths
    monkeypatch.setattr(MemorySnapshot, "tier", tier)
    assert system == measure_tokens(snap, counter=counter).system
