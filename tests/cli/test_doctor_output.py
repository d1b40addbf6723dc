"""The doctor's report as a program reads it: complete JSON however large, the same findings as the audit, and
the process's exit status, now that ``letta-ls doctor`` ends without the interpreter's teardown and lays its
JSON out itself (``letta_ls.cli.readable_json``)."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from letta_ls.cli.common import readable_json
from letta_ls.doctor import audit
from letta_ls.memfs.snapshot import MemorySnapshot

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(JSON_VALUES)
def test_the_laid_out_json_reads_back_as_the_same_value(value):
    assert json.loads(readable_json(value)) == value


def test_each_finding_is_one_line_of_its_own():
    text = readable_json({"findings": [{"path": "a.md", "fix": {"title": "x"}}, {"path": "b.md"}], "tokens": {}})
    lines = text.splitlines()
    assert '    {"path": "a.md", "fix": {"title": "x"}},' in lines
    assert '    {"path": "b.md"}' in lines


def _memory(root, files: int) -> dict[str, str]:
    shared = ("This note repeats the team's release checklist word for word: tag the build, write the changelog, "
              "announce it in the channel, and wait a day before the rollout to every region. Ask the lead before "
              "skipping any step, and write down why in the release notes.")
    memory = {"system/persona.md": "---\ndescription: Who I am.\n---\nI am a careful coding agent.\n"}
    for i in range(files):
        body = shared if i % 3 == 0 else f"Note {i}: the service on port {8000 + i} restarts nightly."
        memory[f"reference/note-{i:04d}.md"] = f"---\ndescription: Note {i}.\n---\n{body}\n"
    for path, text in memory.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return memory


def test_a_large_report_through_a_pipe_is_complete_and_matches_the_audit(tmp_path):
    memory = _memory(tmp_path / "memory", 1500)
    done = subprocess.run([sys.executable, "-m", "letta_ls", "doctor", str(tmp_path / "memory"), "--format", "json"],
                          capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)  # the whole document arrived before the process ended
    expected = audit(MemorySnapshot.from_mapping(memory, head="a" * 40))
    assert [(f["path"], f["code"]) for f in report["findings"]] == [(f.path, f.code) for f in expected.findings]
    assert len(report["findings"]) == 500  # every third note holds the shared checklist
    assert report["tokens"]["total"] == expected.tokens.total
    assert done.returncode == (1 if expected.has_errors else 0)


def test_a_report_to_a_closed_pipe_exits_with_an_error_status(tmp_path):
    _memory(tmp_path / "memory", 1500)
    with subprocess.Popen([sys.executable, "-m", "letta_ls", "doctor", str(tmp_path / "memory"), "--format", "json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # the reader went away (``| head`` ended) before the report was written
        proc.wait(timeout=300)
    assert proc.returncode == 2
