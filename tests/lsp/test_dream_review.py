"""Dreams reviewed in the editor over LSP: the announcement, ``letta/dreamChanges``, ``letta.dreamAccept`` and
``letta.dreamReject`` (``sleeptime.merge: "review"``)."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.fakes import Script, scripted_openai
from tests.subagents.dreams_helpers import REPORT, lesson, memory_call

NEW_FILE = memory_call("create", "dream: note deploy day", file_path="team/deploys.md",
                       description="How the team deploys.", file_text="Deploys happen on Fridays.\n")


@pytest.fixture
def model():
    with scripted_openai(Script()) as server:
        yield server


async def run(client, command: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments)))


async def content(client, uri: str) -> str:
    result = await client.workspace_text_document_content_async(types.TextDocumentContentParams(uri=uri))
    return result.text


async def held_dream(client, model) -> str:
    """A review-mode dream that wrote a lesson and a new file; its run id."""
    client.feature("letta/dreamReview")(lambda params: client.recorder.record("letta/dreamReview", params))
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"letta": {
        "model": {"provider": "openai", "name": "gpt-test", "baseUrl": model.base_url},
        "sleeptime": {"merge": "review"}}}))
    await client.recorder.wait_for("letta/status", lambda s: s.model == "gpt-test")
    model.script.text("Hi Dana.")
    await run(client, "letta.chat", {"message": "Call me Dana."})
    model.script.tool_call("memory", lesson("- The user's name is Dana.")).tool_call("memory", NEW_FILE).text(REPORT)
    result = await run(client, "letta.dream")
    return result["pendingReview"]


async def test_a_held_dream_is_announced_listed_accepted_per_file_then_rejected(client, model):
    repo = client.home.memory_repo(client.agent)
    head = repo.head()
    run_id = await held_dream(client, model)
    assert run_id.startswith("dream-") and repo.head() == head
    assert "Dana" not in repo.read("system/human.md").text

    announced = await client.recorder.wait_for("letta/dreamReview", lambda p: p.runId == run_id)
    assert announced.changes == 2 and "review" in announced.message
    status = await client.recorder.wait_for("letta/status", lambda s: getattr(s, "reviews", None))
    assert [(r.runId, r.changes) for r in status.reviews] == [(run_id, 2)]

    listed = await client.protocol.send_request_async("letta/dreamChanges", {"runId": run_id})
    changes = {c.path: c for c in listed.changes}
    assert {p: c.kind for p, c in changes.items()} == {"system/human.md": "modified", "team/deploys.md": "added"}
    human = changes["system/human.md"]
    assert human.reason.startswith("dream: remember") and changes["team/deploys.md"].reason == "dream: note deploy day"
    assert human.beforeUri.startswith(f"letta-memory-rev://{client.agent.id}/{head}/")
    assert "Dana" not in await content(client, human.beforeUri)
    assert "- The user's name is Dana." in await content(client, human.afterUri)
    assert changes["team/deploys.md"].beforeUri is None
    assert "Fridays" in await content(client, changes["team/deploys.md"].afterUri)

    accepted = await run(client, "letta.dreamAccept", {"runId": run_id, "paths": ["system/human.md"]})
    assert accepted["accepted"] == ["system/human.md"] and accepted["head"] == repo.head() != head
    assert "- The user's name is Dana." in repo.read("system/human.md").text
    assert "team/deploys.md" not in repo.snapshot()
    changed = await client.recorder.wait_for("letta/memoryChanged", lambda p: p.head == repo.head())
    assert changed.uris == [f"letta-memory://{client.agent.id}/system/human.md"]
    left = await client.protocol.send_request_async("letta/dreamChanges", {"runId": run_id})
    assert [c.path for c in left.changes] == ["team/deploys.md"]
    await client.recorder.wait_for("letta/status", lambda s: [r.changes for r in (s.reviews or [])] == [1])

    rejected = await run(client, "letta.dreamReject", {"runId": run_id})
    assert rejected["rejected"] == ["team/deploys.md"] and "team/deploys.md" not in repo.snapshot()
    await client.recorder.wait_for("letta/status", lambda s: s.reviews == [])
    assert (await client.protocol.send_request_async("letta/dreamChanges", {"runId": run_id})).changes == []


async def test_review_requests_with_a_wrong_run_or_path_fail_with_a_reason(client, model):
    run_id = await held_dream(client, model)
    with pytest.raises(JsonRpcException, match=r"no dream run"):
        await client.protocol.send_request_async("letta/dreamChanges", {"runId": "dream-20990101-000000-deadbeef"})
    with pytest.raises(JsonRpcException, match=r"runId"):
        await client.protocol.send_request_async("letta/dreamChanges", {})
    with pytest.raises(JsonRpcException, match=r"nowhere\.md"):
        await run(client, "letta.dreamAccept", {"runId": run_id, "paths": ["nowhere.md"]})
    with pytest.raises(JsonRpcException, match=r"paths"):
        await run(client, "letta.dreamReject", {"runId": run_id, "paths": "system/human.md"})
    listed = await client.protocol.send_request_async("letta/dreamChanges", {"runId": run_id})
    assert len(listed.changes) == 2  # nothing was decided by the failed requests
