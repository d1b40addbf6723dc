-- `make try`: Neovim with only the letta plugin (your own config and plugins are not read: --clean),
-- opened on the chat in the current folder. With no API key the embedded local model answers.
local try_dir = vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, 'S').source:sub(2)))
local plugin_dir = vim.fs.dirname(try_dir)
vim.opt.runtimepath:prepend(plugin_dir)
vim.cmd('runtime! plugin/letta.lua')
pcall(vim.cmd.helptags, vim.fn.fnameescape(plugin_dir .. '/doc')) -- so :help letta works

vim.o.laststatus = 2
vim.o.statusline = "%<%f %m%=%{v:lua.require'letta'.statusline()}  "
vim.o.termguicolors = true
vim.o.swapfile = false

local letta = require('letta')
letta.setup({})

local function model_hint()
  for _, name in ipairs({ 'ANTHROPIC_API_KEY', 'OPENAI_API_KEY' }) do
    if vim.env[name] and vim.env[name] ~= '' then
      return name .. ' is set: that model answers.'
    end
  end
  return 'No API key set: the embedded Qwen2.5-Coder-0.5B model answers, offline (small, so keep requests simple). '
    .. 'Set ANTHROPIC_API_KEY or OPENAI_API_KEY for a stronger model.'
end

-- what a new user can type first: something the agent should remember, which lands in memory as a commit
local FIRST_MESSAGE = 'Remember that I always use pnpm in this repo.'

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    local chat = require('letta.chat')
    chat.open({ current_window = true })
    chat.note({
      model_hint(),
      'Try as a first message: "' .. FIRST_MESSAGE .. '" (then :Letta tree shows the memory file it wrote)',
      ':Letta tree shows memory (<CR> opens a file, :w commits it) · :Letta doctor audits it · '
        .. ':Letta <Tab> lists everything · :checkhealth letta · :qa quits',
      '',
    })
    vim.cmd('startinsert!')
  end,
})
