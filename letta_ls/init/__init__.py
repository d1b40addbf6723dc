"""/init: study the workspace, ask how the user likes to work, learn from earlier sessions, write memory.
``run`` is the command (``MemoryInitializer``); see docs/layout.md for its modules. Core code: no LSP."""
