"""A one-file change on a large memory never sorts the whole memory again (issue 14: a chat turn on a 10,000-file
memory sorted all 10,000 paths twice per memory write, once for the write guard's view of the change
(``with_text``) and once for the snapshot the commit leaves behind), and the snapshot it makes is the one a fresh
sort makes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.memfs import repo as repo_module
from letta_ls.memfs.git_plumbing import parse_ls_tree
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot
from tests.memfs.compile_memories import notes_memory

AUTHOR = Author("Test", "test@example.com")


class ComparedPath(str):
    """A path that counts how often it is ordered against another (a sort or a bisection does that)."""

    comparisons = 0

    def __lt__(self, other: object) -> bool:
        ComparedPath.comparisons += 1
        return str.__lt__(self, other)

    def __gt__(self, other: object) -> bool:
        ComparedPath.comparisons += 1
        return str.__gt__(self, other)

    def __le__(self, other: object) -> bool:
        ComparedPath.comparisons += 1
        return str.__le__(self, other)

    def __ge__(self, other: object) -> bool:
        ComparedPath.comparisons += 1
        return str.__ge__(self, other)

    __hash__ = str.__hash__


def _counted(snapshot: MemorySnapshot) -> MemorySnapshot:
    return MemorySnapshot(snapshot.head, {ComparedPath(p): f for p, f in snapshot.files.items()})


@pytest.mark.parametrize("path", ["reference/chat/new.md", "reference/topic-3/note-3.md", "aaa.md", "zzz/last.md"])
def test_laying_one_file_over_a_10000_file_snapshot_orders_it_among_a_few_paths(path: str) -> None:
    snapshot = _counted(MemorySnapshot.from_mapping(notes_memory(10_000)))
    ComparedPath.comparisons = 0
    changed = snapshot.with_text(path, "---\ndescription: New.\n---\nBody.\n")
    assert ComparedPath.comparisons <= 40, f"{ComparedPath.comparisons} comparisons of paths"
    assert list(changed.files) == sorted(changed.files)
    assert changed.files[path].data == b"---\ndescription: New.\n---\nBody.\n"
    ComparedPath.comparisons = 0
    removed = changed.with_text(path, None)
    assert ComparedPath.comparisons <= 40
    assert list(removed.files) == sorted(set(snapshot.files) - {path})


_NAMES = st.sampled_from(["a.md", "b.md", "system/persona.md", "system/x/y.md", "Z.md", "é.md", "a-b.md", "a/b.md",
                          "a.md/c", "reference/n-1.md", "reference/n-10.md", "reference/n-2.md"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_NAMES, st.text(max_size=5)), st.lists(st.tuples(_NAMES, st.none() | st.text(max_size=5))))
def test_a_snapshot_changed_file_by_file_is_the_snapshot_made_from_scratch(start, changes) -> None:
    snapshot = MemorySnapshot.from_mapping(start)
    expected = dict(start)
    for path, text in changes:
        snapshot = snapshot.with_text(path, text)
        if text is None:
            expected.pop(path, None)
        else:
            expected[path] = text
        fresh = MemorySnapshot.from_mapping(expected)
        assert list(snapshot.files.items()) == list(fresh.files.items())


def test_a_commit_on_a_3000_file_memory_orders_its_snapshot_among_a_few_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    MemoryRepo.create(tmp_path / "memory", notes_memory(3_000), AUTHOR)
    monkeypatch.setattr(repo_module, "parse_ls_tree", lambda out: {ComparedPath(p): b
                                                                   for p, b in parse_ls_tree(out).items()})
    repo = MemoryRepo(tmp_path / "memory")
    repo.snapshot()
    ComparedPath.comparisons = 0
    result = repo.commit({"reference/chat/new.md": b"---\ndescription: New.\n---\nBody.\n",
                          "reference/topic-1/note-1.md": None}, "remember the new note", AUTHOR)
    assert ComparedPath.comparisons <= 80, f"{ComparedPath.comparisons} comparisons of paths"
    kept = repo.snapshot()
    assert kept.head == result.commit
    monkeypatch.undo()
    fresh = MemoryRepo(tmp_path / "memory").snapshot()
    assert list(kept.files) == list(fresh.files)
    assert all(kept.files[p].blob == f.blob and kept.files[p].data == f.data for p, f in fresh.files.items())
    assert isinstance(kept.files["reference/chat/new.md"], MemoryFile)
