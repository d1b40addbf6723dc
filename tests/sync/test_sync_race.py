"""Two machines running `letta-ls memory sync` at the same moment through one remote: neither fails.

The loser of the race for the remote's ``refs/heads/main`` sees git's ``[remote rejected] … cannot lock ref``
(or a non-fast-forward); sync must fetch, merge and push again (bounded, with jitter) rather than stop with
exit 2. Both machines are separate homes and separate processes, started together on the clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.subagents.helpers import fsck
from tests.sync.remotes import Machine, bare_repository, git_daemon, remote_main

SYNC_AT = str(Path(__file__).with_name("sync_at.py"))
ROUNDS = int(os.environ.get("LETTA_LS_TEST_SYNC_RACE_ROUNDS", "20"))


def doc(description: str, body: str) -> str:
    return f"---\ndescription: {description}\n---\n{body}"


@pytest.fixture(params=[("git-daemon", ROUNDS), ("path", max(1, ROUNDS // 2))], ids=lambda p: p[0])
def remote_url(request, tmp_path: Path):
    """(url, bare repository, rounds): the network case gets the full count, a plain path half of it."""
    kind, rounds = request.param
    bare = bare_repository(tmp_path / "remotes" / "memory.git")
    if kind == "path":
        yield str(bare), bare, rounds
        return
    with git_daemon(tmp_path / "remotes") as base:
        yield f"{base}/memory.git", bare, rounds


def test_two_machines_syncing_at_the_same_moment_never_fail_and_end_with_both_changes(tmp_path, remote_url):
    url, bare, rounds = remote_url
    a, b = Machine(tmp_path / "a", url), Machine(tmp_path / "b", url)
    a.write("notes.md", doc("Shared notes", "start\n"), "start")
    a.sync()
    b.sync()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    failed: list[str] = []
    for round_ in range(rounds):
        a.write(f"a/{round_}.md", doc(f"a's note {round_}", f"a wrote {round_}\n"), f"a {round_}")
        b.write(f"b/{round_}.md", doc(f"b's note {round_}", f"b wrote {round_}\n"), f"b {round_}")
        at = time.time() + 1.5  # both processes have imported everything by then
        procs = {name: subprocess.Popen([sys.executable, SYNC_AT, str(machine.home.root), str(at)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name, machine in (("a", a), ("b", b))}
        for name, proc in procs.items():
            _out, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                failed.append(f"round {round_}, {name}: exit {proc.returncode}: {err.strip()[-300:]}")
    report = f"rounds tried {rounds}, syncs failed {len(failed)}"
    print(report)
    assert not failed, report + "\n" + "\n".join(failed)
    a.sync()
    b.sync()
    a.sync()
    assert a.repo.head() == b.repo.head() == remote_main(bare)
    for machine in (a, b):
        files = machine.repo.snapshot().files
        missing = [f"{who}/{n}.md" for who in "ab" for n in range(rounds) if f"{who}/{n}.md" not in files]
        assert missing == []
        fsck(machine.repo)
