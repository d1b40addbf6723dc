"""link-broken: [[links]] that resolve to nothing, with exact column spans; code is not links."""

from __future__ import annotations

from letta_ls.doctor import audit
from letta_ls.memfs.snapshot import MemorySnapshot
from tests.doctor.memory_fixtures import HEALTHY

PATH = "system/index.md"


def broken(body: str, extra: dict[str, str] | None = None):
    text = f"---\ndescription: Where things are.\n---\n{body}"
    found = audit(MemorySnapshot.from_mapping({**HEALTHY, PATH: text, **(extra or {})})).findings
    assert {f.code for f in found} <= {"link-broken"}, found
    return found


def test_every_accepted_form_resolves():
    body = (
        "- [[reference/ledger-api.md]] and [[reference/ledger-api]]\n"
        "- [[memory/reference/ledger-api.md]] and [[/reference/deploy-runbook]]\n"
        "- [[reference/ledger-api.md#errors]] and [[reference/ledger-api|the API]]\n"
        "- [[reference/ledger-api#Errors|errors]] and the folder [[reference/]] and [[skills/release-notes]]\n"
        "- [[#a heading in this file]]\n"
    )
    assert broken(body) == []


def test_broken_link_span_counts_code_points():
    body = "Café — 日本語: voir [[reference/missing.md|la page]] et [[reference/ledger-api]].\n"
    (f,) = broken(body)
    assert (f.code, f.severity, f.line) == ("link-broken", "warning", 3)
    start = body.index("[[reference/missing")
    assert (f.column, f.end_line, f.end_column) == (start, 3, start + len("[[reference/missing.md|la page]]"))
    assert "`[[reference/missing.md]]`" in f.message


def test_links_in_code_are_examples():
    body = "Write links as `[[path/to/file]]`.\n\n```markdown\nSee [[nowhere/at-all]].\n```\n"
    assert broken(body) == []


def test_a_unique_file_name_is_suggested_with_a_fix():
    (f,) = broken("See [[docs/ledger-api]] for endpoints.\n")
    assert "Did you mean `[[reference/ledger-api]]`?" in f.message
    assert f.fix is not None and f.fix.kind == "retarget-link"
    assert f.fix.data["target"] == "reference/ledger-api" and f.fix.data["old"] == "docs/ledger-api"


def test_several_candidates_are_listed_without_a_fix():
    extra = {"archive/ledger-api.md": "---\ndescription: Old API.\n---\nOld.\n"}
    (f,) = broken("See [[ledger-api]].\n", extra)
    assert f.fix is None and "archive/ledger-api.md" in f.message and "reference/ledger-api.md" in f.message


def test_relative_links_from_a_skill_resolve():
    # the healthy skill links [[references/format.md]] relative to its folder
    assert broken("ok\n") == []


def test_several_links_on_one_line():
    (a, b) = broken("[[x/one]] then [[reference/ledger-api]] then [[x/two]]\n")
    assert (a.column, b.column) == (0, len("[[x/one]] then [[reference/ledger-api]] then "))
