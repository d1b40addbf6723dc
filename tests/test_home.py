import json
import subprocess
import sys

import pytest

from letta_ls.config_problems import ConfigurationProblem
from letta_ls.home import AgentError, Home
from letta_ls.memfs.presets import UnknownPresetError


def test_first_start_creates_the_default_agent_with_seeded_memory(isolated_environment):
    home = Home()
    agent = home.current_agent()
    assert agent.name == "Letta Code" and agent.id.startswith("agent-")
    repo = home.memory_repo(agent)
    assert {"system/persona.md", "system/human.md"} <= set(repo.snapshot().files)
    entry = repo.history()[-1]
    assert (entry.author, entry.email) == ("Letta Code", f"{agent.id}@letta-ls.local")
    meta = json.loads((isolated_environment / "agents" / agent.id / "agent.json").read_text())
    assert meta["name"] == "Letta Code" and meta["created"]
    for sub in ("conversations", "backups", "memory-worktrees"):
        assert (agent.dir / sub).is_dir()
    assert home.current_agent().id == agent.id  # resumes, does not create another


def test_create_from_preset_switch_and_resume_last_used():
    home = Home()
    first = home.current_agent()
    tutor = home.create_agent("Teacher", "tutor")
    assert "system/onboarding.md" in home.memory_repo(tutor).snapshot()
    home.use_agent("teacher")
    assert Home().current_agent().id == tutor.id
    home.use_agent(first.id)
    assert Home().current_agent().id == first.id


def test_pins_are_stored_and_listed():
    home = Home()
    agent = home.create_agent("Pinned One")
    home.set_pinned("Pinned One", True)
    assert home.pinned() == [agent.id]
    home.set_pinned(agent.id, False)
    assert home.pinned() == []


def test_names_are_unique_and_errors_list_what_exists():
    home = Home()
    home.create_agent("Ada")
    with pytest.raises(AgentError, match="already exists"):
        home.create_agent("ada")
    with pytest.raises(AgentError, match="Ada"):
        home.find_agent("Nobody")
    with pytest.raises(UnknownPresetError, match="default"):
        home.create_agent("Bob", "no-such-preset")


def test_corrupt_settings_json_is_a_clear_error(isolated_environment):
    (isolated_environment / "settings.json").write_text("{not json")
    with pytest.raises(ConfigurationProblem, match="not valid JSON") as raised:
        Home().current_agent()
    assert raised.value.problem == "settings-invalid" and raised.value.path == isolated_environment / "settings.json"
    assert not (isolated_environment / "agents").exists()  # no agent created because the settings are unreadable


def test_a_corrupt_settings_json_is_never_overwritten(isolated_environment):
    home = Home()
    agent = home.current_agent()
    home.settings_path.write_text("{not json")
    with pytest.raises(ConfigurationProblem):
        home.use_agent(agent.id)
    with pytest.raises(ConfigurationProblem):
        home.set_pinned(agent.id, True)
    assert home.settings_path.read_text() == "{not json"
    assert home.current_agent().id == agent.id  # still resumable: the most recently used agent


def test_one_broken_agent_json_leaves_the_others_usable(isolated_environment):
    home = Home()
    first = home.current_agent()
    second = home.create_agent("Second")
    (second.dir / "agent.json").write_text('{"model": "gpt-4.1"}')
    agents, broken = home.scan_agents()
    assert [a.id for a in agents] == [first.id]
    assert [p.path for p in broken] == [second.dir / "agent.json"] and "'model' must be an object" in str(broken[0])
    assert home.current_agent().id == first.id
    with pytest.raises(ConfigurationProblem, match="'model' must be an object"):
        home.find_agent(second.id)
    home.update_settings(lastAgent=second.id)
    with pytest.raises(ConfigurationProblem, match=r"agent\.json"):  # the agent in use: never a silent switch
        home.current_agent()


def test_two_processes_starting_at_once_make_one_default_agent():
    code = "from letta_ls.home import Home; print(Home().current_agent().id)"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    ids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(ids) == 1 and len(Home().list_agents()) == 1
