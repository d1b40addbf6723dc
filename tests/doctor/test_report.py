"""The markdown report: verdict, findings by severity with 1-based lines and fixes, largest files."""

from __future__ import annotations

from letta_ls.doctor import audit, render_report
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import TokenCounter
from letta_ls.settings import MemorySettings
from tests.doctor.memory_fixtures import HEALTHY

ESTIMATE = TokenCounter("estimate", False, None)


def test_clean_report():
    result = audit(MemorySnapshot.from_mapping(HEALTHY), counter=ESTIMATE)
    report = render_report(result)
    assert report.startswith("# Memory doctor\n\n**No problems found.** `system/` uses ")
    assert f"{result.tokens.system:,} of 20,000 tokens" in report
    assert "(estimated)" in report
    assert "## Largest files" in report and "| `reference/ledger-api.md` |" in report
    assert "## Errors" not in report and "## Warnings" not in report


def test_report_groups_findings_by_severity():
    files = {**HEALTHY, "reference/notes.md": "---\nread_only: true\n---\n# Rotation\n",
             "system/index.md": "---\ndescription: Index.\n---\n\nSee [[nowhere]].\n"}
    files.pop("system/persona.md")
    result = audit(MemorySnapshot.from_mapping(files), MemorySettings(diagnostics={"link-broken": "info"}), ESTIMATE)
    report = render_report(result, title="Doctor: agent-1")
    assert report.startswith("# Doctor: agent-1\n\n**1 error, 1 warning, 1 info.**")  # persona-missing warns
    errors = report.index("## Errors")
    notes = report.index("## Notes")
    assert errors < notes < report.index("## Largest files")
    assert "- `reference/notes.md:1` **description-missing**:" in report
    assert "  - Fix available: Add a description from the first heading or line" in report
    assert "- `system/index.md:5` **link-broken**:" in report
    assert "- `system/persona.md:1` **persona-missing**:" in report


def test_report_of_an_empty_memory():
    report = render_report(audit(MemorySnapshot.from_mapping({}), counter=ESTIMATE))
    assert "**1 warning.**" in report and "0 markdown files" in report and "## Largest files" not in report
