"""Concurrent writers never lose a change; a writer killed at any point leaves a valid repository."""

import os
import random
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from letta_ls.memfs.repo import Author, MemoryRepo
from tests.concurrent_writers import append_lines, run_in_threads

WRITER = str(Path(__file__).with_name("writer_process.py"))
SHARED = "---\ndescription: lines appended by many writers\n---\n"


def fsck(repo: MemoryRepo) -> None:
    out = subprocess.run(["git", "fsck", "--strict"], cwd=repo.path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def body_lines(repo: MemoryRepo, path: str) -> list[str]:
    return repo.read(path).text.split("---\n", 2)[2].splitlines()


def test_threads_appending_to_one_file_lose_nothing(repo):
    repo.commit({"shared.md": SHARED.encode()}, "start", Author("t", "t@x"))
    errors = run_in_threads(*[partial(append_lines, repo.path, n, 6) for n in range(6)])
    assert errors == []
    assert sorted(body_lines(repo, "shared.md")) == sorted(f"t{n}-{i}" for n in range(6) for i in range(6))
    assert len(repo.history("shared.md")) == 37
    assert not (repo.git_dir / "index.lock").exists()
    fsck(repo)


def test_processes_writing_at_once_lose_nothing(repo):
    repo.commit({"shared.md": SHARED.encode()}, "start", Author("t", "t@x"))
    procs = [subprocess.Popen([sys.executable, WRITER, str(repo.path), f"p{n}", "8", "shared"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.count("ACK") == 8
    assert sorted(body_lines(repo, "shared.md")) == sorted(f"p{n}-{i}" for n in range(4) for i in range(8))
    assert not (repo.git_dir / "index.lock").exists()
    subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=repo.path, check=True)
    fsck(repo)


def test_kill_minus_nine_at_random_points_keeps_every_acknowledged_write(repo):
    rng = random.Random(1234)
    acknowledged: list[str] = []
    for round_ in range(6):
        log = repo.path.parent / f"acks-{round_}.txt"
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, WRITER, str(repo.path), f"k{round_}", "1000"],
                                    stdout=out, stderr=subprocess.DEVNULL)
            # the kill lands at a random point after the writer got going (its first write acknowledged), so
            # that a slow start on a loaded machine does not leave a round with nothing to check
            deadline = time.monotonic() + 60
            while "ACK " not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 1.1))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        buffer = log.read_text()
        acknowledged += [line.split()[1] for line in buffer.splitlines() if line.startswith("ACK ")]
        time.sleep(0.05)  # let an orphaned git child finish, as it would after a real crash
        reopened = MemoryRepo(repo.path)
        reopened.recover()
        snap = reopened.snapshot()
        for name in acknowledged:
            found = snap.get(f"w/{name}.md")
            assert found is not None, f"acknowledged write {name} lost after kill -9 in round {round_}"
            assert found.text.endswith(f"{name.rsplit('-', 1)[0]} wrote {name.rsplit('-', 1)[1]}\n")
        fsck(reopened)
        # and the repository still takes writes
        reopened.commit({f"after/{round_}.md": b"alive"}, f"write after crash {round_}", Author("t", "t@x"))
    assert len(acknowledged) >= 6  # every round acknowledged a write before its kill
