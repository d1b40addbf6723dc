"""Structural checks: persona-missing, name-clash, skill-flat-file, skill-invalid, not-text."""

from __future__ import annotations

from letta_ls.doctor import audit
from letta_ls.memfs.snapshot import MemorySnapshot
from tests.doctor.memory_fixtures import HEALTHY, PNG


def run(files: dict[str, str | bytes], remove: tuple[str, ...] = ()):
    merged = {**HEALTHY, **files}
    for path in remove:
        merged.pop(path)
    return audit(MemorySnapshot.from_mapping(merged)).findings


def test_persona_missing_even_when_persona_folder_exists():
    found = run({"system/persona/voice.md": "---\ndescription: How I talk.\n---\nPlainly.\n"},
                remove=("system/persona.md",))
    assert [(f.code, f.path, f.line) for f in found] == [("persona-missing", "system/persona.md", 0)]
    assert "identity" in found[0].message


def test_name_clash_is_reported_on_the_file():
    found = run({"system/human/work.md": "---\ndescription: The user's work.\n---\nPayments.\n"})
    assert [(f.code, f.path) for f in found] == [("name-clash", "system/human.md")]
    assert "system/human/" in found[0].message


def test_no_clash_between_a_folder_and_a_non_markdown_file():
    assert run({"reference/diagram.png": PNG, "reference/diagram/notes.md": "---\ndescription: d\n---\nx\n"}) == []


def test_flat_skill_file_offers_a_move_into_a_folder():
    (f,) = run({"skills/triage.md": "---\ndescription: Triage bugs.\n---\nSteps.\n"})
    assert (f.code, f.path) == ("skill-flat-file", "skills/triage.md")
    assert f.fix is not None and f.fix.kind == "skill-to-folder"
    assert f.fix.data == {"target": "skills/triage/SKILL.md", "name": "triage"}


def test_flat_skill_file_has_no_fix_when_the_folder_skill_exists():
    found = run({"skills/release-notes.md": "---\ndescription: dup\n---\nx\n"})
    assert sorted(f.code for f in found) == ["name-clash", "skill-flat-file"]  # it also sits beside the folder
    assert all(f.fix is None for f in found)


def test_flat_non_markdown_file_under_skills():
    (f,) = run({"skills/run.sh": "#!/bin/sh\necho hi\n"})
    assert f.code == "skill-flat-file" and f.fix is None


def test_skill_without_name_is_fine_letta_code_names_it_after_its_folder():
    assert run({"skills/triage/SKILL.md": "---\ndescription: Triage incoming bugs.\n---\nSteps.\n"}) == []


def test_skill_without_description_derives_one():
    (f,) = run({"skills/triage/SKILL.md": "---\nname: triage\n---\n# Triage incoming bugs\n"})
    assert f.code == "skill-invalid"
    assert f.fix is not None and f.fix.kind == "add-description"
    assert f.fix.data == {"description": "Triage incoming bugs"}


def test_skill_without_frontmatter():
    (f,) = run({"skills/triage/SKILL.md": "# Triage incoming bugs\n\n1. Reproduce.\n"})
    assert f.code == "skill-invalid" and "no frontmatter" in f.message
    assert f.fix is not None and f.fix.data == {"name": "triage", "description": "Triage incoming bugs"}


def test_skill_with_an_unclosed_block_has_no_fix():
    (f,) = run({"skills/triage/SKILL.md": "---\nname: triage\nx\n"})
    assert (f.code, f.severity) == ("skill-invalid", "warning") and f.fix is None


def test_skill_with_a_list_description():
    (f,) = run({"skills/triage/SKILL.md": "---\nname: triage\ndescription:\n  - a\n---\nx\n"})
    assert (f.code, f.line) == ("skill-invalid", 2) and f.fix is None


def test_nested_skill_ids_are_skills():
    assert run({"skills/web/scraper/SKILL.md": "---\nname: scraper\ndescription: Scrape pages.\n---\nx\n"}) == []


def test_skill_folder_without_skill_md():
    (f,) = run({"skills/orphan/references/api.md": "# API\n"})
    assert (f.code, f.path) == ("skill-invalid", "skills/orphan/references/api.md")
    assert "skills/orphan/" in f.message


def test_not_text_files():
    found = run({"reference/notes.md": "---\ndescription: d\n---\nbad \udcff".encode("utf-8", "surrogateescape"),
                 "reference/tool.bin": b"\x00\x01\x02"})
    assert [(f.code, f.path) for f in found] == [("not-text", "reference/notes.md"), ("not-text", "reference/tool.bin")]
    assert "UTF-8" in found[0].message and "NUL" in found[1].message


def test_known_binary_assets_are_fine():
    assert run({"avatar.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF", "docs/spec.pdf": b"%PDF-1.7\n\x00\xff"}) == []
