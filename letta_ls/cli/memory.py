"""``letta-ls memory [tree|tokens|history|backup|backups|restore|sync]``: inspect, protect and sync the current
agent's memory."""

from __future__ import annotations

import argparse
import sys

from letta_ls.cli.common import EXIT_FINDINGS, EXIT_OK, CliError, need, open_session, out, print_json
from letta_ls.memfs.tree import TreeEntry as RenderEntry
from letta_ls.memfs.tree import render_tree
from letta_ls.session import Session


def add_parser(sub: argparse._SubParsersAction) -> None:
    memory = sub.add_parser("memory", help="inspect, protect and sync memory")
    memory.add_argument("action", nargs="?",
                        choices=["tree", "tokens", "history", "backup", "backups", "restore", "sync"],
                        help="sync: pull, merge and push through sync.remote (never forced)")
    memory.add_argument("target", nargs="?", help="PATH for history, REF for restore, a label for backup")
    memory.add_argument("--format", choices=["text", "json"], default="text")
    memory.add_argument("--limit", type=int, default=50)
    memory.add_argument("--agent")
    memory.set_defaults(func=cmd_memory)


def cmd_memory(args: argparse.Namespace) -> int:
    session = open_session(args)
    action = args.action or "tree"
    if action == "tree":
        entries = session.tree()
        if args.format == "json":
            print_json([{"path": e.path, "tier": e.tier, "description": e.description, "tokens": e.tokens,
                    "readOnly": e.read_only} for e in entries])
            return EXIT_OK
        label = f"{session.agent.name} ({session.agent.id}) memory @ {(session.repo.head() or '')[:7]}"
        rendered = render_tree([RenderEntry(e.path, f"{e.description or ''} · {e.tokens:,} tok".lstrip(" ·"))
                                for e in entries], root_label=label)
        out(rendered)
        return EXIT_OK
    if action == "tokens":
        t = session.token_report()  # the doctor's count, without running its checks
        if args.format == "json":
            print_json(t.to_json())
        else:
            out(f"system: {t.system:,} / {t.budget:,} tokens; all memory: {t.total:,} tokens "
                 f"({session.counter.label})")
            for path, n in t.files[:20]:
                out(f"{n:>8,}  {path}")
        return EXIT_OK
    if action == "history":
        entries = session.repo.history(args.target, limit=args.limit)
        if args.format == "json":
            print_json([{"commit": h.commit, "date": h.date, "author": h.author, "message": h.message}
                        for h in entries])
        else:
            for h in entries:
                out(f"{h.commit[:7]}  {h.date}  {h.author:<16} {h.message.splitlines()[0] if h.message else ''}")
        return EXIT_OK
    if action == "backup":
        ref = session.backup(args.target or "manual")
        out(ref)
        return EXIT_OK
    if action == "restore":
        target = need(args.target, "memory restore REF")
        result = session.restore(target)
        if result.commit is None:
            out(f"memory already matches {target}; nothing to restore")
        else:
            out(f"restored memory to {target} in commit {result.commit[:7]} ({len(result.paths)} files changed)")
        return EXIT_OK
    if action == "backups":
        for ref, commit in session.repo.backups():
            out(f"{commit[:7]}  {ref}")
        return EXIT_OK
    if action == "sync":
        return _sync(session, args.format)
    raise CliError(f"unknown memory action {action!r}: use tree, tokens, history PATH, backup, backups, restore REF "
                   "or sync")


def _sync(session: Session, fmt: str) -> int:
    """``memory sync``: 0 synced, 1 commits left unpushed (the remote kept moving), 2 an error (stderr)."""
    import asyncio

    from letta_ls.subagents.resolve import resolver_for
    from letta_ls.sync.memory_sync import sync_agent

    resolver = resolver_for(session.settings.model, ours="this machine", theirs="the remote")

    def progress(message: str, _percent: int | None) -> None:
        if fmt == "text" and sys.stderr.isatty():
            sys.stderr.write(f"{message}\n")

    result = asyncio.run(sync_agent(session, resolver=resolver, progress=progress))
    if fmt == "json":
        print_json(result.to_json())
    else:
        out(result.report)
    return EXIT_FINDINGS if result.unpushed else EXIT_OK
