"""Issue 17: a local-model call that fails validation is retried once with the error shown to the model.

The engine is scripted (a stand-in for llama.cpp's ``Llama`` that answers from a list and records every prompt
it was given), so the test is about what the program does around the model: the provider, the runtime, the
memory tool and the real git repository are the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from letta_ls.agent.providers import local
from letta_ls.agent.providers.local import LocalProvider
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.session import Session


class ScriptedLlama:
    """Answers each ``create_chat_completion`` with the next scripted JSON answer, streamed in small pieces."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.prompts: list[list[dict[str, str]]] = []

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(range(len(text.split())))

    def detokenize(self, tokens: list[int]) -> bytes:
        return b"x " * len(tokens)

    def create_chat_completion(self, messages: list[dict[str, str]], **options: Any):
        self.prompts.append([dict(message) for message in messages])
        text = json.dumps(self.answers.pop(0))
        pieces = [text[i:i + 7] for i in range(0, len(text), 7)]
        for number, piece in enumerate(pieces):
            yield {"choices": [{"delta": {"content": piece},
                                "finish_reason": "stop" if number == len(pieces) - 1 else None}]}


def scripted_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answers: list[dict[str, Any]]):
    gguf = tmp_path / "scripted.gguf"
    gguf.write_bytes(b"GGUF")
    provider = LocalProvider(model=str(gguf))
    llama = ScriptedLlama(answers)
    key = (str(provider.path), provider.context_window, provider.n_threads)
    monkeypatch.setitem(local.ENGINES, key, local.Engine(llama=llama, window=8192))
    monkeypatch.setattr(local, "tool_grammar", lambda *args, **kwargs: None)  # the script is the "grammar"
    return provider, llama


def call(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool", "name": "memory", "arguments": arguments}


NOT_FOUND = call({"command": "str_replace", "file_path": "system/human.md", "old_string": "Uses npm for packages",
                  "new_string": "Uses pnpm for packages", "reason": "The user uses pnpm"})
OUTSIDE = call({"command": "create", "file_path": "../../etc/notes.md", "description": "Notes",
                "file_text": "- Uses pnpm.", "reason": "The user uses pnpm"})
GOOD = call({"command": "insert", "file_path": "system/human.md", "insert_line": 0,
             "insert_text": "- Always uses pnpm in this repo.", "reason": "The user's package manager"})


async def test_a_failed_call_is_retried_once_with_the_error_and_the_second_answer_is_taken(tmp_path, monkeypatch):
    provider, llama = scripted_provider(tmp_path, monkeypatch, [NOT_FOUND, GOOD, {"type": "message",
                                                                                  "text": "Stored."}])
    session = Session()
    head = session.repo.head()
    events = []
    result = await AgentRuntime(session, provider).run_turn("Remember that I always use pnpm in this repo.",
                                                             emit=events.append)
    assert len(llama.prompts) == 2  # the failed call and the retry; the program says where the fact was saved
    retry_prompt = llama.prompts[1][-1]
    assert retry_prompt["role"] == "user"
    assert "Error:" in retry_prompt["content"] and "old_string" in retry_prompt["content"]
    error = next(e.data["result"] for e in events if e.kind == "tool_result")
    assert error.startswith("Error:") and error in retry_prompt["content"]  # the tool's own error text
    assert len(result.commits) == 1 and session.repo.head() != head
    assert "pnpm" in session.repo.snapshot().get("system/human.md").text
    assert result.reply == f"Saved to memory: system/human.md (commit {result.commits[0][:7]})."


async def test_a_second_failure_ends_the_turn_with_a_clear_message_and_nothing_written(tmp_path, monkeypatch):
    provider, llama = scripted_provider(tmp_path, monkeypatch, [NOT_FOUND, OUTSIDE, GOOD, GOOD])
    session = Session()
    head = session.repo.head()
    events = []
    result = await AgentRuntime(session, provider).run_turn("Remember that I always use pnpm in this repo.",
                                                             emit=events.append)
    assert len(llama.prompts) == 2  # exactly one retry: the third scripted answer is never asked for
    assert "Error:" in llama.prompts[1][-1]["content"]
    assert result.commits == [] and session.repo.head() == head
    assert "nothing was written" in result.reply.lower() and "twice" in result.reply.lower()
    assert events[-1].kind == "done" and any(e.kind == "text" and "twice" in e.data["text"] for e in events)


async def test_one_failure_then_a_reply_is_not_an_error(tmp_path, monkeypatch):
    provider, llama = scripted_provider(tmp_path, monkeypatch, [NOT_FOUND, {"type": "message", "text": "Sorry."}])
    result = await AgentRuntime(Session(), provider).run_turn("Remember that I always use pnpm in this repo.")
    assert len(llama.prompts) == 2 and result.reply == "Sorry."
