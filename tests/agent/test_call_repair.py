"""The embedded model's near-miss memory calls, repaired before the memory tool runs them (real git repository)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.agent.call_repair import normalise_path
from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.providers.local_prompt import EXAMPLE_TEXTS
from letta_ls.agent.tools import Toolbox
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import MemoryRepo
from tests.conftest import AGENT


def toolbox(repo: MemoryRepo, tmp_path: Path, *, repair: bool) -> Toolbox:
    return Toolbox(MemoryOperations(repo, AGENT), ConversationStore(tmp_path / "conversations"),
                   repair_examples=EXAMPLE_TEXTS if repair else None)


def body(repo: MemoryRepo, path: str) -> str:
    return repo.snapshot().get(path).text


def repaired(repo: MemoryRepo, tmp_path: Path, call: dict[str, Any]):
    """Run a memory call the way the embedded model's calls run (repaired first); it must succeed."""
    outcome = toolbox(repo, tmp_path, repair=True).run("memory", call)
    assert not outcome.is_error, outcome.text
    return outcome


def test_a_create_of_an_existing_file_adds_the_text_at_its_end(repo: MemoryRepo, tmp_path: Path) -> None:
    before = repo.head()
    outcome = repaired(repo, tmp_path, {
        "command": "create", "file_path": "system/human.md", "description": "About the user",
        "file_text": "The user always uses pnpm in this repo.", "reason": "remember pnpm"})
    text = body(repo, "system/human.md")
    assert text.endswith("The user likes short answers.\nThe user always uses pnpm in this repo.\n")
    assert "description: What I know about the user." in text  # the file's own description is kept
    assert repo.head() != before and "added at its end" in outcome.text


def test_without_repair_the_same_call_is_refused_as_the_contract_says(repo: MemoryRepo, tmp_path: Path) -> None:
    outcome = toolbox(repo, tmp_path, repair=False).run("memory", {
        "command": "create", "file_path": "system/human.md", "description": "About the user",
        "file_text": "pnpm", "reason": "remember pnpm"})
    assert outcome.is_error and "already exists" in outcome.text


@pytest.mark.parametrize("raw", ["/system/human.md", "memory/system/human", " system/human ", "./system//human.md",
                                 "$MEMORY_DIR/system/human.md", "/memory/system/human.md"])
def test_paths_the_model_writes_oddly_land_on_the_memory_file(repo: MemoryRepo, tmp_path: Path, raw: str) -> None:
    repaired(repo, tmp_path, {
        "command": "str_replace", "file_path": raw, "old_string": "short answers", "new_string": "long answers",
        "reason": "the user changed their mind"})
    assert "The user likes long answers." in body(repo, "system/human.md")


def test_an_absolute_path_inside_the_memory_folder_is_made_relative(repo: MemoryRepo, tmp_path: Path) -> None:
    repaired(repo, tmp_path, {
        "command": "create", "file_path": f"{repo.path.resolve()}/system/human.md", "description": "x",
        "file_text": "Prefers pnpm.", "reason": "remember pnpm"})
    assert body(repo, "system/human.md").endswith("Prefers pnpm.\n")


def test_a_new_file_at_an_absolute_path_is_created_under_memory(repo: MemoryRepo, tmp_path: Path) -> None:
    repaired(repo, tmp_path, {
        "command": "create", "file_path": "/project/tools.md", "description": "Tools this project uses",
        "file_text": "- pnpm", "reason": "remember the package manager"})
    assert "- pnpm" in body(repo, "project/tools.md")
    assert not (tmp_path.parent / "project").exists()


def test_an_old_string_differing_only_in_case_and_spacing_is_found(repo: MemoryRepo, tmp_path: Path) -> None:
    repaired(repo, tmp_path, {
        "command": "str_replace", "file_path": "system/human.md", "old_string": "the user  likes SHORT answers",
        "new_string": "The user likes detailed answers", "reason": "the user changed their mind"})
    assert "The user likes detailed answers." in body(repo, "system/human.md")


def test_a_worked_examples_text_copied_word_for_word_is_refused(repo: MemoryRepo, tmp_path: Path) -> None:
    before = repo.head()
    outcome = toolbox(repo, tmp_path, repair=True).run("memory", {
        "command": "create", "file_path": "system/project.md", "description": "Facts about this project",
        "file_text": "- API handlers live in src/api/.", "reason": "Where the API handlers are"})
    assert outcome.is_error and "worked example" in outcome.text and repo.head() == before


def test_a_path_that_climbs_out_is_still_refused(repo: MemoryRepo, tmp_path: Path) -> None:
    before = repo.head()
    outcome = toolbox(repo, tmp_path, repair=True).run("memory", {
        "command": "create", "file_path": "../outside.md", "description": "x", "file_text": "x", "reason": "x"})
    assert outcome.is_error and repo.head() == before


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="/.\\ abcmemory$_{}`-", max_size=40))
def test_normalised_paths_never_start_with_a_slash_or_hold_empty_segments(raw: str) -> None:
    path = normalise_path(raw, lambda _: False)
    assert not path.startswith("/") and "//" not in path
    assert all(part not in ("", ".") for part in path.split("/")) or path == ""


def test_inserting_a_line_the_file_already_has_is_refused_with_the_str_replace_to_make(repo: MemoryRepo,
                                                                                        tmp_path: Path) -> None:
    """Asked to correct "written in Rust", the 0.5B model re-inserted that very line (issue 17's correct kind)."""
    before = repo.head()
    outcome = toolbox(repo, tmp_path, repair=True).run("memory", {
        "command": "insert", "file_path": "system/human.md", "insert_line": 0,
        "insert_text": "The user likes short answers.", "reason": "correction"})
    assert outcome.is_error and repo.head() == before
    assert "str_replace" in outcome.text and "'The user likes short answers.'" in outcome.text
    added = toolbox(repo, tmp_path, repair=True).run("memory", {
        "command": "insert", "file_path": "system/human.md", "insert_line": 0,
        "insert_text": "The user likes long answers.", "reason": "a new fact"})
    assert not added.is_error and repo.head() != before


def test_an_insert_into_a_file_that_does_not_exist_creates_it(repo: MemoryRepo, tmp_path: Path) -> None:
    """The 1.5B model inserted into system/project.md before it existed, twice, and nothing was stored."""
    outcome = toolbox(repo, tmp_path, repair=True).run("memory", {
        "command": "insert", "file_path": "system/project.md", "insert_line": 0,
        "insert_text": "- Always use pnpm in this repo.", "reason": "package manager"})
    assert not outcome.is_error, outcome.text
    assert body(repo, "system/project.md").endswith("- Always use pnpm in this repo.\n")
    assert "did not exist" in outcome.text
