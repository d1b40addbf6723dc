"""The command lines the README and docs/ show are run, so they stay true.

Every fenced ``sh``/``console`` block of README.md and docs/*.md with a line that starts with ``letta-ls`` or
``make`` runs here, line after line in one ``bash -e``, against a fresh letta-ls home and a scripted model,
and must exit 0. A block that is not meant to run (it opens an editor, needs npm...) is preceded by
``<!-- not-run: the reason -->``, and the reason must be there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import Script, scripted_openai

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = {"sh", "console", "bash", "shell"}
COMMANDS = ("letta-ls", "make")
NOT_RUN = re.compile(r"^<!--\s*not-run:(?P<reason>.*?)-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based, the opening fence
    language: str
    text: str
    not_run: str | None  # the reason given, when the block is marked

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def commands(self) -> list[str]:
        lines = [line.removeprefix("$ ") if self.language == "console" else line for line in self.text.splitlines()]
        return [line for line in lines if line.split(" ", 1)[0] in COMMANDS]


def fenced_blocks(path: Path) -> list[Block]:
    """Each fenced block with its language and the not-run mark on the line just before it, if any."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        mark = NOT_RUN.match(lines[index - 1]) if index else None
        blocks.append(Block(path, index + 1, fence.group(1), "\n".join(lines[index + 1:end]) + "\n",
                            mark.group("reason").strip() if mark else None))
        index = end + 1
    return blocks


def command_blocks() -> list[Block]:
    return [b for path in DOCS for b in fenced_blocks(path) if b.language in SHELLS and b.commands()]


RUNNABLE = [b for b in command_blocks() if b.not_run is None]


def test_the_docs_show_commands_and_every_block_left_out_says_why():
    blocks = command_blocks()
    assert len(RUNNABLE) >= 2, [b.name for b in blocks]
    assert any(b.path.name == "README.md" for b in RUNNABLE), "the README's tour should run"
    for block in blocks:
        if block.not_run is not None:
            assert len(block.not_run.split()) >= 3, f"{block.name}: say why it is not run"
    for path in DOCS:  # a mark that is not right above a command block marks nothing
        text = path.read_text(encoding="utf-8").splitlines()
        marked = {b.line - 1 for b in fenced_blocks(path) if b.not_run is not None}
        stray = [i + 1 for i, line in enumerate(text) if NOT_RUN.match(line) and i + 1 not in marked]
        assert not stray, f"{path.name}: not-run marks above no fenced block, lines {stray}"


def test_the_readme_starts_with_the_two_commands():
    first = next(b for b in fenced_blocks(ROOT / "README.md") if b.language in SHELLS)
    assert [c.split("#")[0].strip() for c in first.commands()] == ["make try", "make test"]


@pytest.fixture
def fresh_home(tmp_path: Path):
    """A letta-ls home whose model is a scripted OpenAI-compatible server; HOME moved, no keys, letta-ls on PATH."""
    home, workdir, bin_dir = tmp_path / "letta-home", tmp_path / "project", tmp_path / "bin"
    for folder in (home, workdir, bin_dir):
        folder.mkdir()
    shim = bin_dir / "letta-ls"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m letta_ls "$@"\n')
    shim.chmod(0o755)
    with scripted_openai(Script().text("Noted.").repeat_last()) as model:
        (home / "settings.json").write_text(json.dumps(
            {"model": {"provider": "openai", "name": "gpt-docs", "baseUrl": model.base_url}}))
        env = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}
        env.update(LETTA_LS_HOME=str(home), HOME=str(tmp_path), PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
                   GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="Docs Reader", GIT_AUTHOR_EMAIL="reader@example.com",
                   GIT_COMMITTER_NAME="Docs Reader", GIT_COMMITTER_EMAIL="reader@example.com")
        yield workdir, env


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_a_command_block_of_the_docs_runs(block: Block, fresh_home):
    workdir, env = fresh_home
    script = "set -eo pipefail\n" + "\n".join(f"echo '>>> {c}' >&2\n{c}" for c in block.commands()) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{block.name} failed:\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}"
    assert "Traceback" not in done.stderr, done.stderr
