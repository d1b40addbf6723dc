"""A slow network for sync tests: git's ssh transport (and its bundles) held until the test lets them go.

``slow_network(directory)`` writes two programs there: ``slow-ssh``, for ``GIT_SSH_COMMAND`` (with
``GIT_SSH_VARIANT=simple`` git runs it as ``slow-ssh HOST COMMAND``; it touches ``started``, waits while the
file ``hold`` exists, then runs the remote's ``git-upload-pack``/``git-receive-pack`` locally), and
``bin/git``, for the front of ``PATH`` (real git, except that ``git bundle`` touches ``bundling`` and waits
while ``hold-bundle`` exists: a big memory's backup, provably still running). ``slow_env`` is an environment
that uses both; ``ssh://memory-host/<absolute path>`` then reaches a bare repository through the slow ssh.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

SLOW_SSH = """#!/bin/sh
touch "{dir}/started"
while [ -e "{dir}/hold" ]; do sleep 0.05; done
for command; do :; done
exec sh -c "$command"
"""

SLOW_BUNDLE = """#!/bin/sh
for arg; do
  if [ "$arg" = bundle ]; then
    touch "{dir}/bundling"
    while [ -e "{dir}/hold-bundle" ]; do sleep 0.05; done
    break
  fi
done
exec {git} "$@"
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def slow_network(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _executable(directory / "slow-ssh", SLOW_SSH.format(dir=directory))
    (directory / "bin").mkdir(exist_ok=True)
    _executable(directory / "bin" / "git", SLOW_BUNDLE.format(dir=directory, git=shutil.which("git")))
    return directory


def slow_env(env: dict[str, str], directory: Path) -> dict[str, str]:
    return {**env, "GIT_SSH_COMMAND": str(directory / "slow-ssh"), "GIT_SSH_VARIANT": "simple",
            "PATH": f"{directory / 'bin'}{os.pathsep}{env.get('PATH', '')}"}


def ssh_url(bare: Path) -> str:
    return f"ssh://memory-host{bare}"


def processes_using(directory: Path) -> list[int]:
    """Processes whose command line names something in ``directory`` (the slow ssh still waiting)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(directory).encode() in cmdline:
                found.append(int(entry.name))
    return found
