-- Options of require("letta").setup(opts): their defaults, the letta-ls command to run, and the
-- settings sent to the server (SPEC section 9) as initializationOptions and workspace/configuration.
local M = {}

---@class letta.Options
---@field cmd string[]? the server command; default: the letta-ls checkout's .venv, the cwd's .venv, then PATH
---@field settings table? the `letta` settings of SPEC section 9 (model, memory, sleeptime, ...)
---@field root_markers string[]? files or folders that mark the workspace root (default: the cwd)
---@field cmd_env table<string,string>? extra environment for the server process
---@field timeout_ms integer? how long a read or save may take before the user is told (default 10000)
---@field tcp string? connect to a running `letta-ls serve --tcp HOST:PORT` instead of starting one
---@field token_file string? with tcp: the server's token file (default: <home>/run/tcp-PORT.token)

---@type letta.Options
M.defaults = {
  cmd = nil,
  settings = {},
  root_markers = { '.git', '.agents', '.skills' },
  cmd_env = nil,
  timeout_ms = 10000,
  tcp = nil,
  token_file = nil,
}

---@type letta.Options
M.options = vim.deepcopy(M.defaults)

--- The folder this plugin lives in (editors/nvim), from this file's path.
---@return string
function M.plugin_root()
  local source = debug.getinfo(1, 'S').source:sub(2)
  return vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(vim.fs.normalize(source))))
end

--- Where letta-ls is looked for, in order, and why; the first that is executable wins.
---@return { path: string, why: string }[]
function M.candidate_commands()
  local candidates = {}
  local checkout = vim.fs.dirname(vim.fs.dirname(M.plugin_root()))
  candidates[#candidates + 1] = { path = checkout .. '/.venv/bin/letta-ls', why = 'the letta-ls checkout holding this plugin' }
  candidates[#candidates + 1] = { path = vim.fn.getcwd() .. '/.venv/bin/letta-ls', why = 'the current folder\'s .venv' }
  local on_path = vim.fn.exepath('letta-ls')
  if on_path ~= '' then
    candidates[#candidates + 1] = { path = on_path, why = 'PATH' }
  end
  return candidates
end

--- The command that starts the server, and where it came from.
---@return string[] cmd, string why
function M.resolve_cmd()
  if M.options.cmd then
    return M.options.cmd, 'opts.cmd'
  end
  for _, candidate in ipairs(M.candidate_commands()) do
    if vim.fn.executable(candidate.path) == 1 then
      return { candidate.path }, candidate.why
    end
  end
  return { 'letta-ls' }, 'not found (install letta-ls, or run `make install` in its checkout)'
end

--- `HOST:PORT`, `[V6]:PORT` or `PORT` (host 127.0.0.1, the server's default).
---@param value string
---@return string? host, integer? port
function M.parse_tcp(value)
  local host, port = tostring(value):match('^%[?([^%[%]]*)%]?:(%d+)$')
  if not port then
    host, port = '', tostring(value):match('^(%d+)$')
  end
  port = tonumber(port)
  if not port or port < 1 or port > 65535 then
    return nil, nil
  end
  return (host ~= '' and host or '127.0.0.1'), port
end

--- The file `letta-ls serve --tcp` writes its per-launch token to: settings.home, else $LETTA_LS_HOME,
--- else ~/.letta-ls; then run/tcp-PORT.token. opts.token_file overrides it.
---@param port integer
---@return string
function M.token_file(port)
  if M.options.token_file then
    return vim.fn.expand(M.options.token_file)
  end
  local home = (M.options.settings or {}).home or vim.env.LETTA_LS_HOME or '~/.letta-ls'
  return vim.fs.joinpath(vim.fn.expand(home), 'run', string.format('tcp-%d.token', port))
end

--- Lua's empty table would be sent as a JSON array; settings are objects all the way down.
---@param value any
---@return any
local function as_json_objects(value)
  if type(value) ~= 'table' then
    return value
  end
  if next(value) == nil then
    return vim.empty_dict()
  end
  local out = {}
  for k, v in pairs(value) do
    out[k] = as_json_objects(v)
  end
  return out
end

--- The `letta` settings as they go over the wire.
---@return table
function M.wire_settings()
  return as_json_objects(M.options.settings or {})
end

---@param opts letta.Options?
function M.apply(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  if opts and opts.root_markers then
    M.options.root_markers = opts.root_markers -- lists replace, they do not merge by index
  end
end

--- The workspace root: the nearest folder above the cwd with a marker, else the cwd itself.
---@return string
function M.root_dir()
  local cwd = vim.fn.getcwd()
  return vim.fs.root(cwd, M.options.root_markers or {}) or cwd
end

return M
