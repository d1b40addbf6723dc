"""End-to-end fixtures: a real letta-ls process driven by pytest-lsp's real LSP client.

Every test using ``client`` runs twice, once with VS Code's and once with Neovim's client
capabilities (Neovim negotiates UTF-8 positions, VS Code UTF-16), over stdio and over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from letta_ls.home import Home

CLIENTS = ["visual-studio-code", "neovim"]
TCP_TOKEN = "test-token-" + "x" * 32
TRANSPORTS = ["stdio", "tcp"]


def server_env(home: Path) -> dict[str, str]:
    return {**os.environ, "LETTA_LS_HOME": str(home)}


class Recorder:
    """What the server sent besides responses: custom notifications, by method."""

    def __init__(self) -> None:
        self.events: dict[str, list[Any]] = {}
        self.waiters: list[tuple[str, Any, asyncio.Future]] = []

    def record(self, method: str, params: Any) -> None:
        self.events.setdefault(method, []).append(params)
        for entry in list(self.waiters):
            name, predicate, future = entry
            if name == method and not future.done() and predicate(params):
                future.set_result(params)
                self.waiters.remove(entry)

    async def wait_for(self, method: str, predicate=lambda p: True, timeout: float = 10.0) -> Any:
        for params in self.events.get(method, []):
            if predicate(params):
                return params
        future = asyncio.get_running_loop().create_future()
        self.waiters.append((method, predicate, future))
        return await asyncio.wait_for(future, timeout)

    def clear(self, method: str) -> None:
        self.events.pop(method, None)


@pytest.fixture
def lsp_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("lsp-home")
    Home(home).current_agent()  # created up front so tests know the agent id
    return home


@pytest.fixture
def lsp_workspace(lsp_home: Path) -> Path:
    """The workspace folder the client opens (a test module may override this fixture)."""
    return lsp_home


@pytest.fixture
def lsp_env(lsp_home: Path) -> dict[str, str]:
    """The server process's environment (a test module may override this fixture, e.g. to move HOME)."""
    return server_env(lsp_home)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def start_server(client: LanguageClient, transport: str, env: dict[str, str]) -> None:
    """Start a real letta-ls process and connect the client over stdio or TCP."""
    command = [sys.executable, "-m", "letta_ls", "serve"]
    if transport == "stdio":
        await client.start_io(*command, env=env)
        return
    port = free_port()
    env = {**env, "LETTA_LS_TOKEN": TCP_TOKEN}  # every TCP connection must present it (see tests/lsp/test_tcp.py)
    proc = await asyncio.create_subprocess_exec(*command, "--tcp", f"127.0.0.1:{port}", env=env,
                                                stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    # a loaded 2-core machine can take many seconds to import the server: wait for it to listen, or to exit
    deadline = time.monotonic() + 90
    while True:
        try:
            await client.start_tcp("127.0.0.1", port)
            break
        except OSError:
            if proc.returncode is not None:
                raise RuntimeError(f"letta-ls --tcp exited: {(await proc.stderr.read()).decode()}") from None
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("letta-ls --tcp never started listening") from None
            await asyncio.sleep(0.05)
    client.tcp_process = proc


async def stop_server(client: LanguageClient) -> None:
    """Stop the client and make sure the server process is gone, whatever state the test left it in."""
    proc = getattr(client, "tcp_process", None) or getattr(client, "_server", None)
    if proc is not None and proc.returncode is None:
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):  # it may exit between the timeout and the kill
                proc.kill()
            await proc.wait()
    # a connection task stuck on a socket whose peer is gone has nothing left to wait for
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(client.stop(), 10)


async def shut_down(client: LanguageClient, timeout: float = 15) -> None:
    """Ask the server to shut down (within ``timeout`` seconds), then stop it whatever happened."""
    try:
        await asyncio.wait_for(client.shutdown_session(), timeout)
    finally:
        await stop_server(client)


def record_published_diagnostics(lsp_client: LanguageClient) -> None:
    """pytest-lsp keeps only the last diagnostics per URI; tests also need each publish's version, in order."""
    features = lsp_client.protocol.fm._features
    keep_last = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def publish(params: types.PublishDiagnosticsParams) -> None:
        keep_last(params)
        lsp_client.recorder.record(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish


def accept_registrations(client: LanguageClient) -> None:
    """Take what the server asks to register (file watchers), as an editor does; kept in ``client.registrations``."""
    client.registrations = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams):
        client.registrations.extend(params.registrations)


@pytest_asyncio.fixture(params=[(c, t) for t in TRANSPORTS for c in CLIENTS], ids=lambda p: f"{p[0]}-{p[1]}")
async def client(request, lsp_home: Path, lsp_workspace: Path, lsp_env: dict[str, str]):
    client_name, transport = request.param
    lsp_client = make_test_lsp_client()
    lsp_client.recorder = Recorder()
    for method in ("letta/memoryChanged", "letta/status", "letta/chatEvent"):
        lsp_client.feature(method)(lambda params, _m=method: lsp_client.recorder.record(_m, params))
    record_published_diagnostics(lsp_client)
    lsp_client.answers = []  # what the "user" picks in window/showMessageRequest, in order
    lsp_client.asked = []

    @lsp_client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def show_message_request(params: types.ShowMessageRequestParams):
        lsp_client.asked.append(params)
        if not lsp_client.answers:
            return None
        return types.MessageActionItem(title=lsp_client.answers.pop(0))

    accept_registrations(lsp_client)
    await start_server(lsp_client, transport, lsp_env)
    lsp_client.init_result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(client_name),
        workspace_folders=[types.WorkspaceFolder(uri=lsp_workspace.as_uri(), name="ws")],
        initialization_options={"home": str(lsp_home), **({"token": TCP_TOKEN} if transport == "tcp" else {})},
    ))
    lsp_client.home = Home(lsp_home)
    lsp_client.agent = lsp_client.home.current_agent()
    lsp_client.client_name = client_name
    lsp_client.transport = transport
    yield lsp_client
    await shut_down(lsp_client)
