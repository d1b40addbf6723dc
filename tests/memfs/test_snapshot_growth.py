"""A one-file change on a large memory never sorts the whole memory again (issue 14: a chat turn on a 10,000-file
memory sorted all 10,000 paths twice per memory write, once for the write guard's view of the change
(``with_text``) and once for the snapshot the commit leaves behind), and the snapshot it makes is the one a fresh
sort makes."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.memfs import compile as compile_module
from letta_ls.memfs import repo as repo_module
from letta_ls.memfs.compile import clear_compile_cache, compile_memory
from letta_ls.memfs.git_plumbing import parse_ls_tree
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.memfs.skills import _memory_skills, clear_skill_caches, memory_skills
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot
from letta_ls.memfs.tree import tree_limits
from tests.memfs.compile_memories import Calls, notes_memory, python_lines

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


def test_compiling_a_new_head_lists_no_path_and_blob_of_the_memory_for_the_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The compile cache recognises a snapshot by its mapping; listing its paths and blobs (two lists of 10,000
    on a large memory, for every new ``HEAD``) is needed only when another mapping claims the same ``HEAD``."""
    clear_compile_cache()
    first = MemorySnapshot.from_mapping(notes_memory(2_000), head="1" * 40)
    compile_memory(first)
    listed = Calls(compile_module._signature)
    monkeypatch.setattr(compile_module, "_signature", listed)
    second = first.with_text("reference/chat/new.md", "---\ndescription: New.\n---\nBody.\n")
    second = MemorySnapshot("2" * 40, second.files, second.change)
    compiled = compile_memory(second)
    assert compile_memory(second) is compiled
    assert listed.count == 0
    overlay = MemorySnapshot("2" * 40, dict(second.files))  # the same HEAD from another mapping: compared
    assert compile_memory(overlay) is compiled
    edited = second.with_text("reference/chat/new.md", "---\ndescription: Edited.\n---\nBody.\n")
    assert "Edited." in compile_memory(edited).text  # same HEAD, other blobs: not the cached compile
    monkeypatch.undo()
    assert compiled.text == compile_module._render(second, tree_limits()).text


_HISTORY_PATHS = ["system/persona.md", "system/human.md", "system/project/x.md", "system/.hidden.md", "persona.md",
                  "MEMORY.md", "reference/MEMORY.md", "reference/a.md", "reference/deep/b.md", "notes/c.md",
                  "skills/deploy/SKILL.md", "skills/deploy/run.sh", "skills/flat.md", "skills/.x/SKILL.md",
                  "reference/sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7n.md"]
_HISTORY_TEXTS = ["---\ndescription: One.\n---\nBody.\n", "---\nname: deploy\ndescription: Ship it.\n---\nGo.\n",
                  "no frontmatter\n", "---\ndescription: [broken\n---\nx\n", b"\xff\x00 binary"]


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.sampled_from(_HISTORY_PATHS), st.sampled_from(_HISTORY_TEXTS), max_size=8),
       st.lists(st.dictionaries(st.sampled_from(_HISTORY_PATHS), st.none() | st.sampled_from(_HISTORY_TEXTS),
                                min_size=1, max_size=3), min_size=1, max_size=8))
def test_what_follows_a_commit_by_its_changed_paths_is_what_a_fresh_snapshot_gives(start, commits) -> None:
    """The prompt's memory section and the memory's skills, followed commit by commit through the paths each
    commit's snapshot says it changed, are the section and the skills of the same files read afresh."""
    clear_compile_cache()
    clear_skill_caches()
    snapshot = MemorySnapshot.from_mapping(start, head=f"{0:040x}")
    compile_memory(snapshot)
    memory_skills(snapshot)
    for number, changes in enumerate(commits, start=1):
        made = snapshot.with_files({path: None if text is None else MemorySnapshot.from_mapping({path: text})
                                    .files[path] for path, text in changes.items()}, head=f"{number:040x}")
        assert made.paths_changed_since(snapshot.files) == frozenset(changes)
        fresh = MemorySnapshot.from_mapping({p: f.data for p, f in made.files.items()}, head=made.head)
        assert compile_memory(made) == compile_module._render(fresh, tree_limits())
        assert memory_skills(made) == _memory_skills(fresh.files, None)
        snapshot = made


def test_laying_a_file_over_a_10000_file_snapshot_leaves_the_cycle_collector_asleep() -> None:
    """A pair allocated per path (10,000 of them) woke the collector ~11 times per write, each pass walking the
    young objects; the copy is now made without them."""
    snapshot = MemorySnapshot.from_mapping(notes_memory(10_000))
    passes = 0

    def count(phase: str, info: dict) -> None:
        nonlocal passes
        passes += phase == "start"

    gc.collect()
    gc.callbacks.append(count)
    try:
        for number in range(5):
            snapshot.with_text(f"reference/chat/new-{number}.md", "---\ndescription: New.\n---\nBody.\n")
            snapshot.with_text("reference/topic-1/note-1.md", None)
    finally:
        gc.callbacks.remove(count)
    assert passes <= 2, f"{passes} passes of the cycle collector for 10 changes"


def _lines_to_follow_a_commit(base: MemorySnapshot, meanwhile: MemorySnapshot | None, head: str) -> int:
    """Python lines to compile the ``HEAD`` a one-file commit makes on ``base``, ``meanwhile`` compiled in between."""
    compile_memory(base)
    if meanwhile is not None:
        compile_memory(meanwhile)
    note = MemorySnapshot.from_mapping({"reference/chat/new.md": "---\ndescription: New.\n---\nBody.\n"}).files
    made = base.with_files(note, head=head)
    lines = python_lines(lambda: compile_memory(made))
    assert compile_memory(made) == compile_module._render(made, tree_limits())
    return lines


def test_a_commit_of_one_memory_is_followed_without_comparing_it_with_another_memory_compiled_meanwhile() -> None:
    """A process compiles a few memories (the agent's, a subagent's; the bench's 5-file memory beside its 10,000-file
    one): a commit's new ``HEAD`` is followed from the section it was made from, not compared path by path with
    the section compiled last, which belongs to the other memory."""
    large = MemorySnapshot.from_mapping(notes_memory(4_000), head="a" * 40)
    small = MemorySnapshot.from_mapping(notes_memory(4), head="b" * 40)
    clear_compile_cache()
    large_alone = _lines_to_follow_a_commit(large, None, "c" * 40)
    clear_compile_cache()
    large_beside_small = _lines_to_follow_a_commit(large, small, "d" * 40)
    clear_compile_cache()
    small_alone = _lines_to_follow_a_commit(small, None, "e" * 40)
    clear_compile_cache()
    small_beside_large = _lines_to_follow_a_commit(small, large, "f" * 40)
    assert large_beside_small <= large_alone * 1.1 + 100, f"{large_alone} -> {large_beside_small} lines"
    assert small_beside_large <= small_alone * 1.1 + 100, f"{small_alone} -> {small_beside_large} lines"
