import subprocess

import pytest

from letta_ls.memfs.repo import MemoryFileNotFoundError, MemoryRepo, StaleVersionError, user_author
from letta_ls.memfs.snapshot import git_blob_id
from tests.conftest import AGENT


def git(repo: MemoryRepo, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo.path, capture_output=True, text=True, check=True).stdout


def test_new_repository_is_on_main_with_one_commit_by_the_agent(repo):
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    log = git(repo, "log", "--format=%an <%ae>|%s")
    assert log.strip() == "Test Agent <agent-test@letta-ls.local>|chore: initialize memory"
    assert sorted(repo.snapshot().files) == ["system/human.md", "system/persona.md"]


def test_each_change_is_one_commit_with_the_reason_as_message(repo):
    result = repo.commit({"notes/a.md": b"---\ndescription: a\n---\nA\n", "notes/b.md": b"B"}, "add notes", AGENT)
    assert result.paths == ("notes/a.md", "notes/b.md")
    assert git(repo, "log", "-1", "--format=%s").strip() == "add notes"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["notes/a.md", "notes/b.md"]
    assert git(repo, "status", "--porcelain") == ""
    assert result.blobs["notes/b.md"] == git_blob_id(b"B") == git(repo, "rev-parse", "HEAD:notes/b.md").strip()


def test_identical_content_makes_no_commit(repo):
    head = repo.head()
    result = repo.commit({"system/human.md": repo.read("system/human.md").data}, "no-op", AGENT)
    assert result.commit is None and repo.head() == head


def test_deleting_a_folder_removes_every_file_in_it(repo):
    repo.commit({"ref/a.md": b"a", "ref/deep/b.md": b"b"}, "add", AGENT)
    repo.commit({"ref": None}, "drop ref", AGENT)
    assert not (repo.path / "ref").exists()
    assert "ref/a.md" not in repo.snapshot()
    with pytest.raises(MemoryFileNotFoundError):
        repo.commit({"ref": None}, "again", AGENT)


def test_stale_base_version_is_refused_and_loses_nothing(repo):
    loaded = repo.read("system/human.md").blob
    repo.commit({"system/human.md": b"---\ndescription: d\n---\nfrom the agent\n"}, "agent edit", AGENT)
    head = repo.head()
    with pytest.raises(StaleVersionError) as err:
        repo.commit({"system/human.md": b"---\ndescription: d\n---\nfrom the editor\n"}, "save", AGENT,
                    expect={"system/human.md": loaded})
    assert "reload" in str(err.value)
    assert repo.head() == head
    assert (repo.path / "system/human.md").read_text().endswith("from the agent\n")


def test_snapshot_reads_commits_not_the_working_tree(repo):
    (repo.path / "system/human.md").write_text("dirty, uncommitted")
    (repo.path / "stray.md").write_text("untracked")
    snap = repo.snapshot()
    assert snap.get("system/human.md").text.endswith("The user likes short answers.\n")
    assert "stray.md" not in snap


def test_commit_leaves_unrelated_dirty_files_alone(repo):
    (repo.path / "system/human.md").write_text("user is typing here")
    repo.commit({"notes/x.md": b"x"}, "agent note", AGENT)
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["notes/x.md"]
    assert (repo.path / "system/human.md").read_text() == "user is typing here"


@pytest.mark.parametrize("step", ["update-index", "write-tree", "commit-tree", "update-ref"])
def test_failed_commit_puts_the_working_tree_back(repo, monkeypatch, step):
    repo.commit({"notes/first.md": b"first"}, "a first commit, so the next takes the plumbing path", AGENT)
    original = repo._git

    def failing(*args, **kwargs):
        if args[0] == step:
            raise repo_error("simulated failure")
        return original(*args, **kwargs)

    from letta_ls.memfs.repo import MemoryRepoError as repo_error

    monkeypatch.setattr(repo, "_git", failing)
    with pytest.raises(repo_error):
        repo.commit({"system/human.md": b"new", "brand/new.md": b"n"}, "will fail", AGENT)
    monkeypatch.setattr(repo, "_git", original)
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo.path / "brand").exists()
    repo.commit({"brand/new.md": b"n"}, "and the next commit works", AGENT)
    assert git(repo, "status", "--porcelain") == "" and "brand/new.md" in repo.snapshot()


def test_history_restore_and_text_at_any_commit(repo):
    first = repo.head()
    repo.commit({"system/human.md": b"---\ndescription: d\n---\nv2\n"}, "v2", AGENT)
    repo.commit({"system/human.md": b"---\ndescription: d\n---\nv3\n"}, "v3", AGENT)
    history = repo.history("system/human.md")
    assert [h.message for h in history] == ["v3", "v2", "chore: initialize memory"]
    assert repo.read("system/human.md", history[1].commit).text.endswith("v2\n")
    restored = repo.restore(first, AGENT, ["system/human.md"])
    assert restored.commit and repo.read("system/human.md").text.endswith("short answers.\n")
    assert len(repo.history()) == 4  # restore is a new commit: history is never rewritten


def test_backup_is_a_ref_and_a_bundle_that_restore_brings_back(repo, tmp_path):
    ref = repo.backup(tmp_path / "backups", "pre-defrag")
    assert ref.startswith("refs/letta-backup/pre-defrag-")
    bundle = next((tmp_path / "backups").glob("*.bundle"))
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(bundle), str(clone)], check=True, capture_output=True)
    repo.commit({"system": None}, "oops, deleted system/", AGENT)
    repo.restore(ref, AGENT)
    assert sorted(repo.snapshot().files) == ["system/human.md", "system/persona.md"]
    assert repo.backups()[0][0] == ref


def test_user_author_falls_back_without_git_identity(tmp_path):
    assert user_author(tmp_path).name == "letta-ls user"


def test_stale_index_lock_of_a_dead_git_is_cleared(repo):
    import os
    import time

    lock = repo.git_dir / "index.lock"
    lock.write_text("")
    old = time.time() - 60
    os.utime(lock, (old, old))
    repo.commit({"x.md": b"x"}, "after a crash", AGENT)
    assert not lock.exists()


def test_unknown_revision_is_a_clear_error(repo):
    from letta_ls.memfs.repo import MemoryRepoError

    with pytest.raises(MemoryRepoError, match="unknown revision"):
        repo.snapshot("no-such-ref")


def test_changes_the_user_staged_by_hand_stay_out_of_memory_commits(repo):
    repo.commit({"a.md": b"a"}, "first", AGENT)  # the repo now knows its own index
    (repo.path / "system/human.md").write_text("staged by the user")
    git(repo, "add", "system/human.md")
    repo.commit({"b.md": b"b"}, "agent note", AGENT)
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["b.md"]
    assert git(repo, "diff", "--cached", "--name-only").split() == ["system/human.md"]
    assert repo.snapshot().get("system/human.md").text.endswith("short answers.\n")


@pytest.mark.parametrize("dirty_index", [False, True])
def test_a_reason_longer_than_a_command_line_allows_is_committed_whole(repo, dirty_index):
    """The reason is the commit message: past 128 KiB `git commit -m` fails with E2BIG, so it goes on stdin."""
    if dirty_index:  # someone else staged a file: the commit names its paths
        (repo.path / "theirs.md").write_text("staged by hand\n")
        subprocess.run(["git", "-C", str(repo.path), "add", "theirs.md"], check=True)
    reason = "why this note matters. " * 12_000  # 264 KB, as a CLI or the agent's tool may send
    result = repo.commit({"notes/long.md": b"---\ndescription: long\n---\nbody\n"}, reason, AGENT)
    message = subprocess.run(["git", "-C", str(repo.path), "log", "-1", "--format=%B", result.commit],
                             capture_output=True, text=True, check=True).stdout
    assert message.strip() == reason.strip()


def test_a_commit_does_not_run_git_commit_which_stats_every_file(repo, monkeypatch):
    """Issue 14: ``git commit`` refreshes the whole index (an lstat of every file: ~5 ms of a 2,000-file
    memory's ~15 ms commit); a memory commit stages its own paths, writes the tree from the index and moves
    ``main`` with plumbing, and leaves the same repository behind: index == HEAD, a reflog entry, the message
    as ``git commit`` cleans it, the author."""
    commands = _git_commands(monkeypatch)
    head = repo.head()
    repo.commit({"notes/a.md": b"A\n", "system/human.md": None}, "  add a note  \n\n\n\nwhy: \t\nbecause\n\n", AGENT)
    assert "commit" not in commands and "add" not in commands
    assert git(repo, "status", "--porcelain") == ""
    subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=repo.path, check=True)
    assert git(repo, "rev-parse", "HEAD^").strip() == head
    assert git(repo, "log", "-1", "--format=%B") == "  add a note\n\nwhy:\nbecause\n\n"
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "Test Agent <agent-test@letta-ls.local>"
    assert git(repo, "show", "--name-status", "--format=", "HEAD").split() == ["A", "notes/a.md", "D",
                                                                                "system/human.md"]
    assert "add a note" in git(repo, "reflog", "-1", "--format=%gs", "main")


def test_commits_in_a_worktree_move_its_own_branch_and_never_main(repo, tmp_path):
    """A dream commits in its own worktree on its own branch; main must not move until it is merged (or the
    user accepts its review)."""
    main_before = git(repo, "rev-parse", "main").strip()
    tree_path = tmp_path / "dream-tree"
    git(repo, "worktree", "add", "-q", "-b", "letta/dream/run-1", str(tree_path), "main")
    tree = MemoryRepo(tree_path)
    first = tree.commit({"reference/one.md": b"---\ndescription: One\n---\nOne.\n"}, "first", AGENT)
    second = tree.commit({"reference/two.md": b"---\ndescription: Two\n---\nTwo.\n"}, "second", AGENT)
    assert git(repo, "rev-parse", "main").strip() == main_before
    assert git(repo, "rev-parse", "letta/dream/run-1").strip() == second.commit
    assert git(repo, "rev-parse", "letta/dream/run-1~1").strip() == first.commit
    assert set(git(repo, "ls-tree", "-r", "--name-only", "letta/dream/run-1").split()) >= {
        "reference/one.md", "reference/two.md"}


def _git_commands(monkeypatch) -> list[str]:
    from letta_ls.memfs import repo as repo_module

    commands: list[str] = []
    real = repo_module.git_process

    def recording(cwd, args, env=None, input=None):
        commands.append(args[0])
        return real(cwd, args, env, input)

    monkeypatch.setattr(repo_module, "git_process", recording)
    return commands


def test_the_first_commit_after_a_start_takes_the_plumbing_path_when_the_index_is_head(repo, monkeypatch):
    """A server just started has made no commit of its own: its first save ran ``git commit`` (an lstat of every
    file, 60-80 ms on 10,000 files), the slowest save of the LSP bench. An index that stages exactly HEAD is
    adopted instead."""
    fresh = MemoryRepo(repo.path)  # another process's view of the same memory
    commands = _git_commands(monkeypatch)
    fresh.commit({"notes/a.md": b"A\n"}, "the first save after a start", AGENT)
    assert "commit" not in commands and "add" not in commands
    assert git(fresh, "status", "--porcelain") == ""
    assert git(fresh, "show", "--name-only", "--format=", "HEAD").split() == ["notes/a.md"]


def test_the_first_commit_after_a_start_leaves_what_the_user_staged_staged(repo, monkeypatch):
    (repo.path / "system/human.md").write_text("staged by the user")
    git(repo, "add", "system/human.md")
    fresh = MemoryRepo(repo.path)
    commands = _git_commands(monkeypatch)
    fresh.commit({"b.md": b"b"}, "agent note", AGENT)
    assert "commit" in commands  # the index is not HEAD's: only our path is committed, by `git commit -- path`
    assert git(fresh, "show", "--name-only", "--format=", "HEAD").split() == ["b.md"]
    assert git(fresh, "diff", "--cached", "--name-only").split() == ["system/human.md"]
