"""duplicate-content: the same passage (exact after normalising, or lightly edited) in two files."""

from __future__ import annotations

from letta_ls.doctor import audit, check_document
from letta_ls.memfs.snapshot import MemorySnapshot
from tests.doctor.memory_fixtures import HEALTHY

PARAGRAPH = (
    "Settlement runs every night at 02:00 UTC. The job reads captured payments from the ledger, groups "
    "them by merchant and currency, and writes one payout instruction per group to the bank adapter, "
    "which retries failed transfers three times before paging the on-call engineer."
)


def doc(description: str, body: str) -> str:
    return f"---\ndescription: {description}\n---\n{body}"


def dup_findings(files: dict[str, str]):
    found = audit(MemorySnapshot.from_mapping({**HEALTHY, **files})).findings
    assert {f.code for f in found} <= {"duplicate-content"}, found
    return found


def test_same_paragraph_in_two_files_is_reported_on_both_with_the_other_line():
    found = dup_findings({
        "system/project/settlement.md": doc("How settlement works.", f"# Settlement\n\n{PARAGRAPH}\n"),
        "reference/payouts.md": doc("Payout details.", f"Intro line.\n\nMore intro.\n\n{PARAGRAPH}\n"),
    })
    by_path = {f.path: f for f in found}
    assert set(by_path) == {"system/project/settlement.md", "reference/payouts.md"}
    a, b = by_path["system/project/settlement.md"], by_path["reference/payouts.md"]
    assert (a.line, a.end_line) == (5, 5) and (b.line, b.end_line) == (7, 7)
    assert "`reference/payouts.md` at line 8" in a.message
    assert "`system/project/settlement.md` at line 6" in b.message
    assert a.severity == "warning" and a.end_column == len(PARAGRAPH)


def test_wrapping_case_and_list_markers_do_not_hide_a_copy():
    wrapped = PARAGRAPH.upper().replace(", ", ",\n", 2)
    found = dup_findings({
        "reference/a.md": doc("A.", f"{PARAGRAPH}\n"),
        "reference/b.md": doc("B.", f">   {wrapped}\n"),
    })
    assert sorted(f.path for f in found) == ["reference/a.md", "reference/b.md"]
    b = next(f for f in found if f.path == "reference/b.md")
    assert (b.line, b.end_line) == (3, 5)


def test_two_sentence_paragraph_counts():
    short = "Use pnpm, never npm, in the web folder. The lockfile is pnpm-lock.yaml and CI rejects others."
    found = dup_findings({"reference/a.md": doc("A.", f"{short}\n"), "reference/b.md": doc("B.", f"x\n\n{short}\n")})
    assert len(found) == 2


def test_near_duplicate_paragraph():
    edited = PARAGRAPH.replace("three times", "five times").replace("every night", "each night")
    found = dup_findings({"reference/a.md": doc("A.", f"{PARAGRAPH}\n"), "reference/b.md": doc("B.", f"{edited}\n")})
    assert len(found) == 2 and all("nearly the same" in f.message for f in found)


def test_run_of_identical_lines_inside_different_lists():
    shared = ("- Run `make db-up` before the integration tests start\n"
              "- Export `LEDGER_ENV=dev` so the config loader picks dev values\n"
              "- Seed accounts with `make seed` after each schema migration\n")
    found = dup_findings({
        "reference/a.md": doc("A.", "- First, a line only this file has in it\n" + shared),
        "reference/b.md": doc("B.", shared + "- And a closing line that only b has\n"),
    })
    assert sorted((f.path, f.line, f.end_line) for f in found) == [("reference/a.md", 4, 6), ("reference/b.md", 3, 5)]


def test_three_copies_name_one_and_count_the_rest():
    files = {f"reference/c{i}.md": doc(f"Copy {i}.", f"{PARAGRAPH}\n") for i in range(3)}
    found = dup_findings(files)
    assert len(found) == 3
    assert all("(and 1 more file)" in f.message for f in found)


def test_adjacent_duplicated_paragraphs_make_one_finding():
    other = PARAGRAPH.replace("Settlement", "Reconciliation").replace("payout instruction", "match record")
    body = f"{PARAGRAPH}\n\n{other}\n"
    found = dup_findings({"reference/a.md": doc("A.", body), "reference/b.md": doc("B.", "Hi.\n\n" + body)})
    a = next(f for f in found if f.path == "reference/a.md")
    assert len(found) == 2 and (a.line, a.end_line) == (3, 5)


def test_quiet_on_boilerplate():
    fence = "```bash\nmake test\n```\n"
    bullets = "- yes\n- no\n- maybe later\n"
    headings = "# Overview\n\n## Details\n\n## Open questions\n"
    same_frontmatter = "---\ndescription: Meeting notes from the weekly sync with the payments team and others.\n---\n"
    assert dup_findings({
        "reference/a.md": same_frontmatter + headings + fence + bullets + "Alpha text.\n",
        "reference/b.md": same_frontmatter + headings + fence + bullets + "Beta text.\n",
        "reference/c.md": doc("C.", f"{PARAGRAPH}\n\n{PARAGRAPH}\n"),  # twice in one file is not two files
    }) == []


def test_non_ascii_passage():
    text = ("Zoë prefers the café on Rue Mercière — 日本語 menus — for team lunches on Fridays. She books a table "
            "for eight people a week ahead and expects the agent to remind her on Wednesday afternoons.")
    found = dup_findings({"reference/a.md": doc("A.", f"{text}\n"), "reference/b.md": doc("B.", f"{text}\n")})
    assert {f.end_column for f in found} == {len(text)}


def test_check_document_compares_an_editor_buffer_with_the_rest():
    files = {**HEALTHY, "reference/a.md": doc("A.", f"{PARAGRAPH}\n")}
    snap = MemorySnapshot.from_mapping(files, head="d" * 40)
    path = "reference/b.md"
    assert check_document(snap.with_text(path, doc("B.", "Different.\n")), path) == []
    found = check_document(snap.with_text(path, doc("B.", f"Typed:\n\n{PARAGRAPH}\n")), path)
    assert [(f.code, f.line) for f in found] == [("duplicate-content", 5)]
    # the other file sees the buffer too, and forgets it when the buffer goes away
    found = check_document(snap.with_text(path, doc("B.", f"{PARAGRAPH}\n")), "reference/a.md")
    assert [f.code for f in found] == ["duplicate-content"]
    assert check_document(snap, "reference/a.md") == []


# --- groups of copies at scale (issue 14): one finding per group in each file, found in near-linear time ----------

HEADER = (
    "This memory file follows the team template. Keep each note short, dated and sourced; move anything "
    "older than a quarter to the archive, and link related notes instead of copying their text between files."
)


def _unique_body(i: int) -> str:
    """A paragraph no other file shares: every word carries the file's number."""
    return " ".join(f"w{i}x{k}" for k in range(40)) + ". " + " ".join(f"v{i}y{k}" for k in range(10)) + "."


def _memory(n: int, kind: str) -> dict[str, str]:
    files = {}
    for i in range(n):
        body = {"identical": PARAGRAPH, "header": f"{HEADER}\n\n{_unique_body(i)}", "distinct": _unique_body(i)}[kind]
        files[f"reference/group-{i % 20}/note-{i}.md"] = doc(f"Note {i}.", f"{body}\n")
    return files


def test_two_thousand_identical_files_make_one_group_and_one_finding_per_file():
    from letta_ls.doctor import duplicate_groups

    files = _memory(2000, "identical")
    snap = MemorySnapshot.from_mapping({**HEALTHY, **files}, head="e" * 40)
    groups = duplicate_groups(snap)
    assert len(groups) == 1 and groups[0].exact
    assert sorted(path for path, _line in groups[0].members) == sorted(files)
    found = dup_findings(files)
    assert len(found) == 2000 and {f.path for f in found} == set(files)
    assert all("(and 1998 more files)" in f.message and "2000 files hold it" in f.message for f in found)


def test_two_thousand_files_sharing_a_header_make_one_group():
    from letta_ls.doctor import duplicate_groups

    files = _memory(2000, "header")
    groups = duplicate_groups(MemorySnapshot.from_mapping({**HEALTHY, **files}, head="f" * 40))
    assert [(len(g.members), g.exact) for g in groups] == [(2000, True)]
    assert {line for _path, line in groups[0].members} == {3}
    found = dup_findings(files)
    assert len(found) == 2000 and all((f.line, f.end_line) == (3, 3) for f in found)


def test_two_thousand_distinct_files_make_no_group():
    from letta_ls.doctor import duplicate_groups

    files = _memory(2000, "distinct")
    assert duplicate_groups(MemorySnapshot.from_mapping({**HEALTHY, **files}, head="0" * 40)) == []
    assert dup_findings(files) == []


def test_a_small_group_names_every_member():
    files = {f"reference/c{i}.md": doc(f"Copy {i}.", f"{PARAGRAPH}\n") for i in range(4)}
    found = dup_findings(files)
    assert len(found) == 4
    for f in found:
        assert all(f"`{other}`" in f.message for other in files if other != f.path)


def test_exact_and_near_copies_of_one_passage_are_separate_groups():
    from letta_ls.doctor import duplicate_groups

    edited = PARAGRAPH.replace("three times", "five times").replace("every night", "each night")
    files = {"reference/a.md": doc("A.", f"{PARAGRAPH}\n"), "reference/b.md": doc("B.", f"{PARAGRAPH}\n"),
             "reference/c.md": doc("C.", f"{edited}\n")}
    groups = duplicate_groups(MemorySnapshot.from_mapping({**HEALTHY, **files}, head="1" * 40))
    assert sorted((sorted(p for p, _ in g.members), g.exact) for g in groups) == [
        (["reference/a.md", "reference/b.md"], True),
        (["reference/a.md", "reference/b.md", "reference/c.md"], False),
    ]
