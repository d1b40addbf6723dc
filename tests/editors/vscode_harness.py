"""Running the packaged VS Code extension in a real VS Code: code-server, headless Chromium, playwright-core.

``Toolchain`` comes from ``tests/editors/vscode/setup.sh`` (chromium, Node 24, code-server, playwright-core;
idempotent and cached outside the clone) and ``make vsix``. ``VSCodeSession`` starts code-server with its
own user-data, extensions and ``XDG_*`` folders (never the home directory) in its own process group,
installs the ``.vsix``, runs one scenario of ``tests/editors/vscode/drive.mjs`` and kills the whole group.
When the scenario fails, the test fails with the driver's output, the code-server log, the extension
host log and the extension's own log, and the screenshots say where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "editors" / "vscode"
EXTENSION = REPO / "editors" / "vscode"
ARTIFACTS = REPO / "test-artifacts" / "vscode"
DRIVER_TIMEOUT = 240

# a tidy window for the screenshots and nothing that reaches for the network
TIDY_SETTINGS: dict[str, Any] = {
    "workbench.startupEditor": "none",
    "chat.disableAIFeatures": True,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.tips.enabled": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "git.enabled": False,
    "files.autoSave": "off",  # code-server saves after a delay by default; the scenarios save themselves
    "remote.autoForwardPorts": False,
}


def run_logged(command: list[str], *, what: str, env: dict[str, str] | None = None, timeout: float,
               cwd: Path = REPO) -> str:
    """Run a set-up step; on failure, fail the test with its whole output (it says what to install)."""
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what} did not finish in {timeout:.0f} s:\n{exc.stdout}\n{exc.stderr}", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done.stdout


@dataclass(frozen=True)
class Toolchain:
    node_bin: str
    vsix: str
    code_server: str = ""
    chromium: str = ""
    setup_seconds: float = 0.0

    def env_with_node(self, env: dict[str, str] | None = None) -> dict[str, str]:
        base = dict(os.environ if env is None else env)
        return {**base, "PATH": f"{self.node_bin}{os.pathsep}{base.get('PATH', '')}"}


def build_extension() -> Toolchain:
    """``make vsix`` (typecheck, bundle, package; a no-op when nothing changed) and the tools it used."""
    run_logged(["make", "-s", "vsix"], what="make vsix", timeout=600)
    run_logged([str(EXTENSION / "scripts" / "build.sh"), "--deps"], what="build.sh --deps", timeout=600)
    node_bin = run_logged([str(EXTENSION / "scripts" / "node24.sh")], what="node24.sh", timeout=300).strip()
    return Toolchain(node_bin=node_bin, vsix=str(EXTENSION / "letta-ls.vsix"))


def set_up_editor(extension: Toolchain) -> Toolchain:
    started = time.monotonic()
    out = run_logged([str(E2E / "setup.sh")], what="tests/editors/vscode/setup.sh", timeout=1500)
    tools = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return Toolchain(node_bin=tools["NODE_BIN"], vsix=extension.vsix, code_server=tools["CODE_SERVER"],
                     chromium=tools["CHROMIUM"], setup_seconds=round(time.monotonic() - started, 2))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 150) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"({exc})"
    return "\n".join(text[-lines:])


@contextlib.contextmanager
def process_group(command: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Start ``command`` in its own session and kill the whole group afterwards (code-server starts a
    tree: its server, the extension host, the file watcher, letta-ls; the driver starts Chromium)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class VSCodeSession:
    """One code-server with the extension installed, a workspace and user settings, for one scenario."""

    def __init__(self, toolchain: Toolchain, tmp_path: Path, *, workspace: Path, settings: dict[str, Any],
                 env: dict[str, str], shots: Path) -> None:
        self.toolchain = toolchain
        self.root = tmp_path
        self.workspace = workspace
        self.user_data = tmp_path / "user-data"
        self.extensions = tmp_path / "extensions"
        self.log = tmp_path / "code-server.log"
        self.shots = shots
        (self.user_data / "User").mkdir(parents=True, exist_ok=True)
        (tmp_path / "home-directory").mkdir(exist_ok=True)
        (self.user_data / "User" / "settings.json").write_text(json.dumps({**TIDY_SETTINGS, **settings}, indent=1))
        self.env = toolchain.env_with_node({
            **env,
            # keep code-server, Chromium and everything they start out of the real home directory
            "HOME": str(tmp_path / "home-directory"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            "XDG_RUNTIME_DIR": str(tmp_path / "xdg-runtime"),
        })

    def drive(self, scenario: str, *, driver: str = "drive.mjs", **config: Any) -> None:
        """Install the extension, start code-server, run ``scenario`` of drive.mjs; fail loudly if it fails."""
        dirs = ["--user-data-dir", str(self.user_data), "--extensions-dir", str(self.extensions)]
        run_logged([self.toolchain.code_server, *dirs, "--install-extension", self.toolchain.vsix],
                   what="installing the .vsix", env=self.env, timeout=120)
        port = free_port()
        self.shots.mkdir(parents=True, exist_ok=True)
        config_file = self.root / "drive.json"
        config_file.write_text(json.dumps({
            "scenario": scenario,
            "url": f"http://127.0.0.1:{port}/?folder={self.workspace}",
            "chromium": self.toolchain.chromium,
            "shots": str(self.shots),
            "profileDir": str(self.root / "chromium-profile"),
            **config,
        }))
        command = [self.toolchain.code_server, *dirs, "--bind-addr", f"127.0.0.1:{port}", "--auth", "none",
                   "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
                   "--disable-getting-started-override", "--disable-proxy", str(self.workspace)]
        drive_log = self.root / "drive.log"
        with process_group(command, env=self.env, log=self.log) as server:
            self._wait_healthy(port, server)
            with process_group(["node", str(E2E / driver), str(config_file)], env=self.env,
                               log=drive_log) as driver:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    driver.wait(DRIVER_TIMEOUT)
                finished = driver.poll()
        if finished != 0:
            logs = self.collect_logs()
            (self.shots / "code-server-and-extension-logs.txt").write_text(logs)
            why = f"timed out after {DRIVER_TIMEOUT} s" if finished is None else f"exit {finished}"
            pytest.fail(f"the VS Code scenario {scenario!r} failed ({why}); screenshots in {self.shots}\n\n"
                        f"===== driver =====\n{tail(drive_log)}\n\n{logs}", pytrace=False)

    def collect_logs(self) -> str:
        """code-server's log, the extension host log and the Letta output channel."""
        parts = [f"===== code-server ({self.log}) =====\n{tail(self.log)}"]
        logs = sorted(self.user_data.glob("logs/**/*.log"))
        wanted = [p for p in logs if "exthost" in p.name or "Letta" in p.name]
        for path in wanted:
            parts.append(f"===== {path.relative_to(self.user_data)} =====\n{tail(path)}")
        if not wanted:
            parts.append(f"(no extension host log under {self.user_data / 'logs'}: {[str(p) for p in logs][:20]})")
        return "\n\n".join(parts)

    def _wait_healthy(self, port: int, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"code-server exited with {proc.returncode}:\n{tail(self.log)}", pytrace=False)
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
            time.sleep(0.2)
        pytest.fail(f"code-server did not answer /healthz in 60 s:\n{tail(self.log)}", pytrace=False)
