-- The memory tree buffer (:Letta tree): system, external and skills, each file with its token count
-- and description, and the system total against its budget. <CR> opens a file, H shows its history,
-- R refreshes; it refreshes by itself on letta/memoryChanged and when the agent changes.
local api = require('letta.api')
local state = require('letta.state')
local util = require('letta.util')

local M = {}

M.BUFFER_NAME = '[Letta memory]'
local TIERS = { { 'system', 'System (loaded every turn)' }, { 'external', 'External (read on demand)' },
  { 'skill', 'Skills' } }

---@type table<integer, table> line number -> tree entry, for the tree buffer
local entries_by_line = {}

--- The tree buffer, if it exists.
---@return integer?
function M.buffer()
  return util.named_buffer(M.BUFFER_NAME)
end

--- The lines of the tree view, and which entry each line shows.
---@param tree table the letta/memoryTree result
---@return string[] lines, table<integer, table> entries
function M.render(tree)
  local status = state.status or {}
  local name = status.agentId == tree.agentId and status.agentName or tree.agentId
  local lines = {
    string.format('Memory of %s (%s) · HEAD %s', name, tree.agentId, (tree.head or 'none'):sub(1, 7)),
  }
  local totals = tree.totals or {}
  local over = (totals.systemTokens or 0) > (totals.systemTokenBudget or math.huge)
  lines[#lines + 1] = string.format('System prompt: %s / %s tokens%s', util.thousands(totals.systemTokens),
    util.thousands(totals.systemTokenBudget), over and '  ⚠ over budget: move reference material out of system/' or '')
  local entries = {}
  local width = 0
  for _, entry in ipairs(tree.entries or {}) do
    width = math.max(width, vim.fn.strdisplaywidth(entry.path))
  end
  for _, tier in ipairs(TIERS) do
    local group = vim.tbl_filter(function(e)
      return e.tier == tier[1]
    end, tree.entries or {})
    table.sort(group, function(a, b)
      return a.path < b.path
    end)
    lines[#lines + 1] = ''
    local subtotal = 0
    for _, e in ipairs(group) do
      subtotal = subtotal + (e.tokens or 0)
    end
    lines[#lines + 1] = string.format('%s — %d file%s, %s tokens', tier[2], #group, #group == 1 and '' or 's',
      util.thousands(subtotal))
    if #group == 0 then
      lines[#lines + 1] = '  (none)'
    end
    for _, e in ipairs(group) do
      local description = e.description
      if description == nil or description == vim.NIL or description == '' then
        description = '(no description)'
      end
      local pad = string.rep(' ', width - vim.fn.strdisplaywidth(e.path))
      lines[#lines + 1] = string.format('  %s%s %7s  %s%s', e.path, pad, util.thousands(e.tokens), description,
        e.readOnly and '  [read only]' or '')
      entries[#lines] = e
    end
  end
  lines[#lines + 1] = ''
  lines[#lines + 1] = '<CR> open · H history · R refresh · q close'
  return lines, entries
end

local ns = vim.api.nvim_create_namespace('letta.tree')

--- Headings, paths, token counts and descriptions in their own colours.
---@param buf integer
---@param lines string[]
---@param entries table<integer, table>
function M.highlight(buf, lines, entries)
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  local function mark(row, from, to, group)
    vim.api.nvim_buf_set_extmark(buf, ns, row, from, { end_col = to, hl_group = group })
  end
  for i, line in ipairs(lines) do
    local row = i - 1
    local entry = entries[i]
    if entry then
      local path_end = 2 + #entry.path
      mark(row, 2, path_end, 'Directory')
      local tokens_from, tokens_to = line:find('%d[%d,]*', path_end + 1)
      if tokens_from then
        mark(row, tokens_from - 1, tokens_to, 'Number')
        mark(row, tokens_to, #line, 'Comment')
      end
    elseif i == 1 or line:match('^%u%l+ ') and not line:match('^%s') and line ~= '' then
      mark(row, 0, #line, i <= 2 and 'Title' or 'Statement')
    end
  end
  if lines[2] and lines[2]:find('over budget', 1, true) then
    mark(1, 0, #lines[2], 'WarningMsg')
  end
end

--- Fetch the tree and draw it into the tree buffer, if it exists.
---@param done fun()? called after drawing
function M.refresh(done)
  local buf = M.buffer()
  if not buf then
    return
  end
  api.memory_tree(nil, function(err, tree)
    if not vim.api.nvim_buf_is_valid(buf) then
      return
    end
    if err then
      util.set_view_lines(buf, { 'letta: cannot list memory: ' .. util.error_text(err), '', 'R to try again' })
      entries_by_line = {}
    else
      state.budget = tree.totals and tree.totals.systemTokenBudget or state.budget
      local lines, entries = M.render(tree)
      util.set_view_lines(buf, lines)
      M.highlight(buf, lines, entries)
      entries_by_line = entries
      vim.b[buf].letta_tree_head = tree.head
    end
    if done then
      done()
    end
  end)
end

---@return table? the entry under the cursor in the tree buffer
function M.entry_under_cursor()
  return entries_by_line[vim.api.nvim_win_get_cursor(0)[1]]
end

local function open_entry()
  local entry = M.entry_under_cursor()
  if not entry then
    return
  end
  -- open in the window the tree was opened from, else above the tree
  local tree_win = vim.api.nvim_get_current_win()
  vim.cmd('wincmd p')
  if vim.api.nvim_get_current_win() == tree_win then
    vim.cmd('aboveleft split')
  end
  vim.cmd('edit ' .. vim.fn.fnameescape(entry.uri))
end

---@param done fun()?
function M.open(done)
  local buf = M.buffer()
  local created = buf == nil
  buf = util.scratch(M.BUFFER_NAME, { split = 'topleft vertical 60split', filetype = 'lettatree' })
  vim.bo[buf].modifiable = false
  vim.wo.number = false
  vim.wo.wrap = false
  if created then
    local map = function(lhs, fn, desc)
      vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true, silent = true, desc = desc })
    end
    map('<CR>', open_entry, 'letta: open the memory file')
    map('R', function()
      M.refresh()
    end, 'letta: refresh the memory tree')
    map('H', function()
      local entry = M.entry_under_cursor()
      if entry then
        require('letta.history').pick(entry.uri)
      end
    end, 'letta: history of the memory file')
    map('d', function()
      local entry = M.entry_under_cursor()
      if entry then
        require('letta.files').delete(entry.uri)
      end
    end, 'letta: delete the memory file (asks first)')
    map('m', function()
      local entry = M.entry_under_cursor()
      if entry then
        vim.ui.input({ prompt = 'letta: rename ' .. entry.path .. ' to: ', default = entry.path }, function(new)
          if new and vim.trim(new) ~= '' and vim.trim(new) ~= entry.path then
            require('letta.files').rename(entry.uri .. ' ' .. vim.trim(new))
          end
        end)
      end
    end, 'letta: rename or move the memory file')
    map('q', '<cmd>close<cr>', 'letta: close the memory tree')
  end
  M.refresh(done)
end

state.on('memoryChanged', function()
  M.refresh()
end)

local last_agent
state.on('status', function(status)
  if last_agent ~= nil and last_agent ~= status.agentId then
    vim.schedule(M.refresh)
  end
  last_agent = status.agentId
end)

return M
