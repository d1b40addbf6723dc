"""Which notes ``memory-stale`` judges, kept across edits: typing in a note re-reads that note only, while an
edit that makes (or unmakes) a project overview moves notes in or out of scope at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_ls.memfs.operations import MemoryOperations
from letta_ls.staleness import scope as scope_module
from letta_ls.staleness.check import StaleChecker
from letta_ls.staleness.workspace import load_workspace
from tests.conftest import AGENT
from tests.staleness.corpus import make_workspace

OTHER_OVERVIEW = "system/project/other.md"
OTHER_NOTE = "reference/other/layout.md"


@pytest.fixture
def checked(repo, tmp_path: Path):
    """A checker for a workspace, a memory with a general note and another project's note (both naming a file
    that does not exist here), judged once over the committed memory."""
    root = tmp_path / "workspace"
    make_workspace(root)
    ops = MemoryOperations(repo, AGENT, actor="user")
    ops.create("notes/general.md", "General notes", "Router: `src/app/router.py`.\n", reason="notes")
    ops.create(OTHER_OVERVIEW, "What other is",
               f"# other\n\n- Folder: `{tmp_path / 'elsewhere'}`.\n- Layout: [[reference/other/layout]]\n",
               reason="init")
    ops.create(OTHER_NOTE, "Layout of other", "Entry: `src/app/router.py`.\n", reason="init")
    snap = repo.snapshot()
    checker = StaleChecker(load_workspace(root))
    assert {f.path for f in checker.findings(snap)} == {"notes/general.md"}
    return checker, snap


def test_typing_in_a_note_does_not_read_every_overview_again(checked, monkeypatch):
    checker, snap = checked
    reads = []
    real = scope_module.project_records
    monkeypatch.setattr(scope_module, "project_records", lambda s: reads.append(1) or real(s))
    for i in range(5):
        edited = snap.with_text("notes/general.md",
                                f"---\ndescription: General notes\n---\nRouter: `src/app/router.py` ({i}).\n")
        assert [f.line for f in checker.findings(edited, ["notes/general.md"])] == [3]
        assert checker.findings(edited, [OTHER_NOTE]) == []  # still another project's
    assert reads == []


def test_an_edit_to_an_overview_moves_its_notes_in_or_out_of_scope(checked):
    checker, snap = checked
    # the other project's overview no longer names its folder: its notes are this workspace's again
    plain = snap.with_text(OTHER_OVERVIEW, "---\ndescription: What other is\n---\n# other\n")
    assert {f.path for f in checker.findings(plain, [OTHER_NOTE])} == {OTHER_NOTE}
    # the general note becomes an overview of another folder: it and what it links to leave the scope
    made = snap.with_text("notes/general.md", "---\ndescription: General notes\n---\n- Folder: `/elsewhere`.\n"
                          "Router: `src/app/router.py`.\n")
    assert checker.findings(made, ["notes/general.md"]) == []
    # back to the committed memory: as it was
    assert {f.path for f in checker.findings(snap)} == {"notes/general.md"}


def test_a_new_note_in_the_buffer_only_is_judged_too(checked):
    checker, snap = checked
    added = snap.with_text("notes/new.md", "---\ndescription: New\n---\nSee `src/app/router.py`.\n")
    assert [f.path for f in checker.findings(added, ["notes/new.md"])] == ["notes/new.md"]
