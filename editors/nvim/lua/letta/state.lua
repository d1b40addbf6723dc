-- What the plugin knows about the server's side, kept in one place: the last letta/status, the
-- system token budget, the conversation the chat buffer talks to, and listeners for server events.
local M = {
  ---@type table? the last letta/status: {agentId, agentName, conversationId, model, systemTokens, dream}
  status = nil,
  ---@type integer? memory.systemTokenBudget, from letta/memoryTree
  budget = nil,
  ---@type string? the conversation :Letta chat sends to (nil: the server's last used)
  conversation = nil,
  listeners = {}, ---@type table<string, fun(params: table)[]>
}

--- Run `fn(params)` on every `event` ("status", "memoryChanged", "chatEvent", "progress").
---@param event string
---@param fn fun(params: table)
function M.on(event, fn)
  M.listeners[event] = M.listeners[event] or {}
  table.insert(M.listeners[event], fn)
end

---@param event string
---@param params table
function M.emit(event, params)
  for _, fn in ipairs(M.listeners[event] or {}) do
    local ok, err = pcall(fn, params)
    if not ok then
      vim.notify('letta: ' .. event .. ' listener failed: ' .. tostring(err), vim.log.levels.ERROR)
    end
  end
end

---@return string? the current agent's id, once the server has said
function M.agent_id()
  return M.status and M.status.agentId or nil
end

return M
