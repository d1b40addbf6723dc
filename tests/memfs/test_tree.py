import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tree import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MAX_CHILDREN,
    DEFAULT_MAX_LINES,
    TreeEntry,
    TreeLimits,
    memory_tree_entries,
    render_tree,
    tree_limits,
)

LIMIT_VARS = tuple(f"LETTA_MEMFS_TREE_MAX_{v}" for v in ("LINES", "CHARS", "CHILDREN_PER_DIR"))


@pytest.fixture(autouse=True)
def default_limits(monkeypatch):
    for var in LIMIT_VARS:
        monkeypatch.delenv(var, raising=False)


def test_folders_come_before_files_and_files_show_descriptions():
    entries = [
        TreeEntry("ARCHIVE.md", "Retired context"),
        TreeEntry("reference/details.md", "Detailed reference"),
        TreeEntry("reference/api/endpoints.md", None),
        TreeEntry("Zeta.md", None),
        TreeEntry("alpha.md", "First"),
        TreeEntry("assets/logo.png"),
    ]
    assert render_tree(entries, root_label="${MEMORY_DIR}/") == (
        "${MEMORY_DIR}/\n"
        "├── assets/\n"
        "│   └── logo.png\n"
        "├── reference/\n"
        "│   ├── api/\n"
        "│   │   └── endpoints.md\n"
        "│   └── details.md (Detailed reference)\n"
        "├── alpha.md (First)\n"
        "├── ARCHIVE.md (Retired context)\n"
        "└── Zeta.md"
    )


def test_an_empty_tree_is_just_the_root():
    assert render_tree([], root_label="/memory/") == "/memory/"


def test_multiline_and_blank_descriptions_are_collapsed_or_dropped():
    out = render_tree(
        [TreeEntry("a.md", "first line\n  second   line"), TreeEntry("b.md", "   ")], root_label="r/"
    )
    assert out == "r/\n├── a.md (first line second line)\n└── b.md"


def test_non_ascii_names_render_and_sort_case_insensitively():
    entries = [TreeEntry("notizen/über.md", "Größe"), TreeEntry("日本語.md", "メモ"), TreeEntry("Émile.md")]
    assert render_tree(entries, root_label="r/") == (
        "r/\n├── notizen/\n│   └── über.md (Größe)\n├── Émile.md\n└── 日本語.md (メモ)"
    )


def test_a_crowded_folder_shows_max_children_then_a_count_of_the_rest():
    entries = [TreeEntry(f"logs/day{i:04}.md") for i in range(1_234)] + [TreeEntry("z.md")]
    out = render_tree(entries, root_label="r/", max_children=3)
    assert out == (
        "r/\n"
        "├── logs/\n"
        "│   ├── day0000.md\n"
        "│   ├── day0001.md\n"
        "│   ├── day0002.md\n"
        "│   └── … (1,231 more entries)\n"
        "└── z.md"
    )


def test_line_limit_truncates_with_a_marker_that_counts_entries():
    entries = [TreeEntry(f"d{i}/f{j}.md") for i in range(10) for j in range(3)]
    out = render_tree(entries, root_label="r/", max_lines=8)
    lines = out.splitlines()
    assert len(lines) == 8
    assert lines[-1] == "[Tree truncated: showing 6 of 40 entries. 34 omitted.]"
    assert lines[1:3] == ["├── d0/", "│   ├── f0.md"]


def test_char_limit_truncates_and_the_result_stays_within_it():
    entries = [TreeEntry(f"file-{i:03}-{'x' * 40}.md", "a description that takes room") for i in range(100)]
    out = render_tree(entries, root_label="r/", max_chars=1_000)
    assert len(out) <= 1_000
    shown = sum(1 for line in out.splitlines() if line.startswith(("├── ", "└── ")))
    assert out.splitlines()[-1] == f"[Tree truncated: showing {shown} of 100 entries. {100 - shown} omitted.]"


def test_omission_markers_are_not_counted_as_shown_entries():
    entries = [TreeEntry(f"a/{i}.md") for i in range(10)] + [TreeEntry(f"b/{i}.md") for i in range(10)]
    out = render_tree(entries, root_label="r/", max_children=2, max_lines=6)
    assert out.splitlines() == [
        "r/",
        "├── a/",
        "│   ├── 0.md",
        "│   ├── 1.md",
        "│   └── … (8 more entries)",
        "[Tree truncated: showing 3 of 22 entries. 19 omitted.]",
    ]


def test_explicit_limits_are_clamped_to_the_minimums():
    entries = [TreeEntry(f"{i}.md") for i in range(5)]
    out = render_tree(entries, root_label="r/", max_lines=0, max_children=0, max_chars=0)
    # 2 lines, 1 child, 128 characters at least: the marker still fits
    assert out.splitlines() == ["r/", "[Tree truncated: showing 0 of 5 entries. 5 omitted.]"]


def test_defaults_match_letta_code():
    assert tree_limits({}) == LETTA_CODE_LIMITS
    assert (DEFAULT_MAX_LINES, DEFAULT_MAX_CHARS, DEFAULT_MAX_CHILDREN) == (500, 20_000, 50)


LETTA_CODE_LIMITS = TreeLimits(500, 20_000, 50)
LINES, CHARS, CHILDREN = ("LETTA_MEMFS_TREE_MAX_LINES", "LETTA_MEMFS_TREE_MAX_CHARS",
                          "LETTA_MEMFS_TREE_MAX_CHILDREN_PER_DIR")


@pytest.mark.parametrize(("variable", "value", "expected"), [
    (LINES, "2", TreeLimits(2, 20_000, 50)),
    (LINES, "50000", TreeLimits(50_000, 20_000, 50)),
    (CHARS, " 128 ", TreeLimits(500, 128, 50)),
    (CHILDREN, "5000", TreeLimits(500, 20_000, 5_000)),
])
def test_environment_overrides_within_the_range(variable, value, expected):
    assert tree_limits({variable: value}) == expected


@pytest.mark.parametrize(("variable", "value"), [
    (LINES, "1"), (LINES, "50001"), (CHARS, "127"), (CHARS, "5000001"),
    (CHILDREN, "0"), (CHILDREN, "ten"), (CHILDREN, "3.5"), (CHILDREN, ""),
])
def test_an_environment_value_out_of_range_or_not_a_whole_number_is_ignored(variable, value):
    assert tree_limits({variable: value}) == LETTA_CODE_LIMITS


def test_render_uses_environment_limits_unless_given_explicitly(monkeypatch):
    entries = [TreeEntry(f"{i}.md") for i in range(10)]
    monkeypatch.setenv("LETTA_MEMFS_TREE_MAX_CHILDREN_PER_DIR", "2")
    assert render_tree(entries, root_label="r/").splitlines()[-1] == "└── … (8 more entries)"
    assert "9.md" in render_tree(entries, root_label="r/", max_children=50)


def test_memory_tree_entries_carry_descriptions_of_markdown_files_only():
    snap = MemorySnapshot.from_mapping(
        {
            "system/persona.md": "---\ndescription: Who I am\n---\nbody\n",
            "reference/api.md": "---\ndescription: |\n  The API,\n  in two lines\n---\nbody\n",
            "reference/broken.md": "---\ndescription: [unclosed\n---\nbody\n",
            "notes.md": "no frontmatter\n",
            "data.json": '{"description": "not markdown"}',
            "avatar.png": b"\x89PNG\x00\xff",
            ".gitignore": "*.tmp\n",
            "drafts/.scratch.md": "---\ndescription: hidden\n---\n",
            "skills/pdf/SKILL.md": "---\nname: pdf\ndescription: PDFs\n---\n",
        }
    )
    entries = memory_tree_entries(snap, exclude_prefixes=("system/", "skills/"))
    assert entries == [
        TreeEntry("avatar.png", None),
        TreeEntry("data.json", None),
        TreeEntry("notes.md", None),
        TreeEntry("reference/api.md", "The API, in two lines"),
        TreeEntry("reference/broken.md", "[unclosed"),  # text to Letta Code, not broken YAML
    ]
    everything = {e.path for e in memory_tree_entries(snap, include_hidden=True)}
    assert {".gitignore", "drafts/.scratch.md", "system/persona.md", "skills/pdf/SKILL.md"} <= everything


_segment = st.text(alphabet="abcXYZ-_.é日 ", min_size=1, max_size=6).filter(lambda s: s.strip(". ") == s)


@settings(max_examples=150, deadline=None)
@given(
    paths=st.lists(st.lists(_segment, min_size=1, max_size=4).map("/".join), min_size=0, max_size=60),
    max_lines=st.integers(2, 40),
    max_chars=st.integers(128, 2_000),
    max_children=st.integers(1, 8),
)
def test_any_render_respects_the_limits_and_accounts_for_every_entry(
    paths, max_lines, max_chars, max_children
):
    # a path cannot be a file and a folder at once
    files = sorted(set(paths))
    files = [p for p in files if not any(q.startswith(p + "/") for q in files)]
    entries = [TreeEntry(p, "d" if i % 2 else None) for i, p in enumerate(files)]
    out = render_tree(
        entries, root_label="r/", max_lines=max_lines, max_chars=max_chars, max_children=max_children
    )
    lines = out.splitlines()
    assert len(lines) <= max_lines
    assert len(out) <= max_chars
    marker = re.fullmatch(r"\[Tree truncated: showing (\d+) of (\d+) entries\. (\d+) omitted\.\]", lines[-1])
    if marker:
        shown, total, omitted = map(int, marker.groups())
        assert shown + omitted == total
        assert shown == sum(1 for line in lines[1:-1] if "… (" not in line)


def test_memfs_v2_tiers_and_projection_follow_letta_code():
    """A root MEMORY.md switches on MemFS v2: root Markdown files are in context (the status bar's and the
    doctor's system tokens count them), only folders with their own MEMORY.md are projected."""
    from letta_ls.memfs.tree import memory_tree_entries

    snap = MemorySnapshot.from_mapping({
        "MEMORY.md": "# Memory\n", "persona.md": '---\nname: "P"\ndescription: "Me"\n---\nMe.\n',
        "projects/MEMORY.md": "# P\n", "projects/x.md": '---\nname: "X"\ndescription: "X: it"\n---\nX.\n',
        "loose/l.md": "L\n", "skills/s/SKILL.md": "---\nname: s\ndescription: S\n---\nS.\n",
        "system/old.md": "---\ndescription: Old\n---\nOld.\n",
    })
    assert snap.v2 and snap.persona_path == "persona.md"
    assert [f.path for f in snap.markdown("system")] == ["MEMORY.md", "persona.md"]
    assert {p: snap.tier(p) for p in ("projects/x.md", "loose/l.md", "skills/s/SKILL.md", "system/old.md")} == {
        "projects/x.md": "external", "loose/l.md": "external", "skills/s/SKILL.md": "skill",
        "system/old.md": "external"}
    projected = {e.path: e.description for e in memory_tree_entries(snap, projected_only=True)}
    assert "loose/l.md" not in projected and "system/old.md" not in projected
    assert projected["projects/x.md"] == "X: it"
    legacy = MemorySnapshot.from_mapping({"system/old.md": "---\ndescription: Old\n---\nOld.\n", "loose/l.md": "L\n"})
    assert not legacy.v2 and legacy.tier("system/old.md") == "system" and legacy.projected("loose/l.md")
