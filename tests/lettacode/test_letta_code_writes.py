"""Memory Letta Code's own memory tool wrote in real headless turns (``headless.py``), read by letta-ls:
the doctor finds no error, letta-ls reads every description the tool wrote, and the memory section
letta-ls compiles equals Letta Code's own renderer's (``render_memory.mjs``) for the same repository,
except the one difference the README lists on purpose (external files carry their descriptions)."""

from __future__ import annotations

import re

from letta_ls.memfs.compile import compile_memory
from letta_ls.memfs.repo import MemoryRepo
from tests.lettacode.headless import DESCRIPTIONS, LettaCodeMemory
from tests.lettacode.oracle import LettaCode
from tests.lettacode.test_agreement import doctor_json
from tests.lettacode.test_compiled_memory import letta_code_render


def test_letta_codes_tool_wrote_every_file(written: LettaCodeMemory):
    assert not [r for r in written.tool_results if "error" in r.lower()], written.tool_results
    for path in DESCRIPTIONS:
        assert (written.memory / path).is_file(), path
    assert (written.memory / "system/human.md").is_file()  # the default beside system/human/
    assert not (written.memory / "reference/draft.md").exists()  # renamed
    assert "Bullet points welcome." in (written.memory / "system/style.md").read_text()
    assert "libs/*" in (written.memory / "system/project.md").read_text()


def test_doctor_finds_no_error_in_memory_letta_code_wrote(written: LettaCodeMemory):
    report = doctor_json(written.memory)
    assert not [f for f in report["findings"] if f["severity"] == "error"], report["findings"]


def test_letta_ls_reads_the_descriptions_the_tool_wrote(written: LettaCodeMemory):
    snapshot = MemoryRepo(written.memory).snapshot()
    read = {path: snapshot.files[path].document.description for path in DESCRIPTIONS}
    assert read == DESCRIPTIONS


def test_compiled_memory_equals_letta_codes_renderer_for_what_it_wrote(letta_code: LettaCode,
                                                                       written: LettaCodeMemory):
    theirs = letta_code_render(letta_code, written.memory)
    ours = compile_memory(MemoryRepo(written.memory).snapshot()).text
    assert re.sub(r"(\.md) \([^)\n]*\)$", r"\1", ours, flags=re.M) == theirs
    assert "---" not in ours
    for path in ("system/human/tooling.md", "system/project.md", "system/style.md"):
        assert f"<description>{DESCRIPTIONS[path]}</description>" in ours
