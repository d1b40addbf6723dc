"""The real Letta Code, installed once per test session (see ``oracle.py`` and ``setup.sh``)."""

from __future__ import annotations

import pytest

from tests.lettacode.oracle import LettaCode


@pytest.fixture(scope="session")
def letta_code() -> LettaCode:
    return LettaCode.install()
