"""The chat buffer in a real Neovim, with the scripted OpenAI server as the model."""

from __future__ import annotations

from letta_ls.memfs.repo import MemoryRepo
from tests.editors.nvim.conftest import Editor, model_settings


def test_chat_streams_into_the_chat_buffer_and_commits_memory_edits(model, editor: Editor, memory: MemoryRepo):
    model.script.tool_call("memory", {"command": "create", "file_path": "system/stack.md",
                                      "description": "The project's stack", "file_text": "Backend in Go.",
                                      "reason": "learned the stack"})
    model.script.text("Got it: your backend is Go.")
    model.script.text("It is Go.")
    editor.start_plugin(settings=model_settings(model.base_url))
    editor.cmd("Letta chat Our backend is Go.")
    editor.wait("require('letta.chat').buffer() and not require('letta.chat').busy() and "
                "vim.iter(letta_test.lines('[Letta chat]')):any(function(l) return l:find('Got it', 1, true) end)",
                "the reply to stream in")
    lines = editor.lines("[Letta chat]")
    assert lines[0].startswith("Letta · ") and "conversation default" in lines[0] and "gpt-test" in lines[0]
    assert "> Our backend is Go." in lines
    assert "  ⚙ memory create system/stack.md" in lines
    edit = next(line for line in lines if line.startswith("  ✎ "))
    assert editor.memory_uri("system/stack.md") in edit and "learned the stack" in edit
    assert "Got it: your backend is Go." in lines  # the streamed pieces joined on one line
    assert [m.message for m in memory.history(limit=1)] == ["learned the stack"]
    assert memory.read("system/stack.md").text.endswith("Backend in Go.\n")
    assert len([r for r in model.model_requests if r.stream]) == 2

    # the prompt line: type a message and press Enter
    editor.lua("vim.api.nvim_set_current_buf(require('letta.chat').buffer())")
    editor.nvim.input("iWhat is our backend?<CR>")
    editor.wait("vim.iter(letta_test.lines('[Letta chat]')):any(function(l) return l == 'It is Go.' end)",
                "the second reply")
    assert "Backend in Go." in model.model_requests[-1].system
    assert "> What is our backend?" in editor.lines("[Letta chat]")

    # <CR> on the memory edit line opens the file
    editor.nvim.input("<Esc>")
    row = next(i for i, line in enumerate(editor.lines("[Letta chat]")) if line.startswith("  ✎ ")) + 1
    editor.lua("vim.api.nvim_win_set_cursor(0, { ..., 0 })", row)
    editor.nvim.input("<CR>")
    editor.wait(f"vim.api.nvim_buf_get_name(0) == '{editor.memory_uri('system/stack.md')}' and vim.b.letta_version",
                "the memory file")
    assert editor.lines()[-1] == "Backend in Go."

    # the transcript, read only
    editor.cmd("Letta transcript")
    assert editor.lua("return vim.api.nvim_buf_get_name(0)") == f"letta-conversation://{editor.agent_id}/default.md"
    assert "Our backend is Go." in "\n".join(editor.lines()) and editor.lua("return vim.bo.readonly")

    # a new conversation: the header says so; switching back works too
    editor.cmd("Letta new")
    editor.wait("letta_test.lines('[Letta chat]')[1]:find('conversation conv%-') ~= nil", "the new conversation")
    editor.answer("default")
    editor.cmd("Letta conversations")
    editor.wait("letta_test.lines('[Letta chat]')[1]:find('conversation default', 1, true) ~= nil",
                "the switch back to default")
    items = editor.asked()[-1]["items"]
    assert any(item.startswith("default ") and "(6 messages)" in item for item in items)  # 2 turns, 1 tool call
    assert any(item.startswith("conv-") and "(0 messages)" in item for item in items)


def test_a_streaming_reply_stops_on_ctrl_c_and_the_next_message_goes_through(model, editor: Editor):
    model.script.slow("word " * 400, delay=0.05).text("after the stop")
    editor.start_plugin(settings=model_settings(model.base_url))
    editor.cmd("Letta chat talk a lot")
    editor.wait("vim.iter(letta_test.lines('[Letta chat]')):any(function(l) return l:find('word word', 1, true) end)",
                "the reply to start streaming")
    editor.lua("vim.api.nvim_set_current_buf(require('letta.chat').buffer())")
    editor.nvim.input("<C-c>")
    editor.wait("not require('letta.chat').busy()", "the turn to stop")
    assert "  ⏹ stopped" in editor.lines("[Letta chat]")
    editor.cmd("Letta chat and now?")
    editor.wait("vim.iter(letta_test.lines('[Letta chat]')):any(function(l) return l == 'after the stop' end)",
                "the next reply")


def test_chat_and_remember_ask_for_text_when_the_line_has_none(model, editor: Editor, memory: MemoryRepo):
    model.script.text("Hello there.").text("Noted, but I stored nothing.")
    editor.start_plugin(settings=model_settings(model.base_url))
    editor.type_input("hi from the input box")
    editor.cmd("Letta chat")
    editor.wait("vim.iter(letta_test.lines('[Letta chat]')):any(function(l) return l == 'Hello there.' end)",
                "the reply to the asked message")
    assert "> hi from the input box" in editor.lines("[Letta chat]")
    assert editor.asked()[-1]["prompt"] == "Message to Letta: "

    editor.type_input("always use pnpm in this repo")
    editor.cmd("Letta remember")
    editor.wait_noted("system/remembered.md")  # the model stored nothing, so the words were kept verbatim
    assert "always use pnpm in this repo" in memory.read("system/remembered.md").text
    assert "Noted, but I stored nothing." in editor.lines("[Letta chat]")  # its reply streamed into the open chat


def test_a_model_error_shows_once_in_the_chat_and_the_chat_goes_on(model, editor: Editor):
    model.script.error(400, "the scripted model refuses").text("Back again.")
    editor.start_plugin(settings=model_settings(model.base_url))
    editor.cmd("Letta chat hello")
    editor.wait("not require('letta.chat').busy() and vim.iter(letta_test.lines('[Letta chat]')):any("
                "function(l) return l:find('⚠', 1, true) end)", "the error in the chat")
    errors = [line for line in editor.lines("[Letta chat]") if line.startswith("  ⚠ ")]
    assert len(errors) == 1 and "the scripted model refuses" in errors[0]
    editor.cmd("Letta chat again")
    editor.wait("vim.iter(letta_test.lines('[Letta chat]')):any(function(l) return l == 'Back again.' end)",
                "the next reply")
