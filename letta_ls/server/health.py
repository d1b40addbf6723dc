"""Start and keep running with a broken configuration, say what is broken, and pick the fix up live.

A hand-edited ``settings.json``, a broken ``agent.json``, a home that is a file or cannot be written, a
deleted memory folder: none of them may fail ``initialize`` (the editor would then be left with a dead
server and every request answering "not initialized"). Instead:

* ``initialize`` succeeds. A bad settings.json is replaced by the defaults (the session works); anything
  that stops the session leaves ``ls.session`` unset and ``ls.config_problem`` set, and every request that
  needs the session fails with RequestFailed, ``data.kind = "config"``, ``data.problem`` a stable word and
  ``data.path`` the file; requests that do not (other files' hovers, shutdown) keep working.
* The user is told once per problem: ``window/showMessage`` (error) with the file, what is wrong and how to
  fix it, and a diagnostic on that file (editors list it in their problems view).
* While a problem is outstanding the configuration is checked again every ``RECHECK_SECONDS`` (a few file
  reads, in the worker pool), on every client message and on ``workspace/didChangeConfiguration``. When it
  is fixed the session opens (or the settings reload), the diagnostic is cleared, an info message says so
  and the features that wait for ``initialized`` start then: no restart needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types

from letta_ls.config_problems import HOME_UNUSABLE, SETTINGS_INVALID, ConfigurationProblem
from letta_ls.home import AgentError, Home
from letta_ls.memfs.repo_errors import MemoryRepoError
from letta_ls.server.app import LettaServer
from letta_ls.server.features import Event, Feature
from letta_ls.session import Session
from letta_ls.settings import SettingsError, home_from_environment, merge_sources

log = logging.getLogger("letta_ls.server")
RECHECK_SECONDS = 1.0


def open_session(home_dir: str | None, overrides: dict[str, Any]) -> Session:
    """A session for the server (blocking: run it in the worker pool). Whatever stops it is a
    ``ConfigurationProblem`` that names a path."""
    root = Path(home_dir).expanduser() if home_dir else Path(home_from_environment())
    try:
        return Session(Home(root), settings=overrides, tolerate_bad_settings=True)
    except ConfigurationProblem:
        raise
    except OSError as exc:  # e.g. a read-only home: the default agent or the lock file cannot be created
        where = Path(exc.filename) if isinstance(exc.filename, str) else root
        raise ConfigurationProblem(HOME_UNUSABLE, where, f"cannot be written ({exc.strerror or exc})",
                                   f"make {root} writable (chmod u+w) or point LETTA_LS_HOME (or the "
                                   "`letta.home` setting) at a directory you can write") from exc
    except (AgentError, SettingsError, MemoryRepoError) as exc:
        raise ConfigurationProblem(SETTINGS_INVALID, root / "settings.json", str(exc),
                                   "change the `agent` setting or pick another agent") from exc


class ConfigHealth(Feature):
    """What is broken now, reported once, and re-checked until it is fixed."""

    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls
        self.home_dir: str | None = None
        self.reported: ConfigurationProblem | None = None
        self.client_initialized = False  # the client said `initialized`; deferred features start when the session opens
        self._checking: asyncio.Task | None = None
        self._poller: asyncio.Task | None = None

    @property
    def problem(self) -> ConfigurationProblem | None:
        """The session's blocking problem, else a bad settings.json the session works around."""
        if self.ls.session is None:
            return self.ls.config_problem
        return self.ls.session.settings_problem

    async def open(self, home_dir: str | None, overrides: dict[str, Any]) -> None:
        self.home_dir = home_dir
        try:
            self.ls.session = await self.ls.run_blocking(open_session, home_dir, overrides)
            self.ls.config_problem = None
        except ConfigurationProblem as problem:
            self.ls.config_problem = problem
        self.report()

    async def home(self) -> Home:
        """The home without a session (listing agents needs no agent): a ``ConfigurationProblem`` only when
        the home itself is unusable."""
        root = Path(self.home_dir).expanduser() if self.home_dir else Path(home_from_environment())
        return await self.ls.run_blocking(Home, root)

    def client_ready(self) -> bool:
        """Whether the features waiting for ``initialized`` may start now (False: they start on the fix)."""
        self.client_initialized = True
        return self.ls.session is not None

    def report(self) -> None:
        """Tell the user about a new problem, or that the last one is fixed; keep re-checking meanwhile."""
        problem = self.problem
        if problem == self.reported:
            return
        if self.reported is not None:
            self._publish(self.reported.path, [])
        if problem is None:
            self.ls.show(f"letta: {self.reported.path} no longer stops letta-ls; memory is available again",
                         types.MessageType.Info)
        else:
            self.ls.show(f"letta: {problem}", types.MessageType.Error)
            self._publish(problem.path, [types.Diagnostic(
                range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
                message=f"{problem.detail}; {problem.fix}", severity=types.DiagnosticSeverity.Error,
                source="letta", code=problem.problem)])
        self.reported = problem
        if problem is not None and (self._poller is None or self._poller.done()):
            self._poller = self.ls.spawn(self._poll(), name="configuration re-check")

    def _publish(self, path: Path, diagnostics: list[types.Diagnostic]) -> None:
        self.ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=path.as_uri(),
                                                                                 diagnostics=diagnostics))

    async def _poll(self) -> None:
        while self.problem is not None:
            await asyncio.sleep(RECHECK_SECONDS)
            await self.recheck()

    def activity(self) -> None:
        self.recheck_soon()

    def recheck_soon(self, *_args: Any) -> None:
        """Check again in the background (a client message arrived), unless a check is already running."""
        if self.problem is not None and (self._checking is None or self._checking.done()):
            self._checking = self.ls.spawn(self.recheck(), name="configuration check")

    async def recheck(self) -> None:
        """Look at the configuration again; open the session or reload the settings when it is fixed."""
        overrides = merge_sources(self.ls.settings_sources["init"], self.ls.settings_sources["client"])
        session = self.ls.session
        if session is not None:
            had = session.settings_problem
            with contextlib.suppress(SettingsError, ConfigurationProblem):
                await self.ls.run_blocking(session.reload_settings, overrides)
            if had is not None and session.settings_problem is None:
                self.ls.fire(Event.SETTINGS_CHANGED)
            self.report()
            return
        try:
            opened = await self.ls.run_blocking(open_session, self.home_dir, overrides)
        except ConfigurationProblem as problem:
            self.ls.config_problem = problem
            self.report()
            return
        except Exception:
            log.exception("configuration re-check failed")
            return
        if self.ls.session is not None:  # another check got there first
            return
        self.ls.session, self.ls.config_problem = opened, None
        self.report()
        if self.client_initialized:
            self.ls.announced_head = await self.ls.run_blocking(opened.repo.head)
            self.ls.fire(Event.INITIALIZED)


def register(server: LettaServer) -> None:
    server.add_feature(ConfigHealth(server))
