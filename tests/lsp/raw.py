"""A bare JSON-RPC peer over a real letta-ls process's stdio: for messages no LSP client would send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any


class RawServer:
    def __init__(self, home: Path) -> None:
        env = {**os.environ, "LETTA_LS_HOME": str(home)}
        self.proc = subprocess.Popen([sys.executable, "-m", "letta_ls", "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.responses: dict[Any, dict] = {}
        self.unaddressed: list[dict] = []  # error answers with "id": null (a message whose id could not be read)
        self.cond = threading.Condition()
        self.next_id = 1000
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = stream.read(1)
                if not byte:
                    return
                header += byte
            length = int(next(line.split(b":")[1] for line in header.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            message = json.loads(stream.read(length))
            if "id" in message and ("result" in message or "error" in message):
                with self.cond:
                    if message["id"] is None:
                        self.unaddressed.append(message)
                    else:
                        self.responses[message["id"]] = message
                    self.cond.notify_all()

    def send_raw(self, data: bytes) -> None:
        """Exactly these bytes, headers included (or not)."""
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def write(self, body: bytes) -> None:
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def answer(self, msg_id: Any, timeout: float = 20.0, what: str = "") -> dict:
        with self.cond:
            if not self.cond.wait_for(lambda: msg_id in self.responses, timeout):
                raise AssertionError(f"no answer to {what or msg_id} within {timeout}s")
            return self.responses.pop(msg_id)

    def unaddressed_error(self, timeout: float = 20.0) -> dict:
        with self.cond:
            if not self.cond.wait_for(lambda: self.unaddressed, timeout):
                raise AssertionError(f"no error answer with id null within {timeout}s")
            return self.unaddressed.pop(0)

    def request(self, method: Any, params: Any, timeout: float = 20.0) -> dict:
        msg_id = self.new_id()
        self.write(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode())
        return self.answer(msg_id, timeout, f"{method} {params!r}")

    def notify(self, method: str, params: Any = None) -> None:
        self.write(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode())

    def initialize(self) -> dict:
        result = self.request("initialize", {"capabilities": {}, "processId": None})
        self.notify("initialized", {})
        return result

    def wait_exit(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
