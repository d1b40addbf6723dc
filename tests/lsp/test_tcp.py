"""``letta-ls serve --tcp`` (issue 11, point 11): loopback by default, a per-launch token on every connection.

Real server processes and real sockets. "Refused" means what an attacker would see: the connection is
closed, nothing the connection sent was acted on (a write it carried is not in memory), and the server
keeps listening for the real editor.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from letta_ls.home import Home
from tests.lsp.conftest import free_port

TOKEN = "editor-given-token-" + "k" * 24


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def initialize(token: str | None, msg_id: int = 1) -> dict:
    options: dict = {} if token is None else {"token": token}
    return {"jsonrpc": "2.0", "id": msg_id, "method": "initialize",
            "params": {"processId": None, "capabilities": {}, "initializationOptions": options}}


def listening(port: int, address_hex: str | None = None) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for row in handle.readlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                host, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.append(host)
    return found


class TcpServer:
    def __init__(self, home: Path, address: str, *extra: str, token: str | None = TOKEN) -> None:
        self.home = Home(home)
        self.port = int(address.rpartition(":")[2])
        env = {**os.environ, "LETTA_LS_HOME": str(home)}
        env.pop("LETTA_LS_TOKEN", None)
        if token is not None:
            env["LETTA_LS_TOKEN"] = token
        self.proc = subprocess.Popen([sys.executable, "-m", "letta_ls", "serve", "--tcp", address, *extra],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env)
        deadline = time.monotonic() + 30
        token_file = home / "run" / f"tcp-{self.port}.token"
        while not listening(self.port) or (token is None and not token_file.exists()):  # written once bound
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"letta-ls --tcp did not listen: {self.stop()}")
            time.sleep(0.05)

    def exchange(self, *messages: dict, host: str = "127.0.0.1",
                 until_closed: bool = False) -> tuple[list[dict], bool]:
        """Send the messages at once on a new connection; collect the answers (all of them, or until the
        server closes the connection)."""
        with Connection(host, self.port) as connection:
            connection.send(*messages)
            return connection.receive(None if until_closed else sum(1 for m in messages if "id" in m))

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        _, err = self.proc.communicate(timeout=30)
        return err.decode()


class Connection:
    def __init__(self, host: str, port: int, timeout: float = 15.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, *messages: dict) -> None:
        self.sock.sendall(b"".join(frame(m) for m in messages))

    def receive(self, count: int | None) -> tuple[list[dict], bool]:
        """``count`` answers (None: all until closed); and whether the server closed the connection."""
        answers: list[dict] = []
        while count is None or len(answers) < count:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return answers, False
            except ConnectionResetError:  # closed with our unread messages still in its buffer
                return answers, True
            if not chunk:
                return answers, True
            self.buffer += chunk
            while b"\r\n\r\n" in self.buffer:
                head, rest = self.buffer.split(b"\r\n\r\n", 1)
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    break
                message = json.loads(rest[:length])
                self.buffer = rest[length:]
                if "id" in message and ("result" in message or "error" in message):
                    answers.append(message)
        return answers, False


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    home.current_agent()
    return home


def intruder_write(home: Home, msg_id: int = 2) -> dict:
    agent = home.current_agent()
    return {"jsonrpc": "2.0", "id": msg_id, "method": "letta/memoryWrite",
            "params": {"uri": f"letta-memory://{agent.id}/notes/intruder.md", "text": "pwned\n", "reason": "x"}}


def intruder_landed(home: Home) -> bool:
    return (home.current_agent().memory_dir / "notes" / "intruder.md").exists()


def assert_refused(server: TcpServer, answers: list[dict], closed: bool) -> None:
    assert closed, f"the connection stayed open: {answers}"
    assert not any("result" in a for a in answers), answers
    assert not intruder_landed(server.home)
    assert server.proc.poll() is None, "a refused connection must not stop the server"


@pytest.mark.parametrize(("address", "extra", "token"), [
    pytest.param("127.0.0.1", (), None, id="without-the-token"),
    pytest.param("127.0.0.1", (), TOKEN[:-1] + "X", id="with-a-wrong-token"),
    pytest.param("0.0.0.0", ("--allow-from", "10.0.0.0/8"), TOKEN, id="from-outside-allow-from-even-with-the-token"),
])
def test_a_connection_is_refused(home: Home, address: str, extra: tuple[str, ...], token: str | None):
    server = TcpServer(home.root, f"{address}:{free_port()}", *extra)
    try:
        answers, closed = server.exchange(initialize(token), intruder_write(home), until_closed=True)
        assert_refused(server, answers, closed)
    finally:
        server.stop()


def test_a_connection_with_the_right_token_works_after_refused_ones(home: Home):
    server = TcpServer(home.root, f"127.0.0.1:{free_port()}")
    try:
        assert_refused(server, *server.exchange(initialize("wrong-token-" + "w" * 20), intruder_write(home),
                                                until_closed=True))
        write = intruder_write(home, 2)
        write["params"]["uri"] = write["params"]["uri"].replace("intruder", "welcome")
        with Connection("127.0.0.1", server.port) as editor:
            editor.send(initialize(TOKEN))
            assert editor.receive(1)[0][0]["result"]["capabilities"]
            editor.send({"jsonrpc": "2.0", "method": "initialized", "params": {}}, write)
            assert editor.receive(1)[0][0]["result"]["commit"]
            assert (home.current_agent().memory_dir / "notes" / "welcome.md").read_text() == "pwned\n"
            editor.send({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
            assert editor.receive(1)[0][0]["result"] is None
            editor.send({"jsonrpc": "2.0", "method": "exit"})
            assert editor.receive(None)[1], "exit closes the connection"
        assert server.proc.wait(timeout=20) == 0
    finally:
        server.stop()


def generated_token_file(home: Home, port: int) -> Path:
    """The token file a launch without a token writes (``TcpServer`` waits until it is there)."""
    return home.root / "run" / f"tcp-{port}.token"


def refused_launch(home: Home, address: str, *extra: str, env: dict[str, str] | None = None):
    """A ``serve --tcp`` launch that is expected to stop at once: its exit code and stderr."""
    return subprocess.run([sys.executable, "-m", "letta_ls", "serve", "--tcp", address, *extra],
                          env={**(env if env is not None else os.environ), "LETTA_LS_HOME": str(home.root)},
                          capture_output=True, timeout=60)


def test_a_generated_token_is_in_a_file_only_the_user_can_read(home: Home):
    port = free_port()
    server = TcpServer(home.root, f"127.0.0.1:{port}", token=None)
    try:
        token_file = generated_token_file(home, port)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        answers, _ = server.exchange(initialize(token_file.read_text().strip()))
        assert "result" in answers[0], answers
    finally:
        err = server.stop()
    assert str(token_file) in err


def test_a_token_file_others_can_read_is_refused_at_start(home: Home, tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o644)
    proc = refused_launch(home, f"127.0.0.1:{free_port()}", "--token-file", str(token_file))
    assert proc.returncode == 2 and b"chmod 600" in proc.stderr, proc.stderr


def test_the_default_bind_is_loopback(home: Home):
    port = free_port()
    server = TcpServer(home.root, str(port))
    try:
        assert listening(port) == ["0100007F"]  # 127.0.0.1, nothing else
    finally:
        server.stop()


def test_binding_every_interface_prints_what_it_exposes(home: Home):
    port = free_port()
    server = TcpServer(home.root, f"0.0.0.0:{port}")
    err = server.stop()
    assert "WARNING" in err and "memory" in err and "sync remote" in err and "API key" in err, err


def test_a_second_launch_on_a_taken_port_leaves_the_first_ones_token_alone(home: Home):
    port = free_port()
    first = TcpServer(home.root, f"127.0.0.1:{port}", token=None)
    try:
        token_file = generated_token_file(home, port)
        token = token_file.read_text()
        env = {k: v for k, v in os.environ.items() if k != "LETTA_LS_TOKEN"}
        second = refused_launch(home, f"127.0.0.1:{port}", env=env)
        assert second.returncode == 2 and b"in use" in second.stderr, second.stderr
        assert token_file.read_text() == token
        answers, _ = first.exchange(initialize(token.strip()))
        assert "result" in answers[0], answers
    finally:
        first.stop()
