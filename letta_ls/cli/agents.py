"""``letta-ls agents [list|new|use|pin|unpin|presets|import]``: the agents of the home, the current one, pins,
presets, and importing a Letta Code agent with its history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from letta_ls.cli.common import EXIT_OK, CliError, need, out, print_json
from letta_ls.config_problems import printable
from letta_ls.home import Home
from letta_ls.memfs.presets import list_presets


def add_parser(sub: argparse._SubParsersAction) -> None:
    agents = sub.add_parser("agents", help="list, create, switch and pin agents")
    agents.add_argument("action", nargs="?", choices=["list", "new", "use", "pin", "unpin", "presets", "import"])
    agents.add_argument("name", nargs="?")
    agents.add_argument("--preset", default="default", help="preset for `agents new` (see `agents presets`)")
    agents.add_argument("--no-switch", action="store_true",
                        help="with `new` or `import`: do not make it the current agent")
    agents.add_argument("--name", dest="as_name", help="with `import`: the new agent's name (default: Letta Code's id)")
    agents.add_argument("--format", choices=["text", "json"], default="text")
    agents.set_defaults(func=cmd_agents)


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
            print_json(rows)
        else:
            for r in rows:
                out(f"{'*' if r['current'] else ' '} {r['name']:<24} {r['agentId']}"
                     f"{'  [pinned]' if r['pinned'] else ''}")
        return EXIT_OK
    if action == "presets":
        for preset in list_presets():
            out(f"{preset.name:<10} {preset.description}")
        return EXIT_OK
    if action == "new":
        agent = home.create_agent(need(args.name, "agents new NAME"), args.preset)
        if not args.no_switch:
            home.use_agent(agent.id)
        out(f"created {agent.name} ({agent.id}) from the {agent.preset} preset")
        return EXIT_OK
    if action == "use":
        agent = home.use_agent(need(args.name, "agents use NAME"))
        out(f"now using {agent.name} ({agent.id})")
        return EXIT_OK
    if action in ("pin", "unpin"):
        agent = home.set_pinned(args.name, action == "pin")
        out(f"{action}ned {agent.name} ({agent.id})")
        return EXIT_OK
    if action == "import":
        from letta_ls.agent_import import find_letta_code_memories, import_agent

        found = find_letta_code_memories(Path(need(args.name, "agents import PATH")))
        if args.as_name and len(found) > 1:
            raise CliError(f"{len(found)} agents found: --name works with one memory repository only")
        for source_id, memory in found:
            agent = import_agent(home, source_id, memory, args.as_name)
            out(f"imported {agent.name} ({agent.id}) from {memory}, history kept")
        if len(found) == 1 and not args.no_switch:
            home.use_agent(agent.id)
        return EXIT_OK
    raise CliError(f"unknown agents action {action!r}: use list, new, use, pin, unpin, presets or import")
