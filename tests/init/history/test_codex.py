"""Reading Codex rollouts: the bare 2025 format, the wrapped one, newer fields, forks, damage."""

from __future__ import annotations

import json
from pathlib import Path

from letta_ls.init.history import ReadLimits, read_codex_rollout
from tests.init.conftest import CODEX_BARE, CODEX_NEW, CODEX_WRAPPED, PROJECT, SECRETS, codex_file

LIMITS = ReadLimits()


def write_rollout(tmp_path: Path, name: str, lines: list[dict]) -> Path:
    path = tmp_path / f"rollout-2026-03-01T10-00-00-{name}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def line(ts: str, kind: str, payload: dict) -> dict:
    return {"timestamp": ts, "type": kind, "payload": payload}


def test_a_bare_2025_rollout_gets_its_cwd_from_the_environment_context(home: Path):
    session = read_codex_rollout(codex_file(home, CODEX_BARE), LIMITS)
    assert (session.source, session.id, session.cwd, session.git_branch) == ("codex", CODEX_BARE, PROJECT, "main")
    assert [m.text for m in session.user_messages()] == [
        "Write a migration that adds an idempotency_key column to orders",
        "make it NOT NULL with a unique index, the app always sends the header",
    ]  # <user_instructions> and <environment_context> are the harness's, not the user's
    commands = [c.command for c in session.tool_calls() if c.command]
    assert commands == ["ls migrations", "pnpm db:migrate"]
    patch = next(c for c in session.tool_calls() if c.edits)
    assert patch.paths == ("migrations/0003_idempotency.sql",)
    failed = [m for m in session.messages if m.role == "tool" and m.is_error]
    assert len(failed) == 1 and "contains null values" in failed[0].text  # exit_code 1 in the JSON metadata
    assert session.notes == []  # {"record_type": "state"} lines are bookkeeping, not damage


def test_a_wrapped_rollout_does_not_count_the_users_words_twice(home: Path):
    session = read_codex_rollout(codex_file(home, CODEX_WRAPPED), LIMITS)
    assert [m.text for m in session.user_messages()] == [
        "Refactor src/services/refunds.ts to use the Money type from src/lib/money.ts",
        "stop running the whole suite, it takes minutes. Run only pnpm vitest run src/services",
        "commit it",
    ]
    assert [m.text for m in session.messages if m.role == "assistant" and m.text].count(
        "The test calls refund with a number; updating it to pass Money.cents(250).") == 1
    assert session.model == "gpt-5-codex" and session.git_branch == "feat/refunds"
    assert [c.paths for c in session.tool_calls() if c.edits] == [("src/services/refunds.ts",)]
    assert [m.tool_name for m in session.messages if m.is_error] == ["shell"]


def test_compaction_unknown_lines_and_a_cut_off_last_line(home: Path):
    session = read_codex_rollout(codex_file(home, CODEX_WRAPPED), LIMITS)
    assert session.compactions == 1  # the compacted line and its context_compacted event are one compaction
    summary = [m for m in session.messages if m.kind == "compaction-summary"]
    assert len(summary) == 1 and summary[0].text.startswith("Refactored refund() to take Money")
    assert "1 malformed line skipped" in session.notes
    assert "skipped lines of unknown type: x_future_line" in session.notes


def test_a_recent_rollout_drops_injected_context_and_redacts_printed_keys(home: Path):
    session = read_codex_rollout(codex_file(home, CODEX_NEW), LIMITS)
    assert session.cwd == f"{PROJECT}/web" and session.model == "gpt-5.2-codex"
    said = [m.text for m in session.user_messages()]
    assert said == ["The checkout button is misaligned on mobile. Fix it with Tailwind classes, not inline styles.",
                    "Please never print environment variables again, they contain live keys."]
    assert [c.command for c in session.tool_calls() if c.command] == ["env | grep -i key", "pnpm --filter web test"]
    assert not any(m.is_error for m in session.messages)  # "Exit code: 0"
    text = "\n".join(m.text for m in session.messages)
    assert not any(secret in text for secret in SECRETS)
    assert "OPENAI_API_KEY=[REDACTED]" in text and "GITHUB_TOKEN=[REDACTED]" in text
    assert session.messages[-1].kind == "interrupted"


def test_a_rollout_with_only_events_still_has_its_conversation(tmp_path: Path):
    path = write_rollout(tmp_path, "019c0000-0000-7000-8000-000000000001", [
        line("2026-03-01T10:00:00Z", "session_meta", {"id": "s-events", "timestamp": "2026-03-01T10:00:00Z",
                                                      "cwd": PROJECT, "history_mode": "paginated"}),
        line("2026-03-01T10:00:01Z", "event_msg", {"type": "user_message", "message": "rename Order to Purchase"}),
        line("2026-03-01T10:00:09Z", "event_msg", {"type": "agent_message", "message": "Renamed in 14 files."}),
    ])
    session = read_codex_rollout(path, LIMITS)
    assert [(m.role, m.text) for m in session.messages] == [("user", "rename Order to Purchase"),
                                                            ("assistant", "Renamed in 14 files.")]


def test_a_fork_skips_the_parent_history_it_replays(tmp_path: Path):
    path = write_rollout(tmp_path, "019c0000-0000-7000-8000-000000000002", [
        line("2026-03-01T10:00:00Z", "session_meta", {"id": "child", "timestamp": "2026-03-01T10:00:00Z",
                                                      "cwd": PROJECT, "forked_from_id": "parent"}),
        line("2026-02-27T09:00:00Z", "session_meta", {"id": "parent", "timestamp": "2026-02-27T09:00:00Z",
                                                      "cwd": PROJECT}),
        line("2026-02-27T09:00:05Z", "response_item", {"type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": "parent's ask"}]}),
        line("2026-03-01T10:00:05Z", "response_item", {"type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": "child's ask"}]}),
    ])
    session = read_codex_rollout(path, LIMITS)
    assert session.id == "child"
    assert [m.text for m in session.user_messages()] == ["child's ask"]
    assert "skipped 1 line replayed from the session it was forked from" in session.notes


def test_a_subagent_rollout_names_its_parent_thread(tmp_path: Path):
    path = write_rollout(tmp_path, "019c0000-0000-7000-8000-000000000003", [
        line("2026-03-01T10:00:00Z", "session_meta", {
            "id": "sub", "timestamp": "2026-03-01T10:00:00Z", "cwd": PROJECT,
            "source": {"subagent": {"thread_spawn": {"parent_thread_id": "main-thread", "depth": 1}}}}),
        line("2026-03-01T10:00:01Z", "response_item", {"type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": "scan src/"}]}),
    ])
    session = read_codex_rollout(path, LIMITS)
    assert session.is_subagent and session.parent_id == "main-thread"


def test_local_shell_calls_and_json_string_outputs_with_failures(tmp_path: Path):
    path = write_rollout(tmp_path, "019c0000-0000-7000-8000-000000000004", [
        line("2026-03-01T10:00:00Z", "session_meta", {"id": "s", "timestamp": "2026-03-01T10:00:00Z", "cwd": PROJECT}),
        line("2026-03-01T10:00:01Z", "response_item", {"type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": "run the linter"}]}),
        line("2026-03-01T10:00:02Z", "response_item", {
            "type": "local_shell_call", "call_id": "c1", "status": "completed",
            "action": {"type": "exec", "command": ["bash", "-lc", "pnpm lint"], "working_directory": PROJECT}}),
        line("2026-03-01T10:00:03Z", "response_item", {"type": "function_call_output", "call_id": "c1",
                                                       "output": "Exit code: 2\nOutput:\n3 problems (3 errors)"}),
    ])
    session = read_codex_rollout(path, LIMITS)
    assert [c.command for c in session.tool_calls()] == ["pnpm lint"]
    result = session.messages[-1]
    assert result.is_error and result.tool_name == "local_shell"
