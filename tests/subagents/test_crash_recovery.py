"""kill -9 at any point of any multi-step memory operation, then `letta-ls memory sync` and a dream's merge:
nothing that nobody deleted is gone from main, nothing is saved as "uncommitted edits" that no person made.

Every file the operations move carries a unique ``marker-…`` line, so "no unrequested delete" reads as: each
marker is in exactly one file on main. The operations run in ``crash_worker.py`` (a real process), killed at
an injected step (``letta_ls.memfs.crash_points``: before and after each git process, after each file) or by
SIGKILL at a random moment of a loop of all of them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from letta_ls.home import Home
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.session import Session
from letta_ls.subagents.merge import SAVE_MESSAGE, merge_into
from letta_ls.subagents.worktrees import Worktrees
from tests.subagents.helpers import AGENT, USER, branch_with, doc, git
from tests.sync.remotes import bare_repository, remote_main

WORKER = str(Path(__file__).with_name("crash_worker.py"))
BULK = 30  # files in the moved folder: its move spends a while with some files moved and some not
MOVED = ["n0", "n1", "n2", "tidy", "remote", *(f"p{k}" for k in range(BULK))]
FILES = {**{f"notes/n{k}.md": doc(f"note {k}", f"marker-n{k}\n") for k in range(3)},
         **{f"projects/p{k}.md": doc(f"project {k}", f"marker-p{k}\n") for k in range(BULK)},
         "skills/tidy.md": doc("Keeps things tidy", "marker-tidy\n"),
         "shared/r.md": doc("moved on the remote", "marker-remote\n")}
OPS = ["rename", "folder", "fix", "merge", "sync", "dream"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A home whose memory holds FILES and is synced with a bare remote that has moved shared/r.md since."""
    root = tmp_path_factory.mktemp("crash-template")
    bare = bare_repository(root / "remote.git")
    (root / "home").mkdir()
    (root / "home" / "settings.json").write_text(json.dumps({"sync": {"remote": str(bare)}}))
    session = Session(Home(root / "home"))
    session.repo.commit({p: t.encode() for p, t in FILES.items()}, "the files the crashes move", USER)
    git(session.repo, "push", "-q", str(bare), "main:main")
    clone = root / "elsewhere"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)
    for args in (["mv", "shared/r.md", "shared/r-moved.md"], ["-c", "user.name=B", "-c", "user.email=b@x", "commit",
                 "-qm", "move r on another machine"], ["push", "-q", "origin", "main"]):
        subprocess.run(["git", *args], cwd=clone, check=True)
    shutil.rmtree(clone)
    return root


def trial_copy(template: Path, where: Path) -> tuple[Path, Path]:
    shutil.copytree(template, where, symlinks=True)
    home = where / "home"
    (home / "settings.json").write_text(json.dumps({"sync": {"remote": str(where / "remote.git")}}))
    return home, Session(Home(home)).repo.path


def run_worker(home: Path, memory: Path, op: str, step: str | None, **popen) -> subprocess.Popen:
    args = [sys.executable, WORKER, str(memory), str(home.parent / "remote.git"), str(home.parent / "trees"), op]
    return subprocess.Popen(args + ([step] if step else []), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def follow_up_and_check(home: Path, acknowledged_extras: tuple[int, ...] = ()) -> list[str]:
    """`letta-ls memory sync`, then a dream's merge; what went wrong (empty: nothing)."""
    bad: list[str] = []
    sync = subprocess.run([sys.executable, "-m", "letta_ls", "--home", str(home), "memory", "sync", "--format",
                           "json"], env=_env(), capture_output=True, text=True, timeout=120)
    if sync.returncode != 0:
        bad.append(f"memory sync exited {sync.returncode}: {sync.stderr.strip()[-300:]}")
    repo = Session(Home(home)).repo
    if sync.returncode == 0 and remote_main(home.parent / "remote.git") != repo.head():
        bad.append("the remote does not hold main after the sync")
    trees = Worktrees(repo, home.parent / "after-trees")
    try:
        tree = branch_with(trees, {"dreams/after.md": doc("after the crash", "marker-after\n")})
        merge_into(repo, tree.branch, message="merge(dream): after the crash", author=AGENT, label=tree.branch)
    except Exception as exc:  # a failure to merge is a bad outcome to report, not a test error
        bad.append(f"the dream's merge failed: {type(exc).__name__}: {exc}")
    bad += check_main(MemoryRepo(repo.path), ["after"], acknowledged_extras)
    return bad


def check_main(repo: MemoryRepo, also: list[str], acknowledged_extras: tuple[int, ...], *,
               a_person_edited: bool = False) -> list[str]:
    bad = []
    fsck = subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=repo.path, capture_output=True, text=True)
    if fsck.returncode != 0:
        bad.append(f"git fsck: {fsck.stderr.strip()[:300]}")
    status = git(repo, "status", "--porcelain", "--untracked-files=no")
    if status:
        bad.append(f"work tree differs from HEAD: {status.strip()}")
    subjects = git(repo, "log", "--format=%s", "main").splitlines()
    if SAVE_MESSAGE in subjects and not a_person_edited:
        bad.append(f"committed {subjects.count(SAVE_MESSAGE)} x '{SAVE_MESSAGE}' though no person edited anything")
    texts = [f.text or "" for f in repo.snapshot().files.values()]
    for name in MOVED + also:
        held = sum(f"marker-{name}\n" in text for text in texts)
        if held != 1:
            bad.append(f"marker-{name} is in {held} files of main (deleted or duplicated)")
    for n in acknowledged_extras:
        if sum(f"marker-extra-{n}\n" in text for text in texts) != 1:
            bad.append(f"the acknowledged write of notes/extra-{n}.md is not on main exactly once")
    for name in {t.split("marker-")[1].split("\n")[0] for t in texts if "marker-extra-" in t}:
        if sum(f"marker-{name}\n" in text for text in texts) != 1:
            bad.append(f"marker-{name} is duplicated")
    return bad


STEPS = os.environ.get("LETTA_LS_TEST_CRASH_STEPS", "8")  # "all": every step of every operation


def crash_steps(template: Path, tmp_path: Path, op: str) -> list[int]:
    """Every step of ``op``, thinned evenly to at most ``STEPS`` (always the first and the last)."""
    home, memory = trial_copy(template, tmp_path / f"count-{op}")
    out, err = run_worker(home, memory, op, "count").communicate(timeout=120)
    assert "ACK" in out, err
    total = int(out.split()[0])
    if STEPS == "all" or total <= int(STEPS):
        return list(range(1, total + 1))
    wanted = int(STEPS)
    return sorted({1 + round(i * (total - 1) / (wanted - 1)) for i in range(wanted)})


@pytest.mark.parametrize("op", OPS)
def test_a_kill_at_each_step_then_sync_and_a_dream_lose_nothing(template, tmp_path, op):
    bad: dict[int, list[str]] = {}
    steps = crash_steps(template, tmp_path, op)
    for step in steps:
        home, memory = trial_copy(template, tmp_path / f"{op}-{step}")
        proc = run_worker(home, memory, op, str(step))
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, f"{op} step {step} did not crash: {err[-500:]}"
        problems = follow_up_and_check(home)
        if problems:
            bad[step] = problems
        shutil.rmtree(tmp_path / f"{op}-{step}", ignore_errors=True)
    report = f"{op}: kills tried {len(steps)}, bad outcomes {len(bad)}"
    print(report)
    assert not bad, report + "\n" + "\n".join(f"step {s}: {'; '.join(p)}" for s, p in bad.items())


ROUNDS = int(os.environ.get("LETTA_LS_TEST_CRASH_ROUNDS", "6"))


def test_kills_at_random_moments_of_every_operation_then_sync_and_a_dream_lose_nothing(template, tmp_path):
    rng = random.Random(20261206)
    bad: dict[int, list[str]] = {}
    for round_ in range(ROUNDS):
        home, memory = trial_copy(template, tmp_path / f"round-{round_}")
        proc = run_worker(home, memory, "loop", None, start_new_session=True)
        time.sleep(rng.uniform(0.5, 4.0))
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and the git it is running: a crash of the whole group
        out, err = proc.communicate(timeout=60)
        acks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK ")]
        assert "Traceback" not in err, err[-800:]
        # merges are operations 3, 8, 13…: each acknowledged one wrote notes/extra-<n>.md
        extras = tuple(n for n in acks if n % 5 == 3)
        problems = follow_up_and_check(home, acknowledged_extras=extras)
        if problems:
            bad[round_] = [f"after {len(acks)} acknowledged operations", *problems]
        shutil.rmtree(tmp_path / f"round-{round_}", ignore_errors=True)
    report = f"random kills tried {ROUNDS}, bad outcomes {len(bad)}"
    print(report)
    assert not bad, report + "\n" + "\n".join(f"round {r}: {'; '.join(p)}" for r, p in bad.items())


def test_an_edit_a_person_makes_after_the_crash_is_still_saved_as_theirs(template, tmp_path):
    """Recovery only undoes what the journaled operation wrote: a file a person changed by hand at a path
    the crashed rename touched is theirs, and the next sync commits it as their uncommitted edit."""
    total = int(run_worker(*trial_copy(template, tmp_path / "count"), "rename", "count").communicate(timeout=120)[0]
                .split()[0])
    for step in range(1, total + 1):  # the first step that leaves the rename half applied: its delete done
        home, memory = trial_copy(template, tmp_path / f"step-{step}")
        run_worker(home, memory, "rename", str(step)).communicate(timeout=120)
        if not (memory / "notes/n0.md").exists():
            break
    else:
        pytest.fail("no step of the rename left it half applied")
    edited = doc("note 0", "marker-n0\nDana's own line, typed after the crash\n")
    (memory / "notes/n0.md").write_text(edited)
    sync = subprocess.run([sys.executable, "-m", "letta_ls", "--home", str(home), "memory", "sync"], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert sync.returncode == 0, sync.stderr
    repo = MemoryRepo(memory)
    assert repo.read("notes/n0.md").text == edited
    assert "notes/renamed-n0.md" not in repo.snapshot()  # the half-applied write was ours: undone
    assert git(repo, "log", "-1", "--format=%s", "--", "notes/n0.md").strip() == SAVE_MESSAGE
    assert check_main(repo, [], (), a_person_edited=True) == []
