"""A cancelled sync stops its git at once, wherever it waits (the network, here).

git runs in a worker thread, which cancelling the sync's task cannot stop: before ``RemoteGit.stop`` the
thread, its git and the ssh transport waited on for the network (up to git's two-minute limit), and a
process ending meanwhile (the editor closed) could not exit until they were done.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from letta_ls.sync.memory_sync import sync_agent
from tests.sync.remotes import Machine, bare_repository, remote_main
from tests.sync.slow_network import processes_using, slow_env, slow_network, ssh_url


async def test_cancelling_a_sync_that_waits_on_the_network_stops_its_git_at_once(tmp_path, monkeypatch):
    network = slow_network(tmp_path / "network")
    for name, value in slow_env({}, network).items():
        if name != "PATH":
            monkeypatch.setenv(name, value)
    bare = bare_repository(tmp_path / "remotes" / "memory.git")
    desk = Machine(tmp_path / "desk", ssh_url(bare))
    head = desk.repo.head()
    (network / "hold").touch()
    try:
        sync = asyncio.create_task(sync_agent(desk.session))
        for _ in range(600):
            if (network / "started").exists():
                break
            await asyncio.sleep(0.05)
        assert (network / "started").exists(), "the sync never reached the network"
        cancelled = time.monotonic()
        sync.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sync
        while processes_using(network) and time.monotonic() - cancelled < 10:
            await asyncio.sleep(0.05)
        assert not processes_using(network), "git and its ssh still wait on the network after the cancel"
        assert time.monotonic() - cancelled < 5
    finally:
        (network / "hold").unlink(missing_ok=True)
    assert desk.repo.head() == head and remote_main(bare) is None  # nothing half-done
    (network / "started").unlink()
    assert (await sync_agent(desk.session)).pushed >= 1  # and the next sync works
    assert remote_main(bare) == desk.repo.head()
