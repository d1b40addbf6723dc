"""Every error a request returns, as a JSON-RPC error with a stable ``data.kind`` (``letta_ls.contract.errors``).

Every handler runs inside ``rpc_errors`` (``letta_ls.server.typed`` does it for the contract's methods): a
``ContractError`` raised through ``contract.fail`` keeps its kind; a core exception gets the kind of its type
(``_KINDS``) or the ``kind`` it carries (``MemoryToolError``, ``AgentError``); anything unexpected is logged and
answered as ``failed``. The kind decides the code: ``stale`` is ContentModified (-32801), ``invalid`` is
InvalidParams (-32602), every other kind RequestFailed (-32803). The message stays for people.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams

from letta_ls.agent.conversations import UnknownConversationError
from letta_ls.agent.providers.base import ProviderError
from letta_ls.agent.remember import NothingToRemember
from letta_ls.config_problems import ConfigurationProblem
from letta_ls.contract.errors import ContractError, ErrorKind
from letta_ls.home import AgentError
from letta_ls.memfs.operations import MemoryToolError
from letta_ls.memfs.paths import UnsafePathError
from letta_ls.memfs.presets import UnknownPresetError
from letta_ls.memfs.repo_errors import MemoryFileNotFoundError, MemoryRepoError, StaleVersionError
from letta_ls.memory_fixes import FixRefused
from letta_ls.server.uris import BadUriError
from letta_ls.settings import SettingsError
from letta_ls.subagents.runner import RunnerBusyError
from letta_ls.sync.remote import BadRemoteError

log = logging.getLogger("letta_ls.server")


class RequestFailed(JsonRpcException):
    CODE = -32803
    MESSAGE = "Request failed"


class InvalidParams(JsonRpcInvalidParams):
    pass


_KINDS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], ErrorKind], ...] = (
    ((BadUriError, UnsafePathError, SettingsError, UnknownPresetError, NothingToRemember), ErrorKind.INVALID),
    ((MemoryFileNotFoundError, UnknownConversationError), ErrorKind.NOT_FOUND),
    (RunnerBusyError, ErrorKind.BUSY),
    (BadRemoteError, ErrorKind.CONFIG),
    (ProviderError, ErrorKind.UNAVAILABLE),
    ((MemoryToolError, AgentError, FixRefused), ErrorKind.REFUSED),
    (MemoryRepoError, ErrorKind.FAILED),
)
"""A core exception's kind by type, first match wins; an exception's own ``kind`` attribute overrides it."""


def _jsonrpc(error: ContractError) -> JsonRpcException:
    data = error.wire_data()
    if error.kind is ErrorKind.STALE:
        return JsonRpcContentModified(error.message, data=data)
    if error.kind is ErrorKind.INVALID:
        return InvalidParams(error.message, data=data)
    return RequestFailed(error.message, data=data)


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:  # str(KeyError("x")) is "'x'"
        return str(exc.args[0])
    return str(exc)


def as_contract_error(exc: BaseException) -> ContractError:
    """``exc`` as a refusal with a kind (unexpected exceptions are logged here)."""
    if isinstance(exc, ContractError):
        return exc
    if isinstance(exc, ConfigurationProblem):
        return ContractError(ErrorKind.CONFIG, str(exc), {"problem": exc.problem, "path": str(exc.path)})
    if isinstance(exc, StaleVersionError):
        return ContractError(ErrorKind.STALE, str(exc), {"path": exc.path, "current": exc.actual})
    for types_, kind in _KINDS:
        if isinstance(exc, types_):
            own = getattr(exc, "kind", None)
            return ContractError(ErrorKind(own) if own in ErrorKind._value2member_map_ else kind, _message(exc))
    log.exception("unexpected error", exc_info=exc)
    return ContractError(ErrorKind.FAILED, f"letta-ls could not do that: {type(exc).__name__}: {exc}")


def as_rpc_error(exc: BaseException) -> JsonRpcException:
    if isinstance(exc, JsonRpcException):  # pygls' own, or one raised before this module knew kinds
        if not (isinstance(exc.data, dict) and "kind" in exc.data):
            kind = {JsonRpcInvalidParams.CODE: ErrorKind.INVALID, JsonRpcContentModified.CODE: ErrorKind.STALE}
            exc.data = {**(exc.data if isinstance(exc.data, dict) else {}),
                        "kind": kind.get(exc.code, ErrorKind.FAILED).value}
        return exc
    return _jsonrpc(as_contract_error(exc))


@contextlib.contextmanager
def rpc_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        raise as_rpc_error(exc) from exc
