"""``letta-ls dream`` and ``letta-ls defrag``: one memory subagent run now, without the editor's scheduler."""

from __future__ import annotations

import argparse
import sys

from letta_ls.cli.common import EXIT_FINDINGS, EXIT_OK, CliError, open_session, out, print_json


def add_parsers(sub: argparse._SubParsersAction) -> None:
    for name, what in (("dream", "review the conversations since the last dream and improve memory now"),
                       ("defrag", "back up memory, then reorganise it (split, merge, restructure)")):
        run_parser = sub.add_parser(name, help=what)
        run_parser.add_argument("--agent", help="this agent instead of the current one")
        run_parser.add_argument("--format", choices=["text", "json"], default="text")
        run_parser.set_defaults(func=cmd_subagent)


def cmd_subagent(args: argparse.Namespace) -> int:
    """``letta-ls dream`` / ``letta-ls defrag``: one run now, its progress on stderr, its report on stdout;
    exit 1 when the run failed (the report says why)."""
    import asyncio

    from letta_ls.agent.providers.base import ProviderError
    from letta_ls.subagents.runner import RunnerBusyError, RunnerObserver
    from letta_ls.subagents.service import MemorySubagents

    class Progress(RunnerObserver):
        def progress(self, run, message, percentage):
            sys.stderr.write(f"[{run.kind}] {message}" + (f" ({percentage}%)" if percentage is not None else "") + "\n")

    session = open_session(args)

    async def once():
        subagents = MemorySubagents(session, observers=[Progress()])
        await subagents.runner.start()  # what crashed runs left is merged first; no scheduler here
        try:
            if args.command == "dream":
                return await subagents.dreamer.dream()
            return await subagents.defragger.defrag()
        finally:
            await subagents.runner.close()

    try:
        result = asyncio.run(once())
    except (ProviderError, RunnerBusyError) as exc:
        raise CliError(str(exc)) from exc
    if args.format == "json":
        print_json({"status": result.status, **result.to_json()})
    else:
        out(result.report)
    return EXIT_OK if result.ok else EXIT_FINDINGS
