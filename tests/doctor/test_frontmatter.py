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


def test_yaml_error_is_reported_at_its_line():
    (f,) = findings_for("---\ndescription: fine\ntags: [a, b\nother: 1\n---\nBody\n")
    assert f.code == "frontmatter-invalid"
    assert f.line in (2, 3)
    assert "YAML" in f.message


def test_colon_in_a_plain_description_is_a_yaml_error():
    (f,) = findings_for("---\ndescription: Notes: the build\n---\nBody\n")
    assert f.code == "frontmatter-invalid" and "quote" in f.message


def test_wrong_types_each_get_a_finding_at_their_key():
    found = findings_for("---\ndescription: ok\nread_only: sometimes\nlimit: 0\n---\nBody\n")
    assert [(f.code, f.line) for f in found] == [("frontmatter-invalid", 2), ("frontmatter-invalid", 3)]
    assert "true or false" in found[0].message and "positive" in found[1].message


def test_non_text_description_is_invalid_not_missing():
    (f,) = findings_for("---\ndescription: 42\n---\nBody\n")
    assert (f.code, f.line) == ("frontmatter-invalid", 1)
    (f,) = findings_for("---\ndescription:\n  - a\n  - b\n---\nBody\n")
    assert f.code == "frontmatter-invalid"


def test_description_absent_or_empty():
    (f,) = findings_for("---\nread_only: true\n---\n## Rotation schedule\n")
    assert (f.code, f.line) == ("description-missing", 0)
    assert f.fix is not None and f.fix.data == {"description": "Rotation schedule"}
    (f,) = findings_for("---\ndescription: '   '\nlimit: 100\n---\nFirst line of the body.\n")
    assert (f.code, f.line) == ("description-missing", 1)
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


def test_crlf_and_bom_files_are_fine():
    assert findings_for("\ufeff---\r\ndescription: Windows file\r\n---\r\nBody\r\n") == []


def test_skill_files_and_skill_assets_are_not_memory_files():
    assert findings_for("# Reference without frontmatter\n", "skills/release-notes/references/api.md") == []
    assert findings_for("plain text\n", "skills/release-notes/templates/note.md") == []


def test_unknown_keys_are_fine():
    assert findings_for("---\ndescription: ok\nowner: zoë\ntags: [a, b]\n---\nBody\n") == []


def test_line_numbers_follow_the_editor_with_unusual_line_separators():
    # U+2028 is a line break for str.splitlines() but not for an editor
    (f,) = findings_for("---\nowner: a\u2028b\nread_only: nope\ndescription: ok\n---\nBody\n")
    assert (f.code, f.line) == ("frontmatter-invalid", 2)
