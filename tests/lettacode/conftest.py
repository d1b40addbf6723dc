"""The real Letta Code, installed once per test session (see ``oracle.py`` and ``setup.sh``), and the memory
its own memory tool writes in scripted headless turns (``headless.py``), also made once per session."""

from __future__ import annotations

import pytest

from tests.lettacode.headless import LettaCodeMemory, letta_code_wrote_memory
from tests.lettacode.oracle import LettaCode


@pytest.fixture(scope="session")
def letta_code() -> LettaCode:
    return LettaCode.install()


@pytest.fixture(scope="session")
def written(letta_code: LettaCode, tmp_path_factory: pytest.TempPathFactory) -> LettaCodeMemory:
    return letta_code_wrote_memory(letta_code, tmp_path_factory.mktemp("letta-code-writes"))
