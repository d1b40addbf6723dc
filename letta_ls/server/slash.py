"""Slash commands typed in a chat (``/remember …``, ``/new``, ``/doctor`` …), run by the server for every editor.

Why here and not in each editor: VS Code's chat box and Neovim's chat buffer both send what the user typed as
``letta.chat``; recognising a leading slash command on the server gives both chats the same commands, with one
implementation, instead of each editor re-implementing some of them (issue 13, point 6). A slash command runs
the ``workspace/executeCommand`` handler it stands for (``letta.remember``, ``letta.doctor`` …) and its outcome
is shown in the conversation as chat events: a ``text`` event saying what happened (where a memory was stored,
with the commit) and a ``done``. ``letta.slashCommands`` lists them, so the editors complete from the server's
list. A message starting with ``/`` that names no command (``/usr/bin is slow``) is chat text as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from letta_ls.agent.messages import new_id
from letta_ls.agent.runtime import ChatEvent
from letta_ls.contract import ErrorKind, fail
from letta_ls.contract.chat import ChatResult, SlashCommandRow, SlashCommandsParams
from letta_ls.server.app import LettaServer
from letta_ls.server.typed import command

LIST_COMMAND = "letta.slashCommands"


@dataclass(frozen=True)
class SlashCommand:
    name: str  # typed as /name
    command: str  # the workspace/executeCommand it runs
    usage: str
    description: str


SLASH_COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("remember", "letta.remember", "/remember [text]",
                 "Store something in memory (without text: what is worth keeping from this conversation)"),
    SlashCommand("new", "letta.newConversation", "/new", "Start a new conversation"),
    SlashCommand("doctor", "letta.doctor", "/doctor [fix]", "Audit memory (fix: apply the safe fixes)"),
    SlashCommand("init", "letta.init", "/init [deep]", "Learn this project into memory"),
    SlashCommand("dream", "letta.dream", "/dream", "Reflect on recent conversations now and update memory"),
    SlashCommand("defrag", "letta.defrag", "/defrag", "Reorganise memory files (a backup is made first)"),
    SlashCommand("sleeptime", "letta.sleeptime", "/sleeptime [off|step-count|compaction-event]",
                 "Show or set when dreams run"),
    SlashCommand("agents", "letta.listAgents", "/agents", "List the agents"),
    SlashCommand("pin", "letta.pin", "/pin [agent]", "Pin an agent (default: the current one)"),
)
_BY_NAME = {command.name: command for command in SLASH_COMMANDS}
_LEADING = re.compile(r"^\s*/([a-z]+)(?:\s+(.*))?\s*$", re.DOTALL)


def parse_slash(message: str) -> tuple[SlashCommand, str] | None:
    """``(command, rest)`` when ``message`` starts with a known slash command; None for chat text."""
    match = _LEADING.match(message)
    if match is None or match.group(1) not in _BY_NAME:
        return None
    return _BY_NAME[match.group(1)], (match.group(2) or "").strip()


def _argument(slash: SlashCommand, rest: str, conversation: str | None) -> dict[str, Any]:
    if slash.name == "remember":
        return {"text": rest or None, "conversationId": conversation}
    if slash.name == "doctor":
        return {"fix": rest.lower() in ("fix", "--fix")}
    if slash.name == "init":
        return {"depth": "deep"} if rest.lower() in ("deep", "--deep") else {"depth": "standard"}
    if slash.name == "sleeptime":
        return {"trigger": rest} if rest else {}
    if slash.name == "pin":
        return {"agentId": rest} if rest else {}
    return {}


def _short(commit: str | None) -> str:
    return (commit or "")[:7]


def _stored(ls: LettaServer, commits: list[str]) -> list[str]:
    """One line per commit: the memory files it changed, as letta-memory:// URIs, and the commit."""
    session = ls.current
    lines = []
    for commit in commits:
        try:
            out = session.repo.run_git("diff-tree", "--no-commit-id", "--name-only", "-r", "--root", commit)
            paths = [p for p in out.decode("utf-8", "replace").splitlines() if p.strip()]
        except Exception:  # a commit git no longer knows (amended by a sync): still say which it was
            paths = []
        where = ", ".join(f"letta-memory://{session.agent.id}/{path}" for path in paths) or "memory"
        lines.append(f"Stored in {where} (commit {_short(commit)}).")
    return lines


def outcome_text(ls: LettaServer, slash: SlashCommand, result: Any) -> str:
    """What the conversation shows after the command ran."""
    result = result if result is not None else {}
    if slash.name == "remember":
        lines = _stored(ls, list(result.get("commits") or []))
        return "\n".join(lines) if lines else f"{result.get('reply') or ''}\nNothing was stored.".strip()
    if slash.name == "new":
        return f"Started a new conversation ({result.get('conversationId')})."
    if slash.name in ("doctor", "init", "dream", "defrag"):
        text = str(result.get("report") or "").strip() or f"/{slash.name} finished."
        stored = _stored(ls, list(result.get("commits") or []))
        return "\n".join([text, *stored])
    if slash.name == "sleeptime":
        return "Sleeptime: " + ", ".join(f"{key} = {value}" for key, value in result.items())
    if slash.name == "agents":
        current = ls.current.agent.id
        return "\n".join(f"- {row['name']} ({row['agentId']})" + (" pinned" if row.get("pinned") else "")
                         + (" ← current" if row["agentId"] == current else "") for row in result)
    if slash.name == "pin":
        return f"Pinned {result.get('agentId')}."
    return str(result)


async def run_slash(ls: LettaServer, slash: SlashCommand, rest: str, conversation: str | None,
                    emit: Callable[[ChatEvent], None], runtime_of: Callable[[], Any]) -> ChatResult:
    """Run ``slash`` as its LSP command and show the outcome in the conversation; the ``letta.chat`` answer."""
    handler = ls.protocol.fm.commands.get(slash.command)
    if handler is None:
        fail(ErrorKind.UNAVAILABLE,
             f"/{slash.name} is not available in this server ({slash.command} is not registered)")
    result = await handler(_argument(slash, rest, conversation))
    if slash.name == "new":
        conversation = result["conversationId"]
    runtime = await ls.run_blocking(runtime_of)
    conv = await ls.run_blocking(runtime.resolve_conversation, conversation)
    text = outcome_text(ls, slash, result)
    turn = new_id("turn")
    emit(ChatEvent(conv, turn, "text", {"text": text}))
    emit(ChatEvent(conv, turn, "done", {"reply": text}))
    commits = list(result.get("commits") or []) if isinstance(result, dict) else []
    return ChatResult(conv, text, slash_command=slash.name, commits=commits)


def register(server: LettaServer) -> None:
    @command(server, LIST_COMMAND)
    async def slash_commands(ls: LettaServer, params: SlashCommandsParams) -> list[SlashCommandRow]:
        return [SlashCommandRow(c.name, c.usage, c.description) for c in SLASH_COMMANDS]
