"""The model a memory subagent uses, and the merge resolver that asks it.

A subagent (dream, defrag) uses the agent's own model settings, chosen exactly as chat chooses them
(``providers.select``, SPEC section 9): a user's ``model`` setting applies, nothing is hard-coded. With no
model at all, ``subagent_provider`` raises ``NoSubagentModel`` whose message says how to configure one;
the caller reports it and does not retry on its own.

The merge's resolver for lines both sides changed is ``resolve.model_resolver``, shared with sync and /init.
Core code: no LSP.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from letta_ls.agent.providers.base import Provider
from letta_ls.agent.providers.select import NO_MODEL_CONFIGURED, NoModelConfigured, select_provider
from letta_ls.settings import ModelSettings

log = logging.getLogger(__name__)

ProviderFactory = Callable[[], "Provider | None"]


class NoSubagentModel(NoModelConfigured):
    """A dream or a defrag was asked for, but no model is configured; the message says how to set one."""

    def __init__(self, what: str) -> None:
        options = NO_MODEL_CONFIGURED.split("Configure one of:\n", 1)[-1]
        super().__init__(f"No model is configured, so {what} cannot run (memory is unchanged). "
                         f"Configure one of:\n{options}")


def subagent_provider(model: ModelSettings, what: str, factory: ProviderFactory | None = None) -> Provider:
    """The provider for a subagent run: ``factory`` (tests) or the chat's choice from ``model``."""
    provider = factory() if factory is not None else select_provider(model)
    if provider is None:
        raise NoSubagentModel(what)
    return provider


async def close_provider(provider: Provider | None) -> None:
    close = getattr(provider, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
