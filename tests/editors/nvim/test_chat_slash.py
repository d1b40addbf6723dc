"""Issue 13 point 6 in a real Neovim: the chat buffer completes the server's slash commands and runs them."""

from __future__ import annotations

from letta_ls.memfs.repo import MemoryRepo
from tests.editors.nvim.conftest import Editor, model_settings


def test_slash_remember_typed_in_the_chat_buffer_is_stored_and_the_commit_shown(model, editor: Editor,
                                                                               memory: MemoryRepo):
    model.script.tool_call("memory", {"command": "insert", "file_path": "system/human.md", "insert_line": 0,
                                      "insert_text": "- Always uses pnpm in this repo.",
                                      "reason": "The user's package manager"})
    model.script.text("Noted: pnpm.")
    editor.start_plugin(settings=model_settings(model.base_url))
    editor.cmd("Letta chat")
    editor.wait("require('letta.chat').buffer() ~= nil", "the chat buffer")
    editor.lua("vim.api.nvim_set_current_buf(require('letta.chat').buffer())")

    # completion: /rem then the omnifunc completes the one command it can be
    editor.nvim.input("i/rem<C-x><C-o>")
    editor.wait("vim.api.nvim_get_current_line() == '> /remember'", "/rem to complete to /remember")
    editor.nvim.input(" always use pnpm in this repo<CR>")
    editor.wait("not require('letta.chat').busy() and vim.iter(letta_test.lines('[Letta chat]')):any("
                "function(l) return l:find('Stored in', 1, true) end)", "the outcome of /remember")
    head = memory.head()
    assert "pnpm" in memory.read("system/human.md").text
    lines = editor.lines("[Letta chat]")
    assert f"Stored in {editor.memory_uri('system/human.md')} (commit {head[:7]})." in lines
    assert "The user used /remember" in model.model_requests[0].messages[-1]["content"]

    listed = editor.lua("return vim.tbl_map(function(i) return i.word end, require('letta.chat').complete(0, '/'))")
    assert listed == ["/remember", "/new", "/doctor", "/init", "/dream", "/defrag", "/sleeptime", "/agents", "/pin"]
