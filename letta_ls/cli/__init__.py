"""The ``letta-ls`` command line (SPEC section 2): parses arguments, calls the core, prints. One module per
command group (``serve``, ``doctor``, ``agents``, ``chat``, ``dreams``, ``memory``, ``init_command``), each
with the parser of its commands and what they do; ``common`` holds what they share.

Exit codes: 0 success (for ``doctor``: no error-severity finding), 1 ``doctor`` found an error, ``memory
sync`` left commits unpushed, or a ``dream`` / ``defrag`` failed (its report says why), 2 a usage, I/O or
sync error (no model configured included), always with a message on stderr that says what to do.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from letta_ls import __version__
from letta_ls.cli import agents, chat, doctor, dreams, init_command, memory, search, serve
from letta_ls.cli.common import EXIT_OK, EXIT_USAGE, CliError
from letta_ls.config_problems import ConfigurationProblem, printable
from letta_ls.home import AgentError
from letta_ls.memfs.paths import UnsafePathError
from letta_ls.memfs.presets import UnknownPresetError
from letta_ls.memfs.repo import MemoryFileNotFoundError, MemoryRepoError
from letta_ls.settings import SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="letta-ls", description="A language server and CLI for a coding agent "
                                     "with git-backed, self-improving memory.")
    parser.add_argument("--version", action="version", version=f"letta-ls {__version__}")
    parser.add_argument("--home", help="home directory (default: $LETTA_LS_HOME or ~/.letta-ls)")
    sub = parser.add_subparsers(dest="command")
    serve.add_parser(sub)
    doctor.add_parser(sub)
    agents.add_parser(sub)
    chat.add_parsers(sub)
    dreams.add_parsers(sub)
    memory.add_parser(sub)
    init_command.add_parser(sub)
    search.add_parser(sub)
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
        code = int(args.func(args))
    except (CliError, AgentError, SettingsError, UnsafePathError, MemoryRepoError, MemoryFileNotFoundError,
            UnknownPresetError, OSError, ConfigurationProblem) as exc:
        sys.stderr.write(f"letta-ls: {printable(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    if argv is None and getattr(args, "exit_without_teardown", False):
        exit_without_teardown(code)
    return code


def exit_without_teardown(code: int) -> None:
    """End the process now, its output flushed, without the interpreter's teardown.

    Freeing the objects of a 10,000-file audit one by one at exit costs ~0.4 s, more than a tenth of the
    run (``bench/scale.py``). Only for commands that hold nothing to close (no open transaction, no child
    process, no file being written) and only when ``letta-ls`` is the process itself (``main()`` called
    without arguments), never when ``main`` is called in another program (tests call it in-process)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said on it
            code = code or EXIT_USAGE
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
