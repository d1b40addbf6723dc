-- $/progress from letta-ls made visible: the title and message of long work (doctor, init, dream,
-- defrag, /remember) echo as they change, and a notification says when each one ends.
local lsp = require('letta.lsp')

local M = {}

---@type string[] what was shown, newest last (kept short; :messages has the notifications)
M.shown = {}

local titles = {} ---@type table<string|integer, string>

local function show(text, final)
  table.insert(M.shown, text)
  if #M.shown > 50 then
    table.remove(M.shown, 1)
  end
  if final then
    vim.notify('letta: ' .. text, vim.log.levels.INFO)
  else
    vim.api.nvim_echo({ { 'letta: ' .. text, 'MoreMsg' } }, false, {})
  end
end

---@param params { token: string|integer, value: table }
function M.handle(params)
  local value = params.value or {}
  if value.kind == 'begin' then
    titles[params.token] = value.title
  end
  local title = titles[params.token] or value.title or 'working'
  if value.kind == 'end' then
    titles[params.token] = nil
    show(string.format('%s: %s', title, value.message or 'done'), true)
  else
    local pct = value.percentage and string.format(' (%d%%)', value.percentage) or ''
    show(string.format('%s%s%s', title, value.message and (': ' .. value.message) or '', pct), false)
  end
end

function M.register()
  local group = vim.api.nvim_create_augroup('letta.progress', { clear = true })
  vim.api.nvim_create_autocmd('LspProgress', {
    group = group,
    desc = 'letta: show progress of long work',
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == lsp.NAME then
        M.handle(ev.data.params)
      end
    end,
  })
end

return M
