"""The ``letta-ls`` command line (SPEC section 2): parses arguments, calls the core, prints.

Exit codes: 0 success (for ``doctor``: no error-severity finding), 1 ``doctor`` found an error, ``memory
sync`` left commits unpushed, or a ``dream`` / ``defrag`` failed (its report says why), 2 a usage, I/O or
sync error (no model configured included), always with a message on stderr that says what to do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from letta_ls import __version__
from letta_ls.config_problems import ConfigurationProblem, printable
from letta_ls.doctor import AuditResult, render_report
from letta_ls.home import AgentError, Home
from letta_ls.memfs.paths import UnsafePathError
from letta_ls.memfs.presets import UnknownPresetError, list_presets
from letta_ls.memfs.repo import MemoryFileNotFoundError, MemoryRepo, MemoryRepoError
from letta_ls.memfs.tree import TreeEntry as RenderEntry
from letta_ls.memfs.tree import render_tree
from letta_ls.session import Session, apply_safe_fixes, audit_directory
from letta_ls.settings import Settings, SettingsError, home_from_environment, structure_settings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user-facing failure: printed to stderr, exit code 2."""


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _json(data: Any) -> None:
    _out(json.dumps(data, indent=2, ensure_ascii=False))


# ---------------------------------------------------------------------- doctor
def _doctor_text(result: AuditResult, where: str) -> str:
    lines = []
    for f in result.findings:
        lines.append(f"{f.path}:{f.line + 1}: {f.severity} [{f.code}] {f.message}"
                     + (f" (fix: {f.fix.title})" if f.fix else ""))
    counts: dict[str, int] = {}
    for f in result.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    summary = ", ".join(f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in counts.items()) or "no findings"
    tokens = result.tokens
    lines.append(f"{where}: {summary}; system prompt memory {tokens.system:,} of {tokens.budget:,} tokens, "
                 f"{tokens.total:,} in all")
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    if args.directory:
        directory = Path(args.directory)
        if not directory.is_dir():
            raise CliError(f"{directory} is not a directory: give a memory directory (the one holding system/)")
        settings = _settings_without_creating_home(args)
        _snap, result = audit_directory(directory, settings)
        if args.fix:
            if not (directory / ".git").exists():
                raise CliError(f"{directory} is not a git repository: fixes are applied as commits, so --fix needs git")
            repo = MemoryRepo(directory)
            if repo.head() is None:
                raise CliError(f"{directory} has no commit yet; commit it once before using --fix")
            applied = apply_safe_fixes(repo, settings)  # by the user, who asked (letta_ls.memory_fixes)
            _report_fixes(applied, args.format)
            _snap, result = audit_directory(directory, settings)
        where = str(directory)
    else:
        session = _session(args)
        result = session.audit()
        if args.fix:
            applied = session.apply_fixes()
            _report_fixes(applied, args.format)
            result = session.audit()
        where = f"{session.agent.name} ({session.agent.id})"
    if args.format == "json":
        _json(result.to_json())
    elif args.format == "markdown":
        _out(render_report(result))
    else:
        _out(_doctor_text(result, where))
    return EXIT_FINDINGS if any(f.severity == "error" for f in result.findings) else EXIT_OK


def _report_fixes(applied: list, fmt: str) -> None:
    stream = sys.stderr if fmt == "json" else sys.stdout
    for finding, commit in applied:
        stream.write(f"fixed {finding.path} [{finding.code}] in commit {commit.commit[:7]}\n")


def _settings_without_creating_home(args: argparse.Namespace) -> Settings:
    """Settings for auditing a foreign directory: the home's if it exists, else the defaults."""
    root = Path(args.home) if args.home else Path(home_from_environment())
    if (root / "settings.json").exists():
        return Home(root).settings()
    return structure_settings()


# ---------------------------------------------------------------------- agents
def cmd_agents(args: argparse.Namespace) -> int:
    home = Home(args.home)
    home.settings()  # a broken settings.json is reported here, before anything reads or writes it
    action = args.action or "list"
    if action == "list":
        if not home.list_agents():
            home.current_agent()
        current = home.current_agent()
        pins = set(home.pinned())
        for problem in home.scan_agents()[1]:  # listed, not hidden: the user may be looking for that agent
            sys.stderr.write(f"letta-ls: warning: {printable(str(problem))}\n")
        rows = [{"agentId": a.id, "name": a.name, "pinned": a.id in pins, "current": a.id == current.id,
                 "lastUsed": a.last_used, "preset": a.preset} for a in home.list_agents()]
        if args.format == "json":
            _json(rows)
        else:
            for r in rows:
                _out(f"{'*' if r['current'] else ' '} {r['name']:<24} {r['agentId']}"
                     f"{'  [pinned]' if r['pinned'] else ''}")
        return EXIT_OK
    if action == "presets":
        for preset in list_presets():
            _out(f"{preset.name:<10} {preset.description}")
        return EXIT_OK
    if action == "new":
        agent = home.create_agent(_need(args.name, "agents new NAME"), args.preset)
        if not args.no_switch:
            home.use_agent(agent.id)
        _out(f"created {agent.name} ({agent.id}) from the {agent.preset} preset")
        return EXIT_OK
    if action == "use":
        agent = home.use_agent(_need(args.name, "agents use NAME"))
        _out(f"now using {agent.name} ({agent.id})")
        return EXIT_OK
    if action in ("pin", "unpin"):
        agent = home.set_pinned(args.name, action == "pin")
        _out(f"{action}ned {agent.name} ({agent.id})")
        return EXIT_OK
    if action == "import":
        from letta_ls.agent_import import find_letta_code_memories, import_agent

        found = find_letta_code_memories(Path(_need(args.name, "agents import PATH")))
        if args.as_name and len(found) > 1:
            raise CliError(f"{len(found)} agents found: --name works with one memory repository only")
        for source_id, memory in found:
            agent = import_agent(home, source_id, memory, args.as_name)
            _out(f"imported {agent.name} ({agent.id}) from {memory}, history kept")
        if len(found) == 1 and not args.no_switch:
            home.use_agent(agent.id)
        return EXIT_OK
    raise CliError(f"unknown agents action {action!r}: use list, new, use, pin, unpin, presets or import")


def _need(value: str | None, usage: str) -> str:
    if not value:
        raise CliError(f"missing argument: letta-ls {usage}")
    return value


# ---------------------------------------------------------------------- memory
def cmd_memory(args: argparse.Namespace) -> int:
    session = _session(args)
    action = args.action or "tree"
    if action == "tree":
        entries = session.tree()
        if args.format == "json":
            _json([{"path": e.path, "tier": e.tier, "description": e.description, "tokens": e.tokens,
                    "readOnly": e.read_only} for e in entries])
            return EXIT_OK
        label = f"{session.agent.name} ({session.agent.id}) memory @ {(session.repo.head() or '')[:7]}"
        rendered = render_tree([RenderEntry(e.path, f"{e.description or ''} · {e.tokens:,} tok".lstrip(" ·"))
                                for e in entries], root_label=label)
        _out(rendered)
        return EXIT_OK
    if action == "tokens":
        t = session.token_report()  # the doctor's count, without running its checks
        if args.format == "json":
            _json(t.to_json())
        else:
            _out(f"system: {t.system:,} / {t.budget:,} tokens; all memory: {t.total:,} tokens "
                 f"({session.counter.label})")
            for path, n in t.files[:20]:
                _out(f"{n:>8,}  {path}")
        return EXIT_OK
    if action == "history":
        entries = session.repo.history(args.target, limit=args.limit)
        if args.format == "json":
            _json([{"commit": h.commit, "date": h.date, "author": h.author, "message": h.message} for h in entries])
        else:
            for h in entries:
                _out(f"{h.commit[:7]}  {h.date}  {h.author:<16} {h.message.splitlines()[0] if h.message else ''}")
        return EXIT_OK
    if action == "backup":
        ref = session.backup(args.target or "manual")
        _out(ref)
        return EXIT_OK
    if action == "restore":
        target = _need(args.target, "memory restore REF")
        result = session.restore(target)
        if result.commit is None:
            _out(f"memory already matches {target}; nothing to restore")
        else:
            _out(f"restored memory to {target} in commit {result.commit[:7]} ({len(result.paths)} files changed)")
        return EXIT_OK
    if action == "backups":
        for ref, commit in session.repo.backups():
            _out(f"{commit[:7]}  {ref}")
        return EXIT_OK
    if action == "sync":
        return _sync(session, args.format)
    raise CliError(f"unknown memory action {action!r}: use tree, tokens, history PATH, backup, backups, restore REF "
                   "or sync")


def _sync(session: Session, fmt: str) -> int:
    """``memory sync``: 0 synced, 1 commits left unpushed (the remote kept moving), 2 an error (stderr)."""
    import asyncio

    from letta_ls.subagents.resolve import resolver_for
    from letta_ls.subagents.sync import sync_agent

    resolver = resolver_for(session.settings.model, ours="this machine", theirs="the remote")

    def progress(message: str, _percent: int | None) -> None:
        if fmt == "text" and sys.stderr.isatty():
            sys.stderr.write(f"{message}\n")

    result = asyncio.run(sync_agent(session, resolver=resolver, progress=progress))
    if fmt == "json":
        _json(result.to_json())
    else:
        _out(result.report)
    return EXIT_FINDINGS if result.unpushed else EXIT_OK


def _session(args: argparse.Namespace) -> Session:
    return Session(Home(args.home) if args.home else Home(), agent=getattr(args, "agent", None))


# ---------------------------------------------------------------------- chat and remember
def _runtime(args: argparse.Namespace):
    from letta_ls.agent.providers.base import ProviderError
    from letta_ls.agent.providers.select import select_provider
    from letta_ls.agent.runtime import AgentRuntime

    session = _session(args)
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
    _out(result.reply)
    return EXIT_OK


# ---------------------------------------------------------------------- dream and defrag
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

    session = _session(args)

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
        _json({"status": result.status, **result.to_json()})
    else:
        _out(result.report)
    return EXIT_OK if result.ok else EXIT_FINDINGS


# ---------------------------------------------------------------------- serve
def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from letta_ls.server.app import build_server

    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pygls").setLevel(logging.WARNING)
    if args.home:
        import os

        os.environ["LETTA_LS_HOME"] = args.home
    if args.tcp:
        from letta_ls.server import tcp

        try:
            host, port = tcp.parse_address(args.tcp)
            token, token_file, owned = tcp.resolve_token(port, home_from_environment(), args.token_file)
            policy = tcp.TcpPolicy(host, port, token, tcp.parse_allowed(args.allow_from), token_file, owned)
        except tcp.TcpSetupError as exc:
            raise CliError(str(exc)) from exc
        return tcp.serve_tcp(build_server(), policy)
    from letta_ls.server.transport import serve_stdio

    return serve_stdio(build_server())


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="letta-ls", description="A language server and CLI for a coding agent "
                                     "with git-backed, self-improving memory.")
    parser.add_argument("--version", action="version", version=f"letta-ls {__version__}")
    parser.add_argument("--home", help="home directory (default: $LETTA_LS_HOME or ~/.letta-ls)")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio (loopback by default)")
    serve.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    serve.add_argument("--token-file", metavar="PATH", help="with --tcp: the token every connection must send "
                       "(read if the file exists, mode 0600; else generated and written there)")
    serve.add_argument("--allow-from", metavar="ADDRESS", action="append",
                       help="with --tcp: only these peer addresses or networks may connect (repeatable)")
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    doctor = sub.add_parser("doctor", help="audit a memory directory (default: the current agent's)")
    doctor.add_argument("directory", nargs="?", help="any MemFS directory, Letta Code's included")
    doctor.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    doctor.add_argument("--fix", action="store_true", help="apply the safe fixes, each as a commit")
    doctor.add_argument("--agent", help="audit this agent instead of the current one")
    doctor.set_defaults(func=cmd_doctor)

    agents = sub.add_parser("agents", help="list, create, switch and pin agents")
    agents.add_argument("action", nargs="?", choices=["list", "new", "use", "pin", "unpin", "presets", "import"])
    agents.add_argument("name", nargs="?")
    agents.add_argument("--preset", default="default", help="preset for `agents new` (see `agents presets`)")
    agents.add_argument("--no-switch", action="store_true",
                        help="with `new` or `import`: do not make it the current agent")
    agents.add_argument("--name", dest="as_name", help="with `import`: the new agent's name (default: Letta Code's id)")
    agents.add_argument("--format", choices=["text", "json"], default="text")
    agents.set_defaults(func=cmd_agents)

    chat = sub.add_parser("chat", help="terminal chat with the current agent")
    chat.add_argument("-p", "--prompt", help="answer this one prompt and exit")
    chat.add_argument("--new", action="store_true", help="start a new conversation")
    chat.add_argument("--agent", help="chat with this agent instead of the current one")
    chat.set_defaults(func=cmd_chat)

    remember_parser = sub.add_parser("remember", help="store something in the current agent's memory")
    remember_parser.add_argument("text", nargs="+")
    remember_parser.add_argument("--agent")
    remember_parser.set_defaults(func=cmd_remember)

    for name, what in (("dream", "review the conversations since the last dream and improve memory now"),
                       ("defrag", "back up memory, then reorganise it (split, merge, restructure)")):
        run_parser = sub.add_parser(name, help=what)
        run_parser.add_argument("--agent", help="this agent instead of the current one")
        run_parser.add_argument("--format", choices=["text", "json"], default="text")
        run_parser.set_defaults(func=cmd_subagent)

    memory = sub.add_parser("memory", help="inspect, protect and sync memory")
    memory.add_argument("action", nargs="?",
                        choices=["tree", "tokens", "history", "backup", "backups", "restore", "sync"],
                        help="sync: pull, merge and push through sync.remote (never forced)")
    memory.add_argument("target", nargs="?", help="PATH for history, REF for restore, a label for backup")
    memory.add_argument("--format", choices=["text", "json"], default="text")
    memory.add_argument("--limit", type=int, default=50)
    memory.add_argument("--agent")
    memory.set_defaults(func=cmd_memory)

    from letta_ls.cli_init import add_parser as add_init_parser

    add_init_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    undecodable = next((a for a in arguments if any("\ud800" <= c <= "\udfff" for c in a)), None)
    if undecodable is not None:  # Python hands non-UTF-8 bytes over as lone surrogates that nothing can store
        sys.stderr.write(f"letta-ls: the argument {printable(undecodable)!r} is not valid UTF-8; letta-ls takes "
                         "UTF-8 names, paths and text (check the terminal's encoding)\n")
        return EXIT_USAGE
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse already printed usage
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    if args.command is None:  # plain `letta-ls` is the language server over stdio
        args = parser.parse_args([*(["--home", args.home] if args.home else []), "serve"])
    try:
        return int(args.func(args))
    except (CliError, AgentError, SettingsError, UnsafePathError, MemoryRepoError, MemoryFileNotFoundError,
            UnknownPresetError, OSError, ConfigurationProblem) as exc:
        sys.stderr.write(f"letta-ls: {printable(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
