"""Renaming or moving a memory file rewrites the links that point at it, in the same commit (issue 16.3).

A memory whose index says ``[[reference/api]]`` loses the agent's way to that file the moment the file is
moved; Letta Code, Claude Code and Codex leave such links dangling. Here every rename (the agent's tool,
the editor's ``letta/memoryRename``, a dream, which uses the same tool) carries the link rewrites along.
"""

from __future__ import annotations

import subprocess

import pytest

from letta_ls.memfs.operations import MemoryOperations
from tests.conftest import AGENT

INDEX = """---
description: Where things are
---
- API notes: [[reference/api]] and again [[reference/api.md|the API]]
- Auth section: [[reference/api#Auth]]
- As a markdown link: [API](../reference/api.md) and [root form](/reference/api.md)
- Unrelated: [[reference/db]] and [site](https://example.com/reference/api.md)
- In code: `[[reference/api]]` stays an example.

```
[[reference/api]] in a fence is an example too
```
"""

API = """---
description: The HTTP API
---
See the database notes: [[reference/db]] and [db](db.md).
"""

DB = """---
description: The database
---
Back to [[reference/api]].
"""


@pytest.fixture
def ops(repo):
    operations = MemoryOperations(repo, AGENT, actor="agent")
    operations.create("system/index.md", "Where things are", INDEX.split("---\n", 2)[2], reason="index")
    operations.create("reference/api.md", "The HTTP API", API.split("---\n", 2)[2], reason="api")
    operations.create("reference/db.md", "The database", DB.split("---\n", 2)[2], reason="db")
    return operations


def body(repo, path):
    return repo.read(path).text.split("---\n", 2)[2]


def test_renaming_a_file_rewrites_every_link_to_it_in_the_same_commit(ops, repo):
    before = len(repo.history(limit=100))
    ops.rename("reference/api.md", "reference/http/api.md", reason="group the HTTP notes")
    assert len(repo.history(limit=100)) == before + 1
    index = body(repo, "system/index.md")
    assert "[[reference/http/api]] and again [[reference/http/api.md|the API]]" in index
    assert "[[reference/http/api#Auth]]" in index
    assert "[API](../reference/http/api.md)" in index
    assert "[root form](/reference/http/api.md)" in index
    # what does not point at the moved file, and examples, are left alone
    assert "[[reference/db]]" in index and "https://example.com/reference/api.md" in index
    assert "`[[reference/api]]` stays an example" in index
    assert "[[reference/api]] in a fence is an example too" in index
    assert "Back to [[reference/http/api]]." in body(repo, "reference/db.md")
    commit = repo.history(limit=1)[0]
    assert commit.message == "group the HTTP notes"


def test_the_moved_files_own_relative_links_still_reach_their_targets(ops, repo):
    ops.rename("reference/api.md", "reference/http/api.md", reason="group the HTTP notes")
    moved = body(repo, "reference/http/api.md")
    # a wiki link is read from the memory root: unchanged; a markdown link is relative to its file
    assert "[[reference/db]]" in moved
    assert "[db](../db.md)" in moved


def test_moving_a_folder_rewrites_links_to_the_files_inside_it(ops, repo):
    ops.rename("reference", "archive/reference", reason="archive the reference notes")
    index = body(repo, "system/index.md")
    assert "[[archive/reference/api]]" in index
    assert "[[archive/reference/db]]" in index
    assert "[API](../archive/reference/api.md)" in index
    # links between two files that moved together keep working
    assert "[db](db.md)" in body(repo, "archive/reference/api.md")
    assert "Back to [[archive/reference/api]]." in body(repo, "archive/reference/db.md")


def test_a_rename_with_no_links_to_it_touches_only_the_moved_file(ops, repo):
    ops.create("notes/loose.md", "Loose notes", "nothing links here\n", reason="loose")
    head = repo.head()
    ops.rename("notes/loose.md", "notes/kept.md", reason="rename")
    changed = subprocess.run(["git", "-C", str(repo.path), "diff", "--no-renames", "--name-only", head, "HEAD"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert set(changed) == {"notes/loose.md", "notes/kept.md"}
    assert body(repo, "system/index.md") == INDEX.split("---\n", 2)[2]


def test_links_in_read_only_files_are_left_for_the_user(repo):
    user = MemoryOperations(repo, AGENT, actor="user")
    user.create("notes/persona.md", "Who I am", "Style guide: [[reference/style]]\n", reason="persona")
    text = repo.read("notes/persona.md").text.replace("---\n", "---\nread_only: true\n", 1)
    user.write_file("notes/persona.md", text, reason="make it read-only")
    user.create("reference/style.md", "Style", "Be brief.\n", reason="style")
    agent = MemoryOperations(repo, AGENT, actor="agent")
    agent.rename("reference/style.md", "reference/writing.md", reason="rename")
    assert "[[reference/style]]" in repo.read("notes/persona.md").text
    assert repo.read("reference/writing.md") is not None
