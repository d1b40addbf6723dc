"""Fixtures for the doctor's tests, over the healthy memory of ``memory_fixtures``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from letta_ls.doctor import AuditResult, audit
from letta_ls.memfs.tokens import get_token_counter
from letta_ls.settings import MemorySettings
from tests.doctor.memory_fixtures import HEALTHY, make_snapshot


@pytest.fixture
def healthy() -> dict[str, str | bytes]:
    return dict(HEALTHY)


@pytest.fixture
def run_audit() -> Callable[..., AuditResult]:
    counter = get_token_counter()

    def run(files: dict[str, str | bytes], settings: MemorySettings | None = None) -> AuditResult:
        return audit(make_snapshot(files), settings, counter)

    return run


@pytest.fixture
def codes(run_audit: Callable[..., AuditResult]) -> Callable[..., list[tuple[str, str]]]:
    """(code, path) of every finding of an audit of ``files``."""

    def run(files: dict[str, str | bytes], settings: MemorySettings | None = None) -> list[tuple[str, str]]:
        return [(f.code, f.path) for f in run_audit(files, settings).findings]

    return run
