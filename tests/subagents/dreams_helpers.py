"""Helpers for the dream and defrag tests: an agent whose model is a scripted server, and its history."""

from __future__ import annotations

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
from letta_ls.session import Session
from letta_ls.subagents.service import MemorySubagents
from tests.fakes import Reply, ScriptedCall
from tests.subagents.helpers import doc

REPORT = ("## Summary\nStored what the user prefers.\n## Memory changes\n- `system/human.md`: package manager\n"
          "## Skill changes\nnone\n## Skipped\n- the weather talk: ephemeral\n## Issues\nnone")
PROJECT = doc("Facts about the project.", "Package manager: npm.\nTests: pytest.\n")


def agent_session(base_url: str, **settings) -> Session:
    """The current agent, with its model pointed at a scripted server (a local URL needs no key)."""
    return Session(settings={"model": {"provider": "openai", "name": "gpt-dream", "baseUrl": base_url}, **settings})


def chat(session: Session, *texts: str, conversation: str = "default") -> list[Message]:
    """Past messages of a conversation, alternating user and assistant."""
    store = ConversationStore(session.agent.conversations_dir)
    store.ensure_default()
    messages = [Message("user" if n % 2 == 0 else "assistant", text) for n, text in enumerate(texts)]
    store.append(conversation, messages)
    return messages


def memory_call(command: str, reason: str = "dream: a lesson", **arguments) -> dict:
    return {"command": command, "reason": reason, **arguments}


def lesson(text: str = "- Uses pnpm, never npm.", path: str = "system/human.md") -> dict:
    return memory_call("insert", f"dream: remember {text[2:30]}", file_path=path, insert_line=1000,
                       insert_text=text)


def tool_reply(name: str, arguments: dict) -> Reply:
    return Reply(tool_calls=[ScriptedCall(name, arguments)])


def user_messages(request) -> list[str]:
    return [m.get("content") or "" for m in request.messages if m.get("role") == "user"]


async def dream_once(session: Session):
    """Start the memory subagents on ``session``, run one dream, and close them again, even if it raises."""
    service = MemorySubagents(session)
    await service.start()
    try:
        return await service.dream()
    finally:
        await service.close()
