-- :Letta history [path]: the commits of a memory file (letta/memoryHistory), picked with vim.ui.select;
-- the chosen revision opens read-only as a letta-memory-rev:// buffer.
local lsp = require('letta.lsp')
local state = require('letta.state')
local uri_mod = require('letta.uri')
local util = require('letta.util')

local M = {}

--- :Letta history [path]: pick a commit of a memory file and open that revision.
---@param target string? a memory path or URI; default: the current buffer's file
function M.pick(target)
  local uri
  local given = target and target ~= '' and uri_mod.parse(target)
  if given then
    uri = uri_mod.memory(given.agent_id, given.path)
  elseif target and target ~= '' then
    local agent = state.agent_id()
    if not agent then
      util.error('the server has not said which agent is current yet; try again in a moment')
      return
    end
    uri = uri_mod.memory(agent, target)
  else
    local parsed = vim.b.letta_uri and uri_mod.parse(vim.b.letta_uri)
    if parsed and parsed.scheme == uri_mod.MEMORY_REV then
      uri = uri_mod.memory(parsed.agent_id, parsed.path)
    elseif parsed and parsed.scheme == uri_mod.MEMORY then
      uri = vim.b.letta_uri
    else
      util.error('history needs a memory file: open one (:Letta tree) or give a path, e.g. :Letta history system/human.md')
      return
    end
  end
  lsp.request('letta/memoryHistory', { uri = uri }, function(err, entries)
    if err then
      util.error('history: ' .. util.error_text(err))
      return
    end
    if not entries or #entries == 0 then
      util.notify('no commits yet for ' .. uri_mod.parse(uri).path)
      return
    end
    vim.ui.select(entries, {
      prompt = 'letta: history of ' .. uri_mod.parse(uri).path,
      format_item = function(entry)
        return string.format('%s  %s  %s  %s', entry.commit:sub(1, 7), (entry.date or ''):sub(1, 16),
          entry.author or '', entry.message or '')
      end,
    }, function(entry)
      if entry then
        vim.cmd('edit ' .. vim.fn.fnameescape(entry.uri))
      end
    end)
  end)
end

return M
