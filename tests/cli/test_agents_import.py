"""`letta-ls agents import PATH`: a Letta Code agent's memory becomes a letta-ls agent, history kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from letta_ls.home import Home

GIT = {"GIT_AUTHOR_NAME": "Letta Code", "GIT_AUTHOR_EMAIL": "agent-1@letta.com",
       "GIT_COMMITTER_NAME": "Letta Code", "GIT_COMMITTER_EMAIL": "agent-1@letta.com"}


def letta_ls(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ), check=False)


def letta_code_memory(root: Path, agent_id: str = "agent-0123abcd") -> Path:
    """A memory as Letta Code's local backend keeps it, with two commits of history."""
    memory = root / ".letta" / "lc-local-backend" / "memfs" / agent_id / "memory"
    memory.mkdir(parents=True)
    env = {**os.environ, **GIT}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=memory, check=True, env=env)
    (memory / "system").mkdir()
    (memory / "system" / "persona.md").write_text("---\ndescription: Who I am\n---\nA helpful agent.\n")
    subprocess.run(["git", "add", "-A"], cwd=memory, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=memory, check=True, env=env)
    (memory / "system" / "human.md").write_text("---\ndescription: Tooling: package manager\n---\nUses pnpm.\n")
    subprocess.run(["git", "add", "-A"], cwd=memory, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "learned pnpm"], cwd=memory, check=True, env=env)
    return memory


def test_import_a_letta_code_memory_keeps_its_history_name_and_origin(tmp_path, isolated_environment):
    memory = letta_code_memory(tmp_path)
    done = letta_ls("agents", "import", str(memory), "--name", "from-letta-code")
    assert done.returncode == 0, done.stderr
    [agent] = [a for a in Home().list_agents() if a.name == "from-letta-code"]
    log = subprocess.run(["git", "log", "--format=%s", "main"], cwd=agent.memory_dir, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert log == ["learned pnpm", "init"]  # a clone: Letta Code's history is kept
    assert "agent-0123abcd" in agent.description and str(memory) in agent.description
    assert (agent.memory_dir / "system" / "human.md").read_text().startswith("---\ndescription: Tooling")
    doctor = letta_ls("doctor", str(agent.memory_dir), "--format", "json")
    assert doctor.returncode == 0, doctor.stdout
    assert all(f["severity"] != "error" for f in json.loads(doctor.stdout)["findings"])


def test_import_finds_the_agents_of_a_letta_code_install(tmp_path, isolated_environment):
    letta_code_memory(tmp_path, "agent-aaaa")
    letta_code_memory(tmp_path, "agent-bbbb")
    done = letta_ls("agents", "import", str(tmp_path / ".letta"))
    assert done.returncode == 0, done.stderr
    names = sorted(a.name for a in Home().list_agents())
    assert names == ["agent-aaaa", "agent-bbbb"]


def test_a_failed_import_leaves_nothing_half_made(tmp_path, isolated_environment):
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    (not_a_repo / "x.md").write_text("x\n")
    before = sorted(p.name for p in (isolated_environment / "agents").iterdir()) if (
        isolated_environment / "agents").exists() else []
    done = letta_ls("agents", "import", str(not_a_repo))
    assert done.returncode == 2 and "not a Letta Code memory" in done.stderr
    after = sorted(p.name for p in (isolated_environment / "agents").iterdir()) if (
        isolated_environment / "agents").exists() else []
    assert after == before


def test_an_imported_memfs_v2_memory_shows_its_tree_as_letta_code_treats_it(tmp_path, isolated_environment):
    """A root MEMORY.md switches on MemFS v2: root files are in the prompt; the rest is read on demand."""
    memory = tmp_path / "v2"
    files = {"MEMORY.md": "# Memory\n\n- [projects](projects/MEMORY.md)\n",
             "persona.md": '---\nname: "Persona"\ndescription: "Who I am"\n---\nCareful.\n',
             "projects/MEMORY.md": "# Projects\n",
             "projects/x.md": '---\nname: "X"\ndescription: "Project X: the API"\n---\nX.\n',
             "loose/l.md": '---\nname: "L"\ndescription: "Not indexed"\n---\nL.\n',
             "skills/deploy/SKILL.md": "---\nname: deploy\ndescription: Deploy\n---\nSteps.\n"}
    for path, text in files.items():
        (memory / path).parent.mkdir(parents=True, exist_ok=True)
        (memory / path).write_text(text)
    env = {**os.environ, **GIT}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=memory, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=memory, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "v2"], cwd=memory, check=True, env=env)
    assert letta_ls("agents", "import", str(memory), "--name", "v2").returncode == 0
    assert letta_ls("agents", "use", "v2").returncode == 0
    done = letta_ls("memory", "tree", "--format", "json")
    assert done.returncode == 0, done.stderr
    tiers = {row["path"]: row["tier"] for row in json.loads(done.stdout)}
    assert tiers == {"MEMORY.md": "system", "persona.md": "system", "projects/MEMORY.md": "external",
                     "projects/x.md": "external", "loose/l.md": "external", "skills/deploy/SKILL.md": "skill"}
    described = {row["path"]: row["description"] for row in json.loads(done.stdout)}
    assert described["projects/x.md"] == "Project X: the API"
