"""Diagnostics are pushed, debounced, versioned, right in UTF-16 and UTF-8, for open and unopened files."""

import asyncio

from lsprotocol import types

from letta_ls.memfs.repo import Author


async def wait_diagnostics(client, uri: str, predicate=lambda d: True, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = client.diagnostics.get(uri)
        if found is not None and predicate(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no matching diagnostics for {uri}: {client.diagnostics.get(uri)}")


async def published(client, uri: str, version: int) -> types.PublishDiagnosticsParams:
    """The publish for ``version`` of the open document ``uri`` (each publish is recorded, in order)."""
    return await client.recorder.wait_for(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
                                          lambda p: p.uri == uri and p.version == version)


def published_versions(client, uri: str) -> list[int | None]:
    return [p.version for p in client.recorder.events.get(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, []) if p.uri == uri]


def change_doc(client, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def open_doc(client, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=version, text=text)))


async def test_open_buffer_gets_versioned_diagnostics_with_client_positions(client):
    uri = f"letta-memory://{client.agent.id}/reference/links.md"
    text = "---\ndescription: links\n---\nCafé ☕ 😀 see [[reference/missing]] now\n"
    open_doc(client, uri, text, version=3)
    found = (await published(client, uri, version=3)).diagnostics
    diag = next(x for x in found if x.code == "link-broken")
    assert diag.source == "letta" and diag.range.start.line == 3
    prefix = "Café ☕ 😀 see "
    expected = len(prefix.encode("utf-8")) if client.client_name == "neovim" else len(prefix.encode("utf-16-le")) // 2
    assert diag.range.start.character == expected


async def test_edits_are_debounced_and_the_last_version_wins(client):
    uri = f"letta-memory://{client.agent.id}/reference/draft.md"
    open_doc(client, uri, "---\ndescription: draft\n---\nfine\n")
    assert not (await published(client, uri, version=1)).diagnostics
    for version in range(2, 12):
        change_doc(client, uri, version, "no frontmatter at all\n" if version < 11 else
                   "---\ndescription: draft\n---\nfine again\n")
    assert not (await published(client, uri, version=11)).diagnostics
    change_doc(client, uri, 12, "broken again\n")  # a barrier: anything still due for 2..11 has come by now
    assert any(d.code == "frontmatter-missing" for d in (await published(client, uri, version=12)).diagnostics)
    versions = published_versions(client, uri)
    assert versions == sorted(versions), f"a stale check was published after a newer one: {versions}"
    # at most one broken version in between: the startup audit may recheck open buffers once, mid-burst
    assert len(set(versions) & set(range(2, 11))) <= 1, f"the edits were not debounced: {versions}"


async def test_unopened_committed_files_get_diagnostics_after_a_commit(client):
    repo = client.home.memory_repo(client.agent)
    await client.recorder.wait_for("letta/status")  # initialized: the head the watcher compares with is read
    repo.commit({"notes/bare.md": b"just text, no frontmatter\n"}, "agent note", Author("a", "a@x"))
    uri = f"letta-memory://{client.agent.id}/notes/bare.md"
    found = await wait_diagnostics(client, uri, lambda d: any(x.code == "frontmatter-missing" for x in d))
    assert found[0].severity == types.DiagnosticSeverity.Warning  # Letta Code accepts it outside system/ and reference/
    repo.commit({"notes/bare.md": b"---\ndescription: fixed\n---\ntext\n"}, "fix", Author("a", "a@x"))
    await wait_diagnostics(client, uri, lambda d: len(d) == 0)


async def test_diagnostic_settings_regrade_and_silence_codes(client):
    uri = f"letta-memory://{client.agent.id}/reference/x.md"
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"letta": {"memory": {"diagnostics": {"link-broken": "error", "frontmatter-missing": "off"}}}}))
    open_doc(client, uri, "[[nowhere]]\n")
    # the new settings reach open buffers too (a settings change rechecks them): wait for that, not for a time
    found = await wait_diagnostics(client, uri, lambda d: {x.code for x in d} == {"link-broken"})
    assert found[0].severity == types.DiagnosticSeverity.Error


async def test_switching_agents_replaces_the_problems_of_the_old_agent_with_the_new_ones(client):
    first = client.agent
    repo = client.home.memory_repo(first)
    repo.commit({"notes/bare.md": b"just text, no frontmatter\n"}, "agent note", Author("a", "a@x"))
    old_uri = f"letta-memory://{first.id}/notes/bare.md"
    await wait_diagnostics(client, old_uri, lambda d: any(x.code == "frontmatter-missing" for x in d))
    created = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="letta.createAgent", arguments=[{"name": "Bea"}]))
    second = client.home.find_agent(created["agentId"])
    client.home.memory_repo(second).commit({"notes/loose.md": b"no frontmatter either\n"}, "note", Author("a", "a@x"))
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="letta.switchAgent", arguments=[{"name": "Bea"}]))
    new_uri = f"letta-memory://{second.id}/notes/loose.md"
    await wait_diagnostics(client, new_uri, lambda d: any(x.code == "frontmatter-missing" for x in d))
    await wait_diagnostics(client, old_uri, lambda d: len(d) == 0)
