"""A large audit shared with a forked child (``letta_ls.doctor.forked``, the CLI's ``letta-ls doctor``) finds
exactly what one process finds, really does half of the per-file work in the child, and survives a child
that fails."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time

import pytest

from letta_ls.doctor import forked
from tests.secret_corpus import key_in_text

SHARED = ("This note repeats the team's release checklist word for word: tag the build, write the changelog, "
          "announce it in the channel, and wait a day before the rollout to every region. Ask the lead before "
          "skipping any step, and write down why in the release notes.")


def _memory(files: int) -> dict[str, str]:
    """Every kind of finding the per-file checks and the duplicate check make, spread over the whole memory (so
    both halves hold some): copies, a near copy, secrets, an oversized file, broken and missing frontmatter."""
    rng = random.Random(7)
    memory = {"system/persona.md": "---\ndescription: Who I am.\n---\nI am a careful coding agent.\n"}
    for i in range(files):
        path = f"reference/note-{i:04d}.md"
        if i % 5 == 0:
            body = SHARED
        elif i % 5 == 1:
            body = SHARED.replace("a day", "two days") + f" Copy {i}."
        elif i % 97 == 2:
            body = f"The deploy key: {key_in_text('github-classic', rng)[0]}"
        elif i % 211 == 3:
            body = "\n".join(f"Line {n} of a very long runbook that nobody trimmed, step {n}." for n in range(2500))
        else:
            body = f"Note {i}: the service on port {8000 + i} restarts nightly at {i % 24}:00."
        if i % 150 == 4:
            memory[path] = f"---\n:::\n---\n{body}\n"
        elif i % 170 == 5:
            memory[path] = f"{body}\n"
        else:
            memory[path] = f"---\ndescription: Note {i}.\n---\n{body}\n"
    return memory


AUDIT = """
import json, sys
from letta_ls.doctor import audit
from letta_ls.doctor.checks import passages
from letta_ls.memfs.snapshot import MemorySnapshot

memory = json.loads(sys.stdin.read())
computed = []
compute = passages._passages
passages._passages = lambda file: computed.append(file.path) or compute(file)
result = audit(MemorySnapshot.from_mapping(memory, head="a" * 40), use_a_fork=sys.argv[1] == "fork")
print(json.dumps({"result": result.to_json(), "computed_here": len(computed)}))
"""


def _audit_in_a_new_process(memory: dict[str, str], mode: str) -> dict:
    """A fresh interpreter: nothing cached, no thread but the main one (a test worker may have others)."""
    done = subprocess.run([sys.executable, "-c", AUDIT, mode], input=json.dumps(memory), capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout)


def test_a_forked_audit_finds_exactly_what_one_process_finds_and_the_child_does_half():
    memory = _memory(1600)
    alone = _audit_in_a_new_process(memory, "alone")
    shared = _audit_in_a_new_process(memory, "fork")
    assert shared["result"] == alone["result"]
    codes = {finding["code"] for finding in alone["result"]["findings"]}
    expected = {"duplicate-content", "secret", "file-oversized", "frontmatter-invalid", "frontmatter-missing"}
    assert expected <= codes, codes
    assert alone["computed_here"] > 1500  # every text file's passages (not those of broken frontmatter)
    assert shared["computed_here"] <= alone["computed_here"] // 2 + 1  # the other half was computed by the child


def test_a_child_that_fails_leaves_its_half_to_the_parent():
    parent = os.getpid()

    def square_or_fail(items):
        if os.getpid() != parent:
            raise RuntimeError("the child breaks")
        return [n * n for n in items]

    items = list(range(2000))
    halves = forked.split_with_a_fork(items, square_or_fail)
    assert [n for half in halves for n in half] == [n * n for n in items]


def test_a_child_that_is_killed_leaves_its_half_to_the_parent():
    parent = os.getpid()

    def square_or_die(items):
        if os.getpid() != parent:
            os.kill(os.getpid(), 9)
        return [n * n for n in items]

    halves = forked.split_with_a_fork(list(range(2000)), square_or_die)
    assert [n for half in halves for n in half] == [n * n for n in range(2000)]


def test_no_fork_while_another_thread_runs_or_for_a_small_memory():
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    try:
        assert not forked.can_fork(5000)  # the child would get a copy of a lock that thread may hold
    finally:
        release.set()
        other.join()
    deadline = time.monotonic() + 5
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    if threading.active_count() == 1 and len(os.sched_getaffinity(0)) >= 2:
        assert forked.can_fork(5000)
    assert not forked.can_fork(forked.MIN_ITEMS - 1)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_cli_on_a_large_directory_reports_what_the_one_process_audit_finds(tmp_path, fmt):
    memory = _memory(1200)
    for path, text in memory.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    done = subprocess.run([sys.executable, "-m", "letta_ls", "doctor", str(tmp_path), "--format", fmt],
                          capture_output=True, text=True, timeout=300)
    alone = _audit_in_a_new_process(memory, "alone")["result"]
    if fmt == "json":
        assert json.loads(done.stdout) == alone
    else:
        assert len(done.stdout.splitlines()) == len(alone["findings"]) + 1
    assert done.returncode == (1 if any(f["severity"] == "error" for f in alone["findings"]) else 0)
