"""The write guard's cost grows with what a write touches, not with the memory (issue 14), and it refuses
exactly what the whole-memory comparison refuses.

``reference_new_errors`` is the guard as it was: audit the whole memory before and after the change and
report the error findings (by file and code) that are new. The guard must give the same answer on every
change of a random history over a pool of texts that makes the layout move (a root ``MEMORY.md`` turning
the memory into MemFS v2, folder indexes, a ``.memfs.config.json``, flat skills, broken frontmatter) and
with settings that grade cross-file codes (links, duplicates, name clashes, the budget) as errors.
"""

from __future__ import annotations

import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_ls.doctor import audit
from letta_ls.doctor.guard import memory_change_guard, new_errors
from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.settings import MemorySettings
from tests.conftest import AGENT, SEED
from tests.doctor.memory_fixtures import HEALTHY, with_change


def reference_new_errors(before: MemorySnapshot, after: MemorySnapshot, memory_settings: MemorySettings) -> list[str]:
    def errors(snapshot: MemorySnapshot) -> list:
        return [f for f in audit(snapshot, memory_settings, incremental=False).findings
                if f.severity == "error" and f.code != "secret"]

    existing = {(f.path, f.code) for f in errors(before)}
    return [f"{f.path} line {f.line + 1}: {f.message} [{f.code}]" for f in errors(after)
            if (f.path, f.code) not in existing]


class CheckedPaths:
    """Records the file every doctor ``check_file`` is called on while active (a profile hook, so it sees
    every per-file check however the doctor reaches it)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def _hook(self, frame, event, _arg) -> None:
        if event == "call" and frame.f_code.co_name == "check_file" and \
                frame.f_globals.get("__name__", "").startswith("letta_ls.doctor.checks"):
            file = frame.f_locals.get("file")
            if file is not None:
                self.paths.append(file.path)

    def __enter__(self) -> CheckedPaths:
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(None)


def _notes(n: int) -> dict[str, str]:
    return {f"reference/topic-{i}/note-{i}.md": f"---\ndescription: Note {i}.\n---\nFact number {i} about the build.\n"
            for i in range(n)}


def test_an_agent_write_checks_only_the_written_file(tmp_path):
    repo = MemoryRepo.create(tmp_path / "m", {**SEED, **_notes(300)}, AGENT)
    ops = MemoryOperations(repo, AGENT, actor="agent", guard=memory_change_guard(MemorySettings()))
    with CheckedPaths() as checked:
        ops.create("reference/chat/new.md", "What the user said.", "The build uses two workers.\n", reason="remember")
    assert repo.read("reference/chat/new.md") is not None
    assert set(checked.paths) == {"reference/chat/new.md"}


def test_an_agent_edit_checks_only_the_edited_file(tmp_path):
    repo = MemoryRepo.create(tmp_path / "m", {**SEED, **_notes(300)}, AGENT)
    ops = MemoryOperations(repo, AGENT, actor="agent", guard=memory_change_guard(MemorySettings()))
    with CheckedPaths() as checked:
        ops.str_replace("reference/topic-7/note-7.md", "Fact number 7", "Fact seven", reason="reword")
    assert set(checked.paths) == {"reference/topic-7/note-7.md"}


PARAGRAPH = (
    "Settlement runs every night at 02:00 UTC. The job reads captured payments from the ledger, groups "
    "them by merchant and currency, and writes one payout instruction per group to the bank adapter, "
    "which retries failed transfers three times before paging the on-call engineer."
)
BIG = "\n\n".join(f"Paragraph {i} of standing rules about the deploy window and the freeze." for i in range(40))
V2_NOTE = '---\nname: "Notes"\ndescription: "What I keep"\n---\nBody.\n'

POOL_PATHS = ["system/project/a.md", "system/project/b.md", "reference/c.md", "reference/c/d.md", "MEMORY.md",
              "reference/MEMORY.md", "skills/flat.md", "skills/tool/SKILL.md", ".memfs.config.json", "notes/x.md",
              "system/persona.md", "system/human.md"]
POOL_TEXTS = [
    f"---\ndescription: A note.\n---\n{PARAGRAPH}\n",
    f"---\ndescription: Another note.\n---\nIntro.\n\n{PARAGRAPH}\n",
    "---\ndescription: Links.\n---\nSee [[reference/e]] and [[system/project/a.md]].\n",
    f"---\ndescription: Big.\n---\n{BIG}\n",
    "No frontmatter at all, and a link to [[reference/f]].\n",
    "---\ndescription: Unclosed.\nmore: x\n",
    "---\nname: tool\ndescription: A skill.\n---\nRun it.\n",
    "# Memory\n\nThe index.\n",
    V2_NOTE,
    '{"maxDepth": 1, "maxFileCharacters": 200}\n',
    None,  # delete the file
]
CROSS_FILE_CODES = ["link-broken", "duplicate-content", "name-clash", "system-over-budget", "persona-missing",
                    "skill-invalid", "misplaced-in-system", "file-oversized"]

histories = st.lists(
    st.dictionaries(st.sampled_from(POOL_PATHS), st.sampled_from(range(len(POOL_TEXTS))), min_size=1, max_size=3),
    min_size=1, max_size=5,
)
gradings = st.dictionaries(st.sampled_from(CROSS_FILE_CODES), st.sampled_from(["error", "warning", "off"]),
                           max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, grading=gradings, small_budget=st.booleans())
def test_the_guard_refuses_what_the_whole_memory_comparison_refuses(history, grading, small_budget):
    memory_settings = MemorySettings(systemTokenBudget=600 if small_budget else 20_000, diagnostics=grading)
    files: dict[str, str | bytes] = dict(HEALTHY)
    before = MemorySnapshot.from_mapping(files, head="1" * 40)
    for step, change in enumerate(history):
        after_files = with_change(files, change, POOL_TEXTS)
        after = MemorySnapshot.from_mapping(after_files, head=before.head)  # a write is judged before its commit
        written = list(change) if step % 2 == 0 else None  # None: the guard finds the changed paths itself
        assert new_errors(before, after, memory_settings, written) == \
            reference_new_errors(before, after, memory_settings)
        files = after_files
        before = MemorySnapshot.from_mapping(files, head=f"{step + 2:040x}")
