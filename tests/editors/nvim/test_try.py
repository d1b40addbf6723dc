"""`make try`: Neovim with only the plugin, opened on the chat in the current folder, no API key needed.

The same init file `make try` uses is loaded headless (no TTY), so these tests exercise what a user
gets on their first screen.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.editors.nvim.conftest import PLUGIN, ROOT, open_editor

TRY_INIT = PLUGIN / "try" / "init.lua"


def test_make_try_runs_neovim_from_the_venv_with_only_the_plugin():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # under make test
    dry = subprocess.run(["make", "--no-print-directory", "-n", "try", "TRY_DIR=/some/project"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    line = next(line for line in dry.splitlines() if "/.venv/bin/nvim" in line)
    assert line.startswith('cd "/some/project"')
    assert f'"{ROOT}/.venv/bin/nvim" --clean -u "{TRY_INIT}"' in line


@pytest.fixture
def try_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace: Path, letta_home):
    editor = open_editor(tmp_path, monkeypatch, workspace, extra_args=["-u", str(TRY_INIT)])
    try:
        yield editor
    finally:
        editor.quit()


def test_try_init_starts_the_client_and_opens_the_chat_with_a_hint(try_editor, workspace: Path, letta_home):
    editor = try_editor
    editor.wait("require('letta').status() ~= nil", "letta/status from the server the try init started")
    client = editor.lua("local c = require('letta').client(); return { c.config.cmd, c.root_dir }")
    assert client == [[str(ROOT / ".venv" / "bin" / "letta-ls")], str(workspace)]
    assert editor.lua("return require('letta').status().agentId") == letta_home.current_agent().id
    assert editor.lua("return vim.api.nvim_buf_get_name(0)").endswith("[Letta chat]")
    chat = "\n".join(editor.lines())
    assert "No API key set: the embedded Qwen2.5-Coder-0.5B model answers" in chat
    assert 'Try as a first message: "Remember that I always use pnpm in this repo."' in chat
    assert ":Letta tree" in chat
    assert editor.lua("return vim.bo.buftype") == "prompt"
    editor.wait("require('letta').statusline():find('/20k', 1, true) ~= nil", "the statusline to show the budget")
    assert "letta" in editor.lua("return vim.o.statusline")
    # the user's own configuration is not on the runtimepath
    rtp = editor.lua("return vim.o.runtimepath")
    assert str(PLUGIN) in rtp and "xdg-config" not in rtp
    editor.cmd("help :Letta")
    assert "*:Letta*" in editor.lua("return vim.api.nvim_get_current_line()")
