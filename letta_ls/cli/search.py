"""``letta-ls search QUERY [--memory|--conversations] [--format text|json]``: the agent's ranked search
(``letta_ls.search.service``) from the command line, over the current agent's memory and past messages.

Text output lists memory hits (``path:line: text``) then messages (``[created] conversation role:
snippet``), best first, each with its BM25 score; ``--format json`` (or ``--json``) prints what
``letta/search`` returns. Exit codes, as grep's: 0 something matched, 1 nothing did, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from letta_ls.home import Home
from letta_ls.search.agent_tools import message_filter
from letta_ls.search.service import SearchRequestError, search
from letta_ls.session import Session

EXIT_FOUND, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help="ranked search over memory files and past messages")
    parser.add_argument("query", nargs="+", help="words to look for (any punctuation is searched as text)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--memory", dest="scope", action="store_const", const="memory", help="memory files only")
    scope.add_argument("--conversations", dest="scope", action="store_const", const="conversations",
                       help="past messages only")
    parser.add_argument("--limit", type=int, default=20, help="most hits per scope (default 20)")
    parser.add_argument("--role", action="append", choices=["user", "assistant", "tool"],
                        help="messages of this role only (repeatable)")
    parser.add_argument("--since", metavar="DATE", help="messages from this ISO date or time on")
    parser.add_argument("--until", metavar="DATE", help="messages up to this ISO date (inclusive) or time")
    parser.add_argument("--conversation", metavar="ID", help="messages of this conversation only")
    parser.add_argument("--agent", help="search this agent instead of the current one")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    parser.set_defaults(func=cmd_search, scope="all")


def _text(result: dict[str, Any]) -> str:
    lines: list[str] = []
    if result.get("memory"):
        lines.append("Memory")
        lines += [f"  {h['path']}:{h['line']}: {h['text']}  (score {h['score']:.3g})" for h in result["memory"]]
    if result.get("conversations"):
        lines.append("Conversations")
        lines += [f"  [{h['created']}] {h['conversationId']} {h['role']}: {h['snippet']}  (score {h['score']:.3g})"
                  for h in result["conversations"]]
    return "\n".join(lines) if lines else f"No match for {result['query']!r}."


def cmd_search(args: argparse.Namespace) -> int:
    session = Session(Home(args.home) if args.home else Home(), agent=args.agent)
    query = " ".join(args.query)
    try:
        filters = message_filter({"roles": args.role, "start_date": args.since, "end_date": args.until,
                                  "conversation_id": args.conversation})
        result = search(session.agent.dir, session.repo, query, scope=args.scope, limit=args.limit, filters=filters)
    except SearchRequestError as exc:
        sys.stderr.write(f"letta-ls search: {exc}\n")
        return EXIT_USAGE
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_text(result) + "\n")
    return EXIT_FOUND if any(result.get(scope) for scope in ("memory", "conversations")) else EXIT_NOTHING
