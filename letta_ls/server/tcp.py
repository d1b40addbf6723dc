"""``letta-ls serve --tcp``: loopback by default, a per-launch token on every connection.

Whoever talks to the server reads and rewrites the agent's memory, pushes it to the sync remote and
spends the model key; on a shared machine every local user can reach a loopback port too. So:

- the bind address is loopback unless a non-loopback one is asked for explicitly (then a warning says
  what that exposes), and ``--allow-from`` can restrict which peer addresses may connect at all;
- every connection's first message must be ``initialize`` carrying ``initializationOptions.token``
  (both VS Code's ``LanguageClient`` and Neovim's ``vim.lsp.start`` send ``initializationOptions`` as
  they are, which a header line or a pre-LSP handshake would not be); the token is compared in constant
  time and removed before the message reaches the settings;
- the token is the editor's (``--token-file`` naming an existing file, or ``LETTA_LS_TOKEN``) or generated
  at start and written to a file only the user can read, whose path is printed on stderr.

A connection from a peer not allowed, or whose first message is anything else, is closed before any
message is handed to the protocol. Refused connections do not stop the server; the first accepted one
is the session, and when it ends the server ends (as pygls' own TCP server does).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letta_ls.server.protocol import GuardedProtocol
from letta_ls.server.transport import MAX_BODY_BYTES, frames, serve_connection

log = logging.getLogger("letta_ls.server")

TOKEN_ENV = "LETTA_LS_TOKEN"
FIRST_MESSAGE_TIMEOUT = 30.0
FIRST_MESSAGE_MAX_BYTES = 1 << 20
EXPOSURE_WARNING = ("letta-ls: WARNING: listening on {address}, which other machines can reach. Anyone who "
                    "connects with the token can read and rewrite this agent's memory, push it to the sync "
                    "remote, and spend your model API key. Prefer 127.0.0.1 and an SSH tunnel.\n")


class TcpSetupError(Exception):
    """``--tcp``, ``--allow-from`` or the token file cannot be used as given."""


@dataclass
class TcpPolicy:
    host: str
    port: int
    token: str
    allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)
    token_file: Path | None = None
    owns_token_file: bool = False

    def peer_allowed(self, peer: Any) -> bool:
        try:
            address = ipaddress.ip_address(str(peer[0]).split("%")[0])
        except (TypeError, ValueError, IndexError):
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if self.allowed:
            return any(address in net for net in self.allowed)
        return address.is_loopback or not is_loopback(self.host)


def parse_address(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` or ``PORT``; the host defaults to 127.0.0.1."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise TcpSetupError(f"--tcp takes HOST:PORT (for example 127.0.0.1:2087), not {value!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_allowed(values: list[str] | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(v, strict=False) for v in values or ()]
    except ValueError as exc:
        raise TcpSetupError(f"--allow-from takes addresses or networks (10.0.0.0/8): {exc}") from exc


def default_token_file(home: str, port: int) -> Path:
    return Path(home) / "run" / f"tcp-{port}.token"


def read_token_file(path: Path) -> str:
    """An editor-made token file: it must be readable by its owner only, since the token is the key."""
    info = path.stat()
    if info.st_mode & 0o077:
        raise TcpSetupError(f"{path} can be read by other users (mode {info.st_mode & 0o777:o}); "
                            f"run `chmod 600 {path}`")
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise TcpSetupError(f"{path} must hold a token of at least 16 characters")
    return token


def write_token_file(path: Path, token: str) -> None:
    """Created 0600 from the start (never readable by others, not even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (token + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def resolve_token(port: int, home: str, token_file: str | None) -> tuple[str, Path | None, bool]:
    """(token, file, whether this launch generated it and must write the file)."""
    if token_file:
        path = Path(token_file).expanduser()
        if path.exists():
            return read_token_file(path), path, False
    elif os.environ.get(TOKEN_ENV):
        token = os.environ[TOKEN_ENV]
        if len(token) < 16:
            raise TcpSetupError(f"{TOKEN_ENV} must hold a token of at least 16 characters")
        return token, None, False
    else:
        path = default_token_file(home, port)
    return secrets.token_urlsafe(32), path, True  # written by serve_tcp once the port is ours


def authenticate(body: bytes, token: str) -> tuple[bytes | None, Any]:
    """The first message without its token if it is ``initialize`` with the right one, else None; and its id."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    msg_id = data.get("id") if isinstance(data.get("id"), (int, str)) else None
    params = data.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    presented = options.get("token") if isinstance(options, dict) else None
    if data.get("method") != "initialize" or not isinstance(presented, str):
        return None, msg_id
    if not hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), token.encode("utf-8")):
        return None, msg_id
    params["initializationOptions"] = {k: v for k, v in options.items() if k != "token"}
    return json.dumps(data).encode(), msg_id


def _refusal(msg_id: Any, why: str) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "error": {
        "code": -32600, "message": f"letta-ls refused this TCP connection ({why}): the first message must be "
                                   "initialize with the launch token as initializationOptions.token, and one "
                                   "editor at a time (see `letta-ls serve --tcp` in the README)"}})
    return b"Content-Length: %d\r\n\r\n" % len(body) + body.encode()


def serve_tcp(server: Any, policy: TcpPolicy) -> int:
    protocol: GuardedProtocol = server.protocol
    written = False

    async def main() -> None:
        nonlocal written
        session_over: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        session_taken = False

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal session_taken
            peer = writer.get_extra_info("peername")
            owner = False
            try:
                if not policy.peer_allowed(peer):
                    log.warning("refused a TCP connection from %s: not an allowed address", peer)
                    return
                limit = [FIRST_MESSAGE_MAX_BYTES]  # a peer without the token cannot make us buffer much
                bodies = frames(reader, max_body=lambda: limit[0])
                try:
                    first = await asyncio.wait_for(anext(bodies), FIRST_MESSAGE_TIMEOUT)
                except (StopAsyncIteration, TimeoutError, OSError):
                    return
                accepted, msg_id = authenticate(first, policy.token)
                if accepted is None or session_taken:
                    why = "another editor is connected" if accepted else "no valid token"
                    log.warning("refused a TCP connection from %s: %s", peer, why)
                    writer.write(_refusal(msg_id, why))
                    with contextlib.suppress(OSError):
                        await writer.drain()
                    return
                session_taken = owner = True
                limit[0] = MAX_BODY_BYTES
                protocol.set_writer(writer)  # type: ignore[arg-type]
                protocol.receive_body(accepted)
                await serve_connection(protocol, bodies)
                with contextlib.suppress(OSError):
                    await writer.drain()
            finally:
                writer.close()
                if owner and not session_over.done():  # the editor's session is over, however it ended
                    session_over.set_result(None)

        listener = await asyncio.start_server(connection, policy.host, policy.port, limit=1 << 20,
                                              family=socket.AF_UNSPEC)
        if policy.owns_token_file and policy.token_file is not None:
            # only now: a launch that could not bind must not replace the token of the server that did
            write_token_file(policy.token_file, policy.token)
            written = True
        announce(policy)
        async with listener:
            await session_over

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        if written and policy.token_file is not None:
            with contextlib.suppress(OSError):
                policy.token_file.unlink()
    return protocol.exit_code if protocol.exit_code is not None else 0


def announce(policy: TcpPolicy) -> None:
    address = f"{policy.host}:{policy.port}"
    if not is_loopback(policy.host):
        sys.stderr.write(EXPOSURE_WARNING.format(address=address))
    where = f"token file: {policy.token_file} (readable by you only)" if policy.token_file else \
        f"token: from {TOKEN_ENV}"
    sys.stderr.write(f"letta-ls: listening on {address}; each connection must send the token as "
                     f"initializationOptions.token; {where}\n")
    sys.stderr.flush()
