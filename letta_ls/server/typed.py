"""The contract (``letta_ls.contract``) bound to pygls: typed params in, typed results out, errors with a kind.

``request`` registers a custom request and ``command`` a ``workspace/executeCommand`` command under the name the
contract's method table gives. The params are structured at the boundary (a failure answers InvalidParams,
-32602, naming the field, ``data.kind = "invalid"``), the handler gets the attrs object, and what it returns
is unstructured with the contract's converter. Any exception goes through ``rpc_errors`` so it reaches the
editor with a ``data.kind``. ``notify`` sends a contract notification. Handlers never see a pygls namedtuple.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from letta_ls.contract import METHODS, ErrorKind, Method, fail, structure, unstructure
from letta_ls.server.app import LettaServer
from letta_ls.server.errors import rpc_errors

P = TypeVar("P")
Handler = Callable[..., Awaitable[Any]]


def plain_json(value: Any) -> Any:
    """JSON as plain dicts and lists: pygls hands a custom method's params over as nested namedtuples."""
    if hasattr(value, "_asdict"):
        return {k: plain_json(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value


def method(name: str) -> Method:
    """The contract's entry for ``name``; a name missing from the table is a programming error."""
    return METHODS[name]


def request(server: LettaServer, name: str) -> Callable[[Handler], Handler]:
    """Register ``async def handler(ls, params: <the method's params class>)`` for the custom request ``name``."""
    spec = method(name)

    def decorator(handler: Handler) -> Handler:
        @server.feature(name)
        async def typed_request(ls: LettaServer, params: Any) -> Any:
            with rpc_errors():
                typed = structure(plain_json(params), spec.params, name)
                return unstructure(await handler(ls, typed))

        return handler

    return decorator


def command_argument(name: str, args: tuple[Any, ...]) -> Any:
    """The one JSON object a command takes ({} for none; SPEC section 7)."""
    if not args or (len(args) == 1 and args[0] is None):
        return {}
    if len(args) > 1:
        fail(ErrorKind.INVALID, f"{name} takes one JSON object argument, not {len(args)} arguments")
    return plain_json(args[0])


def command(server: LettaServer, name: str, usage: str | None = None) -> Callable[[Handler], Handler]:
    """Register ``async def handler(ls, params[, palette])`` for the command ``name``.

    ``palette`` (when the handler takes it) is True for a call with no argument at all, as VS Code's command
    palette makes it: the handler may then ask the user (``window/showMessageRequest``) for what it lacks."""
    spec = method(name)

    def decorator(handler: Handler) -> Handler:
        wants_palette = "palette" in inspect.signature(handler).parameters

        @server.command(name)
        async def typed_command(ls: LettaServer, *args: Any) -> Any:
            with rpc_errors():
                typed = structure(command_argument(name, args), spec.params, name, usage)
                extra = {"palette": not args} if wants_palette else {}
                return unstructure(await handler(ls, typed, **extra))

        return handler

    return decorator


def notify(ls: LettaServer, name: str, params: Any) -> None:
    """Send the contract notification ``name`` (``params`` an instance of its params class)."""
    spec = method(name)
    if not isinstance(params, spec.params):
        raise TypeError(f"{name} takes {spec.params.__name__}, not {type(params).__name__}")
    ls.protocol.notify(name, unstructure(params))
