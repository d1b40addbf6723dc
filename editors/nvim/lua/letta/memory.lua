-- Memory files as buffers: BufReadCmd/BufWriteCmd on letta-memory://*, read-only buffers for
-- letta-memory-rev://* and letta-conversation://*.
--
-- A memory buffer remembers the version (git blob id) it was loaded from; :write sends it as
-- baseVersion, so a save never silently overwrites a change made meanwhile by the agent, another
-- editor or git. When that happens (-32801) the buffer keeps its text, unsaved, and the user picks:
-- compare, overwrite, reload or keep editing. letta/memoryChanged reloads unmodified buffers and
-- warns about modified ones.
local api = require('letta.api')
local lsp = require('letta.lsp')
local state = require('letta.state')
local uri_mod = require('letta.uri')
local util = require('letta.util')

local M = {}

local NEW_FILE_TEMPLATE = '---\ndescription: \n---\n'

---@param err table
---@return boolean
local function is_not_found(err)
  return api.kind(err) == api.kinds.NOT_FOUND
end

---@param err table
---@return boolean
local function is_stale(err)
  return api.kind(err) == api.kinds.STALE
end

---@param buf integer
---@return string?
local function buffer_uri(buf)
  return vim.b[buf].letta_uri
end

--- Set a buffer's text without leaving the load in its undo history.
local function load_text(buf, text)
  local undolevels = vim.bo[buf].undolevels
  vim.bo[buf].undolevels = -1
  util.set_buffer_text(buf, text)
  vim.bo[buf].undolevels = undolevels
end

local function attach(buf)
  local client = lsp.client()
  if client and not vim.lsp.buf_is_attached(buf, client.id) then
    vim.lsp.buf_attach_client(buf, client.id)
  end
end

--- Load an editable memory file into `buf`.
---@param buf integer
---@param uri string
local function read_memory(buf, uri)
  local parsed = uri_mod.parse(uri)
  vim.b[buf].letta_uri = uri
  vim.bo[buf].buftype = 'acwrite'
  vim.bo[buf].swapfile = false
  local err, result = api.memory_read_sync({ uri = uri })
  if err and is_not_found(err) then
    load_text(buf, NEW_FILE_TEMPLATE)
    vim.b[buf].letta_version = nil
    vim.b[buf].letta_new = true
    vim.b[buf].letta_load_failed = nil
    util.notify(string.format('%s is a new memory file: fill in its description and :write to create it', parsed.path))
  elseif err then
    load_text(buf, '')
    vim.b[buf].letta_load_failed = util.error_text(err)
    util.error(string.format('cannot open %s: %s (:edit! to try again)', uri, util.error_text(err)))
    vim.bo[buf].filetype = 'markdown'
    vim.bo[buf].modified = false
    return
  else
    load_text(buf, result.text)
    vim.b[buf].letta_version = result.version
    vim.b[buf].letta_head = result.head
    vim.b[buf].letta_new = nil
    vim.b[buf].letta_load_failed = nil
  end
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].modified = false
  attach(buf)
end

--- Load a revision or a transcript into a read-only buffer.
local function read_only(buf, uri)
  vim.b[buf].letta_uri = uri
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].swapfile = false
  local err, result = lsp.request_sync('workspace/textDocumentContent', { uri = uri })
  if err then
    load_text(buf, '')
    util.error(string.format('cannot open %s: %s', uri, util.error_text(err)))
  else
    load_text(buf, result.text)
  end
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].modified = false
  vim.bo[buf].modifiable = false
  vim.bo[buf].readonly = true
end

---@param buf integer
---@param uri string
function M.read(buf, uri)
  local parsed = uri_mod.parse(uri)
  if not parsed then
    util.error(uri .. ' is not a letta URI: expected letta-memory://<agent-id>/<path>')
    return
  end
  if parsed.scheme == uri_mod.MEMORY then
    read_memory(buf, uri)
  else
    read_only(buf, uri)
  end
end

---@param path string
---@param commit string?
local function saved_message(path, commit)
  if commit then
    return string.format('saved %s (commit %s)', path, commit:sub(1, 7))
  end
  return string.format('%s is unchanged', path)
end

--- After a successful letta/memoryWrite: the buffer is on the new version, and clean unless the user
--- typed while the save was in flight.
local function saved(buf, uri, text, result)
  vim.b[buf].letta_version = result.version
  vim.b[buf].letta_head = result.commit
  vim.b[buf].letta_new = nil
  vim.b[buf].letta_stale = nil
  if util.buffer_text(buf) == text then
    vim.bo[buf].modified = false
  end
  util.notify(saved_message(uri_mod.parse(uri).path, result.commit))
  vim.api.nvim_exec_autocmds('BufWritePost', { buffer = buf, modeline = false })
end

--- Save and wait for the answer (BufWriteCmd: :wq must not quit before the commit exists).
---@return table? err
local function save_now(buf, uri, text, base)
  local err, result = api.memory_write_sync({ uri = uri, text = text, baseVersion = base })
  if not err then
    saved(buf, uri, text, result)
  end
  return err
end

--- Put what memory holds now into an open buffer (async); `done(ok)` is called after.
---@param buf integer
---@param done fun(ok: boolean)?
function M.reload(buf, done)
  local uri = buffer_uri(buf)
  if not uri then
    return
  end
  local path = uri_mod.parse(uri).path
  api.memory_read({ uri = uri }, function(err, result)
    if not vim.api.nvim_buf_is_valid(buf) then
      return
    end
    if err and is_not_found(err) then
      vim.b[buf].letta_version = nil
      util.warn(string.format('%s was deleted from memory; this buffer keeps its text (:write recreates it)', path))
    elseif err then
      util.error(string.format('cannot reload %s: %s', path, util.error_text(err)))
    else
      local changed = util.buffer_text(buf) ~= result.text
      if changed then
        util.set_buffer_text(buf, result.text)
      end
      vim.b[buf].letta_version = result.version
      vim.b[buf].letta_head = result.head
      vim.b[buf].letta_stale = nil
      vim.bo[buf].modified = false
      if done then
        done(changed)
      end
      return
    end
    if done then
      done(false)
    end
  end)
end

--- Show the version in memory beside the buffer, as a diff.
---@param buf integer
function M.compare(buf)
  local uri = buffer_uri(buf)
  local parsed = uri and uri_mod.parse(uri)
  if not parsed then
    return
  end
  api.memory_read({ uri = uri }, function(err, result)
    if err then
      util.error(string.format('cannot read the saved %s: %s', parsed.path, util.error_text(err)))
      return
    end
    local rev = string.format('%s://%s/%s/%s', uri_mod.MEMORY_REV, parsed.agent_id, result.head,
      uri_mod.encode_path(parsed.path))
    local win = vim.fn.bufwinid(buf)
    if win ~= -1 then
      vim.api.nvim_set_current_win(win)
    end
    vim.cmd('diffthis')
    vim.cmd('vertical rightbelow split ' .. vim.fn.fnameescape(rev))
    vim.cmd('diffthis')
    util.notify(string.format('left: your text (unsaved); right: %s as saved now. Merge, then :write and pick '
      .. '"Overwrite" to save your version', parsed.path))
  end)
end

M.CONFLICT_CHOICES = {
  'Compare with the version in memory',
  'Overwrite it with my text',
  'Reload (discard my changes)',
  'Keep editing',
}

--- The file changed since the buffer was loaded: nothing was saved, the text stays, the user decides.
---@param buf integer
---@param uri string
---@param err table
function M.on_conflict(buf, uri, err)
  local path = uri_mod.parse(uri).path
  local current = type(err.data) == 'table' and err.data.current or nil
  if current == vim.NIL then
    current = nil
  end
  util.error(string.format('%s changed in memory since you opened it (the agent, another editor or git). '
    .. 'Nothing was saved; your text is still in this buffer.', path))
  vim.schedule(function()
    vim.ui.select(M.CONFLICT_CHOICES, { prompt = 'letta: ' .. path .. ' changed meanwhile' }, function(_, idx)
      if not vim.api.nvim_buf_is_valid(buf) then
        return
      end
      if idx == 1 then
        M.compare(buf)
      elseif idx == 2 then
        local mine = util.buffer_text(buf)
        api.memory_write({ uri = uri, text = mine, baseVersion = current }, function(again, result)
          if not again then
            saved(buf, uri, mine, result)
          elseif is_stale(again) then
            M.on_conflict(buf, uri, again) -- it moved again meanwhile: ask again
          else
            util.error(string.format('%s was not saved: %s. Your text is still in this buffer.', path,
              util.error_text(again)))
          end
        end)
      elseif idx == 3 then
        M.reload(buf, function()
          util.notify('reloaded ' .. path .. ' from memory')
        end)
      end
    end)
  end)
end

--- BufWriteCmd: commit the buffer through letta/memoryWrite.
---@param buf integer
---@param target string the name being written (the buffer's own, or another for :write {name})
function M.write(buf, target)
  local uri = buffer_uri(buf)
  local parsed = uri_mod.parse(target)
  if not parsed or parsed.scheme ~= uri_mod.MEMORY then
    util.error(target .. ' is read only: only letta-memory:// files can be saved')
    return
  end
  local text = util.buffer_text(buf)
  if target ~= uri then
    -- :write letta-memory://.../other.md from any buffer: a copy under that name; this buffer stays as it is
    local err, result = api.memory_write_sync({ uri = target, text = text })
    if err then
      util.error(string.format('%s was not saved: %s', parsed.path, util.error_text(err)))
    elseif uri == nil and vim.api.nvim_buf_get_name(buf) == target then
      -- an unnamed buffer took the name it was written to (cpoptions "F"): it is that memory file now
      vim.b[buf].letta_uri = target
      vim.bo[buf].buftype = 'acwrite'
      vim.bo[buf].swapfile = false
      saved(buf, target, text, result)
      attach(buf)
    else
      util.notify(saved_message(parsed.path, result.commit))
    end
    return
  end
  if vim.b[buf].letta_load_failed then
    util.error(string.format('%s was never loaded (%s), so saving it could overwrite memory; :edit! to load it first',
      parsed.path, vim.b[buf].letta_load_failed))
    return
  end
  local err = save_now(buf, uri, text, vim.b[buf].letta_version)
  if not err then
    return
  end
  if is_stale(err) then
    M.on_conflict(buf, uri, err)
  else
    util.error(string.format('%s was not saved: %s. Your text is still in this buffer.', parsed.path,
      util.error_text(err)))
  end
end

--- Open memory buffers, by agent and decoded path (URIs may differ in their percent-encoding).
---@return table<string, integer>
local function open_memory_buffers()
  local found = {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local uri = vim.api.nvim_buf_is_loaded(buf) and buffer_uri(buf)
    local parsed = uri and uri_mod.parse(uri)
    if parsed and parsed.scheme == uri_mod.MEMORY then
      found[parsed.agent_id .. '/' .. parsed.path] = buf
    end
  end
  return found
end

--- letta/memoryChanged: reload what the user has not touched; warn where they have.
---@param params { agentId: string, head: string, uris: string[] }
function M.on_memory_changed(params)
  local open = open_memory_buffers()
  for _, changed in ipairs(params.uris or {}) do
    local parsed = uri_mod.parse(changed)
    local buf = parsed and open[parsed.agent_id .. '/' .. parsed.path]
    if buf then
      if vim.bo[buf].modified then
        vim.b[buf].letta_stale = true
        util.warn(string.format('%s changed in memory while you were editing it; :write will ask what to do, '
          .. ':edit! loads the new version', parsed.path))
      else
        M.reload(buf, function(changed)
          if changed then
            util.notify('reloaded ' .. parsed.path .. ' (changed in memory)')
          end
        end)
      end
    end
  end
end

function M.register()
  local group = vim.api.nvim_create_augroup('letta.memory', { clear = true })
  local read_patterns = { uri_mod.MEMORY .. '://*', uri_mod.MEMORY_REV .. '://*', uri_mod.CONVERSATION .. '://*' }
  vim.api.nvim_create_autocmd('BufReadCmd', {
    group = group,
    pattern = read_patterns,
    desc = 'letta: load a memory file, revision or transcript from letta-ls',
    callback = function(ev)
      M.read(ev.buf, ev.match)
    end,
  })
  vim.api.nvim_create_autocmd('FileReadCmd', {
    group = group,
    pattern = read_patterns,
    desc = 'letta: :read a memory file into the buffer',
    callback = function(ev)
      local err, result = lsp.request_sync('workspace/textDocumentContent', { uri = ev.match })
      if err then
        util.error(string.format('cannot read %s: %s', ev.match, util.error_text(err)))
        return
      end
      local line = vim.api.nvim_win_get_cursor(0)[1]
      vim.api.nvim_buf_set_lines(0, line, line, false, util.text_to_lines(result.text).lines)
    end,
  })
  vim.api.nvim_create_autocmd('BufWriteCmd', {
    group = group,
    pattern = { uri_mod.MEMORY .. '://*', uri_mod.MEMORY_REV .. '://*', uri_mod.CONVERSATION .. '://*' },
    desc = 'letta: commit a memory file through letta-ls',
    callback = function(ev)
      M.write(ev.buf, ev.match)
    end,
  })
end

state.on('memoryChanged', function(params)
  M.on_memory_changed(params)
end)

return M
