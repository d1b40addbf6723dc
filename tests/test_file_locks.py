"""The one cross-process lock helper (``letta_ls.file_locks``, on ``filelock``): what every lock in letta-ls
relies on. A real second process holds the lock; a killed holder releases it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from letta_ls import file_locks

HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from letta_ls.file_locks import locked_file
    with locked_file(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(60)
""")


def _holder(path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_lock_held_by_another_process_is_released_when_that_process_is_killed(tmp_path):
    path = tmp_path / "memory.lock"
    holder = _holder(path)
    fd = os.open(path, os.O_RDWR)
    try:
        assert not file_locks.try_lock(fd)
        assert not file_locks.lock_until(fd, time.monotonic() + 0.2)
        holder.kill()
        holder.wait(10)
        assert file_locks.lock_until(fd, time.monotonic() + 5)
    finally:
        holder.kill()
        os.close(fd)


def test_a_second_descriptor_in_the_same_process_waits_like_another_process(tmp_path):
    path = tmp_path / "state.lock"
    first, second = os.open(path, os.O_RDWR | os.O_CREAT), os.open(path, os.O_RDWR)
    try:
        assert file_locks.try_lock(first)
        assert not file_locks.try_lock(second)
        file_locks.unlock(first)
        assert file_locks.try_lock(second)
    finally:
        os.close(first)
        os.close(second)


def test_readers_share_the_lock_and_a_writer_waits_for_the_last_of_them(tmp_path):
    path = tmp_path / "transcript.jsonl"
    path.write_bytes(b"")
    writer_in = threading.Event()
    with file_locks.locked_file(path, shared=True, flags=os.O_RDONLY):
        with file_locks.locked_file(path, shared=True, flags=os.O_RDONLY):
            pass  # a second reader gets in while the first reads (it would hang here otherwise)

        def write() -> None:
            with file_locks.locked_file(path, flags=os.O_RDWR | os.O_APPEND):
                writer_in.set()

        writer = threading.Thread(target=write)
        writer.start()
        assert not writer_in.wait(0.2)
    writer.join(5)
    assert writer_in.is_set()


def test_waiting_without_blocking_the_loop_stops_when_the_lock_is_no_longer_wanted(tmp_path):
    path = tmp_path / "run.lock"
    holder = _holder(path)
    fd = os.open(path, os.O_RDWR)
    wanted = [True]

    async def scenario() -> tuple[bool, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        asyncio.get_running_loop().call_later(0.3, wanted.clear)
        got = await file_locks.lock_async(fd, poll_seconds=0.02, still_wanted=lambda: bool(wanted))
        ticker.cancel()
        return got, ticks

    try:
        got, ticks = asyncio.run(scenario())
        assert got is False
        assert ticks >= 10  # the loop kept running while the lock was awaited
    finally:
        holder.kill()
        holder.wait(10)
        os.close(fd)
