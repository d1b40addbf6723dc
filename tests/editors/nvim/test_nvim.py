"""The Neovim plugin in a real headless Neovim against a real letta-ls: what a user does and sees."""

from __future__ import annotations

import pytest

from letta_ls.home import Home
from letta_ls.memfs.repo import MemoryRepo
from tests.editors.nvim.conftest import OUTSIDER, Editor
from tests.fakes import Script, scripted_openai

HUMAN = "system/human.md"
# a file opened from a callback loads while the test polls: wait for the end of the load, not the name
LOADED_REVISION = "vim.api.nvim_buf_get_name(0):match('^letta%-memory%-rev://') ~= nil and vim.bo.readonly"
SUBCOMMANDS = ["agents", "chat", "defrag", "doctor", "dream", "history", "init", "new", "pin", "remember",
               "sleeptime", "tree"]


def outside_commit(memory: MemoryRepo, changes: dict[str, str], message: str) -> str:
    """A commit made behind the editor's back (the CLI, another editor, plain git)."""
    return memory.commit({p: t.encode() for p, t in changes.items()}, message, OUTSIDER).commit


def test_memory_buffer_shows_diagnostics_and_write_commits(editor: Editor, memory: MemoryRepo):
    editor.start_plugin()
    editor.cmd(f"edit {editor.memory_uri(HUMAN)}")
    assert editor.lua("return { vim.bo.buftype, vim.bo.filetype, vim.bo.modified }") == ["acwrite", "markdown", False]
    assert editor.buffer_text() == memory.read(HUMAN).text
    assert editor.lua("return vim.b.letta_version") == memory.read(HUMAN).blob
    editor.wait("#vim.lsp.get_clients({ bufnr = 0, name = 'letta' }) == 1", "the client attached to the buffer")

    # delete the description line: the server's diagnostic shows on the buffer
    editor.lua("vim.api.nvim_buf_set_lines(0, 1, 2, false, {})")
    editor.wait("vim.tbl_contains(letta_test.diagnostic_codes(0), 'description-missing')",
                "the description-missing diagnostic")
    editor.cmd("undo")
    editor.wait("not vim.tbl_contains(letta_test.diagnostic_codes(0), 'description-missing')",
                "the diagnostic to clear once the description is back")

    head_before = memory.head()
    editor.lua("vim.api.nvim_buf_set_lines(0, -1, -1, false, { 'The user writes Rust. Café ☕.' })")
    editor.cmd("write")
    saved = memory.read(HUMAN)
    assert saved.text.endswith("The user writes Rust. Café ☕.\n")
    assert saved.text == editor.buffer_text()
    assert memory.head() != head_before and memory.history(HUMAN, limit=1)[0].message == f"edit {HUMAN} in the editor"
    assert editor.lua("return { vim.bo.modified, vim.b.letta_version }") == [False, saved.blob]
    assert editor.noted("saved system/human.md (commit")

    # :read pulls a memory file's text into any buffer, and :write {uri} saves any buffer as a memory file
    editor.cmd("enew")
    editor.cmd(f"read {editor.memory_uri('system/persona.md')}")
    assert editor.lines()[1:] == memory.read("system/persona.md").text.splitlines()
    editor.lua("vim.api.nvim_buf_set_lines(0, 0, -1, false, { '---', 'description: A copy', '---', 'copied' })")
    editor.cmd(f"write {editor.memory_uri('reference/copy.md')}")
    assert memory.read("reference/copy.md").text == "---\ndescription: A copy\n---\ncopied\n"
    # the unnamed buffer took that name (as :write does for any unnamed buffer): it is that memory file now
    copy = memory.read("reference/copy.md")
    assert editor.lua("return { vim.b.letta_version, vim.bo.buftype, vim.bo.modified }") == [copy.blob, "acwrite", False]


def test_line_endings_bom_and_odd_paths_survive_an_edit(editor: Editor, memory: MemoryRepo):
    path = "notes/café au lait #1.md"
    original = "\ufeff---\r\ndescription: Windows notes\r\nowner: me # kept\r\n---\r\nfirst\r\nlast line"
    outside_commit(memory, {path: original}, "a file from Windows")
    editor.start_plugin()
    editor.cmd("Letta tree")
    editor.wait("letta_test.lines('[Letta memory]') and #letta_test.lines('[Letta memory]') > 3", "the memory tree")
    row = next(i for i, line in enumerate(editor.lines("[Letta memory]")) if path in line) + 1
    editor.lua("vim.api.nvim_win_set_cursor(0, { ..., 0 })", row)
    editor.nvim.input("<CR>")
    editor.wait("vim.api.nvim_buf_get_name(0):find('caf', 1, true) ~= nil and vim.b.letta_version", "the file to open")
    assert editor.lines() == ["---", "description: Windows notes", "owner: me # kept", "---", "first", "last line"]
    assert editor.lua("return { vim.bo.fileformat, vim.bo.bomb, vim.bo.eol }") == ["dos", True, False]
    editor.lua("vim.api.nvim_buf_set_lines(0, 4, 5, false, { 'first, edited' })")
    editor.cmd("write")
    assert memory.read(path).text == original.replace("first", "first, edited")
    assert not editor.lua("return vim.bo.modified")


def test_stale_save_is_refused_and_the_buffer_keeps_its_text(editor: Editor, memory: MemoryRepo):
    editor.start_plugin()
    editor.cmd(f"edit {editor.memory_uri('system/persona.md')}")  # left unmodified: it reloads by itself
    editor.cmd(f"split {editor.memory_uri(HUMAN)}")
    editor.lua("vim.api.nvim_buf_set_lines(0, -1, -1, false, { 'my unsaved note' })")
    mine = editor.buffer_text()

    theirs = memory.read(HUMAN).text + "the agent's note\n"
    persona = memory.read("system/persona.md").text + "Be brief.\n"
    outside_commit(memory, {HUMAN: theirs, "system/persona.md": persona}, "changed elsewhere")
    editor.wait_noted("system/human.md changed in memory while you were editing it", "WARN")
    editor.wait("require('letta.util').buffer_text(vim.fn.bufnr('persona.md$')) == " + repr_lua(persona),
                "the unmodified persona buffer to reload")
    assert editor.lua("return vim.bo[vim.fn.bufnr('persona.md$')].modified") is False

    editor.answer("Keep editing")
    editor.cmd("write")
    assert editor.noted("changed in memory since you opened it", "ERROR")
    assert editor.noted("your text is still in this buffer")
    editor.wait("#letta_test.asked > 0", "the conflict question")
    assert editor.asked()[-1]["items"] == ["Compare with the version in memory", "Overwrite it with my text",
                                           "Reload (discard my changes)", "Keep editing"]
    assert editor.buffer_text() == mine and editor.lua("return vim.bo.modified") is True
    assert memory.read(HUMAN).text == theirs  # nothing was overwritten

    editor.answer("Overwrite")
    editor.cmd("write")
    editor.wait("not vim.bo.modified", "the overwrite to be saved")
    assert memory.read(HUMAN).text == mine


def test_conflict_compare_shows_both_versions_and_reload_takes_theirs(editor: Editor, memory: MemoryRepo):
    editor.start_plugin()
    editor.cmd(f"edit {editor.memory_uri(HUMAN)}")
    editor.lua("vim.api.nvim_buf_set_lines(0, -1, -1, false, { 'mine' })")
    theirs = memory.read(HUMAN).text + "theirs\n"
    outside_commit(memory, {HUMAN: theirs}, "changed elsewhere")
    editor.wait_noted("changed in memory while you were editing it")

    editor.answer("Compare")
    editor.cmd("write")
    editor.wait(LOADED_REVISION, "the saved version beside")
    assert editor.lines()[-1] == "theirs" and editor.lua("return { vim.wo.diff, vim.bo.modifiable }") == [True, False]
    editor.cmd("wincmd p")
    assert editor.lines()[-1] == "mine" and editor.lua("return vim.wo.diff") is True

    editor.answer("Reload")
    editor.cmd("write")
    editor.wait("not vim.bo.modified", "the reload")
    assert editor.buffer_text() == theirs and memory.read(HUMAN).text == theirs


def test_bad_saves_and_bad_uris_are_explained_and_lose_nothing(editor: Editor, memory: MemoryRepo):
    editor.start_plugin()
    # a secret: refused with its line, the text stays unsaved in the buffer
    editor.cmd(f"edit {editor.memory_uri('reference/keys.md')}")
    assert editor.noted("new memory file")
    key = "sk-proj-" + "Zq8vT2mXr4Lp9sWb6Kd3Nf7Hc1Jg5Ye0Ua8Qi2Ot4Rw6Ex9Vz"
    editor.lua("vim.api.nvim_buf_set_lines(0, 0, -1, false, ...)",
               ["---", "description: keys", "---", "ok", f"OPENAI key: {key}"])
    editor.cmd("write")
    assert editor.noted("reference/keys.md was not saved", "ERROR") and editor.noted("line 5")
    assert editor.lua("return vim.bo.modified") is True and key in editor.buffer_text()
    assert "reference/keys.md" not in memory.snapshot()

    # a new file without the secret is created by :write
    editor.lua("vim.api.nvim_buf_set_lines(0, 4, 5, false, { 'no secrets here' })")
    editor.cmd("write")
    assert memory.read("reference/keys.md").text == "---\ndescription: keys\n---\nok\nno secrets here\n"

    # a path that escapes memory: a clear error, and :write refuses to send an empty file over it
    editor.cmd(f"edit letta-memory://{editor.agent_id}/../outside.md")
    assert editor.noted("cannot open", "ERROR")
    editor.cmd("write")
    assert editor.noted("was never loaded", "ERROR")

    editor.cmd("Letta bogus")
    assert editor.noted('unknown subcommand "bogus"', "ERROR")
    editor.cmd("Letta sleeptime sometimes")
    assert editor.noted('"sometimes" is not a trigger', "ERROR")


def test_doctor_shows_its_report_findings_and_progress(editor: Editor, memory: MemoryRepo):
    outside_commit(memory, {"notes/loose.md": "no frontmatter here\n"}, "a file without frontmatter")
    editor.start_plugin()
    editor.cmd("Letta doctor")
    editor.wait("letta_test.lines('[Letta doctor]') ~= nil and #letta_test.lines('[Letta doctor]') > 1",
                "the doctor's report")
    report = "\n".join(editor.lines("[Letta doctor]"))
    assert "frontmatter-missing" in report and "notes/loose.md" in report
    items = editor.lua("return vim.tbl_map(function(i) return { vim.fn.bufname(i.bufnr), i.lnum, i.type } end, "
                       "vim.fn.getqflist())")
    assert [editor.memory_uri("notes/loose.md"), 1, "E"] in items
    assert editor.noted("doctor: 1 error(s)")
    assert editor.lua("return vim.iter(require('letta.progress').shown):any(function(s) "
                      "return s:find('Memory doctor', 1, true) ~= nil end)")

    # the quickfix entry opens the memory file through the plugin
    editor.cmd("cfirst")
    assert editor.lua("return vim.api.nvim_buf_get_name(0)") == editor.memory_uri("notes/loose.md")
    assert editor.lines() == ["no frontmatter here"]


def test_commands_that_are_not_available_yet_say_so(editor: Editor):
    editor.start_plugin()
    for sub in ("init deep", "dream", "defrag", "sync"):
        editor.cmd(f"Letta {sub}")
        name = sub.split()[0]
        editor.wait_noted(f"{name}: letta.{name} is not available yet", "ERROR")


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


def test_history_lists_commits_and_opens_a_read_only_revision(editor: Editor, memory: MemoryRepo):
    first = memory.read(HUMAN).text
    outside_commit(memory, {HUMAN: first + "second version\n"}, "the second version")
    editor.start_plugin()
    editor.cmd(f"edit {editor.memory_uri(HUMAN)}")
    editor.answer(2)  # the older commit
    editor.cmd("Letta history")
    editor.wait(LOADED_REVISION, "the revision to open")
    assert editor.asked()[-1]["items"][0].endswith("the second version")
    assert editor.buffer_text() == first
    assert editor.lua("return { vim.bo.modifiable, vim.bo.readonly, vim.bo.filetype }") == [False, True, "markdown"]


@pytest.fixture
def api_key(monkeypatch):
    """A key in the environment Neovim and letta-ls start with (request it before ``editor``)."""
    monkeypatch.setenv("LETTA_TEST_KEY", "test-key-value-not-secret")


@pytest.fixture
def model(api_key):
    with scripted_openai(Script()) as server:
        yield server


def model_settings(base_url: str) -> dict:
    return {"model": {"provider": "openai", "name": "gpt-test", "baseUrl": base_url, "apiKeyEnv": "LETTA_TEST_KEY"}}


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
    model.script.text("Hello there.").text("Noted.")
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


def repr_lua(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
