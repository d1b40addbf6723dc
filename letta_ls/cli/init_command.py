"""``letta-ls init [DIR] [--deep] [--no-history]``: /init from the command line (SPEC section 7's
``letta.init``, for the current agent and one folder, the current one by default).

A thin adapter over ``letta_ls.init.run``: on a terminal the working-style questions are asked there
(a number or a button's name; Enter takes the default), otherwise (a pipe, CI) every question takes its
default. Progress goes to stderr, the report (markdown) or ``--format json`` (``{report, commits}``) to stdout.
Exit codes: 0 memory was written (or nothing needed changing), 1 /init failed midway (what it had written is
kept; the report says what failed), 2 it could not start (the message says why).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path

from letta_ls.home import Home
from letta_ls.init.questions import InitQuestion
from letta_ls.init.run import InitError, InitRequest, MemoryInitializer, init_provider
from letta_ls.session import Session
from letta_ls.subagents.runner import SubagentRunner

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def pick(question: InitQuestion, typed: str) -> str | None:
    """The button a typed answer means: its number or (the start of) its title; None for no answer."""
    typed = typed.strip()
    if typed.isdigit() and 1 <= int(typed) <= len(question.titles):
        return question.titles[int(typed) - 1]
    matches = [t for t in question.titles if typed and t.lower().startswith(typed.lower())]
    return matches[0] if len(matches) == 1 else None


async def ask_on_terminal(question: InitQuestion) -> str | None:
    lines = [question.message] + [f"  {n}) {title}" for n, title in enumerate(question.titles, start=1)]
    sys.stderr.write("\n".join(lines) + "\n")
    try:
        typed = await asyncio.to_thread(input, "Your choice (Enter: the default): ")
    except EOFError:
        return None
    return pick(question, typed)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("init", help="build the current agent's memory of a project (/init)")
    parser.add_argument("directory", nargs="?", help="the project folder (default: the current folder)")
    parser.add_argument("--deep", action="store_true", help="study more of the code (slower)")
    parser.add_argument("--no-history", action="store_true",
                        help="do not read earlier Claude Code and Codex sessions of the project")
    parser.add_argument("--agent", help="initialize this agent instead of the current one")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    folder = Path(args.directory or ".").expanduser().resolve()
    session = Session(Home(args.home) if args.home else Home(), agent=args.agent)
    provider, note = init_provider(session.settings.model)
    request = InitRequest((folder,), "deep" if args.deep else None, False if args.no_history else None)
    interactive = sys.stdin.isatty() and sys.stderr.isatty()

    def progress(message: str, percentage: int | None) -> None:
        sys.stderr.write(f"[init] {message}" + (f" ({percentage}%)" if percentage is not None else "") + "\n")

    async def run():
        runner = SubagentRunner(session)
        await runner.start()
        try:
            return await MemoryInitializer(session, runner).run(
                request, ask=ask_on_terminal if interactive else None, provider=provider, provider_note=note,
                progress=progress)
        finally:
            await runner.close()
            close = getattr(provider, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    try:
        result = asyncio.run(run())
    except InitError as exc:
        sys.stderr.write(f"letta-ls: {exc}\n")
        return EXIT_USAGE
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.report)
    return EXIT_OK if result.ok else EXIT_FAILED
