"""The audit worker process yields the CPU to the request path (issue 14).

On two cores shared with the editor, the worker auditing 10,000 files takes a whole core; at the same
scheduling priority as the server it competes with every read and save for it. So the worker lowers its
own priority (``nice``) and a request waiting for the CPU goes first. These tests run the real
``BackgroundAuditor`` (a spawned worker process auditing a real git repository), not a stand-in.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from letta_ls.memfs.repo import Author, MemoryRepo
from letta_ls.server.audits import AUDIT_WORKER_NICENESS, BackgroundAuditor
from letta_ls.settings import MemorySettings
from tests.lsp.test_background_audit import children_of


def small_memory(root: Path) -> MemoryRepo:
    return MemoryRepo.create(root / "memory", {
        "system/persona.md": "---\ndescription: Who I am.\n---\nA careful coding agent.\n",
        "reference/deploy.md": "---\ndescription: How to deploy.\n---\nRun make deploy.\n",
    }, Author("Test", "test@example.com"))


@pytest.mark.timeout(120)
def test_the_audit_worker_runs_at_a_lower_cpu_priority_than_the_server(tmp_path):
    repo = small_memory(tmp_path)
    before = children_of(os.getpid())

    async def niceness_of_the_workers() -> dict[int, int]:
        auditor = BackgroundAuditor()
        try:
            result = await auditor.audit(repo.path, repo.head(), MemorySettings(), False)
            assert result is not None, "the audit gave no result"
            return {pid: os.getpriority(os.PRIO_PROCESS, pid) for pid in children_of(os.getpid()) - before
                    if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()}
        finally:
            await auditor.close()

    workers = asyncio.run(niceness_of_the_workers())
    assert len(workers) == 1, f"not one audit worker process: {workers}"
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert all(niceness >= min(19, ours + AUDIT_WORKER_NICENESS) for niceness in workers.values()), (workers, ours)
