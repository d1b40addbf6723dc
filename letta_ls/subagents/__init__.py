"""Memory subagents: runs that work beside the main agent, each in its own git worktree, merged back
without losing anything. ``runner`` (one run per agent, queued, observed), ``worktrees`` (create, remove,
recover) and ``merge`` (any commit into main, never dropping a side) are the API the dreams, defrag,
/init and sync build on. Core code: no LSP, no printing."""
