"""Compiling the memory section for a new ``HEAD`` that changed one file does per-file work only for that file
(issue 14: a chat turn that writes memory recompiles on every step, so its cost must not grow with the memory)."""

from __future__ import annotations

import pytest

from letta_ls.memfs.compile import clear_compile_cache, compile_memory
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot
from letta_ls.secret_scan import scan as scan_module
from tests.memfs.compile_memories import Calls, notes_memory


def test_a_new_head_with_one_new_file_scans_and_describes_only_that_file(monkeypatch: pytest.MonkeyPatch):
    clear_compile_cache()
    files = notes_memory(300)
    first = compile_memory(MemorySnapshot.from_mapping(files, head="1" * 40))
    secrets = Calls(scan_module._find_spans)  # every find_secrets call that scans something
    parsed: list[str] = []  # the files whose frontmatter is read
    document = MemoryFile.document

    def reading(file: MemoryFile):
        parsed.append(file.path)
        return document.fget(file)

    monkeypatch.setattr(scan_module, "_find_spans", secrets)
    monkeypatch.setattr(MemoryFile, "document", property(reading))
    files["reference/chat/new.md"] = "---\ndescription: The new note.\n---\nThe build uses two workers.\n"
    second = compile_memory(MemorySnapshot.from_mapping(files, head="2" * 40))
    assert "new.md (The new note.)" in second.text or "The new note." in second.text
    assert second.text != first.text
    assert secrets.count <= 1
    assert set(parsed) <= {"reference/chat/new.md", "system/persona.md"}


def test_a_secret_in_a_new_file_name_is_still_left_out():
    clear_compile_cache()
    files = notes_memory(20)
    compile_memory(MemorySnapshot.from_mapping(files, head="3" * 40))
    key = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7n"
    files[f"reference/{key}.md"] = "---\ndescription: Oops.\n---\nBody.\n"
    compiled = compile_memory(MemorySnapshot.from_mapping(files, head="4" * 40))
    assert key not in compiled.text
