"""Notice commits made by anyone else: the CLI in another process, ``git`` itself, another editor.

The repository's ``.git`` folder is watched with inotify (watchfiles); only changes to ``HEAD``,
``refs/heads/*`` and ``packed-refs`` count. When the head moved to a commit this server did not just
make itself, the changed paths come from the core (``memfs.checkout.changed_path_names``) and are
announced through the server's one notifier. If the watch cannot start (no inotify, a limit reached) it falls back to
checking the ref files' modification time every two seconds: a stat, not a git process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from letta_ls.memfs.checkout import changed_path_names
from letta_ls.server.app import LettaServer
from letta_ls.server.features import Feature

log = logging.getLogger("letta_ls.server")
POLL_SECONDS = 2.0


def _is_ref_change(path: str) -> bool:
    name = path.replace("\\", "/")
    return name.endswith(("/HEAD", "/packed-refs")) or "/refs/heads/" in name


async def check_head(ls: LettaServer) -> None:
    session = ls.current
    head = await ls.run_blocking(session.repo.head)
    if head is None or head == ls.announced_head:
        return
    if ls.pending_writes:
        return  # our own save is committing; it announces itself
    old = ls.announced_head
    paths = await ls.run_blocking(changed_path_names, session.repo, old, head)
    ls.notify_memory_changed(head, paths, own=head in ls.own_commits)


def _import_watchfiles() -> Any:
    """Blocking: ``watchfiles.awatch`` and the ``anyio`` backend it runs on, imported (75-150 ms). In a worker
    thread, not on the event loop, where every request arriving at start-up waited for the imports."""
    import anyio._backends._asyncio  # noqa: F401  (what ``awatch`` imports lazily on its first step)
    from watchfiles import awatch

    return awatch


async def watch(ls: LettaServer, restart: asyncio.Event) -> None:
    ls.spawn(_catch_up(ls), name="first head check")
    while True:
        git_dir = ls.current.repo.common_dir
        try:
            awatch = await ls.run_blocking(_import_watchfiles)
            async for changes in awatch(git_dir, debounce=100, step=25, recursive=True,
                                        watch_filter=lambda _change, path: _is_ref_change(path),
                                        stop_event=restart):
                if any(_is_ref_change(p) for _c, p in changes):
                    await check_head(ls)
            if restart.is_set():
                restart.clear()
                continue
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("watching %s failed (%s); checking every %ss instead", git_dir, exc, POLL_SECONDS)
            await poll(ls)
            return


async def _catch_up(ls: LettaServer) -> None:
    """A commit made while the watch was being set up would otherwise wait for the next one."""
    await asyncio.sleep(0.5)
    await check_head(ls)


async def poll(ls: LettaServer) -> None:
    while True:
        await asyncio.sleep(POLL_SECONDS)
        await check_head(ls)


class GitWatcher(Feature):
    """Starts watching once the session is open; watches the new agent's repository after a switch."""

    def __init__(self, ls: LettaServer) -> None:
        self.ls = ls
        self.restart = asyncio.Event()

    def initialized(self) -> None:
        self.ls.spawn(watch(self.ls, self.restart), name="git watcher")

    def agent_switched(self) -> None:
        self.restart.set()


def register(server: LettaServer) -> None:
    server.add_feature(GitWatcher(server))
