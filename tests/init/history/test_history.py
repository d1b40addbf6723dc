"""Finding this project's sessions on disk, and reading them whatever state the disk is in."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_ls.init.history import (
    HistorySources,
    ProjectMatcher,
    ReadLimits,
    detect_history,
    normalize_remote,
    read_claude_session,
    read_codex_rollout,
    read_history,
)
from tests.init.conftest import (
    CODEX_BARE,
    CODEX_MOVED,
    CODEX_NEW,
    CODEX_WRAPPED,
    COLLIDING,
    PROJECT,
    REMOTE,
    S1,
    S2,
    S3,
    SAMPLES,
    SECRETS,
    claude_file,
)


def ids(history) -> list[str]:
    return [s.id for s in history.sessions]


def test_this_projects_sessions_are_found_by_the_cwd_they_recorded(sources, matcher):
    history = read_history(matcher, sources)
    assert ids(history) == [CODEX_BARE, S1, "7d3e91b0", S2, CODEX_WRAPPED, S3, "a4f9c2e1", CODEX_NEW]
    # S3 was started in web/, so it has its own folder, yet it is this project; COLLIDING shares our folder
    # name (/home/ada/code/shop_api) but not our cwd; the blog project is someone else's
    assert COLLIDING not in ids(history)
    assert history.counts() == {"claude-code": 3, "codex": 3}
    started = [s.started_at for s in history.sessions]
    assert started == sorted(started)


def test_detect_counts_sessions_from_their_first_lines(sources, matcher):
    found = detect_history(matcher, sources)
    assert found.counts == {"claude-code": 3, "codex": 3}
    assert found.describe() == "3 Claude Code sessions and 3 Codex sessions"
    assert found.first == datetime(2025, 8, 14, 7, 12, 3, 481000, tzinfo=UTC)
    assert found.last.date().isoformat() == "2026-02-03"


def test_a_moved_project_is_found_through_its_git_remote_or_its_old_path(sources):
    by_remote = read_history(ProjectMatcher.for_folders([PROJECT], remotes=[REMOTE]), sources, include=("codex",))
    assert CODEX_MOVED in ids(by_remote)
    by_path = read_history(ProjectMatcher.for_folders([PROJECT], previous_paths=["/home/ada/old/shop-api"]), sources,
                           include=("codex",))
    assert CODEX_MOVED in ids(by_path)


def test_remote_urls_compare_whatever_their_spelling():
    assert normalize_remote("git@github.com:Ada-L/shop-api.git") == "github.com/ada-l/shop-api"
    assert normalize_remote("https://user:t0ken@GitHub.com/ada-l/shop-api/") == "github.com/ada-l/shop-api"
    assert normalize_remote("ssh://git@github.com:22/ada-l/shop-api.git") == "github.com/ada-l/shop-api"


def test_a_project_opened_through_a_symlink_matches_sessions_recorded_at_its_real_path(tmp_path: Path):
    real = tmp_path / "disk" / "shop-api"
    real.mkdir(parents=True)
    link = tmp_path / "code"
    link.symlink_to(tmp_path / "disk")
    home = tmp_path / "home"
    folder = home / ".claude" / "projects" / "-somewhere-else"
    folder.mkdir(parents=True)
    text = (SAMPLES / "claude/projects/-home-ada-code-shop-api" / f"{S1}.jsonl").read_text()
    (folder / f"{S1}.jsonl").write_text(text.replace(PROJECT, str(real)))
    sources = HistorySources.from_home(home, env={})
    opened_via_link = ProjectMatcher.for_folders([link / "shop-api"])
    assert ids(read_history(opened_via_link, sources, include=("claude-code",))) == [S1]
    (folder / f"{S1}.jsonl").write_text(text.replace(PROJECT, str(link / "shop-api")))
    opened_for_real = ProjectMatcher.for_folders([real])
    assert ids(read_history(opened_for_real, sources, include=("claude-code",))) == [S1]


def test_missing_claude_and_codex_folders_are_notes(tmp_path: Path, matcher):
    history = read_history(matcher, HistorySources.from_home(tmp_path, env={}))
    assert history.sessions == []
    notes = [str(n) for n in history.notes]
    assert any(n.startswith("Claude Code: no Claude Code data:") and ".claude does not exist" in n for n in notes)
    assert any(n.startswith("Codex: no Codex data:") and ".codex does not exist" in n for n in notes)


def test_config_dir_variables_move_where_sessions_are_looked_for(tmp_path: Path, home: Path, matcher):
    moved = tmp_path / "elsewhere"
    shutil.move(home / ".claude", moved / "claude-config")
    shutil.move(home / ".codex", moved / "codex-home")
    sources = HistorySources.from_home(home, env={"CLAUDE_CONFIG_DIR": str(moved / "claude-config"),
                                                  "CODEX_HOME": str(moved / "codex-home")})
    assert detect_history(matcher, sources).counts == {"claude-code": 3, "codex": 3}


def test_damage_on_disk_is_reported_and_the_rest_is_read(sources, matcher):
    history = read_history(matcher, sources)
    notes = [str(n) for n in history.notes]
    assert not any("compressed rollouts (.jsonl.zst) were not read" in n for n in notes)  # they are read
    assert any("no conversation in this file (4 malformed lines skipped)" in n and "0b9f3c1d" in n for n in notes)
    assert any("1 malformed line skipped" in n and S2 in n for n in notes)


def test_nothing_read_carries_a_secret(sources, matcher):
    history = read_history(matcher, sources)
    dump = json.dumps([[m.text, [c.arguments for c in m.tool_calls]] for s in history.sessions for m in s.messages])
    assert not any(secret in dump for secret in SECRETS)


def test_only_the_most_recent_sessions_are_read_past_the_cap(sources, matcher):
    history = read_history(matcher, sources, limits=ReadLimits(max_sessions=1))
    assert history.counts() == {"claude-code": 1, "codex": 1}
    assert any("read the 1 most recent of 3 sessions" in str(n) for n in history.notes)


def test_since_leaves_out_older_transcripts(home: Path, sources, matcher):
    old = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    for path in (home / ".claude").rglob("*.jsonl"):
        os.utime(path, (old, old))
    found = detect_history(matcher, sources, since=datetime(2025, 6, 1, tzinfo=UTC))
    assert found.counts["claude-code"] == 0 and found.counts["codex"] == 3


def test_a_huge_transcript_is_read_only_up_to_the_byte_cap(tmp_path: Path):
    path = tmp_path / "big.jsonl"
    record = {"type": "user", "cwd": PROJECT, "sessionId": "big", "timestamp": "2026-01-01T00:00:00Z",
              "message": {"role": "user", "content": "x" * 900}}
    with open(path, "w") as handle:
        for _ in range(4000):  # about 4 MB
            handle.write(json.dumps(record) + "\n")
    session = read_claude_session(path, ReadLimits(max_file_bytes=256 * 1024))
    assert session.truncated
    assert 200 <= len(session.messages) <= 300
    assert "only the first 256 KB were read (the file is larger)" in session.notes


def test_a_giant_line_is_skipped_without_being_held_in_memory(tmp_path: Path):
    path = tmp_path / "giant.jsonl"
    first = {"type": "user", "cwd": PROJECT, "timestamp": "2026-01-01T00:00:00Z",
             "message": {"role": "user", "content": "before the giant line"}}
    last = {**first, "message": {"role": "user", "content": "after the giant line"}}
    with open(path, "w") as handle:
        handle.write(json.dumps(first) + "\n")
        handle.write('{"type": "user", "message": {"content": "' + "y" * 40_000_000 + '"}}\n')
        handle.write(json.dumps(last) + "\n")
    tracemalloc.start()
    try:
        session = read_claude_session(path, ReadLimits(max_line_bytes=1024 * 1024))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [m.text for m in session.messages] == ["before the giant line", "after the giant line"]
    assert "1 oversized line skipped" in session.notes
    assert peak < 8 * 1024 * 1024  # the 40 MB line was never loaded


@pytest.fixture
def shared_home():
    """A copy of the samples in a folder every user may enter (for reading as an unprivileged user)."""
    root = Path(tempfile.mkdtemp(prefix="letta-ls-history-"))
    root.chmod(0o755)
    shutil.copytree(SAMPLES / "claude", root / ".claude")
    shutil.copytree(SAMPLES / "codex", root / ".codex")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield root
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(root)


def read_as_another_user(home: Path) -> dict:
    """``read_history`` run in a forked child; as root (who may read anything) the child drops to ``nobody``."""
    read_history(ProjectMatcher.for_folders([PROJECT]), HistorySources.from_home(home, env={}))  # load lazy imports
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(reader)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            history = read_history(ProjectMatcher.for_folders([PROJECT]), HistorySources.from_home(home, env={}))
            os.write(writer, json.dumps({"ids": ids(history), "notes": [str(n) for n in history.notes]}).encode())
            status = 0
        except BaseException as error:  # report anything to the parent, which fails the test
            os.write(writer, json.dumps({"error": repr(error)}).encode())
        finally:
            os._exit(status)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        output = pipe.read()
    _pid, status = os.waitpid(pid, 0)
    result = json.loads(output)
    assert status == 0 and "error" not in result, result
    return result


def test_files_and_folders_that_may_not_be_read_are_notes_not_failures(shared_home: Path):
    claude_file(shared_home, S1).chmod(0)  # one of our sessions
    (shared_home / ".claude/projects/-home-ada-code-blog").chmod(0o700)  # someone else's folder
    (shared_home / ".codex/sessions/2026/02/03").chmod(0o700)
    if os.geteuid() != 0:
        for path in (shared_home / ".claude/projects/-home-ada-code-blog", shared_home / ".codex/sessions/2026/02/03"):
            path.chmod(0)
    result = read_as_another_user(shared_home)
    assert S1 not in result["ids"] and S2 in result["ids"] and CODEX_WRAPPED in result["ids"]
    assert CODEX_NEW not in result["ids"]
    notes = result["notes"]
    assert any("could not open this session: Permission denied" in n and S1 in n for n in notes)
    assert any("cannot list" in n and "2026/02/03" in n for n in notes)
    assert any("other transcripts or folders could not be opened" in n for n in notes)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
CLAUDE_RECORD = st.fixed_dictionaries({
    "type": st.sampled_from(["user", "assistant", "system", "summary", "progress", "other"]),
    "message": st.one_of(JSON, st.fixed_dictionaries({
        "content": st.one_of(st.text(max_size=30), st.lists(st.one_of(JSON, st.fixed_dictionaries({
            "type": st.sampled_from(["text", "tool_use", "tool_result", "image", "thinking"]),
            "text": JSON, "input": JSON, "content": JSON, "id": JSON, "tool_use_id": JSON, "name": JSON,
        })), max_size=4)),
        "model": JSON, "id": JSON,
    })),
    "timestamp": st.one_of(JSON, st.just("2026-01-01T00:00:00Z")),
    "cwd": JSON, "isSidechain": JSON, "isMeta": JSON, "isCompactSummary": JSON, "gitBranch": JSON,
})
CODEX_RECORD = st.one_of(
    st.fixed_dictionaries({
        "type": st.sampled_from(["session_meta", "response_item", "event_msg", "turn_context", "compacted", "x"]),
        "timestamp": st.one_of(JSON, st.just("2026-01-01T00:00:00Z")),
        "payload": st.one_of(JSON, st.fixed_dictionaries({
            "type": st.sampled_from(["message", "function_call", "function_call_output", "custom_tool_call",
                                     "local_shell_call", "user_message", "agent_message", "turn_aborted"]),
            "role": JSON, "content": JSON, "arguments": st.one_of(JSON, st.just('{"command": ["bash", "-lc", 1]}')),
            "output": JSON, "call_id": JSON, "name": st.one_of(JSON, st.sampled_from(["shell", "apply_patch"])),
            "input": JSON, "action": JSON, "message": JSON, "source": JSON, "git": JSON, "id": JSON, "cwd": JSON,
        })),
    }),
    JSON,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(CLAUDE_RECORD, CODEX_RECORD), max_size=12), st.binary(max_size=200))
def test_no_transcript_content_makes_a_reader_raise(tmp_path: Path, records, junk):
    path = tmp_path / "rollout-2026-01-01T00-00-00-fuzz.jsonl"
    path.write_bytes(b"\n".join(json.dumps(r).encode() for r in records) + b"\n" + junk)
    for session in (read_claude_session(path, ReadLimits()), read_codex_rollout(path, ReadLimits())):
        assert all(isinstance(m.text, str) for m in session.messages)


def test_a_very_long_session_keeps_every_user_word_and_stays_small(tmp_path: Path):
    path = tmp_path / "long.jsonl"
    with open(path, "w") as handle:
        for turn in range(600):
            when = f"2026-01-01T{turn // 60:02d}:{turn % 60:02d}:00Z"
            base = {"cwd": PROJECT, "sessionId": "long", "timestamp": when}
            ask = {"role": "user", "content": f"request number {turn}"}
            handle.write(json.dumps({**base, "type": "user", "message": ask}) + "\n")
            handle.write(json.dumps({**base, "type": "assistant", "message": {"id": f"m{turn}", "content": [
                {"type": "tool_use", "id": f"t{turn}", "name": "Read", "input": {"file_path": "src/a.ts"}}]}}) + "\n")
            handle.write(json.dumps({**base, "type": "user", "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"t{turn}",
                 "content": f"line one of result {turn}\n" + "x" * 1000}]}}) + "\n")
    session = read_claude_session(path, ReadLimits(max_session_chars=50_000))
    assert [m.text for m in session.user_messages()] == [f"request number {n}" for n in range(600)]
    results = [m.text for m in session.messages if m.role == "tool"]
    assert results[-1] == "line one of result 599"  # past the budget: the first line
    assert sum(len(m.text) for m in session.messages) < 50_000 + 1_200 + 600 * 45  # uncapped: over 700,000
    assert any(note.startswith("a long session:") for note in session.notes)
