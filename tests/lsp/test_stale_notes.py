"""``memory-stale`` over LSP: notes checked against the editor's workspace folder, and kept current when the
workspace changes (``workspace/didRenameFiles``, ``workspace/didChangeWatchedFiles``)."""

from __future__ import annotations

import ast
import asyncio
import subprocess
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from tests.lsp.test_diagnostics import open_doc, wait_diagnostics
from tests.staleness.corpus import CHAINED, make_workspace

NOTE = "---\ndescription: Where things are\n---\nConfig: `src/config/settings.py`.\nEntry: `src/app/main.py`.\n"


@pytest.fixture
def lsp_workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ws") / "workspace"
    make_workspace(root)
    return root


def stale(diagnostics) -> dict[int, str]:
    return {d.range.start.line: d.message for d in diagnostics if d.code == "memory-stale"}


async def test_a_note_naming_a_renamed_file_is_flagged_and_follows_the_workspace(client, lsp_workspace):
    uri = f"letta-memory://{client.agent.id}/reference/where.md"
    await client.protocol.send_request_async("letta/memoryWrite", {"uri": uri, "text": NOTE})
    open_doc(client, uri, NOTE)
    found = await wait_diagnostics(client, uri, lambda d: 3 in stale(d))
    assert f"renamed to `{CHAINED[1]}`" in stale(found)[3] and 4 not in stale(found)
    # the editor was asked to report file changes, when it can take a dynamic registration
    caps = client_capabilities(client.client_name).workspace.did_change_watched_files
    if caps is not None and caps.dynamic_registration:
        assert [r.method for r in client.registrations] == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]

    # the user renames a file in the editor's explorer: the note that names it is flagged at once
    (lsp_workspace / "src/app/main.py").rename(lsp_workspace / "src/app/entry.py")
    client.workspace_did_rename_files(types.RenameFilesParams(files=[types.FileRename(
        old_uri=(lsp_workspace / "src/app/main.py").as_uri(), new_uri=(lsp_workspace / "src/app/entry.py").as_uri())]))
    found = await wait_diagnostics(client, uri, lambda d: 4 in stale(d))
    assert "renamed to `src/app/entry.py`" in stale(found)[4]
    # before the rename is even committed, the quick fix offers the new path
    diagnostic = next(d for d in found if d.code == "memory-stale" and d.range.start.line == 4)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    assert [a.title for a in actions][:2] == ["Replace with `src/app/entry.py`", "Remove this line from the note"]

    # a file appears where the note says (reported as a watched-file change): that warning goes
    (lsp_workspace / "src/config").mkdir(exist_ok=True)
    (lsp_workspace / "src/config/settings.py").write_text("")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[types.FileEvent(
        uri=(lsp_workspace / "src/config/settings.py").as_uri(), type=types.FileChangeType.Created)]))
    await wait_diagnostics(client, uri, lambda d: 3 not in stale(d) and 4 in stale(d))


async def test_committed_notes_are_checked_too_and_a_commit_in_the_workspace_reloads_history(client, lsp_workspace):
    uri = f"letta-memory://{client.agent.id}/reference/tests.md"
    text = "---\ndescription: Tests\n---\nRun `pytest tests/unit/test_api.py`.\n"
    await client.protocol.send_request_async("letta/memoryWrite", {"uri": uri, "text": text})
    await asyncio.sleep(0)
    (lsp_workspace / "tests/api").mkdir()
    subprocess.run(["git", "-C", str(lsp_workspace), "mv", "tests/unit/test_api.py", "tests/api/test_api.py"],
                   check=True, capture_output=True)
    subprocess.run(["git", "-C", str(lsp_workspace), "-c", "user.name=T", "-c", "user.email=t@x", "commit", "-qm",
                    "move api tests"], check=True, capture_output=True)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[types.FileEvent(
        uri=(lsp_workspace / ".git/HEAD").as_uri(), type=types.FileChangeType.Changed)]))
    # the server's own watch (Neovim) may first report the move's deletion alone ("does not exist"); once the
    # commit is read, the note names the commit's new path
    moved = "renamed to `tests/api/test_api.py`"
    await wait_diagnostics(client, uri, lambda d: moved in stale(d).get(3, ""), timeout=30)


async def test_an_editor_that_cannot_watch_files_gets_the_servers_own_watch(client, lsp_workspace):
    uri = f"letta-memory://{client.agent.id}/reference/docs.md"
    text = "---\ndescription: Docs\n---\nSetup is in `docs/setup.md`.\n"
    await client.protocol.send_request_async("letta/memoryWrite", {"uri": uri, "text": text})
    open_doc(client, uri, text)
    await wait_diagnostics(client, uri, lambda d: 3 in stale(d))
    if client.client_name == "visual-studio-code":
        # VS Code watches files for us once asked: it reports the change
        assert client.registrations
        (lsp_workspace / "docs/setup.md").write_text("# Setup\n")
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[types.FileEvent(
            uri=(lsp_workspace / "docs/setup.md").as_uri(), type=types.FileChangeType.Created)]))
    else:
        # Neovim on Linux does not: the server notices the new file on disk by itself
        assert not client.registrations
        for attempt in range(40):  # the watch starts once the workspace is read: write until it is seen
            (lsp_workspace / "docs/setup.md").write_text(f"# Setup {attempt}\n")
            try:
                await wait_diagnostics(client, uri, lambda d: 3 not in stale(d), timeout=0.5)
                break
            except AssertionError:
                continue
    await wait_diagnostics(client, uri, lambda d: 3 not in stale(d), timeout=20)


async def test_quick_fixes_replace_the_renamed_path_remove_the_line_or_open_the_file(client, lsp_workspace):
    uri = f"letta-memory://{client.agent.id}/reference/where.md"
    await client.protocol.send_request_async("letta/memoryWrite", {"uri": uri, "text": NOTE})
    open_doc(client, uri, NOTE)
    found = await wait_diagnostics(client, uri, lambda d: 3 in stale(d))
    diagnostic = next(d for d in found if d.code == "memory-stale" and d.range.start.line == 3)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    titles = [a.title for a in actions]
    assert titles == [f"Replace with `{CHAINED[1]}`", "Remove this line from the note", "Open defaults.py"]

    def command_of(action):
        """The command of a code action. lsprotocol's ``_code_action_hook`` reads any object with a ``command``
        key as a ``Command`` (so a CodeAction's command object arrives as its ``str``): undo that here."""
        inner = action.command
        if isinstance(inner, str) and inner.startswith("{"):  # read as a Command: its command is our object
            inner = ast.literal_eval(inner)
        if isinstance(inner, str):
            return action
        if isinstance(inner, dict):
            return types.Command(title=inner["title"], command=inner["command"], arguments=inner.get("arguments"))
        return inner

    opened = command_of(actions[2])
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=opened.command, arguments=opened.arguments))
    assert [d.uri for d in client.shown_documents] == [(lsp_workspace / CHAINED[1]).as_uri()]

    replace = command_of(actions[0])
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=replace.command, arguments=replace.arguments))
    repo = client.home.memory_repo(client.agent)
    assert result["commit"] == repo.head()
    text = repo.read("reference/where.md").text
    assert f"Config: `{CHAINED[1]}`." in text and "Entry: `src/app/main.py`." in text
