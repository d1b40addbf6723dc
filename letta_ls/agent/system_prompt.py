"""The agent's system prompt for one step, with its size in tokens, redoing only what changed.

Every step of a turn needs the system prompt (base prompt + memory compiled from ``HEAD`` + metadata +
skills) and its token count, for the compaction check. Between steps only ``<memory_metadata>`` (the
time, the message count) changes while memory and skills stay the same, so ``SystemPromptBuilder``
keeps the prompt as a template cut where the metadata goes (``system_prompt_template``), together with
the token count of its fixed pieces, keyed by (base prompt, memory text, skills block) and the counter. A step
renders the metadata, joins, and counts only the metadata. A new template (memory changed) counts its
pieces by blocks of lines kept per process, so a one-file change recounts only the lines around it.
Joining is what ``compile_system_prompt`` does, so the text is byte-identical to it; the count is exact up
to one token at each metadata seam (BPE may merge the characters on either side of that cut), which is
far inside the compaction margin.

It holds no I/O: compiling memory and discovering skills are the caller's (both cached where they live).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from letta_ls.agent.compaction import Counter
from letta_ls.memfs.compile import CompiledMemory, available_skills_block, memory_metadata, system_prompt_template
from letta_ls.memfs.skills import Skill

TEMPLATES_CACHED = 4


@dataclass(frozen=True)
class SystemPrompt:
    text: str
    tokens: int


@dataclass(frozen=True)
class _Template:
    pieces: tuple[str, ...]
    tokens: int  # of the pieces alone
    counter: Counter  # that counted them


def _count_piece(counter: Counter, piece: str) -> int:
    """A piece's tokens, by blocks where the counter can (a new ``HEAD`` changes a file's lines, not the
    other 140 KB of a large memory's section: ``TokenCounter.count_by_blocks``); the sum is exact."""
    by_blocks = getattr(counter, "count_by_blocks", None)
    return by_blocks(piece) if by_blocks is not None else counter.count(piece)


class SystemPromptBuilder:
    """Builds system prompts, keeping the last few templates (one per memory/skills state)."""

    def __init__(self, capacity: int = TEMPLATES_CACHED) -> None:
        self._templates: OrderedDict[tuple, _Template] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def build(self, base_prompt: str, memory: CompiledMemory, skills: list[Skill], counter: Counter, *,
              agent_id: str, conversation_id: str, message_count: int, recompiled_at: datetime) -> SystemPrompt:
        template = self._template(base_prompt, memory, available_skills_block(skills), counter)
        metadata = memory_metadata(agent_id=agent_id, conversation_id=conversation_id, message_count=message_count,
                                   recompiled_at=recompiled_at)
        seams = len(template.pieces) - 1
        return SystemPrompt(metadata.join(template.pieces), template.tokens + seams * counter.count(metadata))

    def _template(self, base_prompt: str, memory: CompiledMemory, skills_block: str, counter: Counter) -> _Template:
        key = (base_prompt, memory.text, skills_block)  # long strings, but the same objects step after step
        with self._lock:
            template = self._templates.get(key)
            if template is not None and template.counter is counter:
                self._templates.move_to_end(key)
                return template
        pieces = system_prompt_template(base_prompt, memory, skills_block)
        template = _Template(pieces, sum(_count_piece(counter, piece) for piece in pieces), counter)
        with self._lock:
            self._templates[key] = template
            while len(self._templates) > self._capacity:
                self._templates.popitem(last=False)
        return template
