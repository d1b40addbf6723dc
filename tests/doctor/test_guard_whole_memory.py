"""The write guard judges the whole memory: an agent change that makes *another* file an error is refused."""

from __future__ import annotations

import pytest

from letta_ls.doctor.guard import memory_change_guard
from letta_ls.memfs.operations import MemoryOperations, MemoryToolError
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.settings import MemorySettings
from tests.conftest import AGENT, SEED

V2_NOTE = '---\nname: "Notes"\ndescription: "What I keep"\n---\nBody.\n'


def agent_ops(repo: MemoryRepo) -> MemoryOperations:
    return MemoryOperations(repo, AGENT, actor="agent", guard=memory_change_guard(MemorySettings()))


def test_creating_a_root_memory_index_that_breaks_every_legacy_file_is_refused(repo):
    head = repo.head()
    with pytest.raises(MemoryToolError, match=r"system/persona\.md.*Letta Code will refuse"):
        agent_ops(repo).write_file("MEMORY.md", "# Memory\n", reason="an index")
    assert repo.head() == head


def test_deleting_a_folder_index_of_a_v2_memory_is_refused(tmp_path):
    files = {"MEMORY.md": "# Memory\n", "projects/MEMORY.md": "# Projects\n", "projects/x.md": V2_NOTE}
    repo = MemoryRepo.create(tmp_path / "v2", files, AGENT)
    head = repo.head()
    with pytest.raises(MemoryToolError, match=r"projects/x\.md.*missing required index projects/MEMORY\.md"):
        agent_ops(repo).delete("projects/MEMORY.md", reason="tidy up")
    assert repo.head() == head


def test_an_error_that_was_already_there_does_not_block_an_unrelated_change(tmp_path):
    files = {**SEED, "reference/old.md": "no frontmatter, from before\n"}
    repo = MemoryRepo.create(tmp_path / "m", files, AGENT)
    agent_ops(repo).create("reference/new.md", "New notes", "Body.\n", reason="new notes")
    assert repo.read("reference/new.md") is not None


def test_the_users_saves_are_accepted_with_their_findings(tmp_path):
    repo = MemoryRepo.create(tmp_path / "m", dict(SEED), AGENT)
    user = MemoryOperations(repo, AGENT, actor="user", guard=memory_change_guard(MemorySettings()))
    user.write_file("MEMORY.md", "# Memory\n", reason="the user's index")
    assert repo.read("MEMORY.md") is not None
