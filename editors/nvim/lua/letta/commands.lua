-- :Letta {subcommand} [args]: every command of the contract a Neovim user needs, with completion of
-- subcommands and of their arguments (agent names, sleep-time triggers, memory paths).
local api = require('letta.api')
local report = require('letta.report')
local state = require('letta.state')
local util = require('letta.util')

local M = {}

local TRIGGERS = { 'off', 'step-count', 'compaction-event' }

--- Ask for text when the command line gave none; `fn` runs with the text (nil: the user cancelled).
local function text_or_ask(text, prompt, fn)
  if text ~= '' then
    fn(text)
    return
  end
  vim.ui.input({ prompt = prompt }, function(input)
    fn(input)
  end)
end

--- Run a letta command; on error tell the user, else call `on_result`.
---@param call fun(arg: table?, callback: fun(err: table?, result: any)) a command of letta.api
local function run(label, call, arg, on_result)
  call(arg, function(err, result)
    if err then
      util.error(label .. ': ' .. util.error_text(err))
      return
    end
    on_result(result)
  end)
end

--- The agents, fetched synchronously (for completion and name lookup).
---@param timeout_ms integer?
---@return table[]
local function agents_now(timeout_ms)
  local err, agents = api.list_agents_sync(timeout_ms or 2000)
  if err or type(agents) ~= 'table' then
    return {}
  end
  return agents
end

--- An agent by name or id; calls `fn(agent)` or tells the user none matched.
local function with_agent(key, fn)
  run('agents', api.list_agents, nil, function(agents)
    for _, agent in ipairs(agents) do
      if agent.name == key or agent.agentId == key then
        fn(agent)
        return
      end
    end
    util.error(string.format('no agent named %q (:Letta agents lists them)', key))
  end)
end

--- Memory paths, fetched synchronously (for completion).
local function memory_paths()
  local err, tree = api.memory_tree_sync(nil, 1000)
  if err or not tree then
    return {}
  end
  return vim.tbl_map(function(e)
    return e.path
  end, tree.entries or {})
end

local function switch_to(agent)
  run('switch agent', api.switch_agent, { agentId = agent.agentId }, function(result)
    util.notify(string.format('now talking to %s (%s)', result.name, result.agentId))
  end)
end

local function describe_sleeptime(s)
  local parts = { 'dreams: trigger ' .. tostring(s.trigger) }
  if s.trigger == 'step-count' then
    parts[#parts + 1] = string.format('every %s steps', tostring(s.stepCount))
  end
  parts[#parts + 1] = string.format('idle %s s', tostring(s.idleSeconds))
  parts[#parts + 1] = 'merge ' .. tostring(s.merge)
  return table.concat(parts, ', ')
end

---@type table<string, { run: fun(args: string, bang: boolean), complete: (fun(lead: string): string[])?, help: string }>
M.subcommands = {
  chat = {
    help = 'chat [message]: send a message (without one: open the chat and ask)',
    run = function(args)
      local chat = require('letta.chat')
      chat.open()
      text_or_ask(args, 'Message to Letta: ', function(text)
        if text and text:match('%S') then
          chat.send(text)
        end
      end)
    end,
  },
  remember = {
    help = 'remember [text]: store text in memory (empty: what the conversation taught)',
    run = function(args)
      text_or_ask(args, 'Remember (empty: learn from this conversation): ', function(text)
        if text == nil then
          return
        end
        local arg = {}
        if text:match('%S') then
          arg.text = text
        end
        if state.conversation then
          arg.conversationId = state.conversation
        end
        run('remember', api.remember, arg, function(result)
          local commits = type(result.commits) == 'table' and #result.commits or 0
          util.notify(string.format('%s (%d commit%s)', result.reply or 'remembered', commits, commits == 1 and '' or 's'))
        end)
      end)
    end,
  },
  doctor = {
    help = 'doctor [fix]: audit memory; "fix" also applies the safe fixes',
    complete = function()
      return { 'fix' }
    end,
    run = function(args)
      run('doctor', api.doctor, { fix = args == 'fix' }, report.doctor)
    end,
  },
  init = {
    help = 'init [standard|deep] [nohistory]: build memory from this project',
    complete = function()
      return { 'standard', 'deep', 'nohistory' }
    end,
    run = function(args)
      local arg = {}
      for word in args:gmatch('%S+') do
        if word == 'deep' or word == 'standard' then
          arg.depth = word
        elseif word == 'nohistory' then
          arg.history = false
        end
      end
      run('init', api.init, arg, function(result)
        report.job('init', result)
      end)
    end,
  },
  dream = {
    help = 'dream: run a dream (memory reflection) now',
    run = function()
      run('dream', api.dream, nil, function(result)
        report.job('dream', result)
      end)
    end,
  },
  defrag = {
    help = 'defrag: reorganise memory (a backup is made first)',
    run = function()
      run('defrag', api.defrag, nil, function(result)
        report.job('defrag', result)
      end)
    end,
  },
  new = {
    help = 'new: start a new conversation',
    run = function()
      require('letta.chat').new_conversation()
    end,
  },
  conversations = {
    help = 'conversations: switch the chat to another conversation',
    run = function()
      require('letta.chat').pick_conversation()
    end,
  },
  transcript = {
    help = 'transcript: open the current conversation as markdown (read only)',
    run = function()
      local agent = state.agent_id()
      if not agent then
        util.error('the server has not said which agent is current yet; try again in a moment')
        return
      end
      local uri = require('letta.uri').conversation(agent, state.conversation or 'default')
      vim.cmd('edit ' .. vim.fn.fnameescape(uri))
    end,
  },
  agents = {
    help = 'agents [name] | agents new NAME: switch agent (pick from a list without a name) or create one',
    complete = function()
      local names = { 'new' }
      for _, agent in ipairs(agents_now(1000)) do
        names[#names + 1] = agent.name
      end
      return names
    end,
    run = function(args)
      local new_name = args:match('^new%s+(.+)$')
      if new_name then
        run('create agent', api.create_agent, { name = vim.trim(new_name) }, function(result)
          util.notify(string.format('created %s (%s); :Letta agents %s switches to it', result.name,
            result.agentId, result.name))
        end)
      elseif args ~= '' then
        with_agent(args, switch_to)
      else
        run('agents', api.list_agents, nil, function(agents)
          local current = state.agent_id()
          vim.ui.select(agents, {
            prompt = 'letta: switch to which agent?',
            format_item = function(a)
              local model = (a.model == nil or a.model == vim.NIL) and '' or ('  ' .. a.model)
              return string.format('%s %s%s%s', a.agentId == current and '*' or ' ', a.name,
                a.pinned and '  (pinned)' or '', model)
            end,
          }, function(agent)
            if agent then
              switch_to(agent)
            end
          end)
        end)
      end
    end,
  },
  pin = {
    help = 'pin [name]: pin an agent (default: the current one)',
    run = function(args)
      local function pin(agent_id)
        run('pin', api.pin, agent_id and { agentId = agent_id } or nil, function(result)
          util.notify('pinned ' .. result.agentId)
        end)
      end
      if args ~= '' then
        with_agent(args, function(agent)
          pin(agent.agentId)
        end)
      else
        pin(nil)
      end
    end,
  },
  unpin = {
    help = 'unpin [name]: unpin an agent (default: the current one)',
    run = function(args)
      local function unpin(agent_id)
        run('unpin', api.unpin, agent_id and { agentId = agent_id } or nil, function(result)
          util.notify('unpinned ' .. result.agentId)
        end)
      end
      if args ~= '' then
        with_agent(args, function(agent)
          unpin(agent.agentId)
        end)
      else
        unpin(nil)
      end
    end,
  },
  sleeptime = {
    help = 'sleeptime [off|step-count|compaction-event] [steps]: when dreams run',
    complete = function()
      return TRIGGERS
    end,
    run = function(args)
      local trigger, steps = args:match('^(%S+)%s*(%d*)$')
      if trigger then
        if not vim.tbl_contains(TRIGGERS, trigger) then
          util.error(string.format('sleeptime: %q is not a trigger; use one of %s', trigger, table.concat(TRIGGERS, ', ')))
          return
        end
        local arg = { trigger = trigger }
        if steps ~= '' then
          arg.stepCount = tonumber(steps)
        end
        run('sleeptime', api.sleeptime, arg, function(result)
          util.notify(describe_sleeptime(result))
        end)
        return
      end
      run('sleeptime', api.sleeptime, {}, function(current)
        vim.ui.select(TRIGGERS, {
          prompt = 'letta: ' .. describe_sleeptime(current) .. '. Run dreams on:',
          format_item = function(t)
            return t == current.trigger and (t .. '  (now)') or t
          end,
        }, function(picked)
          if picked then
            run('sleeptime', api.sleeptime, { trigger = picked }, function(result)
              util.notify(describe_sleeptime(result))
            end)
          end
        end)
      end)
    end,
  },
  tree = {
    help = 'tree: the memory tree (system, external, skills; tokens and descriptions)',
    run = function()
      require('letta.tree').open()
    end,
  },
  history = {
    help = 'history [path]: commits of a memory file (default: this buffer); pick one to open it',
    complete = function()
      return memory_paths()
    end,
    run = function(args)
      require('letta.history').pick(args)
    end,
  },
  mv = {
    help = 'mv [path] {new path}: rename a memory file or folder (default: this buffer\'s file); one commit',
    complete = function()
      return memory_paths()
    end,
    run = function(args)
      require('letta.files').rename(args)
    end,
  },
  rm = {
    help = 'rm [path]: delete a memory file or folder (default: this buffer\'s file), after asking; one commit',
    complete = function()
      return memory_paths()
    end,
    run = function(args)
      require('letta.files').delete(args)
    end,
  },
  backup = {
    help = 'backup: back memory up (a ref and a git bundle)',
    run = function()
      run('backup', api.backup, nil, function(result)
        util.notify('backed up as ' .. tostring(result.ref))
      end)
    end,
  },
  restore = {
    help = 'restore [ref]: restore memory to a backup as a new commit (nothing is lost)',
    run = function(args)
      text_or_ask(args, 'Restore which backup (name, ref or commit)? ', function(ref)
        if ref and ref:match('%S') then
          run('restore', api.restore, { ref = vim.trim(ref) }, function(result)
            util.notify('restored ' .. tostring(result.ref))
          end)
        end
      end)
    end,
  },
  review = require('letta.review').subcommand,
  sync = {
    help = 'sync: push and pull memory with its git remote',
    run = function()
      run('sync', api.sync, nil, function(result)
        util.notify(string.format('sync: pushed %s, pulled %s, conflicts %s', tostring(result.pushed),
          tostring(result.pulled), vim.inspect(result.conflicts)))
      end)
    end,
  },
}

---@return string[]
function M.names()
  local names = vim.tbl_keys(M.subcommands)
  table.sort(names)
  return names
end

--- Completion for :Letta: subcommands first, then that subcommand's arguments.
---@param arglead string
---@param cmdline string
---@return string[]
function M.complete(arglead, cmdline)
  local words = vim.split(vim.trim(cmdline:gsub('^%s*%S+', '', 1)), '%s+', { trimempty = true })
  local completing_first = #words == 0 or (#words == 1 and arglead ~= '')
  local function matching(list)
    return vim.tbl_filter(function(item)
      return vim.startswith(item, arglead)
    end, list)
  end
  if completing_first then
    return matching(M.names())
  end
  local sub = M.subcommands[words[1]]
  if not sub or not sub.complete then
    return {}
  end
  return matching(sub.complete(arglead, words))
end

--- Run ":Letta <line>".
---@param line string
---@param bang boolean?
function M.dispatch(line, bang)
  local name, args = vim.trim(line):match('^(%S*)%s*(.-)%s*$')
  if name == '' then
    local lines = { 'letta: :Letta {subcommand}' }
    for _, sub in ipairs(M.names()) do
      lines[#lines + 1] = '  ' .. M.subcommands[sub].help
    end
    vim.notify(table.concat(lines, '\n'), vim.log.levels.INFO)
    return
  end
  local sub = M.subcommands[name]
  if not sub then
    util.error(string.format('unknown subcommand %q; try one of: %s', name, table.concat(M.names(), ', ')))
    return
  end
  sub.run(args or '', bang or false)
end

function M.register()
  vim.api.nvim_create_user_command('Letta', function(cmd)
    M.dispatch(cmd.args, cmd.bang)
  end, {
    nargs = '*',
    bang = true,
    desc = 'letta: chat, remember, doctor, tree, history, agents, ...',
    complete = M.complete,
  })
end

return M
