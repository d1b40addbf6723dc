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
                    self.responses[message["id"]] = message
                    self.cond.notify_all()

    def write(self, body: bytes) -> None:
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: Any, params: Any, timeout: float = 20.0) -> dict:
        self.next_id += 1
        msg_id = self.next_id
        self.write(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode())
        with self.cond:
            if not self.cond.wait_for(lambda: msg_id in self.responses, timeout):
                raise AssertionError(f"no answer to {method} {params!r} within {timeout}s")
            return self.responses.pop(msg_id)

    def initialize(self) -> dict:
        result = self.request("initialize", {"capabilities": {}, "processId": None})
        self.write(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}).encode())
        return result

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
