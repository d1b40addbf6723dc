"""A dream held for review in a real VS Code (code-server + headless Chromium + the packaged extension).

``tests/editors/vscode/review.mjs`` runs the dream from the palette (``sleeptime.merge: "review"``), opens
the review from its notification (the multi-file diff editor), finds it in the status bar menu and the
Memory view, accepts one file and rejects the other; this test prepares the conversation and the scripted
model, and checks afterwards what git holds. Screenshots: ``test-artifacts/vscode/dream-review/``.
"""

from __future__ import annotations

import pytest

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
from letta_ls.home import Home
from letta_ls.subagents.dream_review import REVIEW_REF_PREFIX, DreamReviews
from tests.editors.test_vscode import API_KEY, API_KEY_ENV, clean_environment, fresh_shots, make_workspace
from tests.editors.vscode_harness import ARTIFACTS, Toolchain, VSCodeSession, build_extension, set_up_editor
from tests.fakes import Script, scripted_openai

COLD_SETUP_TIMEOUT = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def toolchain() -> Toolchain:
    return set_up_editor(build_extension())


@COLD_SETUP_TIMEOUT
def test_a_dream_is_reviewed_in_vscode_accepting_one_file_and_rejecting_the_other(toolchain: Toolchain,
                                                                                   tmp_path) -> None:
    home = Home(tmp_path / "home")
    agent = home.current_agent()
    ConversationStore(agent.conversations_dir).append("default", [
        Message("user", "Call me Dana. We deploy on Fridays."), Message("assistant", "Noted, Dana.")])
    script = Script().tool_call("memory", {
        "command": "insert", "file_path": "system/human.md", "insert_line": 1000,
        "insert_text": "- The user's name is Dana.", "reason": "dream: the user's name",
    }).tool_call("memory", {
        "command": "create", "file_path": "team/deploys.md", "description": "How the team deploys.",
        "file_text": "Deploys happen on Fridays.\n", "reason": "dream: the deploy day",
    }).text("## Summary\nLearned the user's name and the deploy day.")
    repo = home.memory_repo(agent)
    head = repo.head()
    with scripted_openai(script) as model:
        session = VSCodeSession(toolchain, tmp_path, workspace=make_workspace(tmp_path, venv=True),
                                shots=fresh_shots(ARTIFACTS / "dream-review"),
                                settings={
                                    "letta.home": str(tmp_path / "home"),
                                    "letta.model.provider": "openai",
                                    "letta.model.name": "gpt-e2e",
                                    "letta.model.baseUrl": model.base_url,
                                    "letta.model.apiKeyEnv": API_KEY_ENV,
                                    "letta.sleeptime.merge": "review",
                                    "letta.sleeptime.trigger": "off",
                                },
                                env=clean_environment(**{API_KEY_ENV: API_KEY}))
        session.drive("review", driver="review.mjs", memoryDir=str(agent.memory_dir), agentName=agent.name)

    assert "- The user's name is Dana." in repo.read("system/human.md").text
    assert "team/deploys.md" not in repo.snapshot()
    log = [entry.message for entry in repo.history(limit=5)]
    assert log[0].startswith("merge(dream): accept 1 change(s) of dream-") and "system/human.md" in log[0]
    reviews = DreamReviews.for_agent(repo, agent)
    [run] = reviews.runs()
    assert reviews.decisions(run) == {"system/human.md": "accepted", "team/deploys.md": "rejected"}
    assert reviews.pending() == [] and repo.run_git("rev-parse", REVIEW_REF_PREFIX + run).strip()
    shots = sorted(p.name for p in (ARTIFACTS / "dream-review").glob("*.png"))
    assert len(shots) >= 7 and "failure.png" not in shots, shots
