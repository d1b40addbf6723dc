"""Virtual documents end to end: read, save with conflict detection, tree, history."""

import subprocess
import sys

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException


def uri_of(client, path: str) -> str:
    return f"letta-memory://{client.agent.id}/{path}"


async def read(client, uri: str) -> str:
    result = await client.workspace_text_document_content_async(types.TextDocumentContentParams(uri=uri))
    return result.text


async def request(client, method: str, params):
    return await client.protocol.send_request_async(method, params)


async def test_capabilities_advertise_read_only_schemes_only(client):
    caps = client.init_result.capabilities
    schemes = caps.workspace.text_document_content.schemes
    assert sorted(schemes) == ["letta-conversation", "letta-memory-rev"]
    assert "letta.doctor" in caps.execute_command_provider.commands


async def test_read_memory_file_through_text_document_content(client):
    text = await read(client, uri_of(client, "system/human.md"))
    assert text.startswith("---\ndescription:")


async def test_save_commits_and_stale_base_is_refused_losing_nothing(client):
    uri = uri_of(client, "system/human.md")
    first = await request(client, "letta/memoryRead", {"uri": uri})
    body = first.text.replace("\n---\n", "\n---\nThe user writes Rust. Café ☕.\n", 1)
    saved = await request(client, "letta/memoryWrite",
                          {"uri": uri, "text": body, "baseVersion": first.version, "reason": "note the language"})
    assert saved.commit and saved.version != first.version
    repo = client.home.memory_repo(client.agent)
    assert repo.history(limit=1)[0].message == "note the language"
    assert repo.read("system/human.md").text == body
    with pytest.raises(JsonRpcException) as err:
        await request(client, "letta/memoryWrite",
                      {"uri": uri, "text": "---\ndescription: x\n---\nstale\n", "baseVersion": first.version})
    assert err.value.code == -32801 and "reload" in err.value.message
    assert repo.read("system/human.md").text == body


async def test_save_of_a_secret_is_refused_with_the_line(client):
    uri = uri_of(client, "reference/keys.md")
    key = "sk-proj-" + "Zq8vT2mXr4Lp9sWb6Kd3Nf7Hc1Jg5Ye0Ua8Qi2Ot4Rw6Ex9Vz"
    with pytest.raises(JsonRpcException) as err:
        await request(client, "letta/memoryWrite",
                      {"uri": uri, "text": f"---\ndescription: keys\n---\nok\nOPENAI key: {key}\n"})
    assert "line 5" in err.value.message.lower() or "line 5" in err.value.message
    assert "reference/keys.md" not in client.home.memory_repo(client.agent).snapshot()


async def test_tree_lists_tiers_descriptions_tokens(client):
    tree = await request(client, "letta/memoryTree", {})
    paths = {e.path: e for e in tree.entries}
    assert paths["system/persona.md"].tier == "system"
    assert paths["system/persona.md"].tokens > 0 and paths["system/persona.md"].description
    assert tree.totals.systemTokenBudget == 20000
    assert tree.agentId == client.agent.id and len(tree.head) == 40


async def test_tree_of_a_memfs_v2_memory_puts_the_root_files_in_the_prompt(client):
    """A root MEMORY.md switches on MemFS v2 (as Letta Code does): root files are in context, the files of
    the other folders are external (read on demand), `system/` included."""
    repo = client.home.memory_repo(client.agent)
    for path, text in {"MEMORY.md": "# Memory\n", "core.md": '---\nname: "Core"\ndescription: "Core: facts"\n---\nA.\n',
                       "projects/MEMORY.md": "# Projects\n"}.items():
        (repo.path / path).parent.mkdir(exist_ok=True)
        (repo.path / path).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo.path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "v2"], cwd=repo.path,
                   check=True)
    tree = await request(client, "letta/memoryTree", {})
    tiers = {e.path: e.tier for e in tree.entries}
    assert tiers["MEMORY.md"] == tiers["core.md"] == "system"
    assert tiers["projects/MEMORY.md"] == "external"
    assert tiers["system/persona.md"] == "external"
    described = {e.path: e.description for e in tree.entries}
    assert described["core.md"] == "Core: facts"
    assert tree.totals.systemTokens == sum(e.tokens for e in tree.entries if e.path in ("MEMORY.md", "core.md"))


async def test_status_tree_and_doctor_count_the_same_system_tokens(client):
    """One count of the prompt's memory: a system file that is not UTF-8 (Latin-1) weighs the same everywhere."""
    first = await client.recorder.wait_for("letta/status")
    repo = client.home.memory_repo(client.agent)
    latin1 = "---\ndescription: café notes\n---\nLe café est très bon à Paris, déjà vu.\n".encode("latin-1")
    repo.commit({"system/notes.md": latin1}, "a Latin-1 file", client.agent.author)
    status = await client.recorder.wait_for("letta/status", lambda s: s.systemTokens != first.systemTokens)
    doctor = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="letta.doctor", arguments=[{}]))
    tree = await request(client, "letta/memoryTree", {})
    notes = next(e for e in tree.entries if e.path == "system/notes.md")
    assert notes.tokens == next(f["tokens"] for f in doctor["tokens"]["files"] if f["path"] == "system/notes.md")
    assert status.systemTokens == tree.totals.systemTokens == doctor["tokens"]["system"]


async def test_history_and_revision_documents(client):
    uri = uri_of(client, "system/human.md")
    first = await request(client, "letta/memoryRead", {"uri": uri})
    await request(client, "letta/memoryWrite", {"uri": uri, "text": first.text + "more\n", "reason": "v2"})
    history = await request(client, "letta/memoryHistory", {"uri": uri})
    assert [h["message"] for h in history][:1] == ["v2"]
    old = await read(client, history[-1]["uri"])
    assert old == first.text


async def test_commit_from_another_process_is_announced(client):
    repo = client.home.memory_repo(client.agent)
    await client.recorder.wait_for("letta/status")  # initialized: the watcher knows the head it compares with
    subprocess.run([sys.executable, "-m", "letta_ls", "--home", str(client.home.root), "memory", "backup"], check=True,
                   capture_output=True)
    commit_with_git(repo.path, "reference/cli.md", "---\ndescription: from git\n---\nhi\n")
    event = await client.recorder.wait_for("letta/memoryChanged", lambda p: "cli.md" in str(p.uris))
    assert event.uris == [uri_of(client, "reference/cli.md")]
    assert event.head == repo.head()


def commit_with_git(repo_path, path: str, text: str) -> None:
    """A commit made by ``git`` itself, in another process."""
    (repo_path / path).parent.mkdir(parents=True, exist_ok=True)
    (repo_path / path).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo_path, check=True)
    subprocess.run(["git", "-c", "user.name=x", "-c", "user.email=x@y", "commit", "-qm", "by git"], cwd=repo_path,
                   check=True)


async def test_own_save_is_not_announced_back(client):
    uri = uri_of(client, "system/human.md")
    first = await request(client, "letta/memoryRead", {"uri": uri})
    await request(client, "letta/memoryWrite", {"uri": uri, "text": first.text + "mine\n"})
    # a barrier: the watcher announces commits in order, so once git's commit is announced, ours would have been
    commit_with_git(client.home.memory_repo(client.agent).path, "reference/later.md", "---\ndescription: x\n---\n")
    await client.recorder.wait_for("letta/memoryChanged", lambda p: "later.md" in str(p.uris))
    announced = client.recorder.events["letta/memoryChanged"]
    assert [event.uris for event in announced] == [[uri_of(client, "reference/later.md")]]


@pytest.mark.parametrize(
    ("method", "params", "message", "kind"),
    [
        ("letta/memoryWrite", {"uri": "file:///etc/passwd", "text": "x"}, "unknown URI scheme", "invalid"),
        ("letta/memoryWrite", {"uri": "letta-memory://agent-x/../escape.md", "text": "x"}, "'..'", "invalid"),
        ("letta/memoryWrite", {"uri": "letta-memory-rev://agent-x/abcd/x.md", "text": "x"}, "read only", "read-only"),
        ("letta/memoryRead", {"uri": 42}, "must be str", "invalid"),
        ("letta/memoryRead", {}, "missing parameter 'uri'", "invalid"),
        ("letta/memoryHistory", {"uri": "letta-memory://agent-nope/x.md"}, "no agent", "not-found"),
        ("letta/memoryDelete", {"uri": "letta-memory://agent-x/../escape.md"}, "'..'", "invalid"),
        ("letta/memoryDelete", {"uri": "letta-memory-rev://agent-x/abcd/x.md"}, "read only", "read-only"),
        ("letta/memoryRename", {"uri": "letta-memory://agent-x/a.md"}, "missing parameter 'newUri'", "invalid"),
    ],
)
async def test_bad_requests_get_clear_errors(client, method, params, message, kind):
    with pytest.raises(JsonRpcException) as err:
        await request(client, method, params)
    assert message in err.value.message
    assert err.value.data["kind"] == kind


async def test_the_editor_deletes_and_renames_memory_files_as_commits_it_can_undo(client):
    repo = client.home.memory_repo(client.agent)
    for path in ("reference/tools/editor.md", "reference/tools/shell.md"):
        await request(client, "letta/memoryWrite", {"uri": uri_of(client, path),
                                                    "text": f"---\ndescription: {path}\n---\nx\n"})
    renamed = await request(client, "letta/memoryRename", {"uri": uri_of(client, "reference/tools"),
                                                           "newUri": uri_of(client, "reference/toolbox")})
    assert uri_of(client, "reference/toolbox/shell.md") in renamed.uris and renamed.commit == repo.head()
    snap = repo.snapshot()
    assert "reference/toolbox/editor.md" in snap and "reference/tools/editor.md" not in snap
    changed = await client.recorder.wait_for("letta/memoryChanged", lambda p: p.head == renamed.commit)
    assert uri_of(client, "reference/tools/editor.md") in changed.uris  # the explorer drops the old name

    deleted = await request(client, "letta/memoryDelete", {"uri": uri_of(client, "reference/toolbox/shell.md"),
                                                           "reason": "not needed"})
    assert "reference/toolbox/shell.md" not in repo.snapshot() and repo.history(limit=1)[0].message == "not needed"
    assert repo.read("reference/toolbox/shell.md", renamed.commit).text.endswith("x\n")  # history keeps it

    with pytest.raises(JsonRpcException, match="already exists"):
        await request(client, "letta/memoryRename", {"uri": uri_of(client, "reference/toolbox/editor.md"),
                                                     "newUri": uri_of(client, "system/human.md")})
    with pytest.raises(JsonRpcException, match="does not exist"):
        await request(client, "letta/memoryDelete", {"uri": uri_of(client, "reference/toolbox/shell.md")})
    assert repo.head() == deleted.commit  # refused requests commit nothing


async def test_renaming_in_the_editor_rewrites_the_links_to_the_file_in_the_same_commit(client):
    repo = client.home.memory_repo(client.agent)
    await request(client, "letta/memoryWrite", {"uri": uri_of(client, "reference/deploy.md"),
                                                "text": "---\ndescription: How we deploy\n---\nmake ship\n"})
    await request(client, "letta/memoryWrite", {"uri": uri_of(client, "system/index.md"),
                                                "text": "---\ndescription: Index\n---\nDeploying: [[reference/deploy]]"
                                                        " and [how](../reference/deploy.md)\n"})
    before = repo.head()
    renamed = await request(client, "letta/memoryRename", {"uri": uri_of(client, "reference/deploy.md"),
                                                           "newUri": uri_of(client, "reference/ops/deploy.md")})
    assert renamed.commit == repo.head() and repo.history(limit=2)[1].commit == before  # one commit
    index = await read(client, uri_of(client, "system/index.md"))
    assert "[[reference/ops/deploy]]" in index and "[how](../reference/ops/deploy.md)" in index
    changed = await client.recorder.wait_for("letta/memoryChanged", lambda p: p.head == renamed.commit)
    assert uri_of(client, "system/index.md") in changed.uris  # an open index reloads with the new link
