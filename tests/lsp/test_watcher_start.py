"""The git watcher's start does not hold the event loop (issue 14).

``watchfiles`` and the ``anyio`` backend it runs on were imported by the watcher's coroutine, on the
event loop, right after ``initialized``: 75-150 ms during which no request was read or answered (the
first reads of a session, the bench's busy phase); so was the inotify watch set up, a walk of the whole
``.git`` folder (~70 ms over 10,000 loose objects). Now both happen in worker threads. A
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
import asyncio, importlib.machinery, json, sys, threading

imported_by = {}
opened_by = []


class SpyingLoader:
    # loads watchfiles._rust_notify as usual, then has its RustNotify record the thread opening it

    def __init__(self, real):
        self.real = real

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        self.real.exec_module(module)
        real_notify = module.RustNotify

        def notify_spy(*args, **kwargs):
            opened_by.append(threading.current_thread().name)
            return real_notify(*args, **kwargs)

        module.RustNotify = notify_spy


class ImportSpy:
    def find_spec(self, name, path=None, target=None):
        if name in ("watchfiles", "anyio._backends._asyncio"):
            imported_by.setdefault(name, threading.current_thread().name)
        if name == "watchfiles._rust_notify":
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            spec.loader = SpyingLoader(spec.loader)
            return spec
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
        if "watchfiles" in imported_by and opened_by:
            break
    await asyncio.sleep(0.2)
    watcher.restart.set()
    print(json.dumps({"loop": threading.current_thread().name, "imported_by": imported_by,
                      "opened_by": opened_by}))
    for task in list(ls.background):
        task.cancel()
    ls.executor.shutdown(wait=False, cancel_futures=True)


asyncio.run(main())
"""


@pytest.mark.timeout(60)
def test_the_watcher_imports_watchfiles_and_sets_up_its_watch_off_the_event_loop(tmp_path):
    home = Home(tmp_path / "home")
    home.current_agent()
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(home.root)], capture_output=True, text=True,
                         timeout=50, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert "watchfiles" in found["imported_by"], found  # (anyio's backend: only if imported at all)
    on_the_loop = [name for name, thread in found["imported_by"].items() if thread == found["loop"]]
    assert not on_the_loop, f"imported on the event loop: {on_the_loop}"
    # the inotify watch is set up by walking the whole .git folder (10,000 loose objects: ~70 ms)
    assert found["opened_by"], "the watch was never set up"
    assert found["loop"] not in found["opened_by"], "the watch over .git was set up on the event loop"
