"""A large audit pauses Python's cycle collector while it runs (it would walk the growing heap again and again
for nothing, issue 14) and always turns it back on, even when the audit is given up."""

from __future__ import annotations

import gc

import pytest

from letta_ls.doctor import audit
from letta_ls.doctor.audit import LARGE_AUDIT, AuditSuperseded
from letta_ls.memfs.snapshot import MemorySnapshot


def _memory(n: int) -> dict[str, str]:
    return {f"reference/n{i}.md": f"---\ndescription: Note {i}.\n---\nFact {i}.\n" for i in range(n)}


def test_the_collector_is_paused_during_a_large_audit_and_back_after():
    seen: list[bool] = []
    audit(MemorySnapshot.from_mapping(_memory(LARGE_AUDIT), head="5" * 40),
          should_stop=lambda: seen.append(gc.isenabled()) or False)
    assert seen and not any(seen)
    assert gc.isenabled()


def test_the_collector_is_back_after_an_audit_given_up():
    with pytest.raises(AuditSuperseded):
        audit(MemorySnapshot.from_mapping(_memory(LARGE_AUDIT), head="6" * 40), should_stop=lambda: True)
    assert gc.isenabled()


def test_a_small_audit_leaves_the_collector_alone():
    seen: list[bool] = []
    audit(MemorySnapshot.from_mapping(_memory(10), head="7" * 40),
          should_stop=lambda: seen.append(gc.isenabled()) or False)
    assert seen == [True]
