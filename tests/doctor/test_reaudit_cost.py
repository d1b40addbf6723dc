"""What a re-audit re-checks after a commit that adds a file: only the new file, for the checks that never read
the set of paths (size, placement, secrets); the checks that do (structure, frontmatter, links) run again on
every file, and the findings stay those of an audit from scratch."""

from __future__ import annotations

import sys
from collections import Counter

from letta_ls.doctor import audit
from letta_ls.memfs.snapshot import MemorySnapshot

AUDIT = sys.modules["letta_ls.doctor.audit"]  # the package re-exports the function under the module's name


def _memory(files: int) -> dict[str, str]:
    memory = {"system/persona.md": "---\ndescription: Who I am.\n---\nI am a careful coding agent.\n"}
    for i in range(files):
        memory[f"reference/note-{i:03d}.md"] = (f"---\ndescription: Note {i}.\n---\nThe service on port {8000 + i} "
                                               f"restarts nightly; see [[reference/note-{(i + 1) % files:03d}]].\n")
    return memory


def _counting(checks, calls: Counter):
    def wrap(check):
        def counted(ctx, file):
            calls[(check.__module__, file.path)] += 1
            return check(ctx, file)
        return counted
    return tuple(wrap(check) for check in checks)


def test_a_new_file_reruns_the_path_free_checks_on_itself_only(monkeypatch):
    memory = _memory(300)
    audit(MemorySnapshot.from_mapping(memory, head="a" * 40))
    calls: Counter = Counter()
    monkeypatch.setattr(AUDIT, "_PATH_FREE_CHECKS", _counting(AUDIT._PATH_FREE_CHECKS, calls))
    grown = {**memory, "reference/new.md": "---\ndescription: New.\n---\nA link to [[reference/note-007]].\n"}
    snapshot = MemorySnapshot.from_mapping(grown, head="b" * 40)
    found = audit(snapshot)
    assert {path for _module, path in calls} == {"reference/new.md"}
    assert len(calls) == 3  # size, placement and secrets, once each
    assert found.findings == audit(snapshot, incremental=False).findings
