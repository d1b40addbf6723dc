"""``letta-ls doctor [DIR] --workspace PATH`` adds the workspace checks; without it nothing changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.staleness.corpus import CHAINED, make_workspace


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "letta_ls", *args], capture_output=True, text=True, timeout=120)


def memory_dir(root: Path) -> Path:
    for path, text in {
        "system/human.md": "---\ndescription: Who the user is\n---\nSam.\n",
        "system/persona.md": "---\ndescription: Who I am\n---\nA coding agent.\n",
        "reference/config.md": "---\ndescription: Where config lives\n---\nConfig lives in `src/config/settings.py`."
                               "\nRun `make deploy` to ship.\n",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_doctor_with_a_workspace_reports_stale_notes_as_json(tmp_path):
    make_workspace(tmp_path / "ws")
    memory = memory_dir(tmp_path / "memory")
    plain = run("doctor", str(memory), "--format", "json")
    assert plain.returncode == 0, plain.stderr
    assert not [f for f in json.loads(plain.stdout)["findings"] if f["code"] == "memory-stale"]

    done = run("doctor", str(memory), "--workspace", str(tmp_path / "ws"), "--format", "json")
    assert done.returncode == 0, done.stderr  # warnings only
    stale = [f for f in json.loads(done.stdout)["findings"] if f["code"] == "memory-stale"]
    assert [(f["path"], f["line"]) for f in stale] == [("reference/config.md", 4), ("reference/config.md", 5)]
    assert stale[0]["fix"]["kind"] == "replace-path" and stale[0]["fix"]["data"]["target"] == CHAINED[1]
    assert "no target `deploy`" in stale[1]["message"]


def test_doctor_refuses_a_workspace_that_is_not_a_folder(tmp_path):
    memory = memory_dir(tmp_path / "memory")
    done = run("doctor", str(memory), "--workspace", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and "is not a directory" in done.stderr and "Traceback" not in done.stderr
