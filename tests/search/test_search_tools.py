"""The agent's ``memory_search`` and ``conversation_search`` tools as the model meets them: same names and
arguments as before, ranked answers with a score, filters, and no query that makes them fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
from letta_ls.agent.tools import TOOL_SPECS, Toolbox
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo

AUTHOR = Author("Test Agent", "agent-test@letta-ls.local")


@pytest.fixture
def toolbox(tmp_path: Path) -> Toolbox:
    agent_dir = tmp_path / "agents" / "agent-1"
    repo = MemoryRepo.create(agent_dir / "memory", {
        "system/persona.md": "---\ndescription: Who I am.\n---\nI am a careful coding agent.\n",
        "reference/deploy.md": "---\ndescription: Deploy steps.\n---\nRun make deploy.\nThen make deploy-check.\n"
                               "Deploy logs go to /var/log/deploy.\n",
        "reference/misc.md": "---\ndescription: Odds and ends.\n---\nThe deploy button is red.\n",
    }, AUTHOR)
    store = ConversationStore(agent_dir / "conversations")
    default = store.ensure_default().conversation_id
    store.append(default, [
        Message(role="user", content="How do we deploy the walrus service?", created="2024-01-05T10:00:00+00:00"),
        Message(role="assistant", content="The walrus service deploys with make walrus.",
                created="2024-01-05T10:00:01+00:00"),
    ])
    other = store.create("later").conversation_id
    store.append(other, [Message(role="user", content="walrus again, in March", created="2024-03-01T10:00:00+00:00")])
    return Toolbox(MemoryOperations(repo, AUTHOR), store)


def test_memory_search_answers_path_line_text_best_file_first_with_a_score(toolbox: Toolbox):
    outcome = toolbox.run("memory_search", {"query": "deploy"})
    assert not outcome.is_error
    lines = outcome.text.splitlines()
    assert lines[0].startswith("reference/deploy.md:4: Run make deploy.")
    assert "score" in lines[0] and "rank 1" in lines[0]
    assert lines[1].startswith("reference/misc.md:4: The deploy button is red.") and "rank 2" in lines[1]
    assert len(lines) == 2  # one line per file, the best first


def test_conversation_search_is_ranked_and_keeps_its_shape(toolbox: Toolbox):
    outcome = toolbox.run("conversation_search", {"query": "walrus service", "limit": 5})
    lines = outcome.text.splitlines()
    assert len(lines) == 2 and all("walrus" in line and "score" in line for line in lines)
    assert lines[0].startswith("[2024-01-05T10:00:0")  # [created] conversation role: snippet


def test_conversation_search_filters_by_role_dates_and_conversation(toolbox: Toolbox):
    def found(**filters) -> str:
        return toolbox.run("conversation_search", {"query": "walrus", **filters}).text

    assert "in March" not in found(roles=["assistant"]) and "make walrus" in found(roles=["assistant"])
    assert "in March" in found(start_date="2024-02-01") and "make walrus" not in found(start_date="2024-02-01")
    assert "in March" not in found(end_date="2024-01-31")
    assert "in March" in found(conversation_id=toolbox.conversations.list()[1].conversation_id)
    assert found(roles="nobody").startswith("Error:")  # a bad filter is an error the model can correct


@pytest.mark.parametrize("tool", ["memory_search", "conversation_search"])
@pytest.mark.parametrize("query", ['"foo AND (bar', "NEAR(", "col:x", "*", "-"])
def test_fts_syntax_in_a_query_is_searched_for_not_an_error(toolbox: Toolbox, tool: str, query: str):
    outcome = toolbox.run(tool, {"query": query})
    assert not outcome.is_error, outcome.text


def test_the_tool_schemas_offer_the_filters():
    specs = {spec.name: spec for spec in TOOL_SPECS}
    properties = specs["conversation_search"].parameters["properties"]
    assert {"query", "limit", "roles", "start_date", "end_date", "conversation_id"} <= set(properties)
    assert specs["conversation_search"].parameters["required"] == ["query"]
    assert specs["memory_search"].parameters["required"] == ["query"]
