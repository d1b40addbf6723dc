"""``letta-ls memory sync``: the report on stdout, JSON on request, exit 2 with what to do when it cannot."""

import json
import os

from tests.cli.test_cli import run
from tests.sync.remotes import Machine, bare_repository, free_port, git_daemon, remote_main


def test_memory_sync_pushes_pulls_and_reports(tmp_path, isolated_environment):
    bare = bare_repository(tmp_path / "remotes" / "memory.git")
    with git_daemon(tmp_path / "remotes") as base:
        url = f"{base}/memory.git"
        laptop = Machine(tmp_path / "laptop", url)
        laptop.write("reference/laptop.md", "---\ndescription: from the laptop\n---\nfact\n", "laptop fact")
        laptop.sync()
        (isolated_environment / "settings.json").write_text(json.dumps({"sync": {"remote": url}}))
        first = run("memory", "sync")
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith(f"Synced memory with {url}: pulled 2 commits") and "backed up" in first.stdout
        again = run("memory", "sync", "--format", "json")
        assert again.returncode == 0 and json.loads(again.stdout)["pulled"] == 0
        assert remote_main(bare) == json.loads(again.stdout)["head"]


def test_memory_sync_without_a_usable_remote_exits_2_with_what_to_do(tmp_path, isolated_environment):
    missing = run("memory", "sync")
    assert missing.returncode == 2 and "no sync remote is configured" in missing.stderr
    token, port = "ghp_" + os.urandom(12).hex(), free_port()
    (isolated_environment / "settings.json").write_text(json.dumps(
        {"sync": {"remote": f"https://letta:{token}@127.0.0.1:{port}/memory.git"}}))
    refused = run("memory", "sync")
    assert refused.returncode == 2 and f"could not reach https://***@127.0.0.1:{port}/memory.git" in refused.stderr
    assert token not in refused.stderr + refused.stdout
