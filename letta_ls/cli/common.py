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
    out(readable_json(data))


def readable_json(value: Any, depth: int = 0) -> str:
    """JSON laid out for reading and for ``grep``: objects and lists open one level per line, and each item of
    a list (a finding, a file's tokens) is written on one line of its own.

    ``json.dumps(indent=2)`` runs the pure-Python encoder over every value: on a 10,000-file doctor report a
    tenth of a second or more; here every list item goes through the C encoder in one call."""
    if isinstance(value, dict) and value:
        pad = "  " * (depth + 1)
        items = (f"{pad}{json.dumps(key, ensure_ascii=False)}: {readable_json(item, depth + 1)}"
                 for key, item in value.items())
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    if isinstance(value, list) and value:
        pad = "  " * (depth + 1)
        return "[\n" + ",\n".join(pad + json.dumps(item, ensure_ascii=False) for item in value) + "\n" \
            + "  " * depth + "]"
    return json.dumps(value, ensure_ascii=False)


def need(value: str | None, usage: str) -> str:
    if not value:
        raise CliError(f"missing argument: letta-ls {usage}")
    return value


def open_session(args: argparse.Namespace) -> Session:
    return Session(Home(args.home) if args.home else Home(), agent=getattr(args, "agent", None))
