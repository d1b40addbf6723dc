-- The three URI schemes of the contract (SPEC section 5), built and split the way the server does:
-- letta-memory://<agent-id>/<path>, letta-memory-rev://<agent-id>/<commit>/<path>,
-- letta-conversation://<agent-id>/<conversation-id>.md. Path segments are percent-encoded.
local M = {}

M.MEMORY = 'letta-memory'
M.MEMORY_REV = 'letta-memory-rev'
M.CONVERSATION = 'letta-conversation'

-- the characters the server's quote() leaves alone besides letters, digits and "_.-~"
local SAFE = "[%w_%.%-~@:+,;=!$&'()*]"

local function encode_segment(segment)
  return (segment:gsub('.', function(c)
    if c:match(SAFE) then
      return c
    end
    return string.format('%%%02X', c:byte())
  end))
end

local function decode(s)
  return (s:gsub('%%(%x%x)', function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

---@param path string memory path, "/"-separated
---@return string
function M.encode_path(path)
  local parts = {}
  for _, segment in ipairs(vim.split(path, '/', { plain = true })) do
    parts[#parts + 1] = encode_segment(segment)
  end
  return table.concat(parts, '/')
end

---@param agent_id string
---@param path string
---@return string
function M.memory(agent_id, path)
  return M.MEMORY .. '://' .. agent_id .. '/' .. M.encode_path(path)
end

---@param agent_id string
---@param conversation_id string
---@return string
function M.conversation(agent_id, conversation_id)
  return M.CONVERSATION .. '://' .. agent_id .. '/' .. encode_segment(conversation_id) .. '.md'
end

---@class letta.Uri
---@field scheme string
---@field agent_id string
---@field path string memory path (or "<conversation-id>.md")
---@field commit string?

--- Split a letta URI; nil when it is not one.
---@param uri string
---@return letta.Uri?
function M.parse(uri)
  local scheme, rest = uri:match('^([%w%-]+)://(.*)$')
  if scheme ~= M.MEMORY and scheme ~= M.MEMORY_REV and scheme ~= M.CONVERSATION then
    return nil
  end
  local agent_id, tail = rest:match('^([^/]+)/(.*)$')
  if not agent_id then
    return nil
  end
  local commit
  if scheme == M.MEMORY_REV then
    commit, tail = tail:match('^(%x+)/(.*)$')
    if not commit then
      return nil
    end
  end
  return { scheme = scheme, agent_id = decode(agent_id), path = decode(tail), commit = commit }
end

---@param name string a buffer name
---@return boolean
function M.is_letta(name)
  return M.parse(name) ~= nil
end

return M
