"""Fixes: each plan is the exact new text, clears its finding without adding others, and refuses when unsafe."""

from __future__ import annotations

import random
import string

import pytest

from letta_ls.doctor import AuditResult, apply_plan, audit, plan_fix, plan_fixes, safe_fixes
from letta_ls.doctor.findings import Finding
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import TokenCounter
from letta_ls.settings import MemorySettings
from tests.doctor.memory_fixtures import HEALTHY

ESTIMATE = TokenCounter("estimate", False, None)
RNG = random.Random(5)


def token() -> str:
    while True:
        body = "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(36))
        if any(c.isdigit() for c in body) and body.lower() != body and body.upper() != body:
            return "ghp_" + body


def setup(files: dict[str, str | bytes], settings: MemorySettings | None = None) -> tuple[MemorySnapshot, AuditResult]:
    snap = MemorySnapshot.from_mapping({**HEALTHY, **files})
    return snap, audit(snap, settings, ESTIMATE)


def only(result: AuditResult, code: str) -> Finding:
    (f,) = [f for f in result.findings if f.code == code]
    return f


def fixed(snap: MemorySnapshot, finding: Finding, settings: MemorySettings | None = None):
    plan = plan_fix(snap, finding)
    assert plan is not None
    after = apply_plan(snap, plan)
    return plan, after, audit(after, settings, ESTIMATE)


@pytest.mark.parametrize(("path", "text", "code", "fixed_text"), [
    pytest.param("notes/notes.md", "\ufeff# Café notes\r\n\r\nText.\r\n", "frontmatter-missing",
                 "\ufeff---\r\ndescription: Café notes\r\n---\r\n# Café notes\r\n\r\nText.\r\n",
                 id="add-description-keeps-bom-and-crlf"),
    pytest.param("reference/notes.md", "---\ndescription: >\n  What the\n  build needs\nlimit: 500\n---\nx\n",
                 "description-multiline", "---\ndescription: What the build needs\nlimit: 500\n---\nx\n",
                 id="join-description"),
    pytest.param("skills/triage/SKILL.md", "---\nlicense: MIT\n---\n# Triage bugs\n\nSteps.\n", "skill-invalid",
                 "---\nlicense: MIT\nname: triage\ndescription: Triage bugs\n---\n# Triage bugs\n\nSteps.\n",
                 id="add-skill-name"),
])
def test_a_fix_rewrites_exactly_its_file_and_clears_its_finding(path, text, code, fixed_text):
    snap, result = setup({path: text})
    plan, _after, again = fixed(snap, only(result, code))
    assert plan.changes == {path: fixed_text}
    assert again.findings == []


def test_add_description_inside_existing_frontmatter_preserves_other_keys():
    snap, result = setup({"notes/notes.md": "---\nowner: 'Zoë'  # kept\nread_only: false\n---\n## Rotation\n"})
    plan, _after, again = fixed(snap, only(result, "description-missing"))
    assert plan.changes["notes/notes.md"] == (
        "---\nowner: 'Zoë'  # kept\nread_only: false\ndescription: Rotation\n---\n## Rotation\n"
    )
    assert again.findings == []
    assert plan_fix(apply_plan(snap, plan), only(result, "description-missing")) is None  # already done


def test_add_skill_block_to_a_skill_without_frontmatter():
    snap, result = setup({"skills/triage/SKILL.md": "# Triage bugs\n\nSteps.\n"})
    plan, _after, again = fixed(snap, only(result, "skill-invalid"))
    assert plan.changes["skills/triage/SKILL.md"].startswith("---\nname: triage\ndescription: Triage bugs\n---\n")
    assert again.findings == []


def test_skill_to_folder_moves_adds_the_name_and_rewrites_links():
    index = "---\ndescription: Index.\n---\nSee [[skills/triage]] and [[skills/triage.md|triage]].\n"
    skill = "---\ndescription: Triage bugs.\n---\nSteps.\n"
    snap, result = setup({"skills/triage.md": skill, "system/index.md": index})
    plan, _after, again = fixed(snap, only(result, "skill-flat-file"))
    assert plan.changes["skills/triage.md"] is None
    assert plan.changes["skills/triage/SKILL.md"] == "---\ndescription: Triage bugs.\nname: triage\n---\nSteps.\n"
    assert plan.changes["system/index.md"] == (
        "---\ndescription: Index.\n---\nSee [[skills/triage/SKILL]] and [[skills/triage/SKILL.md|triage]].\n"
    )
    assert again.findings == []


def test_move_out_of_system_rewrites_links_and_refuses_an_existing_target():
    listing = "---\ndescription: The client.\n---\n```go\n" + "".join(
        f"func (c *Client) Call{i}(ctx context.Context) (*Response{i}, error) {{ return nil, nil }}\n"
        for i in range(40)
    ) + "```\n"
    overview = HEALTHY["system/project/overview.md"] + "- Client listing: [[system/project/client]]\n"
    snap, result = setup({"system/project/client.md": listing, "system/project/overview.md": overview})
    finding = only(result, "misplaced-in-system")
    plan, _after, again = fixed(snap, finding)
    assert plan.changes["system/project/client.md"] is None
    assert plan.changes["reference/project/client.md"] == listing
    assert plan.changes["system/project/overview.md"].endswith("- Client listing: [[reference/project/client]]\n")
    assert again.findings == []
    blocked = snap.with_text("reference/project/client.md", "---\ndescription: taken\n---\n")
    assert plan_fix(blocked, finding) is None


def test_normalize_frontmatter_makes_a_crlf_bom_file_acceptable_to_letta_code():
    snap, result = setup({"system/windows.md": "\ufeff---  \r\ndescription: Windows file\r\n--- \r\nBody\r\n"})
    plan, _after, again = fixed(snap, only(result, "frontmatter-invalid"))
    assert plan.changes == {"system/windows.md": "---\ndescription: Windows file\n---\nBody\n"}
    assert again.findings == []


def test_move_into_system():
    snap, result = setup({"reference/preferences.md": "---\ndescription: Editor settings.\n---\nTabs.\n"})
    plan, _after, again = fixed(snap, only(result, "misplaced-outside-system"))
    assert set(plan.changes) == {"reference/preferences.md", "system/preferences.md"}
    assert again.findings == []


def test_split_at_headings_into_sibling_files_with_an_index():
    body = "Intro about the build.\n\n" + "".join(
        f"## Part {name}\n\n" + f"Detail {name}. " * 40 + "\n\n" for name in ("Café", "Tests", "Lint")
    )
    text = "---\ndescription: Build notes.\nlimit: 120\n---\n" + body
    snap, result = setup({"reference/build.md": text})
    plan, after, again = fixed(snap, only(result, "file-oversized"))
    assert set(plan.changes) == {"reference/build.md", "reference/build-part-café.md", "reference/build-part-tests.md",
                                 "reference/build-part-lint.md"}
    assert plan.changes["reference/build.md"] == (
        "---\ndescription: Build notes.\nlimit: 120\n---\nIntro about the build.\n\n"
        "- [[reference/build-part-café.md]]: Part Café\n"
        "- [[reference/build-part-tests.md]]: Part Tests\n"
        "- [[reference/build-part-lint.md]]: Part Lint\n"
    )
    part = plan.changes["reference/build-part-tests.md"]
    assert part.startswith("---\ndescription: Part Tests (split out of reference/build.md)\n---\n## Part Tests\n\n")
    assert again.findings == []
    assert after.get("reference/build.md") is not None


def test_redact_secret_with_non_ascii_prefix():
    secret = token()
    snap, result = setup({"reference/ops.md": f"---\ndescription: Ops.\n---\nClé 🔑 — {secret} (CI)\n"})
    plan, _after, again = fixed(snap, only(result, "secret"))
    assert plan.changes == {"reference/ops.md": "---\ndescription: Ops.\n---\nClé 🔑 — [REDACTED] (CI)\n"}
    assert again.findings == []


def test_redact_a_private_key_block():
    key = "\n".join("".join(RNG.choice(string.ascii_letters + "+/") for _ in range(64)) for _ in range(4))
    block = f"-----BEGIN EC PRIVATE KEY-----\n{key}\n-----END EC PRIVATE KEY-----"
    text = f"---\ndescription: Keys.\n---\nkey:\n{block}\nend\n"
    snap, result = setup({"reference/keys.md": text})
    plan, _after, _again = fixed(snap, only(result, "secret"))
    assert plan.changes["reference/keys.md"] == "---\ndescription: Keys.\n---\nkey:\n[REDACTED]\nend\n"


def test_retarget_link():
    snap, result = setup({"system/index.md": "---\ndescription: Index.\n---\nSee [[docs/ledger-api#errors|errors]].\n"})
    plan, _after, again = fixed(snap, only(result, "link-broken"))
    assert plan.changes["system/index.md"].endswith("See [[reference/ledger-api#errors|errors]].\n")
    assert again.findings == []


def test_no_plan_without_a_fix_or_for_a_vanished_file():
    snap, result = setup({"reference/notes.md": ""})
    finding = only(result, "frontmatter-missing")
    assert finding.fix is None and plan_fix(snap, finding) is None
    snap, result = setup({"reference/notes.md": "# T\n"})
    finding = only(result, "frontmatter-missing")
    assert plan_fix(snap.with_text("reference/notes.md", None), finding) is None


def test_safe_fixes_are_the_mechanical_ones_in_a_workable_order():
    secret = token()
    files = {
        "reference/notes.md": f"# Notes\n\nkey {secret}\n",  # frontmatter-missing + secret in one file
        "skills/triage.md": "---\ndescription: Triage.\n---\nSteps.\n",
        "reference/preferences.md": "---\ndescription: Editor settings.\n---\nTabs.\n",  # a move: not unattended
        "system/index.md": "---\ndescription: Index.\n---\n[[nowhere/file]]\n",  # no fix at all
    }
    snap, result = setup(files)
    chosen = safe_fixes(result)
    assert [(f.path, f.fix.kind) for f in chosen] == [
        ("reference/notes.md", "redact-secret"),
        ("reference/notes.md", "add-description"),
        ("skills/triage.md", "skill-to-folder"),
    ]
    plan = plan_fixes(snap, chosen)
    assert plan is not None
    assert plan.changes["reference/notes.md"] == "---\ndescription: Notes\n---\n# Notes\n\nkey [REDACTED]\n"
    assert plan.changes["skills/triage.md"] is None
    after = audit(apply_plan(snap, plan), None, ESTIMATE)
    assert sorted(f.code for f in after.findings) == ["link-broken", "misplaced-outside-system"]


def test_fixes_planned_one_at_a_time_on_the_latest_snapshot_still_apply():
    # how the CLI applies them: each plan against the result of the previous commit
    secret = token()
    snap, result = setup({"reference/notes.md": f"# Notes\n\n{secret} and {secret[::-1]}x {token()}\n"})
    for finding in safe_fixes(result):
        plan = plan_fix(snap, finding)
        assert plan is not None, finding
        snap = apply_plan(snap, plan)
    assert [f.code for f in audit(snap, None, ESTIMATE).findings] == []
