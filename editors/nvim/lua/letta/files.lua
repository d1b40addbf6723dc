-- :Letta mv and :Letta rm: rename or delete a memory file or folder (letta/memoryRename,
-- letta/memoryDelete). Each is one commit the file's history can undo. Buffers of what moved or went away
-- follow: an unmodified buffer of a renamed file is replaced by the new one, an unmodified buffer of a
-- deleted file is wiped; a buffer with unsaved edits is left alone (writing it stores the file again).
local api = require('letta.api')
local state = require('letta.state')
local uri_mod = require('letta.uri')
local util = require('letta.util')

local M = {}

--- The letta-memory:// URI a command means: a path or URI given, else the current buffer's memory file.
---@param target string? a memory path or URI
---@return string? uri, string? why_not
function M.target_uri(target)
  if target and target ~= '' then
    local given = uri_mod.parse(target)
    if given then
      return uri_mod.memory(given.agent_id, given.path)
    end
    local agent = state.agent_id()
    if not agent then
      return nil, 'the server has not said which agent is current yet; try again in a moment'
    end
    return uri_mod.memory(agent, target)
  end
  local parsed = vim.b.letta_uri and uri_mod.parse(vim.b.letta_uri)
  if parsed and (parsed.scheme == uri_mod.MEMORY or parsed.scheme == uri_mod.MEMORY_REV) then
    return uri_mod.memory(parsed.agent_id, parsed.path)
  end
  return nil, 'open a memory file (:Letta tree) or give its path'
end

--- Memory buffers whose file is `uri` or lies under it (a folder), with the path below it.
local function buffers_under(uri)
  local found = {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_is_loaded(buf) and vim.b[buf].letta_uri or nil
    if name == uri then
      found[#found + 1] = { buf = buf, rest = '' }
    elseif name and vim.startswith(name, uri .. '/') then
      found[#found + 1] = { buf = buf, rest = name:sub(#uri + 1) }
    end
  end
  return found
end

--- Replace an unmodified buffer by `new_uri` in every window showing it (or just wipe it).
local function retire(buf, new_uri)
  if vim.bo[buf].modified then
    return
  end
  if new_uri then
    for _, win in ipairs(vim.fn.win_findbuf(buf)) do
      vim.api.nvim_win_call(win, function()
        vim.cmd('edit ' .. vim.fn.fnameescape(new_uri))
      end)
    end
  end
  if vim.api.nvim_buf_is_valid(buf) then
    pcall(vim.api.nvim_buf_delete, buf, { force = false })
  end
end

--- :Letta mv [path] {new path}: one word renames the current buffer's file.
---@param args string
function M.rename(args)
  local words = vim.split(vim.trim(args), '%s+', { trimempty = true })
  if #words == 0 or #words > 2 then
    util.error('mv: give the new path (:Letta mv reference/new.md), or the old and the new one')
    return
  end
  local uri, why = M.target_uri(#words == 2 and words[1] or nil)
  if not uri then
    util.error('mv: ' .. why)
    return
  end
  local parsed = uri_mod.parse(uri)
  local new_uri = uri_mod.memory(parsed.agent_id, words[#words])
  api.memory_rename({ uri = uri, newUri = new_uri }, function(err, result)
    if err then
      util.error('mv: ' .. util.error_text(err))
      return
    end
    for _, hit in ipairs(buffers_under(uri)) do
      retire(hit.buf, new_uri .. hit.rest)
    end
    util.notify(string.format('renamed %s to %s (%s)', parsed.path, words[#words], tostring(result.commit):sub(1, 7)))
  end)
end

--- :Letta rm [path]: asks first, then deletes the file or folder.
---@param args string
function M.delete(args)
  local uri, why = M.target_uri(vim.trim(args))
  if not uri then
    util.error('rm: ' .. why)
    return
  end
  local path = uri_mod.parse(uri).path
  vim.ui.select({ 'Delete', 'Cancel' }, {
    prompt = string.format('letta: delete %s from memory? (it stays in the history and can be restored)', path),
  }, function(choice)
    if choice ~= 'Delete' then
      return
    end
    api.memory_delete({ uri = uri }, function(err, result)
      if err then
        util.error('rm: ' .. util.error_text(err))
        return
      end
      for _, hit in ipairs(buffers_under(uri)) do
        retire(hit.buf, nil)
      end
      util.notify(string.format('deleted %s (%s)', path, tostring(result.commit):sub(1, 7)))
    end)
  end)
end

return M
