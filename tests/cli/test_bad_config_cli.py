"""A broken configuration on disk gives a clear message from the command line: exit 2, the file named, how to
fix it, and never a Python traceback (issue 11, point 5). Each case runs the real ``letta-ls`` process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from letta_ls.home import Agent, Home


def run(env_home: Path, *args: str | bytes) -> subprocess.CompletedProcess:
    env = {**os.environ, "LETTA_LS_HOME": str(env_home)}
    command = [os.fsencode(sys.executable), b"-m", b"letta_ls", *(os.fsencode(a) for a in args)]
    return subprocess.run(command, capture_output=True, timeout=120, env=env)


def agent_json(key: str, value) -> Callable[[Home, Agent], Path]:
    def breaker(home: Home, agent: Agent) -> Path:
        meta = agent.dir / "agent.json"
        data = json.loads(meta.read_text())
        data[key] = value
        meta.write_text(json.dumps(data))
        return meta
    return breaker


def settings_text(text: str) -> Callable[[Home, Agent], Path]:
    def breaker(home: Home, agent: Agent) -> Path:
        home.settings_path.write_text(text)
        return home.settings_path
    return breaker


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def garbage_head(home: Home, agent: Agent) -> Path:
    (agent.memory_dir / ".git" / "HEAD").write_text("garbage\n")
    return agent.memory_dir / ".git"


def memory_gone(home: Home, agent: Agent) -> Path:
    shutil.rmtree(agent.memory_dir)
    return agent.memory_dir


def git_gone(home: Home, agent: Agent) -> Path:
    shutil.rmtree(agent.memory_dir / ".git")
    return agent.memory_dir / ".git"


BROKEN = {
    "model is a string": agent_json("model", "gpt-4.1"),
    "model is a list": agent_json("model", ["gpt-4.1", "o3"]),
    "lastUsed is a number": agent_json("lastUsed", 5),
    "lastUsed is an object": agent_json("lastUsed", {"when": "today"}),
    "name is a list": agent_json("name", ["x"]),
    "agent.json is not JSON": lambda home, agent: write(agent.dir / "agent.json", "{oops"),
    "settings.json nested too deeply": settings_text("[" * 100_000 + "]" * 100_000),
    "settings.json nested too deeply in an object": settings_text('{"a":' * 100_000 + "1" + "}" * 100_000),
    "settings.json is empty": settings_text(""),
    "settings.json is not JSON": settings_text("{not json"),
    "settings.json is a list": settings_text("[1, 2]"),
    "settings.json has a mistyped setting": settings_text(json.dumps({"sleeptime": {"stepCount": "many"}})),
    "garbage .git/HEAD": garbage_head,
    "memory folder missing": memory_gone,
    "memory/.git missing": git_gone,
}
COMMANDS = [("memory", "tree"), ("doctor",), ("agents", "list")]
MEMORY_ONLY = {"garbage .git/HEAD", "memory folder missing", "memory/.git missing"}  # the agent list still works


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_configuration_is_a_clear_error_not_a_traceback(tmp_path, case):
    home = Home(tmp_path / "home")
    agent = home.current_agent()
    broken = BROKEN[case](home, agent)
    for command in COMMANDS:
        proc = run(home.root, *command)
        stderr = proc.stderr.decode("utf-8", "replace")
        assert "Traceback" not in stderr, (command, stderr)
        if case in MEMORY_ONLY and command == ("agents", "list"):
            assert proc.returncode == 0 and agent.id in proc.stdout.decode(), stderr
            continue
        assert proc.returncode == 2, (command, proc.returncode, stderr)
        assert str(broken) in stderr, (command, stderr)  # names the file to fix


def test_home_that_is_a_file_is_a_clear_error(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    for command in COMMANDS:
        proc = run(home, *command)
        stderr = proc.stderr.decode("utf-8", "replace")
        assert "Traceback" not in stderr and proc.returncode == 2, stderr
        assert str(home) in stderr and "not a directory" in stderr, stderr


@pytest.mark.parametrize("args", [
    (b"agents", b"new", b"\xff\xfe"),
    (b"agents", b"use", b"caf\xe9"),
    (b"memory", b"history", b"system/\xff.md"),
    (b"memory", b"backup", b"\xff"),
    (b"remember", b"I like \xff tea"),
    (b"doctor", b"/tmp/\xff-memory"),
], ids=lambda a: b" ".join(a).decode("utf-8", "backslashreplace"))
def test_non_utf8_arguments_are_a_clear_error(tmp_path, args):
    home = Home(tmp_path / "home")
    home.current_agent()
    before = sorted(p.name for p in home.agents_dir.iterdir())
    proc = run(home.root, *args)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr and proc.returncode == 2, stderr
    assert "not valid UTF-8" in stderr, stderr
    assert sorted(p.name for p in home.agents_dir.iterdir()) == before  # nothing half-created


def test_a_broken_agent_does_not_hide_the_others(tmp_path):
    home = Home(tmp_path / "home")
    good = home.current_agent()
    other = home.create_agent("Other")
    agent_json("model", "gpt-4.1")(home, other)
    proc = run(home.root, "agents", "list")
    stderr = proc.stderr.decode()
    assert proc.returncode == 0 and good.id in proc.stdout.decode(), stderr
    assert str(other.dir / "agent.json") in stderr and "'model' must be an object" in stderr
    proc = run(home.root, "agents", "use", other.id)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode()
    assert str(other.dir / "agent.json") in proc.stderr.decode()
