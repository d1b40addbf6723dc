"""Issue 17: a small model that copies a worked example's text instead of the user's fact stores the user's words.

The 0.5B model asked "keep in mind that the database is PostgreSQL 16" wrote the create example's text twice;
the copy was refused both times and nothing was stored. Real provider, runtime, memory tool and git; the
engine is scripted.
"""

from __future__ import annotations

import pytest

from letta_ls.agent.providers.local_facts import stated_fact
from letta_ls.agent.providers.local_prompt import MEMORY_EXAMPLES
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.session import Session
from tests.agent.test_local_retry import call, scripted_provider
from tests.agent.test_local_targets import _recording_grammar


async def test_a_copied_example_in_a_request_to_remember_stores_what_the_user_said(tmp_path, monkeypatch):
    example = dict(next(arguments for _, arguments in MEMORY_EXAMPLES if arguments["command"] == "create"))
    provider, llama = scripted_provider(tmp_path, monkeypatch, [call(example), call(example)])
    _recording_grammar(monkeypatch)
    session = Session()
    result = await AgentRuntime(session, provider).run_turn("Keep in mind that the database is PostgreSQL 16.")
    assert len(result.commits) == 1 and len(llama.prompts) == 1
    text = "\n".join(item.text or "" for item in session.repo.snapshot() if item.path.endswith(".md"))
    assert "- The database is PostgreSQL 16." in text and "src/api" not in text


async def test_a_copied_example_in_a_correction_is_still_refused(tmp_path, monkeypatch):
    example = dict(next(arguments for _, arguments in MEMORY_EXAMPLES if arguments["command"] == "insert"))
    provider, _ = scripted_provider(tmp_path, monkeypatch, [call(example), call(example)])
    _recording_grammar(monkeypatch)
    result = await AgentRuntime(Session(), provider).run_turn("Actually I use pnpm, not npm. Fix your memory.")
    assert result.commits == []


@pytest.mark.parametrize(("request_text", "fact"), [
    ("Keep in mind that the database is PostgreSQL 16.", "- The database is PostgreSQL 16."),
    ("Remember: never push directly to main.", "- Never push directly to main."),
    ("Please remember that I like tea", "- I like tea."),
    ("Hi! My name is Sam and I always use pnpm in this repo. Please remember that.",
     "- My name is Sam and I always use pnpm in this repo."),
])
def test_the_fact_is_the_request_without_the_words_that_ask_to_remember_it(request_text: str, fact: str) -> None:
    assert stated_fact(request_text) == fact


def test_no_fact_when_the_request_says_nothing_but_remember() -> None:
    assert stated_fact("Please remember that.") is None
