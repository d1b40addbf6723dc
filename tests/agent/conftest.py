"""Fixtures of the agent tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.agent.sdk_providers import OPENED


@pytest.fixture
async def close_providers() -> AsyncIterator[None]:
    """Close every SDK provider a test made (``usefixtures``), in the test's loop: no SDK client left to the GC."""
    yield
    while OPENED:
        await OPENED.pop().aclose()
