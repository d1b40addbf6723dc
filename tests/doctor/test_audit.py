"""The audit as a whole: a healthy memory is clean, each bad case yields exactly its code, settings apply,
token counts are right, ``check_document`` agrees with ``audit``, and nothing ever raises."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_ls.doctor import CODES, audit, check_document
from letta_ls.doctor.findings import SEVERITY_ORDER
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import TokenCounter, get_token_counter
from letta_ls.settings import MemorySettings
from tests.doctor.memory_fixtures import HEALTHY, make_snapshot

ESTIMATE = TokenCounter("estimate", False, None)
TOKEN_BODY = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"  # shaped like a GitHub token, made up


def test_healthy_memory_has_no_findings(run_audit):
    result = run_audit(HEALTHY)
    assert result.findings == []
    assert not result.has_errors


BAD_CASES = {
    "frontmatter-missing": {"reference/notes.md": "# Notes\n\nJust text.\n"},
    "frontmatter-invalid": {"reference/notes.md": "---\ndescription: ok\ntypo_key: maybe\n---\nText.\n"},
    "description-missing": {"reference/notes.md": "---\nread_only: false\n---\nText.\n"},
    "description-multiline": {"reference/notes.md": "---\ndescription: |\n  two\n  lines\n---\nText.\n"},
    "name-clash": {"reference/api.md": "---\ndescription: API notes.\n---\nx\n",
                   "reference/api/errors.md": "---\ndescription: Error codes.\n---\ny\n"},
    "skill-flat-file": {"skills/deploy.md": "---\ndescription: Deploy.\n---\nSteps.\n"},
    "skill-invalid": {"skills/triage/SKILL.md": "---\nname: triage\n---\nSteps.\n"},
    "not-text": {"notes/blob.md": b"\xff\xfe\x00binary"},
    "link-broken": {"system/links.md": "---\ndescription: Index of other files.\n---\nSee [[reference/missing.md]].\n"},
    "secret": {"reference/keys.md": "---\ndescription: Keys.\n---\nGITHUB_TOKEN=ghp_" + TOKEN_BODY + "\n"},
}


def test_each_bad_case_yields_exactly_its_code(codes):
    for code, change in BAD_CASES.items():
        found = codes({**HEALTHY, **change})
        assert {c for c, _path in found} == {code}, (code, found)


def test_persona_missing_is_reported_on_its_path(codes):
    files = dict(HEALTHY)
    del files["system/persona.md"]
    assert codes(files) == [("persona-missing", "system/persona.md")]


def test_diagnostics_settings_switch_off_and_regrade(run_audit):
    files = {**HEALTHY, **BAD_CASES["link-broken"], **BAD_CASES["frontmatter-missing"]}
    result = run_audit(files, MemorySettings(diagnostics={"link-broken": "off", "frontmatter-missing": "hint"}))
    assert [(f.code, f.severity) for f in result.findings] == [("frontmatter-missing", "hint")]
    assert not result.has_errors


def test_findings_are_sorted_and_use_known_codes(run_audit):
    files = {**HEALTHY}
    for change in BAD_CASES.values():
        files.update(change)
    result = run_audit(files)
    keys = [(f.path, f.line, f.column, SEVERITY_ORDER[f.severity], f.code) for f in result.findings]
    assert keys == sorted(keys)
    assert {f.code for f in result.findings} <= set(CODES)
    assert all(f.severity == CODES[f.code] for f in result.findings)


def test_token_report_counts_every_markdown_file():
    result = audit(make_snapshot(HEALTHY), counter=ESTIMATE)
    tokens = result.tokens
    expected = {p: (len(t.encode()) + 3) // 4 for p, t in HEALTHY.items() if p.endswith(".md")}
    assert dict(tokens.files) == expected
    assert [t for _p, t in tokens.files] == sorted(expected.values(), reverse=True)
    assert tokens.total == sum(expected.values())
    assert tokens.system == sum(t for p, t in expected.items() if p.startswith("system/"))
    assert tokens.budget == 20_000
    assert tokens.to_json()["files"][0] == {"path": tokens.files[0][0], "tokens": tokens.files[0][1]}
    assert set(result.to_json()) == {"findings", "tokens"}
    assert set(tokens.to_json()) == {"system", "total", "budget", "files"}


def test_json_shape_of_a_finding(run_audit):
    result = run_audit({**HEALTHY, **BAD_CASES["description-missing"]})
    (out,) = result.to_json()["findings"]
    assert out["path"] == "reference/notes.md"
    assert out["code"] == "description-missing"
    assert out["severity"] == "error"
    assert out["line"] == 1  # 1-based in JSON
    assert out["fix"]["kind"] == "add-description"


def test_check_document_agrees_with_audit_for_every_file():
    files = {**HEALTHY}
    for change in BAD_CASES.values():
        files.update(change)
    snap = make_snapshot(files)
    counter = get_token_counter()
    result = audit(snap, counter=counter)
    for path in snap.files:
        mine = [f for f in result.findings if f.path == path]
        assert check_document(snap, path, counter=counter) == mine, path


def test_check_document_sees_an_editor_buffer():
    snap = make_snapshot(HEALTHY, head="1" * 40)
    path = "reference/postgres-notes.md"
    assert check_document(snap, path) == []
    buffer = HEALTHY[path].replace("description: Postgres schema notes", "title: Postgres")
    found = check_document(snap.with_text(path, buffer), path)
    assert [f.code for f in found] == ["description-missing", "frontmatter-invalid"]  # Letta Code refuses `title`
    # and back: the cached cross-file state follows the buffer
    assert check_document(snap, path) == []


def test_check_document_of_a_missing_persona():
    files = dict(HEALTHY)
    del files["system/persona.md"]
    assert [f.code for f in check_document(make_snapshot(files), "system/persona.md")] == ["persona-missing"]


def test_letta_code_directory_without_git(tmp_path: Path):
    for path, content in HEALTHY.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    snap = MemorySnapshot.from_directory(tmp_path)
    assert audit(snap).findings == []


def test_empty_memory_only_lacks_a_persona():
    result = audit(MemorySnapshot.from_mapping({}))
    assert [f.code for f in result.findings] == ["persona-missing"]
    assert result.tokens.files == [] and result.tokens.system == 0


PATHS = st.sampled_from([
    "system/persona.md", "system/human.md", "system/a.md", "system/a/b.md", "reference/x.md", "skills/s/SKILL.md",
    "skills/flat.md", "skills/s/references/r.md", "ARCHIVE.md", "notes.txt", "profile.png", "x.md",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(PATHS, st.binary(max_size=300), max_size=6))
def test_audit_never_raises_on_arbitrary_bytes(files):
    result = audit(MemorySnapshot.from_mapping(files), counter=ESTIMATE)
    for finding in result.findings:
        assert finding.code in CODES
        assert finding.line >= 0


FRONTMATTER_PIECES = st.sampled_from([
    "---\n", "---", "description: x\n", "description: |\n  a\n  b\n", "description:\n", "read_only: yes\n",
    "limit: -3\n", "limit: 10\n", "name: n\n", "key: [unclosed\n", "  indented: 1\n", "\ufeff", "\r\n", "# h\n",
    "## s\n", "```\n", "[[x]]\n", "text line\n", ": bad\n", "- item\n", "\t\n", "\u2028", "é日本\n",
])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRONTMATTER_PIECES, max_size=14), st.sampled_from(["system/a.md", "skills/s/SKILL.md", "r/x.md"]))
def test_audit_never_raises_on_frontmatter_fuzz(pieces, path):
    text = "".join(pieces)
    snap = MemorySnapshot.from_mapping({path: text, "system/persona.md": HEALTHY["system/persona.md"]})
    result = audit(snap, counter=ESTIMATE)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for finding in result.findings:
        if finding.path == path:
            assert 0 <= finding.line < max(len(lines), 1)


def test_a_large_generated_memory_only_reports_the_planted_duplicates():
    from tests.doctor.bench_doctor import build

    files = build(400)
    planted = {path for i, path in enumerate(files) if i < 400 and i % 97 == 0}
    result = audit(MemorySnapshot.from_mapping(files), counter=ESTIMATE)
    assert {f.code for f in result.findings} == {"duplicate-content"}
    assert {f.path for f in result.findings} == planted
    assert all("(and 3 more files)" in f.message for f in result.findings)


PATHOLOGICAL = {
    "brackets": "# " + "[[" * 20_000 + "\n",
    "links": "- " + "[x](" * 20_000 + "\n",
    "backticks": "`" * 20_000 + "[[x]]\n" + "`a` " * 10_000 + "[[y]]\n",
    "signature": "## f(" + ")x" * 20_000 + "\n",
    "stack": "at f(" + ")x" * 20_000 + "\n",
    "assignments": "token=" * 50_000 + "\n",
    "urls": "://:" * 50_000 + "\n",
    "bullets": "- a\n" * 50_000,
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_text_stays_linear(name):
    # inputs that make a careless regex backtrack quadratically; each must audit in milliseconds
    body = PATHOLOGICAL[name]
    for path in ("system/x.md", "reference/x.md"):
        audit(MemorySnapshot.from_mapping({path: "---\ndescription: d\n---\n" + body}), counter=ESTIMATE)
