"""Memory sync between two machines through one real remote (``git daemon`` on 127.0.0.1): nothing forced,
nothing lost, backups before merging foreign history, clear errors that change nothing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from letta_ls.agent.providers.openai_provider import OpenAIProvider
from letta_ls.subagents.resolve import model_resolver
from letta_ls.sync.memory_sync import tracking_ref
from letta_ls.sync.remote import (
    RemoteNotFoundError,
    RemoteTimeoutError,
    RemoteUnreachableError,
    SyncError,
    parse_remote,
)
from tests.subagents.helpers import fsck, git, is_ancestor, tracked_changes
from tests.sync.remotes import Machine, bare_repository, free_port, git_daemon, remote_main


def doc(description: str, body: str) -> str:
    return f"---\ndescription: {description}\n---\n{body}"


NOTES = doc("Project notes", "".join(f"line {n}\n" for n in range(1, 11)))


@dataclass
class Served:
    url: str
    bare: Path
    base: str


@pytest.fixture
def remote(tmp_path: Path):
    bare = bare_repository(tmp_path / "remotes" / "memory.git")
    with git_daemon(tmp_path / "remotes") as base:
        yield Served(f"{base}/memory.git", bare, base)


@pytest.fixture
def pair(tmp_path: Path, remote: Served) -> tuple[Machine, Machine]:
    """Two machines that already share one history through the remote, with notes.md in it."""
    a, b = Machine(tmp_path / "a", remote.url), Machine(tmp_path / "b", remote.url)
    a.write("notes.md", NOTES, "start the notes")
    a.sync()
    b.sync()
    a.sync()
    assert a.repo.head() == b.repo.head() == remote_main(remote.bare)
    return a, b


def refs(machine: Machine) -> str:
    return git(machine.repo, "for-each-ref", "--format=%(refname) %(objectname)")


def test_an_empty_remote_gets_main_and_a_new_machine_receives_the_memory(tmp_path, remote):
    a = Machine(tmp_path / "a", remote.url)
    a.write("system/persona.md", doc("Who I am", "I am Ada, the team's careful agent.\n"), "become Ada")
    a.write("notes.md", NOTES, "start the notes")
    first = a.sync()
    assert (first.pushed, first.pulled, first.conflicts, first.backup) == (3, 0, (), None)
    assert remote_main(remote.bare) == a.repo.head() == first.head
    assert "remote" not in (a.repo.git_dir / "config").read_text()  # the URL is never stored

    b = Machine(tmp_path / "b", remote.url, preset="terse")  # a new computer with a fresh agent of its own
    joined = b.sync()
    assert joined.pulled == 3 and joined.conflicts == ()
    assert b.text("notes.md") == NOTES and b.on_disk("notes.md") == NOTES
    # b's untouched seed persona gave way to the memory it joined; b's own seed stays in the backup
    assert "Ada" in b.text("system/persona.md") and "system/persona.md" in joined.seeded
    assert joined.backup and joined.backup.startswith("refs/letta-backup/pre-sync-")
    assert b.repo.rev_parse(joined.backup) in git(b.repo, "rev-list", "HEAD").split()
    assert remote_main(remote.bare) == b.repo.head()
    back = a.sync()
    assert back.pulled >= 1 and back.pushed == 0 and a.repo.head() == b.repo.head()
    assert back.changed == ()  # b's untouched seeds brought nothing into a's memory
    fsck(a.repo)
    fsck(b.repo)


def test_edits_on_both_machines_to_different_files_reach_both(pair):
    a, b = pair
    a.write("system/human.md", doc("The user", "Dana likes short answers.\n"), "learn about Dana")
    b.write("reference/deploy.md", doc("How to deploy", "Run make deploy.\n"), "note deploys")
    assert a.sync().pushed == 1
    from_b = b.sync()
    assert from_b.pulled == 1 and from_b.pushed == 2 and from_b.changed == ("system/human.md",)
    assert a.sync().changed == ("reference/deploy.md",)
    for machine in (a, b):
        assert "Dana likes short answers." in machine.on_disk("system/human.md")
        assert "Run make deploy." in machine.on_disk("reference/deploy.md")
        assert tracked_changes(machine.repo) == ""
    assert a.repo.head() == b.repo.head()


def _both_change_notes(pair: tuple[Machine, Machine], what: str, on_a: tuple[str, str], on_b: tuple[str, str],
                       resolver=None):
    """Each machine commits its own change of notes.md (a line of ``NOTES`` and what it becomes); a syncs first,
    so b's sync is the one that meets both changes: its result."""
    a, b = pair
    a.write("notes.md", NOTES.replace(*on_a), f"a's {what}")
    b.write("notes.md", NOTES.replace(*on_b), f"b's {what}")
    a.sync()
    return b.sync(resolver=resolver) if resolver is not None else b.sync()


def test_the_same_file_changed_on_different_lines_merges_line_by_line(pair):
    a, b = pair
    result = _both_change_notes(pair, "note", ("line 2\n", "line 2 (from a)\n"), ("line 9\n", "line 9 (from b)\n"))
    assert result.conflicts == ()
    assert [n.kind for o in result.outcomes for n in o.notes if n.path == "notes.md"] == ["three_way"]
    a.sync()
    for machine in (a, b):
        text = machine.on_disk("notes.md")
        assert "line 2 (from a)" in text and "line 9 (from b)" in text and "<<<<<<<" not in text


def test_the_same_lines_without_a_model_keep_both_versions_on_both_machines(pair):
    a, b = pair
    result = _both_change_notes(pair, "rule", ("line 5\n", "line 5: use pnpm\n"), ("line 5\n", "line 5: use yarn\n"))
    assert result.conflicts == ("notes.md",)
    assert "both versions kept" in result.report and "notes.md" in result.report
    a.sync()
    for machine in (a, b):
        text = machine.on_disk("notes.md")
        assert "use pnpm" in text and "use yarn" in text
        assert "<<<<<<< main" in text and ">>>>>>> remote/main" in text
        assert text.startswith("---\ndescription: Project notes\n---\n")  # still valid memory
    assert a.repo.head() == b.repo.head()


def test_the_same_lines_are_resolved_by_a_scripted_model(pair, openai_server):
    a, b = pair
    merged = NOTES.replace("line 5\n", "line 5: use pnpm 9 (both machines agree)\n")
    openai_server.script.text(merged)
    provider = OpenAIProvider("gpt-test", api_key="sk-test-key", base_url=openai_server.base_url)
    result = _both_change_notes(pair, "rule", ("line 5\n", "line 5: use pnpm\n"), ("line 5\n", "line 5: use pnpm 9\n"),
                                resolver=model_resolver(provider, ours="this machine", theirs="the remote"))
    assert result.conflicts == ()
    assert [n.kind for o in result.outcomes for n in o.notes if n.path == "notes.md"] == ["resolved"]
    assert b.on_disk("notes.md") == merged
    (request,) = openai_server.model_requests
    asked = str(request.body)
    assert "use pnpm 9" in asked and "line 5: use pnpm\\n" in asked and "<base>" in asked
    a.sync()
    assert a.on_disk("notes.md") == merged


def test_the_remote_moving_during_the_push_is_merged_and_pushed_again(pair, remote):
    a, b = pair
    a.write("reference/a.md", doc("From a", "a's fact\n"), "a's fact")
    interrupted: list = []

    def progress(message: str, _percent: int | None) -> None:
        if message.startswith("pushing") and not interrupted:
            b.write("reference/b.md", doc("From b", "b's fact\n"), "b's fact")
            worker = threading.Thread(target=lambda: interrupted.append(b.sync()))  # b pushes first
            worker.start()
            worker.join()

    result = a.sync(progress=progress)
    assert interrupted and interrupted[0].pushed == 1
    assert result.unpushed == 0 and result.pulled == 1 and result.pushed == 2
    assert remote_main(remote.bare) == a.repo.head()
    assert "b's fact" in a.on_disk("reference/b.md")
    b.sync()
    assert "a's fact" in b.on_disk("reference/a.md") and b.repo.head() == a.repo.head()


def test_a_remote_that_keeps_moving_is_reported_and_never_forced(pair, remote):
    a, b = pair
    a.write("reference/a.md", doc("From a", "a's fact\n"), "a's fact")
    b_heads: list[str] = []

    def progress(message: str, _percent: int | None) -> None:
        if message.startswith("pushing"):
            b.write("reference/b.md", doc("From b", f"b's fact {len(b_heads)}\n"), "b moves on")
            worker = threading.Thread(target=lambda: b_heads.append(b.sync().head))
            worker.start()
            worker.join()

    result = a.sync(progress=progress, attempts=3)
    assert len(b_heads) == 3
    assert result.unpushed >= 1 and result.pushed == 0 and "not pushed yet" in result.report
    assert remote_main(remote.bare) == b_heads[-1]  # b's work stands: a never forced its way
    assert is_ancestor(a.repo, b_heads[-2])  # and a holds what it merged meanwhile
    assert a.sync().unpushed == 0 and remote_main(remote.bare) == a.repo.head()


def test_a_reinitialised_remote_is_merged_after_a_backup_and_nothing_is_lost(tmp_path, pair, remote):
    a, _b = pair
    a.write("system/persona.md", doc("Who I am", "I am Ada.\n"), "become Ada")
    before = a.repo.head()
    shutil.rmtree(remote.bare)
    bare_repository(remote.bare)  # someone re-created the remote elsewhere
    c = Machine(tmp_path / "c", remote.url, preset="tutor")
    c.write("reference/c.md", doc("From c", "c's fact\n"), "c's fact")
    c.write("notes.md", doc("C's notes", "c keeps its own notes\n"), "c's notes")
    c.sync()

    result = a.sync()
    assert result.backup is not None and a.repo.rev_parse(result.backup) == before
    assert list((a.session.agent.backups_dir).glob("pre-sync-*.bundle"))
    assert "unrelated" in result.report
    assert is_ancestor(a.repo, before)  # a merge, never a reset
    assert "I am Ada." in a.text("system/persona.md")  # c's untouched tutor persona gave way
    assert result.conflicts == ("notes.md",)  # real memory on both sides: both kept, never replaced
    assert "line 10" in a.text("notes.md") and "c keeps its own notes" in a.text("notes.md")
    assert "c's fact" in a.text("reference/c.md") and "system/onboarding.md" in a.repo.snapshot()
    assert remote_main(remote.bare) == a.repo.head()
    fsck(a.repo)


def test_a_force_pushed_remote_is_backed_up_before_merging(tmp_path, pair, remote):
    a, b = pair
    old = a.repo.head()
    a.write("reference/a.md", doc("From a", "a's fact\n"), "a's fact")
    a.sync()
    rewritten = tmp_path / "rewrite"
    subprocess.run(["git", "clone", "-q", str(remote.bare), str(rewritten)], check=True)
    subprocess.run(["git", "reset", "-q", "--hard", old], cwd=rewritten, check=True)
    (rewritten / "reference").mkdir(exist_ok=True)
    (rewritten / "reference" / "c.md").write_text(doc("From c", "c's fact\n"))
    subprocess.run(["git", "add", "-A"], cwd=rewritten, check=True)
    subprocess.run(["git", "-c", "user.name=C", "-c", "user.email=c@x", "commit", "-qm", "rewrite"], cwd=rewritten,
                   check=True)
    subprocess.run(["git", "push", "-q", "--force", "origin", "HEAD:main"], cwd=rewritten, check=True)

    result = a.sync()
    assert result.backup is not None and "rewritten" in result.report
    assert a.text("reference/a.md") and a.text("reference/c.md")
    assert remote_main(remote.bare) == a.repo.head()
    b.sync()
    assert b.text("reference/a.md") and b.text("reference/c.md")


def test_a_remote_that_went_back_in_time_is_brought_forward_again(pair, remote):
    a, b = pair
    a.write("reference/a.md", doc("From a", "a's fact\n"), "a's fact")
    old = a.repo.head()
    a.write("reference/a2.md", doc("From a", "a's second fact\n"), "a's second fact")
    a.sync()
    subprocess.run(["git", "update-ref", "refs/heads/main", old], cwd=remote.bare, check=True)  # it oscillated back
    head = a.repo.head()
    result = a.sync()
    assert (result.pulled, result.pushed, result.backup) == (0, 1, None) and a.repo.head() == head
    assert remote_main(remote.bare) == head
    b.sync()
    assert b.text("reference/a2.md")


@pytest.mark.parametrize("where", ["port", "missing", "path"])
def test_an_unreachable_or_missing_remote_fails_clearly_and_changes_nothing(tmp_path, remote, where):
    url = {"port": f"git://127.0.0.1:{free_port()}/memory.git", "missing": f"{remote.base}/nothing-here.git",
           "path": str(tmp_path / "nothing-here.git")}[where]
    a = Machine(tmp_path / "a", url)
    a.write("notes.md", NOTES)
    head, before = a.repo.head(), refs(a)
    expected = RemoteUnreachableError if where == "port" else RemoteNotFoundError
    with pytest.raises(expected) as err:
        a.sync()
    message = str(err.value)
    assert url in message and "unchanged" in message
    if where == "port":
        assert "could not reach" in message
    else:
        assert "no git repository" in message
    assert a.repo.head() == head and refs(a) == before and not a.repo.is_dirty()
    assert not (a.session.agent.backups_dir).exists() or not any(a.session.agent.backups_dir.iterdir())


def test_a_remote_that_never_answers_times_out(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])  # accept, then say nothing
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        a = Machine(tmp_path / "a", f"git://127.0.0.1:{listener.getsockname()[1]}/memory.git")
        head = a.repo.head()
        with pytest.raises(RemoteTimeoutError, match="did not answer within 1 s"):
            a.sync(timeout=1)
        assert a.repo.head() == head
    finally:
        listener.close()
        for conn in held:
            conn.close()


def test_a_push_the_remote_refuses_is_reported_and_kept_locally(pair, remote):
    a, _b = pair
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'memory is frozen for the audit' >&2\nexit 1\n")
    hook.chmod(0o755)
    a.write("reference/a.md", doc("From a", "a's fact\n"), "a's fact")
    before = remote_main(remote.bare)
    with pytest.raises(SyncError) as err:
        a.sync()
    assert "refused the push" in str(err.value) and "memory is frozen for the audit" in str(err.value)
    assert remote_main(remote.bare) == before and a.text("reference/a.md")


def test_no_remote_configured_says_how_to_set_one(tmp_path):
    a = Machine(tmp_path / "a", None)
    with pytest.raises(SyncError) as err:
        a.sync()
    assert "no sync remote is configured" in str(err.value) and '"sync": {"remote"' in str(err.value)


def test_a_bad_url_in_settings_is_refused_and_changes_nothing(tmp_path):
    a = Machine(tmp_path / "a", "ext::sh -c 'touch /tmp/letta-pwned'")
    head, before = a.repo.head(), refs(a)
    with pytest.raises(SyncError, match="remote helper ext::"):
        a.sync()
    assert a.repo.head() == head and refs(a) == before
    assert not Path("/tmp/letta-pwned").exists()


def test_concurrent_local_writes_during_a_sync_lose_nothing(pair, remote):
    a, b = pair
    for n in range(3):
        b.write(f"reference/b{n}.md", doc(f"From b {n}", f"b fact {n}\n"), f"b fact {n}")
    b.write("notes.md", NOTES.replace("line 5\n", "line 5: b\n"), "b's line")
    b.sync()
    a.write("notes.md", NOTES.replace("line 5\n", "line 5: a\n"), "a's line")
    written: list[str] = []
    stop = threading.Event()

    def resolver(path: str, base, ours: str, theirs: str) -> None:
        # runs while the merge is computed, without the lock: a write lands under the merge's feet
        a.write("reference/during-merge.md", doc("mid-merge", "written while merging\n"), "mid-merge write")
        written.append("reference/during-merge.md")

    def writer(name: str) -> None:
        n = 0
        while not stop.is_set() and n < 40:
            path = f"reference/{name}-{n}.md"
            a.write(path, doc(f"{name} {n}", f"{name} wrote {n}\n"), f"{name} {n}")
            written.append(path)
            n += 1

    def progress(message: str, _percent: int | None) -> None:  # a write in the middle of each stage, surely
        if message.startswith(("merging", "pushing")):
            path = f"reference/at-{message.split()[0]}.md"
            a.write(path, doc("mid-sync", "written mid-sync\n"), "mid-sync write")
            written.append(path)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("agent", "user")]
    for thread in threads:
        thread.start()
    try:
        result = a.sync(progress=progress, resolver=resolver)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert result.pulled == 4 and result.conflicts == ("notes.md",)
    assert result.outcomes[0].attempts >= 2  # the merge saw main move and was made again on top
    assert "line 5: a" in a.text("notes.md") and "line 5: b" in a.text("notes.md")
    snapshot = a.repo.snapshot()
    assert all(path in snapshot for path in written) and len(written) >= 2
    assert all(f"reference/b{n}.md" in snapshot for n in range(3))
    assert tracked_changes(a.repo) == ""
    a.sync()
    b.sync()
    assert all(path in b.repo.snapshot() for path in written)
    fsck(a.repo)


def test_two_syncs_of_one_memory_at_once_take_turns(pair, remote):
    a, b = pair
    b.write("reference/b.md", doc("From b", "b's fact\n"), "b's fact")
    b.sync()
    a.write("reference/a.md", doc("From a", "a's fact\n"), "a's fact")
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(a.sync())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and sum(r.pulled for r in results) == 1 and sum(r.pushed for r in results) == 2
    assert remote_main(remote.bare) == a.repo.head()


def test_a_sync_with_nothing_new_changes_nothing(pair):
    a, _b = pair
    head = a.repo.head()
    result = a.sync()
    assert (result.pushed, result.pulled, result.changed, result.head) == (0, 0, (), head)
    assert a.repo.rev_parse(tracking_ref(parse_remote(a.session.settings.sync.remote))) == head
