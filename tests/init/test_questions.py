"""The working-style questions /init asks, and what their answers mean."""

from __future__ import annotations

from datetime import UTC, datetime

from letta_ls.init.history import DetectedHistory
from letta_ls.init.questions import (
    AUTONOMY,
    COMMITS,
    DEPTH,
    REPLIES,
    WorkingStyle,
    init_questions,
    resolve_answers,
)

FOUND = DetectedHistory({"claude-code": 12, "codex": 1}, datetime(2025, 8, 14, tzinfo=UTC), None)


def test_a_bare_init_asks_depth_history_and_working_style_in_that_order():
    questions = init_questions(detected=FOUND)
    assert [q.key for q in questions] == ["depth", "history", "replies", "autonomy", "commits"]
    history = questions[1]
    assert history.message.startswith("I found 12 Claude Code sessions and 1 Codex session for this project.")
    assert history.titles == ["Read them", "Skip"]


def test_what_the_arguments_already_say_is_not_asked_again():
    assert [q.key for q in init_questions(depth="deep", history=False, detected=FOUND)] == [
        "replies", "autonomy", "commits"]
    nothing_found = DetectedHistory({"claude-code": 0, "codex": 0}, None, None)
    assert "history" not in [q.key for q in init_questions(detected=nothing_found)]
    assert "history" not in [q.key for q in init_questions()]


def test_every_question_is_a_message_with_buttons():
    for question in (DEPTH, REPLIES, AUTONOMY, COMMITS):
        assert question.message.endswith(("?", ".")) and len(question.titles) == 2
        assert question.answer(question.titles[1]) == question.choices[1].value
        assert question.answer(None) is None  # dismissed
        assert question.answer("Something else") is None


def test_answers_become_parameters_and_a_working_style():
    answers = {"depth": "deep", "history": "yes", "replies": "terse", "autonomy": None, "commits": "agent"}
    resolved = resolve_answers(answers)
    assert (resolved.depth, resolved.read_history) == ("deep", True)
    assert resolved.style == WorkingStyle(replies="terse", autonomy=None, commits="agent")
    assert resolved.style.lines() == [
        "Prefers short, direct replies: the answer or the change first, explanations only when asked.",
        "Is happy for me to commit my changes as I go, in small commits.",
    ]


def test_arguments_win_over_answers_and_dismissed_questions_take_defaults():
    resolved = resolve_answers({"depth": "deep", "history": "yes"}, depth="standard", history=False)
    assert (resolved.depth, resolved.read_history) == ("standard", False)
    default = resolve_answers({})  # SPEC: depth standard, history true
    assert (default.depth, default.read_history, default.style.lines()) == ("standard", True, [])
    assert resolve_answers({"history": "no"}).read_history is False
    assert resolve_answers({"history": None}).read_history is True  # dismissed: the default
    assert resolve_answers({"replies": "shouting"}).style.replies is None
