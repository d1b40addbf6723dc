"""No request waits on background work (issue 14) for dreams, defrags and syncs, not only audits.

Each test starts the long job over LSP and holds it provably mid-way: the dream's and the defrag's model
reply is held back by the scripted model server (after the run already committed in its own worktree),
and the sync's "network" is an ssh transport that waits on a file before it lets git talk to the remote.
While the job is held, a read (``workspace/textDocumentContent``), a save (``letta/memoryWrite``), the
tree and the history must each be answered within a few seconds with the job still pending; once the job
is released it must finish, and both the save made meanwhile and the job's own result are in memory.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from letta_ls.home import Home
from tests.fakes import Reply, Script, scripted_openai
from tests.lsp.conftest import accept_registrations, server_env, start_server, stop_server
from tests.subagents.dreams_helpers import REPORT, lesson, memory_call
from tests.sync.remotes import Machine, bare_repository, remote_main
from tests.sync.slow_network import slow_env, slow_network, ssh_url

# one client profile is enough: what is measured is the server's request path, not the transport
one_client = pytest.mark.parametrize("client", [("visual-studio-code", "stdio")], indirect=True,
                                     ids=["visual-studio-code-stdio"])

ANSWER_WITHIN = 5.0  # seconds; the requests themselves take milliseconds
HOLD_AT_MOST = 120.0  # a held reply gives up after this, so a failing test never hangs the run
SAVED = "---\ndescription: Written while a job ran\n---\nSaved while the long job was held.\n"


class HeldReply:
    """A scripted model reply that is not sent until the test calls ``release()``; ``arrived`` is set as
    soon as the model request reaches the fake server (the run is then provably inside its model call)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.arrived = threading.Event()
        self.released = threading.Event()

    def __call__(self, _request) -> Reply:
        self.arrived.set()
        self.released.wait(HOLD_AT_MOST)
        return self.reply

    def release(self) -> None:
        self.released.set()


async def run(client, command: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))


async def use_model(client, base_url: str) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"letta": {"model": {
        "provider": "openai", "name": "gpt-test", "baseUrl": base_url}}}))
    await client.recorder.wait_for("letta/status", lambda s: s.model == "gpt-test")


def uri_of(client, path: str) -> str:
    return f"letta-memory://{client.agent.id}/{path}"


async def answered(request, what: str):
    """``request``'s answer, which must come within ``ANSWER_WITHIN`` seconds."""
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(request, ANSWER_WITHIN)
    except TimeoutError:
        raise AssertionError(f"{what} got no answer within {ANSWER_WITHIN:g} s while the job ran") from None
    return result, time.monotonic() - started


async def requests_are_answered_while(client, job: asyncio.Task, *, read: str, save: str, text: str = SAVED) -> str:
    """Read ``read``, save ``text`` to ``save``, ask for the tree and the save's history while ``job`` runs;
    every answer comes promptly and ``job`` is still pending after the last one. Returns the save's commit."""
    content, _ = await answered(client.workspace_text_document_content_async(
        types.TextDocumentContentParams(uri=uri_of(client, read))), "workspace/textDocumentContent")
    assert content.text.startswith("---"), content.text
    saved, _ = await answered(client.protocol.send_request_async(
        "letta/memoryWrite", {"uri": uri_of(client, save), "text": text}), "letta/memoryWrite")
    assert saved.commit, "the save made no commit"
    tree, _ = await answered(client.protocol.send_request_async("letta/memoryTree", {}), "letta/memoryTree")
    assert tree.head == saved.commit and save in [entry.path for entry in tree.entries]
    history, _ = await answered(client.protocol.send_request_async(
        "letta/memoryHistory", {"uri": uri_of(client, save)}), "letta/memoryHistory")
    assert [entry["commit"] for entry in history][:1] == [saved.commit]
    assert not job.done(), "the job finished before the requests: nothing shows they did not wait for it"
    return saved.commit


def forget_on_failure(job: asyncio.Task) -> None:
    """A test that fails while its job runs drops the job (its error would otherwise be logged unretrieved)."""
    job.add_done_callback(lambda task: task.cancelled() or task.exception())


# ---------------------------------------------------------------------------------------------- dream
@pytest.fixture
def model():
    with scripted_openai(Script()) as server:
        yield server


async def own_server(home: Home, env: dict[str, str]):
    """A letta-ls process the test shuts down itself (the ``client`` fixture shuts its own down)."""
    client = make_test_lsp_client()
    accept_registrations(client)
    await start_server(client, "stdio", env)
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"), initialization_options={"home": str(home.root)},
            workspace_folders=[types.WorkspaceFolder(uri=home.root.as_uri(), name="ws")]))
    except BaseException:
        await stop_server(client)
        raise
    return client


async def editor_closes(client, within: float = 20.0) -> None:
    """``shutdown`` is answered (no error) and, after ``exit``, the server is gone with code 0, all ``within``
    seconds."""
    started = time.monotonic()
    await asyncio.wait_for(client.shutdown_async(None), within)  # raises if the shutdown failed
    client.exit(None)
    try:
        code = await asyncio.wait_for(client._server.wait(), max(0.1, within - (time.monotonic() - started)))
    except TimeoutError:
        raise AssertionError(f"the server was still running {within:g} s after shutdown and exit") from None
    assert code == 0


@one_client
async def test_reads_saves_tree_and_history_are_answered_while_a_dream_runs(client, model):
    """The save edits the very file the dream is writing its lesson into: both land."""
    await use_model(client, model.base_url)
    model.script.text("Sure, pnpm from now on.")
    await run(client, "letta.chat", {"message": "Use pnpm, never npm."})
    repo = client.home.memory_repo(client.agent)
    human = repo.read("system/human.md").text
    edited = human.replace("I haven't met the user yet.", "The user is Dana, who builds the payments service.")
    assert edited != human
    held = HeldReply(Reply(text=REPORT))
    model.script.tool_call("memory", lesson()).respond(held)  # the lesson is committed, then the report waits
    dream = asyncio.create_task(run(client, "letta.dream", {}))
    forget_on_failure(dream)
    try:
        assert await asyncio.to_thread(held.arrived.wait, 60), "the dream never asked the model for its report"
        saved = await requests_are_answered_while(client, dream, read="system/persona.md", save="system/human.md",
                                                  text=edited)
    finally:
        held.release()
    result = await asyncio.wait_for(dream, 60)

    assert result["commits"] and result["commits"][-1] == repo.head()
    merged = repo.read("system/human.md").text
    assert "The user is Dana, who builds the payments service." in merged  # the save made during the dream
    assert "- Uses pnpm, never npm." in merged  # and the dream's lesson, in the same file
    assert "I haven't met the user yet." not in merged and "<<<<<<<" not in merged
    assert repo.run_git_status("merge-base", "--is-ancestor", saved, repo.head())[0] == 0


@one_client
async def test_requests_are_answered_while_a_dreams_merge_asks_the_model_to_resolve_a_conflict(client, model):
    """The merge's own model call (a same-lines conflict between the dream and a save) holds no lock either: a
    save made while the model resolves is answered, and the merge lands on top of it with the resolution."""
    await use_model(client, model.base_url)
    model.script.text("Sure, pnpm from now on.")
    await run(client, "letta.chat", {"message": "Use pnpm, never npm."})
    repo = client.home.memory_repo(client.agent)
    human = repo.read("system/human.md").text
    resolved = human + "- Uses pnpm, never npm.\n- Prefers tabs.\n"
    report, resolution = HeldReply(Reply(text=REPORT)), HeldReply(Reply(text=resolved))
    model.script.tool_call("memory", lesson()).respond(report).respond(resolution)
    dream = asyncio.create_task(run(client, "letta.dream", {}))
    forget_on_failure(dream)
    try:
        assert await asyncio.to_thread(report.arrived.wait, 60), "the dream never asked the model for its report"
        await client.protocol.send_request_async("letta/memoryWrite", {  # the same last line as the lesson's
            "uri": uri_of(client, "system/human.md"), "text": human + "- Prefers tabs.\n"})
        report.release()
        assert await asyncio.to_thread(resolution.arrived.wait, 60), "the merge never asked the model to resolve"
        saved = await requests_are_answered_while(client, dream, read="system/human.md",
                                                  save="reference/meanwhile.md")
    finally:
        report.release()
        resolution.release()
    result = await asyncio.wait_for(dream, 60)

    assert result["commits"] and repo.read("system/human.md").text == resolved  # the model's resolution
    assert repo.read("reference/meanwhile.md").text == SAVED  # and the save made while it resolved
    assert repo.run_git_status("merge-base", "--is-ancestor", saved, repo.head())[0] == 0


async def test_closing_the_editor_while_a_dream_runs_shuts_down_cleanly_and_keeps_the_lesson(tmp_path, model):
    """``shutdown`` while ``letta.dream`` is still pending: the dream is stopped, what it committed is merged,
    and the shutdown is answered (pygls cancelled the pending command while iterating over the pending
    requests, failed the shutdown with "dictionary changed size during iteration" and exited with code 1)."""
    home = Home(tmp_path / "home")
    agent = home.current_agent()
    (home.root / "settings.json").write_text(json.dumps({"model": {"provider": "openai", "name": "gpt-test",
                                                                   "baseUrl": model.base_url}}))
    client = await own_server(home, server_env(home.root))
    held = HeldReply(Reply(text=REPORT))
    try:
        model.script.text("Sure, pnpm from now on.").tool_call("memory", lesson()).respond(held)
        await run(client, "letta.chat", {"message": "Use pnpm, never npm."})
        dream = asyncio.create_task(run(client, "letta.dream", {}))
        forget_on_failure(dream)
        assert await asyncio.to_thread(held.arrived.wait, 60), "the dream never asked the model for its report"
        await editor_closes(client)
    finally:
        held.release()
        await stop_server(client)
    assert "- Uses pnpm, never npm." in home.memory_repo(agent).read("system/human.md").text


# ---------------------------------------------------------------------------------------------- defrag
TOOLS = "---\ndescription: Tools we use\n---\nEditor: neovim.\nShell: zsh.\nOS: linux.\n"


@one_client
async def test_reads_saves_tree_and_history_are_answered_while_a_defrag_runs(client, model):
    """The save edits the very file the defrag is moving: the edit follows the file to its new place."""
    await use_model(client, model.base_url)
    repo = client.home.memory_repo(client.agent)
    await client.protocol.send_request_async("letta/memoryWrite", {"uri": uri_of(client, "reference/tools.md"),
                                                                   "text": TOOLS})
    before = repo.head()
    held = HeldReply(Reply(text="## Summary\nMoved the tools into a folder."))
    model.script.tool_call("memory", memory_call("rename", "defrag: tools into a folder",
                                                 old_path="reference/tools.md", new_path="reference/tools/overview.md"))
    model.script.respond(held)
    defrag = asyncio.create_task(run(client, "letta.defrag", {}))
    forget_on_failure(defrag)
    try:
        assert await asyncio.to_thread(held.arrived.wait, 60), "the defrag never asked the model for its report"
        saved = await requests_are_answered_while(client, defrag, read="system/human.md", save="reference/tools.md",
                                                  text=TOOLS.replace("neovim", "helix"))
    finally:
        held.release()
    result = await asyncio.wait_for(defrag, 60)

    after = repo.snapshot()
    assert "reference/tools.md" not in after  # the restructure landed
    assert repo.read("reference/tools/overview.md").text == TOOLS.replace("neovim", "helix")  # with the save in it
    assert repo.run_git_status("merge-base", "--is-ancestor", saved, after.head)[0] == 0
    assert result["backup"].startswith("refs/letta-backup/defrag-")
    assert repo.rev_parse(result["backup"]) == before  # the backup is memory as it was before the defrag


@one_client
async def test_a_save_is_answered_while_a_defrag_writes_its_backup(client, model, slow_network_dir):
    """The defrag's backup bundles all of memory (a second or more on a big one) before the run starts; a
    save waited for the bundle because it was written under the memory's writer lock."""
    await use_model(client, model.base_url)
    repo = client.home.memory_repo(client.agent)
    before = repo.head()
    model.script.text("## Summary\nNothing needed reorganising.")
    (slow_network_dir / "hold-bundle").touch()
    defrag = asyncio.create_task(run(client, "letta.defrag", {}))
    forget_on_failure(defrag)
    try:
        for _ in range(600):
            if (slow_network_dir / "bundling").exists():
                break
            await asyncio.sleep(0.05)
        assert (slow_network_dir / "bundling").exists(), "the defrag never started its backup"
        saved = await requests_are_answered_while(client, defrag, read="system/human.md",
                                                  save="reference/meanwhile.md")
    finally:
        (slow_network_dir / "hold-bundle").unlink(missing_ok=True)
    result = await asyncio.wait_for(defrag, 60)

    assert repo.read("reference/meanwhile.md").text == SAVED and saved == repo.head()
    assert repo.rev_parse(result["backup"]) == before  # the backup is memory as the defrag found it
    bundle = client.agent.backups_dir / f"{result['backup'].rsplit('/', 1)[-1]}.bundle"
    assert repo.run_git_status("bundle", "verify", "-q", str(bundle))[0] == 0


# ---------------------------------------------------------------------------------------------- sync
@pytest.fixture
def slow_network_dir(tmp_path_factory) -> Path:
    return slow_network(tmp_path_factory.mktemp("slow-network"))


@pytest.fixture
def lsp_env(lsp_home: Path, slow_network_dir: Path) -> dict[str, str]:
    return slow_env(server_env(lsp_home), slow_network_dir)


@one_client
async def test_reads_saves_tree_and_history_are_answered_while_a_sync_waits_on_the_network(client, tmp_path,
                                                                                           slow_network_dir):
    bare = bare_repository(tmp_path / "remotes" / "memory.git")
    laptop = Machine(tmp_path / "laptop", str(bare))
    laptop.write("reference/laptop.md", "---\ndescription: Learned on the laptop\n---\nFirst lesson.\n")
    await asyncio.to_thread(laptop.sync)
    url = ssh_url(bare)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"letta": {"sync": {"remote": url}}}))
    await client.recorder.wait_for("letta/status", lambda s: s.sync.remote == url)
    first = await run(client, "letta.sync", {})  # histories meet (unheld): later syncs are ordinary ones
    assert first["pulled"] >= 1 and (slow_network_dir / "started").exists()
    await asyncio.to_thread(laptop.sync)
    arrived = laptop.write("reference/later.md", "---\ndescription: Learned later\n---\nSecond lesson.\n")
    await asyncio.to_thread(laptop.sync)

    (slow_network_dir / "started").unlink()
    (slow_network_dir / "hold").touch()
    sync = asyncio.create_task(run(client, "letta.sync", {}))
    forget_on_failure(sync)
    try:
        for _ in range(600):
            if (slow_network_dir / "started").exists():
                break
            await asyncio.sleep(0.05)
        assert (slow_network_dir / "started").exists(), "the sync never reached the network"
        saved = await requests_are_answered_while(client, sync, read="reference/laptop.md",
                                                  save="reference/meanwhile.md")
    finally:
        (slow_network_dir / "hold").unlink(missing_ok=True)
    result = await asyncio.wait_for(sync, 60)

    repo = client.home.memory_repo(client.agent)
    assert result["pulled"] == 1 and result["pushed"] >= 1 and result["conflicts"] == []
    assert repo.read("reference/later.md").text.endswith("Second lesson.\n")  # the pulled commit landed
    assert repo.read("reference/meanwhile.md").text == SAVED  # the save made during the sync is kept
    head = repo.head()
    for commit in (saved, arrived):
        assert repo.run_git_status("merge-base", "--is-ancestor", commit, head)[0] == 0
    assert remote_main(bare) == head  # and it was pushed: the save reached the remote
    back = await asyncio.to_thread(laptop.sync)
    assert back.pulled >= 1 and laptop.text("reference/meanwhile.md") == SAVED


async def test_closing_the_editor_while_a_sync_waits_on_the_network_exits_at_once(tmp_path, slow_network_dir):
    """The sync's git waits on the network in a thread: unless it is stopped, the server process cannot exit
    until the network answers or git times out (two minutes), and the editor is left with a server it must kill."""
    bare = bare_repository(tmp_path / "remotes" / "memory.git")
    home = Home(tmp_path / "home")
    agent = home.current_agent()
    head = home.memory_repo(agent).head()
    (home.root / "settings.json").write_text(json.dumps({"sync": {"remote": ssh_url(bare)}}))
    (slow_network_dir / "hold").touch()
    client = await own_server(home, slow_env(server_env(home.root), slow_network_dir))
    try:
        sync = asyncio.create_task(run(client, "letta.sync", {}))
        forget_on_failure(sync)
        for _ in range(600):
            if (slow_network_dir / "started").exists():
                break
            await asyncio.sleep(0.05)
        assert (slow_network_dir / "started").exists(), "the sync never reached the network"
        await editor_closes(client)
    finally:
        (slow_network_dir / "hold").unlink(missing_ok=True)
        await stop_server(client)
    assert home.memory_repo(agent).head() == head and remote_main(bare) is None  # nothing half-done
