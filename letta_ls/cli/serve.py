"""``letta-ls serve [--tcp HOST:PORT]``: the language server, over stdio (the default) or TCP."""

from __future__ import annotations

import argparse
import sys

from letta_ls.cli.common import CliError
from letta_ls.settings import home_from_environment


def add_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio (loopback by default)")
    serve.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    serve.add_argument("--token-file", metavar="PATH", help="with --tcp: the token every connection must send "
                       "(read if the file exists, mode 0600; else generated and written there)")
    serve.add_argument("--allow-from", metavar="ADDRESS", action="append",
                       help="with --tcp: only these peer addresses or networks may connect (repeatable)")
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import gc
    import logging

    from letta_ls.server.app import build_server

    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pygls").setLevel(logging.WARNING)
    if args.home:
        import os

        os.environ["LETTA_LS_HOME"] = args.home
    server = build_server()
    # the start-up heap (pygls, lsprotocol, cattrs, the doctor: ~77,000 objects) lives as long as the process;
    # frozen, a full garbage collection no longer walks it while a read or a save waits (~30 ms a time)
    gc.freeze()
    if args.tcp:
        from letta_ls.server import tcp

        try:
            host, port = tcp.parse_address(args.tcp)
            token, token_file, owned = tcp.resolve_token(port, home_from_environment(), args.token_file)
            policy = tcp.TcpPolicy(host, port, token, tcp.parse_allowed(args.allow_from), token_file, owned)
        except tcp.TcpSetupError as exc:
            raise CliError(str(exc)) from exc
        return tcp.serve_tcp(server, policy)
    from letta_ls.server.transport import serve_stdio

    return serve_stdio(server)
