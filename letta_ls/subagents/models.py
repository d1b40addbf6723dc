"""The model a memory subagent uses, and the merge resolver that asks it.

A subagent (dream, defrag) uses the agent's own model settings, chosen exactly as chat chooses them
(``providers.select``, SPEC section 9): a user's ``model`` setting applies, nothing is hard-coded. With no
model at all, ``subagent_provider`` raises ``NoSubagentModel`` whose message says how to configure one;
the caller reports it and does not retry on its own.

``model_resolver(provider)`` is the merge's resolver for lines both sides changed: the model gets the
common ancestor, main's version and the run's version of the file and answers the merged file. Its text is
used only if the merge accepts it as valid memory (``conflicts.check_resolution``); any failure of the
call answers None, and the merge then keeps both versions. Core code: no LSP.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

from letta_ls.agent.messages import Message
from letta_ls.agent.providers.base import ModelRequest, Provider, ProviderError, TextDelta
from letta_ls.agent.providers.select import NO_MODEL_CONFIGURED, NoModelConfigured, select_provider
from letta_ls.agent.runtime import load_prompt
from letta_ls.settings import ModelSettings

log = logging.getLogger(__name__)

ProviderFactory = Callable[[], "Provider | None"]
RESOLVER_MAX_TOKENS = 8192
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})[^\n]*\n(.*)\n\1\s*$", re.S)


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


def strip_fences(text: str) -> str:
    """A model's file answer without a wrapping code fence, ending with exactly one newline."""
    match = _FENCE.match(text)
    if match:
        text = match.group(2)
    text = text.strip("\n")
    return text + "\n" if text else ""


def resolver_message(path: str, base: str | None, ours: str, theirs: str, theirs_label: str) -> str:
    base_block = base if base is not None else "(the file did not exist: both sides created it)"
    return (f"File: {path}\n\n<base>\n{base_block}\n</base>\n\n<main>\n{ours}\n</main>\n\n"
            f"<{theirs_label}>\n{theirs}\n</{theirs_label}>\n\n"
            f"Answer with the merged file only, starting with its frontmatter line `---`.")


def model_resolver(provider: Provider, *, theirs_label: str = "incoming",
                   max_output_tokens: int = RESOLVER_MAX_TOKENS) -> Callable[..., Awaitable[str | None]]:
    """A merge resolver (``merge.Resolver``) that asks ``provider`` for the merged file."""
    system = load_prompt("resolve.md").replace("{INCOMING}", theirs_label)

    async def resolve(path: str, base: str | None, ours: str, theirs: str) -> str | None:
        request = ModelRequest(system=system, tools=[], max_output_tokens=max_output_tokens,
                               messages=[Message("user", resolver_message(path, base, ours, theirs, theirs_label))])
        try:
            pieces = [event.text async for event in provider.stream(request) if isinstance(event, TextDelta)]
        except ProviderError as exc:
            log.warning("the model could not resolve the conflict in %s: %s", path, exc)
            return None
        answer = strip_fences("".join(pieces))
        return answer or None

    return resolve
