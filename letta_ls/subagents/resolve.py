"""Resolving a same-lines conflict with a model: the base and both versions in, the merged file out.

API::

    resolver = resolver_for(session.settings.model)     # None when no suitable model is configured
    resolver = model_resolver(provider, ours="this machine", theirs="the remote")
    outcome = await merge_into_async(repo, commit, message=..., author=..., resolver=resolver)

The model gets the three texts in one user message (never on a command line) and answers with the whole
merged file; a fenced answer is unwrapped. An empty, truncated or failed answer gives None, so the merge
keeps both versions, marked. Whatever text comes back is used by the merge only if it is valid memory
(``conflicts.check_resolution``: frontmatter with a description, no markers, no new secret).

``resolver_for`` picks the agent's model, except the embedded model chosen only because nothing else is
configured: a 135M-parameter model rewriting memory files loses more than it merges, so in that case the
merge keeps both versions for a person (or a later dream) to reconcile. Every merge of memory (sync, dreams,
defrag, /init) resolves through this one module; the instructions are ``agent/prompts/resolve.md``. Core
code: no LSP, no printing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from letta_ls.agent.messages import Message
from letta_ls.agent.providers.base import Done, ModelRequest, ProviderError, TextDelta
from letta_ls.agent.providers.select import select_provider
from letta_ls.agent.runtime import load_prompt
from letta_ls.settings import ModelSettings

if TYPE_CHECKING:
    from letta_ls.agent.providers.base import Provider
    from letta_ls.subagents.merge import Resolver

log = logging.getLogger(__name__)

def model_resolver(provider: Provider, *, ours: str = "main", theirs: str = "the other version",
                   max_output_tokens: int = 4096) -> Resolver:
    """A merge resolver (async) that asks ``provider`` to merge the texts; ``ours``/``theirs`` name the sides."""

    async def resolve(path: str, base: str | None, ours_text: str, theirs_text: str) -> str | None:
        parts = [f"File: {path}", ""]
        if base is None:
            parts += ["Both versions created this file independently (there is no common base).", ""]
        else:
            parts += ["<base>", base, "</base>", ""]
        parts += [f"<version from=\"{ours}\">", ours_text, "</version>", "",
                  f"<version from=\"{theirs}\">", theirs_text, "</version>"]
        request = ModelRequest(system=load_prompt("resolve.md"), messages=[Message("user", "\n".join(parts))],
                               max_output_tokens=max_output_tokens)
        pieces: list[str] = []
        stop = "end"
        try:
            async for event in provider.stream(request):
                if isinstance(event, TextDelta):
                    pieces.append(event.text)
                elif isinstance(event, Done):
                    stop = event.stop_reason
        except ProviderError as exc:
            log.warning("the model could not resolve the conflict in %s: %s", path, exc)
            return None
        if stop == "max_tokens":
            log.warning("the model's merge of %s was cut off; keeping both versions", path)
            return None
        return unwrap_answer("".join(pieces)) or None

    return resolve


def unwrap_answer(text: str) -> str:
    """The file inside a model's answer: a whole-answer code fence is removed; the text ends with a newline."""
    stripped = text.strip()
    lines = stripped.splitlines()
    if len(lines) >= 2 and lines[0].startswith("```") and lines[-1].strip() == "```":
        stripped = "\n".join(lines[1:-1])
    return stripped + "\n" if stripped else ""


def resolver_for(settings: ModelSettings, *, ours: str = "main", theirs: str = "the other version") -> Resolver | None:
    """The resolver the agent's model settings allow, or None (see the module docstring)."""
    try:
        provider = select_provider(settings)
    except ProviderError as exc:
        log.info("no model for merging conflicts (%s); both versions will be kept", exc)
        return None
    if provider is None or (provider.name == "local" and settings.provider != "local"):
        return None
    return model_resolver(provider, ours=ours, theirs=theirs, max_output_tokens=settings.maxOutputTokens)
