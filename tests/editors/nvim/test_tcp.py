"""The Neovim plugin's TCP path (issue 11, point 11): `opts.tcp` connects to a running `letta-ls serve --tcp`
through vim.lsp.rpc.connect and sends the server's launch token as initializationOptions.token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from letta_ls.home import Home
from tests.editors.nvim.conftest import PLUGIN, Editor
from tests.lsp.conftest import free_port
from tests.lsp.test_tcp import listening


@pytest.fixture
def tcp_server(letta_home: Home) -> Iterator[tuple[int, subprocess.Popen]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LETTA_LS_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "letta_ls", "serve", "--tcp", f"127.0.0.1:{port}"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    token_file = letta_home.root / "run" / f"tcp-{port}.token"
    deadline = time.monotonic() + 30
    while not (listening(port) and token_file.exists()):  # the file is written once the port is bound
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
        time.sleep(0.05)
    yield port, proc
    proc.kill()
    proc.wait()


def setup_plugin(editor: Editor, **opts: str) -> None:
    """The plugin with opts.tcp; its command cannot run, so only the TCP connection can reach a server."""
    editor.lua("local plugin = ...; vim.opt.rtp:prepend(plugin); vim.cmd('runtime! plugin/letta.lua')", str(PLUGIN))
    editor.lua("require('letta').setup(...)", {"cmd": ["/nonexistent/letta-ls"], **opts})


def test_the_plugin_connects_with_the_token_the_server_wrote(editor: Editor, tcp_server, letta_home: Home):
    port, _ = tcp_server
    setup_plugin(editor, tcp=f"127.0.0.1:{port}")
    editor.wait("require('letta').status() ~= nil", "letta/status over TCP")
    assert editor.lua("return require('letta').status().agentId") == letta_home.current_agent().id


def test_the_plugin_with_a_wrong_token_is_refused_and_the_server_keeps_listening(editor: Editor, tcp_server,
                                                                                    tmp_path: Path):
    port, proc = tcp_server
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-token-" + "z" * 30)
    wrong.chmod(0o600)
    setup_plugin(editor, tcp=f"127.0.0.1:{port}", token_file=str(wrong))
    editor.wait("#vim.lsp.get_clients({ name = 'letta' }) == 0 or vim.lsp.get_clients({ name = 'letta' })[1]"
                ":is_stopped()", "the refused client stopped")
    assert editor.lua("return require('letta').status()") is None
    assert proc.poll() is None
