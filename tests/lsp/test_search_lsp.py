"""``letta/search`` end to end: the same ranked search as the agent's tools and ``letta-ls search``, over LSP,
kept up to date as the user's saves commit and as conversations grow."""

import pytest
from pygls.exceptions import JsonRpcException

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message


async def request(client, method: str, params):
    return await client.protocol.send_request_async(method, params)


def memory_uri(client, path: str) -> str:
    return f"letta-memory://{client.agent.id}/{path}"


async def test_search_finds_a_saved_memory_and_past_messages_best_first(client):
    uri = memory_uri(client, "reference/otters.md")
    await request(client, "letta/memoryWrite", {
        "uri": uri, "reason": "otter notes",
        "text": "---\ndescription: Otter facts.\n---\nOtters hold hands while sleeping.\nSea otters use tools.\n"})
    store = ConversationStore(client.agent.conversations_dir)
    store.append(store.ensure_default().conversation_id, [
        Message(role="user", content="Tell me about otters and otters' habits"),
        Message(role="assistant", content="One fact about otters"),
    ])

    found = await request(client, "letta/search", {"query": "otters sleeping", "scope": "memory", "limit": 5})
    assert found.query == "otters sleeping" and not hasattr(found, "conversations")
    hit = found.memory[0]
    assert (hit.path, hit.line, hit.rank) == ("reference/otters.md", 4, 1)
    assert hit.text == "Otters hold hands while sleeping."
    assert hit.uri == uri and hit.score > 0

    found = await request(client, "letta/search", {"query": "otters", "scope": "conversations"})
    assert [h.role for h in found.conversations] == ["user", "assistant"]  # two mentions rank first
    assert found.conversations[0].uri == f"letta-conversation://{client.agent.id}/default.md"
    assert not hasattr(found, "memory")

    both = await request(client, "letta/search", {"query": "otters"})
    assert both.memory[0].path == "reference/otters.md" and len(both.conversations) == 2


@pytest.mark.parametrize("params", [{"query": ""}, {"query": "x", "scope": "everything"}, {"query": "x", "limit": 0},
                                    {"scope": "memory"}])
async def test_bad_search_params_are_invalid_params(client, params):
    with pytest.raises(JsonRpcException) as err:
        await request(client, "letta/search", params)
    assert err.value.code == -32602


async def test_fts_syntax_is_searched_for(client):
    found = await request(client, "letta/search", {"query": '"careful AND (agent'})
    assert isinstance(found.memory, list) and isinstance(found.conversations, list)
