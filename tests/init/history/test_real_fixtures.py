"""Every real session kept under samples/real/, read as /init reads it, against what was counted by hand.

The expectations below were counted from the raw JSONL lines (the line numbers are given), never from what a
reader returns: the prompts the person typed (exact text), the tool calls by name, the files the agent
edited, and the project folder each session belongs to. SOURCES.md says where each file comes from, which
Claude Code / Codex version wrote it and under what licence it is kept; docs/sessions.md has the table."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from letta_ls.init.draft import draft_memory
from letta_ls.init.history import (
    HistorySources,
    ProjectMatcher,
    ReadLimits,
    encode_project_dir,
    read_claude_session,
    read_codex_rollout,
    read_history,
    session_insights,
)
from letta_ls.init.workspace import inspect_workspace

REAL = Path(__file__).parent.parent / "samples" / "real"
LIMITS = ReadLimits()
# written here by the real Codex CLI against a scripted model (codex-generated/generate.sh, SOURCES.md)
OLDEST_ROLLOUT = "rollout-2026-12-06T07-53-54-8c4b94c7-e953-4851-893d-5d2f997a5139.jsonl"
OLD_PROJECT = "/home/user/projects/greeter-0.29"
OLD_ROLLOUT = "rollout-2026-12-06T07-49-39-858ac4c1-028b-40ee-ac71-290c59d1cbf4.jsonl"
RESUMED_ROLLOUT = "rollout-2026-12-06T07-49-39-918c1ae0-d3e0-45c4-9717-2ebe9bd0ff6b.jsonl"
MID_PROJECT = "/home/user/projects/greeter-0.77"
MID_ROLLOUT = "rollout-2026-12-06T08-01-28-01a24a5f-47e5-7530-8982-c0a05898cb04.jsonl"
COMPACTED_PROJECT = "/home/user/projects/greeter-0.171"
COMPACTED_ROLLOUT = "rollout-2026-12-06T07-49-41-01a24a54-7f84-7f02-b11e-bb7e084623c9.jsonl"

# text only the harness writes; none of it is ever a typed prompt
HARNESS_TEXT = ("Stop hook feedback", "CLAUDE_PLUGIN_ROOT", "PostToolUse", "<environment_context>",
                "AGENTS.md instructions", "<INSTRUCTIONS>", "task-notification", "local-command",
                "This session is being continued", "Git File Recovery After Accidental Deletion", "<command-message>",
                "Split complex tasks into independent subtasks", "ARGUMENTS:", "<skills_instructions>",
                "CONTEXT CHECKPOINT")

CHATBOT_PROMPT = ("finish up the users work by rigging up the chatbot-ui to use lmstudio instead of their initial "
                  "implementatiion of ollama. the user just replace endpoints and names in files that mentioned "
                  "ollama, so look for functions etc... that still need work to get this working. \"LM Studio "
                  "configuration.md\" read this to help you")
HOMELAB_PROMPT = ("can you analyse the MD files in this directory and determine if the info we have is clear "
                  "enough to start planning the migration?")
HOMELAB_ROLLOUT = "rollout-2025-12-28T12-18-30-019b64e5-57fa-7463-b644-fba7e456f905.jsonl"
TODO_SESSION = "fe5e1c67-53e7-4862-81ae-d0e013e3270b"
TODO_PROJECT = "/path/to/Demo"  # the folder the session recorded (its author wrote /path/to for their home)
# written here by the real Claude Code CLI against a scripted model (claude-generated/generate.sh)
LOGO_PROJECT = "/home/user/logo-demo"
LOGO_1_0 = "claude-generated/1.0.98-paced/13a09439-2650-441b-80cf-c1994fe63779.jsonl"
LOGO_2_1 = "claude-generated/2.1.332-at-once/fcb26f83-9b3a-438c-998c-304119d18497.jsonl"
LOGO_2_1_PACED = "claude-generated/2.1.332-paced/f5a373ee-30bc-46c5-859a-509980f0fd96.jsonl"
LOGO_FILES = (LOGO_1_0, LOGO_2_1, LOGO_2_1_PACED)
THANKS = "Thanks, that is all for now."
LOGO_PROMPT = "What does this logo show? Put a short description in NOTES.md and mention the logo in README.md."
PNG_DATA = "iVBORw0KGgo"  # how every base64 PNG begins: image data must never become text


@dataclass(frozen=True)
class HandCount:
    """What one real file holds, counted by hand from its lines."""

    path: str  # under samples/real/
    source: str
    project: str | None  # the folder the session recorded as its working directory (0.20 recorded none)
    prompts: tuple[str, ...]
    calls: dict[str, int] = field(default_factory=dict)
    edited: frozenset[str] = frozenset()  # relative to ``project``
    notes: tuple[str, ...] = ()  # what the reader says it skipped


COUNTED = [
    # Claude Code 2.1.14 (DRMacIver/claude-reliability): line 1 a queue-operation dequeue, line 2 the prompt;
    # Glob at 4, 28; Read at 6, 7, 30; Edit at 11, 12, 32; Bash at 18, 20, 23, 34, 36; lines 16 and 26 are
    # "Stop hook feedback" records (isMeta) the harness wrote after the agent stopped.
    HandCount("claude-reliability/c64cc478-3430-40fe-8e9c-4ee9986e9754.jsonl", "claude-code", "/tmp/tmpw6sk2trg",
              ("Add a function called multiply_numbers(a: int, b: int) -> int that multiplies two numbers together. "
               "Add a test for it.",),
              {"Glob": 2, "Read": 3, "Edit": 3, "Bash": 5},
              frozenset({"src/math_utils.py", "tests/test_math_utils.py", ".gitignore"})),
    # Claude Code 2.1.14: prompt at line 2, Write at 3, Bash at 5, a Stop hook record at 8.
    HandCount("claude-reliability/de3b8b19-5bc0-4a2a-934a-1b6806567e25.jsonl", "claude-code", "/tmp/tmp74wiyiny",
              ('Write a shell script called hello.sh that prints "Hello world" and run it.',),
              {"Write": 1, "Bash": 1}, frozenset({"hello.sh"})),
    # Claude Code 2.0.76 (fasthooks 0.1.4 on PyPI, specs/data/sample_main_transcript.jsonl): prompts at lines 2,
    # 10, 19, 27, 35 (typed with trailing spaces, which the reader trims); thinking blocks before every reply;
    # Bash at 4, 29, 45, 46, 52; Write at 12, 37, 38; Read at 21, 44; stop_hook_summary system records at 8,
    # 17, 25, 33, 56; then /compact: compact_boundary (59), the summary (60, isCompactSummary), the caveat (61,
    # isMeta), <command-name>/compact (62) and its <local-command-stdout> (63).
    HandCount("fasthooks/c45af7b1-cb7c-4e51-93db-8cbb250a877a.jsonl", "claude-code", "/workspace",
              ("can you run a command ls -la",
               "ok can you create a hello_world.py file and add a minimal code in it?",
               "can you read it back with Read tool?",
               "can you run `cat nonexistent.txt`",
               "do something requiring multiple tools in one turn,"),
              {"Bash": 5, "Write": 3, "Read": 2},
              frozenset({"hello_world.py", "number_generator.py", "data.txt"})),
    # Claude Code 1.0.89 (alicoding/claude-parser, lines 1-5): prompt at 1 (typed with a trailing space, which
    # the reader trims), Bash `pwd` at 3, its result at 4, a "Running PostToolUse:Bash" system record at 5.
    HandCount("claude-parser/3a7770b4-aba3-46dd-b677-8fc2d71d4e06.jsonl", "claude-code",
              "/Volumes/AliDev/ai-projects/claude-parser",
              ("look at ~/.claude/projects\n\nI need you to do pwd and then move the claude-parser to be in this "
               "location instead we now need to move to the proper place",),
              {"Bash": 1}),
    # Claude Code 1.0.98 (d-kimuson/claude-code-viewer, 20 of 439 lines): line 1 a summary of another session (its
    # leafUuid is in no line here), 2 the custom command `/orchestrator create TODO app by Next.js` written the
    # 1.0 way (<command-message> before <command-name>), 3 its expansion (isMeta); Glob at 5, 6; Task at 9, 10,
    # 11; 12-15 one of those tasks' own run written inline (isSidechain: its prompt, Bash, Write of
    # components/TodoItem.tsx, in /path/to/Demo/todo-app); the prompt at 17; Write of CLAUDE.md at 19.
    HandCount(f"claude-code-viewer/{TODO_SESSION}.jsonl", "claude-code", TODO_PROJECT,
              ("Thanks! Please update CLAUDE.md for current changes",),
              {"Glob": 2, "Task": 3, "Write": 1}, frozenset({"CLAUDE.md"})),
    # Claude Code 2.1.38 (marot/spotter), counted last round: see test_real_sessions.py for the line-by-line.
    HandCount("spotter/tool_heavy.jsonl", "claude-code", "/home/marco/projects/spotter",
              ("start phoenix in background",
               "scrolling back in xterm.js still does not work (maybe because outer web catches it)? websearch "
               "xterm.js tmux interactions"),
              {"Bash": 2, "WebSearch": 1, "Glob": 1, "Read": 1, "WebFetch": 1}),
    HandCount("spotter/258c7280-ae70-4798-800f-63464d01a85d.jsonl", "claude-code",
              "/home/USER/projects/spotter-worktrees/spotter-gqc",
              ("Implement spotter-gqc", "check again", "new beads for the epic were added. tackle them",
               "did you push?"),
              {"Bash": 5, "TaskOutput": 2, "Read": 1}),
    # Claude Code 1.0.98, run here (claude-generated/generate.sh 1.0.98 paced: each stdin message after the
    # previous answer): line 1 the prompt, typed beside an image (a text block, then an image block: the image
    # is no text, kept as the marker "[image]"); Read of logo.png at 3 (its result at 4 is an image block), Read
    # of README.md at 5, Edit of it at 7, Write of NOTES.md at 9; at 12 an image sent alone (no text: no
    # prompt); at 14 "Thanks, that is all for now." as a plain string.
    HandCount(LOGO_1_0, "claude-code", LOGO_PROJECT, (LOGO_PROMPT + "\n[image]", THANKS),
              {"Read": 2, "Edit": 1, "Write": 1}, frozenset({"README.md", "NOTES.md"})),
    # Claude Code 2.1.332 paced (47 of its 53 lines: the 6 bookkeeping lines holding the program's own prompts
    # left out): each message an enqueue (no content when it holds an image) and a dequeue, then its user
    # record: the prompt at 3 (text, then image) and its "[Image: source: …]" companion at 7 (isMeta); Read at
    # 16 (its image result at 19), 21; Edit at 25; Write at 31; the image sent alone at 37 (no prompt), its
    # companion at 38; "Thanks, that is all for now." enqueued at 41, its user record at 43.
    HandCount(LOGO_2_1_PACED, "claude-code", LOGO_PROJECT, (LOGO_PROMPT + "\n[image]", THANKS),
              {"Read": 2, "Edit": 1, "Write": 1}, frozenset({"README.md", "NOTES.md"})),
    # Claude Code 2.1.332 at-once (all three messages on stdin at the start; 43 of its 49 lines: the 6 bookkeeping lines
    # holding the program's own prompts left out): enqueues at lines 1 (the first prompt, no content: it holds
    # an image; dequeued at 2), 3 (the image sent alone, no content) and 4 ("Thanks, that is all for now.", typed
    # while busy, written before the first prompt's user record); that prompt's user record at 5 (text, then
    # image), its "[Image: source: …]" companion at 9 (isMeta); Read at 18 (its image result at 21); both queued
    # prompts removed at 23, 24 (absorbed mid-turn; queued_command attachments at 22, 25); Read at 28; Edit at
    # 32; Write at 38; the rest bookkeeping (attachment, atis-latch, api-request*, tools-used, last-prompt,
    # cost-state).
    HandCount(LOGO_2_1, "claude-code", LOGO_PROJECT, (LOGO_PROMPT + "\n[image]", THANKS),
              {"Read": 2, "Edit": 1, "Write": 1}, frozenset({"README.md", "NOTES.md"})),
    # Codex 0.58 (AcidicSoil/codex-session-view): the prompt as a response item (line 4) and an event (5);
    # four shell calls, two of them `bash -lc "apply_patch <<'PATCH'"` edits of one file.
    HandCount("codex-session-view/rollout-2025-11-17T15-30-28-019a93b9-f380-7600-98ff-940e6b99603c.jsonl", "codex",
              "/home/user/projects/temp/chatbot-ui", (CHATBOT_PROMPT,), {"shell": 4},
              frozenset({"components/chat/chat-helpers/index.ts"})),
    # Codex 0.77 (simonw/claude-code-transcripts): AGENTS.md instructions at line 2 and <environment_context> at
    # 3 are harness text; the prompt at 4 and again as an event at 5; six turn_context records; no tool call.
    HandCount(f"claude-code-transcripts/{HOMELAB_ROLLOUT}", "codex", "/Users/macmini/Code/homelab-migration",
              (HOMELAB_PROMPT,)),
    # the same rollout, compressed here with zstandard (no compressed rollout is published under a licence)
    HandCount(f"claude-code-transcripts/{HOMELAB_ROLLOUT}.zst", "codex", "/Users/macmini/Code/homelab-migration",
              (HOMELAB_PROMPT,)),
    # codex-cli 0.20.0, the bare format without <environment_context>: line 1 {id, timestamp, instructions, git}
    # (the remote, no folder), state lines at 2, 4, 5...; the prompt at 3; shell calls at 6 (ls), 10 (cat), 14
    # (`bash -lc "apply_patch <<'EOF'"` updating README.md); the answer at 18; resumed with experimental_resume
    # in the same file: the second prompt at 20, shell calls at 23 (grep), 27 (a patch adding test_greet.py).
    HandCount(f"codex-generated/{OLDEST_ROLLOUT}", "codex", None, ("Fix the typo in README.md", "Add a test for greet"),
              {"shell": 5}, frozenset({"README.md", "test_greet.py"})),
    # codex-cli 0.29.0, the bare format: line 1 {id, timestamp, instructions, git} (no cwd; git with the remote),
    # {"record_type":"state"} at 2, 4, 6, 7...; <environment_context> (the cwd) at 3, the prompt at 5; shell
    # calls at 8 (ls), 12 (cat), 16 (`bash -lc "applypatch <<'EOF'"` updating README.md); the answer at 20.
    HandCount(f"codex-generated/{OLD_ROLLOUT}", "codex", OLD_PROJECT, ("Fix the typo in README.md",),
              {"shell": 3}, frozenset({"README.md"})),
    # codex-cli 0.29.0, the same session resumed (`-c experimental_resume=<the rollout above>`): a new rollout
    # whose lines 3-11 (between the first two state lines) replay the resumed one: its <environment_context>,
    # prompt, three calls and answer; then its own prompt at 13, shell calls at 16 (grep) and 20 (an applypatch
    # adding test_greet.py), the answer at 24.
    HandCount(f"codex-generated/{RESUMED_ROLLOUT}", "codex", OLD_PROJECT, ("Add a test for greet",),
              {"shell": 2}, frozenset({"test_greet.py"}),
              ("skipped 8 lines replayed from the session it resumed",)),
    # codex-cli 0.77.0 compacting within a turn: AGENTS.md instructions (Codex's skills list) at 2,
    # <environment_context> at 3, the first prompt at 4 (and as an event at 5); shell_command at 8, 14;
    # apply_patch (custom tool) at 19; the answer at 25 (an event at 24); resumed in the same file: the second
    # prompt at 27 (28), shell_command at 31 (reporting 200,000 tokens), `compacted` (only its `message`) at 39
    # and a `context_compacted` event at 40; apply_patch at 43 (adding test_greet.py); the answer at 49;
    # `ghost_snapshot` items at 10, 35.
    HandCount(f"codex-generated/{MID_ROLLOUT}", "codex", MID_PROJECT,
              ("Fix the typo in README.md", "Add a test for greet"), {"shell_command": 3, "apply_patch": 2},
              frozenset({"README.md", "test_greet.py"})),
    # codex-cli 0.171.0 with an automatic compaction: skills (developer) at 3, <environment_context> at 4, the
    # first prompt at 8; exec_command at 10, 15; apply_patch (custom tool) at 20; the answer at 26 (reporting
    # 200,000 tokens); the second prompt's turn compacts first: the model's summary at 33, `compacted` at 36
    # (the summary under Codex's preamble, and a replacement history repeating the first prompt); the second
    # prompt at 42; exec_command at 44, apply_patch at 49 (adding test_greet.py); `token_usage_record` and
    # `world_state` lines throughout.
    HandCount(f"codex-generated/{COMPACTED_ROLLOUT}", "codex", COMPACTED_PROJECT,
              ("Fix the typo in README.md", "Add a test for greet"), {"exec_command": 3, "apply_patch": 2},
              frozenset({"README.md", "test_greet.py"})),
]


def read(count: HandCount):
    path = REAL / count.path
    if count.source == "codex":
        return read_codex_rollout(path, LIMITS)
    return read_claude_session(path, LIMITS)


def test_every_real_session_file_is_counted_here():
    kept = {str(p.relative_to(REAL)) for p in REAL.rglob("*.jsonl*") if "subagents" not in p.relative_to(REAL).parts}
    summary_only = {"claude-parser/4762e53b-7ca8-4464-9eac-d1816c343c50.jsonl"}
    warmup = {"fasthooks/agent-af1ff21.jsonl"}
    assert kept == {c.path for c in COUNTED} | summary_only | warmup


@pytest.mark.parametrize("count", COUNTED, ids=[c.path.split("/")[-1][:40] for c in COUNTED])
def test_a_real_session_gives_the_prompts_calls_and_files_counted_by_hand(count: HandCount):
    session = read(count)
    assert [m.text for m in session.user_messages()] == list(count.prompts)
    assert Counter(c.name for c in session.tool_calls()) == Counter(count.calls)
    insights = session_insights(session, [count.project] if count.project else [])
    assert set(insights.files_edited) == set(count.edited)
    assert session.cwd == count.project and session.notes == list(count.notes) and session.title is None
    said = "\n".join(m.text for m in session.messages if m.role == "user" and m.kind != "compaction-summary")
    for harness in HARNESS_TEXT:
        assert harness not in said, harness


def test_a_summary_whose_leaf_is_in_another_session_titles_nothing(tmp_path: Path):
    """Claude Code 1.x wrote a session's summary into another session's file; alicoding/claude-parser kept one
    such file (one ``summary`` line whose ``leafUuid`` is in no line of it). It is no session and gives no
    session its title, though it sits in the same project folder as a real session."""
    home = tmp_path / "home"
    folder = home / ".claude" / "projects" / encode_project_dir("/Volumes/AliDev/ai-projects/claude-parser")
    shutil.copytree(REAL / "claude-parser", folder, ignore=shutil.ignore_patterns("LICENSE"))
    matcher = ProjectMatcher.for_folders(["/Volumes/AliDev/ai-projects/claude-parser"])
    history = read_history(matcher, HistorySources.from_home(home, env={}))
    assert [(s.id, s.title) for s in history.sessions] == [("3a7770b4-aba3-46dd-b677-8fc2d71d4e06", None)]


def test_a_compacted_session_keeps_its_slash_command_and_the_summary_apart_from_the_prompts():
    session = read_claude_session(REAL / "fasthooks" / "c45af7b1-cb7c-4e51-93db-8cbb250a877a.jsonl", LIMITS)
    assert session.compactions == 1
    assert session_insights(session, ["/workspace"]).user_commands == ["/compact"]
    assert [m.kind for m in session.messages if m.role == "user" and not m.from_user] == [
        "compaction-summary", "command"]


def test_the_warmup_run_claude_code_2_0_starts_is_no_subagent_task(tmp_path: Path):
    """Claude Code 2.0 warms its Explore agent up at the start of a session: an ``agent-*.jsonl`` next to the
    session whose only prompt is "Warmup" (written by the harness) and whose reply introduces the agent. It is
    not work the agent delegated, so /init reads no task in it."""
    home = tmp_path / "home"
    shutil.copytree(REAL / "fasthooks", home / ".claude" / "projects" / encode_project_dir("/workspace"))
    history = read_history(ProjectMatcher.for_folders(["/workspace"]), HistorySources.from_home(home, env={}))
    assert [s.id for s in history.sessions] == ["c45af7b1-cb7c-4e51-93db-8cbb250a877a"]
    assert not any(s.first_prompt == "Warmup" for s in history.sessions)


@pytest.fixture
def every_real_session(tmp_path: Path) -> Path:
    """A home holding every real session where Claude Code and Codex put them (the project folder Claude
    Code names after the working directory; Codex's dated folders)."""
    home = tmp_path / "home"
    for count in COUNTED:
        if count.source == "claude-code":
            folder = home / ".claude" / "projects" / encode_project_dir(count.project)
        else:
            folder = home / ".codex" / "sessions" / "2025" / "12"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL / count.path, folder / Path(count.path).name)
    return home


@pytest.mark.parametrize(("folders", "expected"), [
    (["/tmp/tmpw6sk2trg"], [("claude-code", "c64cc478-3430-40fe-8e9c-4ee9986e9754")]),
    (["/tmp/tmp74wiyiny"], [("claude-code", "de3b8b19-5bc0-4a2a-934a-1b6806567e25")]),
    (["/Volumes/AliDev/ai-projects/claude-parser"], [("claude-code", "3a7770b4-aba3-46dd-b677-8fc2d71d4e06")]),
    (["/home/marco/projects/spotter"], [("claude-code", "tool_heavy")]),
    (["/home/USER/projects/spotter-worktrees"], [("claude-code", "258c7280-ae70-4798-800f-63464d01a85d")]),
    (["/workspace"], [("claude-code", "c45af7b1-cb7c-4e51-93db-8cbb250a877a")]),
    (["/home/user/projects/temp/chatbot-ui"], [("codex", "019a93b9-f380-7600-98ff-940e6b99603c")]),
    # the plain and the compressed copy of one rollout: one session, read once
    (["/Users/macmini/Code/homelab-migration"], [("codex", "019b64e5-57fa-7463-b644-fba7e456f905")]),
    # a bare rollout and the one resuming it (a new file in that format): both the project's
    ([OLD_PROJECT], [("codex", "858ac4c1-028b-40ee-ac71-290c59d1cbf4"),
                     ("codex", "918c1ae0-d3e0-45c4-9717-2ebe9bd0ff6b")]),
    ([COMPACTED_PROJECT], [("codex", "01a24a54-7f84-7f02-b11e-bb7e084623c9")]),
    ([MID_PROJECT], [("codex", "01a24a5f-47e5-7530-8982-c0a05898cb04")]),
    # 0.20 recorded no folder: only its git remote tells its project (test_codex_generated.py)
    (["/home/user/projects/greeter-0.20"], []),
    (["/tmp"], [("claude-code", "c64cc478-3430-40fe-8e9c-4ee9986e9754"),
                ("claude-code", "de3b8b19-5bc0-4a2a-934a-1b6806567e25")]),
    (["/home/user/projects/temp/other"], []),
    ([TODO_PROJECT], [("claude-code", TODO_SESSION)]),
    # the 1.0.98 session later worked in todo-app (its records say so): it belongs to that project too
    (["/path/to/Demo/todo-app"], [("claude-code", TODO_SESSION)]),
    (["/path/to/Demo/components"], []),
    # both generated sessions ran in one project
    ([LOGO_PROJECT], [("claude-code", Path(name).stem) for name in LOGO_FILES]),
    (["/home/user/logo"], []),
])
def test_each_real_session_is_matched_to_its_own_project_only(every_real_session: Path, folders, expected):
    history = read_history(ProjectMatcher.for_folders(folders), HistorySources.from_home(every_real_session, env={}))
    assert sorted((s.source, s.id) for s in history.main_sessions()) == sorted(expected)


def test_a_claude_code_1_0_slash_command_is_the_command_the_user_typed():
    """Claude Code 1.0 wrote a slash command as ``<command-message>… is running…</command-message>`` followed by
    ``<command-name>`` and ``<command-args>`` (2.x puts ``<command-name>`` first). It is what the person typed
    (here a custom command whose arguments are the request), not harness text: it is kept once, as a command,
    and the command's expansion (an isMeta record) never becomes a prompt."""
    session = read_claude_session(REAL / "claude-code-viewer" / f"{TODO_SESSION}.jsonl", LIMITS)
    insights = session_insights(session, [TODO_PROJECT])
    assert insights.user_commands == ["/orchestrator create TODO app by Next.js"]
    assert [m.text for m in session.messages if m.role == "user" and m.kind == "command"] == [
        "/orchestrator create TODO app by Next.js"]


def test_a_claude_code_1_0_subagent_run_written_inline_is_kept_apart_from_the_session():
    """Claude Code 1.0 wrote a Task's own run inside the session's file (``isSidechain: true``): its prompt is
    the agent's words to the subagent, its Bash and Write calls are the subagent's, and its working directory
    (``/path/to/Demo/todo-app``) is not where the session started."""
    session = read_claude_session(REAL / "claude-code-viewer" / f"{TODO_SESSION}.jsonl", LIMITS)
    inline = [m for m in session.messages if m.sidechain]
    assert [(m.role, m.kind) for m in inline] == [("user", "text"), ("assistant", "text"), ("tool", "text"),
                                                   ("assistant", "text")]
    assert inline[0].text.startswith("Create React components for the TODO app")
    assert [c.name for m in inline for c in m.tool_calls] == ["Bash", "Write"]
    assert session.first_prompt == "Thanks! Please update CLAUDE.md for current changes"
    insights = session_insights(session, [TODO_PROJECT])
    assert dict(insights.files_edited) == {"CLAUDE.md": 1}  # not the subagent's components/TodoItem.tsx
    assert [s.text for s in insights.requests] == ["Thanks! Please update CLAUDE.md for current changes"]
    assert session.cwd == TODO_PROJECT and session.title is None  # the summary titles another session


def test_init_without_a_model_over_a_claude_code_1_0_session_keeps_the_prompt_and_no_harness_text(tmp_path: Path):
    home = tmp_path / "home"
    folder = home / ".claude" / "projects" / encode_project_dir(TODO_PROJECT)
    folder.mkdir(parents=True)
    shutil.copy(REAL / "claude-code-viewer" / f"{TODO_SESSION}.jsonl", folder)
    workspace = tmp_path / "Demo"
    workspace.mkdir()
    (workspace / "CLAUDE.md").write_text("# TODO App Project\n")
    history = read_history(ProjectMatcher.for_folders([TODO_PROJECT]), HistorySources.from_home(home, env={}))
    draft = draft_memory(inspect_workspace([workspace]), sessions=history.sessions, roots=[TODO_PROJECT])
    [note] = [text for path, text in draft.files.items() if path.endswith("/history.md")]
    assert "Thanks! Please update CLAUDE.md for current changes" in note
    for harness in (*HARNESS_TEXT, "orchestrator is running", "Empty Repo Setup", "Create React components"):
        assert harness not in note, harness


@pytest.mark.parametrize("name", LOGO_FILES, ids=["1.0.98-paced", "2.1.332-at-once", "2.1.332-paced"])
def test_an_image_is_noted_where_it_was_sent_and_its_data_is_never_read_as_text(name: str):
    """The prompt typed beside an image is one prompt (the image a marker in it, not a prompt of its own), the
    image a ``Read`` of a PNG returns is a tool result "[image]", and no base64 reaches any text or argument."""
    session = read_claude_session(REAL / name, LIMITS)
    assert session.first_prompt == LOGO_PROMPT + "\n[image]"
    [image_result] = [m for m in session.messages if m.role == "tool" and m.text == "[image]"]
    assert image_result.tool_name == "Read"
    texts = [m.text for m in session.messages] + [c.arguments for c in session.tool_calls()]
    assert not any(PNG_DATA in text for text in texts)


@pytest.mark.parametrize("name", [LOGO_1_0, LOGO_2_1_PACED], ids=["1.0.98", "2.1.332"])
def test_an_image_sent_alone_is_no_prompt(name: str):
    """A user record holding only an image (a screenshot pasted without a word) has nothing typed in it: it is
    neither a prompt nor a request, and the answer to it stays the agent's reply."""
    session = read_claude_session(REAL / name, LIMITS)
    assert [m.text for m in session.messages if m.role == "user"] == [LOGO_PROMPT + "\n[image]", THANKS]
    assert "That screenshot shows the same logo, smaller." in [m.text for m in session.messages]


def test_a_prompt_typed_while_busy_follows_the_prompt_the_harness_wrote_later():
    """Claude Code 2.1.332 writes the enqueue of a prompt typed while busy ("Thanks, that is all for now.")
    before the user record of the prompt it was busy with (that prompt, holding an image, is enqueued without
    its content and dequeued): the typed order is kept, and the first prompt is the session's first prompt."""
    session = read_claude_session(REAL / LOGO_2_1, LIMITS)
    said = [(m.role, m.text) for m in session.messages if m.role == "user"]
    assert said == [("user", LOGO_PROMPT + "\n[image]"), ("user", THANKS)]
    insights = session_insights(session, [LOGO_PROJECT])
    assert [s.text for s in insights.requests] == [LOGO_PROMPT + "\n[image]", THANKS]


def test_init_without_a_model_over_sessions_with_images_keeps_the_prompts_and_no_image_data(tmp_path: Path):
    home = tmp_path / "home"
    folder = home / ".claude" / "projects" / encode_project_dir(LOGO_PROJECT)
    folder.mkdir(parents=True)
    for name in LOGO_FILES:
        shutil.copy(REAL / name, folder)
    workspace = tmp_path / "logo-demo"
    workspace.mkdir()
    (workspace / "README.md").write_text("# Demo\n\nA tiny project with a logo (logo.png).\n")
    history = read_history(ProjectMatcher.for_folders([LOGO_PROJECT]), HistorySources.from_home(home, env={}))
    assert len(history.main_sessions()) == 3 and all(s.notes == [] for s in history.sessions)
    draft = draft_memory(inspect_workspace([workspace]), sessions=history.sessions, roots=[LOGO_PROJECT])
    [note] = [text for path, text in draft.files.items() if path.endswith("/history.md")]
    assert LOGO_PROMPT in note and THANKS in note
    assert "): [image]" not in note  # an image sent alone is no request
    every_note = "\n".join(draft.files.values())
    for harness in (*HARNESS_TEXT, PNG_DATA, "[Image: source", "system-reminder", "sent a new message while you",
                    "queued_command", "api-request"):
        assert harness not in every_note, harness
