"""Size checks: file-oversized (own limit or the setting, split offered at headings) and system-over-budget."""

from __future__ import annotations

from letta_ls.doctor import audit
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import TokenCounter
from letta_ls.settings import MemorySettings
from tests.doctor.memory_fixtures import HEALTHY

ESTIMATE = TokenCounter("estimate", False, None)  # tokens = ceil(UTF-8 bytes / 4): easy to reason about


def run(files, settings=None):
    return audit(MemorySnapshot.from_mapping({**HEALTHY, **files}), settings, ESTIMATE).findings


def sections(n: int, size: int = 400) -> str:
    return "".join(f"## Section {i}\n\n" + ("Detail about the ledger. " * (size // 25)) + "\n\n" for i in range(n))


def test_over_its_own_limit_reported_at_the_limit_key():
    text = "---\ndescription: Build notes.\nlimit: 50\n---\n" + sections(3)
    (f,) = run({"reference/build.md": text})
    assert (f.code, f.severity, f.line) == ("file-oversized", "warning", 2)
    assert "its `limit` of 50" in f.message
    assert f.fix is not None and f.fix.kind == "split" and f.fix.data == {"level": 2, "sections": 3}


def test_over_the_file_token_limit_setting():
    text = "---\ndescription: Build notes.\n---\n" + sections(2)
    assert run({"reference/build.md": text}) == []
    found = run({"reference/build.md": text}, MemorySettings(fileTokenLimit=100))
    (f,) = [f for f in found if f.path == "reference/build.md"]
    assert (f.code, f.line) == ("file-oversized", 0)
    assert {f.code for f in found} == {"file-oversized"}  # the healthy files over 100 tokens too
    assert "`memory.fileTokenLimit` of 100" in f.message


def test_a_limit_above_the_setting_wins():
    text = "---\ndescription: Big on purpose.\nlimit: 100000\n---\n" + sections(2)
    found = run({"reference/build.md": text}, MemorySettings(fileTokenLimit=100))
    assert "reference/build.md" not in {f.path for f in found}


def test_split_is_offered_only_with_two_headings_at_one_level():
    one = "---\ndescription: One section.\nlimit: 20\n---\n# Title\n\n" + "Long text. " * 50 + "\n"
    (f,) = run({"reference/one.md": one})
    assert f.code == "file-oversized" and f.fix is None
    nested = "---\ndescription: Nested.\nlimit: 20\n---\n# Title\n\n" + sections(2)
    (f,) = run({"reference/nested.md": nested})
    assert f.fix is not None and f.fix.data["level"] == 2


def test_headings_inside_code_blocks_do_not_count():
    text = "---\ndescription: Code.\nlimit: 20\n---\n```bash\n# comment\n# another\n```\n" + "x " * 200 + "\n"
    (f,) = run({"reference/code.md": text})
    assert f.fix is None


def test_system_over_budget_lands_on_the_largest_files():
    big = {f"system/project/area-{i}.md": "---\ndescription: Area notes.\n---\n" + "y" * (400 * (i + 1)) + "\n"
           for i in range(4)}
    found = run(big, MemorySettings(systemTokenBudget=1000))
    budget = [f for f in found if f.code == "system-over-budget"]
    # ~1,600 system tokens in all: area-3 (410) and area-2 (310) cover the excess; smaller files are not blamed
    assert [f.path for f in budget] == ["system/project/area-2.md", "system/project/area-3.md"]
    assert all("over the 1,000-token budget" in f.message for f in budget)
    assert {f.code for f in found} == {"system-over-budget"}


def test_within_budget_nothing_is_reported():
    assert run({}, MemorySettings(systemTokenBudget=10_000)) == []


def test_a_memfs_v2_memorys_root_files_count_against_the_system_budget():
    """In MemFS v2 (a root MEMORY.md) the root files are what Letta Code keeps in context."""
    files = {"MEMORY.md": "# Memory\n", "projects/MEMORY.md": "# Projects\n",
             "projects/deferred.md": '---\nname: "D"\ndescription: "Deferred"\n---\n' + "z" * 8000 + "\n"}
    files |= {f"core-{i}.md": f'---\nname: "C{i}"\ndescription: "Core {i}"\n---\n' + "y" * (400 * (i + 1)) + "\n"
              for i in range(4)}
    report = audit(MemorySnapshot.from_mapping(files), MemorySettings(systemTokenBudget=1000), ESTIMATE)
    assert report.tokens.system == sum(tokens for path, tokens in report.tokens.files if "/" not in path)
    budget = [f.path for f in report.findings if f.code == "system-over-budget"]
    # ~1,050 tokens in context: core-3 (411) covers the excess; the deferred file, though larger, is not in context
    assert budget == ["core-3.md"]
    (message,) = [f.message for f in report.findings if f.code == "system-over-budget"]
    assert message.startswith("The root files are 1,0")
