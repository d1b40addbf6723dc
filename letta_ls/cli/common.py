"""What every command of the ``letta-ls`` command line shares: its exit codes, its user-facing error, how it
prints, and how it opens the user's session (``--home``, ``--agent``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from letta_ls.home import Home
from letta_ls.session import Session

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user-facing failure: printed to stderr, exit code 2."""


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_json(data: Any) -> None:
    out(json.dumps(data, indent=2, ensure_ascii=False))


def need(value: str | None, usage: str) -> str:
    if not value:
        raise CliError(f"missing argument: letta-ls {usage}")
    return value


def open_session(args: argparse.Namespace) -> Session:
    return Session(Home(args.home) if args.home else Home(), agent=getattr(args, "agent", None))
