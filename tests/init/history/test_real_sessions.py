"""Real Claude Code and Codex sessions, kept as test fixtures in public MIT-licensed repositories (trimmed;
see samples/real/SOURCES.md). What each test expects was counted by hand from the files: the prompts the
user typed (never a task notification, a caveat, command output or a compaction summary), every tool
call, and the project each session belongs to."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from letta_ls.init.draft import draft_memory
from letta_ls.init.history import (
    HistorySources,
    ProjectMatcher,
    ReadLimits,
    command_families,
    encode_project_dir,
    read_claude_session,
    read_codex_rollout,
    read_history,
    session_insights,
)
from letta_ls.init.workspace import inspect_workspace

REAL = Path(__file__).parent.parent / "samples" / "real"
LIMITS = ReadLimits()

SPOTTER = "/home/marco/projects/spotter"
GQC = "/home/USER/projects/spotter-worktrees/spotter-gqc"
GQC_SESSION = "258c7280-ae70-4798-800f-63464d01a85d"
CHATBOT = "/home/user/projects/temp/chatbot-ui"
CHATBOT_ROLLOUT = "rollout-2025-11-17T15-30-28-019a93b9-f380-7600-98ff-940e6b99603c.jsonl"
HARNESS_TEXT = ("task-notification", "Background command", "Caveat:", "local-command", "/tmp/claude-1000",
                "environment_context", "This session is being continued")

GQC_PROMPTS = ["Implement spotter-gqc", "check again", "new beads for the epic were added. tackle them",
               "did you push?"]  # the compaction summary lists the same "All user messages"
CHATBOT_PROMPT = ("finish up the users work by rigging up the chatbot-ui to use lmstudio instead of their initial "
                  "implementatiion of ollama. the user just replace endpoints and names in files that mentioned "
                  "ollama, so look for functions etc... that still need work to get this working. \"LM Studio "
                  "configuration.md\" read this to help you")


def typed(session) -> list[str]:
    return [m.text for m in session.user_messages()]


def test_spotter_a_slash_command_queued_while_busy_is_one_command_not_a_prompt():
    session = read_claude_session(REAL / "spotter" / "tool_heavy.jsonl", LIMITS)
    assert typed(session) == [
        "start phoenix in background",
        "scrolling back in xterm.js still does not work (maybe because outer web catches it)? websearch xterm.js "
        "tmux interactions",
    ]
    insights = session_insights(session, [SPOTTER])
    assert insights.user_commands == ["/mcp"]  # enqueued while busy, then run: the command record says it once
    assert insights.interruptions == 2
    assert [c.name for c in session.tool_calls()] == ["Bash", "Bash", "WebSearch", "Glob", "Read", "WebFetch"]
    assert [c.command for c in session.tool_calls() if c.command] == [
        "mix phx.server", "tail -5 /tmp/claude-1000/-home-marco-projects-spotter/tasks/bae407b.output"]
    assert session.cwd == SPOTTER and session.notes == []


def test_spotter_task_notifications_and_queued_prompts_across_a_compaction():
    session = read_claude_session(REAL / "spotter" / f"{GQC_SESSION}.jsonl", LIMITS)
    assert typed(session) == GQC_PROMPTS
    assert session.compactions == 1
    assert [c.name for c in session.tool_calls()] == ["Bash", "TaskOutput", "Bash", "Bash", "TaskOutput", "Bash",
                                                      "Bash", "Read"]
    commands = [c.command for c in session.tool_calls() if c.command]
    assert [command_families(c) for c in commands] == [
        ["bd ready", "bd list --status=open", "bd list --status=in_progress"], [], [], ["mix test"],
        ["git add", "git commit"]]
    assert session.title is None and session.notes == []


def test_codex_session_view_a_real_rollout_with_quoted_pipes_and_patches():
    session = read_codex_rollout(REAL / "codex-session-view" / CHATBOT_ROLLOUT, LIMITS)
    assert typed(session) == [CHATBOT_PROMPT]  # in a response item and an event: kept once
    calls = session.tool_calls()
    assert [c.name for c in calls] == ["shell"] * 4
    assert [c.command for c in calls] == ["ls", "rg -n 'provider === \"lmstudio\"' -n", None, None]
    assert [c.paths for c in calls if c.edits] == [("components/chat/chat-helpers/index.ts",)] * 2
    insights = session_insights(session, [CHATBOT])
    assert dict(insights.files_edited) == {"components/chat/chat-helpers/index.ts": 2}
    assert not insights.commands  # ls and rg are exploration; the quoted === is not a command
    assert (session.cwd, session.git_branch, session.model) == (CHATBOT, "main", "gpt-5.1-codex")


@pytest.fixture
def real_home(tmp_path: Path) -> Path:
    """A home with the real sessions where Claude Code and Codex put them."""
    home = tmp_path / "home"
    projects = home / ".claude" / "projects"
    for cwd, name in ((SPOTTER, "tool_heavy.jsonl"), (GQC, f"{GQC_SESSION}.jsonl")):
        folder = projects / encode_project_dir(cwd)
        folder.mkdir(parents=True)
        shutil.copy(REAL / "spotter" / name, folder / name)
    shutil.copytree(REAL / "spotter" / GQC_SESSION, projects / encode_project_dir(GQC) / GQC_SESSION)
    rollouts = home / ".codex" / "sessions" / "2025" / "11" / "17"
    rollouts.mkdir(parents=True)
    shutil.copy(REAL / "codex-session-view" / CHATBOT_ROLLOUT, rollouts / CHATBOT_ROLLOUT)
    return home


@pytest.mark.parametrize(("folders", "remotes", "expected"), [
    ([GQC], [], [("claude-code", GQC_SESSION)]),
    ([SPOTTER], [], [("claude-code", "tool_heavy")]),
    (["/home/user/projects/temp/chatbot-ui"], [], [("codex", "019a93b9-f380-7600-98ff-940e6b99603c")]),
    (["/elsewhere/chatbot-ui"], ["https://github.com/acidicsoil/chatbot-ui"],
     [("codex", "019a93b9-f380-7600-98ff-940e6b99603c")]),
    (["/home/USER/projects/spotter-worktrees"], [], [("claude-code", GQC_SESSION)]),
    (["/home/user/projects/other"], [], []),
])
def test_each_real_session_is_matched_to_its_own_project(real_home, folders, remotes, expected):
    matcher = ProjectMatcher.for_folders(folders, remotes=remotes)
    history = read_history(matcher, HistorySources.from_home(real_home, env={}))
    assert sorted((s.source, s.id) for s in history.main_sessions()) == expected


def test_init_without_a_model_writes_the_typed_prompts_and_no_harness_text(real_home, tmp_path: Path):
    workspace = tmp_path / "spotter-gqc"
    workspace.mkdir()
    (workspace / "README.md").write_text("# spotter\n")
    history = read_history(ProjectMatcher.for_folders([GQC]), HistorySources.from_home(real_home, env={}))
    draft = draft_memory(inspect_workspace([workspace]), sessions=history.sessions, roots=[GQC])
    [note] = [text for path, text in draft.files.items() if path.endswith("/history.md")]
    for prompt in GQC_PROMPTS:
        assert prompt in note
    for harness in HARNESS_TEXT:
        assert harness not in note, harness


def test_a_compaction_run_written_as_a_subagent_file_is_not_a_subagent_task(real_home):
    """2.1.x writes the compaction's own run as ``subagents/agent-acompact-*.jsonl``: its prompt is the harness's
    summarising instruction and its reply the summary the main transcript already holds (isCompactSummary)."""
    history = read_history(ProjectMatcher.for_folders([GQC]), HistorySources.from_home(real_home, env={}))
    subagents = [s for s in history.sessions if s.is_subagent]
    assert [(s.id, s.parent_id) for s in subagents] == [("a881341", GQC_SESSION)]
    assert subagents[0].first_prompt.startswith("What is the output contract for Claude Code hooks")
    assert [c.name for c in subagents[0].tool_calls()] == ["WebFetch", "WebFetch"]
    assert not any("Your task is to create a detailed summary" in (s.first_prompt or "") for s in history.sessions)
