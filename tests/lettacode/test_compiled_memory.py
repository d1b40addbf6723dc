"""The memory section letta-ls compiles equals the one Letta Code's own renderer (``renderMemfsProjection``
in its bundle) produces for the same committed repository, except the differences the README lists on
purpose (external files carry their descriptions; a description wholly in quotes loses them)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from letta_ls.memfs.compile import compile_memory
from letta_ls.memfs.repo import MemoryRepo
from tests.conftest import AGENT
from tests.lettacode.oracle import HERE, LettaCode

MEMORY = {
    "system/persona.md": "---\ndescription: Who I am\n---\nI am a careful agent.\n",
    "system/human.md": "---\ndescription: What I know about the user\n---\n\nLikes short answers.\n",
    # as Letta Code's memory tool writes it: unquoted, a colon and backticks
    "system/human/tooling.md": "---\ndescription: Tooling: package manager and build prefs\n---\nUses pnpm.\n",
    "system/project.md": "---\ndescription: `pnpm` workspace notes\nlimit: legacy\n---\nWorkspaces.\n",
    "system/style.md": '---\ndescription: "pnpm" first, then make\n  an indented extra line\n---\nTerse.\n',
    "system/crlf.md": "---\r\ndescription: Windows file\r\n---\r\nLine one.\r\nLine two.\r\n",
    "reference/api.md": "---\ndescription: API notes\n---\nGET /x\n",
    "notes/ideas.md": "---\ndescription: Ideas\n---\nMore.\n",
}


def letta_code_render(letta_code: LettaCode, memory: Path) -> str:
    done = subprocess.run(
        [str(letta_code.node_bin / "node"), str(HERE / "render_memory.mjs"), str(letta_code.letta_js.parent),
         str(memory)], capture_output=True, text=True, timeout=120, env=letta_code.env(), check=True,
    )
    return json.loads(done.stdout)


def test_compiled_memory_equals_letta_codes_renderer(letta_code: LettaCode, tmp_path: Path):
    repo = MemoryRepo.create(tmp_path / "memory", MEMORY, AGENT)
    theirs = letta_code_render(letta_code, repo.path)
    ours = compile_memory(repo.snapshot()).text
    # deliberate: letta-ls lists external files with their descriptions
    ours_without_descriptions = re.sub(r"(\.md) \([^)\n]*\)$", r"\1", ours, flags=re.M)
    assert ours_without_descriptions == theirs
    assert "<description>Tooling: package manager and build prefs</description>" in ours
    assert '<description>"pnpm" first, then make</description>' in ours
    assert "---" not in ours  # never frontmatter in the prompt
