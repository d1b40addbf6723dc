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


WATCH_DEBOUNCE_MS = 100
WATCH_STEP_MS = 25
WATCH_TIMEOUT_MS = 5_000  # the watch returns this often with nothing, so a stop is seen within it


class _Stop:
    """Tells the watch thread to return: the agent switched (``restart``) or the watch was cancelled."""

    def __init__(self, restart: asyncio.Event) -> None:
        self.restart = restart
        self.cancelled = False

    def is_set(self) -> bool:
        return self.cancelled or self.restart.is_set()


def _open_watch(git_dir: str) -> Any:
    """Blocking: an inotify watch over ``git_dir`` (``watchfiles``' Rust notifier). Opened in a worker thread,
    not on the event loop, where every request arriving at start-up waited for it: importing ``watchfiles``
    (75-150 ms) and setting the watch up, a walk of the whole ``.git`` folder (~70 ms over 10,000 loose
    objects)."""
    from watchfiles._rust_notify import RustNotify

    return RustNotify([git_dir], False, False, 300, True, False)


async def watch(ls: LettaServer, restart: asyncio.Event) -> None:
    ls.spawn(_catch_up(ls), name="first head check")
    while True:
        git_dir = ls.current.repo.common_dir
        stop = _Stop(restart)
        try:
            notifier = await ls.run_blocking(_open_watch, str(git_dir))
            with notifier:
                while True:
                    # in the loop's default executor, not the server's worker pool: it waits for seconds
                    changes = await asyncio.to_thread(notifier.watch, WATCH_DEBOUNCE_MS, WATCH_STEP_MS,
                                                      WATCH_TIMEOUT_MS, stop)
                    if changes == "stop":
                        break
                    if changes == "signal":
                        raise RuntimeError("the watch thread received a signal")
                    if changes != "timeout" and any(_is_ref_change(path) for _change, path in changes):
                        await check_head(ls)
            if restart.is_set():
                restart.clear()
                continue
            return
        except asyncio.CancelledError:
            stop.cancelled = True  # the watch thread returns within a step
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
