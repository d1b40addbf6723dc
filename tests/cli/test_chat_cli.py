"""`letta-ls chat` and `letta-ls remember` as a user runs them, against a scripted model."""

import json
import subprocess
import sys

from letta_ls.home import Home
from tests.fakes import Script, scripted_openai


def run(*args: str, home, env_extra=None, stdin: str | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "LETTA_LS_HOME": str(home), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True, timeout=120,
                          env=env, input=stdin)


def configure(home, base_url: str) -> None:
    (home / "settings.json").write_text(json.dumps({"model": {"provider": "openai", "name": "gpt-test",
                                                              "baseUrl": base_url}}))


def test_chat_prompt_streams_the_answer_and_commits_memory(isolated_environment):
    script = Script().tool_call("memory", {"command": "create", "file_path": "reference/ci.md",
                                           "description": "How CI runs", "file_text": "CI runs make test.",
                                           "reason": "learned CI"}).text("CI noted.")
    with scripted_openai(script) as server:
        configure(isolated_environment, server.base_url)
        proc = run("chat", "-p", "CI runs make test", home=isolated_environment)
        proc2 = run("chat", "-p", "again", "--new", home=isolated_environment)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "CI noted."
    assert "[memory] letta-memory://" in proc.stderr and "reference/ci.md" in proc.stderr
    home = Home(isolated_environment)
    repo = home.memory_repo(home.current_agent())
    assert repo.read("reference/ci.md").text.endswith("CI runs make test.\n")
    assert proc2.returncode == 2 and "script exhausted" in proc2.stderr  # a model error is reported, exit 2


def test_interactive_chat_reads_lines_until_empty(isolated_environment):
    with scripted_openai(Script().text("one").text("two")) as server:
        configure(isolated_environment, server.base_url)
        proc = run("chat", home=isolated_environment, stdin="first\nsecond\n\n")
    assert proc.returncode == 0 and proc.stdout.count("> ") == 3
    assert "one" in proc.stdout and "two" in proc.stdout


def test_remember_without_a_model_stores_the_text(isolated_environment):
    (isolated_environment / "settings.json").write_text(json.dumps({"model": {"provider": "openai",
                                                                              "baseUrl": "http://127.0.0.1:9/v1"}}))
    proc = run("remember", "always", "use", "pnpm", home=isolated_environment)
    assert proc.returncode == 0, proc.stderr
    assert "system/remembered.md" in proc.stdout
    home = Home(isolated_environment)
    assert "always use pnpm" in home.memory_repo(home.current_agent()).read("system/remembered.md").text


def test_chat_with_a_missing_key_names_the_variable(isolated_environment):
    (isolated_environment / "settings.json").write_text(json.dumps({"model": {"provider": "anthropic"}}))
    proc = run("chat", "-p", "hi", home=isolated_environment)
    assert proc.returncode == 2 and "ANTHROPIC_API_KEY" in proc.stderr
