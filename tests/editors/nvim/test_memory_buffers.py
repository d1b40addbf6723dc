"""Memory buffers in a real Neovim: load, diagnostics, :write commits, conflicts, odd text, history."""

from __future__ import annotations

from letta_ls.memfs.repo import MemoryRepo
from tests.editors.nvim.conftest import HUMAN, LOADED_REVISION, Editor, lua_string, outside_commit


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
    state = editor.lua("return { vim.b.letta_version, vim.bo.buftype, vim.bo.modified }")
    assert state == [copy.blob, "acwrite", False]


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
    editor.wait("require('letta.util').buffer_text(vim.fn.bufnr('persona.md$')) == " + lua_string(persona),
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


def test_a_crashed_server_is_reported_and_the_next_command_brings_it_back(editor: Editor, memory: MemoryRepo):
    editor.start_plugin()
    editor.cmd(f"edit {editor.memory_uri(HUMAN)}")
    editor.wait("#vim.lsp.get_clients({ bufnr = 0, name = 'letta' }) == 1", "the client attached to the buffer")
    first = editor.lua("return require('letta').client().id")
    editor.lua("for _, pid in ipairs(vim.api.nvim_get_proc_children(vim.fn.getpid())) do "
               "vim.uv.kill(pid, 'sigkill') end")
    editor.wait_noted("letta-ls stopped (exit code 0, signal 9)", "ERROR")
    assert editor.noted("the next :Letta command starts it again")

    editor.cmd("Letta tree")
    editor.wait(f"require('letta').client() and require('letta').client().id ~= {first} "
                "and require('letta').client().initialized", "a new client")
    editor.cmd(f"buffer {editor.memory_uri(HUMAN)}")
    editor.wait("#vim.lsp.get_clients({ bufnr = 0, name = 'letta' }) == 1", "the buffer re-attached")
    editor.lua("vim.api.nvim_buf_set_lines(0, 1, 2, false, {})")
    editor.wait("vim.tbl_contains(letta_test.diagnostic_codes(0), 'description-missing')", "diagnostics again")
