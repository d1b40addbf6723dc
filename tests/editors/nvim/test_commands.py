""":Letta subcommands, the memory tree, settings, completion, the statusline and :checkhealth."""

from __future__ import annotations

from letta_ls.home import Home
from letta_ls.memfs.repo import MemoryRepo
from tests.editors.nvim.conftest import PLUGIN, lua_string, HUMAN, Editor, model_settings, outside_commit

SUBCOMMANDS = ["agents", "chat", "defrag", "doctor", "dream", "history", "init", "mv", "new", "pin", "remember",
               "rm", "sleeptime", "tree"]


def test_doctor_shows_its_report_findings_and_progress(editor: Editor, memory: MemoryRepo):
    outside_commit(memory, {"reference/loose.md": "no frontmatter here\n"}, "a file without frontmatter")
    editor.start_plugin()
    editor.cmd("Letta doctor")
    editor.wait("letta_test.lines('[Letta doctor]') ~= nil and #letta_test.lines('[Letta doctor]') > 1",
                "the doctor's report")
    report = "\n".join(editor.lines("[Letta doctor]"))
    assert "frontmatter-missing" in report and "reference/loose.md" in report
    items = editor.lua("return vim.tbl_map(function(i) return { vim.fn.bufname(i.bufnr), i.lnum, i.type } end, "
                       "vim.fn.getqflist())")
    assert [editor.memory_uri("reference/loose.md"), 1, "E"] in items
    assert editor.noted("doctor: 1 error(s)")
    assert editor.lua("return vim.iter(require('letta.progress').shown):any(function(s) "
                      "return s:find('Memory doctor', 1, true) ~= nil end)")

    # the quickfix entry opens the memory file through the plugin
    editor.cmd("cfirst")
    assert editor.lua("return vim.api.nvim_buf_get_name(0)") == editor.memory_uri("reference/loose.md")
    assert editor.lines() == ["no frontmatter here"]
    editor.wait("vim.tbl_contains(letta_test.diagnostic_codes(0), 'frontmatter-missing')",
                "the diagnostic on the opened file")


def test_init_asks_builds_memory_of_the_project_and_shows_its_report(editor: Editor, memory: MemoryRepo):
    editor.start_plugin()
    editor.answer("Short and direct", "Ask me first")  # the last question is dismissed: its default
    editor.cmd("Letta init deep nohistory")
    editor.wait_noted("init done:", timeout=120)
    report = "\n".join(editor.lines("[Letta report]"))
    assert report.startswith("# /init: memory for project") and "Depth deep" in report
    prompts = [q["prompt"] for q in editor.asked()]
    assert prompts[0].startswith("How do you like my replies?") and len(prompts) == 3
    human = memory.snapshot().get("system/human.md").text
    assert "Prefers short, direct replies" in human and "Wants to be asked before I act" in human
    assert "system/project/project.md" in memory.snapshot()


def test_sync_without_a_remote_says_how_to_set_one(editor: Editor):
    editor.start_plugin()
    editor.cmd("Letta sync")  # no sync.remote set: the error says how to set one
    editor.wait_noted('sync: no sync remote is configured: set "sync": {"remote"', "ERROR")


def test_dream_and_defrag_show_their_reports(model, editor: Editor, letta_home: Home, memory: MemoryRepo):
    from letta_ls.agent.conversations import ConversationStore
    from letta_ls.agent.messages import Message

    agent = letta_home.current_agent()
    ConversationStore(agent.conversations_dir).append("default", [Message("user", "We deploy on Fridays."),
                                                                 Message("assistant", "Noted.")])
    model.script.tool_call("memory", {"command": "insert", "file_path": HUMAN, "insert_line": 1000,
                                      "insert_text": "- Deploys on Fridays.", "reason": "dream: deploy day"})
    model.script.text("## Summary\nLearned the deploy day.").text("## Summary\nMemory is already tidy.")
    editor.start_plugin(settings=model_settings(model.base_url))
    editor.cmd("Letta dream")
    editor.wait_noted("dream done: 1 commit(s)")
    assert "Learned the deploy day." in "\n".join(editor.lines("[Letta report]"))
    assert "- Deploys on Fridays." in memory.read(HUMAN).text
    editor.cmd("Letta defrag")
    editor.wait_noted("defrag done: 0 commit(s); backup refs/letta-backup/defrag-")
    assert "Memory is already tidy." in "\n".join(editor.lines("[Letta report]"))


def test_memory_tree_lists_tiers_opens_files_and_refreshes(editor: Editor, memory: MemoryRepo):
    editor.start_plugin()
    editor.cmd("Letta tree")
    editor.wait("letta_test.lines('[Letta memory]') and #letta_test.lines('[Letta memory]') > 3", "the memory tree")
    lines = editor.lines("[Letta memory]")
    text = "\n".join(lines)
    assert lines[0].startswith("Memory of ") and editor.agent_id in lines[0]
    assert "System prompt: " in lines[1] and "/ 20,000 tokens" in lines[1]
    assert "System (loaded every turn)" in text and "External (read on demand)" in text and "Skills" in text
    persona = next(i for i, line in enumerate(lines) if "system/persona.md" in line)
    description = memory.snapshot().get("system/persona.md").document.description
    assert description in lines[persona]
    groups = editor.lua("""
        local buf = require('letta.tree').buffer()
        local marks = vim.api.nvim_buf_get_extmarks(buf, vim.api.nvim_get_namespaces()['letta.tree'], 0, -1,
          { details = true })
        return vim.tbl_map(function(m) return m[4].hl_group end, marks)""")
    assert {"Title", "Directory", "Number", "Comment"} <= set(groups)

    outside_commit(memory, {"reference/stack.md": "---\ndescription: The stack we use\n---\nGo and Postgres.\n"},
                   "add the stack")
    editor.wait("vim.iter(letta_test.lines('[Letta memory]')):any(function(l) "
                "return l:find('reference/stack.md', 1, true) ~= nil end)", "the tree to refresh")
    assert any("The stack we use" in line for line in editor.lines("[Letta memory]"))

    editor.cmd("Letta tree")  # focus the tree
    editor.lua("vim.api.nvim_win_set_cursor(0, { ..., 0 })", persona + 1)
    editor.nvim.input("<CR>")
    editor.wait("vim.api.nvim_buf_get_name(0):find('system/persona.md', 1, true) ~= nil and vim.b.letta_version",
                "<CR> to open the file")
    assert editor.lua("return vim.bo.buftype") == "acwrite"


def test_settings_answer_workspace_configuration_and_can_change(editor: Editor):
    editor.start_plugin(settings={"memory": {"systemTokenBudget": 5000}})
    budget = ("(function() local _, tree = require('letta.lsp').request_sync('letta/memoryTree', vim.empty_dict()); "
              "return tree and tree.totals.systemTokenBudget end)()")
    assert editor.lua(f"return {budget}") == 5000
    editor.lua("require('letta').update_settings({ memory = { systemTokenBudget = 300 } })")
    editor.wait(f"{budget} == 300", "the server to re-read the settings")
    editor.cmd("Letta tree")
    editor.wait("letta_test.lines('[Letta memory]') and #letta_test.lines('[Letta memory]') > 3", "the memory tree")
    assert "/ 300 tokens  ⚠ over budget" in editor.lines("[Letta memory]")[1]


def test_pin_and_sleeptime(editor: Editor, letta_home: Home):
    editor.start_plugin()
    editor.cmd("Letta pin")
    editor.wait_noted("pinned " + editor.agent_id)
    assert letta_home.pinned() == [editor.agent_id]
    editor.cmd("Letta unpin")
    editor.wait_noted("unpinned " + editor.agent_id)
    assert letta_home.pinned() == []

    editor.cmd("Letta sleeptime off")
    editor.wait_noted("dreams: trigger off")
    assert letta_home.raw_settings()["sleeptime"]["trigger"] == "off"
    editor.answer("compaction-event")
    editor.cmd("Letta sleeptime")
    editor.wait_noted("dreams: trigger compaction-event")
    assert editor.asked()[-1]["items"][0] == "off  (now)"
    assert letta_home.raw_settings()["sleeptime"]["trigger"] == "compaction-event"


def test_backup_and_restore(editor: Editor, memory: MemoryRepo):
    editor.start_plugin()
    before = memory.read(HUMAN).text
    editor.cmd("Letta backup")
    editor.wait_noted("backed up as refs/letta-backup/manual-")
    name = next(n["msg"] for n in editor.notes() if "backed up as" in n["msg"]).rsplit("/", 1)[-1]
    outside_commit(memory, {HUMAN: before + "later\n"}, "a later change")
    editor.type_input(name)
    editor.cmd("Letta restore")
    editor.wait_noted("restored refs/letta-backup/" + name)
    assert memory.read(HUMAN).text == before


def press_on_tree_line(editor: Editor, text: str, key: str, *, inputs=(), answers=()) -> None:
    """Wait for the memory tree to show ``text``, put the cursor on that line and press ``key``."""
    editor.wait(f"vim.iter(letta_test.lines('[Letta memory]')):any(function(l) "
                f"return l:find({lua_string(text)}, 1, true) ~= nil end)", f"{text} in the tree")
    row = next(i for i, line in enumerate(editor.lines("[Letta memory]")) if text in line)
    editor.lua("vim.api.nvim_win_set_cursor(0, ...)", [row + 1, 0])
    editor.type_input(*inputs)
    editor.answer(*answers)
    editor.lua("vim.api.nvim_feedkeys(..., 'x', false)", key)


def test_mv_and_rm_rename_and_delete_memory_files_and_their_buffers_follow(editor: Editor, memory: MemoryRepo):
    outside_commit(memory, {"reference/stack.md": "---\ndescription: The stack we use\n---\nGo.\n"}, "add the stack")
    editor.start_plugin()
    editor.cmd("edit " + editor.memory_uri("reference/stack.md"))
    editor.wait("vim.b.letta_uri ~= nil and vim.api.nvim_buf_line_count(0) > 3", "the memory buffer")
    editor.cmd("Letta mv reference/tools/stack.md")
    editor.wait_noted("renamed reference/stack.md to reference/tools/stack.md")
    assert "reference/tools/stack.md" in memory.snapshot() and "reference/stack.md" not in memory.snapshot()
    assert memory.history(limit=1)[0].message == "rename reference/stack.md to reference/tools/stack.md in the editor"
    editor.wait(f"vim.b.letta_uri == {lua_string(editor.memory_uri('reference/tools/stack.md'))}",
                "the window to show the renamed file")
    assert editor.lines()[-1] == "Go."

    editor.answer("Cancel")
    editor.cmd("Letta rm")
    assert "reference/tools/stack.md" in memory.snapshot()  # cancelled: nothing happened

    editor.cmd("Letta tree")  # m on a file of the tree renames it, d deletes it
    press_on_tree_line(editor, "reference/tools/stack.md", "m", inputs=["reference/tools/stack-and-tools.md"])
    editor.wait_noted("renamed reference/tools/stack.md to reference/tools/stack-and-tools.md")
    press_on_tree_line(editor, "stack-and-tools.md", "d", answers=["Delete"])
    editor.wait_noted("deleted reference/tools/stack-and-tools.md")
    assert not any(path.startswith("reference/tools") for path in memory.snapshot().files)
    assert "from memory?" in editor.asked()[-1]["prompt"]
    editor.answer("Delete")
    editor.cmd("Letta rm reference/nothing.md")
    editor.wait_noted("rm: reference/nothing.md does not exist in memory", "ERROR")
    editor.cmd("Letta mv")
    editor.wait_noted("mv: give the new path", "ERROR")


def test_completion_of_subcommands_and_arguments(editor: Editor, letta_home: Home):
    letta_home.create_agent("Ada", "terse")
    editor.start_plugin()
    subcommands = editor.lua("return vim.fn.getcompletion('Letta ', 'cmdline')")
    assert set(SUBCOMMANDS) <= set(subcommands)
    assert editor.lua("return vim.fn.getcompletion('Letta sl', 'cmdline')") == ["sleeptime"]
    assert editor.lua("return vim.fn.getcompletion('Letta sleeptime ', 'cmdline')") == [
        "off", "step-count", "compaction-event"]
    assert "Ada" in editor.lua("return vim.fn.getcompletion('Letta agents ', 'cmdline')")
    assert HUMAN in editor.lua("return vim.fn.getcompletion('Letta history sys', 'cmdline')")


def test_switching_agents_updates_the_statusline(editor: Editor, letta_home: Home):
    letta_home.create_agent("Ada", "terse")
    editor.start_plugin()
    editor.wait("require('letta').statusline():find('/20k', 1, true) ~= nil", "the budget in the statusline")
    first = editor.lua("return require('letta').statusline()")
    assert first.startswith("Letta ") and first.endswith("· idle")
    editor.answer("Ada")
    editor.cmd("Letta agents")
    editor.wait("require('letta').statusline():find('Letta Ada', 1, true) ~= nil", "the statusline to show Ada")
    assert editor.noted("now talking to Ada")
    assert any("*" in item for item in editor.asked()[-1]["items"])  # the current agent is marked
    editor.cmd("Letta agents new Bob")
    editor.wait_noted("created Bob")
    assert "Bob" in [a.name for a in letta_home.list_agents()]


def test_statusline_shows_the_memory_subagent_run_in_progress(editor: Editor):
    editor.lua("vim.opt.rtp:prepend(...)", str(PLUGIN))  # the plugin's Lua, with statuses given here
    line = """
      local state = require('letta.state')
      state.budget = 20000
      state.status = {agentName = 'Ada', systemTokens = 1500, dream = 'due', runs = %s}
      return require('letta').statusline()
    """
    assert editor.lua(line % "{}") == "Letta Ada · 1.5k/20k · due"
    running = ("{{kind = 'defrag', state = 'queued'}, "
               "{kind = 'init', state = 'running', percentage = 48, message = 'history workers 2/3 done'}}")
    assert editor.lua(line % running) == "Letta Ada · 1.5k/20k · init 48%"
    assert editor.lua(line % "{{kind = 'dream', state = 'queued'}}") == "Letta Ada · 1.5k/20k · dream waiting"


def test_checkhealth_reports_the_setup_without_printing_keys(api_key, editor: Editor):
    editor.start_plugin(settings={"model": {"apiKeyEnv": "LETTA_TEST_KEY"}})
    editor.cmd("checkhealth letta")
    text = "\n".join(editor.lines())
    assert "ERROR" not in text, text
    assert "OK Neovim 0.11" in text
    assert "OK runs: letta-ls" in text
    assert "client" in text and "running" in text
    assert f"agent Letta Code ({editor.agent_id})" in text or editor.agent_id in text
    assert "LETTA_TEST_KEY is set" in text and "test-key-value" not in text
