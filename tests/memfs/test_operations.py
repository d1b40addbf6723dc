import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.memfs.frontmatter import parse_document
from letta_ls.memfs.operations import MemoryOperations, MemoryToolError
from letta_ls.memfs.repo import Author, StaleVersionError
from tests.conftest import AGENT

USER = Author("Dana", "dana@example.com")


@pytest.fixture
def ops(repo):
    return MemoryOperations(repo, AGENT, actor="agent")


def last_commit(repo):
    entry = repo.history(limit=1)[0]
    return entry.message, entry.author


def test_create_writes_frontmatter_and_commits_with_the_reason(ops, repo):
    result = ops.create("project/build", "How to build and test", "Use `make test`.", reason="learned the build")
    assert result.paths == ("project/build.md",)
    text = repo.read("project/build.md").text
    assert text == "---\ndescription: How to build and test\n---\nUse `make test`.\n"
    assert last_commit(repo) == ("learned the build", "Test Agent")
    assert "committed" in result.message and result.commit[:7] in result.message


def test_a_skill_created_with_the_memory_tool_is_a_valid_skill(repo):
    from letta_ls.doctor.guard import memory_change_guard
    from letta_ls.settings import MemorySettings

    guarded = MemoryOperations(repo, AGENT, actor="agent", guard=memory_change_guard(MemorySettings()))
    guarded.create("skills/deploy/SKILL.md", "This skill should be used when deploying.", "Run make ship.",
                   reason="a deploy skill")
    doc = parse_document(repo.read("skills/deploy/SKILL.md").text)
    assert doc.fields["name"] == "deploy" and doc.description == "This skill should be used when deploying."


def test_create_refuses_an_existing_file(ops):
    with pytest.raises(MemoryToolError, match="already exists"):
        ops.create("system/human.md", "d", "x", reason="r")


def test_every_change_needs_a_reason(ops, repo):
    head = repo.head()
    with pytest.raises(MemoryToolError, match="reason is required"):
        ops.create("a.md", "d", "x", reason="  ")
    assert repo.head() == head


def test_str_replace_needs_exactly_one_occurrence(ops, repo):
    ops.create("notes.md", "n", "apple\nbanana\napple\n", reason="r")
    with pytest.raises(MemoryToolError, match="occurs 2 times"):
        ops.str_replace("notes.md", "apple", "pear", reason="r")
    with pytest.raises(MemoryToolError, match="not found"):
        ops.str_replace("notes.md", "cherry", "pear", reason="r")
    ops.str_replace("notes.md", "banana", "kiwi", reason="swap fruit")
    assert parse_document(repo.read("notes.md").text).body == "apple\nkiwi\napple\n"


def test_str_replace_never_touches_frontmatter(ops, repo):
    ops.create("notes.md", "mentions description here", "body only\n", reason="r")
    with pytest.raises(MemoryToolError, match="not found"):
        ops.str_replace("notes.md", "mentions description", "x", reason="r")


def test_insert_at_top_middle_and_end(ops, repo):
    ops.create("list.md", "a list", "one\ntwo\n", reason="r")
    ops.insert("list.md", 0, "zero", reason="r")
    ops.insert("list.md", 2, "one and a half", reason="r")
    ops.insert("list.md", 99, "three", reason="r")
    assert parse_document(repo.read("list.md").text).body == "zero\none\none and a half\ntwo\nthree\n"
    with pytest.raises(MemoryToolError, match="whole number"):
        ops.insert("list.md", -1, "x", reason="r")


def test_delete_file_and_folder(ops, repo):
    ops.create("ref/a.md", "a", "a", reason="r")
    ops.create("ref/b/c.md", "c", "c", reason="r")
    ops.delete("ref/a.md", reason="gone")
    ops.delete("ref", reason="all gone")
    assert not [p for p in repo.snapshot().files if p.startswith("ref/")]
    with pytest.raises(MemoryToolError, match="does not exist"):
        ops.delete("ref", reason="again")


def test_rename_moves_files_and_folders_but_never_overwrites(ops, repo):
    ops.create("draft.md", "d", "x", reason="r")
    ops.rename("draft.md", "system/style.md", reason="promote")
    assert "system/style.md" in repo.snapshot() and "draft.md" not in repo.snapshot()
    with pytest.raises(MemoryToolError, match="already exists"):
        ops.rename("system/style.md", "system/human.md", reason="r")
    ops.create("ref/x/a.md", "a", "a", reason="r")
    ops.rename("ref/x", "archive/x", reason="archive")
    assert "archive/x/a.md" in repo.snapshot()


def test_update_description_keeps_unknown_keys(ops, repo):
    repo.commit({"t.md": b"---\ndescription: old\ncustom: {keep: me}\n---\nbody\n"}, "seed", USER)
    ops.update_description("t.md", "new\nline", reason="clarify")
    assert repo.read("t.md").text == "---\ndescription: new line\ncustom: {keep: me}\n---\nbody\n"


def test_read_only_files_refuse_the_agent_but_not_the_user(repo):
    repo.commit({"system/rules.md": b"---\ndescription: rules\nread_only: true\n---\nbe nice\n"}, "seed", USER)
    agent = MemoryOperations(repo, AGENT, actor="agent")
    for call in (
        lambda: agent.str_replace("system/rules.md", "be nice", "be mean", reason="r"),
        lambda: agent.delete("system/rules.md", reason="r"),
        lambda: agent.rename("system/rules.md", "x.md", reason="r"),
        lambda: agent.update_description("system/rules.md", "x", reason="r"),
        lambda: agent.insert("system/rules.md", 0, "x", reason="r"),
        lambda: agent.delete("system", reason="r"),
    ):
        with pytest.raises(MemoryToolError, match="read_only"):
            call()
    user = MemoryOperations(repo, USER, actor="user")
    user.write_file("system/rules.md", "---\ndescription: rules\n---\nbe kind\n", reason="user edit")
    assert repo.read("system/rules.md").text.endswith("be kind\n")


def test_agent_may_not_set_read_only(ops):
    with pytest.raises(MemoryToolError, match="read_only key"):
        ops.write_file("system/human.md", "---\ndescription: d\nread_only: true\n---\nx\n")


def test_write_file_with_stale_base_version_loses_nothing(repo):
    user = MemoryOperations(repo, USER, actor="user")
    base = repo.read("system/human.md").blob
    MemoryOperations(repo, AGENT).str_replace("system/human.md", "short answers", "long answers", reason="agent")
    with pytest.raises(StaleVersionError):
        user.write_file("system/human.md", "---\ndescription: d\n---\nmine\n", base_version=base)
    assert "long answers" in repo.read("system/human.md").text
    fresh = repo.read("system/human.md").blob
    result = user.write_file("system/human.md", "---\ndescription: d\n---\nmine\n", base_version=fresh)
    assert result.versions["system/human.md"] == repo.read("system/human.md").blob


def test_save_of_unchanged_text_is_not_a_commit(repo):
    user = MemoryOperations(repo, USER, actor="user")
    head = repo.head()
    result = user.write_file("system/human.md", repo.read("system/human.md").text)
    assert result.commit is None and repo.head() == head


def test_bad_inputs_get_actionable_errors_and_change_nothing(ops, repo):
    head = repo.head()
    bad = [
        ({"command": "create", "file_path": "../escape.md", "description": "d", "reason": "r"}, "'..'"),
        ({"command": "create", "file_path": "/etc/x.md", "description": "d", "reason": "r"}, "inside the memory"),
        ({"command": "create", "file_path": "a.md", "reason": "r"}, "description is required"),
        ({"command": "explode", "reason": "r"}, "unknown memory command"),
        ({"command": "view", "file_path": "nope.md"}, "does not exist"),
        ({"command": "create", "file_path": "big.md", "description": "d", "file_text": "x" * 2_000_000,
          "reason": "r"}, "capped"),
    ]
    for args, message in bad:
        with pytest.raises(MemoryToolError, match=message):
            ops.run_tool(args)
    with pytest.raises(MemoryToolError, match="not UTF-8"):
        MemoryOperations(repo, USER, actor="user").write_file("x.md", b"\xff\xfe binary")
    assert repo.head() == head


def test_view_lists_folders_with_descriptions_and_numbers_file_lines(ops):
    listing = ops.view("system")
    assert "- system/human.md: What I know about the user." in listing
    assert ops.view("system/persona.md").splitlines()[1] == "    1\t---"
    assert "2 files" in ops.view("")


def test_guard_can_refuse_a_change(repo):
    def guard(before, after, paths, actor):
        return ["no shouting"] if "LOUD" in (after.get(paths[0]).text or "") else []

    ops = MemoryOperations(repo, AGENT, guard=guard)
    with pytest.raises(MemoryToolError, match="no shouting"):
        ops.create("x.md", "d", "LOUD", reason="r")
    assert "x.md" not in repo.snapshot()


def test_create_checks_for_a_folder_of_that_name_without_listing_every_folder(ops, repo, monkeypatch):
    """Issue 14: the agent's create on a 2,000-file memory built the set of all folders (~3 ms) to ask one
    question; it is answered by a bisection of the sorted paths, and a folder of that name still refuses."""
    from letta_ls.memfs.snapshot import MemorySnapshot

    ops.create("ref/v1.0/a.md", "a", "a", reason="r")

    def every_folder(self):
        raise AssertionError("the set of every folder was built")

    monkeypatch.setattr(MemorySnapshot, "folders", property(every_folder))
    with pytest.raises(MemoryToolError, match="already exists"):
        ops.create("ref/v1.0", "a folder's name", "x", reason="r")
    assert ops.create("ref/v1", "a shorter name", "x", reason="r").paths == ("ref/v1.md",)
    assert ops.create("ref/v1.0.txt", "beside the folder", "x", reason="r").paths == ("ref/v1.0.txt",)


_SEGMENTS = ["a", "b", "a.b", "a-b", "A", "a0", "é", "a b"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=3).map("/".join), max_size=12),
       st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=3).map("/".join))
def test_has_folder_is_membership_in_folders(paths, asked):
    from letta_ls.memfs.snapshot import MemorySnapshot

    snapshot = MemorySnapshot.from_mapping(dict.fromkeys(paths, "x"))
    assert MemorySnapshot.from_mapping(dict.fromkeys(paths, "x")).has_folder(asked) == (asked in snapshot.folders)
