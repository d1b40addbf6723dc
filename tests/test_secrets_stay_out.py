"""API keys come from the environment and reach no file, transcript, commit or log."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.fakes import Script, scripted_openai


def everything_written(home: Path) -> bytes:
    """Every byte under the home, plus every git object decompressed (packs and loose objects are zlib)."""
    blob = bytearray()
    for path in home.rglob("*"):
        if path.is_file():
            blob += path.read_bytes()
    for git_dir in home.rglob(".git"):
        repo = git_dir.parent
        out = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True)
        blob += out.stdout
    return bytes(blob)


def test_the_key_is_nowhere_after_a_session(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    key = "sk-proj-" + secrets.token_urlsafe(40)
    script = (Script()
              .tool_call("memory", {"command": "create", "file_path": "reference/api.md", "description": "API use",
                                    "file_text": "We call the OpenAI API with the key in OPENAI_API_KEY.",
                                    "reason": "note how the API is called"})
              .text("Stored.")
              .error(401, f"Incorrect API key provided: {key}."))
    with scripted_openai(script) as server:
        (home / "settings.json").write_text(json.dumps({"model": {"provider": "openai", "name": "gpt-test",
                                                                  "baseUrl": server.base_url}}))
        env = {**os.environ, "LETTA_LS_HOME": str(home), "OPENAI_API_KEY": key}
        logs = b""
        for args in (["chat", "-p", "How do we call the API?"], ["chat", "-p", "and again"],
                     ["remember", "the API key lives in OPENAI_API_KEY"]):
            proc = subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, env=env, timeout=120)
            logs += proc.stdout + proc.stderr
        assert server.requests[0].header("authorization") == f"Bearer {key}"  # it did reach the model server
    assert b"Stored." in logs
    assert b"OPENAI_API_KEY" in logs  # the 401 told the user which variable to fix
    written = everything_written(home)
    assert b"OPENAI_API_KEY" in written  # the name may be stored, and is
    assert key.encode() not in written
    assert key.encode() not in logs
    assert key[8:30].encode() not in written + logs
