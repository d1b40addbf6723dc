"""``letta-ls search QUERY [--memory|--conversations] [--format text|json]`` as a user runs it: a real
subprocess, a real home, the same ranked answers as the agent's tools and ``letta/search``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
from letta_ls.home import Home
from letta_ls.search.index import index_path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ})


@pytest.fixture
def home(isolated_environment: Path) -> Home:
    home = Home(isolated_environment)
    agent = home.current_agent()
    home.memory_repo(agent).commit({"reference/lanterns.md": b"---\ndescription: Lantern care.\n---\n"
                                    b"Trim the lantern wick weekly.\nLanterns need oil.\n"}, "lanterns", agent.author)
    store = ConversationStore(agent.conversations_dir)
    store.append(store.ensure_default().conversation_id, [
        Message(role="user", content="how often should I trim a lantern wick?", created="2024-05-01T08:00:00+00:00"),
        Message(role="assistant", content="Weekly.", created="2024-05-01T08:00:01+00:00"),
    ])
    return home


def test_search_prints_memory_and_conversations_best_first(home: Home):
    proc = run("search", "lantern wick")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "reference/lanterns.md:4: Trim the lantern wick weekly." in out
    assert "default user: how often should I trim a lantern wick?" in out
    assert out.index("Memory") < out.index("reference/lanterns.md") < out.index("Conversations") < out.index("default")
    assert index_path(home.current_agent().dir).exists()  # the index the agent's tools use


def test_search_json_with_one_scope(home: Home):
    memory = json.loads(run("search", "lanterns oil", "--memory", "--format", "json").stdout)
    assert set(memory) == {"query", "memory"}
    assert memory["memory"][0]["path"] == "reference/lanterns.md" and memory["memory"][0]["rank"] == 1
    assert memory["memory"][0]["score"] > 0
    conversations = json.loads(run("search", "wick", "--conversations", "--json").stdout)
    assert set(conversations) == {"query", "conversations"}
    assert [hit["role"] for hit in conversations["conversations"]] == ["user"]


def test_search_with_filters_and_no_match(home: Home):
    proc = run("search", "weekly", "--conversations", "--role", "assistant", "--since", "2024-05-01")
    assert proc.returncode == 0 and "default assistant: Weekly." in proc.stdout
    proc = run("search", "weekly", "--conversations", "--until", "2024-04-30")
    assert proc.returncode == 1 and "No match" in proc.stdout  # like grep: 1 when nothing matches


def test_fts_syntax_and_usage_errors(home: Home):
    assert run("search", '"lantern AND (wick').returncode == 0
    proc = run("search", "x", "--memory", "--conversations")
    assert proc.returncode == 2 and "not allowed with" in proc.stderr
    proc = run("search", "   ")
    assert proc.returncode == 2 and "query" in proc.stderr
    assert run("search", "--help").returncode == 0
