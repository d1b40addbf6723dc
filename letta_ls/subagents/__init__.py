"""Memory subagents: runs that work beside the main agent, each in its own git worktree, merged back
without losing anything. ``runner`` (one run per agent, queued, observed), ``worktrees`` (create, remove,
recover) and ``merge`` (any commit into main, never dropping a side) are the API the dreams, defrag,
/init and sync build on. What /init reads comes from ``transcripts`` (earlier Claude Code and Codex sessions),
``workspace`` (the project's own files and git) and ``init_questions``; ``init_draft`` is its no-model memory.
``sync`` keeps memory in step with a git remote (``remote``: URLs and credentials; ``resolve``: the model
resolver for same-line conflicts). Dreams: ``review`` (what a dream reads), ``sleeptime_state`` (steps, due
trigger, cursors on disk), ``dream`` (one dream), ``scheduler`` (triggers and the idle gate); ``defrag``;
``models`` (the subagent's model and the merge resolver); ``service`` (all of it for one agent). Core code:
no LSP, no printing."""
