"""The model resolver: the three texts go to the model in a message, its file comes back; anything doubtful
(no text, a cut-off answer, a failed call) is None, so the merge keeps both versions."""

from __future__ import annotations

import pytest

from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.agent.providers.retry import RetryPolicy
from letta_ls.settings import ModelSettings
from letta_ls.subagents.resolve import model_resolver, resolver_for, unwrap_answer

MERGED = "---\ndescription: Project notes\n---\nUse pnpm 9.\n"


@pytest.fixture
def resolver(openai_server):
    provider = OpenAIProvider("gpt-test", api_key="sk-test-key", base_url=openai_server.base_url,
                              retry=RetryPolicy(max_retries=0))
    return model_resolver(provider, ours="this machine", theirs="the remote")


async def test_the_model_gets_all_three_versions_and_its_file_is_returned(resolver, openai_server):
    openai_server.script.text(f"```markdown\n{MERGED}```")
    answer = await resolver("notes.md", "base text\n", "ours: pnpm\n", "theirs: pnpm 9\n")
    assert answer == MERGED
    (request,) = openai_server.model_requests
    sent = request.body["messages"][-1]["content"]
    assert "<base>\nbase text\n" in sent and "ours: pnpm" in sent and "theirs: pnpm 9" in sent
    assert '<version from="this machine">\nours: pnpm' in sent and '<version from="the remote">' in sent
    assert "File: notes.md" in sent and "merge two versions" in request.body["messages"][0]["content"]


async def test_a_file_both_sides_created_is_said_to_have_no_base(resolver, openai_server):
    openai_server.script.text(MERGED)
    assert await resolver("notes.md", None, "a\n", "b\n") == MERGED
    assert "no common base" in openai_server.model_requests[0].body["messages"][-1]["content"]


async def test_a_cut_off_or_failed_answer_gives_nothing(resolver, openai_server):
    openai_server.script.text(MERGED[:20], stop="max_tokens").error(400, "the request was refused")
    assert await resolver("notes.md", "x\n", "a\n", "b\n") is None
    assert await resolver("notes.md", "x\n", "a\n", "b\n") is None


def test_only_a_fence_around_the_whole_answer_is_removed():
    assert unwrap_answer("```\nA\n```") == "A\n"
    assert unwrap_answer("A\n```\ncode\n```") == "A\n```\ncode\n```\n"
    assert unwrap_answer("  ") == ""


def test_no_resolver_without_a_real_model(monkeypatch):
    assert resolver_for(ModelSettings()) is None  # nothing configured (the embedded fallback is too small)
    assert resolver_for(ModelSettings(provider="openai")) is None  # no key: both versions are kept
    assert resolver_for(ModelSettings(provider="openai", baseUrl="http://127.0.0.1:9/v1")) is not None
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    assert resolver_for(ModelSettings()) is not None
