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


# --- the invariant, over generated memories ---------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from letta_ls.memfs.links import link_spans, resolve_markdown, resolve_wiki, retarget_after_move  # noqa: E402
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot  # noqa: E402

_NAMES = st.sampled_from(["system", "reference", "notes", "skills/deploy", "reference/http", "archive"])
_FILES = st.builds(lambda folder, stem: f"{folder}/{stem}.md", _NAMES, st.sampled_from(["a", "b", "api", "db"]))


def _snapshot(texts: dict[str, str]) -> MemorySnapshot:
    files = {p: MemoryFile(p, f"blob-{i}-{hash(t)}", t.encode()) for i, (p, t) in enumerate(sorted(texts.items()))}
    return MemorySnapshot(None, files)


def _targets(snapshot: MemorySnapshot) -> dict[tuple[str, int], str | None]:
    """Each link (file, ordinal) → what it resolves to."""
    out = {}
    for file in snapshot:
        for n, link in enumerate(link_spans(file.text)):
            resolve = resolve_wiki if link.kind == "wiki" else resolve_markdown
            out[(file.path, n)] = resolve(frozenset(snapshot.files), snapshot.folders, link.target, file.path)
    return out


@st.composite
def memories(draw):
    paths = draw(st.lists(_FILES, min_size=2, max_size=7, unique=True))
    texts = {}
    for path in paths:
        lines = []
        for other in draw(st.lists(st.sampled_from(paths), max_size=4)):
            style = draw(st.sampled_from(["wiki", "wiki-bare", "md-rel", "md-root"]))
            if style == "wiki":
                lines.append(f"see [[{other}]]")
            elif style == "wiki-bare":
                lines.append(f"see [[{other.removesuffix('.md')}|label]]")
            elif style == "md-root":
                lines.append(f"see [x](/{other})")
            else:
                import posixpath
                lines.append(f"see [x]({posixpath.relpath(other, posixpath.dirname(path))})")
        texts[path] = "---\ndescription: d\n---\n" + "\n".join(lines) + "\n"
    source = draw(st.one_of(st.sampled_from(paths), st.sampled_from(sorted({p.rsplit("/", 1)[0] for p in paths}))))
    dest = draw(st.sampled_from(["moved", "archive/old", "reference/http/deeper", "x/y/z"]))
    if source.endswith(".md"):
        dest += ".md"
    return texts, source, dest


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memories())
def test_after_any_move_every_link_reaches_the_same_file_it_reached_before(case):
    texts, src, dst = case
    before = _snapshot(texts)
    if any(p == dst or p.startswith(dst + "/") for p in before.files):
        return  # the operation refuses a move onto an existing name

    def moved(path):
        return dst + path[len(src):] if path == src or path.startswith(src + "/") else path

    after_texts = {moved(p): t for p, t in texts.items()}
    after_texts.update(retarget_after_move(before, src, dst))
    after = _snapshot(after_texts)
    old_targets = _targets(before)
    new_targets = _targets(after)
    for (path, n), target in old_targets.items():
        if target is not None:
            assert new_targets[(moved(path), n)] == moved(target), (path, n, texts[path], after_texts[moved(path)])
