-- The letta-ls contract for Neovim (SPEC sections 6 and 7; letta_ls/contract on the server): every method
-- name once, one annotated function per request and command, and the error kinds the plugin switches on.
-- Requests go through letta.lsp (which waits for the client to be ready); callbacks get `(err, result)`.
-- Modelled on zk-nvim's api.lua. Method names appear nowhere else in the plugin.
local M = {}

--- Requests to the server (the functions below send them).
M.requests = {
  memoryRead = 'letta/memoryRead',
  memoryWrite = 'letta/memoryWrite',
  memoryTree = 'letta/memoryTree',
  memoryHistory = 'letta/memoryHistory',
  memoryDelete = 'letta/memoryDelete',
  memoryRename = 'letta/memoryRename',
  dreamChanges = 'letta/dreamChanges',
  search = 'letta/search',
}

--- Notifications from the server (letta.lsp registers a handler for each).
M.notifications = {
  memoryChanged = 'letta/memoryChanged',
  chatEvent = 'letta/chatEvent',
  status = 'letta/status',
  dreamReview = 'letta/dreamReview',
}

--- `data.kind` of every error a request or command returns (letta_ls/contract/errors.py): switch on these,
--- never on the message, which is for people.
M.kinds = {
  STALE = 'stale',
  NOT_FOUND = 'not-found',
  READ_ONLY = 'read-only',
  REFUSED = 'refused',
  INVALID = 'invalid',
  CONFIG = 'config',
  CONFLICT = 'conflict',
  BUSY = 'busy',
  UNAVAILABLE = 'unavailable',
  FAILED = 'failed',
}

---@class letta.Error
---@field code integer
---@field message string
---@field data { kind: string, path: string?, current: string?, problem: string? }?

--- The error's `data.kind` (one of `M.kinds`), or nil for an error without one (the client stopped).
---@param err letta.Error?
---@return string?
function M.kind(err)
  if type(err) == 'table' and type(err.data) == 'table' and type(err.data.kind) == 'string' then
    return err.data.kind
  end
  return nil
end

local function lsp()
  return require('letta.lsp') -- lazily: letta.lsp itself reads M.notifications
end

local function request(method)
  return function(params, callback)
    lsp().request(method, params or vim.empty_dict(), callback)
  end
end

local function request_sync(method)
  return function(params, timeout_ms)
    return lsp().request_sync(method, params or vim.empty_dict(), timeout_ms)
  end
end

local function command(name)
  return function(arg, callback)
    lsp().command(name, arg, callback)
  end
end

-- Requests -----------------------------------------------------------------------------------------------

---@class letta.MemoryReadResult
---@field uri string
---@field text string
---@field version string?
---@field head string?

--- letta/memoryRead `{uri}` → `{uri, text, version, head}` (async and blocking).
---@type fun(params: { uri: string }, callback: fun(err: letta.Error?, result: letta.MemoryReadResult?))
M.memory_read = request(M.requests.memoryRead)
---@type fun(params: { uri: string }, timeout_ms: integer?): letta.Error?, letta.MemoryReadResult?
M.memory_read_sync = request_sync(M.requests.memoryRead)

---@class letta.MemoryWriteParams
---@field uri string
---@field text string
---@field baseVersion string?
---@field reason string?

--- letta/memoryWrite `{uri, text, baseVersion?, reason?}` → `{version, commit}`; a stale baseVersion fails with
--- kind `stale`.
---@type fun(params: letta.MemoryWriteParams, callback: fun(err: letta.Error?, result: { version: string?, commit: string? }?))
M.memory_write = request(M.requests.memoryWrite)
---@type fun(params: letta.MemoryWriteParams, timeout_ms: integer?): letta.Error?, { version: string?, commit: string? }?
M.memory_write_sync = request_sync(M.requests.memoryWrite)

---@class letta.MemoryEntry
---@field uri string
---@field path string
---@field tier 'system'|'external'|'skill'
---@field description string?
---@field tokens integer
---@field readOnly boolean
---@field version string?

---@class letta.MemoryTree
---@field agentId string
---@field head string?
---@field entries letta.MemoryEntry[]
---@field totals { systemTokens: integer, systemTokenBudget: integer }

--- letta/memoryTree `{agentId?}` → the agent's memory files and the system/ totals.
---@type fun(params: { agentId: string? }?, callback: fun(err: letta.Error?, result: letta.MemoryTree?))
M.memory_tree = request(M.requests.memoryTree)
---@type fun(params: { agentId: string? }?, timeout_ms: integer?): letta.Error?, letta.MemoryTree?
M.memory_tree_sync = request_sync(M.requests.memoryTree)

--- letta/memoryHistory `{uri, limit?}` → `[{commit, date, author, message, uri}]`.
---@type fun(params: { uri: string, limit: integer? }, callback: fun(err: letta.Error?, result: table[]?))
M.memory_history = request(M.requests.memoryHistory)

--- letta/memoryDelete `{uri, reason?}` → `{commit, uris}` (a file or a folder, one commit).
---@type fun(params: { uri: string, reason: string? }, callback: fun(err: letta.Error?, result: { commit: string?, uris: string[] }?))
M.memory_delete = request(M.requests.memoryDelete)

--- letta/memoryRename `{uri, newUri, reason?}` → `{commit, uris}`; an existing target fails with kind `conflict`.
---@type fun(params: { uri: string, newUri: string, reason: string? }, callback: fun(err: letta.Error?, result: { commit: string?, uris: string[] }?))
M.memory_rename = request(M.requests.memoryRename)

---@class letta.DreamChange
---@field path string
---@field kind 'added'|'modified'|'deleted'|'renamed'
---@field oldPath string?
---@field beforeUri string?
---@field afterUri string?
---@field reason string

---@type fun(params: { runId: string }, callback: fun(err: letta.Error?, result: { runId: string, changes: letta.DreamChange[] }?))
M.dream_changes = request(M.requests.dreamChanges)
---@type fun(params: { runId: string }, timeout_ms: integer?): letta.Error?, { runId: string, changes: letta.DreamChange[] }?
M.dream_changes_sync = request_sync(M.requests.dreamChanges)

---@type fun(params: { query: string, scope: ('memory'|'conversations'|'all')?, limit: integer? }, callback: fun(err: letta.Error?, result: table?))
M.search = request(M.requests.search)

-- Commands (workspace/executeCommand with one JSON object) -----------------------------------------------

M.chat_command = 'letta.chat'

--- letta.chat `{message, conversationId?}` → `{conversationId, reply}`, streaming letta/chatEvent. Sent on
--- `client` directly so the caller gets the request id to cancel it.
---@param client vim.lsp.Client
---@param arg { message: string, conversationId: string? }
---@param callback fun(err: letta.Error?, result: { conversationId: string, reply: string }?)
---@return boolean ok, integer? request_id
function M.chat(client, arg, callback)
  return client:request('workspace/executeCommand', { command = M.chat_command, arguments = { arg } }, callback)
end

--- letta.remember `{text?, conversationId?}` → `{reply, commits}`.
M.remember = command('letta.remember')
--- letta.doctor `{fix?}` → `{findings, tokens, report}`.
M.doctor = command('letta.doctor')
--- letta.init `{depth?, history?}` → `{report, commits}`; while one runs, another fails with kind `busy`.
M.init = command('letta.init')
--- letta.dream `{}` → `{report, commits}`.
M.dream = command('letta.dream')
--- letta.dreamAccept `{runId, paths?}` → `{runId, accepted, head}`: merges those of a held dream's changes.
M.dream_accept = command('letta.dreamAccept')
--- letta.dreamReject `{runId, paths?}` → `{runId, rejected}`: they stay on the dream's ref, off main.
M.dream_reject = command('letta.dreamReject')
--- letta.slashCommands `{}` → `[{name, usage, description}]`: the chat's slash commands, for completion.
---@param timeout_ms integer?
---@return letta.Error? err, table[]? commands
function M.slash_commands_sync(timeout_ms)
  return lsp().request_sync('workspace/executeCommand',
    { command = 'letta.slashCommands', arguments = { vim.empty_dict() } }, timeout_ms)
end
--- letta.openWorkspaceFile `{uri}` → `{shown}`: a memory-stale quick fix shows the file a note is about.
M.open_workspace_file = command('letta.openWorkspaceFile')
--- letta.defrag `{}` → `{report, backup, commits}`.
M.defrag = command('letta.defrag')
--- letta.sleeptime `{trigger?, stepCount?, idleSeconds?, merge?}` → the sleeptime settings in force.
M.sleeptime = command('letta.sleeptime')
--- letta.newConversation `{}` → `{conversationId}`.
M.new_conversation = command('letta.newConversation')
--- letta.listConversations `{}` → `[{conversationId, title, updated, messages}]`.
M.list_conversations = command('letta.listConversations')
--- letta.listAgents `{}` → `[{agentId, name, pinned, lastUsed, model}]`.
local LIST_AGENTS = 'letta.listAgents'
M.list_agents = command(LIST_AGENTS)
--- letta.createAgent `{name, preset?}` → `{agentId, name}`; a taken name fails with kind `conflict`.
M.create_agent = command('letta.createAgent')
--- letta.switchAgent `{agentId?, name?}` → `{agentId, name}`; an unknown one fails with kind `not-found`.
M.switch_agent = command('letta.switchAgent')
--- letta.pin / letta.unpin `{agentId?}` → `{agentId, pinned}`.
M.pin = command('letta.pin')
M.unpin = command('letta.unpin')
--- letta.memory.backup `{}` → `{ref}`; letta.memory.restore `{ref}` → `{ref, commit}`.
M.backup = command('letta.memory.backup')
M.restore = command('letta.memory.restore')
--- letta.sync `{}` → `{pushed, pulled, conflicts, …}`.
M.sync = command('letta.sync')

--- letta.listAgents, blocking (for completion and name lookup).
---@param timeout_ms integer?
---@return letta.Error? err, table[]? agents
function M.list_agents_sync(timeout_ms)
  return lsp().request_sync('workspace/executeCommand',
    { command = LIST_AGENTS, arguments = { vim.empty_dict() } }, timeout_ms)
end

return M
