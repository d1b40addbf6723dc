"""Memory subagents: runs that work beside the main agent, each in its own git worktree, merged back
without losing anything. ``runner`` (one run per agent, queued, observed), ``worktrees`` (create, remove,
recover) and ``merge`` (any commit into main, never dropping a side) are the API the dreams, defrag,
/init (``letta_ls.init``) and sync (``letta_ls.sync``) build on; ``resolve`` is the model resolver for
same-line conflicts. Dreams: ``review`` (what a dream reads), ``sleeptime_state`` (steps, due trigger, cursors
on disk), ``dream`` (one dream), ``scheduler`` (triggers and the idle gate); ``defrag``; ``models`` (the
subagent's model); ``service`` (all of it for one agent). Core code: no LSP, no printing."""
