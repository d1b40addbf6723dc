"""Reading Claude Code transcripts: the folder naming rule, every record shape, secrets, damage."""

from __future__ import annotations

from pathlib import Path

from letta_ls.init.history import ReadLimits, encode_project_dir, read_claude_session
from letta_ls.init.history.claude_code import project_dir_matches
from tests.init.conftest import PROJECT, S1, S2, S3, SECRETS, claude_file

LIMITS = ReadLimits()


def every_text(session) -> str:
    parts = [session.title or ""]
    for message in session.messages:
        parts.append(message.text)
        for call in message.tool_calls:
            parts += [call.arguments, call.command or "", *call.paths]
    return "\n".join(parts)


def test_the_project_folder_name_replaces_every_non_alphanumeric_character():
    assert encode_project_dir("/home/ada/code/shop-api") == "-home-ada-code-shop-api"
    assert encode_project_dir("/Users/me/my_app.v2") == "-Users-me-my-app-v2"
    assert encode_project_dir("/home/zoë/café") == "-home-zo--caf-"
    assert encode_project_dir("/home/u/🚀x") == "-home-u---x"  # outside the BMP: two UTF-16 units, two dashes
    assert encode_project_dir("C:\\Users\\ada\\shop") == "C--Users-ada-shop"


def test_a_long_project_path_matches_its_folder_cut_at_200_characters_with_a_hash():
    path = "/srv/" + "very-long-folder-name/" * 12 + "app"
    encoded = encode_project_dir(path)
    assert len(encoded) > 200
    assert project_dir_matches(encoded[:200] + "-k3x9q1", encoded)
    assert not project_dir_matches(encoded[:200], encoded)
    assert not project_dir_matches("-srv-other", encoded)


def test_a_session_becomes_user_assistant_and_tool_messages(home: Path):
    session = read_claude_session(claude_file(home, S1), LIMITS)
    assert session.source == "claude-code" and session.id == S1
    assert session.cwd == PROJECT and session.git_branch == "main"
    assert session.model == "claude-sonnet-4-5-20250929"
    assert session.title == "Idempotency keys for POST /orders"
    assert session.started_at is not None and session.ended_at > session.started_at
    assert session.first_prompt.startswith("Add idempotency keys to POST /orders")
    said = [m.text for m in session.user_messages()]
    assert said[1] == "no, use pnpm, not npm. This repo is a pnpm workspace."
    assert not any("Caveat:" in text or "local-command-stdout" in text for text in said)  # harness bookkeeping
    kinds = [(m.kind, m.text) for m in session.messages if m.role == "user" and m.kind != "text"]
    assert ("command", "/clear") in kinds
    assert ("interrupted", "[Request interrupted by user for tool use]") in kinds
    commands = [c.command for c in session.tool_calls() if c.command]
    assert commands[:3] == ["npm test -- orders", "pnpm test -- orders", "pnpm test -- orders"]
    edits = [c for c in session.tool_calls() if c.edits]
    assert [(c.name, c.paths) for c in edits] == [("Edit", (f"{PROJECT}/src/routes/orders.ts",))]
    failed = [m for m in session.messages if m.role == "tool" and m.is_error]
    assert [m.tool_name for m in failed] == ["Bash", "Bash"]
    assert "AssertionError: expected 201 to be 409" in failed[1].text


def test_one_reply_written_as_several_records_is_one_message(home: Path):
    session = read_claude_session(claude_file(home, S1), LIMITS)
    first_reply = next(m for m in session.messages if m.role == "assistant")
    assert first_reply.text == "I'll read the orders route and the redis client first."
    assert [c.name for c in first_reply.tool_calls] == ["Read"]


def test_secrets_in_tool_output_never_leave_the_reader(home: Path):
    session = read_claude_session(claude_file(home, S1), LIMITS)
    text = every_text(session)
    assert not any(secret in text for secret in SECRETS)
    assert "STRIPE_SECRET_KEY=[REDACTED]" in text
    assert "postgres://shop:[REDACTED]@localhost" in text


def test_a_line_cut_off_by_a_crash_is_skipped_and_said(home: Path):
    session = read_claude_session(claude_file(home, S1), LIMITS)
    assert session.notes == ["1 malformed line skipped"]
    assert session.messages[-1].text.startswith("[main 4be81f2] feat(orders)")  # everything before it is there


def test_compaction_is_counted_and_its_summary_is_not_taken_for_the_users_words(home: Path):
    session = read_claude_session(claude_file(home, S2), LIMITS)
    assert session.compactions == 1
    summaries = [m for m in session.messages if m.kind == "compaction-summary"]
    assert len(summaries) == 1 and "partial refunds" in summaries[0].text
    assert not any(m.kind == "compaction-summary" for m in session.user_messages())
    assert "Actually, amounts are integers in cents everywhere. Never use floats for money." in [
        m.text for m in session.user_messages()]


def test_inline_sidechain_records_are_kept_apart_from_what_the_user_said(home: Path):
    session = read_claude_session(claude_file(home, S2), LIMITS)
    sidechain = [m for m in session.messages if m.sidechain]
    assert [m.role for m in sidechain] == ["user", "assistant", "tool", "assistant"]
    assert not any("Search the codebase" in m.text for m in session.user_messages())
    assert [c.name for c in session.tool_calls()] == ["Task", "Write", "MultiEdit", "Edit", "Bash"]


def test_images_bang_commands_and_harness_replies(home: Path):
    session = read_claude_session(claude_file(home, S2), LIMITS)
    said = [m.text for m in session.user_messages()]
    assert "[image]\nThis is the error the dashboard shows after a partial refund" in said
    assert ("command", "! pnpm lint") in [(m.kind, m.text) for m in session.messages]
    assert not any("bash-stdout" in m.text for m in session.messages)
    assert not any(m.text == "No response requested." for m in session.messages)  # <synthetic>
    assert session.model == "claude-opus-4-1-20250805"


def test_binary_junk_and_unknown_record_types_become_notes(home: Path):
    session = read_claude_session(claude_file(home, S2), LIMITS)
    assert "1 malformed line skipped" in session.notes
    assert "skipped records of unknown type: x-future-record" in session.notes
    assert session.first_prompt.startswith("Implement partial refunds in src/services/refunds.ts.")


def test_subagent_transcripts_in_both_layouts_know_their_parent(home: Path):
    legacy = read_claude_session(home / ".claude/projects/-home-ada-code-shop-api/agent-7d3e91b0.jsonl", LIMITS,
                                 subagent=True)
    assert (legacy.id, legacy.parent_id, legacy.is_subagent) == ("7d3e91b0", S1, True)
    assert legacy.first_prompt == "List the helpers exported by src/lib/redis.ts and where they are used."
    assert not any(m.sidechain for m in legacy.messages)  # a subagent's own file: its messages are its own
    nested = home / f".claude/projects/-home-ada-code-shop-api-web/{S3}/subagents/agent-a4f9c2e1.jsonl"
    current = read_claude_session(nested, LIMITS, parent_id=S3, subagent=True)
    assert (current.id, current.parent_id) == ("a4f9c2e1", S3)
    assert current.tool_calls()[0].paths == (f"{PROJECT}/web/src/pages/Checkout.tsx",)


def test_long_texts_are_clipped_to_the_limits(home: Path):
    limits = ReadLimits(max_message_chars=40, max_argument_chars=30, max_result_chars=50)
    session = read_claude_session(claude_file(home, S1), limits)
    for message in session.messages:
        assert len(message.text) <= 50 + len(" … [clipped: 99,999 characters in all]")
        for call in message.tool_calls:
            assert len(call.arguments) <= 30 + len(" … [clipped: 99,999 characters in all]")
    assert "clipped" in session.first_prompt
