-- The chat buffer: a prompt buffer that streams letta/chatEvent as it arrives. Text pieces join the
-- reply as they come, tool calls and results show as short lines, memory edits as openable
-- letta-memory:// lines (<CR> opens one), errors as warnings. The header says which agent,
-- conversation and model it talks to. Messages typed while a reply streams wait their turn.
local api = require('letta.api')
local lsp = require('letta.lsp')
local state = require('letta.state')
local util = require('letta.util')

local M = {}

M.BUFFER_NAME = '[Letta chat]'
M.PROMPT = '> '
local HEADER_LINES = 2

---@class letta.ChatTurn
---@field request_id integer?
---@field client vim.lsp.Client?
---@field turn_id string? the server's turnId, from the turn's first event
---@field streamed boolean text arrived in pieces
---@field failed boolean an error event was shown

local turn = nil ---@type letta.ChatTurn?
local queue = {} ---@type string[]
local stopped_turns = {} ---@type table<string, true> events of a stopped turn that still arrive are dropped
local writing = false -- the line above the prompt is a reply still being streamed into

---@return integer?
function M.buffer()
  return util.named_buffer(M.BUFFER_NAME)
end

---@return boolean
function M.busy()
  return turn ~= nil
end

local function header()
  local status = state.status or {}
  local model = status.model
  if model == nil or model == vim.NIL then
    model = 'chosen from the environment'
  end
  return {
    string.format('Letta · %s · conversation %s · model %s', status.agentName or 'starting…',
      state.conversation or status.conversationId or 'default', model),
    'Type after "> " and press Enter · :Letta new starts a new conversation · <C-c> stops a reply · '
      .. '<CR> on a letta-memory:// line opens it',
  }
end

local function update_header()
  local buf = M.buffer()
  if buf then
    vim.api.nvim_buf_set_lines(buf, 0, HEADER_LINES, false, header())
    vim.bo[buf].modified = false
  end
end

--- Insert lines just above the prompt line (the buffer's last line).
---@param lines string[]
local function add_lines(lines)
  local buf = M.buffer()
  if not buf then
    return
  end
  local last = vim.api.nvim_buf_line_count(buf)
  vim.api.nvim_buf_set_lines(buf, last - 1, last - 1, false, lines)
  vim.bo[buf].modified = false -- a transcript, not a file: no [+]
  writing = false
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    if vim.api.nvim_get_current_win() ~= win or vim.fn.mode() ~= 'i' then
      vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
    end
  end
end

--- Add a streamed piece of text to the reply being written (it may hold newlines).
---@param piece string
local function add_text(piece)
  local buf = M.buffer()
  if not buf or piece == '' then
    return
  end
  local parts = vim.split(piece, '\n', { plain = true })
  if not writing then
    add_lines({ '' })
  end
  local last = vim.api.nvim_buf_line_count(buf)
  local row = last - 2 -- 0-based index of the line just above the prompt
  local current = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
  parts[1] = current .. parts[1]
  vim.api.nvim_buf_set_lines(buf, row, row + 1, false, parts)
  vim.bo[buf].modified = false
  writing = true
  if turn then
    turn.streamed = true
  end
end

local function describe_arguments(arguments)
  if type(arguments) == 'string' then
    local ok, decoded = pcall(vim.json.decode, arguments)
    arguments = ok and decoded or arguments
  end
  if type(arguments) ~= 'table' then
    return tostring(arguments or '')
  end
  local parts = {}
  for _, key in ipairs({ 'command', 'file_path', 'old_path', 'new_path', 'path', 'query', 'pattern', 'name' }) do
    if type(arguments[key]) == 'string' then
      parts[#parts + 1] = arguments[key]
    end
  end
  if #parts == 0 then
    parts[1] = vim.json.encode(arguments)
  end
  local text = table.concat(parts, ' ')
  return #text > 100 and text:sub(1, 97) .. '...' or text
end

local function first_line(text)
  text = tostring(text or ''):gsub('^%s+', '')
  local line = text:match('^[^\n]*') or ''
  if #line > 100 then
    line = line:sub(1, 97) .. '...'
  end
  return line
end

--- One letta/chatEvent into the chat buffer.
---@param event table
function M.on_event(event)
  if not M.buffer() or stopped_turns[event.turnId or ''] then
    return
  end
  if turn and not turn.turn_id and event.turnId then
    turn.turn_id = event.turnId
  end
  local kind = event.kind
  if kind == 'text' then
    add_text(event.text or '')
  elseif kind == 'tool_call' then
    add_lines({ string.format('  ⚙ %s %s', event.name or '?', describe_arguments(event.arguments)) })
  elseif kind == 'tool_result' then
    add_lines({ string.format('    ↳ %s', first_line(event.result)) })
  elseif kind == 'memory_edit' then
    add_lines({ string.format('  ✎ %s — %s (commit %s)', event.uri or '?', event.reason or '',
      tostring(event.commit or ''):sub(1, 7)) })
  elseif kind == 'error' then
    if turn then
      turn.failed = true
    end
    add_lines({ '  ⚠ ' .. tostring(event.message or 'error') })
  elseif kind == 'done' then
    if turn and not turn.streamed and event.reply and event.reply ~= '' and event.reply ~= vim.NIL then
      add_text(event.reply)
    end
    writing = false
  end
  if event.conversationId and event.conversationId ~= vim.NIL and event.conversationId ~= state.conversation then
    state.conversation = event.conversationId
    update_header()
  end
end

local send_next

local function finish_turn(this, err, result)
  if turn ~= this then
    return -- a turn the user stopped: its late answer changes nothing
  end
  local failed = turn and turn.failed
  turn = nil
  if err and not failed then
    add_lines({ '  ⚠ ' .. util.error_text(err) })
  elseif result and result.conversationId then
    state.conversation = result.conversationId
    update_header()
  end
  add_lines({ '' })
  vim.api.nvim_exec_autocmds('User', { pattern = 'LettaChatDone', modeline = false })
  send_next()
end

send_next = function()
  if turn or #queue == 0 then
    return
  end
  local message = table.remove(queue, 1)
  local this = { streamed = false, failed = false }
  turn = this
  local arg = { message = message }
  if state.conversation then
    arg.conversationId = state.conversation
  end
  lsp.when_ready(function(client)
    if turn ~= this then
      return
    end
    this.client = client
    local ok, id = api.chat(client, arg, function(err, result)
      finish_turn(this, err, result)
    end)
    if not ok then
      finish_turn(this, { message = 'the letta-ls client has stopped' }, nil)
    else
      this.request_id = id
    end
  end)
end

--- Stop the reply being written; the server ends the turn cleanly and keeps the transcript valid.
--- Neovim drops the answer to a cancelled request, so the turn is finished here, not by its answer.
function M.cancel()
  queue = {}
  local this = turn
  if not this then
    return
  end
  if this.client and this.request_id then
    this.client:cancel_request(this.request_id)
  end
  if this.turn_id then
    stopped_turns[this.turn_id] = true
  end
  add_lines({ '  ⏹ stopped' })
  this.failed = true
  finish_turn(this, nil, nil)
end

local function open_uri_on_line()
  local line = vim.api.nvim_get_current_line()
  local uri = line:match('(letta%-[%w%-]+://%S+)')
  if uri then
    vim.cmd('wincmd p')
    if vim.fn.bufname() == M.BUFFER_NAME then
      vim.cmd('aboveleft split')
    end
    vim.cmd('edit ' .. vim.fn.fnameescape(uri))
  end
end

local slash_commands -- the server's list (letta.slashCommands), asked once

--- The chat's slash commands as the server lists them: { name, usage, description } each.
---@return table[]
function M.slash_commands()
  if not slash_commands then
    local err, result = require('letta.api').slash_commands_sync()
    if err or type(result) ~= 'table' then
      return {}
    end
    slash_commands = result
  end
  return slash_commands
end

--- completefunc and omnifunc of the chat buffer: after the prompt, `/re` completes to `/remember`.
---@param findstart integer
---@param base string
function M.complete(findstart, base)
  local line = vim.api.nvim_get_current_line()
  local offset = vim.startswith(line, M.PROMPT) and #M.PROMPT or 0
  if findstart == 1 then
    local col = vim.api.nvim_win_get_cursor(0)[2]
    local typed = line:sub(offset + 1, col)
    if typed:match('^/%a*$') then
      return offset
    end
    return -3 -- not a slash command: leave completion mode quietly
  end
  local items = {}
  for _, command in ipairs(M.slash_commands()) do
    local word = '/' .. command.name
    if vim.startswith(word, base) then
      items[#items + 1] = { word = word, abbr = command.usage, menu = command.description, info = command.description }
    end
  end
  return items
end

--- Show the chat buffer (create it on first use); returns its buffer number.
---@param opts { split: string?, current_window: boolean? }?
---@return integer
function M.open(opts)
  opts = opts or {}
  local buf = M.buffer()
  if not buf then
    buf = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, M.BUFFER_NAME)
    vim.bo[buf].buftype = 'prompt'
    vim.bo[buf].bufhidden = 'hide'
    vim.bo[buf].swapfile = false
    vim.bo[buf].filetype = 'markdown'
    vim.fn.prompt_setprompt(buf, M.PROMPT)
    vim.fn.prompt_setcallback(buf, function(text)
      vim.bo[buf].modified = false
      if text:match('%S') then
        M.send(text, { echoed = true })
      end
    end)
    vim.fn.prompt_setinterrupt(buf, M.cancel)
    vim.bo[buf].completefunc = "v:lua.require'letta.chat'.complete"
    vim.bo[buf].omnifunc = "v:lua.require'letta.chat'.complete"
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.list_extend(header(), { '', '' }))
    vim.keymap.set('n', '<CR>', open_uri_on_line, { buffer = buf, desc = 'letta: open the memory file on this line' })
    vim.keymap.set('n', '<C-c>', M.cancel, { buffer = buf, desc = 'letta: stop the reply' })
  end
  if vim.fn.bufwinid(buf) == -1 then
    if not opts.current_window then
      vim.cmd(opts.split or 'botright 15split')
    end
    vim.api.nvim_win_set_buf(0, buf)
    vim.wo.wrap = true
    vim.wo.linebreak = true
    vim.wo.number = false
  else
    vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))
  end
  return buf
end

--- Add lines of information above the prompt (hints, notes).
---@param lines string[]
function M.note(lines)
  if M.buffer() then
    add_lines(lines)
  end
end

--- Send a message (queued while a reply is still streaming).
---@param text string
---@param opts { echoed: boolean? }? echoed: the prompt line already shows it
function M.send(text, opts)
  opts = opts or {}
  if not M.buffer() then
    M.open()
  end
  if not opts.echoed then
    add_lines({ M.PROMPT .. text })
  end
  table.insert(queue, text)
  if turn then
    util.notify('a reply is still coming; your message is sent after it')
  end
  send_next()
end

--- :Letta new: a fresh conversation for the chat buffer.
function M.new_conversation()
  api.new_conversation(nil, function(err, result)
    if err then
      util.error('new conversation: ' .. util.error_text(err))
      return
    end
    state.conversation = result.conversationId
    update_header()
    add_lines({ '── new conversation ' .. result.conversationId .. ' ──', '' })
    util.notify('new conversation ' .. result.conversationId)
  end)
end

--- :Letta conversations: switch the chat buffer to another conversation of this agent.
function M.pick_conversation()
  api.list_conversations(nil, function(err, conversations)
    if err then
      util.error('conversations: ' .. util.error_text(err))
      return
    end
    vim.ui.select(conversations, {
      prompt = 'letta: switch to which conversation?',
      format_item = function(c)
        local title = (c.title == nil or c.title == vim.NIL or c.title == c.conversationId) and '' or c.title
        return string.format('%s  %s  (%d messages) %s', c.conversationId,
          tostring(c.updated or ''):sub(1, 16), c.messages or 0, title)
      end,
    }, function(choice)
      if choice then
        state.conversation = choice.conversationId
        update_header()
        add_lines({ '── conversation ' .. choice.conversationId .. ' ──', '' })
      end
    end)
  end)
end

state.on('chatEvent', function(event)
  vim.schedule(function()
    M.on_event(event)
  end)
end)
state.on('status', function()
  vim.schedule(update_header)
end)

return M
