"""The system prompt a step sends: byte for byte what ``compile_system_prompt`` makes, with a token count
that matches the prompt's own, computed without recounting what did not change."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from letta_ls.agent.runtime import load_prompt
from letta_ls.agent.system_prompt import SystemPromptBuilder
from letta_ls.memfs.compile import compile_memory, compile_system_prompt
from letta_ls.memfs.skills import Skill
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import get_token_counter

WHEN = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
FILES = {
    "system/persona.md": "---\ndescription: Who I am\n---\nI am a careful coding agent.\n",
    "system/human.md": "---\ndescription: The user\n---\nDana prefers pnpm and short answers.\n",
    "system/project/gotchas.md": "---\ndescription: Gotchas\n---\nRun the tests with -n 2.\n",
    "reference/api.md": "---\ndescription: API notes\n---\nThe API is REST.\n",
}
SKILLS = [Skill(id="deploy", name="deploy", description="Ship a release",
                path=Path("/w/.agents/skills/deploy/SKILL.md"), source="project", root="/w/.agents/skills")]


class RecordingCounter:
    """The exact counter, remembering every text it was asked about."""

    def __init__(self) -> None:
        self.inner = get_token_counter()
        self.texts: list[str] = []

    def count(self, text: str) -> int:
        self.texts.append(text)
        return self.inner.count(text)


def build(builder: SystemPromptBuilder, base: str, files: dict[str, str], counter, *, count: int = 7,
          skills: list[Skill] = SKILLS):
    memory = compile_memory(MemorySnapshot.from_mapping(files, head="f" * 40))
    prompt = builder.build(base, memory, skills, counter, agent_id="agent-1", conversation_id="default",
                           message_count=count, recompiled_at=WHEN)
    expected = compile_system_prompt(base, memory, agent_id="agent-1", conversation_id="default",
                                     message_count=count, skills=skills, recompiled_at=WHEN)
    return prompt, expected


@pytest.mark.parametrize("base", [load_prompt("base.md"), "You are {AGENT_NAME}.", "Start.\n{CORE_MEMORY}\nEnd.",
                                  "{CORE_MEMORY}\n---\n{CORE_MEMORY}", ""])
@pytest.mark.parametrize("files", [FILES, {}], ids=["memory", "no-memory"])
@pytest.mark.parametrize("skills", [SKILLS, []], ids=["skills", "no-skills"])
def test_the_prompt_is_the_compiled_prompt_and_its_count_matches(base, files, skills) -> None:
    counter = get_token_counter()
    prompt, expected = build(SystemPromptBuilder(), base, files, counter, skills=skills)
    assert prompt.text == expected
    assert abs(prompt.tokens - counter.count(expected)) <= 2 * max(1, expected.count("<memory_metadata>"))


def test_the_next_step_counts_only_the_metadata() -> None:
    counter = RecordingCounter()
    builder = SystemPromptBuilder()
    base = load_prompt("base.md")
    first, _ = build(builder, base, FILES, counter, count=7)
    counted_first = sum(len(text) for text in counter.texts)
    assert counted_first >= len(first.text) - 500
    counter.texts.clear()
    second, expected = build(builder, base, FILES, counter, count=9)
    assert second.text == expected and "- 9 previous messages" in second.text
    assert len(counter.texts) == 1 and counter.texts[0].startswith("<memory_metadata>")


def test_a_memory_change_is_a_new_prompt() -> None:
    counter = get_token_counter()
    builder = SystemPromptBuilder()
    base = load_prompt("base.md")
    before, _ = build(builder, base, FILES, counter)
    changed = {**FILES, "system/human.md": FILES["system/human.md"].replace("pnpm", "bun, never npm")}
    after, expected = build(builder, base, changed, counter)
    assert after.text == expected and "bun, never npm" in after.text and "bun, never npm" not in before.text
    assert after.tokens > before.tokens


def test_a_prompt_that_holds_the_slot_text_is_still_exact() -> None:
    counter = get_token_counter()
    base = "Odd base \x00memory_metadata\x00 text.\n{CORE_MEMORY}"
    prompt, expected = build(SystemPromptBuilder(), base, FILES, counter)
    assert prompt.text == expected


def test_a_one_file_change_recounts_only_that_part_of_a_large_memory() -> None:
    """Issue 14: the ~140 KB memory section of a 2,000-file memory is not recounted on every new ``HEAD``."""
    from letta_ls.memfs import tokens
    from letta_ls.memfs.tokens import ENCODING, TokenCounter

    class RecordingBackend:
        def __init__(self) -> None:
            self.inner = get_token_counter()._backend
            self.texts: list[str] = []

        def count(self, text: str) -> int:
            self.texts.append(text)
            return self.inner.count(text)

    tokens.clear_block_counts()
    backend = RecordingBackend()
    counter = TokenCounter(ENCODING, True, backend)
    builder = SystemPromptBuilder()
    base = load_prompt("base.md")
    files = dict(FILES)
    for i in range(300):
        files[f"system/project/fact-{i}.md"] = f"---\ndescription: Fact {i}\n---\nThe build needs step {i}.\n"
    first, expected = build(builder, base, files, counter)
    assert abs(first.tokens - get_token_counter().count(expected)) <= 2
    backend.texts.clear()
    files["system/project/fact-150.md"] = "---\ndescription: Fact 150\n---\nThe build needs two workers.\n"
    second, expected = build(builder, base, files, counter)
    assert second.text == expected
    assert abs(second.tokens - get_token_counter().count(expected)) <= 2
    counted = sum(len(text) for text in backend.texts)
    assert counted < len(expected) // 10, f"recounted {counted:,} of {len(expected):,} characters"
