"""Frontmatter checks: missing block, invalid block or key types, missing or multi-line description."""

from __future__ import annotations

from letta_ls.doctor import audit
from letta_ls.memfs.snapshot import MemorySnapshot
from tests.doctor.memory_fixtures import HEALTHY

PATH = "reference/notes.md"


def findings_for(text: str | bytes, path: str = PATH):
    snap = MemorySnapshot.from_mapping({**HEALTHY, path: text})
    return [f for f in audit(snap).findings if f.path == path]


def test_missing_block_offers_a_block_with_a_description_from_the_heading():
    (f,) = findings_for("# Café — 日本語 deploy notes\n\nSome text.\n")
    assert (f.code, f.severity, f.line) == ("frontmatter-missing", "error", 0)
    assert f.fix is not None and f.fix.kind == "add-description"
    assert f.fix.data == {"description": "Café — 日本語 deploy notes", "create_block": True}


def test_missing_block_on_an_empty_file_has_no_fix():
    (f,) = findings_for("")
    assert f.code == "frontmatter-missing" and f.fix is None


def test_unclosed_block():
    (f,) = findings_for("---\ndescription: never closed\nbody text\n")
    assert (f.code, f.line) == ("frontmatter-invalid", 0)
    assert "never closed" in f.message


def test_unknown_keys_are_refused_by_letta_code_at_their_line():
    found = findings_for("---\ndescription: fine\ntags: [a, b\nother: 1\n---\nBody\n")
    assert [(f.code, f.severity, f.line) for f in found] == [
        ("frontmatter-invalid", "error", 2), ("frontmatter-invalid", "error", 3)]
    assert all(f.message.startswith("Letta Code will refuse to commit this: unknown frontmatter key") for f in found)
    (f,) = findings_for("---\nname: notes\ndescription: Notes\n---\nBody\n", "system/notes.md")
    assert "unknown frontmatter key 'name'" in f.message and "only skills" in f.message


def test_values_letta_code_accepts_are_not_findings():
    for block in ("description: Notes: the build", "description: `pnpm` workspace", "description: ok\nlimit: legacy",
                  "description: ok\nlimit: 0", 'description: "quoted" then text', "description: 42",
                  "description: wraps\n  onto two lines"):
        found = [f for f in findings_for(f"---\n{block}\n---\nBody\n") if f.code != "description-multiline"]
        assert found == [], block


def test_a_list_description_is_refused():
    (f,) = findings_for("---\ndescription:\n  - a\n  - b\n---\nBody\n")
    assert (f.code, f.severity) == ("description-missing", "error") and "must not be empty" in f.message


def test_description_absent_or_empty():
    (f,) = findings_for("---\nlimit: 100\n---\n## Rotation schedule\n")
    assert (f.code, f.severity, f.line) == ("description-missing", "error", 0)
    assert f.fix is not None and f.fix.data == {"description": "Rotation schedule"}
    # Letta Code accepts a quoted blank description: the agent still sees none, so a warning
    (f,) = findings_for("---\ndescription: '   '\nlimit: 100\n---\nFirst line of the body.\n")
    assert (f.code, f.severity, f.line) == ("description-missing", "warning", 1)
    assert f.fix is not None and f.fix.data == {"description": "First line of the body."}
    (f,) = findings_for("---\ndescription:\n---\n")
    assert f.code == "description-missing" and f.fix is None


def test_derived_description_is_trimmed_to_one_short_line():
    long_line = "word " * 60
    (f,) = findings_for(f"---\nlimit: 100\n---\n{long_line}\n")
    description = f.fix.data["description"]
    assert len(description) <= 101 and description.endswith("…") and "\n" not in description


def test_multiline_descriptions():
    for text in (
        "---\ndescription: |\n  first\n  second\n---\nBody\n",
        "---\ndescription: >\n  folded into one\n---\nBody\n",
        "---\ndescription: a plain scalar\n  continued on the next line\n---\nBody\n",
        '---\ndescription: "quoted\\nwith an escape"\n---\nBody\n',
    ):
        (f,) = findings_for(text)
        assert (f.code, f.severity, f.line) == ("description-multiline", "warning", 1), text
        assert f.fix is not None and f.fix.kind == "join-description"
        assert "\n" not in f.fix.data["description"]


def test_crlf_bom_and_fence_spaces_are_refused_with_a_fix_and_fine_elsewhere():
    for text, why in (("\ufeff---\r\ndescription: Windows file\r\n---\r\nBody\r\n", "byte order mark"),
                      ("---\r\ndescription: Windows file\r\n---\r\nBody\r\n", "CRLF"),
                      ("--- \ndescription: x\n---\nBody\n", "spaces after the opening")):
        (f,) = findings_for(text)
        assert (f.code, f.severity) == ("frontmatter-invalid", "error") and why in f.message, text
        assert f.message.startswith("Letta Code will refuse to commit this") and f.fix.kind == "normalize-frontmatter"
        assert findings_for(text, "notes/windows.md") == []
    (f,) = findings_for("---\ndescription: x\n--- \nBody\n")
    assert "never closed" in f.message and f.fix.kind == "normalize-frontmatter"


def test_skill_files_and_skill_assets_are_not_memory_files():
    assert findings_for("# Reference without frontmatter\n", "skills/release-notes/references/api.md") == []
    assert findings_for("plain text\n", "skills/release-notes/templates/note.md") == []


def test_unknown_keys_are_fine_where_letta_code_does_not_check():
    assert findings_for("---\ndescription: ok\nowner: zoë\ntags: [a, b]\n---\nBody\n", "notes/x.md") == []


def test_line_numbers_follow_the_editor_with_unusual_line_separators():
    # U+2028 is a line break for str.splitlines() but not for an editor (nor for Letta Code's hook)
    (f,) = findings_for("---\nowner: a\u2028b\ndescription: ok\n---\nBody\n")
    assert (f.code, f.line) == ("frontmatter-invalid", 1)
