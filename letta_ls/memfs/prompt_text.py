"""The whole system prompt around the compiled memory section: the base prompt with ``{CORE_MEMORY}``,
``<memory_metadata>`` (Letta Code's timestamp format) and ``<available_skills>``.

Apart from ``compile.py`` (which renders the memory section, and re-exports these names) so that each
stays one concern; the format is Letta Code's, see ``docs/memory-format.md``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from letta_ls.memfs.skills import Skill
from letta_ls.memfs.tree import TreeEntry, name_sort_key, render_tree

if TYPE_CHECKING:
    from letta_ls.memfs.compile import CompiledMemory

CORE_MEMORY = "{CORE_MEMORY}"
DEFAULT_CONVERSATION = "default"


def format_recompiled_at(moment: datetime) -> str:
    """``2026-05-04 12:00:00 AM UTC+0000``: Letta Code's timestamp, always in UTC (naive means UTC)."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    hour12 = utc.hour % 12 or 12
    meridiem = "AM" if utc.hour < 12 else "PM"
    return f"{utc:%Y-%m-%d} {hour12:02d}:{utc:%M:%S} {meridiem} UTC+0000"


def memory_metadata(
    *, agent_id: str, conversation_id: str | None, message_count: int, recompiled_at: datetime
) -> str:
    return "\n".join(
        [
            "<memory_metadata>",
            f"- AGENT_ID: {agent_id}",
            f"- CONVERSATION_ID: {conversation_id or DEFAULT_CONVERSATION}",
            f"- System prompt last recompiled: {format_recompiled_at(recompiled_at)}",
            f"- {max(0, message_count)} previous messages between you and the user are stored in recall"
            " memory",
            "</memory_metadata>",
        ]
    )


def available_skills_block(skills: Iterable[Skill]) -> str:
    """``<available_skills>``: one tree per source folder (sorted), each skill's ``SKILL.md`` with the
    first line of its description; empty when there are no skills. Cached per list of skills (it is
    rendered on every step of a turn)."""
    key = tuple(skills)
    with _SKILL_BLOCKS_LOCK:
        cached = _SKILL_BLOCKS.get(key)
    if cached is None:
        cached = _render_skills_block(key)
        with _SKILL_BLOCKS_LOCK:
            _SKILL_BLOCKS[key] = cached
            while len(_SKILL_BLOCKS) > SKILL_BLOCKS_CACHED:
                _SKILL_BLOCKS.popitem(last=False)
    return cached


SKILL_BLOCKS_CACHED = 8
_SKILL_BLOCKS: OrderedDict[tuple[Skill, ...], str] = OrderedDict()
_SKILL_BLOCKS_LOCK = threading.Lock()


def _render_skills_block(skills: tuple[Skill, ...]) -> str:
    groups: dict[str, list[TreeEntry]] = {}
    for skill in skills:
        groups.setdefault(skill.root, []).append(
            TreeEntry(f"{skill.id}/{skill.filename}", skill.summary or None)
        )
    if not groups:
        return ""
    lines = ["<available_skills>"]
    for index, root in enumerate(sorted(groups, key=name_sort_key)):
        if index:
            lines.append("")
        lines.append(render_tree(groups[root], root_label=root))
    lines.append("</available_skills>")
    return "\n".join(lines)


def inject_core_memory(base_prompt: str, core_memory: str) -> str:
    """Replace every ``{CORE_MEMORY}`` in the base prompt, or append after a blank line."""
    if CORE_MEMORY in base_prompt:
        return base_prompt.replace(CORE_MEMORY, core_memory)
    if not base_prompt.strip():
        return core_memory
    return f"{base_prompt.rstrip()}\n\n{core_memory}"


def system_prompt_template(base_prompt: str, memory: CompiledMemory, skills_block: str) -> tuple[str, ...]:
    """The system prompt cut where ``<memory_metadata>`` goes: ``metadata.join(pieces)`` is the prompt.

    The metadata (time, message count) is the only part that changes from one step to the next, so a
    caller can keep the pieces (and their token counts) for as long as memory and skills stay the same.
    There are two pieces, more when the base prompt holds ``{CORE_MEMORY}`` more than once.
    """
    slot = "\x00memory_metadata\x00"
    while slot in base_prompt or slot in memory.text or slot in skills_block:
        slot += "\x00"  # never mistake the prompt's own text for the slot
    core = f"{memory.text}\n\n{slot}" if memory.text.strip() else slot
    prompt = inject_core_memory(base_prompt, core)
    if skills_block:
        prompt = f"{prompt.rstrip()}\n\n{skills_block}"
    return tuple(prompt.split(slot))


def compile_system_prompt(
    base_prompt: str,
    memory: CompiledMemory,
    *,
    agent_id: str,
    conversation_id: str | None,
    message_count: int,
    skills: list[Skill],
    recompiled_at: datetime,
) -> str:
    """The whole system prompt: base prompt with memory and metadata, then the skill list."""
    metadata = memory_metadata(
        agent_id=agent_id, conversation_id=conversation_id, message_count=message_count,
        recompiled_at=recompiled_at,
    )
    return metadata.join(system_prompt_template(base_prompt, memory, available_skills_block(skills)))
