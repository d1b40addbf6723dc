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


def run_letta_code_script(letta_code: LettaCode, script: str, memory: Path):
    """Run one of our scripts over Letta Code's own bundle (``render_memory*.mjs``): its JSON answer."""
    done = subprocess.run(
        [str(letta_code.node_bin / "node"), str(HERE / script), str(letta_code.letta_js.parent), str(memory)],
        capture_output=True, text=True, timeout=120, env=letta_code.env(), check=True,
    )
    return json.loads(done.stdout)


def letta_code_render(letta_code: LettaCode, memory: Path) -> str:
    return run_letta_code_script(letta_code, "render_memory.mjs", memory)


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


# MemFS v2 (a root MEMORY.md index): Letta Code keeps every root Markdown file in context (MEMORY.md as the
# overview, persona.md as the identity, the rest as core memory) and projects only the files of child
# folders that carry their own MEMORY.md; skills/ and folders without an index are not memory.
MEMORY_V2 = {
    "MEMORY.md": "# Memory\n\n- [projects](projects/MEMORY.md): what I work on\n",
    "persona.md": '---\nname: "Persona"\ndescription: "Who I am"\n---\nI am a careful agent.\n',
    "notes.md": '---\nname: "Notes"\ndescription: "What I keep: a `list`"\n---\nBody of notes.\n',
    "human.md": '---\nname: "Human"\ndescription: "The user: \\"Ada\\""\n---\nLikes tea.\n',
    "projects/MEMORY.md": "# Projects\n\n- [x](x.md)\n",
    "projects/x.md": '---\nname: "X"\ndescription: "Project X"\n---\nX body.\n',
    "projects/unindexed/y.md": '---\nname: "Y"\ndescription: "Y"\n---\nY body.\n',
    "loose/l.md": '---\nname: "L"\ndescription: "Loose"\n---\nL body.\n',
    "skills/deploy/SKILL.md": "---\nname: deploy\ndescription: How to deploy\n---\nSteps.\n",
}


def letta_code_v2(letta_code: LettaCode, memory: Path) -> dict:
    return run_letta_code_script(letta_code, "render_memory_v2.mjs", memory)


def tree_paths(lines: list[str]) -> set[str]:
    """The file paths a box-drawing tree lists (either program's), without letta-ls's descriptions."""
    stack: list[str] = []
    out = set()
    for line in lines:
        match = re.match(r"^((?:│   |    )*)(?:├── |└── )(.+)$", line)
        if not match:
            continue
        depth = len(match.group(1)) // 4
        name = re.sub(r" \([^)]*\)$", "", match.group(2))
        del stack[depth:]
        if name.endswith("/"):
            stack.append(name[:-1])
        else:
            out.add("/".join([*stack, name]))
    return out


def test_compiled_memfs_v2_holds_what_letta_code_keeps_in_context(letta_code: LettaCode, tmp_path: Path):
    repo = MemoryRepo.create(tmp_path / "memory", MEMORY_V2, AGENT)
    theirs = letta_code_v2(letta_code, repo.path)
    compiled = compile_memory(repo.snapshot())
    ours = compiled.text

    in_context = set(theirs["inContext"])
    assert in_context == {"MEMORY.md", "persona.md", "notes.md", "human.md"}
    assert set(re.findall(r"<projection>\$MEMORY_DIR/([^<]+)</projection>", ours)) == in_context
    assert set(compiled.system_paths) == in_context
    for path in in_context:  # the same text in context, without its frontmatter
        body = MEMORY_V2[path].split("\n---\n", 1)[-1].strip()
        assert body in ours, path
    assert "<description>What I keep: a `list`</description>" in ours
    assert '<description>The user: "Ada"</description>' in ours
    assert "---" not in ours

    parent = theirs["parentMemory"]
    their_tree = parent.split("<memory_filesystem>\n", 1)[1].split("</memory_filesystem>", 1)[0].splitlines()
    our_tree = ours.split("<external_projection>\n", 1)[1].split("</external_projection>", 1)[0].splitlines()
    assert tree_paths(our_tree) == tree_paths(their_tree) - in_context == {"projects/MEMORY.md", "projects/x.md"}
    assert "projects/x.md" not in compiled.system_paths  # deferred: listed, not loaded
