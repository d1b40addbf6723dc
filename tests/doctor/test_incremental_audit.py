"""Incremental audits (issue 14): after each commit of a random history, the findings of the incremental
audit (per-file findings kept by blob, the duplicate index updated by blob) equal a full audit's from scratch.

The pool of texts is chosen to make the cross-file checks move: duplicated and near-duplicated
paragraphs (``duplicate-content``), links that break and heal as files come and go (``link-broken``),
a file and a folder of the same name (``name-clash``), big ``system/`` files against a small budget
(``system-over-budget``), a root ``MEMORY.md`` that switches the memory to MemFS v2, missing
descriptions and a secret.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_ls.doctor import audit
from letta_ls.doctor.audit import AuditSuperseded
from letta_ls.doctor.checks import duplicate_index
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import get_token_counter
from letta_ls.settings import MemorySettings
from tests.doctor.memory_fixtures import HEALTHY, with_change

PARAGRAPH = (
    "Settlement runs every night at 02:00 UTC. The job reads captured payments from the ledger, groups "
    "them by merchant and currency, and writes one payout instruction per group to the bank adapter, "
    "which retries failed transfers three times before paging the on-call engineer."
)
EDITED = PARAGRAPH.replace("three times", "five times").replace("every night", "each night")
BIG = "\n\n".join(f"Paragraph {i} of standing rules about the deploy window and the freeze." for i in range(40))

PATHS = ["system/project/a.md", "system/project/b.md", "reference/c.md", "reference/c/d.md", "reference/e.md",
         "MEMORY.md", "reference/f.md"]
TEXTS = [
    f"---\ndescription: A note.\n---\n{PARAGRAPH}\n",
    f"---\ndescription: Another note.\n---\nIntro.\n\n{EDITED}\n",
    "---\ndescription: Links.\n---\nSee [[reference/e]] and [[system/project/a.md]].\n",
    f"---\ndescription: Big.\n---\n{BIG}\n",
    "No frontmatter at all, and a link to [[reference/f]].\n",
    "---\ndescription: Key.\n---\nThe key is sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7n" + "\n",
    None,  # delete the file
]
SMALL_BUDGET = MemorySettings(systemTokenBudget=600)

commits = st.lists(
    st.dictionaries(st.sampled_from(PATHS), st.sampled_from(range(len(TEXTS))), min_size=1, max_size=4),
    min_size=1, max_size=6,
)


def key(findings):
    return [(f.path, f.code, f.severity, f.line, f.end_line, f.message) for f in findings]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=commits, budget=st.booleans())
def test_incremental_audit_equals_a_full_audit_after_every_commit(history, budget):
    check_history(history, budget)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=commits)
def test_incremental_equals_full_when_anchor_buckets_cross_their_cap(history):
    """With the cap on an anchor's bucket at 1, commits push buckets over and under it (the near-copy
    cache must notice), as boilerplate does in a big memory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(duplicate_index, "MAX_BUCKET", 1)
        check_history(history, False)


def check_history(history, budget):
    counter = get_token_counter()
    memory_settings = SMALL_BUDGET if budget else None
    files: dict[str, str | bytes] = dict(HEALTHY)
    for step, change in enumerate(history):
        files = with_change(files, change, TEXTS)
        head = f"{hash((tuple(sorted(files.items())), step)) & (16**40 - 1):040x}"
        snapshot = MemorySnapshot.from_mapping(files, head=head)
        incremental = audit(snapshot, memory_settings, counter)
        full = audit(MemorySnapshot.from_mapping(files, head=head), memory_settings, counter, incremental=False)
        assert key(incremental.findings) == key(full.findings)
        assert incremental.tokens == full.tokens


def test_the_pool_makes_the_cross_file_checks_fire():
    """The generator above can reach every cross-file code (else the equality would prove little)."""
    files = {**HEALTHY, "system/project/a.md": TEXTS[0], "system/project/b.md": TEXTS[3], "reference/c.md": TEXTS[2],
             "reference/c/d.md": TEXTS[1], "reference/e.md": TEXTS[4]}
    codes = {f.code for f in audit(MemorySnapshot.from_mapping(files), SMALL_BUDGET, incremental=False).findings}
    assert {"duplicate-content", "name-clash", "system-over-budget"} <= codes
    files.pop("reference/e.md")
    codes = {f.code for f in audit(MemorySnapshot.from_mapping(files), incremental=False).findings}
    assert "link-broken" in codes


def test_a_superseded_audit_stops():
    files = {**HEALTHY, **{f"reference/n{i}.md": TEXTS[0] for i in range(200)}}
    asked = []

    def newer_head_arrived() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(AuditSuperseded):
        audit(MemorySnapshot.from_mapping(files, head="9" * 40), should_stop=newer_head_arrived)
    assert len(asked) == 2  # checked between files, and gave up at the first check after the newer HEAD
