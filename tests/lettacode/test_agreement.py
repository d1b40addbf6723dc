"""letta-ls doctor against the real Letta Code, case by case (the README's agreement table).

For each memory folder of ``cases.CASES`` Letta Code's own pre-commit hook gives the verdict (the folder
is committed through it), and ``letta-ls doctor --format json`` (a real subprocess) must agree:
accepted ⇒ no error; refused ⇒ an error that says "Letta Code will refuse to commit this". The cases
marked ``deliberate`` are differences letta-ls makes on purpose; for them the test asserts the
difference stays exactly what the README says (Letta Code refuses, letta-ls reports no error).
The memories Letta Code's own memory tool wrote in headless turns (``headless.py``) are cases too:
each file it wrote, beside the persona and human files of the same agent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lettacode.cases import CASES, Case
from tests.lettacode.headless import WRITTEN_PATHS, LettaCodeMemory
from tests.lettacode.oracle import LettaCode, write_files

REFUSED = "Letta Code will refuse to commit this"


def doctor_json(folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "letta_ls", "doctor", str(folder), "--format", "json"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ), check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert (done.returncode == 1) == bool(errors)
    return report


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_doctor_agrees_with_letta_codes_hook(case: Case, letta_code: LettaCode, tmp_path: Path):
    assert_doctor_agrees(case, letta_code, tmp_path)


@pytest.mark.parametrize("path", WRITTEN_PATHS)
def test_doctor_agrees_on_each_file_letta_codes_memory_tool_wrote(
    path: str, written: LettaCodeMemory, letta_code: LettaCode, tmp_path: Path
):
    files = {p: (written.memory / p).read_bytes() for p in ("system/persona.md", "system/human.md", path)}
    assert_doctor_agrees(Case(f"written-{path}", files, base=False), letta_code, tmp_path)


def assert_doctor_agrees(case: Case, letta_code: LettaCode, tmp_path: Path) -> None:
    verdict = letta_code.verdict(case.folder(), head=case.head)
    write_files(tmp_path, case.folder())
    errors = [f for f in doctor_json(tmp_path)["findings"] if f["severity"] == "error"]
    if case.deliberate:
        assert not verdict.accepted, f"the deliberate difference is gone: Letta Code accepts {case.id}"
        assert not errors, errors
        return
    if verdict.accepted:
        assert not errors, f"Letta Code accepts this folder, letta-ls errs: {errors}"
    else:
        said = [f for f in errors if REFUSED in f["message"]]
        assert said, f"Letta Code refuses ({verdict.message!r}) but letta-ls says nothing: {errors}"
