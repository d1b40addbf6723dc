"""The pygls 2 language server: state, lifecycle, and how work leaves the event loop.

``LettaServer`` holds the session (home, agent, repository, settings) and the helpers the feature
modules share: ``run_blocking`` sends git, model and CPU work to a dedicated thread pool (never
pygls' own pool, which also reads stdin), ``notify_memory_changed`` is the one place that announces
commits, and ``report_server_error`` logs instead of popping errors at the user. Feature modules
register their handlers on the server object in ``build_server``; a feature with state of its own is a
``Feature`` object (``letta_ls.server.features``) registered with ``add_feature``, found with
``get_feature(cls)``, and told what happens through ``fire(Event...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol.language_server import lsp_method

from letta_ls import __version__
from letta_ls.config_problems import ConfigurationProblem
from letta_ls.contract import ErrorKind, fail, unstructure
from letta_ls.contract.memory import MemoryChanged
from letta_ls.memfs.tokens import get_token_counter
from letta_ls.server.errors import as_rpc_error
from letta_ls.server.features import Event, Feature, RecentCommits
from letta_ls.server.protocol import GuardedProtocol
from letta_ls.server.uris import READ_ONLY_SCHEMES, memory_uri
from letta_ls.session import Session

log = logging.getLogger("letta_ls.server")
T = TypeVar("T")
F = TypeVar("F", bound=Feature)


@dataclass(frozen=True)
class _Unreadable:
    """A request whose params could not be read: it still gets an answer (pygls would drop it)."""

    id: Any
    method: Any
    reason: str


class LettaProtocol(GuardedProtocol):
    """Adds what pygls does not do: advertise ``workspace.textDocumentContent`` for the read-only schemes,
    and answer a request whose params cannot be read instead of leaving the client waiting forever."""

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except Exception as exc:
            if isinstance(data, dict) and "method" in data and isinstance(data.get("id"), (int, str)):
                cause = exc.__cause__ or exc
                return _Unreadable(data["id"], data["method"], str(cause).splitlines()[0] if str(cause) else "")
            raise

    def handle_message(self, message: Any):
        if isinstance(getattr(message, "method", None), str):  # a request or notification, not a response
            self._server.fire(Event.ACTIVITY)  # the one place every client message passes (the dreams' idle gate)
        if isinstance(message, _Unreadable):
            method = message.method if isinstance(message.method, str) else repr(message.method)
            detail = f" ({message.reason})" if message.reason else ""
            error = JsonRpcInvalidParams(f"{method}: the parameters do not have the shape this method takes{detail}",
                                         data={"kind": ErrorKind.INVALID.value})
            self._send_response(message.id, None, error.to_response_error())
            return None
        return super().handle_message(message)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        result = yield from super().lsp_initialize(params)
        workspace = result.capabilities.workspace or types.WorkspaceOptions()
        workspace.text_document_content = types.TextDocumentContentOptions(schemes=list(READ_ONLY_SCHEMES))
        result.capabilities.workspace = workspace
        return result


class LettaServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("letta-ls", __version__, protocol_cls=LettaProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental, max_workers=4)
        self.session: Session | None = None
        self.config_problem: ConfigurationProblem | None = None  # why there is no session (letta_ls.server.health)
        self.settings_sources: dict[str, Any] = {"init": {}, "client": {}}
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="letta-work")
        self.background: set[asyncio.Task] = set()
        self.own_commits = RecentCommits()  # this server's own recent commits (the watcher does not echo them)
        self.pending_writes = 0
        self.announced_head: str | None = None
        self._features: dict[type[Feature], Feature] = {}
        self._tokenizer: asyncio.Future | None = None  # its load, started at ``initialize`` (warm_tokenizer)

    # ------------------------------------------------------------------ features
    def add_feature(self, feature: F) -> F:
        """Register ``feature`` (one per class): it hears every ``Event`` from now on, in registration order."""
        if type(feature) in self._features:
            raise ValueError(f"{type(feature).__name__} is registered already")
        self._features[type(feature)] = feature
        return feature

    def get_feature(self, cls: type[F]) -> F:
        """The registered feature of class ``cls``; a ``LookupError`` names it when it is missing."""
        found = self._features.get(cls)
        if found is None:
            raise LookupError(f"{cls.__name__} is not registered on this server")
        return cast(F, found)

    def fire(self, event: Event, *args: Any) -> None:
        """Tell every feature about ``event`` (its method of the same name); one failing does not stop the rest."""
        for feature in list(self._features.values()):
            try:
                getattr(feature, event.value)(*args)
            except Exception:
                log.exception("%s failed on %s", type(feature).__name__, event.value)

    async def stop_features(self) -> None:
        """Shutdown: each feature's ``stop`` in turn (running subagents stop and merge what they committed)."""
        for feature in list(self._features.values()):
            try:
                await feature.stop()
            except Exception:
                log.exception("stopping %s failed", type(feature).__name__)

    # ------------------------------------------------------------------ plumbing

    def report_server_error(self, error: Exception, source: Any) -> None:
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)

    def warm_tokenizer(self) -> None:
        """Start loading the tokenizer in a worker thread (at ``initialize``), without holding up the answer."""
        if self._tokenizer is None:
            self._tokenizer = asyncio.wrap_future(self.executor.submit(get_token_counter))

    async def warm_up(self) -> None:
        """Load what every first request needs before ``initialize`` is answered: the tokenizer (its native build,
        ~70 ms holding the GIL) and the snapshot of ``HEAD`` (~0.3 s on 10,000 files, and the garbage collection
        its objects set off). Loaded after the answer, both landed on the editor's first reads and saves (a read
        in the server's first second took 8-16 ms against 1-2 ms later; ``bench/scale.py --only lsp``); before
        it, the editor simply starts a moment later, and the first memory tree needs that snapshot anyway."""
        self.warm_tokenizer()
        session = self.session

        def snapshot() -> None:
            if session is not None and session.repo.head() is not None:
                session.repo.snapshot()

        try:
            await asyncio.gather(self.tokenizer_loaded(), self.run_blocking(snapshot))
        except Exception as exc:  # a cache warmed, nothing more: the request that needs it will say what is wrong
            log.info("could not read the memory before answering initialize: %s", exc)

    async def tokenizer_loaded(self) -> None:
        """Wait here, on the event loop, until the tokenizer is loaded; await it before handing counting work to
        the worker pool. That work would otherwise wait for the load (~1 s) *in* a worker thread, and with the
        audit after each save doing so the four threads were taken and reads waited for one."""
        self.warm_tokenizer()
        assert self._tokenizer is not None
        with contextlib.suppress(Exception):  # a failed load falls back to the estimate: the work runs anyway
            await asyncio.shield(self._tokenizer)

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run git, model or CPU work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def spawn(self, coro: Any, name: str | None = None) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.background.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed: %s", task.get_name(), task.exception())

    @property
    def current(self) -> Session:
        if self.session is None:
            if self.config_problem is not None:  # a clear error naming the broken file, never a traceback
                raise as_rpc_error(self.config_problem)
            fail(ErrorKind.UNAVAILABLE, "the server is not initialized yet")
        return self.session

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def supports_progress(self) -> bool:
        return bool(get_capability(self.client_capabilities, "window.work_done_progress", False))

    async def begin_progress(self, title: str, message: str | None = None) -> str | None:
        if not self.supports_progress():
            return None
        token = f"letta-{uuid.uuid4().hex[:12]}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception as exc:
            log.info("progress refused by the client: %s", exc)
            return None
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message, percentage=0))
        return token

    def report_progress(self, token: str | None, message: str, percentage: int | None = None) -> None:
        if token is not None:
            self.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))

    def end_progress(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    # ------------------------------------------------------------------ events
    def notify_memory_changed(self, head: str | None, paths: Iterable[str], *, own: bool = False) -> None:
        """Announce a commit (SPEC: not for this client's own ``letta/memoryWrite``) and refresh diagnostics."""
        session = self.current
        paths = sorted(set(paths))
        if head is not None and head == self.announced_head:
            return
        self.announced_head = head
        if not own:
            self.protocol.notify("letta/memoryChanged", unstructure(MemoryChanged(
                session.agent.id, head, [memory_uri(session.agent.id, p) for p in paths])))
        self.fire(Event.AFTER_COMMIT, paths)


def build_server() -> LettaServer:
    """A server with every feature registered (one module per concern)."""
    from letta_ls.server import (
        chat,
        commands,
        diagnostics,
        documents,
        dreams,
        editing,
        health,
        init_command,
        lifecycle,
        review,
        runs,
        search,
        stale_notes,
        status,
        sync,
        watcher,
    )

    server = LettaServer()
    # a feature's dependencies are registered before it (status reads dreams, runs and sync; diagnostics the
    # stale notes)
    modules = (health, lifecycle, runs, documents, stale_notes, diagnostics, editing, commands, chat, sync, dreams,
               init_command, review, search, status, watcher)
    for module in modules:
        module.register(server)
    return server
