"""A token in the sync URL is used for the push and pull, and is found nowhere afterwards: not in git's files
or objects, not in the home, not in logs, errors or results, not on any command line. Missing or refused
credentials fail at once."""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
from pathlib import Path

import pytest

from letta_ls.sync.remote import RemoteAuthError
from tests.sync.remotes import GitHttpServer, Machine, bare_repository, remote_main
from tests.test_secrets_stay_out import everything_written


@pytest.fixture
def token() -> str:
    return "ghp_" + secrets.token_urlsafe(24)


@pytest.fixture
def server(tmp_path: Path, token: str):
    bare_repository(tmp_path / "http" / "memory.git")
    with GitHttpServer(tmp_path / "http", user="letta", password=token) as running:
        yield running


@pytest.mark.parametrize("form", ["environment", "literal"])
def test_a_token_in_the_url_is_used_and_never_stored_shown_or_logged(tmp_path, server, token, form, monkeypatch,
                                                                      caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MEMORY_TOKEN", token)
    command_lines: list[str] = []  # what `ps` would show other users of the machine
    real_popen = subprocess.Popen

    class RecordingPopen(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args, *rest, **options):
            command_lines.append(" ".join(map(str, args)))
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    secret = "${MEMORY_TOKEN}" if form == "environment" else token
    url = server.url("memory.git").replace("http://", f"http://letta:{secret}@")
    a, b = Machine(tmp_path / "a", url), Machine(tmp_path / "b", url)
    a.write("notes.md", "---\ndescription: notes\n---\nfrom a\n", "a's note")
    shown = [a.sync(), b.sync(), a.sync()]
    assert shown[0].pushed == 2 and shown[1].pulled == 2 and b.text("notes.md").endswith("from a\n")
    assert remote_main(tmp_path / "http" / "memory.git") == a.repo.head()
    assert any(authorised and method == "POST" for method, _path, authorised in server.requests)  # it was used

    results = json.dumps([r.to_json() for r in shown]) + "".join(r.report for r in shown)
    assert shown[0].remote == server.url("memory.git").replace("http://", "http://***@")
    bad_token = "ghp_" + secrets.token_urlsafe(24)
    wrong = Machine(tmp_path / "c", server.url("memory.git").replace("http://", f"http://letta:{bad_token}@"))
    with pytest.raises(RemoteAuthError) as err:
        wrong.sync()
    errors = str(err.value)
    assert "refused the credentials" in errors
    assert any("git" in line and "push" in line for line in command_lines)
    seen = results + errors + caplog.text + "\n".join(command_lines)
    assert "MEMORY_TOKEN" not in results
    for key in (token, bad_token):
        assert key not in seen and key[4:] not in seen
    for machine in (a, b, wrong):
        stored = everything_written(machine.home.root)
        if form == "literal" or machine is wrong:  # the user wrote it into settings.json; nothing else may hold it
            stored = stored.replace((machine.home.root / "settings.json").read_bytes(), b"")
        for key in (token, bad_token):
            assert key[4:] not in (machine.repo.git_dir / "config").read_text()
            assert key.encode() not in stored and key[4:].encode() not in stored


def test_missing_credentials_fail_at_once_with_what_to_do(tmp_path, server):
    a = Machine(tmp_path / "a", server.url("memory.git"))
    head = a.repo.head()
    with pytest.raises(RemoteAuthError) as err:
        a.sync()  # git would prompt for a user name; letta-ls never lets it
    message = str(err.value)
    assert "asked for credentials" in message and "${ENV_VAR}" in message and "unchanged" in message
    assert a.repo.head() == head
