""":Letta review: a dream held for review (``sleeptime.merge: "review"``) opens as diffthis tabs, accepted or
rejected per file, in a real headless Neovim against a real letta-ls."""

from __future__ import annotations

from letta_ls.agent.conversations import ConversationStore
from letta_ls.agent.messages import Message
from letta_ls.home import Home
from letta_ls.memfs.repo import MemoryRepo
from tests.editors.nvim.conftest import HUMAN, Editor, model_settings

DEPLOYS = "team/deploys.md"
TABS = ("vim.iter(vim.api.nvim_list_tabpages()):map(function(t) return vim.t[t].letta_review_path end)"
        ":filter(function(p) return p ~= nil end):totable()")


def held_dream(model, editor: Editor, letta_home: Home) -> None:
    agent = letta_home.current_agent()
    ConversationStore(agent.conversations_dir).append("default", [Message("user", "Call me Dana."),
                                                                 Message("assistant", "Hi Dana.")])
    model.script.tool_call("memory", {"command": "insert", "file_path": HUMAN, "insert_line": 1000,
                                      "insert_text": "- The user's name is Dana.", "reason": "dream: the name"})
    model.script.tool_call("memory", {"command": "create", "file_path": DEPLOYS, "reason": "dream: deploy day",
                                      "description": "How the team deploys.", "file_text": "Fridays.\n"})
    model.script.text("## Summary\nLearned the user's name and the deploy day.")
    editor.start_plugin(settings={**model_settings(model.base_url), "sleeptime": {"merge": "review"}})
    editor.cmd("Letta dream")
    editor.wait_noted("wait for your review", timeout=90)


def test_review_opens_diff_tabs_and_accepts_then_rejects_per_file(model, editor: Editor, letta_home: Home,
                                                                   memory: MemoryRepo):
    head = memory.head()
    held_dream(model, editor, letta_home)
    assert memory.head() == head and "Dana" not in memory.read(HUMAN).text
    assert editor.noted(":Letta review")

    editor.cmd("Letta review")
    editor.wait(f"#{TABS} == 2", "a diff tab per changed file")
    assert sorted(editor.lua(f"return {TABS}")) == [HUMAN, DEPLOYS]
    human_tab = editor.lua(f"for i, t in ipairs(vim.api.nvim_list_tabpages()) do "
                           f"if vim.t[t].letta_review_path == '{HUMAN}' then return i end end")
    editor.cmd(f"tabnext {human_tab}")
    editor.wait("#vim.api.nvim_tabpage_list_wins(0) == 2 and vim.iter(vim.api.nvim_tabpage_list_wins(0))"
                ":all(function(w) return vim.wo[w].diff and #vim.api.nvim_buf_get_lines("
                "vim.api.nvim_win_get_buf(w), 0, -1, false) > 1 end)", "both sides loaded, in diff mode")
    sides = editor.lua("return vim.tbl_map(function(w) local b = vim.api.nvim_win_get_buf(w) "
                       "return { vim.api.nvim_buf_get_name(b), table.concat(vim.api.nvim_buf_get_lines(b, 0, -1, "
                       "false), '\\n') } end, vim.api.nvim_tabpage_list_wins(0))")
    (before_name, before), (after_name, after) = sides
    assert before_name.startswith(f"letta-memory-rev://{editor.agent_id}/{head}/") and "Dana" not in before
    assert after_name.startswith("letta-memory-rev://") and "- The user's name is Dana." in after
    assert "dream: the name" in editor.lua("return vim.t.letta_review_reason")

    editor.cmd(f"Letta review accept {HUMAN}")
    editor.wait_noted(f"accepted 1 file(s): {HUMAN}")
    assert "- The user's name is Dana." in memory.read(HUMAN).text and DEPLOYS not in memory.snapshot()
    editor.wait(f"#{TABS} == 1", "the accepted file's tab to close")
    assert editor.lua(f"return {TABS}") == [DEPLOYS]

    editor.cmd("Letta review reject")
    editor.wait_noted(f"rejected 1 file(s): {DEPLOYS}")
    editor.wait(f"#{TABS} == 0", "the review tabs to close")
    assert DEPLOYS not in memory.snapshot()
    editor.cmd("Letta review")
    editor.wait_noted("no dream waits for review")


def test_review_completion_offers_accept_reject_and_the_pending_paths(model, editor: Editor, letta_home: Home):
    held_dream(model, editor, letta_home)
    assert {"accept", "reject"} <= set(editor.lua("return require('letta.commands').complete('', 'Letta review ')"))
    editor.wait("#require('letta.commands').complete('', 'Letta review accept ') == 2", "the paths to complete")
    assert sorted(editor.lua("return require('letta.commands').complete('', 'Letta review accept ')")) == [
        HUMAN, DEPLOYS]
