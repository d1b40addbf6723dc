"""A save on a large memory leaves no garbage that sets off a full collection (issue 14).

Each save rebuilt the 10,000-file snapshot twice (the guard's view of the change, then the committed one)
with ``dict(sorted(files.items()))``: 10,000 ``(path, file)`` tuples, tracked by the garbage collector,
alive long enough to be promoted and counted towards a full (generation 2) collection. So every few saves
the server's garbage collector walked its whole heap, 90-120 ms in one hold of the GIL during which no
request was read or answered (the read tail during an audit in ``bench/scale.py --only lsp``). A
``gc.callbacks`` spy counts the full collections during saves through the real memory tool on a real
repository.
"""

from __future__ import annotations

import gc

from letta_ls.memfs.authors import user_author
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo

FILES = 10_000
SAVES = 30


def test_saves_on_a_10000_file_memory_set_off_no_full_garbage_collection(tmp_path):
    repo = MemoryRepo.create(tmp_path / "memory", {
        f"reference/area-{i % 40}/note-{i}.md": f"---\ndescription: Note {i}.\n---\nBody of note {i}.\n"
        for i in range(FILES)}, Author("Test", "t@example.com"))
    repo.snapshot()
    ops = MemoryOperations(repo, user_author(repo.path), actor="user")
    full_collections = []

    def spy(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full_collections.append(info)

    gc.collect()
    gc.callbacks.append(spy)
    try:
        for i in range(SAVES):
            path = "reference/edited.md" if i % 2 else f"reference/new-{i}.md"  # an overwrite, a new file
            ops.write_file(path, f"---\ndescription: Edit {i}.\n---\nEdit {i}.\n", reason=f"edit {i}")
    finally:
        gc.callbacks.remove(spy)
    assert repo.snapshot().get("reference/new-28.md") is not None
    assert list(repo.snapshot().files) == sorted(repo.snapshot().files), "the snapshot is no longer in path order"
    assert not full_collections, f"{len(full_collections)} full garbage collections in {SAVES} saves"
