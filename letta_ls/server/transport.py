"""Reading LSP frames from stdio or TCP, liberally, and serving one editor over either.

upstream: ``pygls.io_.run_async`` only recognises ``Content-Length: N\\r\\n`` spelled exactly so. After one
frame it does not recognise (``content-length``, LF-only line ends, ``Content-Length: abc``, ``-5``, a
length too small) the body that follows is read as a header line, glued to the next frame's header, and
from then on every frame is glued to the one before it: the server stays alive but never answers again.
Here header names are case-insensitive, LF-only line ends are accepted, and a ``Content-Length`` is
looked for anywhere in a line, so the reader resynchronises on the next frame whatever came before.

stdin is read in a daemon thread with ``os.read``: pygls reads it in its own (non-daemon) pool, so a
process told to ``exit`` would wait for one more line from the editor before it could end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import re
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from pygls.io_ import StdoutWriter

from letta_ls.server.protocol import GuardedProtocol

log = logging.getLogger("letta_ls.server")

CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
MAX_BODY_BYTES = 256 * 1024 * 1024  # a larger length is a corrupt header, not a message


class FrameReader(Protocol):
    def readline(self) -> Awaitable[bytes]: ...

    def readexactly(self, n: int) -> Awaitable[bytes]: ...


def content_length(line: bytes, max_body: int = MAX_BODY_BYTES) -> int | None:
    """The length a header line announces (the last ``Content-Length`` in it), or None if unreadable."""
    matches = list(CONTENT_LENGTH.finditer(line))
    if not matches:
        return None
    value = matches[-1].group(1).strip()
    if not value.isdigit() or int(value) > max_body:
        log.warning("ignoring a frame with an unreadable Content-Length: %r", value[:40])
        return None
    return int(value)


async def frames(reader: FrameReader, max_body: Callable[[], int] = lambda: MAX_BODY_BYTES) -> AsyncIterator[bytes]:
    """Each frame's body until the peer closes the stream (a frame longer than ``max_body()`` is skipped)."""
    length: int | None = None
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # asyncio's line limit: a long run of junk without a newline
            length = None
            continue
        if not line:
            return
        if line.strip():
            if CONTENT_LENGTH.search(line):
                length = content_length(line, max_body())
            continue  # any other header (Content-Type) or junk
        if length is None:
            continue  # a blank line with no length before it: not the end of a header we can use
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return
        if len(body) < length:
            return
        length = None
        yield body


async def serve_connection(protocol: GuardedProtocol, bodies: AsyncIterator[bytes]) -> None:
    """Hand each body to the protocol until the stream ends or the client sends ``exit``."""
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int] = loop.create_future()
    protocol.on_exit = lambda code: exited.done() or exited.set_result(code)

    async def pump() -> None:
        async for body in bodies:
            protocol.receive_body(body)

    reading = asyncio.ensure_future(pump())
    await asyncio.wait({reading, exited}, return_when=asyncio.FIRST_COMPLETED)
    reading.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reading


class _FdLines:
    """Blocking, unlocked reads from a file descriptor (only the reader thread touches it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def readline(self) -> bytes:
        while (end := self.buffer.find(b"\n")) < 0:
            if not self._fill():
                end = len(self.buffer) - 1
                break
        line = bytes(self.buffer[:end + 1])
        del self.buffer[:end + 1]
        return line

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n and self._fill():
            pass
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data


class ThreadedReader:
    """The async reader interface over a blocking source, read in one daemon thread."""

    def __init__(self, source: _FdLines, loop: asyncio.AbstractEventLoop) -> None:
        self.source = source
        self.loop = loop
        self.jobs: queue.SimpleQueue[tuple[Callable[[], bytes], asyncio.Future[bytes]]] = queue.SimpleQueue()
        threading.Thread(target=self._work, name="letta-stdin", daemon=True).start()

    def _work(self) -> None:
        while True:
            job, future = self.jobs.get()
            try:
                result: Any = job()
            except BaseException as exc:  # handed to the awaiting coroutine
                self.loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                self.loop.call_soon_threadsafe(_settle, future, result, None)

    def _submit(self, job: Callable[[], bytes]) -> asyncio.Future[bytes]:
        future = self.loop.create_future()
        self.jobs.put((job, future))
        return future

    def readline(self) -> Awaitable[bytes]:
        return self._submit(self.source.readline)

    def readexactly(self, n: int) -> Awaitable[bytes]:
        return self._submit(lambda: self.source.read(n))


def _settle(future: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def serve_stdio(server: Any) -> int:
    """LSP over stdin/stdout; the process's exit code (LSP: 0 after shutdown + exit, else 1)."""
    protocol: GuardedProtocol = server.protocol

    async def main() -> None:
        reader = ThreadedReader(_FdLines(sys.stdin.fileno()), asyncio.get_running_loop())
        protocol.set_writer(StdoutWriter(sys.stdout.buffer))
        await serve_connection(protocol, frames(reader))

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the editor closed the connection")
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return protocol.exit_code if protocol.exit_code is not None else 0
