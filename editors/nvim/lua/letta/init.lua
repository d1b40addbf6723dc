-- letta for Neovim: a client of letta-ls, the language server of a coding agent with git-backed memory.
--
--   require("letta").setup({ cmd = {...}, settings = { model = { provider = "openai" } } })
--   require("letta").client()      -- the running vim.lsp.Client named "letta"
--   require("letta").statusline()  -- "Letta Ada · 1.2k/20k · idle"
--
-- Memory files open as letta-memory://<agent-id>/<path> buffers; :Letta runs everything else.
local M = {}

local registered = false

--- Register the autocmds and :Letta (idempotent), then start the client.
---@param opts letta.Options?
---@return vim.lsp.Client?
function M.setup(opts)
  if vim.fn.has('nvim-0.11') ~= 1 then
    vim.notify('letta: Neovim 0.11 or later is needed', vim.log.levels.ERROR)
    return nil
  end
  require('letta.config').apply(opts)
  M.register()
  return require('letta.lsp').start()
end

--- Register autocmds and the :Letta command without starting anything (plugin/letta.lua calls this).
function M.register()
  if registered then
    return
  end
  registered = true
  require('letta.memory').register()
  require('letta.commands').register()
  require('letta.progress').register()
  require('letta.chat')
  require('letta.tree')
end

---@return vim.lsp.Client?
function M.client()
  return require('letta.lsp').client()
end

--- The last letta/status (agentId, agentName, conversationId, model, systemTokens, dream, sync, runs), or nil.
---@return table?
function M.status()
  return require('letta.state').status
end

local function short(n)
  if type(n) ~= 'number' then
    return '?'
  end
  if n >= 1000 then
    return (string.format('%.1fk', n / 1000):gsub('%.0k', 'k'))
  end
  return tostring(n)
end

--- The subagent run to show: the one running, else the first waiting (letta/status `runs`).
local function shown_run(status)
  local runs = type(status.runs) == 'table' and status.runs or {}
  for _, run in ipairs(runs) do
    if run.state == 'running' then
      return run
    end
  end
  return runs[1]
end

--- A statusline item: agent, system tokens against the budget, then the memory subagent run in progress
--- ("init 40%", "defrag waiting") or else the dream state. Empty until connected.
---@return string
function M.statusline()
  local status = require('letta.state').status
  if not status then
    return ''
  end
  local budget = require('letta.state').budget
  local tokens = short(status.systemTokens) .. (budget and ('/' .. short(budget)) or '')
  local over = budget and type(status.systemTokens) == 'number' and status.systemTokens > budget
  local activity = tostring(status.dream or 'idle')
  local run = shown_run(status)
  if run then
    local pct = type(run.percentage) == 'number' and string.format(' %d%%', run.percentage) or ''
    activity = run.state == 'running' and (tostring(run.kind) .. pct) or (tostring(run.kind) .. ' waiting')
  end
  return string.format('Letta %s · %s%s · %s', tostring(status.agentName), tokens, over and '!' or '', activity)
end

--- Change settings at run time (SPEC section 9 shape); the server re-reads them.
---@param settings table
function M.update_settings(settings)
  require('letta.lsp').update_settings(settings)
end

--- Open the chat buffer.
function M.chat()
  return require('letta.chat').open()
end

return M
