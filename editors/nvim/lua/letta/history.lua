-- :Letta history [path]: the commits of a memory file (letta/memoryHistory), picked with vim.ui.select;
-- the chosen revision opens read-only as a letta-memory-rev:// buffer.
local api = require('letta.api')
local uri_mod = require('letta.uri')
local util = require('letta.util')

local M = {}

--- :Letta history [path]: pick a commit of a memory file and open that revision.
---@param target string? a memory path or URI; default: the current buffer's file
function M.pick(target)
  local uri, why = require('letta.files').target_uri(target)
  if not uri then
    util.error('history: ' .. why .. ', e.g. :Letta history system/human.md')
    return
  end
  api.memory_history({ uri = uri }, function(err, entries)
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
