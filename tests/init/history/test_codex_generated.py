"""Rollouts the real Codex CLI wrote here, offline, against a scripted model (samples/real/codex-generated/).

No licensed real rollout of two kinds was found published: the bare format of codex-rs's first months
(``{"record_type":"state"}`` lines) and a rollout with a compaction. ``generate.sh`` runs the Codex releases of
npm (0.29.0 and 0.171.0) on a small git project; the scripted model only says what it types, runs and patches.
What the tests expect was counted from the files' lines (see ``COUNTED`` in test_real_fixtures.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from letta_ls.init.draft import draft_memory
from letta_ls.init.history import HistorySources, ProjectMatcher, ReadLimits, read_codex_rollout, read_history
from letta_ls.init.workspace import inspect_workspace

GENERATED = Path(__file__).parent.parent / "samples" / "real" / "codex-generated"
LIMITS = ReadLimits()
OLDEST_ID = "8c4b94c7-e953-4851-893d-5d2f997a5139"
OLD_PROJECT = "/home/user/projects/greeter-0.29"
OLD_ID, RESUMED_ID = "858ac4c1-028b-40ee-ac71-290c59d1cbf4", "918c1ae0-d3e0-45c4-9717-2ebe9bd0ff6b"
MID_PROJECT = "/home/user/projects/greeter-0.77"
MID_ROLLOUT = "rollout-2026-12-06T08-01-28-01a24a5f-47e5-7530-8982-c0a05898cb04.jsonl"
COMPACTED_PROJECT = "/home/user/projects/greeter-0.171"
COMPACTED_ROLLOUT = "rollout-2026-12-06T07-49-41-01a24a54-7f84-7f02-b11e-bb7e084623c9.jsonl"
PROMPTS = ["Fix the typo in README.md", "Add a test for greet"]
SUMMARY = "Summary of the work so far"  # what the scripted model answered Codex's compaction prompt
# text Codex writes as user-role (or developer) messages, or its compaction prompt and preamble
HARNESS_TEXT = ("<environment_context>", "<cwd>", "<skills_instructions>", "CONTEXT CHECKPOINT", "AGENTS.md",
                "Another language model started", SUMMARY, "approval_policy")


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    """A home holding the generated rollouts where Codex puts them."""
    home = tmp_path / "home"
    day = home / ".codex" / "sessions" / "2026" / "12" / "06"
    day.mkdir(parents=True)
    for rollout in GENERATED.glob("rollout-*.jsonl"):
        shutil.copy(rollout, day / rollout.name)
    return home


def test_a_resumed_bare_rollout_keeps_only_what_was_said_after_the_resume(codex_home: Path):
    """0.29 writes a resumed session as a new rollout that first replays the one it resumes (items without
    a state line between them, and without timestamps in that format): the typed prompt, calls and edits of
    the first session are that session's, so across the two files each prompt is kept once."""
    history = read_history(ProjectMatcher.for_folders([OLD_PROJECT]), HistorySources.from_home(codex_home, env={}))
    sessions = sorted(history.main_sessions(), key=lambda s: s.id)
    assert [s.id for s in sessions] == [OLD_ID, RESUMED_ID]
    assert [m.text for s in sessions for m in s.user_messages()] == PROMPTS
    assert [len(s.tool_calls()) for s in sessions] == [3, 2]


@pytest.mark.parametrize(("remote", "expected"), [
    ("https://github.com/example/greeter-0.29", [OLD_ID, RESUMED_ID]),
    # 0.20 kept no <environment_context>: the rollout names no folder, its git remote is all that tells the project
    ("git@github.com:example/greeter-0.20.git", [OLDEST_ID]),
])
def test_bare_rollouts_are_matched_by_their_git_remote_alone(codex_home: Path, remote: str, expected: list[str]):
    matcher = ProjectMatcher.for_folders(["/elsewhere/greeter"], remotes=[remote])
    history = read_history(matcher, HistorySources.from_home(codex_home, env={}))
    assert sorted(s.id for s in history.main_sessions()) == expected


def test_a_bare_rollout_resumed_in_place_keeps_both_prompts_once():
    """0.20 appends a resumed session to its own rollout, its first prompt before the second state line and
    no model output there: nothing in it is a replay."""
    [rollout] = GENERATED.glob(f"rollout-*-{OLDEST_ID}.jsonl")
    session = read_codex_rollout(rollout, LIMITS)
    assert [m.text for m in session.user_messages()] == PROMPTS
    assert session.cwd is None and session.notes == [] and len(session.tool_calls()) == 5


def test_the_compaction_summary_is_neither_a_prompt_nor_a_reply():
    """Codex 0.171 asks the model for a summary before the second prompt: the model's answer is written as an
    assistant message, then again (after Codex's preamble) in the ``compacted`` line, whose replacement
    history repeats the first prompt. The summary is kept once, as the compaction's; the prompts once each."""
    session = read_codex_rollout(GENERATED / COMPACTED_ROLLOUT, LIMITS)
    assert session.compactions == 1
    assert [m.text for m in session.user_messages()] == PROMPTS
    [summary] = [m for m in session.messages if m.kind == "compaction-summary"]
    assert SUMMARY in summary.text and not summary.from_user
    assert [m.text for m in session.messages if m.role == "assistant" and m.text] == [
        "Fixed the typo in README.md: the heading now says \"hello\".", "Added test_greet.py with one test of greet()."]


def test_a_compaction_within_a_turn_is_one_compaction_and_no_prompt():
    """0.77 compacts between a call and its output: a ``compacted`` line (only its ``message``) and a
    ``context_compacted`` event, one compaction; the turn's prompt stays the user's, once."""
    session = read_codex_rollout(GENERATED / MID_ROLLOUT, LIMITS)
    assert session.compactions == 1
    assert [m.text for m in session.user_messages()] == PROMPTS
    assert [m.kind for m in session.messages if m.role == "user" and not m.from_user] == ["compaction-summary"]
    assert [c.name for c in session.tool_calls()] == ["shell_command", "shell_command", "apply_patch",
                                                      "shell_command", "apply_patch"]


def test_line_types_a_current_codex_adds_are_skipped_without_a_warning():
    """``token_usage_record`` (0.171: one per model response) and ``world_state`` lines are bookkeeping."""
    session = read_codex_rollout(GENERATED / COMPACTED_ROLLOUT, LIMITS)
    assert session.notes == []


@pytest.mark.parametrize(("project", "remote"), [
    (OLD_PROJECT, None), (MID_PROJECT, None), (COMPACTED_PROJECT, None),
    ("/home/user/projects/greeter-0.20", "https://github.com/example/greeter-0.20.git"),
])
def test_init_without_a_model_writes_each_typed_prompt_and_no_harness_text(codex_home: Path, tmp_path: Path,
                                                                          project: str, remote: str | None):
    workspace = tmp_path / Path(project).name
    workspace.mkdir()
    (workspace / "README.md").write_text("# Greeter: says hello\n")
    matcher = ProjectMatcher.for_folders([project], remotes=[remote] if remote else [])
    history = read_history(matcher, HistorySources.from_home(codex_home, env={}))
    assert history.main_sessions()
    draft = draft_memory(inspect_workspace([workspace]), sessions=history.sessions, roots=[project])
    [note] = [text for path, text in draft.files.items() if path.endswith("/history.md")]
    for prompt in PROMPTS:
        assert note.count(prompt) == 1, prompt  # once, though a resumed rollout repeats it
    for harness in HARNESS_TEXT:
        assert harness not in note, harness


def test_a_folder_recorded_as_a_file_url_is_that_folder_not_one_relative_to_where_init_runs(
        codex_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """0.171 writes each command's ``cwd`` in its ``item_completed`` events as a URL
    (``"cwd":"file:///home/user/projects/greeter-0.171"``). Read as a path it is relative, so it was resolved
    against the folder /init ran in: the session then belonged to whatever project /init was run for."""
    monkeypatch.chdir(tmp_path)
    history = read_history(ProjectMatcher.for_folders([tmp_path]), HistorySources.from_home(codex_home, env={}))
    assert history.main_sessions() == []
    history = read_history(ProjectMatcher.for_folders(["/home/user/projects"]),
                           HistorySources.from_home(codex_home, env={}))
    assert COMPACTED_ROLLOUT.removesuffix(".jsonl").endswith(
        next(s.id for s in history.main_sessions() if s.cwd == COMPACTED_PROJECT))


def test_a_reply_the_summary_only_quotes_is_kept(tmp_path: Path):
    """Only the model's answer to the summarising prompt ends the ``compacted`` message; a reply before a
    compaction that the summary merely quotes is still the agent's reply."""
    reply = "Fixed the typo in README.md."
    lines = [
        {"timestamp": "2026-12-06T08:00:00Z", "type": "session_meta", "payload": {"id": "s", "cwd": "/p"}},
        {"timestamp": "2026-12-06T08:00:01Z", "type": "response_item", "payload": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": PROMPTS[0]}]}},
        {"timestamp": "2026-12-06T08:00:02Z", "type": "response_item", "payload": {
            "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": reply}]}},
        {"timestamp": "2026-12-06T08:00:03Z", "type": "compacted", "payload": {
            "message": f"Here is the summary: the agent said \"{reply}\" Next: the tests."}},
    ]
    path = tmp_path / "rollout-2026-12-06T08-00-00-s.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    session = read_codex_rollout(path, LIMITS)
    assert [m.text for m in session.messages if m.role == "assistant"] == [reply]
