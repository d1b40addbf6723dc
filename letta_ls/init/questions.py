"""The questions /init asks about working style, as data the command shows through
``window/showMessageRequest`` (a message and one button per choice), and what the answers mean.

Letta Code's initializing-memory skill asks one bundled question (research depth, whether to analyse
detected history, terse or detailed replies) and infers identity from git instead of asking. An editor
shows one message with buttons at a time, so here each is its own short question, asked only when the
answer is not known yet: ``depth`` and ``history`` may come as ``letta.init`` arguments, and the history
question only makes sense when earlier sessions were found. A dismissed question (no button chosen) is
no answer: nothing is recorded about the user, and /init's parameters take their defaults (SPEC section 7:
``depth`` standard, ``history`` true; only "Skip" turns reading earlier sessions off).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from letta_ls.init.history.model import DetectedHistory

Depth = Literal["standard", "deep"]


@dataclass(frozen=True)
class Choice:
    title: str  # the button's text (a ``MessageActionItem`` title)
    value: str


@dataclass(frozen=True)
class InitQuestion:
    key: str
    message: str
    choices: tuple[Choice, ...]

    @property
    def titles(self) -> list[str]:
        return [choice.title for choice in self.choices]

    def answer(self, title: str | None) -> str | None:
        """The value of the chosen button, or None when the question was dismissed."""
        return next((c.value for c in self.choices if c.title == title), None)


DEPTH = InitQuestion(
    "depth",
    "How thoroughly should I study this project? Standard reads the essentials in a few minutes; deep also reads "
    "much of the code and takes longer.",
    (Choice("Standard", "standard"), Choice("Deep", "deep")),
)
REPLIES = InitQuestion(
    "replies",
    "How do you like my replies?",
    (Choice("Short and direct", "terse"), Choice("Detailed, with reasons", "detailed")),
)
AUTONOMY = InitQuestion(
    "autonomy",
    "When a task is ambiguous, should I ask you first or make a reasonable choice and tell you?",
    (Choice("Ask me first", "ask"), Choice("Decide and tell me", "decide")),
)
COMMITS = InitQuestion(
    "commits",
    "Should I commit my changes to your repository?",
    (Choice("Commit as you go", "agent"), Choice("Leave commits to me", "user")),
)


def history_question(detected: DetectedHistory) -> InitQuestion:
    return InitQuestion(
        "history",
        f"I found {detected.describe()} for this project. Shall I read them to learn how you work? They stay on "
        "this machine; secrets in them are removed before anything is kept.",
        (Choice("Read them", "yes"), Choice("Skip", "no")),
    )


def init_questions(
    *, depth: Depth | None = None, history: bool | None = None, detected: DetectedHistory | None = None
) -> list[InitQuestion]:
    """The questions still open, in the order to ask them."""
    questions = []
    if depth is None:
        questions.append(DEPTH)
    if history is None and detected is not None and detected.total > 0:
        questions.append(history_question(detected))
    return [*questions, REPLIES, AUTONOMY, COMMITS]


@dataclass(frozen=True)
class WorkingStyle:
    """What the user said about how they like to work (None where they did not answer)."""

    replies: Literal["terse", "detailed"] | None = None
    autonomy: Literal["ask", "decide"] | None = None
    commits: Literal["agent", "user"] | None = None

    def lines(self) -> list[str]:
        """Sentences for ``system/human.md``."""
        out = []
        if self.replies == "terse":
            out.append("Prefers short, direct replies: the answer or the change first, explanations only when asked.")
        elif self.replies == "detailed":
            out.append("Prefers detailed replies that explain the reasoning and the trade-offs.")
        if self.autonomy == "ask":
            out.append("Wants to be asked before I act when a task is ambiguous.")
        elif self.autonomy == "decide":
            out.append("Prefers that I make a reasonable choice on ambiguous points and say what I chose.")
        if self.commits == "agent":
            out.append("Is happy for me to commit my changes as I go, in small commits.")
        elif self.commits == "user":
            out.append("Makes the commits themselves: I leave my changes uncommitted for them to review.")
        return out


@dataclass(frozen=True)
class InitAnswers:
    """/init's parameters and the user's working style, from arguments and answers."""

    depth: Depth = "standard"
    read_history: bool = True
    style: WorkingStyle = field(default_factory=WorkingStyle)


def resolve_answers(
    answers: Mapping[str, str | None], *, depth: Depth | None = None, history: bool | None = None
) -> InitAnswers:
    """Arguments win over answers; a question not answered takes its default."""
    chosen_depth = depth or answers.get("depth") or "standard"
    read_history = history if history is not None else answers.get("history") != "no"
    style = WorkingStyle(
        replies=_pick(answers.get("replies"), ("terse", "detailed")),
        autonomy=_pick(answers.get("autonomy"), ("ask", "decide")),
        commits=_pick(answers.get("commits"), ("agent", "user")),
    )
    return InitAnswers("deep" if chosen_depth == "deep" else "standard", read_history, style)


def _pick(value: str | None, allowed: tuple[str, ...]) -> Any:
    return value if value in allowed else None
