"""``letta-ls chat [-p PROMPT] [--new]`` and ``letta-ls remember TEXT``: the agent in a terminal, one prompt or
a conversation, and storing something in its memory. Replies go to stdout, tool calls and memory edits to
stderr."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from letta_ls.cli.common import EXIT_OK, EXIT_USAGE, CliError, open_session, out


def add_parsers(sub: argparse._SubParsersAction) -> None:
    chat = sub.add_parser("chat", help="terminal chat with the current agent")
    chat.add_argument("-p", "--prompt", help="answer this one prompt and exit")
    chat.add_argument("--new", action="store_true", help="start a new conversation")
    chat.add_argument("--agent", help="chat with this agent instead of the current one")
    chat.set_defaults(func=cmd_chat)

    remember_parser = sub.add_parser("remember", help="store something in the current agent's memory")
    remember_parser.add_argument("text", nargs="+")
    remember_parser.add_argument("--agent")
    remember_parser.set_defaults(func=cmd_remember)


def _runtime(args: argparse.Namespace):
    from letta_ls.agent.providers.base import ProviderError
    from letta_ls.agent.providers.select import select_provider
    from letta_ls.agent.runtime import AgentRuntime

    session = open_session(args)
    try:
        provider = select_provider(session.settings.model)
    except ProviderError as exc:
        raise CliError(str(exc)) from exc
    return AgentRuntime(session, provider, workspace=[Path.cwd()])


def _print_event(event) -> None:
    if event.kind == "text":
        sys.stdout.write(event.data["text"])
        sys.stdout.flush()
    elif event.kind == "tool_call":
        sys.stderr.write(f"\n[{event.data['name']}] {json.dumps(event.data['arguments'], ensure_ascii=False)[:200]}\n")
    elif event.kind == "memory_edit":
        sys.stderr.write(f"[memory] {event.data['uri']} ({event.data['commit'][:7]}: {event.data['reason']})\n")
    elif event.kind == "error":
        sys.stderr.write(f"\nletta-ls: {event.data['message']}\n")


def cmd_chat(args: argparse.Namespace) -> int:
    import asyncio

    runtime = _runtime(args)
    conversation = None
    if args.new:
        conversation = runtime.store.create().conversation_id
        runtime.store.set_last_used(conversation)

    async def one(prompt: str) -> int:
        result = await runtime.run_turn(prompt, conversation_id=conversation, emit=_print_event)
        sys.stdout.write("\n")
        return EXIT_USAGE if result.error else EXIT_OK

    if args.prompt is not None:
        return asyncio.run(one(args.prompt))
    sys.stderr.write(f"letta-ls chat with {runtime.session.agent.name}; an empty line or Ctrl-D ends it\n")
    code = EXIT_OK
    while True:
        try:
            line = input("> ")
        except EOFError:
            break
        if not line.strip():
            break
        code = asyncio.run(one(line))
    return code


def cmd_remember(args: argparse.Namespace) -> int:
    import asyncio

    from letta_ls.agent.remember import NothingToRemember, remember

    runtime = _runtime(args)
    try:
        result = asyncio.run(remember(runtime, " ".join(args.text), emit=lambda e: None))
    except NothingToRemember as exc:
        raise CliError(str(exc)) from exc
    out(result.reply)
    return EXIT_OK
