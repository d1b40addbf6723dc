"""issue 11.8: reads never take the writer lock; a writer's wait for it is bounded and names who holds it.

A real process holds ``.git/letta-ls.lock`` (``flock``) the whole time: the CLI's reads (``memory tree``,
``history``, ``tokens``, ``backups``, ``doctor`` without ``--fix``) and the language server's reads answer
at once, a write gives up after ``LETTA_LS_LOCK_TIMEOUT`` with the holder's pid and command. A read-only
home is a real read-only bind mount (``unshare -m``): the tests run as root, where ``chmod`` stops nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from letta_ls.home import Home
from letta_ls.server.uris import memory_uri
from tests.lsp.raw import RawServer

HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""
HOLDER_MARK = "lock_holder_for_the_test.py"
READS = [["memory", "tree"], ["memory", "tree", "--format", "json"], ["memory", "history"],
         ["memory", "history", "system/human.md"], ["memory", "tokens"], ["memory", "backups"], ["doctor"],
         ["doctor", "--format", "json"]]


def run(home: Path, *args: str, timeout: float = 60, env_extra: dict[str, str] | None = None,
        prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LETTA_LS_HOME": str(home), **(env_extra or {})}
    return subprocess.run([*(prefix or []), sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def memory(isolated_environment: Path) -> Path:
    home = Home(isolated_environment)
    agent = home.current_agent()
    home.memory_repo(agent).backup(agent.backups_dir, "before the test")  # so `memory backups` lists one
    return agent.memory_dir


@pytest.fixture
def holder(memory: Path, tmp_path: Path):
    """A live process holding the writer lock of the memory repository."""
    script = tmp_path / HOLDER_MARK
    script.write_text(HOLDER)
    proc = subprocess.Popen([sys.executable, str(script), str(memory / ".git" / "letta-ls.lock"), "300"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_cli_reads_answer_while_a_live_process_holds_the_writer_lock(isolated_environment, holder, args):
    started = time.monotonic()
    proc = run(isolated_environment, *args, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert time.monotonic() - started < 30


def test_a_write_waits_a_bounded_time_and_names_the_holder(isolated_environment, holder):
    started = time.monotonic()
    proc = run(isolated_environment, "memory", "backup", "label", timeout=60, env_extra={"LETTA_LS_LOCK_TIMEOUT": "2"})
    waited = time.monotonic() - started
    assert proc.returncode == 2
    assert f"pid {holder.pid}" in proc.stderr and HOLDER_MARK in proc.stderr, proc.stderr
    assert "gave up after 2 s" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert 2 <= waited < 45
    holder.kill()
    holder.wait()
    again = run(isolated_environment, "memory", "backup", "label", env_extra={"LETTA_LS_LOCK_TIMEOUT": "2"})
    assert again.returncode == 0, again.stderr  # the lock of a process that is gone is free at once


def test_language_server_reads_answer_while_a_live_process_holds_the_writer_lock(isolated_environment, holder):
    agent = Home(isolated_environment).current_agent()
    server = RawServer(isolated_environment)
    try:
        assert "result" in server.initialize()
        tree = server.request("letta/memoryTree", {}, timeout=30)
        assert tree["result"]["entries"], tree
        read = server.request("letta/memoryRead", {"uri": memory_uri(agent.id, "system/human.md")}, timeout=30)
        assert read["result"]["text"], read
        history = server.request("letta/memoryHistory", {"uri": memory_uri(agent.id, "system/human.md")},
                                 timeout=30)
        assert history["result"], history
    finally:
        server.close()


def read_only(home: Path) -> list[str]:
    """A command prefix running the rest with ``home`` mounted read-only in a private mount namespace."""
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(home)]


def test_the_read_only_mount_really_refuses_writes(isolated_environment):
    probe = subprocess.run([*read_only(isolated_environment), "touch", str(isolated_environment / "probe")],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "Read-only file system" in probe.stderr
    assert not (isolated_environment / "probe").exists()


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_cli_reads_work_with_a_read_only_home(isolated_environment, memory, args):
    Home(isolated_environment).update_settings(lastAgent=Home(isolated_environment).current_agent().id)
    proc = run(isolated_environment, *args, prefix=read_only(isolated_environment))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_a_write_in_a_read_only_home_is_a_clear_error(isolated_environment, memory):
    proc = run(isolated_environment, "memory", "backup", prefix=read_only(isolated_environment))
    assert proc.returncode == 2
    assert "Read-only file system" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(run(isolated_environment, "memory", "history", "--format", "json").stdout)
