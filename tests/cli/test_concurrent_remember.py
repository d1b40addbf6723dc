"""issue 11.7: many ``letta-ls remember`` processes into the same file at once lose no text and all exit 0.

Real processes against a scripted model that answers nobody until every process has asked (a barrier),
so they all reach the "create or insert?" choice for ``system/remembered.md`` at the same moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from letta_ls.home import Home
from tests.fakes import Script, scripted_openai

PROCESSES = 8


def test_concurrent_remember_processes_keep_every_text(isolated_environment):
    home = isolated_environment
    Home(home).current_agent()  # the agent exists before the race (creating it is not what is tested)
    env = {**os.environ, "LETTA_LS_HOME": str(home)}
    for round_ in range(2):  # round 0 races on creating the file, round 1 on inserting into it
        barrier = threading.Barrier(PROCESSES)
        # the model answers without storing anything, so each process stores the words itself
        script = Script().on_request(lambda _request, barrier=barrier: barrier.wait(timeout=120))
        script = script.text("Noted.").repeat_last()
        batch = [f"remembered-fact-{i:02d} lives on shelf {chr(65 + i)} in round {round_}"
                 for i in range(PROCESSES)]
        with scripted_openai(script) as server:
            (home / "settings.json").write_text(json.dumps({"model": {"provider": "openai", "name": "gpt-test",
                                                                      "baseUrl": server.base_url}}))
            procs = [subprocess.Popen([sys.executable, "-m", "letta_ls", "remember", text], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for text in batch]
            results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        failures = [(code, out, err) for code, out, err in results if code != 0 or "Stored as" not in out]
        assert not failures, failures
        agent = Home(home).current_agent()
        stored = Home(home).memory_repo(agent).read("system/remembered.md").text
        missing = [t for t in batch if t not in stored]
        assert not missing, f"lost: {missing}"
    memory = Home(home).current_agent().memory_dir
    assert subprocess.run(["git", "fsck", "--no-progress"], cwd=memory, capture_output=True).returncode == 0
