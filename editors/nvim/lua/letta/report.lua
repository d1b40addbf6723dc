-- Results that are documents: the doctor's report (with its findings in the quickfix list) and the
-- reports of /init, dreams and defrag, each shown as markdown in a scratch buffer.
local state = require('letta.state')
local uri_mod = require('letta.uri')
local util = require('letta.util')

local M = {}

M.DOCTOR_BUFFER = '[Letta doctor]'
M.REPORT_BUFFER = '[Letta report]'

local QF_TYPE = { error = 'E', warning = 'W', info = 'I', hint = 'N' }

--- Show markdown in a named scratch buffer.
---@param name string
---@param markdown string
---@return integer buf
function M.show(name, markdown)
  local buf = util.scratch(name, { filetype = 'markdown', split = 'botright 20split' })
  util.set_view_lines(buf, util.text_to_lines(markdown or '').lines)
  vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, nowait = true, silent = true })
  return buf
end

--- The findings as quickfix items pointing at letta-memory:// buffers (opening one loads it).
---@param findings table[]
---@param agent_id string?
---@return table[]
function M.quickfix_items(findings, agent_id)
  local items = {}
  for _, f in ipairs(findings or {}) do
    local item = {
      lnum = (type(f.line) == 'number' and f.line > 0) and f.line or 1,
      col = 1,
      type = QF_TYPE[f.severity] or 'W',
      text = string.format('[%s] %s', f.code or '?', f.message or ''),
    }
    if agent_id and type(f.path) == 'string' and f.path ~= '' then
      item.filename = uri_mod.memory(agent_id, f.path)
    else
      item.text = (f.path or '') .. ': ' .. item.text
    end
    items[#items + 1] = item
  end
  return items
end

--- letta.doctor's result: the report in a buffer, the findings in the quickfix list, a one-line summary.
---@param result { findings: table[], tokens: table, report: string }
function M.doctor(result)
  M.show(M.DOCTOR_BUFFER, result.report)
  local counts = { error = 0, warning = 0 }
  for _, f in ipairs(result.findings or {}) do
    counts[f.severity] = (counts[f.severity] or 0) + 1
  end
  vim.fn.setqflist({}, ' ', { title = 'letta doctor', items = M.quickfix_items(result.findings, state.agent_id()) })
  local tokens = result.tokens or {}
  util.notify(string.format('doctor: %d error(s), %d warning(s); system prompt %s / %s tokens%s',
    counts.error, counts.warning, util.thousands(tokens.system), util.thousands(tokens.budget),
    #(result.findings or {}) > 0 and ' (:copen lists them)' or ''))
end

--- The result of init, dream or defrag.
---@param what string
---@param result table
function M.job(what, result)
  local report = result.report
  if type(report) ~= 'string' or report == '' then
    report = '# ' .. what .. '\n\n' .. vim.inspect(result)
  end
  M.show(M.REPORT_BUFFER, report)
  local commits = type(result.commits) == 'table' and #result.commits or 0
  local extra = (type(result.backup) == 'string') and ('; backup ' .. result.backup) or ''
  util.notify(string.format('%s done: %d commit(s)%s', what, commits, extra))
end

return M
