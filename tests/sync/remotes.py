"""Real git remotes for the sync tests: ``git daemon`` on 127.0.0.1, and smart HTTP (``git http-backend``)
behind Basic authentication, both serving bare repositories from a folder; plus "machines" (homes) that sync.

    with git_daemon(tmp_path / "remotes") as base_url:       # git://127.0.0.1:<port>
        url = f"{base_url}/memory.git"
    with GitHttpServer(root, user="letta", password=token) as server:
        server.url("memory.git")                              # http://127.0.0.1:<port>/memory.git (no credentials)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from letta_ls.home import Home
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.session import Session
from letta_ls.sync.memory_sync import SyncResult, sync_agent

USER = Author("Dana", "dana@example.com")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_repository(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def remote_main(bare: Path) -> str | None:
    out = subprocess.run(["git", "rev-parse", "--verify", "-q", "refs/heads/main"], cwd=bare, capture_output=True,
                         text=True)
    return out.stdout.strip() or None


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """``git daemon`` serving (and accepting pushes to) every repository under ``base``; yields its URL prefix."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(["git", "daemon", "--export-all", "--enable=receive-pack", f"--base-path={base}",
                             f"--port={port}", "--listen=127.0.0.1", "--reuseaddr", "--informative-errors"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("git daemon did not start") from None
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # git may open several connections at once; the default backlog is 5


class GitHttpServer:
    """Smart HTTP for the bare repositories under ``root``, for one user and password (Basic auth)."""

    def __init__(self, root: Path, *, user: str, password: str) -> None:
        self.root = root
        self.user = user
        self.password = password
        self.requests: list[tuple[str, str, bool]] = []  # method, path, authorised
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.handle(self)

            def do_POST(self) -> None:
                owner.handle(self)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{repo}"

    def __enter__(self) -> GitHttpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        authorised = request.headers.get("Authorization") == expected
        path, _, query = request.path.partition("?")
        self.requests.append((request.command, path, authorised))
        body = self._body(request)
        if not authorised:
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="memory"')
            request.send_header("Content-Length", "0")
            # a refused request ends its connection: curl then retries (or gives up) on a fresh one, instead of
            # racing the server for a kept-alive socket (seen as "Connection reset by peer" under load)
            request.send_header("Connection", "close")
            request.close_connection = True
            request.end_headers()
            return
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": request.command, "PATH_INFO": path, "QUERY_STRING": query,
               "CONTENT_TYPE": request.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "REMOTE_USER": self.user, "REMOTE_ADDR": "127.0.0.1",
               "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.root)}
        for header, name in (("Git-Protocol", "GIT_PROTOCOL"), ("Content-Encoding", "HTTP_CONTENT_ENCODING")):
            if request.headers.get(header):
                env[name] = request.headers[header]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        cuts = [(proc.stdout.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if sep in proc.stdout]
        at, sep = min(cuts) if cuts else (len(proc.stdout), b"")
        head, payload = proc.stdout[:at], proc.stdout[at + len(sep):]
        headers = [line.split(":", 1) for line in head.decode("latin-1").splitlines() if ":" in line]
        status = next((int(v.strip().split()[0]) for k, v in headers if k.lower() == "status"), 200)
        request.send_response(status)
        for key, value in headers:
            if key.lower() not in ("status", "content-length"):
                request.send_header(key, value.strip())
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def _body(request: BaseHTTPRequestHandler) -> bytes:
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(request.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    request.rfile.readline()
                    return bytes(data)
                data += request.rfile.read(size)
                request.rfile.readline()
        length = int(request.headers.get("Content-Length") or 0)
        return request.rfile.read(length) if length else b""


class Machine:
    """One computer: its own letta-ls home and agent, syncing with ``remote``."""

    def __init__(self, root: Path, remote: str | None, *, preset: str = "default") -> None:
        root.mkdir(parents=True, exist_ok=True)
        if remote is not None:
            (root / "settings.json").write_text(json.dumps({"sync": {"remote": remote}}))
        self.home = Home(root)
        if preset != "default":
            self.home.use_agent(self.home.create_agent("Agent", preset).id)
        self.session = Session(self.home)

    @property
    def repo(self) -> MemoryRepo:
        return self.session.repo

    def sync(self, **options: Any) -> SyncResult:
        return asyncio.run(sync_agent(self.session, **options))

    def write(self, path: str, text: str, reason: str = "note") -> str:
        result = self.repo.commit({path: text.encode()}, reason, USER)
        assert result.commit is not None
        return result.commit

    def text(self, path: str) -> str:
        return self.repo.read(path).text or ""

    def on_disk(self, path: str) -> str:
        return (self.repo.path / path).read_text(encoding="utf-8")
