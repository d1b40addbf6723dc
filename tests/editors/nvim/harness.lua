-- Loaded into the Neovim under test: records what the user would see (notifications) and answers
-- vim.ui.select / vim.ui.input the way a user would, from answers the test queued.
local T = { notes = {}, asked = {}, answers = {}, inputs = {} }
_G.letta_test = T

vim.notify = function(msg, level)
  table.insert(T.notes, { msg = msg, level = level or vim.log.levels.INFO })
end

--- The answer queued for the next question: an index, or text matched against the shown items.
vim.ui.select = function(items, opts, on_choice)
  local shown = {}
  for i, item in ipairs(items) do
    shown[i] = opts and opts.format_item and opts.format_item(item) or tostring(item)
  end
  table.insert(T.asked, { prompt = opts and opts.prompt or '', items = shown })
  local answer = table.remove(T.answers, 1)
  local index
  if type(answer) == 'number' then
    index = answer
  elseif type(answer) == 'string' then
    for i, text in ipairs(shown) do
      if text:find(answer, 1, true) then
        index = i
        break
      end
    end
  end
  on_choice(index and items[index] or nil, index)
end

vim.ui.input = function(opts, on_confirm)
  table.insert(T.asked, { prompt = opts and opts.prompt or '', items = {} })
  on_confirm(table.remove(T.inputs, 1))
end

--- Lines of the buffer named `name` (nil when there is none).
function T.lines(name)
  local buf = vim.fn.bufnr('^' .. vim.fn.escape(name, '[]*?\\') .. '$')
  if buf == -1 then
    return nil
  end
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

--- Whether a notification containing `text` was shown (at `level` or above when given).
function T.noted(text, level)
  for _, note in ipairs(T.notes) do
    if note.msg:find(text, 1, true) and (level == nil or note.level >= level) then
      return true
    end
  end
  return false
end

function T.diagnostic_codes(buf)
  local codes = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    codes[#codes + 1] = d.code
  end
  return codes
end


