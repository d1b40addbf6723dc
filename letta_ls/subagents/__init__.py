"""Memory subagents: runs that work beside the main agent, each in its own git worktree, merged back
without losing anything. ``runner`` (one run per agent, queued, observed), ``worktrees`` (create, remove,
recover) and ``merge`` (any commit into main, never dropping a side) are the API the dreams, defrag,
/init and sync build on. /init itself is ``init_run`` (its phases), with ``init_asking``, ``init_workers``
(parallel history workers), ``init_messages``, ``init_writes``/``init_refresh`` and ``init_report``; what it
reads comes from ``transcripts`` (earlier Claude Code and Codex sessions), ``workspace`` (the project's own
files and git) and ``init_questions``; ``init_draft`` is its no-model memory. ``sync`` keeps memory in step
with a git remote (``remote``: URLs and credentials; ``resolve``: the model resolver for same-line
conflicts). Dreams: ``review`` (what a dream reads), ``sleeptime_state`` (steps, due trigger, cursors on
disk), ``dream`` (one dream), ``scheduler`` (triggers and the idle gate); ``defrag``; ``models`` (the
subagent's model); ``service`` (all of it for one agent). Core code: no LSP, no printing."""
