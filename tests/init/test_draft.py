"""The no-model /init draft: memory the doctor accepts, linked, sized, and safe to run twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from letta_ls.doctor import audit
from letta_ls.init.draft import draft_memory, slugify
from letta_ls.init.history import read_history
from letta_ls.init.questions import WorkingStyle
from letta_ls.init.workspace import inspect_workspace
from letta_ls.memfs.frontmatter import parse_document
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.settings import MemorySettings
from tests.init.conftest import PROJECT, SECRETS
from tests.init.helpers import assert_links_resolve
from tests.init.workspaces import GH_TOKEN, NPM_TOKEN, make_node_workspace, make_python_workspace, write

PRESETS = Path(__file__).resolve().parents[2] / "letta_ls" / "presets"
SEEDED = {
    "system/persona.md": (PRESETS / "default.persona.md").read_text(),
    "system/human.md": (PRESETS / "default.human.md").read_text(),
}
STYLE = WorkingStyle(replies="terse", autonomy="ask", commits="user")


@pytest.fixture
def shop_facts(tmp_path: Path):
    return inspect_workspace([make_node_workspace(tmp_path / "shop-api")])


@pytest.fixture
def sessions(sources, matcher):
    return read_history(matcher, sources).sessions


def memory_after(draft, existing=SEEDED) -> dict[str, str]:
    return {**existing, **draft.files}


def assert_doctor_is_happy(files: dict[str, str], settings: MemorySettings | None = None) -> None:
    findings = audit(MemorySnapshot.from_mapping(files), settings).findings
    assert [(f.code, f.path, f.message) for f in findings] == []


def test_the_draft_is_named_after_the_project_and_passes_the_doctor(shop_facts, sessions):
    draft = draft_memory(shop_facts, style=STYLE, sessions=sessions, existing=SEEDED, roots=[PROJECT])
    assert sorted(draft.files) == ["reference/shop-api/ci.md", "reference/shop-api/history.md",
                                   "reference/shop-api/layout.md", "system/human.md", "system/project/shop-api.md"]
    assert draft.projects == ("system/project/shop-api.md",)
    files = memory_after(draft)
    assert_doctor_is_happy(files)
    assert assert_links_resolve(MemorySnapshot.from_mapping(files)) >= 7
    for path in draft.files:
        description = parse_document(draft.files[path]).description
        assert description and "\n" not in description


def test_the_project_file_holds_commands_conventions_and_what_the_user_said(shop_facts, sessions):
    text = draft_memory(shop_facts, sessions=sessions, existing=SEEDED, roots=[PROJECT]).files[
        "system/project/shop-api.md"]
    body = parse_document(text).body
    assert body.startswith("# shop-api\n\nOrder, payment and refund API for the Ada shop mobile app\n")
    assert "- Test: `make test`, `pnpm test`" in body
    assert "- Lint: `make lint`, `pnpm lint`" in body
    assert "- Use pnpm, never npm or yarn: this is a pnpm workspace." in body  # from AGENTS.md
    assert "- Don't touch `migrations/` without asking." in body  # from CLAUDE.md
    assert "[[reference/shop-api/ci]] (build and CI)" in body
    assert "- “Keep answers short please.” (Claude Code, 2026-01-20)" in body  # the sentence that matters
    assert "- “stop running the whole suite, it takes minutes. Run only pnpm vitest run src/services” (Codex" in body
    assert len(body) <= 2800
    assert body.count("Conventional Commits") == 1  # the history says so and AGENTS.md says so: once


def test_the_history_reference_lists_requests_commands_files_and_errors(shop_facts, sessions):
    text = draft_memory(shop_facts, sessions=sessions, existing=SEEDED, roots=[PROJECT]).files[
        "reference/shop-api/history.md"]
    assert "6 sessions (3 Codex, 3 Claude Code) from 2025-08-14 to 2026-02-03" in text
    assert "- 2025-08-14 (Codex): Write a migration that adds an idempotency_key column to orders" in text
    assert "- `pnpm test`: 4 times" in text
    assert "- `web/src/pages/Checkout.tsx`: once" in text
    assert '- `pnpm db:migrate`: error: column "idempotency_key" of relation "orders" contains null values' in text


def test_the_user_is_described_from_git_and_their_answers(shop_facts):
    draft = draft_memory(shop_facts, style=STYLE, existing=SEEDED)
    human = draft.files["system/human.md"]
    assert human.startswith("---\ndescription: What I have learned about the person I work with")  # kept as it was
    body = parse_document(human).body
    assert "I haven't met the user yet." not in body
    assert "## Identity (from git)\n\n- Name: Ada Lovelace (git email ada@example.org).\n" in body
    assert "- Works on [[system/project/shop-api]]: wrote 3 of its 4 commits, its main author." in body
    assert "## Working style (from /init)\n\n- Prefers short, direct replies" in body
    assert "- Makes the commits themselves: I leave my changes uncommitted for them to review." in body
    assert "As we work together I will note here" in body  # the rest of the user's file is kept


def test_running_init_again_updates_its_sections_instead_of_adding_them_twice(shop_facts, sessions):
    first = memory_after(draft_memory(shop_facts, style=STYLE, sessions=sessions, existing=SEEDED))
    again = draft_memory(shop_facts, style=WorkingStyle(replies="detailed"), sessions=sessions, existing=first)
    human = again.files["system/human.md"]
    assert human.count("## Identity (from git)") == 1 and human.count("## Working style (from /init)") == 1
    assert "Prefers detailed replies" in human and "Prefers short, direct replies" not in human
    for path, text in again.files.items():
        if path != "system/human.md":
            assert text == first[path]  # same facts, same file
    assert_doctor_is_happy({**first, **again.files})


def test_a_user_edited_description_and_a_read_only_file_are_respected(shop_facts):
    first = memory_after(draft_memory(shop_facts, existing=SEEDED))
    first["system/project/shop-api.md"] = first["system/project/shop-api.md"].replace(
        "description: What shop-api", "description: My notes on what shop-api", 1)
    first["system/human.md"] = "---\ndescription: About me.\nread_only: true\n---\nI am Ada.\n"
    again = draft_memory(shop_facts, style=STYLE, existing=first)
    assert parse_document(again.files["system/project/shop-api.md"]).description.startswith("My notes on")
    assert "system/human.md" not in again.files
    assert "`system/human.md` is read-only, so /init left it as it is." in again.notes


def test_names_already_taken_in_memory_do_not_clash(shop_facts):
    existing = {**SEEDED, "system/project.md": "---\ndescription: An old project note.\n---\nOld.\n",
                "reference/shop-api.md": "---\ndescription: Old reference.\n---\nOld.\n"}
    draft = draft_memory(shop_facts, existing=existing)
    assert "system/shop-api.md" in draft.files
    assert "reference/shop-api-project/layout.md" in draft.files
    files = {**existing, **draft.files}
    assert_doctor_is_happy(files)
    assert_links_resolve(MemorySnapshot.from_mapping(files))


def test_sizes_follow_the_memory_settings(shop_facts, sessions):
    settings = MemorySettings(fileTokenLimit=500)
    draft = draft_memory(shop_facts, style=STYLE, sessions=sessions, existing=SEEDED, settings=settings)
    files = memory_after(draft)
    assert_doctor_is_happy(files, settings)
    assert "(More was left out to keep this file small" in draft.files["reference/shop-api/history.md"]


def test_a_folder_with_nothing_in_it_still_gets_a_small_valid_draft(tmp_path: Path):
    bare = tmp_path / "scratch"
    bare.mkdir()
    draft = draft_memory(inspect_workspace([bare]), existing=SEEDED)
    assert sorted(draft.files) == ["reference/scratch/layout.md", "system/project/scratch.md"]  # no identity, no style
    assert "(not a git repository)" in draft.files["system/project/scratch.md"]
    assert_doctor_is_happy(memory_after(draft))


def test_several_folders_get_a_project_file_each(tmp_path: Path):
    facts = inspect_workspace([make_node_workspace(tmp_path / "shop-api"), make_python_workspace(tmp_path / "ledger")])
    draft = draft_memory(facts, style=STYLE, existing=SEEDED)
    assert draft.projects == ("system/project/shop-api.md", "system/project/ledger.md")
    assert "- Test: `uv run pytest`" in draft.files["system/project/ledger.md"]
    assert_doctor_is_happy(memory_after(draft))
    assert_links_resolve(MemorySnapshot.from_mapping(memory_after(draft)))


def test_an_empty_memory_gets_a_human_file_of_its_own(shop_facts):
    draft = draft_memory(shop_facts, style=STYLE, existing={})
    human = parse_document(draft.files["system/human.md"])
    assert human.description.startswith("What I have learned about the user")
    assert human.body.startswith("## Identity (from git)")


def test_rule_heavy_instructions_stay_in_system_and_the_draft_stays_quiet(tmp_path: Path):
    root = make_python_workspace(tmp_path / "ledger")
    rules = "".join(f"- Always do thing number {n} before merging, never skip it.\n" for n in range(60))
    write(root, {"AGENTS.md": rules, "CONVENTIONS.md": "Use attrs, not dataclasses. Never use print.\n" * 30})
    draft = draft_memory(inspect_workspace([root]), style=STYLE, existing=SEEDED)
    body = parse_document(draft.files["system/project/ledger.md"]).body
    assert body.count("- Always do thing number") == 10
    assert_doctor_is_happy(memory_after(draft))


def test_the_draft_is_a_pure_function_of_its_inputs(shop_facts, sessions):
    one = draft_memory(shop_facts, style=STYLE, sessions=sessions, existing=SEEDED)
    two = draft_memory(shop_facts, style=STYLE, sessions=sessions, existing=SEEDED)
    assert one == two


def test_no_secret_reaches_the_draft(shop_facts, sessions):
    draft = draft_memory(shop_facts, style=STYLE, sessions=sessions, existing=SEEDED)
    text = "\n".join(draft.files.values())
    assert not any(secret in text for secret in (*SECRETS, NPM_TOKEN, GH_TOKEN))


def test_the_report_lists_what_was_written(shop_facts):
    draft = draft_memory(shop_facts, style=STYLE, existing=SEEDED)
    report = draft.report()
    assert report.startswith("Wrote 4 memory files:")
    assert "- `system/project/shop-api.md`: What shop-api is, how to build, test and lint it" in report
    assert draft.reason == "init: memory for shop-api from the workspace"


@pytest.mark.parametrize(("name", "slug"), [
    ("@ada-l/shop-api", "shop-api"), ("Shop API", "shop-api"), ("github.com/ada-l/shopd", "shopd"),
    ("ünïcødé", "n-c-d"), ("***", "project"),
])
def test_project_names_become_file_names(name, slug):
    assert slugify(name) == slug


def test_letta_ls_doctor_reports_nothing_on_the_written_draft(tmp_path: Path, shop_facts, sessions):
    """The same check a user runs: write the draft into a memory folder, run ``letta-ls doctor`` on it."""
    files = memory_after(draft_memory(shop_facts, style=STYLE, sessions=sessions, existing=SEEDED, roots=[PROJECT]))
    memory = tmp_path / "memory"
    for path, text in files.items():
        (memory / path).parent.mkdir(parents=True, exist_ok=True)
        (memory / path).write_text(text)
    done = subprocess.run([sys.executable, "-m", "letta_ls", "doctor", str(memory), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["findings"] == []
