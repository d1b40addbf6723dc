"""Core exceptions turned into JSON-RPC errors with messages a person can act on.

Every handler that touches the core goes through ``rpc_errors``: a specific exception becomes
InvalidParams (-32602), ContentModified (-32801) or RequestFailed (-32803) with the core's message, and
nothing else escapes as an internal error with a traceback.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams

from letta_ls.agent.providers.base import ProviderError
from letta_ls.config_problems import ConfigurationProblem
from letta_ls.home import AgentError
from letta_ls.memfs.operations import MemoryToolError
from letta_ls.memfs.paths import UnsafePathError
from letta_ls.memfs.presets import UnknownPresetError
from letta_ls.memfs.repo_errors import MemoryFileNotFoundError, MemoryRepoError, StaleVersionError
from letta_ls.memory_fixes import FixRefused
from letta_ls.server.uris import BadUriError
from letta_ls.settings import SettingsError

log = logging.getLogger("letta_ls.server")


class RequestFailed(JsonRpcException):
    CODE = -32803
    MESSAGE = "Request failed"


class InvalidParams(JsonRpcInvalidParams):
    pass


MAX_REASON_CHARS = 10_000
"""A reason becomes a commit message; a longer one is a mistake (and git's argument limit is 128 KiB)."""


def as_rpc_error(exc: BaseException) -> JsonRpcException:
    if isinstance(exc, JsonRpcException):
        return exc
    if isinstance(exc, ConfigurationProblem):
        return RequestFailed(str(exc), data={"kind": "config", "problem": exc.problem, "path": str(exc.path)})
    if isinstance(exc, StaleVersionError):
        return JsonRpcContentModified(str(exc), data={"path": exc.path, "current": exc.actual})
    if isinstance(exc, (BadUriError, UnsafePathError, SettingsError, UnknownPresetError)):
        return InvalidParams(str(exc))
    if isinstance(exc, (MemoryToolError, MemoryFileNotFoundError, AgentError, MemoryRepoError, ProviderError,
                        FixRefused)):
        return RequestFailed(str(exc))
    log.exception("unexpected error", exc_info=exc)
    return RequestFailed(f"letta-ls could not do that: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def rpc_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        raise as_rpc_error(exc) from exc


def param(params: Any, name: str, default: Any = None, *, kind: type | tuple[type, ...] | None = None,
          required: bool = False, max_chars: int | None = None) -> Any:
    """Read a field from params that may be a dict, a pygls namedtuple, an attrs object or None.

    A string is also checked to be text the core can store (see ``check_storable_text``)."""
    if params is None:
        value = default
    elif isinstance(params, dict):
        value = params.get(name, default)
    else:
        value = getattr(params, name, default)
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if value is None:
        if required:
            raise InvalidParams(f"missing parameter {name!r}")
        return default
    if kind is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidParams(f"parameter {name!r} must be {names}, not {type(value).__name__}")
    if isinstance(value, str):
        check_storable_text(name, value, max_chars)
    return value


def check_storable_text(name: str, value: str, max_chars: int | None = None) -> None:
    """Refuse text git and the file system cannot hold, naming the parameter (instead of the UnicodeEncodeError,
    "embedded null byte" ValueError or E2BIG OSError the core would raise half-way through a change)."""
    if "\x00" in value:
        raise InvalidParams(f"parameter {name!r} contains a NUL character (position {value.index(chr(0))}); "
                            "memory holds text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidParams(f"parameter {name!r} is not valid Unicode: a lone surrogate "
                            f"U+{ord(value[exc.start]):04X} at position {exc.start}") from None
    if max_chars is not None and len(value) > max_chars:
        raise InvalidParams(f"parameter {name!r} is {len(value):,} characters long; at most {max_chars:,}")
