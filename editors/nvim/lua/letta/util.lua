-- Small helpers shared by the plugin's modules: user messages, text <-> buffer lines, scratch buffers.
-- Nothing here talks to the server.
local M = {}

--- Tell the user something, always prefixed with "letta: " so it is clear where it came from.
--- Scheduled, so it is safe from LSP handlers and autocmds alike.
---@param msg string
---@param level integer? vim.log.levels.*
function M.notify(msg, level)
  vim.schedule(function()
    vim.notify('letta: ' .. msg, level or vim.log.levels.INFO, { title = 'letta' })
  end)
end

function M.error(msg)
  M.notify(msg, vim.log.levels.ERROR)
end

function M.warn(msg)
  M.notify(msg, vim.log.levels.WARN)
end

--- The readable part of an LSP error (pygls puts the useful text in `message`).
---@param err table|string|nil
---@return string
function M.error_text(err)
  if type(err) == 'table' then
    return tostring(err.message or vim.inspect(err))
  end
  return tostring(err)
end

--- How a document's text maps onto buffer options, so that a save gives back the same bytes:
--- a byte order mark, CRLF line endings and a missing final newline all survive a round trip.
---@class letta.TextShape
---@field lines string[]
---@field bomb boolean
---@field fileformat 'unix'|'dos'
---@field eol boolean

---@param text string
---@return letta.TextShape
function M.text_to_lines(text)
  local bomb = false
  if text:sub(1, 3) == '\239\187\191' then
    bomb, text = true, text:sub(4)
  end
  local fileformat = 'unix'
  if text:find('\r\n', 1, true) and not text:gsub('\r\n', ''):find('\n', 1, true) then
    fileformat, text = 'dos', text:gsub('\r\n', '\n')
  end
  local eol = text:sub(-1) == '\n'
  if eol then
    text = text:sub(1, -2)
  end
  local lines = vim.split(text, '\n', { plain = true })
  if #lines == 1 and lines[1] == '' and not eol then
    eol = true -- an empty file is one empty buffer line; writing it back gives "" either way
  end
  return { lines = lines, bomb = bomb, fileformat = fileformat, eol = eol }
end

--- The text a buffer holds, in the shape it was loaded with.
---@param buf integer
---@return string
function M.buffer_text(buf)
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local nl = vim.bo[buf].fileformat == 'dos' and '\r\n' or '\n'
  local text = table.concat(lines, nl)
  if #lines == 1 and lines[1] == '' then
    text = ''
  elseif vim.bo[buf].eol or vim.bo[buf].fixeol then
    text = text .. nl
  end
  if vim.bo[buf].bomb then
    text = '\239\187\191' .. text
  end
  return text
end

--- Replace a buffer's text, keeping its modifiable/modified state under the caller's control.
---@param buf integer
---@param text string
function M.set_buffer_text(buf, text)
  local shape = M.text_to_lines(text)
  local was_modifiable = vim.bo[buf].modifiable
  vim.bo[buf].modifiable = true
  vim.bo[buf].bomb = shape.bomb
  vim.bo[buf].fileformat = shape.fileformat
  vim.bo[buf].eol = shape.eol
  vim.bo[buf].fixeol = shape.eol
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, shape.lines)
  vim.bo[buf].modifiable = was_modifiable
end

--- The buffer named exactly `name` (e.g. "[Letta chat]"), if it exists and is valid.
---@param name string
---@return integer?
function M.named_buffer(name)
  local buf = vim.fn.bufnr('^' .. vim.fn.escape(name, '[]*?\\') .. '$')
  if buf ~= -1 and vim.api.nvim_buf_is_valid(buf) then
    return buf
  end
  return nil
end

--- A scratch buffer shown in a split, found again by name on later calls (one per purpose).
---@param name string buffer name, e.g. "letta://doctor" is avoided: names with :// go through BufReadCmd
---@param opts { filetype?: string, split?: string }?
---@return integer buf, integer win
function M.scratch(name, opts)
  opts = opts or {}
  local buf = M.named_buffer(name)
  if not buf then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, name)
  end
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  if opts.filetype then
    vim.bo[buf].filetype = opts.filetype
  end
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    vim.cmd((opts.split or 'botright split'))
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
  else
    vim.api.nvim_set_current_win(win)
  end
  return buf, win
end

--- Replace all lines of a read-only view buffer.
---@param buf integer
---@param lines string[]
function M.set_view_lines(buf, lines)
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
end

--- "12345" -> "12,345"
---@param n number?
---@return string
function M.thousands(n)
  if n == nil then
    return '?'
  end
  local s = tostring(math.floor(n))
  local out = s:reverse():gsub('(%d%d%d)', '%1,'):reverse()
  return (out:gsub('^,', ''))
end

return M
