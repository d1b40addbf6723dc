"""Issue 17: a small model's ``str_replace`` may only name a line of memory it was shown, by grammar.

The 0.5B model asked to correct a fact wrote an ``old_string`` that was not in the file (the eval's ``correct``
and ``view-then-edit`` kinds at 2/4). These tests run the real provider, runtime, memory tool and git
repository with a scripted engine, and record the tools the grammar is built from.
"""

from __future__ import annotations

import json
from typing import Any

from llama_cpp.llama_grammar import json_schema_to_gbnf

from letta_ls.agent.messages import Message, ToolCall
from letta_ls.agent.providers import local
from letta_ls.agent.providers.local_grammar import answer_schema
from letta_ls.agent.providers.local_targets import aim_str_replace, prompt_memory_lines, viewed_file_lines
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.session import Session
from tests.agent.test_local_retry import call, scripted_provider


def _str_replace_targets(tools: list[Any]) -> dict[str, list[str]]:
    (memory,) = tools
    return {alt["properties"]["file_path"]["const"]: alt["properties"]["old_string"]["enum"]
            for alt in memory.strict_parameters["anyOf"] if alt["properties"]["command"].get("const") == "str_replace"}


def _recording_grammar(monkeypatch) -> list[list[Any]]:
    seen: list[list[Any]] = []
    monkeypatch.setattr(local, "tool_grammar", lambda engine, tools, call_required=False: seen.append(tools))
    return seen


def _deploy_notes_viewed_then_edited(tmp_path, monkeypatch) -> tuple[Session, Any]:
    """Deploy notes saying staging, and a model that views them, then sets the target to production: the two
    steps a small model must take to change a file the prompt does not show."""
    session = Session()
    session.operations("user").create("reference/deploy.md", "Deployment notes", "- Deploy target: staging.",
                                      reason="seed")
    view = call({"command": "view", "file_path": "reference/deploy.md"})
    edit = call({"command": "str_replace", "file_path": "reference/deploy.md",
                 "old_string": "- Deploy target: staging.", "new_string": "- Deploy target: production.",
                 "reason": "The target changed"})
    provider, _ = scripted_provider(tmp_path, monkeypatch, [view, edit])
    return session, provider


async def test_a_correction_may_only_replace_a_line_of_a_file_the_prompt_shows(tmp_path, monkeypatch):
    session = Session()
    session.operations("user").insert("system/human.md", 1_000_000, "- Uses npm for packages.", reason="seed")
    fix = call({"command": "str_replace", "file_path": "system/human.md", "old_string": "- Uses npm for packages.",
                "new_string": "- Uses pnpm for packages.", "reason": "The user uses pnpm"})
    provider, _ = scripted_provider(tmp_path, monkeypatch, [fix])
    seen = _recording_grammar(monkeypatch)
    result = await AgentRuntime(session, provider).run_turn("Actually I use pnpm, not npm. Please fix your memory.")
    # only the line the correction is about: offered every line, the model replaced the template's first one
    assert _str_replace_targets(seen[0]) == {"system/human.md": ["- Uses npm for packages."]}
    assert len(result.commits) == 1 and "pnpm" in session.repo.snapshot().get("system/human.md").text


async def test_after_a_view_only_the_viewed_files_lines_may_be_replaced(tmp_path, monkeypatch):
    session, provider = _deploy_notes_viewed_then_edited(tmp_path, monkeypatch)
    seen = _recording_grammar(monkeypatch)
    result = await AgentRuntime(session, provider).run_turn(
        "Look at reference/deploy.md in your memory and change the deploy target to production.")
    assert "reference/deploy.md" not in _str_replace_targets(seen[0])  # not seen yet: view it first
    assert _str_replace_targets(seen[1]) == {"reference/deploy.md": ["- Deploy target: staging."]}
    assert len(result.commits) == 1
    assert "production" in session.repo.snapshot().get("reference/deploy.md").text


def test_the_aimed_grammar_converts_and_names_each_line_as_a_literal() -> None:
    from letta_ls.agent.providers.local_prompt import tools_for_small_model
    from letta_ls.agent.tools import TOOL_SPECS

    lines = ['- Uses "npm" for packages.', "- The user's name is Alec."]
    tools = aim_str_replace(tools_for_small_model(TOOL_SPECS), {"system/human.md": lines})
    grammar = json_schema_to_gbnf(json.dumps(answer_schema(tools, True)))
    assert json.dumps(json.dumps(lines[1]))[1:-1] in grammar and "system/human.md" in grammar
    assert aim_str_replace(tools_for_small_model(TOOL_SPECS), {}) == tools_for_small_model(TOOL_SPECS)


def test_the_lines_are_read_from_the_prompt_and_the_view_without_markup_or_frontmatter() -> None:
    system = ("<memory>\n<human>\n  <projection>$MEMORY_DIR/system/human.md</projection>\n"
              "  <description>About the user</description>\n  - Uses npm.\n- Likes tabs.\n</human>\n</memory>")
    assert prompt_memory_lines(system) == {"system/human.md": ["- Uses npm.", "- Likes tabs."]}
    view = ToolCall("c1", "memory", {"command": "view", "file_path": "reference/deploy.md"})
    shown = "reference/deploy.md\n    1\t---\n    2\tdescription: Deploys\n    3\t---\n    4\t- Target: staging."
    turn = [Message("user", "x"), Message("assistant", "", tool_calls=[view]),
            Message("tool", shown, tool_call_id="c1", name="memory")]
    assert viewed_file_lines(turn) == {"reference/deploy.md": ["- Target: staging."]}
    failed = [*turn[:2], Message("tool", "Error: no such file", tool_call_id="c1", name="memory")]
    assert viewed_file_lines(failed) is None


async def test_a_change_to_a_file_the_prompt_only_lists_is_preceded_by_a_forced_view_of_it(tmp_path, monkeypatch):
    """Asked "check your deploy notes and set the deploy target to production", the 0.5B model inserted the sentence
    into system/human.md; the notes it meant are listed in the prompt, not shown, so the program views them first."""
    session, provider = _deploy_notes_viewed_then_edited(tmp_path, monkeypatch)
    held: list[bool] = []
    seen: list[list[Any]] = []

    def record(engine, tools, call_required=False):
        seen.append(tools)
        held.append(call_required)

    monkeypatch.setattr(local, "tool_grammar", record)
    result = await AgentRuntime(session, provider).run_turn(
        "Check your deploy notes and set the deploy target to production.")
    (memory,) = seen[0]
    (only,) = memory.strict_parameters["anyOf"]
    assert only["properties"]["command"] == {"const": "view"}
    assert only["properties"]["file_path"] == {"const": "reference/deploy.md"}
    assert held == [True, True]  # the view, then the edit it was for
    assert len(result.commits) == 1 and "production" in session.repo.snapshot().get("reference/deploy.md").text


def test_no_forced_view_for_a_question_a_fact_to_remember_or_a_file_the_prompt_shows() -> None:
    from letta_ls.agent.providers.local_targets import forced_view

    system = ("<memory>\n<human>\n  <projection>$MEMORY_DIR/system/human.md</projection>\n  - Uses npm.\n</human>\n"
              "<external_projection>\n${MEMORY_DIR}/\n├── notes/\n│   └── style.md (Code style)\n"
              "└── reference/\n    └── deploy.md (Deployment notes)\n</external_projection>\n</memory>")
    assert forced_view(system, [Message("user", "Update your deploy notes: we deploy to qa now.")]) \
        == "reference/deploy.md"
    assert forced_view(system, [Message("user", "In notes/style.md, change tabs to spaces.")]) == "notes/style.md"
    assert forced_view(system, [Message("user", "How do I deploy to staging?")]) is None
    assert forced_view(system, [Message("user", "Actually I use pnpm, not npm. Fix your memory.")]) is None
    assert forced_view(system, [Message("user", "Fix system/human.md: I use pnpm.")]) is None


async def _insert_into_human_md(tmp_path, monkeypatch, known: str, inserted: tuple[str, str],
                                prompt: str) -> tuple[Any, str]:
    """Memory that knows the line ``known`` about the user, and a model that answers ``prompt`` by inserting the
    line ``inserted`` (with its reason) at the top of system/human.md: the turn, and the file's text after it."""
    session = Session()
    session.operations("user").insert("system/human.md", 1_000_000, known, reason="seed")
    insert = call({"command": "insert", "file_path": "system/human.md", "insert_line": 0,
                   "insert_text": inserted[0], "reason": inserted[1]})
    provider, _ = scripted_provider(tmp_path, monkeypatch, [insert])
    _recording_grammar(monkeypatch)
    result = await AgentRuntime(session, provider).run_turn(prompt)
    return result, session.repo.snapshot().get("system/human.md").text


async def test_a_corrected_line_inserted_beside_the_wrong_one_replaces_it(tmp_path, monkeypatch):
    """Asked to correct a fact, the 0.5B model added the corrected line next to the wrong one, so memory said both."""
    result, text = await _insert_into_human_md(tmp_path, monkeypatch, "- The user's name is Alec.",
                                               ("- The user's name is Alex.", "The user's name"),
                                               "Correction: my name is Alex, not Alec.")
    assert len(result.commits) == 1 and "name is Alex." in text and "Alec" not in text


async def test_a_new_fact_inserted_beside_a_similar_one_is_added_when_nothing_was_said_to_change(tmp_path,
                                                                                                 monkeypatch):
    _, text = await _insert_into_human_md(tmp_path, monkeypatch, "- Uses npm for packages.",
                                          ("- Uses pnpm for packages.", "The user's package manager"),
                                          "Remember that I use pnpm for packages in this repo.")
    assert "- Uses npm for packages." in text and "- Uses pnpm for packages." in text


def test_only_one_close_line_is_taken_as_the_one_contradicted() -> None:
    from letta_ls.agent.providers.local_targets import contradicted_line

    lines = ["- Deploy target: staging.", "- Deploys happen on Fridays.", "- The user's name is Alec."]
    assert contradicted_line("- Deploy target: production.", lines) == "- Deploy target: staging."
    assert contradicted_line("- Likes tea.", lines) is None
    assert contradicted_line("- Deploy target: staging.", lines) is None  # the same line contradicts nothing
    assert contradicted_line("- Deploy target: qa.", [*lines, "- Deploy target: prod."]) is None  # two: unsure


def test_the_lines_offered_are_those_the_request_is_about() -> None:
    from letta_ls.agent.providers.local_targets import relevant_lines

    memory = {"system/human.md": ["I haven't met the user yet.", "- their name, role and what they are building;",
                                  "- the languages, frameworks and tools they use, and the ones they avoid;",
                                  "- Uses VS Code."],
              "system/project.md": ["- The server listens on port 8000.", "- The user's name is Alec."]}
    assert relevant_lines(memory, "My editor is now Neovim instead of VS Code; update what you know.") == {
        "system/human.md": ["- Uses VS Code."]}
    assert relevant_lines(memory, "Correction: my name is Alex, not Alec.") == {
        "system/project.md": ["- The user's name is Alec."]}
    assert relevant_lines(memory, "You noted the wrong port: the server uses 9000, not 8000.") == {
        "system/project.md": ["- The server listens on port 8000."]}
    assert relevant_lines(memory, "Please fix your memory.") == {}
    assert relevant_lines({"reference/deploy.md": ["- Target: staging."]}, "Change it to prod.", keep_all=True) == {
        "reference/deploy.md": ["- Target: staging."]}
