"""``letta-ls init`` as a user runs it: the report, the exit codes, and memory the doctor accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from letta_ls.cli.init_command import pick
from letta_ls.home import Home
from letta_ls.init.questions import DEPTH
from tests.init.helpers import history_home
from tests.init.workspaces import make_node_workspace


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def test_init_writes_memory_for_a_folder_and_the_doctor_passes_it(tmp_path: Path):
    workspace = make_node_workspace(tmp_path / "shop-api")
    done = run("init", str(workspace), "--no-history", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["report"].startswith("# /init: memory for shop-api") and result["commits"]
    assert "[init] inspecting the workspace" in done.stderr
    repo = Home().memory_repo(Home().current_agent())
    assert "system/project/shop-api.md" in repo.snapshot() and repo.head() == result["commits"][-1]
    doctor = run("doctor")
    assert doctor.returncode == 0, doctor.stdout


def test_init_reads_earlier_sessions_by_default_and_takes_defaults_off_a_terminal(tmp_path: Path):
    workspace = make_node_workspace(tmp_path / "shop-api")
    home = history_home(tmp_path / "home", workspace)
    done = run("init", str(workspace), env={"HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert "7 earlier sessions" in done.stdout and "## Skipped" in done.stdout
    assert "Nobody could be asked here" in done.stdout and "default: depth standard, nothing recorded" in done.stdout


def test_init_of_a_folder_that_does_not_exist_fails_clearly(tmp_path: Path):
    done = run("init", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "not a folder that exists" in done.stderr and "Traceback" not in done.stderr


def test_a_typed_answer_picks_a_button_by_number_or_name():
    assert pick(DEPTH, "2") == "Deep" and pick(DEPTH, "st") == "Standard" and pick(DEPTH, "Deep ") == "Deep"
    assert pick(DEPTH, "") is None and pick(DEPTH, "9") is None and pick(DEPTH, "x") is None
