"""Chat over LSP: ``letta.chat``, ``letta.remember``, conversations, and ``letta-conversation://`` documents.

One ``AgentRuntime`` per server, rebuilt when the agent or the model settings change. A turn streams
``letta/chatEvent`` notifications; ``$/cancelRequest`` cancels the request's task, which ends the
turn cleanly (the transcript records it as cancelled). Memory edits made by the agent are announced
with ``letta/memoryChanged`` at once.
"""

from __future__ import annotations

import logging
from typing import Any

from letta_ls.agent.conversations import ConversationStore, UnknownConversationError
from letta_ls.agent.providers.base import ProviderError
from letta_ls.agent.providers.select import select_provider
from letta_ls.agent.remember import NothingToRemember, remember
from letta_ls.agent.runtime import AgentRuntime, ChatEvent
from letta_ls.server.app import LettaServer
from letta_ls.server.commands import single_argument
from letta_ls.server.errors import InvalidParams, RequestFailed, rpc_errors
from letta_ls.server.lifecycle import workspace_folders
from letta_ls.server.slash import parse_slash, run_slash
from letta_ls.server.slash import register as register_slash_commands

log = logging.getLogger("letta_ls.server")
CHAT_EVENT = "letta/chatEvent"


class ChatService:
    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls
        self._runtime: AgentRuntime | None = None

    def reset(self) -> None:
        self._runtime = None

    def runtime(self) -> AgentRuntime:
        if self._runtime is None or self._runtime.session.agent.id != self.ls.current.agent.id:
            session = self.ls.current
            try:
                provider = select_provider(session.settings.model)
            except ProviderError as exc:
                raise RequestFailed(str(exc)) from exc
            self._runtime = AgentRuntime(session, provider, workspace=workspace_folders(self.ls),
                                         on_memory_commit=self._announce)
            self.ls.fire("runtime_created", self._runtime)  # dreams count its steps and hear its compactions
        return self._runtime

    def _announce(self, commit: str, paths: list[str]) -> None:
        self.ls.notify_memory_changed(commit, paths)

    def emit(self, event: ChatEvent) -> None:
        self.ls.protocol.notify(CHAT_EVENT, event.to_json())

    def conversation_markdown(self, agent_id: str, conversation_id: str) -> str:
        agent = self.ls.current.home.find_agent(agent_id)
        return ConversationStore(agent.conversations_dir).render_markdown(conversation_id)


def _text(arg: dict[str, Any], name: str, command: str) -> str | None:
    value = arg.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidParams(f"{command}: {name!r} must be text")
    return value


def register(server: LettaServer) -> None:
    service = ChatService(server)
    server.chat = service  # type: ignore[attr-defined]
    server.on("settings_changed", service.reset)
    server.on("agent_switched", service.reset)
    register_slash_commands(server)  # letta.slashCommands: the list the chats complete from

    @server.command("letta.chat")
    async def chat(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            arg = single_argument("letta.chat", args)
            message = _text(arg, "message", "letta.chat")
            conversation = _text(arg, "conversationId", "letta.chat")
            if not message or not message.strip():
                raise InvalidParams("letta.chat needs {\"message\": \"...\"}: what do you want to say?")
            slash = parse_slash(message)
            if slash is not None:  # /remember, /new, /doctor …: the same commands in every editor's chat
                return await run_slash(ls, *slash, conversation, service.emit)
            runtime = await ls.run_blocking(service.runtime)
            try:
                result = await runtime.run_turn(message, conversation_id=conversation, emit=service.emit)
            except UnknownConversationError as exc:
                raise InvalidParams(str(exc)) from exc
            ls.fire("conversation_changed", result.conversation_id)
            if result.error:
                raise RequestFailed(result.error)
            return {"conversationId": result.conversation_id, "reply": result.reply}

    @server.command("letta.remember")
    async def remember_command(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            arg = single_argument("letta.remember", args)
            text = _text(arg, "text", "letta.remember")
            conversation = _text(arg, "conversationId", "letta.remember")
            runtime = await ls.run_blocking(service.runtime)
            token = await ls.begin_progress("Remembering", (text or "")[:60] or None)
            try:
                result = await remember(runtime, text, conversation_id=conversation, emit=service.emit)
            except NothingToRemember as exc:
                raise InvalidParams(str(exc)) from exc
            finally:
                ls.end_progress(token, "done")
            if result.commits:
                ls.notify_memory_changed(ls.current.repo.head(), [result.stored_in] if result.stored_in else [])
            return {"reply": result.reply, "commits": result.commits}

    @server.command("letta.newConversation")
    async def new_conversation(ls: LettaServer, *args: Any) -> dict:
        with rpc_errors():
            single_argument("letta.newConversation", args)
            runtime = await ls.run_blocking(service.runtime)
            info = await ls.run_blocking(runtime.store.create)
            await ls.run_blocking(runtime.store.set_last_used, info.conversation_id)
            ls.fire("conversation_changed", info.conversation_id)
            return {"conversationId": info.conversation_id}

    @server.command("letta.listConversations")
    async def list_conversations(ls: LettaServer, *args: Any) -> list:
        with rpc_errors():
            arg = single_argument("letta.listConversations", args)
            include_runs = arg.get("includeSubagents") is True  # dreams' and defrags' own conversations
            runtime = await ls.run_blocking(service.runtime)
            infos = await ls.run_blocking(runtime.store.list)
            return [{"conversationId": i.conversation_id, "title": i.title, "updated": i.updated,
                     "messages": i.messages, **({"subagent": i.subagent} if i.subagent else {})}
                    for i in infos if include_runs or not i.subagent]
