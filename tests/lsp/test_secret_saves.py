"""The editor's saves keep secrets out of git history (issue 11, point 3): a ``reason`` (the commit
message) or a file name holding a secret is refused by the real server with a clear error, nothing is
committed, and the error never repeats the value. A file already named after a key can still be
deleted or renamed away, even with the default reason that names it.

One client and transport is enough here: the refusal is in the core, not in the protocol layer.
"""

import os
import random
import subprocess

import pytest
from pygls.exceptions import JsonRpcException

from tests.secret_corpus import KEY_FORMATS, PASSWORD_CONTEXTS

ONE_CLIENT = pytest.mark.parametrize("client", [("visual-studio-code", "stdio")], indirect=True)
DOC = "---\ndescription: Notes.\n---\nbody\n"


def uri_of(client, path: str) -> str:
    return f"letta-memory://{client.agent.id}/{path}"


async def refused(client, method: str, params: dict, secret: str) -> str:
    with pytest.raises(JsonRpcException) as err:
        await client.protocol.send_request_async(method, params)
    assert secret not in err.value.message
    return err.value.message


def git_objects(repo) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo.path, capture_output=True,
                          check=True).stdout


@ONE_CLIENT
async def test_saves_with_a_secret_reason_or_file_name_are_refused(client):
    rng = random.Random(41)
    text, password = PASSWORD_CONTEXTS["connection-string"](rng)
    key = KEY_FORMATS["github-classic"](rng)
    repo = client.home.memory_repo(client.agent)
    await client.protocol.send_request_async(
        "letta/memoryWrite", {"uri": uri_of(client, "reference/notes.md"), "text": DOC, "reason": "notes"})
    head = repo.head()

    message = await refused(client, "letta/memoryWrite", {"uri": uri_of(client, "reference/db.md"), "text": DOC,
                                                          "reason": f"the db: {text}"}, password)
    assert "reason" in message and "commit message" in message
    message = await refused(client, "letta/memoryWrite", {"uri": uri_of(client, f"reference/{key}.md"),
                                                          "text": DOC}, key)  # the default reason names it too
    assert "file name" in message and "[REDACTED]" in message
    message = await refused(client, "letta/memoryRename", {"uri": uri_of(client, "reference/notes.md"),
                                                           "newUri": uri_of(client, f"reference/{key}.md")}, key)
    assert "file name" in message

    assert repo.head() == head
    objects = git_objects(repo)
    assert key.encode() not in objects and password.encode() not in objects
    assert not (repo.path / "reference" / f"{key}.md").exists()


@ONE_CLIENT
async def test_a_file_named_after_a_key_can_be_deleted_from_the_editor(client):
    key = KEY_FORMATS["stripe"](random.Random(8))
    repo = client.home.memory_repo(client.agent)
    path = f"reference/{key}.md"
    (repo.path / "reference").mkdir(exist_ok=True)
    (repo.path / path).write_text(DOC)
    env = {**os.environ, **client.agent.author.env()}
    subprocess.run(["git", "add", "-A"], cwd=repo.path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "by hand"], cwd=repo.path, check=True, env=env)

    result = await client.protocol.send_request_async("letta/memoryDelete", {"uri": uri_of(client, path)})
    assert result.commit and path not in repo.snapshot().files
