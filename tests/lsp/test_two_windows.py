"""Two editor windows (two server processes) chatting with one agent at once lose and mix nothing."""

import asyncio
import sys

from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from letta_ls.agent.conversations import ConversationStore
from letta_ls.home import Home
from tests.fakes import Script, scripted_openai
from tests.lsp.conftest import accept_registrations, server_env


async def open_window(home, base_url: str):
    client = make_test_lsp_client()
    accept_registrations(client)
    await client.start_io(sys.executable, "-m", "letta_ls", "serve", env=server_env(home))
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"home": str(home), "model": {"provider": "openai", "name": "gpt-test",
                                                             "baseUrl": base_url}}))
    return client


async def test_two_windows_chatting_at_once(lsp_home):
    script = Script().respond(lambda request: Script().text(f"re: {request.messages[-1]['content']}")).repeat_last()
    with scripted_openai(script) as server:
        windows = [await open_window(lsp_home, server.base_url) for _ in range(2)]
        try:
            async def chat(window, n):
                for i in range(4):
                    await window.workspace_execute_command_async(types.ExecuteCommandParams(
                        command="letta.chat", arguments=[{"message": f"w{n}-{i}", "conversationId": "default"}]))

            await asyncio.gather(chat(windows[0], 0), chat(windows[1], 1))
        finally:
            for window in windows:
                await window.shutdown_session()
                await window.stop()
    agent = Home(lsp_home).current_agent()
    messages = ConversationStore(agent.conversations_dir).messages("default")
    users = [m.content for m in messages if m.role == "user"]
    replies = [m.content for m in messages if m.role == "assistant"]
    assert sorted(users) == sorted(f"w{n}-{i}" for n in range(2) for i in range(4))
    assert len(replies) == 8
    by_turn = {}
    for m in messages:
        by_turn.setdefault(m.turn_id, []).append(m)
    for turn in by_turn.values():  # each turn's question and answer stay together under one turn id
        assert [m.role for m in turn] == ["user", "assistant"]
        assert turn[1].content.startswith("re: ")
