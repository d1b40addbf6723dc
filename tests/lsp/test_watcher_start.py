"""The git watcher's start does not hold the event loop (issue 14).

``watchfiles`` and the ``anyio`` backend it runs on were imported by the watcher's coroutine, on the
event loop, right after ``initialized``: 75-150 ms during which no request was read or answered (the
first reads of a session, the bench's busy phase). Now they are imported in a worker thread first. A
fresh interpreter (nothing imported yet, as in ``letta-ls serve``) records which thread imports them; the
real ``LettaServer``, ``Session`` and ``GitWatcher`` run the watch over a real repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from letta_ls.home import Home

SCRIPT = r"""
import asyncio, json, sys, threading

imported_by = {}


class ImportSpy:
    def find_spec(self, name, path=None, target=None):
        if name in ("watchfiles", "anyio._backends._asyncio"):
            imported_by.setdefault(name, threading.current_thread().name)
        return None


sys.meta_path.insert(0, ImportSpy())

from letta_ls.home import Home
from letta_ls.server.app import LettaServer
from letta_ls.server.watcher import GitWatcher
from letta_ls.session import Session


async def main():
    ls = LettaServer()
    ls.session = Session(Home(sys.argv[1]))
    watcher = GitWatcher(ls)
    watcher.initialized()
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(imported_by) == 2:
            break
    await asyncio.sleep(0.2)
    watcher.restart.set()
    print(json.dumps({"loop": threading.current_thread().name, "imported_by": imported_by}))
    for task in list(ls.background):
        task.cancel()
    ls.executor.shutdown(wait=False, cancel_futures=True)


asyncio.run(main())
"""


@pytest.mark.timeout(60)
def test_the_watcher_imports_watchfiles_and_its_async_backend_off_the_event_loop(tmp_path):
    home = Home(tmp_path / "home")
    home.current_agent()
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(home.root)], capture_output=True, text=True,
                         timeout=50, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(found["imported_by"]) == {"watchfiles", "anyio._backends._asyncio"}, found
    on_the_loop = [name for name, thread in found["imported_by"].items() if thread == found["loop"]]
    assert not on_the_loop, f"imported on the event loop: {on_the_loop}"
