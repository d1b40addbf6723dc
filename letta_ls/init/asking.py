"""Asking /init's questions through the caller's ``ask`` callback, so that nothing ever waits forever.

``ask(question)`` returns the chosen button's title, or None when the question was dismissed; the language
server shows ``window/showMessageRequest``, the CLI asks on the terminal. Here the answers become values
(``InitQuestion.answer``) and every question's fate is recorded for the report: answered, dismissed (its
default is taken), or not asked. A callback that fails counts as a dismissal, never as a failed /init; one
that takes longer than ``timeout`` ends the asking, since nobody is there, and every open question takes its
default. Core code: no LSP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from letta_ls.init.questions import InitQuestion
from letta_ls.init.report import AskedQuestion

log = logging.getLogger(__name__)

Asker = Callable[[InitQuestion], Awaitable["str | None"]]
QUESTION_TIMEOUT = 120.0


@dataclass
class Answers:
    values: dict[str, str | None] = field(default_factory=dict)  # question key → the chosen value
    asked: list[AskedQuestion] = field(default_factory=list)
    anyone: bool = False  # someone could be asked (an editor or a terminal)
    timed_out: bool = False


async def ask_questions(questions: Sequence[InitQuestion], ask: Asker | None,
                        timeout: float = QUESTION_TIMEOUT) -> Answers:
    """Ask ``questions`` in order (see the module docstring)."""
    answers = Answers(anyone=ask is not None)
    if ask is None:
        answers.asked = [AskedQuestion(q.key, q.message, None, "not asked") for q in questions]
        return answers
    for index, question in enumerate(questions):
        try:
            title = await asyncio.wait_for(ask(question), timeout)
        except TimeoutError:
            answers.asked += [AskedQuestion(q.key, q.message, None, "not asked") for q in questions[index:]]
            answers.timed_out = True
            break
        except Exception as exc:
            log.info("asking %s failed: %s", question.key, exc)
            title = None
        value = question.answer(title if isinstance(title, str) else None)
        answers.values[question.key] = value
        answers.asked.append(AskedQuestion(question.key, question.message, title if value else None,
                                           "answered" if value else "dismissed"))
    return answers
