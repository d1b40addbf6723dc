-- The `letta` LSP client: starting it, its handlers for the server's notifications, and request
-- helpers that wait for initialization and turn LSP errors into messages a person can read.
-- The client is started detached (attach = false) and attached only to letta-memory:// buffers.
local api = require('letta.api')
local config = require('letta.config')
local state = require('letta.state')
local util = require('letta.util')

local M = {}

M.NAME = 'letta'

local waiting = {} ---@type fun(client: vim.lsp.Client)[] callbacks until the client is initialized

---@return vim.lsp.Client?
function M.client()
  return vim.lsp.get_clients({ name = M.NAME })[1]
end

local function on_status(_, params)
  local previous = state.status
  state.status = params
  if state.conversation == nil or (previous and previous.agentId ~= params.agentId) then
    state.conversation = params.conversationId
  end
  if previous == nil or previous.agentId ~= params.agentId or state.budget == nil then
    api.memory_tree(nil, function(err, tree)
      if not err and tree and tree.totals then
        state.budget = tree.totals.systemTokenBudget
        vim.schedule(function()
          vim.cmd.redrawstatus({ bang = true })
        end)
      end
    end)
  end
  state.emit('status', params)
  vim.schedule(function()
    vim.cmd.redrawstatus({ bang = true })
    vim.api.nvim_exec_autocmds('User', { pattern = 'LettaStatus', modeline = false })
  end)
end

local handlers = {
  [api.notifications.status] = on_status,
  [api.notifications.memoryChanged] = function(_, params)
    vim.schedule(function()
      state.emit('memoryChanged', params)
    end)
  end,
  [api.notifications.chatEvent] = function(_, params)
    state.emit('chatEvent', params)
  end,
  [api.notifications.dreamReview] = function(_, params)
    require('letta.review').announced(params)
  end,
}

--- How to reach the server, and the initializationOptions to send: a process started over stdio, or
--- with opts.tcp a running `letta-ls serve --tcp`, whose first message must carry its per-launch token
--- as initializationOptions.token (the server closes the connection otherwise). Nil when neither works.
---@param settings table
---@return (string[]|fun(dispatchers: table): table)?, table?
function M.server_cmd(settings)
  if config.options.tcp then
    local host, port = config.parse_tcp(config.options.tcp)
    if not host then
      util.error(string.format('opts.tcp must be HOST:PORT (for example 127.0.0.1:2087), not %q', config.options.tcp))
      return nil
    end
    local file = config.token_file(port)
    local ok, lines = pcall(vim.fn.readfile, file)
    local token = ok and vim.trim(table.concat(lines, '\n')) or ''
    if token == '' then
      util.error(string.format('cannot read the letta-ls token file %s: start the server with `letta-ls serve --tcp '
        .. '%s:%d` (it prints where it wrote the token) or set opts.token_file', file, host, port))
      return nil
    end
    return vim.lsp.rpc.connect(host, port), vim.tbl_extend('force', settings, { token = token })
  end
  local cmd, why = config.resolve_cmd()
  if vim.fn.executable(cmd[1]) ~= 1 then
    util.error(string.format('cannot start the language server: %q is not executable (%s). '
      .. 'Set opts.cmd in require("letta").setup{} or run `make install` in the letta-ls checkout.', cmd[1], why))
    return nil
  end
  return cmd, settings
end

--- Start the client (or return the running one). Returns nil and tells the user when it cannot start.
---@return vim.lsp.Client?
function M.start()
  local running = M.client()
  if running and not running:is_stopped() then
    return running
  end
  local settings = config.wire_settings()
  local cmd, init_options = M.server_cmd(settings)
  if not cmd then
    return nil
  end
  local id = vim.lsp.start({
    name = M.NAME,
    cmd = cmd,
    cmd_env = config.options.cmd_env,
    root_dir = config.root_dir(),
    init_options = init_options,
    settings = { letta = settings },
    handlers = handlers,
    on_init = function(client)
      -- after a restart, memory buffers that are still open get their diagnostics again
      for _, buf in ipairs(vim.api.nvim_list_bufs()) do
        local uri = vim.api.nvim_buf_is_loaded(buf) and vim.b[buf].letta_uri
        if type(uri) == 'string' and vim.startswith(uri, 'letta-memory://') and vim.bo[buf].buftype == 'acwrite' then
          vim.lsp.buf_attach_client(buf, client.id)
        end
      end
      local queued = waiting
      waiting = {}
      for _, fn in ipairs(queued) do
        fn(client)
      end
    end,
    on_exit = function(code, signal)
      waiting = {}
      state.status = nil
      vim.schedule(function()
        if (code ~= 0 or (signal ~= 0 and signal ~= 15)) and vim.v.exiting == vim.NIL then
          util.error(string.format('letta-ls stopped (exit code %d, signal %d). Open memory buffers keep their '
            .. 'text; the next :Letta command starts it again. :checkhealth letta and :LspLog say more.', code, signal))
        end
      end)
    end,
  }, { attach = false })
  return id and vim.lsp.get_client_by_id(id) or nil
end

--- Run `fn(client)` once the client has answered initialize (at once when it has).
---@param fn fun(client: vim.lsp.Client)
function M.when_ready(fn)
  local client = M.start()
  if not client then
    return
  end
  if client.initialized then
    fn(client)
  else
    table.insert(waiting, fn)
  end
end

--- An async request; `callback(err, result)` runs on the main loop. Errors are passed on, not shown.
---@param method string
---@param params table
---@param callback fun(err: table?, result: any)
function M.request(method, params, callback)
  M.when_ready(function(client)
    local ok = client:request(method, params, function(err, result)
      callback(err, result)
    end)
    if not ok then
      callback({ message = 'the letta-ls client has stopped' }, nil)
    end
  end)
end

--- A blocking request with a timeout, for BufReadCmd/BufWriteCmd and completion.
---@param method string
---@param params table
---@param timeout_ms integer?
---@return table? err, any result
function M.request_sync(method, params, timeout_ms)
  timeout_ms = timeout_ms or config.options.timeout_ms
  local client = M.start()
  if not client then
    return { message = 'the letta-ls language server is not running' }, nil
  end
  if not client.initialized then
    vim.wait(timeout_ms, function()
      return client.initialized == true or client:is_stopped()
    end, 10)
    if not client.initialized then
      return { message = 'letta-ls did not finish starting in time (see :checkhealth letta)' }, nil
    end
  end
  local response, reason = client:request_sync(method, params, timeout_ms)
  if not response then
    return { message = string.format('letta-ls did not answer %s (%s)', method, reason or 'client stopped') }, nil
  end
  return response.err, response.result
end

--- workspace/executeCommand with the one JSON object every letta command takes.
---@param command string
---@param arg table?
---@param callback fun(err: table?, result: any)
---@return nil
function M.command(command, arg, callback)
  if type(arg) == 'table' and next(arg) == nil then
    arg = nil -- an empty Lua table would go out as a JSON array
  end
  M.request('workspace/executeCommand', { command = command, arguments = { arg or vim.empty_dict() } }, callback)
end

--- Tell the server the settings changed (it re-reads workspace/configuration).
---@param settings table
function M.update_settings(settings)
  config.options.settings = settings
  local client = M.client()
  if client then
    local wire = config.wire_settings()
    client.settings = { letta = wire }
    client:notify('workspace/didChangeConfiguration', { settings = { letta = wire } })
  end
end

return M
