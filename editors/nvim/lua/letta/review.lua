-- :Letta review: a dream held for review (sleeptime.merge "review") opens as one tab per changed file,
-- the version before on the left and the dream's on the right, both `diffthis`; `:Letta review accept
-- [path]` / `:Letta review reject [path]` decide one file (or, without a path, all that wait). Accepting
-- merges only those files into memory; rejected ones stay in the dream's history. The tabs of decided files
-- close. Each tab knows its run, path and the dream's reason (vim.t.letta_review_run / _path / _reason).
local lsp = require('letta.lsp')
local state = require('letta.state')
local util = require('letta.util')

local M = {
  ---@type string? the run of the last letta/dreamReview (it may arrive before the letta/status naming it)
  announced_run = nil,
}

--- The run being reviewed: the current tab's, else the oldest the server says waits (letta/status reviews).
---@return string?
local function pending_run()
  if vim.t.letta_review_run then
    return vim.t.letta_review_run
  end
  local reviews = state.status and state.status.reviews or {}
  return reviews[1] and reviews[1].runId or M.announced_run
end

--- Show one side of a change in the current window: its letta-memory-rev:// buffer, or an empty scratch
--- buffer where the file does not exist on that side (added / deleted).
local function open_side(uri, label)
  if uri and uri ~= vim.NIL then
    vim.cmd('edit ' .. vim.fn.fnameescape(uri))
  else
    local buf = vim.api.nvim_create_buf(false, true)
    pcall(vim.api.nvim_buf_set_name, buf, label)
    vim.bo[buf].modifiable = false
    vim.api.nvim_win_set_buf(0, buf)
  end
  vim.cmd('diffthis')
end

--- Close the review tabs of `paths` (all review tabs when nil).
---@param paths string[]?
function M.close_tabs(paths)
  for _, tab in ipairs(vim.api.nvim_list_tabpages()) do
    local path = vim.t[tab].letta_review_path
    if path and (paths == nil or vim.tbl_contains(paths, path)) then
      pcall(vim.cmd, 'tabclose! ' .. vim.api.nvim_tabpage_get_number(tab))
    end
  end
end

--- :Letta review: open the pending run's changes as diff tabs.
function M.open()
  local run = pending_run()
  if not run then
    util.notify('no dream waits for review')
    return
  end
  require('letta.api').dream_changes({ runId = run }, function(err, result)
    if err then
      util.error('review: ' .. util.error_text(err))
      return
    end
    vim.schedule(function()
      if #result.changes == 0 then
        util.notify('no dream waits for review')
        return
      end
      M.close_tabs()
      for _, change in ipairs(result.changes) do
        vim.cmd('tabnew')
        vim.t.letta_review_run = run
        vim.t.letta_review_path = change.path
        vim.t.letta_review_reason = change.reason
        open_side(change.beforeUri, string.format('[letta review] %s (before: none)', change.path))
        vim.cmd('rightbelow vsplit')
        open_side(change.afterUri, string.format('[letta review] %s (deleted by the dream)', change.path))
      end
      util.notify(string.format('reviewing %d change(s) of %s: :Letta review accept|reject [path]',
        #result.changes, run))
    end)
  end)
end

--- :Letta review accept|reject [path]
---@param action 'accept'|'reject'
---@param path string?
function M.decide(action, path)
  local run = pending_run()
  if not run then
    util.notify('no dream waits for review')
    return
  end
  local arg = { runId = run }
  if path and path ~= '' then
    arg.paths = { path }
  end
  local api = require('letta.api')
  local send = action == 'accept' and api.dream_accept or api.dream_reject
  send(arg, function(err, result)
    if err then
      util.error('review ' .. action .. ': ' .. util.error_text(err))
      return
    end
    local done = (action == 'accept' and result.accepted or result.rejected) or {}
    vim.schedule(function()
      M.close_tabs(done)
    end)
    util.notify(string.format('%s %d file(s): %s', action == 'accept' and 'accepted' or 'rejected', #done,
      table.concat(done, ', ')))
  end)
end

--- letta/dreamReview: a dream finished and waits for the user.
function M.announced(params)
  M.announced_run = params.runId
  util.notify(tostring(params.message or 'a dream waits for your review'):gsub('^letta: ', '') .. ' (:Letta review)')
end

M.subcommand = {
  help = 'review [accept|reject [path]]: review a dream\'s changes as diffs; accept or reject one file or all',
  complete = function(_, words)
    if words and (words[2] == 'accept' or words[2] == 'reject') then
      local run = pending_run()
      local err, result = require('letta.api').dream_changes_sync({ runId = run }, 1000)
      if not run or err or not result then
        return {}
      end
      return vim.tbl_map(function(c)
        return c.path
      end, result.changes)
    end
    return { 'accept', 'reject' }
  end,
  run = function(args)
    local action, path = args:match('^(%S*)%s*(.-)$')
    if action == '' then
      M.open()
    elseif action == 'accept' or action == 'reject' then
      M.decide(action, path)
    else
      util.error(string.format('review: unknown action %q; use :Letta review, :Letta review accept [path] or '
        .. ':Letta review reject [path]', action))
    end
  end,
}

return M
