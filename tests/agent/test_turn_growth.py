"""A memory write and the prompt of the step after it run as much Python on a memory of 4,000 files as on one of
400 (issue 14: the chat turn's curve grew from 2,000 to 10,000 files because that step compared every path of the
new ``HEAD`` with the last one's, scanned every path for skills and listed every path and blob for the compile
cache). Python lines are counted, so what is left per path is work in C (a copy of a mapping), not a loop."""

from __future__ import annotations

from pathlib import Path

from letta_ls.agent.runtime import AgentRuntime
from letta_ls.home import Home
from letta_ls.memfs.compile import _render, compile_memory
from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.memfs.tree import tree_limits
from letta_ls.session import Session
from tests.memfs.compile_memories import notes_memory, python_lines

AUTHOR = Author("Test", "test@example.com")


def _write_and_next_prompt(root: Path, notes: int) -> tuple[int, int, str, AgentRuntime]:
    """Lines run by an agent's memory write on a memory of ``notes`` notes, and by the next step's prompt."""
    home = Home(root)
    agent = home.create_agent("Growth")
    home.use_agent(agent.id)
    files = notes_memory(notes, {"system/human.md": "---\ndescription: The user.\n---\nDana.\n"})
    files["skills/deploy/SKILL.md"] = "---\nname: deploy\ndescription: Ship a release.\n---\nRun make release.\n"
    MemoryRepo(agent.memory_dir).commit({p: t.encode() for p, t in files.items()}, "memory", AUTHOR)
    runtime = AgentRuntime(Session(home), None)
    operations = runtime.session.operations("agent")
    for number in (1, 2):  # the first write and prompt warm what a running process has warm
        runtime.system_prompt("default", number)
        write = python_lines(lambda n=number: operations.create(f"reference/chat/new-{n}.md", f"New note {n}.",
                                                                "The build uses two workers.\n", "remember it"))
        prompt = python_lines(lambda n=number: runtime.system_prompt("default", n))
    return write, prompt, runtime.system_prompt("default", 3), runtime


def test_a_write_and_the_next_prompt_run_as_much_python_on_4000_files_as_on_400(tmp_path: Path) -> None:
    small_write, small_prompt, _, _ = _write_and_next_prompt(tmp_path / "small", 400)
    big_write, big_prompt, text, runtime = _write_and_next_prompt(tmp_path / "big", 4_000)
    assert big_prompt <= small_prompt * 1.25 + 200, f"prompt: {small_prompt} -> {big_prompt} lines"
    assert big_write <= small_write * 1.25 + 200, f"write: {small_write} -> {big_write} lines"
    assert "new-2.md (New note 2.)" in text and "deploy" in text
    kept = runtime.session.repo.snapshot()
    fresh = Session(runtime.session.home).repo.snapshot()  # a new repository object: read from git
    assert list(kept.files) == list(fresh.files)
    assert compile_memory(kept).text == _render(fresh, tree_limits()).text
