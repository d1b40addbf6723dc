"""The command line as a user runs it: exit codes, output, and what lands in git."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from letta_ls.cli import main
from letta_ls.home import Home
from letta_ls.memfs.authors import user_author

LETTA_CODE_MEMORY = {
    "system/persona.md": "---\ndescription: Who I am.\n---\nI am Letta Code, a coding assistant.\n",
    "system/human.md": "---\ndescription: What I know about the user.\n---\nThey like tea.\n",
    "reference/notes.md": "no frontmatter here\n",
    "skills/deploy.md": "---\ndescription: how to deploy\n---\nRun make deploy.\n",
}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True, timeout=120)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def git_repo(root: Path) -> Path:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=L", "-c", "user.email=l@x", "commit", "-qm", "letta code"], cwd=root,
                   check=True)
    return root


def test_help_works_everywhere():
    for args in ([], ["doctor"], ["agents"], ["memory"], ["serve"], ["dream"], ["defrag"]):
        proc = run(*args, "--help")
        assert proc.returncode == 0 and "usage: letta-ls" in proc.stdout


def test_doctor_on_a_letta_code_directory_without_agent_json(tmp_path):
    memory = write_tree(tmp_path / "memory", LETTA_CODE_MEMORY)
    proc = run("doctor", str(memory))
    assert proc.returncode == 1, proc.stderr
    assert "reference/notes.md:1: error [frontmatter-missing]" in proc.stdout
    assert "skills/deploy.md:1: error [skill-flat-file]" in proc.stdout
    data = json.loads(run("doctor", str(memory), "--format", "json").stdout)
    assert {f["code"] for f in data["findings"]} >= {"frontmatter-missing", "skill-flat-file"}
    assert all(f["line"] >= 1 for f in data["findings"])
    assert data["tokens"]["budget"] == 20000 and data["tokens"]["system"] > 0


def test_doctor_fix_applies_safe_fixes_each_as_a_commit(tmp_path):
    memory = git_repo(write_tree(tmp_path / "memory", LETTA_CODE_MEMORY))
    proc = run("doctor", str(memory), "--fix")
    assert "fixed" in proc.stdout, proc.stdout + proc.stderr
    log = subprocess.run(["git", "log", "--format=%s"], cwd=memory, capture_output=True, text=True).stdout.splitlines()
    fixes = len([line for line in proc.stdout.splitlines() if line.startswith("fixed ")])
    assert len(log) == 1 + fixes
    assert (memory / "skills/deploy/SKILL.md").exists() and not (memory / "skills/deploy.md").exists()
    assert (memory / "reference/notes.md").read_text().startswith("---\ndescription:")
    assert run("doctor", str(memory)).returncode == 0


def test_doctor_fix_on_the_current_agent_commits_as_the_user():
    home = Home()
    agent = home.current_agent()
    repo = home.memory_repo(agent)
    repo.commit({"skills/deploy.md": b"---\ndescription: how to deploy\n---\nRun make deploy.\n"}, "agent wrote",
                agent.author)
    proc = run("doctor", "--fix")
    assert "fixed skills/deploy.md" in proc.stdout, proc.stdout + proc.stderr
    fix = repo.history(limit=1)[0]
    assert (fix.author, fix.email) == (user_author(repo.path).name, user_author(repo.path).email)
    assert fix.author != agent.author.name


def test_doctor_fix_refuses_a_directory_without_git(tmp_path):
    memory = write_tree(tmp_path / "memory", LETTA_CODE_MEMORY)
    proc = run("doctor", str(memory), "--fix")
    assert proc.returncode == 2 and "needs git" in proc.stderr
    assert (memory / "skills/deploy.md").exists()


def test_doctor_usage_errors_exit_2(tmp_path):
    assert run("doctor", str(tmp_path / "missing")).returncode == 2
    assert run("doctor", "--format", "yaml").returncode == 2


def test_doctor_honours_diagnostics_settings(tmp_path, isolated_environment):
    memory = write_tree(tmp_path / "memory", {**LETTA_CODE_MEMORY, "reference/notes.md": "---\ndescription: n\n---\n"})
    settings = {"memory": {"diagnostics": {"skill-flat-file": "off"}}}
    (isolated_environment / "settings.json").write_text(json.dumps(settings))
    proc = run("doctor", str(memory))
    assert proc.returncode == 0 and "skill-flat-file" not in proc.stdout


def test_agents_lifecycle(capsys):
    assert main(["agents"]) == 0
    assert "Letta Code" in capsys.readouterr().out
    assert main(["agents", "new", "Ada", "--preset", "terse"]) == 0
    assert main(["agents", "pin", "Ada"]) == 0
    capsys.readouterr()
    assert main(["agents", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ada = next(r for r in rows if r["name"] == "Ada")
    assert ada["pinned"] and ada["current"] and ada["preset"] == "terse"
    assert main(["agents", "use", "Letta Code"]) == 0
    assert Home().current_agent().name == "Letta Code"
    assert main(["agents", "new", "Bob", "--preset", "nope"]) == 2
    assert "default" in capsys.readouterr().err


def test_memory_tree_tokens_history_backup_restore(capsys):
    assert main(["memory", "tree"]) == 0
    out = capsys.readouterr().out
    assert "system/" in out and "persona.md" in out and "tok" in out
    assert main(["memory", "tokens", "--format", "json"]) == 0
    tokens = json.loads(capsys.readouterr().out)
    assert tokens["system"] == sum(f["tokens"] for f in tokens["files"] if f["path"].startswith("system/"))
    assert main(["memory", "backup"]) == 0
    ref = capsys.readouterr().out.strip()
    assert ref.startswith("refs/letta-backup/manual-")
    home = Home()
    agent = home.current_agent()
    repo = home.memory_repo(agent)
    repo.commit({"system/human.md": b"---\ndescription: d\n---\nchanged\n"}, "change", agent.author)
    assert main(["memory", "history", "system/human.md"]) == 0
    assert "change" in capsys.readouterr().out
    assert main(["memory", "restore", ref.rsplit("/", 1)[-1]]) == 0
    assert "restored memory" in capsys.readouterr().out
    assert "changed" not in repo.read("system/human.md").text
    assert len(list(agent.backups_dir.glob("*.bundle"))) == 1


def test_memory_errors_are_clear(capsys):
    assert main(["memory", "restore", "no-such-backup"]) == 2
    assert "unknown revision" in capsys.readouterr().err
    assert main(["memory", "history", "../x.md"]) == 2
    assert "'..'" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["bogus"], ["agents", "explode"], ["memory", "shred"]])
def test_unknown_commands_exit_2(args):
    proc = run(*args)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_dream_and_defrag_from_the_command_line(tmp_path, monkeypatch, capsys):
    from letta_ls.agent.conversations import ConversationStore
    from letta_ls.agent.messages import Message
    from tests.fakes import Script, scripted_openai

    home = Home(tmp_path / "home")
    agent = home.current_agent()
    ConversationStore(agent.conversations_dir).append("default", [Message("user", "We deploy on Fridays."),
                                                                 Message("assistant", "Noted.")])
    lesson = {"command": "insert", "file_path": "system/human.md", "insert_line": 1000,
              "insert_text": "- Deploys on Fridays.", "reason": "dream: deploy day"}
    with scripted_openai(Script().tool_call("memory", lesson).text("## Summary\nOne lesson.")
                         .text("## Summary\nAlready tidy.")) as model:
        (home.root / "settings.json").write_text(json.dumps({"model": {"provider": "openai", "name": "gpt-test",
                                                                       "baseUrl": model.base_url}}))
        assert main(["--home", str(home.root), "dream"]) == 0
        out, err = capsys.readouterr()
        assert "One lesson." in out and "dream: deploy day" in out and "[dream] starting the dream" in err
        assert "- Deploys on Fridays." in home.memory_repo(agent).read("system/human.md").text
        assert main(["--home", str(home.root), "defrag", "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["status"] == "no_changes" and report["backup"].startswith("refs/letta-backup/defrag-")
    (home.root / "settings.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "letta_ls.agent.providers.local", None)
    assert main(["--home", str(home.root), "dream"]) == 2
    assert "No model is configured, so a dream cannot run" in capsys.readouterr().err
