"""Chat over LSP: ``letta.chat``, ``letta.remember``, conversations, and ``letta-conversation://`` documents.

One ``AgentRuntime`` per server, rebuilt when the agent or the model settings change. A turn streams
``letta/chatEvent`` notifications; ``$/cancelRequest`` cancels the request's task, which ends the
turn cleanly (the transcript records it as cancelled). Memory edits made by the agent are announced
with ``letta/memoryChanged`` at once.
"""

from __future__ import annotations

import logging

from letta_ls.agent.providers.base import ProviderError
from letta_ls.agent.providers.select import select_provider
from letta_ls.agent.remember import remember
from letta_ls.agent.runtime import AgentRuntime, ChatEvent
from letta_ls.contract import ErrorKind, fail
from letta_ls.contract import chat as contract
from letta_ls.contract.agents import ConversationRef, ConversationRow, ListConversationsParams, NewConversationParams
from letta_ls.server.app import LettaServer
from letta_ls.server.features import Event, Feature
from letta_ls.server.lifecycle import workspace_folders
from letta_ls.server.slash import parse_slash, run_slash
from letta_ls.server.slash import register as register_slash_commands
from letta_ls.server.typed import command, notify

log = logging.getLogger("letta_ls.server")
CHAT_EVENT = "letta/chatEvent"


class ChatService(Feature):
    """The chat's one ``AgentRuntime``, rebuilt after a settings change or an agent switch."""

    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls
        self._runtime: AgentRuntime | None = None

    def reset(self) -> None:
        self._runtime = None

    def settings_changed(self) -> None:
        self.reset()

    def agent_switched(self) -> None:
        self.reset()

    @property
    def current_runtime(self) -> AgentRuntime | None:
        """The runtime built so far, if any (dreams attach to it when they start after the chat)."""
        return self._runtime

    def runtime(self) -> AgentRuntime:
        if self._runtime is None or self._runtime.session.agent.id != self.ls.current.agent.id:
            session = self.ls.current
            try:
                provider = select_provider(session.settings.model)
            except ProviderError as exc:
                fail(ErrorKind.UNAVAILABLE, str(exc))
            self._runtime = AgentRuntime(session, provider, workspace=workspace_folders(self.ls),
                                         on_memory_commit=self._announce)
            self.ls.fire(Event.RUNTIME_CREATED, self._runtime)  # dreams count its steps and hear its compactions
        return self._runtime

    def _announce(self, commit: str, paths: list[str]) -> None:
        self.ls.notify_memory_changed(commit, paths)

    def emit(self, event: ChatEvent) -> None:
        notify(self.ls, CHAT_EVENT, contract.ChatEvent(event.conversation_id, event.turn_id, event.kind,  # type: ignore[arg-type]
                                                       **event.data))



def register(server: LettaServer) -> None:
    service = server.add_feature(ChatService(server))
    register_slash_commands(server)  # letta.slashCommands: the list the chats complete from

    @command(server, "letta.chat")
    async def chat(ls: LettaServer, params: contract.ChatParams) -> contract.ChatResult:
        message = params.message
        if not message or not message.strip():
            fail(ErrorKind.INVALID, "letta.chat needs {\"message\": \"...\"}: what do you want to say?")
        slash = parse_slash(message)
        if slash is not None:  # /remember, /new, /doctor …: the same commands in every editor's chat
            return await run_slash(ls, *slash, params.conversation_id, service.emit, service.runtime)
        runtime = await ls.run_blocking(service.runtime)
        result = await runtime.run_turn(message, conversation_id=params.conversation_id, emit=service.emit)
        ls.fire(Event.CONVERSATION_CHANGED, result.conversation_id)
        if result.error:
            fail(ErrorKind.FAILED, result.error)
        return contract.ChatResult(result.conversation_id, result.reply)

    @command(server, "letta.remember")
    async def remember_command(ls: LettaServer, params: contract.RememberParams) -> contract.RememberResult:
        text = params.text
        runtime = await ls.run_blocking(service.runtime)
        token = await ls.begin_progress("Remembering", (text or "")[:60] or None)
        try:
            result = await remember(runtime, text, conversation_id=params.conversation_id, emit=service.emit)
        finally:
            ls.end_progress(token, "done")
        if result.commits:
            ls.notify_memory_changed(ls.current.repo.head(), [result.stored_in] if result.stored_in else [])
        return contract.RememberResult(result.reply, result.commits)

    @command(server, "letta.newConversation")
    async def new_conversation(ls: LettaServer, params: NewConversationParams) -> ConversationRef:
        runtime = await ls.run_blocking(service.runtime)
        info = await ls.run_blocking(runtime.store.create)
        await ls.run_blocking(runtime.store.set_last_used, info.conversation_id)
        ls.fire(Event.CONVERSATION_CHANGED, info.conversation_id)
        return ConversationRef(info.conversation_id)

    @command(server, "letta.listConversations")
    async def list_conversations(ls: LettaServer, params: ListConversationsParams) -> list[ConversationRow]:
        runtime = await ls.run_blocking(service.runtime)
        infos = await ls.run_blocking(runtime.store.list)
        return [ConversationRow(i.conversation_id, i.title, i.updated, i.messages, i.subagent or None)
                for i in infos if params.include_subagents or not i.subagent]
