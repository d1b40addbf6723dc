"""A backup holds the writer lock only to make its ref: a commit made while the bundle is written is not held up.

The bundle of a big memory takes seconds (a defrag backs up before it starts); under the lock, every save
of that moment waited for it. The bundle is held here by a ``git`` whose ``bundle`` waits on a file.
"""

from __future__ import annotations

import os
import threading
import time

from letta_ls.memfs.repo import MemoryRepo
from tests.conftest import AGENT
from tests.sync.slow_network import slow_network


def test_a_commit_during_a_backups_bundle_is_not_held_up(repo: MemoryRepo, tmp_path, monkeypatch):
    network = slow_network(tmp_path / "slow")
    monkeypatch.setenv("PATH", f"{network / 'bin'}{os.pathsep}{os.environ['PATH']}")
    before = repo.head()
    (network / "hold-bundle").touch()
    backed_up: list[str] = []
    backup = threading.Thread(target=lambda: backed_up.append(repo.backup(tmp_path / "backups", "defrag")))
    backup.start()
    try:
        deadline = time.monotonic() + 30
        while not (network / "bundling").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (network / "bundling").exists(), "the backup never started its bundle"
        committed: list[str | None] = []
        save = threading.Thread(target=lambda: committed.append(
            repo.commit({"reference/meanwhile.md": b"---\ndescription: Meanwhile\n---\nSaved.\n"}, "save",
                        AGENT).commit))
        save.start()
        save.join(5)
        assert committed and committed[0], "the commit waited for the backup's bundle"
        assert backup.is_alive(), "the bundle was not held: the test shows nothing"
    finally:
        (network / "hold-bundle").unlink(missing_ok=True)
        backup.join(30)
    (ref,) = backed_up
    assert repo.rev_parse(ref) == before  # memory as it was when the backup began, not the save after it
    bundle = tmp_path / "backups" / f"{ref.rsplit('/', 1)[-1]}.bundle"
    assert repo.run_git_status("bundle", "verify", "-q", str(bundle))[0] == 0
