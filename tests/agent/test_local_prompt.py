"""What the embedded model is shown and allowed: pure text and schema work, no model run."""

from __future__ import annotations

import pytest

from letta_ls.agent.messages import Message
from letta_ls.agent.providers.local_grammar import answer_schema
from letta_ls.agent.providers.local_prompt import (
    asks_to_change_memory,
    requested_commands,
    tool_instructions,
    tools_for_small_model,
)
from letta_ls.agent.tools import TOOL_SPECS


@pytest.mark.parametrize("text", ["remember that I always use pnpm in this repo", "Please memorize my name: Sam",
                                  "Keep in mind the API runs on 8080", "Forget what I said about tabs",
                                  "Correct your memory: tests use pytest", "Fix your notes: the branch is main",
                                  "Update my notes: we use Go now", "Look at reference/deploy.md in your memory",
                                  "Correction: my name is Alex, not Alec.", "That's wrong, I use yarn."])
def test_a_request_in_so_many_words_to_change_memory_is_recognised(text: str) -> None:
    assert asks_to_change_memory([Message("user", text)])


@pytest.mark.parametrize("text", ["What does git rebase do?", "How do I reverse a list in Python?",
                                  "Write a one-line bash command that counts lines in a file."])
def test_a_question_leaves_the_model_free_to_answer(text: str) -> None:
    assert not asks_to_change_memory([Message("user", text)])
    earlier = [Message("user", "remember pnpm"), Message("assistant", "Done.")]
    assert not asks_to_change_memory([*earlier, Message("user", text)])


def test_the_small_model_sees_only_the_memory_tool_and_may_be_held_to_a_call() -> None:
    tools = tools_for_small_model(TOOL_SPECS)
    assert [tool.name for tool in tools] == ["memory"]
    assert "memory_search" not in tool_instructions(tools) and "grep" not in tool_instructions(tools)
    free = answer_schema(tools)["oneOf"]
    held = answer_schema(tools, call_required=True)["oneOf"]
    assert [alt["properties"]["type"]["const"] for alt in free] == ["message", "tool"]
    assert [alt["properties"]["type"]["const"] for alt in held] == ["tool"]


def test_one_worked_example_per_memory_command_the_small_model_may_call() -> None:
    (memory,) = tools_for_small_model(TOOL_SPECS)
    offered = {alt["properties"]["command"]["const"]: alt for alt in memory.strict_parameters["anyOf"]}
    assert set(offered) == {"view", "create", "str_replace", "insert", "delete", "rename"}
    assert "file_text" in offered["create"]["required"]  # no empty file that only looks like a stored fact
    text = tool_instructions([memory])
    for command in offered:
        assert text.count(f'"command": "{command}"') == 1, command
    assert '"command": "update_description"' not in text


def test_a_request_to_remember_a_new_fact_lets_the_grammar_only_add_to_memory() -> None:
    """Held to a call, the 0.5B model asked to remember a new fact reached for str_replace on a file without the
    old text (issue 17: half the pnpm runs stored nothing); the command is chosen from the request's words."""
    def commands(text: str) -> list[str]:
        memory = tools_for_small_model(TOOL_SPECS, requested_commands([Message("user", text)]))[0]
        return [alt["properties"]["command"]["const"] for alt in memory.strict_parameters["anyOf"]]

    assert commands("remember that I always use pnpm in this repo") == ["create", "insert"]
    assert commands("Hi! I always use pnpm here. Please remember that.") == ["create", "insert"]
    for change in ("Actually I use pnpm, not npm. Please fix your memory.", "Remember: we moved to Python 3.13.",
                   "Forget the notes file.", "What does git rebase do?"):
        assert {"str_replace", "insert", "view"} <= set(commands(change)), change


def test_after_a_view_the_next_step_must_edit_and_may_not_view_again() -> None:
    """The 0.5B model viewed the same file until the step limit (issue 17's view-then-edit and correct kinds)."""
    from letta_ls.agent.messages import ToolCall
    from letta_ls.agent.providers.local_prompt import must_call

    view = ToolCall("call-1", "memory", {"command": "view", "file_path": "reference/deploy.md"})
    turn = [Message("user", "Look at reference/deploy.md in your memory and change the target to production."),
            Message("assistant", "", tool_calls=[view]),
            Message("tool", "reference/deploy.md\n    1\t- Deploy target: staging.", tool_call_id="call-1",
                    name="memory")]
    assert must_call(turn) and "view" not in requested_commands(turn)
    assert {"str_replace", "insert"} <= requested_commands(turn)
    failed = [*turn[:2], Message("tool", "Error: no such file", tool_call_id="call-1", name="memory")]
    assert requested_commands(failed) is None  # after an error every command stays allowed
    question = [Message("user", "What is in reference/deploy.md?"), *turn[1:]]
    assert not must_call(question)  # nobody asked for a change: the model may answer


def test_deleting_or_renaming_a_file_needs_a_request_that_speaks_of_a_file() -> None:
    """The 0.5B model asked "we renamed the app from Foo to Bar; update your project notes" renamed the notes file
    to system/bar.md and left the fact as it was; a request about a fact may not move or remove a whole file."""
    def commands(text: str, after_view: bool = False) -> set[str]:
        turn = [Message("user", text)]
        if after_view:
            from letta_ls.agent.messages import ToolCall

            view = ToolCall("c1", "memory", {"command": "view", "file_path": "system/project.md"})
            turn += [Message("assistant", "", tool_calls=[view]),
                     Message("tool", "system/project.md\n    1\t- The app is Foo.", tool_call_id="c1", name="memory")]
        memory = tools_for_small_model(TOOL_SPECS, requested_commands(turn))[0]
        return {alt["properties"]["command"]["const"] for alt in memory.strict_parameters["anyOf"]}

    for fact in ("We renamed the app from Foo to Bar; update your project notes.", "Forget that I like tabs.",
                 "Correction: my name is Alex, not Alec."):
        assert not {"rename", "delete"} & commands(fact), fact
        assert not {"rename", "delete"} & commands(fact, after_view=True), fact
        assert {"str_replace", "insert"} <= commands(fact), fact
    assert {"rename", "delete"} <= commands("Rename notes.md to reference/notes.md.")
    assert "delete" in commands("Forget the notes file.")
    assert "delete" in commands("Delete reference/deploy.md from your memory.", after_view=True)


def test_a_request_to_add_a_line_may_only_add_even_after_a_view() -> None:
    """After viewing reference/deploy.md for "add a line saying deploys happen on Fridays", the 0.5B model replaced
    the file's only line instead of adding one (a wrong overwrite)."""
    from letta_ls.agent.messages import ToolCall

    request = "In reference/deploy.md, add a line saying deploys happen on Fridays."
    view = ToolCall("c1", "memory", {"command": "view", "file_path": "reference/deploy.md"})
    turn = [Message("user", request), Message("assistant", "", tool_calls=[view]),
            Message("tool", "reference/deploy.md\n    1\t- Deploy target: staging.", tool_call_id="c1", name="memory")]
    assert requested_commands(turn) == frozenset({"insert", "create"})
    assert requested_commands([Message("user", request)]) == frozenset({"insert", "create"})
    set_target = [Message("user", "Check your deploy notes and set the deploy target to production."), *turn[1:]]
    assert "str_replace" in requested_commands(set_target)
    assert "str_replace" in requested_commands([Message("user", "Add pnpm to my tools and remove npm.")])
