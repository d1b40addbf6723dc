"""The embedded-model eval's scorer (bench/local_eval.py): a wrong fact with a capital letter is still seen.

It lowered memory's text but not the fact that must go, so "name is Alec" was never found: a correction that
replaced the line counted as a wrong overwrite, and one that left it as a pass.
"""

from __future__ import annotations

from bench.local_eval import HUMAN, Case, _score

ALEC = Case("correct", "Correction: my name is Alex, not Alec.", ("Alex",), ("name is Alec",),
            {HUMAN: "- The user's name is Alec."})
BEFORE = {HUMAN: "---\ndescription: About the user\n---\n- Likes tea.\n- The user's name is Alec.\n"}


def test_a_correction_that_replaced_the_wrong_line_passes() -> None:
    after = {HUMAN: "---\ndescription: About the user\n---\n- Likes tea.\n- The user's name is Alex.\n"}
    assert _score(ALEC, BEFORE, after, commits=1) == (True, "")


def test_a_correction_that_left_the_wrong_line_fails() -> None:
    after = {HUMAN: BEFORE[HUMAN] + "- The user's name is Alex.\n"}
    ok, why = _score(ALEC, BEFORE, after, commits=1)
    assert not ok and "still there" in why


def test_losing_another_line_is_a_wrong_overwrite() -> None:
    after = {HUMAN: "---\ndescription: About the user\n---\n- The user's name is Alex.\n"}
    ok, why = _score(ALEC, BEFORE, after, commits=1)
    assert not ok and "wrong overwrite" in why
