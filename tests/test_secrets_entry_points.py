"""No secret reaches git history through any entry point (issue 11, point 3): not in a file's text,
not in a save's ``reason`` (the commit message), not in a file name.

Real parts: real git repositories, the memory tool as the agent and the editor use it (with the
doctor's guard), the CLI as a subprocess, the agent's tool through a scripted model. A refused change
leaves HEAD, the work tree and every git object as they were, and its error never echoes the value.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_ls.doctor import audit
from letta_ls.doctor.guard import memory_change_guard
from letta_ls.home import Home
from letta_ls.memfs.compile import compile_memory
from letta_ls.memfs.operations import MemoryOperations, MemoryToolError
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.memfs.repo_errors import MemoryRepoError
from letta_ls.settings import MemorySettings
from tests.conftest import AGENT, SEED
from tests.fakes import Script, scripted_openai
from tests.secret_corpus import KEY_FORMATS, PASSWORD_CONTEXTS, key_in_text

# a seed drawn by hypothesis, a real PRNG for the body: hypothesis's own random would shrink bodies to "aaaa…"
RANDOMS = st.integers(min_value=0, max_value=2**64 - 1).map(random.Random)
# formats that can be a file name (no slash, no newline)
NAMEABLE = sorted(k for k in KEY_FORMATS if k not in {"private-key", "slack-webhook", "aws-secret-key", "bearer"})


def all_git_bytes(repo_dir: Path) -> bytes:
    """Every object of the repository (commits, trees, blobs), decompressed."""
    out = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo_dir, capture_output=True,
                         check=True)
    return out.stdout


def worktree_bytes(repo_dir: Path) -> bytes:
    return b"".join(p.as_posix().encode() + p.read_bytes() for p in sorted(repo_dir.rglob("*"))
                    if p.is_file() and ".git" not in p.parts)


def a_secret_text(rng: random.Random) -> tuple[str, str]:
    """(text, secret): a key in a sentence or a password in its context."""
    if rng.random() < 0.5:
        return key_in_text(rng.choice(sorted(KEY_FORMATS)), rng)
    return PASSWORD_CONTEXTS[rng.choice(sorted(PASSWORD_CONTEXTS))](rng)


def new_repo(where: Path) -> MemoryRepo:
    repo = MemoryRepo.create(where / "memory", SEED, AGENT)
    MemoryOperations(repo, AGENT, guard=memory_change_guard(MemorySettings())).create(
        "reference/notes.md", "Notes.", "first line\n", reason="seed a file to edit")
    return repo


@pytest.fixture
def guarded_repo(tmp_path: Path) -> MemoryRepo:
    return new_repo(tmp_path)


@pytest.fixture
def fresh_repo(tmp_path_factory):
    """A new repository for every hypothesis example (a function-scoped fixture would be shared)."""
    return lambda: new_repo(tmp_path_factory.mktemp("example"))


def ops_for(repo: MemoryRepo, actor: str) -> MemoryOperations:
    return MemoryOperations(repo, AGENT, actor=actor, guard=memory_change_guard(MemorySettings()))


def refused_and_untouched(repo: MemoryRepo, secret: str, call) -> str:
    head, objects, tree = repo.head(), all_git_bytes(repo.path), worktree_bytes(repo.path)
    with pytest.raises((MemoryToolError, MemoryRepoError)) as caught:
        call()
    assert repo.head() == head
    assert all_git_bytes(repo.path) == objects
    assert worktree_bytes(repo.path) == tree
    assert secret not in str(caught.value)
    return str(caught.value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RANDOMS, st.sampled_from(["create", "str_replace", "insert", "delete", "rename", "update_description",
                                 "save"]), st.sampled_from(["agent", "user"]))
def test_a_reason_holding_a_secret_is_refused_by_every_operation(fresh_repo, rng, operation, actor):
    guarded_repo = fresh_repo()
    text, secret = a_secret_text(rng)
    reason = f"store the staging credentials: {text}"
    ops = ops_for(guarded_repo, actor)
    calls = {
        "create": lambda: ops.create("reference/new.md", "New.", "body", reason=reason),
        "str_replace": lambda: ops.str_replace("reference/notes.md", "first", "second", reason=reason),
        "insert": lambda: ops.insert("reference/notes.md", 1, "more", reason=reason),
        "delete": lambda: ops.delete("reference/notes.md", reason=reason),
        "rename": lambda: ops.rename("reference/notes.md", "reference/moved.md", reason=reason),
        "update_description": lambda: ops.update_description("reference/notes.md", "Other.", reason=reason),
        "save": lambda: ops.write_file("reference/notes.md", "---\ndescription: Notes.\n---\nsaved\n",
                                       reason=reason),
    }
    message = refused_and_untouched(guarded_repo, secret, calls[operation])
    assert "reason" in message and "commit message" in message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RANDOMS, st.sampled_from(NAMEABLE), st.sampled_from(["create", "rename", "save", "folder-rename"]))
def test_a_file_name_holding_a_key_is_refused(fresh_repo, rng, kind, operation):
    guarded_repo = fresh_repo()
    key = KEY_FORMATS[kind](rng)
    ops = ops_for(guarded_repo, "agent" if operation != "save" else "user")
    calls = {
        "create": lambda: ops.create(f"reference/{key}.md", "Keys.", "body", reason="a new file"),
        "rename": lambda: ops.rename("reference/notes.md", f"reference/key-{key}.md", reason="rename"),
        "save": lambda: ops.write_file(f"notes/{key}.md", "---\ndescription: Keys.\n---\nbody\n", reason="save"),
        "folder-rename": lambda: ops.rename("reference", f"ref-{key}", reason="move the folder"),
    }
    message = refused_and_untouched(guarded_repo, key, calls[operation])
    assert "file name" in message


def test_a_commit_straight_through_the_repository_is_checked_too(guarded_repo):
    """Restore, fixes, /init and dreams commit with ``MemoryRepo.commit``: the last gate before git."""
    rng = random.Random(7)
    key = KEY_FORMATS["github-classic"](rng)
    refused_and_untouched(guarded_repo, key, lambda: guarded_repo.commit(
        {"reference/x.md": b"---\ndescription: X.\n---\nx\n"}, f"add x with {key}", AGENT))
    refused_and_untouched(guarded_repo, key, lambda: guarded_repo.commit(
        {f"reference/{key}.md": b"---\ndescription: X.\n---\nx\n"}, "add x", AGENT))


def plant_secret_named_file(repo: MemoryRepo, key: str) -> str:
    """A file whose name is a key, committed by hand with git (the way letta-ls itself never would)."""
    path = f"reference/{key}.md"
    (repo.path / "reference").mkdir(exist_ok=True)
    (repo.path / path).write_text("---\ndescription: Old keys.\n---\nold\n")
    env = {**os.environ, **AGENT.env()}
    subprocess.run(["git", "add", "-A"], cwd=repo.path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "by hand"], cwd=repo.path, check=True, env=env)
    return path


def test_an_existing_secret_file_name_is_flagged_kept_out_of_the_prompt_and_can_be_renamed_away(guarded_repo):
    key = KEY_FORMATS["openai-proj"](random.Random(3))
    path = plant_secret_named_file(guarded_repo, key)
    snap = guarded_repo.snapshot()
    findings = [f for f in audit(snap, MemorySettings()).findings if f.code == "secret"]
    assert [(f.path, f.severity) for f in findings] == [(path, "error")]
    assert "file name" in findings[0].message and key not in findings[0].message
    assert key not in compile_memory(snap).text
    ops = ops_for(guarded_repo, "agent")
    ops.rename(path, "reference/old-keys.md", reason="rename the file away from its secret name")
    assert key not in compile_memory(guarded_repo.snapshot()).text


def run_cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LETTA_LS_HOME": str(home), **(env or {})})


def with_scripted_model(home: Path, server) -> dict[str, str]:
    """Point the home at a scripted OpenAI-compatible server; the environment for the CLI."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.json").write_text(json.dumps({"model": {"provider": "openai", "name": "gpt-test",
                                                              "baseUrl": server.base_url}}))
    return {"OPENAI_API_KEY": "test-key-not-real"}


def test_remember_refuses_a_password_with_template_characters(tmp_path):
    """The model stores nothing, so /remember falls back to storing the words as they are: refused."""
    home = tmp_path / "home"
    passwords = ("Zu$9kq%Lp2!vB7x", "%Qm4$tR8@wZ1nc^", "hV3$x{P9%qW2)e")
    with scripted_openai(Script().text("Noted.").text("Noted.").text("Noted.").text("Noted.")) as server:
        env = with_scripted_model(home, server)
        for password in passwords:
            done = run_cli(home, "remember", f"the staging db password = {password}", env=env)
            assert done.returncode == 0, done.stderr
            assert "could not store" in done.stdout and "refused" in done.stdout
            assert password not in done.stdout.replace(f"= {password}", "")  # the error never echoes it
        ok = run_cli(home, "remember", "the staging db password lives in the vault under STAGING_DB_PASSWORD",
                     env=env)
        assert ok.returncode == 0, ok.stderr
    repo_dir = Home(home).current_agent().memory_dir
    history = all_git_bytes(repo_dir)
    assert not any(p.encode() in history for p in passwords)
    assert "STAGING_DB_PASSWORD" in (repo_dir / "system/remembered.md").read_text()


def test_restore_refuses_to_bring_back_a_secret_file_name(tmp_path):
    home = tmp_path / "home"
    repo = MemoryRepo(Home(home).current_agent().memory_dir)
    key = KEY_FORMATS["stripe"](random.Random(5))
    path = plant_secret_named_file(repo, key)
    old = repo.head()
    ops_for(repo, "user").delete(path, reason="remove the file named after a key")
    done = run_cli(home, "memory", "restore", old)
    assert done.returncode == 2
    assert "file name" in done.stderr and key not in done.stderr
    assert path not in repo.snapshot().files


def test_the_agent_tool_refuses_secret_file_names_and_reasons(tmp_path):
    home = tmp_path / "home"
    rng = random.Random(23)
    key = KEY_FORMATS["anthropic"](rng)
    text, password = PASSWORD_CONTEXTS["url"](rng)
    script = (Script()
              .tool_call("memory", {"command": "create", "file_path": f"reference/{key}.md", "description": "Keys",
                                    "file_text": "The key is in ANTHROPIC_API_KEY.", "reason": "note the key"})
              .tool_call("memory", {"command": "create", "file_path": "reference/db.md", "description": "DB",
                                    "file_text": "The database URL is in DATABASE_URL.",
                                    "reason": f"remember {text}"})
              .text("Done."))
    with scripted_openai(script) as server:
        done = run_cli(home, "chat", "-p", "note the credentials", env=with_scripted_model(home, server))
        assert done.returncode == 0, done.stderr
        tool_results = [m.get("content") for r in server.requests for m in r.messages if m.get("role") == "tool"]
    assert len(tool_results) >= 2
    assert all("refused" in str(result) for result in tool_results[:2]), tool_results
    repo_dir = Home(home).current_agent().memory_dir
    history = all_git_bytes(repo_dir)
    assert key.encode() not in history and password.encode() not in history
    assert not (repo_dir / "reference").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RANDOMS, st.sampled_from(["tool-create", "tool-insert", "tool-str_replace", "save", "remember"]))
def test_a_secret_in_the_text_is_refused_through_every_entry_point(fresh_repo, rng, entry):
    """The text itself: the agent's tool (``run_tool``, as the runtime calls it), the editor's save and
    ``remember``'s verbatim fallback (``store_verbatim``, the path taken when no model stores it)."""
    from types import SimpleNamespace

    from letta_ls.agent.remember import store_verbatim

    repo = fresh_repo()
    text, secret = a_secret_text(rng)
    agent, user = ops_for(repo, "agent"), ops_for(repo, "user")
    runtime = SimpleNamespace(session=SimpleNamespace(repo=repo, operations=lambda actor: ops_for(repo, actor)))
    calls = {
        "tool-create": lambda: agent.run_tool({"command": "create", "file_path": "reference/creds.md",
                                               "description": "Creds.", "file_text": text, "reason": "note"}),
        "tool-insert": lambda: agent.run_tool({"command": "insert", "file_path": "reference/notes.md",
                                               "insert_line": 1, "insert_text": text, "reason": "note"}),
        "tool-str_replace": lambda: agent.run_tool({"command": "str_replace", "file_path": "reference/notes.md",
                                                    "old_string": "first line", "new_string": text,
                                                    "reason": "note"}),
        "save": lambda: user.write_file("reference/notes.md", f"---\ndescription: Notes.\n---\n{text}\n",
                                        reason="save"),
        "remember": lambda: store_verbatim(runtime, text),
    }
    refused_and_untouched(repo, secret, calls[entry])
