-- :checkhealth letta: the Neovim version, the letta-ls command (found and runnable), the client,
-- the agent and model in use, and which API key variables are set (never their values).
local M = {}

local function key_variables()
  local config = require('letta.config')
  local names = { 'ANTHROPIC_API_KEY', 'OPENAI_API_KEY' }
  local model = (config.options.settings or {}).model or {}
  if type(model.apiKeyEnv) == 'string' and model.apiKeyEnv ~= '' then
    table.insert(names, 1, model.apiKeyEnv)
  end
  return names
end

function M.check()
  local health = vim.health
  local config = require('letta.config')
  local lsp = require('letta.lsp')
  local state = require('letta.state')

  health.start('letta: Neovim')
  local v = vim.version()
  local version = string.format('%d.%d.%d', v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. version)
  else
    health.error('Neovim ' .. version .. ' is too old', { 'letta needs Neovim 0.11 or later' })
  end

  health.start('letta: the letta-ls command')
  local cmd, why = config.resolve_cmd()
  local shown = table.concat(cmd, ' ')
  if vim.fn.executable(cmd[1]) ~= 1 then
    health.error(string.format('%s is not executable (%s)', cmd[1], why), {
      'run `make install` in the letta-ls checkout (it makes .venv/bin/letta-ls)',
      'or `pip install letta-ls` so letta-ls is on PATH',
      'or set opts.cmd in require("letta").setup{}',
    })
  else
    health.ok(string.format('%s (%s)', shown, why))
    local probe = vim.list_extend(vim.deepcopy(cmd), { '--version' })
    if #cmd > 1 and cmd[#cmd] == 'serve' then
      probe = vim.list_slice(cmd, 1, #cmd - 1)
      table.insert(probe, '--version')
    end
    local ok, result = pcall(function()
      return vim.system(probe, { text = true, env = config.options.cmd_env }):wait(10000)
    end)
    if ok and result.code == 0 then
      health.ok('runs: ' .. vim.trim(result.stdout ~= '' and result.stdout or result.stderr))
    else
      local detail = ok and vim.trim((result.stderr or '') .. (result.stdout or '')) or tostring(result)
      health.warn(string.format('`%s` did not run cleanly: %s', table.concat(probe, ' '), detail))
    end
  end

  health.start('letta: the language server')
  local client = lsp.client()
  if not client then
    health.warn('the letta client is not running', { 'call require("letta").setup() or run :Letta tree' })
  elseif client:is_stopped() then
    health.error('the letta client has stopped', { 'see :LspLog for why it exited' })
  else
    local info = client.server_info or {}
    health.ok(string.format('client %d running: %s %s, root %s', client.id, info.name or 'letta-ls',
      info.version or '', client.root_dir or '(none)'))
    local status = state.status
    if status then
      local model = (status.model == nil or status.model == vim.NIL) and 'chosen from the environment' or status.model
      health.ok(string.format('agent %s (%s), model %s, system prompt %s tokens', tostring(status.agentName),
        tostring(status.agentId), tostring(model), tostring(status.systemTokens)))
    else
      health.warn('no letta/status received yet (the server may still be starting)')
    end
  end

  health.start('letta: models and API keys')
  local model = (config.options.settings or {}).model or {}
  if type(model.provider) == 'string' then
    health.info('model.provider = ' .. model.provider .. (type(model.baseUrl) == 'string' and (' at ' .. model.baseUrl) or ''))
  else
    health.info('model.provider not set: ANTHROPIC_API_KEY, then OPENAI_API_KEY, then the embedded local model')
  end
  for _, name in ipairs(key_variables()) do
    local value = vim.env[name]
    if value and value ~= '' then
      health.ok(name .. ' is set')
    else
      health.info(name .. ' is not set')
    end
  end
end

return M
