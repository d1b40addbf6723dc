"""Placement heuristics: reference material in system/, identity and standing rules outside it."""

from __future__ import annotations

from letta_ls.doctor import audit
from letta_ls.memfs.snapshot import MemorySnapshot
from tests.doctor.memory_fixtures import HEALTHY


def run(files: dict[str, str]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in audit(MemorySnapshot.from_mapping({**HEALTHY, **files})).findings]


def finding(files: dict[str, str]):
    (f,) = audit(MemorySnapshot.from_mapping({**HEALTHY, **files})).findings
    return f


def doc(description: str, body: str) -> str:
    return f"---\ndescription: {description}\n---\n{body}"


CODE_LISTING = doc("The ledger client.", "Our client:\n\n```go\n" + "".join(
    f"func (c *Client) Call{i}(ctx context.Context, req *Request{i}) (*Response{i}, error) {{ return nil, nil }}\n"
    for i in range(40)) + "```\n")
STACK_TRACE = doc("The crash from Tuesday.", "".join(
    f"2024-06-0{i % 9 + 1} 10:1{i % 10}:00 ERROR worker-{i} failed to settle batch {i}: context deadline exceeded\n"
    for i in range(40)))
CHANGELOG = doc("Release history.", "".join(
    f"## v1.{i}.0\n\n- Added support for feature number {i} in the settlement engine and its worker pool.\n"
    f"- Fixed a bug in the reconciliation job that double counted refunds for merchant batch {i}.\n\n"
    for i in range(20)))
API_REFERENCE = doc("Ledger API.", "".join(
    f"### `client.transactions.create_{i}(amount, currency)`\n\n"
    f"- `amount` (int): the amount in minor units for the operation number {i} of the batch.\n"
    f"- `currency` (str): ISO 4217 code used for this call and echoed back in the response body.\n\n"
    for i in range(15)))
PROCEDURE = doc("Incident response.", "How to handle a settlement incident, in order:\n\n" + "".join(
    f"{i}. Check the dashboard panel number {i} and write down what it shows in the incident channel, "
    f"then page the on-call engineer for the affected region if the error rate keeps rising.\n"
    for i in range(1, 26)))


def test_reference_material_in_system_is_flagged_with_a_move_to_external():
    for body, what in ((CODE_LISTING, "mostly code blocks"), (STACK_TRACE, "logs or stack traces"),
                       (CHANGELOG, "a changelog"), (API_REFERENCE, "an API reference"),
                       (PROCEDURE, "a step-by-step procedure")):
        f = finding({"system/project/material.md": body})
        assert (f.code, f.path, f.severity) == ("misplaced-in-system", "system/project/material.md", "warning"), what
        assert what in f.message
        assert f.fix is not None and f.fix.kind == "move"
        assert f.fix.data == {"target": "reference/project/material.md"}


def test_a_procedure_is_suggested_as_a_skill():
    assert "skill" in finding({"system/runbook.md": PROCEDURE}).message


def test_the_same_material_outside_system_is_fine():
    for body in (CODE_LISTING, STACK_TRACE, CHANGELOG, API_REFERENCE, PROCEDURE):
        assert run({"reference/material.md": body}) == []


def test_no_move_offered_when_the_target_exists():
    f = finding({"system/ledger-api.md": API_REFERENCE})
    assert f.fix is None and "already exists" in f.message


def test_quiet_on_ordinary_system_files():
    prefs = doc("How the user likes to work.", "".join(
        f"- Prefers option {i} when choosing between equivalent approaches for the payments code.\n"
        for i in range(30)))
    short_code = doc("Commands.", "Run these:\n\n```bash\nmake test\nmake lint\nmake db-up\n```\n\nThat is all.\n")
    notes = doc("Project decisions.", "".join(
        f"Decision {i}: we keep settlement idempotent because retries happen on every network blip, and the "
        f"team agreed that a replayed request must return the original response.\n\n" for i in range(40)))
    table = doc("Team contacts.", "| who | what |\n| --- | --- |\n" + "".join(
        f"| person {i} | owns area {i} |\n" for i in range(12)))
    big_persona = doc("Who I am.", "".join(f"```\nexample {i}\n```\n" for i in range(30)))
    assert run({"system/prefs.md": prefs, "system/commands.md": short_code, "system/decisions.md": notes,
                "system/contacts.md": table, "system/persona.md": big_persona}) == []


def test_identity_and_preferences_outside_system_by_name():
    f = finding({"reference/preferences.md": doc("Editor settings.", "Tabs, 4 wide.\n")})
    assert (f.code, f.path) == ("misplaced-outside-system", "reference/preferences.md")
    assert f.fix is not None and f.fix.data == {"target": "system/preferences.md"}
    f = finding({"persona.md": doc("Me.", "I am a coding agent.\n")})
    assert f.fix is None and "system/persona.md" in f.message  # it exists: merge instead


def test_standing_rules_outside_system_by_content():
    rules = doc("Notes for the agent.", "- Always run `make test` before committing.\n"
                "- Never push to main directly.\n- Prefer small pull requests.\n"
                "- Don't add dependencies without asking.\n- The user prefers British spelling.\n")
    f = finding({"notes/working-agreements.md": rules})
    assert (f.code, f.path) == ("misplaced-outside-system", "notes/working-agreements.md")
    assert f.fix is not None and f.fix.data == {"target": "system/notes/working-agreements.md"}


def test_a_described_preferences_file_with_a_few_rules():
    text = doc("The user's preferences for reviews.", "Reviews happen in the morning.\n\n"
               "- Always include a test plan.\n- Never squash commits from others.\n\nContext on why below.\n")
    assert run({"projects/reviews.md": text}) == [("misplaced-outside-system", "projects/reviews.md")]


def test_quiet_on_reference_docs_archives_and_skills():
    reference = doc("Payments glossary.", "A settlement is a batch of captures.\n\n"
                    "Refunds always reference the original capture id.\n\nChargebacks are disputes.\n")
    rules = "- Always run the tests.\n- Never push to main.\n- Prefer rebase.\n- Don't skip review.\n"
    assert run({
        "reference/glossary.md": reference,
        "ARCHIVE.md": doc("Retired context.", rules),
        "archive/2023/old-rules.md": doc("Old rules.", rules),
        "skills/deploy/SKILL.md": "---\nname: deploy\ndescription: Deploy the service.\n---\n" + rules,
    }) == []
