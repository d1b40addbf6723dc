"""The memory section of a new ``HEAD`` is built from the previous one's: only the changed files' lines are
redrawn (issue 14: on a 2,000-file memory the external tree of ~1,900 paths was rebuilt and redrawn on every
step of a turn that wrote memory), and the result is always the section a fresh build makes."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.memfs import compile as compile_module
from letta_ls.memfs import tree as tree_module
from letta_ls.memfs.compile import clear_compile_cache, compile_memory
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tree import ENV_MAX_CHARS, ENV_MAX_CHILDREN, ENV_MAX_LINES, tree_limits
from tests.memfs.compile_memories import Calls, notes_memory


def test_a_new_head_with_one_new_file_redraws_only_that_file(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_compile_cache()
    files = notes_memory(600, {"system/human.md": "---\ndescription: The user.\n---\nDana.\n"})
    compile_memory(MemorySnapshot.from_mapping(files, head="1" * 40))
    tiers = Calls(MemorySnapshot.tier)
    sort_keys = Calls(tree_module.name_sort_key)
    one_lines = Calls(tree_module.one_line)
    monkeypatch.setattr(MemorySnapshot, "tier", lambda self, path: tiers(self, path))
    monkeypatch.setattr(tree_module, "name_sort_key", sort_keys)
    monkeypatch.setattr(tree_module, "one_line", one_lines)
    files["reference/chat/new.md"] = "---\ndescription: The new note.\n---\nThe build uses two workers.\n"
    snapshot = MemorySnapshot.from_mapping(files, head="2" * 40)
    second = compile_memory(snapshot)
    assert "chat/" in second.text and "new.md (The new note.)" in second.text
    asked = {args[1] for args in tiers.args}
    assert asked <= {"reference/chat/new.md"}, f"{len(asked)} paths classified again"
    assert len(sort_keys.args) <= 40, f"{len(sort_keys.args)} names sorted again"
    assert len(one_lines.args) <= 4, f"{len(one_lines.args)} descriptions redrawn"
    monkeypatch.undo()
    assert second.text == compile_module._render(snapshot, tree_limits()).text


# ---------------------------------------------------------------- random histories

_PATHS = ["system/persona.md", "system/human.md", "system/project/gotchas.md", "system/project/deep/x.md",
          "system/.hidden.md", "system/data.json", "persona.md", "MEMORY.md", "notes.md", "reference/api.md",
          "reference/MEMORY.md", "reference/deep/MEMORY.md", "reference/deep/y.md", "reference/deep/z.txt",
          "reference/a.md", "reference/b.md", "reference/c.md", "Reference/B.md", "notes/2024/q1.md",
          "notes/my notes.md", "skills/deploy/SKILL.md", "skills/flat.md", ".memfs.config.json", ".obsidian/x.md",
          "reference/sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7n.md", "a/b/c/d.md", "a/b/e.md", "a/f.md"]
_CONTENTS = ["---\ndescription: One line.\n---\nBody.\n", "---\ndescription: Two\n  lines\n---\n\n\nBody\r\n",
             "no frontmatter at all\n", "---\ndescription: [broken\n---\nx\n", "---\n---\n", "",
             b"\xff\xfe binary \x00", "---\ndescription: Other.\n---\nAnother body.\n/usr/bin\n"]
_STEP = st.tuples(st.sampled_from(_PATHS), st.one_of(st.none(), st.sampled_from(range(len(_CONTENTS)))))
_HISTORY = st.lists(st.lists(_STEP, min_size=1, max_size=4), min_size=1, max_size=12)
_LIMITS = st.sampled_from([{}, {ENV_MAX_CHILDREN: "2"}, {ENV_MAX_LINES: "6"}, {ENV_MAX_CHARS: "200"},
                           {ENV_MAX_CHILDREN: "1", ENV_MAX_LINES: "5"}])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(_PATHS), st.sampled_from(range(len(_CONTENTS))), max_size=12), _HISTORY,
       _LIMITS)
def test_the_section_kept_between_heads_is_a_fresh_build(start, history, limits) -> None:
    saved = {name: os.environ.pop(name, None) for name in (ENV_MAX_LINES, ENV_MAX_CHARS, ENV_MAX_CHILDREN)}
    os.environ.update(limits)
    try:
        files: dict[str, str | bytes] = {path: _CONTENTS[index] for path, index in start.items()}
        for number, commit in enumerate(history):
            for path, index in commit:
                if index is None:
                    files.pop(path, None)
                else:
                    files[path] = _CONTENTS[index]
            snapshot = MemorySnapshot.from_mapping(files, head=f"{number + 1:040x}")
            assert compile_memory(snapshot) == compile_module._render(snapshot, tree_limits())
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
