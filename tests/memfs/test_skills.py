import os
from pathlib import Path

import pytest

from letta_ls.memfs.skills import (
    NO_DESCRIPTION,
    Skill,
    SkillUnavailableError,
    discover_skills,
    find_skill,
    read_skill,
)
from letta_ls.memfs.snapshot import MemorySnapshot


def skill_md(name: str | None = None, description: str | None = None, body: str = "Body.\n", **extra) -> str:
    lines = ["---"]
    if name is not None:
        lines.append(f"name: {name}")
    if description is not None:
        lines.append(f"description: {description}")
    lines += [f"{k}: {v}" for k, v in extra.items()]
    lines.append("---")
    return "\n".join(lines) + "\n" + body


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def by_id(skills: list[Skill]) -> dict[str, Skill]:
    return {s.id: s for s in skills}


EMPTY = MemorySnapshot.from_mapping({})
AGENT_IDS = ("shared", "review", "deploy")


def test_memory_skills_are_found_with_their_memory_path():
    snap = MemorySnapshot.from_mapping(
        {
            "skills/pdf/SKILL.md": skill_md("pdf", "Read and write PDFs"),
            "skills/pdf/scripts/extract.py": "print()\n",
            "system/persona.md": "---\ndescription: me\n---\n",
        }
    )
    [skill] = discover_skills(snap, project_dirs=[], global_dir=None)
    assert skill == Skill(
        id="pdf", name="pdf", description="Read and write PDFs", path=None, source="agent",
        memory_path="skills/pdf/SKILL.md", when_to_use=None, root="${MEMORY_DIR}/skills",
    )
    assert skill.location == "$MEMORY_DIR/skills/pdf/SKILL.md"
    [with_dir] = discover_skills(snap, project_dirs=[], global_dir=None, memory_dir=Path("/mem"))
    assert with_dir.path == Path("/mem/skills/pdf/SKILL.md")


def test_later_sources_override_earlier_ones_by_id(tmp_path):
    bundled, global_dir, ws = tmp_path / "bundled", tmp_path / "global", tmp_path / "ws"
    for root, label in ((bundled, "bundled"), (global_dir, "global")):
        for sid in ("shared", "review", "deploy", "lint", "only-" + label):
            write(root, f"{sid}/SKILL.md", skill_md(description=f"{sid} from {label}"))
    snap = MemorySnapshot.from_mapping(
        {f"skills/{s}/SKILL.md": skill_md(description=f"{s} from agent") for s in AGENT_IDS}
    )
    write(ws, ".skills/shared/SKILL.md", skill_md(description="shared from legacy project"))
    write(ws, ".skills/review/SKILL.md", skill_md(description="review from legacy project"))
    write(ws, ".agents/skills/shared/SKILL.md", skill_md(description="shared from project"))

    skills = discover_skills(snap, project_dirs=[ws], global_dir=global_dir, bundled_dir=bundled)
    found = {s.id: (s.source, s.description) for s in skills}
    assert found == {
        "deploy": ("agent", "deploy from agent"),
        "lint": ("global", "lint from global"),
        "only-bundled": ("bundled", "only-bundled from bundled"),
        "only-global": ("global", "only-global from global"),
        "review": ("project", "review from legacy project"),
        "shared": ("project", "shared from project"),
    }
    assert [s.id for s in skills] == sorted(found)
    assert by_id(skills)["shared"].path == ws / ".agents/skills/shared/SKILL.md"
    assert by_id(skills)["shared"].root == str(ws / ".agents/skills")


def test_with_several_workspace_folders_the_later_one_wins(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write(a, ".agents/skills/x/SKILL.md", skill_md(description="from a"))
    write(b, ".skills/x/SKILL.md", skill_md(description="from b"))
    [skill] = discover_skills(EMPTY, project_dirs=[a, b], global_dir=None)
    assert skill.description == "from b"


def test_nested_folders_give_nested_ids(tmp_path):
    write(tmp_path, "web/scraper/SKILL.md", skill_md("scraper", "Scrape pages"))
    write(tmp_path, "web/SKILL.md", skill_md("web", "Web things"))
    snap = MemorySnapshot.from_mapping({"skills/data/etl/daily-load/SKILL.md": skill_md(description="ETL")})
    skills = discover_skills(snap, project_dirs=[], global_dir=tmp_path)
    assert [s.id for s in skills] == ["data/etl/daily-load", "web", "web/scraper"]
    assert by_id(skills)["data/etl/daily-load"].name == "Daily Load"


def test_name_falls_back_to_title_then_to_the_id_title_cased():
    snap = MemorySnapshot.from_mapping(
        {
            "skills/a/SKILL.md": skill_md(description="d", title="Titled Skill"),
            "skills/b/SKILL.md": skill_md("Named", "d", title="ignored"),
            "skills/web/data-scraper/SKILL.md": skill_md(description="d"),
            "skills/snake_case/SKILL.md": skill_md(description="d"),
        }
    )
    names = {s.id: s.name for s in discover_skills(snap, project_dirs=[], global_dir=None)}
    assert names == {
        "a": "Titled Skill", "b": "Named", "web/data-scraper": "Data Scraper", "snake_case": "Snake Case",
    }


def test_description_falls_back_to_the_first_paragraph_of_the_body():
    snap = MemorySnapshot.from_mapping(
        {
            "skills/a/SKILL.md": skill_md("a", body="# Title\n\nFirst paragraph\nstill first.\n\nSecond.\n"),
            "skills/b/SKILL.md": skill_md("b", body="\n\n"),
            "skills/c/SKILL.md": "No frontmatter at all.\n\nMore.\n",
            "skills/d/SKILL.md": skill_md("d", "'quoted twice'".join(['"', '"'])),
        }
    )
    found = {s.id: s.description for s in discover_skills(snap, project_dirs=[], global_dir=None)}
    assert found["a"] == "First paragraph\nstill first."
    assert found["b"] == NO_DESCRIPTION
    assert found["c"] == "No frontmatter at all."
    assert found["d"] == "quoted twice"  # surrounding quotes left inside the YAML string are dropped


def test_when_to_use_is_kept_and_appended_to_the_summary():
    snap = MemorySnapshot.from_mapping(
        {
            "skills/rel/SKILL.md": skill_md(
                "rel", "|\n  Cut a release\n  with details below", when_to_use="shipping a version"
            )
        }
    )
    [skill] = discover_skills(snap, project_dirs=[], global_dir=None)
    assert skill.when_to_use == "shipping a version"
    assert skill.summary == "Cut a release When to use: shipping a version"


def test_skill_file_name_is_matched_case_insensitively(tmp_path):
    write(tmp_path, "lower/skill.md", skill_md(description="lower"))
    write(tmp_path, "mixed/Skill.MD", skill_md(description="mixed"))
    write(tmp_path, "other/README.md", skill_md(description="not a skill"))
    snap = MemorySnapshot.from_mapping({"skills/mem/skill.md": skill_md(description="memory")})
    skills = by_id(discover_skills(snap, project_dirs=[], global_dir=tmp_path))
    assert set(skills) == {"lower", "mixed", "mem"}
    assert skills["mixed"].filename == "Skill.MD"
    assert skills["mem"].memory_path == "skills/mem/skill.md"


def test_flat_files_hidden_folders_and_non_text_files_are_not_skills(tmp_path):
    write(tmp_path, "SKILL.md", skill_md(description="flat"))
    write(tmp_path, ".cache/x/SKILL.md", skill_md(description="hidden"))
    write(tmp_path, "binary/SKILL.md", b"\xff\xfe\x00garbage")
    write(tmp_path, "ok/SKILL.md", skill_md(description="ok"))
    snap = MemorySnapshot.from_mapping(
        {
            "skills/SKILL.md": skill_md(description="flat in memory"),
            "skills/notes.md": "---\ndescription: flat\n---\n",
            "skills/.hidden/SKILL.md": skill_md(description="hidden"),
            "skills/latin/SKILL.md": "---\ndescription: café\n---\n".encode("latin-1"),
            "reference/SKILL.md": skill_md(description="not under skills/"),
        }
    )
    assert [s.id for s in discover_skills(snap, project_dirs=[], global_dir=tmp_path)] == ["ok"]


def test_broken_frontmatter_still_gives_a_usable_skill():
    snap = MemorySnapshot.from_mapping({"skills/odd/SKILL.md": "---\nname: [broken\n---\nDoes odd things.\n"})
    [skill] = discover_skills(snap, project_dirs=[], global_dir=None)
    assert skill.name == "[broken"  # what Letta Code reads; the frontmatter never reaches the description
    assert skill.description == "Does odd things."


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_symlinked_skills_are_followed_and_link_cycles_end(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere, "linked/SKILL.md", skill_md(description="through a link"))
    root = tmp_path / "skills"
    write(root, "real/SKILL.md", skill_md(description="real"))
    (root / "linked").symlink_to(elsewhere / "linked", target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "missing", target_is_directory=True)
    skills = by_id(discover_skills(EMPTY, project_dirs=[], global_dir=root))
    assert set(skills) == {"linked", "real"}
    assert skills["linked"].description == "through a link"


def test_missing_source_folders_are_simply_empty(tmp_path):
    assert discover_skills(EMPTY, project_dirs=[tmp_path / "nope"], global_dir=tmp_path / "none") == []


def test_read_skill_from_memory_gives_the_body_and_the_folder_listing():
    snap = MemorySnapshot.from_mapping(
        {
            "skills/pdf/SKILL.md": skill_md("pdf", "Read PDFs", body="\nRun `scripts/extract.py FILE`.\n",
                                            when_to_use="a PDF is attached"),
            "skills/pdf/scripts/extract.py": "print()\n",
            "skills/pdf/references/format.md": "---\ndescription: The PDF format\n---\n",
            "skills/pdfx/SKILL.md": skill_md("pdfx", "Not this one"),
        }
    )
    skill = find_skill(discover_skills(snap, project_dirs=[], global_dir=None), "pdf")
    assert read_skill(skill, snap) == (
        "Skill `pdf`: pdf (agent) — $MEMORY_DIR/skills/pdf/SKILL.md\n"
        "\n"
        "When to use: a PDF is attached\n"
        "\n"
        "Run `scripts/extract.py FILE`.\n"
        "\n"
        "Files in the skill folder (paths in SKILL.md are relative to it):\n"
        "$MEMORY_DIR/skills/pdf/\n"
        "├── references/\n"
        "│   └── format.md (The PDF format)\n"
        "├── scripts/\n"
        "│   └── extract.py\n"
        "└── SKILL.md (Read PDFs)"
    )


def test_read_skill_from_disk_lists_the_folder(tmp_path):
    ws = tmp_path / "ws"
    write(ws, ".agents/skills/deploy/SKILL.md", skill_md("deploy", "Ship it", body="Steps here.\n"))
    write(ws, ".agents/skills/deploy/run.sh", "echo\n")
    write(ws, ".agents/skills/deploy/.secret", "x\n")
    [skill] = discover_skills(EMPTY, project_dirs=[ws], global_dir=None)
    text = read_skill(skill, EMPTY)
    folder = ws / ".agents/skills/deploy"
    assert text.startswith(f"Skill `deploy`: deploy (project) — {folder / 'SKILL.md'}\n\nSteps here.\n\n")
    assert text.endswith(f"{folder}/\n├── run.sh\n└── SKILL.md")


def test_read_skill_reports_a_skill_that_is_gone(tmp_path):
    snap = MemorySnapshot.from_mapping({"skills/pdf/SKILL.md": skill_md("pdf", "PDFs")})
    [skill] = discover_skills(snap, project_dirs=[], global_dir=None)
    with pytest.raises(SkillUnavailableError, match="no longer exists"):
        read_skill(skill, EMPTY)
    path = write(tmp_path, "x/SKILL.md", skill_md("x", "X"))
    [disk] = discover_skills(EMPTY, project_dirs=[], global_dir=tmp_path)
    path.unlink()
    with pytest.raises(SkillUnavailableError, match="cannot read"):
        read_skill(disk, EMPTY)


def test_find_skill_by_id_then_name_then_ignoring_case():
    skills = [
        Skill("web/scraper", "Scraper", "d", None, "project"),
        Skill("pdf", "PDF Tools", "d", None, "agent"),
    ]
    assert find_skill(skills, "web/scraper").id == "web/scraper"
    assert find_skill(skills, "PDF Tools").id == "pdf"
    assert find_skill(skills, "scraper").id == "web/scraper"
    assert find_skill(skills, " PDF/ ").id == "pdf"
    assert find_skill(skills, "missing") is None


# ---------------------------------------------------------------------------------------------- caching
# Discovery runs on every step of every turn, so parses are cached; these pin that a change is always seen.


def test_an_edit_that_keeps_the_size_is_seen_at_once(tmp_path):
    path = write(tmp_path, "deploy/SKILL.md", skill_md("deploy", "Ship a release"))
    assert discover_skills(EMPTY, project_dirs=[], global_dir=tmp_path)[0].description == "Ship a release"
    stat = path.stat()
    path.write_text(skill_md("deploy", "Ship a hotfix!"), encoding="utf-8")  # same size, same second
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old modification time
    assert path.stat().st_size == stat.st_size
    assert discover_skills(EMPTY, project_dirs=[], global_dir=tmp_path)[0].description == "Ship a hotfix!"


def test_unchanged_skill_files_are_parsed_once_and_changes_are_seen(tmp_path, monkeypatch):
    from letta_ls.memfs import skills as skills_module

    monkeypatch.setattr(skills_module, "RACY_SECONDS", -1.0)  # trust every stat at once (files here are new)
    parsed = []
    real = skills_module.skill_from_text
    monkeypatch.setattr(skills_module, "skill_from_text", lambda text, **kw: parsed.append(kw["skill_id"]) or real(
        text, **kw))
    deploy = write(tmp_path, "deploy/SKILL.md", skill_md("deploy", "Ship a release"))
    write(tmp_path, "review/SKILL.md", skill_md("review", "Review a change"))
    first = discover_skills(EMPTY, project_dirs=[], global_dir=tmp_path)
    assert discover_skills(EMPTY, project_dirs=[], global_dir=tmp_path) == first
    assert sorted(parsed) == ["deploy", "review"]  # the second discovery parsed nothing

    deploy.write_text(skill_md("deploy", "Ship a release, then tag it"), encoding="utf-8")
    write(tmp_path, "triage/SKILL.md", skill_md("triage", "Sort new issues"))
    skills = by_id(discover_skills(EMPTY, project_dirs=[], global_dir=tmp_path))
    assert skills["deploy"].description == "Ship a release, then tag it" and "triage" in skills
    assert sorted(parsed) == ["deploy", "deploy", "review", "triage"]

    (tmp_path / "review" / "SKILL.md").unlink()
    assert sorted(by_id(discover_skills(EMPTY, project_dirs=[], global_dir=tmp_path))) == ["deploy", "triage"]


def test_memory_skills_follow_the_snapshot(tmp_path):
    old = MemorySnapshot.from_mapping({"skills/pdf/SKILL.md": skill_md("pdf", "Read PDFs")}, head="a" * 40)
    new = MemorySnapshot.from_mapping({"skills/pdf/SKILL.md": skill_md("pdf", "Read and write PDFs")}, head="b" * 40)
    assert discover_skills(old, project_dirs=[], global_dir=None)[0].description == "Read PDFs"
    assert discover_skills(new, project_dirs=[], global_dir=None)[0].description == "Read and write PDFs"
    assert discover_skills(old, project_dirs=[], global_dir=None)[0].description == "Read PDFs"
    with_dir = discover_skills(new, project_dirs=[], global_dir=None, memory_dir=Path("/mem"))
    assert with_dir[0].path == Path("/mem/skills/pdf/SKILL.md")
