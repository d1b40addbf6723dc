"""``sync.remote`` is checked before git sees it, and what is shown of it never carries a credential."""

from __future__ import annotations

import base64

import pytest

from letta_ls.sync.remote import BadRemoteError, SyncNotConfigured, parse_remote, redact_urls


@pytest.mark.parametrize(("value", "kind", "display"), [
    ("/srv/memory.git", "path", "/srv/memory.git"),
    ("file:///srv/memory.git", "file", "file:///srv/memory.git"),
    ("git://127.0.0.1:9418/memory.git", "git", "git://127.0.0.1:9418/memory.git"),
    ("ssh://git@example.com:2222/me/memory.git", "ssh", "ssh://git@example.com:2222/me/memory.git"),
    ("git@github.com:me/memory.git", "ssh", "git@github.com:me/memory.git"),
    ("https://github.com/me/memory.git", "http", "https://github.com/me/memory.git"),
    ("https://ghp_secret123@github.com/me/memory.git", "http", "https://***@github.com/me/memory.git"),
    ("https://x-access-token:ghp_secret123@github.com/me/m.git", "http", "https://***@github.com/me/m.git"),
    ("ssh://me:hunter22@example.com/memory.git", "ssh", "ssh://me:***@example.com/memory.git"),
])
def test_any_git_url_is_accepted_and_shown_without_credentials(value, kind, display):
    remote = parse_remote(value, env={})
    assert (remote.kind, remote.display, remote.url) == (kind, display, value)
    assert "secret123" not in repr(remote) and "hunter22" not in repr(remote) and str(remote) == display


def test_a_home_relative_path_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_remote("~/memory.git").url == str(tmp_path / "memory.git")


def test_a_token_from_the_environment_is_expanded_for_git_only():
    remote = parse_remote("https://x-access-token:${GH_TOKEN}@github.com/me/memory.git", env={"GH_TOKEN": "ghp_abc%40"})
    assert remote.url == "https://x-access-token:ghp_abc%40@github.com/me/memory.git"
    assert remote.display == "https://***@github.com/me/memory.git"
    said = remote.redact("fatal: unable to access 'https://x-access-token:ghp_abc%40@github.com/': token ghp_abc@ bad")
    assert "ghp_abc" not in said and "***" in said


@pytest.mark.parametrize(("value", "says"), [
    (None, "no sync remote is configured"),
    ("  ", "no sync remote is configured"),
    (42, "must be a git URL"),
    ("memory.git", "absolute path"),
    ("ext::sh -c 'touch /tmp/x'", "remote helper ext::"),
    ("-uupload-pack=touch /tmp/x", "starts with '-'"),
    ("ftp://example.com/memory.git", "cannot sync over"),
    ("https:///memory.git", "names no host"),
    ("https://github.com", "names no repository"),
    ("https://github.com/me/memory.git\nhttps://evil", "control character"),
    ("https://letta:${NOT_SET_ANYWHERE}@github.com/me/memory.git", "${NOT_SET_ANYWHERE}, which is not set"),
    ("file://server/memory.git", "absolute path"),
    ("https://github.com:http/me/memory.git", "not a valid URL"),
])
def test_a_bad_remote_is_refused_with_what_to_write_instead(value, says):
    error = SyncNotConfigured if "configured" in says else BadRemoteError
    with pytest.raises(error) as err:
        parse_remote(value, env={})
    assert says in str(err.value)


def test_no_remote_says_how_to_set_one():
    with pytest.raises(SyncNotConfigured) as err:
        parse_remote(None)
    assert '"sync": {"remote"' in str(err.value) and "letta.sync.remote" in str(err.value)


def test_urls_in_any_message_lose_their_passwords():
    text = "To https://tok@host/x and ssh://me:pw@host/y and git://host/z"
    assert redact_urls(text) == "To https://***@host/x and ssh://me:***@host/y and git://host/z"


def test_http_credentials_leave_the_command_line_for_a_header():
    remote = parse_remote("https://letta:p%40ss123@example.com:8443/me/memory.git", env={})
    assert remote.command_url == "https://example.com:8443/me/memory.git"
    assert remote.auth_header == "Authorization: Basic " + base64.b64encode(b"letta:p@ss123").decode()
    assert remote.redact(remote.auth_header) == "Authorization: Basic ***"
    assert parse_remote("https://example.com/me/memory.git").auth_header is None
